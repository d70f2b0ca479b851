#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Crash consistency: every write operation killed (SIGKILL) at every invocation of every syscall it
makes, on real trees. After each kill, menu.lst and `default` are each the old file, the new file or
the documented intermediate stage (menu.lst with `default K` instead of `default saved`); GRUB boots
the old or the new intended entry; the state file is absent, old or new, and valid JSON. A re-run
of the same command (twice for `menu add`) ends in exactly the files of an uninterrupted run, with
no temp file left.

Method: run the operation once under `strace -f -qq -o FILE` and count each syscall's invocations;
then for every syscall S and every N up to its count, run it on a fresh copy of the tree under
`strace -f -qq -e trace=S -e inject=S:signal=KILL:when=N`."""
import collections
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import kktest

STRACE = shutil.which("strace")
WORKERS = 2
TEMP_RE = re.compile(r"\.kk-[A-Za-z0-9]{6}$")
SYSCALL_RE = re.compile(r"^\d+\s+([a-z0-9_]+)\(")

DEBIAN = "02-avar-linode-etc-before-update-grub.lst"
GRUBBY = "26-rhboot-grubby-g5.3-after-add-kernel.lst"
DEFAULT_FILE = "3\n#\n#\n#\n#\n#\n#\n#\n#\n#\n#\n"
RC1 = "kernel=/etc/boot/vmlinuz-2.6.36-rc1-Avar-Akbar"
RC4_SINGLE = "title=Debian GNU/Linux, kernel 2.6.36-rc4-Avar-Akbar+ (single-user mode)"
NEW_ENTRY = ["--kernel", "/etc/boot/vmlinuz-crash", "--args", "root=/dev/xvda ro", "--root-device", "(hd0)"]
RH_NEW = ["--kernel", "/boot/vmlinuz-crash", "--args", "ro root=/dev/hda6", "--root-device", "(hd0,5)"]


def corpus(name):
    with open(os.path.join(kktest.CORPUS, name), "rb") as f:
        return f.read()


def make_kernels(root, menu, separate_prefix=""):
    """Creates every kernel/initrd file the menu names (a (hdX,Y) prefix dropped)."""
    for m in re.finditer(rb"^\s*(?:kernel|initrd)[\s=]+(\S+)", menu, re.M):
        p = re.sub(rb"^\([^)]*\)", b"", m.group(1)).decode()
        full = os.path.join(root, separate_prefix + p.lstrip("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(b"\x7fkernel " + p.encode())


def foreign_rewrite(menu):
    """What update-grub does on a kernel install: a new entry on top, `default` left as it is."""
    first = re.search(rb"^title", menu, re.M).start()
    return menu[:first] + b"title New kernel from the distro\nroot (hd0)\nkernel /etc/boot/vmlinuz-distro ro\n\n" + \
        menu[first:]


class TreeSpec:
    def __init__(self, name, build, menu_rel, ops):
        self.name, self.build, self.menu_rel, self.ops = name, build, menu_rel, ops


# kernels the operations add or a foreign rewrite names
EXTRA_KERNELS = b"kernel /etc/boot/vmlinuz-crash\nkernel /etc/boot/vmlinuz-distro\nkernel /boot/vmlinuz-crash\n"


def write_tree(root, menu, name):
    os.makedirs(os.path.join(root, "boot/grub"))
    os.makedirs(os.path.join(root, "etc"))
    with open(os.path.join(root, "boot/grub", name), "wb") as f:
        f.write(menu)
    make_kernels(root, menu + b"\n" + EXTRA_KERNELS)


def build_debian(root):
    write_tree(root, corpus(DEBIAN), "menu.lst")


def build_saved(root):
    write_tree(root, re.sub(rb"(?m)^default(\s+)0", rb"default\1saved", corpus(DEBIAN), count=1), "menu.lst")
    with open(os.path.join(root, "boot/grub/default"), "w") as f:
        f.write(DEFAULT_FILE)


def build_grubby(root):
    write_tree(root, corpus(GRUBBY), "grub.conf")
    os.symlink("./grub.conf", os.path.join(root, "boot/grub/menu.lst"))


def debian_ops(rc1_pre):
    return [
        ("pin", [], ["pin", "--default", RC1]),
        ("pin --reapply", [["pin", "--default", RC1], "rewrite"], ["pin", "--reapply"]),
        ("unpin", [["pin", "--default", RC1]], ["unpin"]),
        ("menu add", [], ["menu", "add", "--title", "crash test"] + NEW_ENTRY),
        ("menu add --first", rc1_pre, ["menu", "add", "--first", "--title", "crash test"] + NEW_ENTRY),
        ("menu remove", rc1_pre, ["menu", "remove", RC4_SINGLE]),
    ]


TREES = [
    TreeSpec("debian", build_debian, "boot/grub/menu.lst", debian_ops([["pin", "--default", RC1]])),
    TreeSpec("default-saved", build_saved, "boot/grub/menu.lst", debian_ops([])),
    TreeSpec("grub.conf-link", build_grubby, "boot/grub/grub.conf", [
        ("pin", [], ["pin", "--default", "kernel=/boot/vmlinuz-2.4.7-ac3", "--fallback", "title=Some_Title"]),
        ("pin --reapply", [["pin", "--default", "kernel=/boot/vmlinuz-2.4.7-ac3", "--fallback", "title=Some_Title"],
                           "rewrite"], ["pin", "--reapply"]),
        ("unpin", [["pin", "--default", "kernel=/boot/vmlinuz-2.4.7-ac3"]], ["unpin"]),
        ("menu add", [], ["menu", "add", "--title", "crash test"] + RH_NEW),
        ("menu add --first", [], ["menu", "add", "--first", "--title", "crash test"] + RH_NEW),
        ("menu remove", [], ["menu", "remove", "title=dos"]),
    ]),
]


def kk(root, argv, strace=None):
    cmd = [kktest.BINARY, "--root", root] + argv
    if strace:
        cmd = [STRACE, "-f", "-qq"] + strace + ["--"] + cmd
    env = dict(os.environ)
    env.pop("JOURNAL_STREAM", None)
    env.pop("INVOCATION_ID", None)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)


def read_or_none(p):
    try:
        with open(p, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


class Snapshot:
    """The files that matter after a run."""

    def __init__(self, root, spec):
        self.menu = read_or_none(os.path.join(root, spec.menu_rel))
        self.default = read_or_none(os.path.join(root, "boot/grub/default"))
        raw = read_or_none(os.path.join(root, "var/lib/kernelkeeper/state.json"))
        self.state_raw = raw
        self.state_ok = True
        self.pin = None
        if raw is not None:
            try:
                j = json.loads(raw)
                p = j.get("pin")
                self.pin = None if p is None else (p.get("default"), tuple(p.get("fallback") or ()))
            except (ValueError, AttributeError):
                self.state_ok = False
        self.grubenv = read_or_none(os.path.join(root, "boot/grub/grubenv"))
        self.trial = None
        if raw is not None and self.state_ok:
            self.trial = (j.get("trial") or {}).get("phase")
        self.temps = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if TEMP_RE.search(f)]
        self.txn = os.path.exists(os.path.join(root, "var/lib/kernelkeeper/menu-txn.json"))

    def files(self):
        return (self.menu, self.default, self.pin, self.grubenv, self.trial)


class Case:
    """One operation on one tree: the template before it, the result of an uninterrupted run."""

    BOOT_KEY = slice(1, 3)  # what GRUB boots is compared by title and kernel
    ALSO_SAFE = ()  # what GRUB may boot after a kill besides the old and the new entry (by BOOT_KEY)

    def __init__(self, spec, op, workdir):
        self.spec = spec
        self.name, pre, self.argv = op
        self.template = tempfile.mkdtemp(prefix="tmpl-", dir=workdir)
        shutil.rmtree(self.template)
        os.makedirs(self.template)
        spec.build(self.template)
        for step in pre:
            if callable(step):
                step(self.template)
            elif step == "rewrite":
                p = os.path.join(self.template, spec.menu_rel)
                with open(p, "rb") as f:
                    m = f.read()
                with open(p, "wb") as f:
                    f.write(foreign_rewrite(m))
            else:
                r = kk(self.template, step)
                assert r.returncode == 0, (step, r.stderr)
        self.old = Snapshot(self.template, spec)
        self.boot_cache = {}
        self.old_boot = self.boots(self.template, self.old)

        ref = self.fresh_copy(workdir)
        trace = os.path.join(workdir, f"trace-{os.path.basename(self.template)}")
        r = kk(ref, self.argv, strace=["-o", trace])
        assert r.returncode == 0, (spec.name, self.name, r.stderr)
        self.counts = collections.Counter()
        with open(trace) as f:
            for line in f:
                m = SYSCALL_RE.match(line)
                if m:
                    self.counts[m.group(1)] += 1
        self.new = Snapshot(ref, spec)
        self.new_boot = self.boots(ref, self.new)
        shutil.rmtree(ref)
        assert not self.new.temps and not self.new.txn, (self.new.temps, self.new.txn)
        # the one intermediate stage of menu.lst: `default saved` made explicit
        self.stages = {self.old.menu, self.new.menu}
        if self.new.menu and re.search(rb"(?m)^\s*default\s+saved", self.new.menu):
            k = str(self.new_boot[0]).encode()
            self.stages.add(re.sub(rb"(?m)^(\s*default\s+)saved", rb"\g<1>" + k, self.new.menu, count=1))

    def fresh_copy(self, workdir):
        d = tempfile.mkdtemp(prefix="run-", dir=workdir)
        shutil.rmtree(d)
        shutil.copytree(self.template, d, symlinks=True)
        return d

    def boots(self, root, snap):
        """(index, title, kernel) GRUB boots, from `menu show --json`; cached by file contents."""
        key = (snap.menu, snap.default)
        if key not in self.boot_cache:
            r = kk(root, ["--json", "menu", "show"])
            if r.returncode != 0:
                self.boot_cache[key] = ("error", r.stderr)
            else:
                j = json.loads(r.stdout)
                e = j["entries"][j["default"]]
                self.boot_cache[key] = (j["default"], e["title"], e.get("kernel"), e.get("savedefault"))
        return self.boot_cache[key]

    def kill_points(self):
        return [(s, n) for s, c in sorted(self.counts.items()) for n in range(1, c + 1)]

    def check_point(self, workdir, syscall, n):
        """Returns a list of problems (empty: fine)."""
        root = self.fresh_copy(workdir)
        problems = []
        try:
            kk(root, self.argv, strace=["-e", f"trace={syscall}", "-e", f"inject={syscall}:signal=KILL:when={n}",
                                        "-o", "/dev/null"])
            s = Snapshot(root, self.spec)
            where = f"{self.spec.name}: {self.name}: kill at {syscall}#{n}"
            if s.menu not in self.stages:
                problems.append(f"{where}: menu.lst is neither old, new nor the documented stage")
            if s.default not in (self.old.default, self.new.default):
                problems.append(f"{where}: default file is neither old nor new: {s.default!r}")
            if s.grubenv not in (self.old.grubenv, self.new.grubenv):
                problems.append(f"{where}: grubenv is neither old nor new")
            boot = self.boots(root, s)[self.BOOT_KEY]
            if boot not in (self.old_boot[self.BOOT_KEY], self.new_boot[self.BOOT_KEY], *self.ALSO_SAFE):
                problems.append(f"{where}: GRUB would boot {boot}, not {self.old_boot[self.BOOT_KEY]} or "
                                f"{self.new_boot[self.BOOT_KEY]}")
            if not s.state_ok:
                problems.append(f"{where}: state.json is not valid JSON")
            elif s.pin not in (self.old.pin, self.new.pin):
                problems.append(f"{where}: state pin {s.pin} is neither old nor new")
            elif s.trial not in (self.old.trial, self.new.trial):
                problems.append(f"{where}: the trial's phase {s.trial} is neither old nor new")
            reruns = 2 if self.argv[:2] == ["menu", "add"] else 1
            for i in range(reruns):
                r = kk(root, self.argv)
                if r.returncode != 0 and self.argv[:2] != ["menu", "remove"]:
                    problems.append(f"{where}: re-run {i + 1} exited {r.returncode}: {r.stderr.strip()}")
            s = Snapshot(root, self.spec)
            if s.files() != self.new.files():
                problems.append(f"{where}: after the re-run the files differ from an uninterrupted run")
            if s.temps or s.txn:
                problems.append(f"{where}: left behind after the re-run: {s.temps} txn={s.txn}")
        finally:
            shutil.rmtree(root, ignore_errors=True)
        return problems


def kill_everywhere(test, trees, case_class=None):
    """Runs every kill point of every operation of the trees; fails the test on any problem."""
    case_class = case_class or Case
    workdir = tempfile.mkdtemp(prefix="kk-crash-")
    start = time.monotonic()
    try:
        only = os.environ.get("KK_CRASH_ONLY", "")  # e.g. "default-saved: menu add" while debugging
        cases = [case_class(spec, op, workdir) for spec in trees for op in spec.ops if only in f"{spec.name}: {op[0]}"]
        jobs = [(c, s, n) for c in cases for s, n in c.kill_points()]
        problems = []
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as ex:
            for p in ex.map(lambda j: j[0].check_point(workdir, j[1], j[2]), jobs):
                problems += p
        for c in cases:
            print(f"# {c.spec.name}: {c.name}: {len(c.kill_points())} kill points", flush=True)
        print(f"# {len(jobs)} kill points over {len(cases)} operations in {time.monotonic() - start:.0f} s",
              flush=True)
        for p in problems[:40]:
            print(f"# {p}", flush=True)
        test.assertEqual(len(problems), 0, f"{len(problems)} problems at {len(jobs)} kill points")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@unittest.skipUnless(STRACE, "strace is not installed")
class Crash(unittest.TestCase):
    def test_kill_at_every_syscall(self):
        kill_everywhere(self, TREES)


if __name__ == "__main__":
    kktest.main()

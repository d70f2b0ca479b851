#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Crash consistency of `kernel install --image` and `--url` (a tar of boot/ + lib/modules/REL from a
local HTTP server): killed (SIGKILL) at every invocation of every syscall, by the method of
test_crash.py. After each kill: menu.lst is the old or the new file, GRUB boots the pinned entry,
every kernel and initrd the menu names is whole (its final bytes, never a prefix), no file sits
under a final name half-written; a re-run of the same command finishes the job, ending in exactly
the files of an uninterrupted run, with no temp, staging or in-progress record left."""
import hashlib
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.environ.get("KK_SOURCE_ROOT", ""), "tests", "imds"))
import kernelfiles as kf  # noqa: E402
import kktest  # noqa: E402
import test_crash  # noqa: E402
from imds_server import ImdsServer  # noqa: E402
from test_crash import Case, Snapshot, TreeSpec, kk  # noqa: E402
from test_kernel_install import ARGS, G, MENU, N  # noqa: E402

IMAGE = kf.bzimage(N, size=48 * 1024)
TAR = kf.tar(kf.kernel_members(N))
SERVER = ImdsServer(files={"/k.tar": TAR})
# the image and initrd to install: host files outside every tree
SRV = tempfile.mkdtemp(prefix="kk-crash-install-")
for name, data in ((f"vmlinuz-{N}", IMAGE), ("initrd", b"initrd" + b"\0" * 20000)):
    with open(os.path.join(SRV, name), "wb") as f:
        f.write(data)


def write(root, rel, data):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def build(root):
    write(root, "boot/grub/menu.lst", MENU)
    write(root, "etc/.keep", "")
    for f in (f"boot/vmlinuz-{G}", f"boot/initrd.img-{G}"):
        write(root, f, b"\x7fkernel " + f.encode())


def tree_files(root):
    """Installed files by path: content hash (kernels, initrds, config, modules)."""
    out = {}
    for top in ("boot", "lib/modules"):
        for d, _, fs in os.walk(os.path.join(root, top)):
            for f in fs:
                p = os.path.join(d, f)
                if os.path.islink(p):
                    out[os.path.relpath(p, root)] = "link:" + os.readlink(p)
                else:
                    with open(p, "rb") as fh:
                        out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


class InstallCase(Case):
    BOOT_KEY = slice(1, 3)

    def __init__(self, spec, op, workdir):
        super().__init__(spec, op, workdir)
        ref = self.fresh_copy(workdir)
        r = kk(ref, self.argv)
        assert r.returncode == 0, r.stderr
        self.final = tree_files(ref)
        self.final_menu = Snapshot(ref, spec).menu
        st = json.loads(open(os.path.join(ref, "var/lib/kernelkeeper/state.json")).read())
        assert "install" not in st

    def named_files(self, root):
        r = kk(root, ["--json", "menu", "show"])
        j = json.loads(r.stdout)
        for e in j["entries"]:
            for k in ("kernel", "initrd"):
                if e.get(k):
                    yield e[k].lstrip("/")

    def check_point(self, workdir, syscall, n):
        root = self.fresh_copy(workdir)
        problems = []
        where = f"{self.spec.name}: {self.name}: kill at {syscall}#{n}"
        try:
            kk(root, self.argv, strace=["-e", f"trace={syscall}", "-e", f"inject={syscall}:signal=KILL:when={n}",
                                        "-o", "/dev/null"])
            s = Snapshot(root, self.spec)
            if s.menu not in (self.old.menu, self.final_menu):
                problems.append(f"{where}: menu.lst is neither old nor new")
            boot = self.boots(root, s)[self.BOOT_KEY]
            if boot != self.old_boot[self.BOOT_KEY]:
                problems.append(f"{where}: GRUB would boot {boot}, not the pinned {self.old_boot[self.BOOT_KEY]}")
            now = tree_files(root)
            for f in self.named_files(root):
                want = self.final.get(f)
                if now.get(f) is None:
                    problems.append(f"{where}: the menu names {f}, which is missing")
                elif want and now[f] != want:
                    problems.append(f"{where}: {f}, named by the menu, is not whole")
            # no installed file under its final name with other bytes than its final ones (menu.lst:
            # old or new, above)
            for f, h in now.items():
                if f in self.final and h != self.final[f] and not f.startswith("boot/grub/"):
                    problems.append(f"{where}: {f} is there with bytes that are not its own")
            if not s.state_ok:
                problems.append(f"{where}: state.json is not valid JSON")
            r = kk(root, self.argv)
            if r.returncode != 0:
                problems.append(f"{where}: re-run exited {r.returncode}: {r.stderr.strip()}")
            s = Snapshot(root, self.spec)
            if s.menu != self.final_menu or tree_files(root) != self.final:
                problems.append(f"{where}: after the re-run the files differ from an uninterrupted run")
            if s.temps or s.txn or os.path.exists(os.path.join(root, "var/lib/kernelkeeper/install-staging")):
                problems.append(f"{where}: left behind after the re-run: {s.temps} txn={s.txn}")
            st = json.loads(open(os.path.join(root, "var/lib/kernelkeeper/state.json")).read())
            if "install" in st:
                problems.append(f"{where}: an install is still recorded as in progress")
        finally:
            shutil.rmtree(root, ignore_errors=True)
        return problems


PIN = ["pin", "--default", f"release={G}"]


def trees():
    url = SERVER.url + "/k.tar"
    return [TreeSpec("install", build, "boot/grub/menu.lst", [
        ("kernel install --image", [PIN], ["kernel", "install", "--image", os.path.join(SRV, "vmlinuz-" + N), "--initrd", os.path.join(SRV, "initrd")]),
        ("kernel install --url", [PIN], ["kernel", "install", "--url", url, "--sha256", hashlib.sha256(TAR).hexdigest()]),
    ])]


@unittest.skipUnless(test_crash.STRACE, "strace is not installed")
class CrashInstall(unittest.TestCase):
    def test_kill_at_every_syscall(self):
        SERVER.start()
        try:
            test_crash.kill_everywhere(self, trees(), InstallCase)
        finally:
            SERVER.stop()
            shutil.rmtree(SRV, ignore_errors=True)


if __name__ == "__main__":
    kktest.main()

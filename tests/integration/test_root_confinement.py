#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""--root confines every path: a link anywhere in the tree (state, run and log directories, state.json,
GRUB's `default`, the configuration) is resolved as if ROOT were /, so nothing outside the tree is
read, created or written; kernelkeeper's own files must be regular files (a link there is refused).
A FIFO in place of any file kernelkeeper reads gets one error line instead of a hang, and a state
file whose keys have the wrong JSON types is corrupt, not "nothing recorded"."""
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.environ.get("KK_SOURCE_ROOT", ""), "tests", "imds"))
import kktest  # noqa: E402
from kktest import Tree, show  # noqa: E402
from test_bad_input import MENU  # noqa: E402  (entry 0 "new" on vmlinuz-2, entry 1 "old" on vmlinuz-1)
from udtest import UserDataCase  # noqa: E402

CANARY = "kk-canary-3e8d1f5a"
STATE = "/var/lib/kernelkeeper/state.json"
TIMEOUT = 10  # a command blocked on a FIFO never returns: this is the test's bound


def snapshot(root):
    """Every entry under root (directories, links, FIFOs too) with its type, mode and contents."""
    out = {}
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(d, name)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[p] = "-> " + os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    out[p] = (oct(st.st_mode), hashlib.sha256(f.read()).hexdigest())
            else:
                out[p] = (oct(st.st_mode),)  # never opened: it may be a FIFO
    return out


def run(tree, *args, config=None):
    cmd = [kktest.BINARY, "--root", tree.root] + (["--config", config] if config else []) + list(args)
    env = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "INVOCATION_ID")}
    try:
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{' '.join(args)} hung for {TIMEOUT} s")


class Case(unittest.TestCase):
    def setUp(self):
        self.t = Tree()
        self.t.menu(MENU)
        self.t.kernels("/boot/vmlinuz-1", "/boot/vmlinuz-2")
        # the host side: a directory outside the tree that links in the tree point at
        self.host = tempfile.mkdtemp(prefix="kk-host-")
        self.secret = os.path.join(self.host, "secret")
        with open(self.secret, "w") as f:
            f.write(f"root:{CANARY}:19000:0:99999:7:::\n")

    def tearDown(self):
        self.t.cleanup()
        shutil.rmtree(self.host, ignore_errors=True)

    def link(self, path, target):
        full = self.t.path(path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if os.path.lexists(full):
            os.unlink(full)
        os.symlink(target, full)

    def fifo(self, path):
        full = self.t.path(path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if os.path.lexists(full):
            os.unlink(full)
        os.mkfifo(full)

    def snapshots(self):
        return snapshot(self.t.root), snapshot(self.host)

    def ok(self, *args):
        p = run(self.t, *args)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn(CANARY, p.stdout + p.stderr)
        return p

    def refused(self, *args, expect, code=1, config=None):
        """One error line naming the problem, nothing changed in the tree or on the host."""
        before = self.snapshots()
        p = run(self.t, *args, config=config)
        self.assertEqual(p.returncode, code, f"{args}: {p.stdout}{p.stderr}")
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, f"{args}: one error line expected: {p.stderr!r}")
        self.assertTrue(lines[0].startswith("kernelkeeper: "), lines[0])
        self.assertIn(expect, lines[0])
        self.assertNotIn(CANARY, p.stdout + p.stderr, "nothing of the host file is read or quoted")
        self.assertEqual(self.snapshots(), before, f"{args}: nothing may change")
        return lines[0]


class LinksOutOfTheTree(Case):
    """Directories: a link is followed inside the tree (an absolute target is taken below ROOT, '..'
    stops at ROOT), so the state lands in the tree and the host directory is never touched."""

    def state_lands_inside(self, target, inside):
        self.link("/var/lib/kernelkeeper", target)
        host_before = snapshot(self.host)
        menu_before = self.t.read("/boot/grub/menu.lst")
        self.ok("pin", "--default", "old")
        self.assertEqual(snapshot(self.host), host_before, "nothing created or written on the host")
        self.assertNotEqual(self.t.read("/boot/grub/menu.lst"), menu_before, "the pin was applied")
        state = json.loads(self.t.read(inside + "/state.json"))
        self.assertEqual(state["pin"]["default"], "old")
        self.assertEqual(stat.S_IMODE(os.stat(self.t.path(inside)).st_mode), 0o700)
        self.assertIn("default old", self.ok("status").stdout)

    def test_state_dir_absolute_link_to_existing_host_dir(self):
        self.state_lands_inside(self.host, self.host)

    def test_state_dir_absolute_link_to_missing_host_dir(self):
        self.state_lands_inside(self.host + "/state", self.host + "/state")

    def test_state_dir_relative_link_climbing_out(self):
        self.state_lands_inside("../../../../../../../.." + self.host + "/rel", self.host + "/rel")

    def test_state_file_link_to_host_file(self):
        # kernelkeeper's own file: a link there is refused whatever it points at, never read
        for target in (self.secret, "../../../../../../../.." + self.secret):
            self.link(STATE, target)
            for args in (("status",), ("pin", "--reapply"), ("pin", "--default", "old"), ("unpin",),
                         ("userdata", "show")):
                self.refused(*args, expect="state.json is not a regular file")

    def test_state_file_link_to_host_state(self):
        # even a valid state file on the host is not taken: its pin would be enforced on the tree
        with open(self.secret, "w") as f:
            json.dump({"pin": {"default": CANARY}}, f)
        self.link(STATE, self.secret)
        self.refused("status", expect="state.json is not a regular file")
        self.refused("pin", "--reapply", expect="state.json is not a regular file")

    def test_default_file_link_to_host_file(self):
        # GRUB's `default` is read the way GRUB reads it: through the link, inside the tree
        self.t.menu(MENU.replace("default 0", "default saved"))
        with open(self.secret, "w") as f:
            f.write("1\n")
        self.link("/boot/grub/default", self.secret)
        before = self.snapshots()
        self.assertEqual(show(self.t)["default"], 0, "the host's default file is not read")
        self.assertEqual(self.snapshots(), before)
        # the target's directory is missing in the tree: the link is not replaced, the host not written
        p = run(self.t, "pin", "--default", "old")
        self.assertNotEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertEqual(self.snapshots(), before, "a refused write changes nothing")
        # once the link's target exists in the tree, it is what is read and written, and stays a link
        os.makedirs(self.t.path(self.host))
        self.t.write(self.host + "/secret", "1\n")
        self.assertEqual(show(self.t)["default"], 1, "the link is followed inside the tree")
        self.ok("pin", "--default", "new")
        self.assertEqual(self.t.read(self.host + "/secret").split()[0], b"0")
        self.assertTrue(os.path.islink(self.t.path("/boot/grub/default")))
        self.assertEqual(snapshot(self.host), before[1], "the host's file is untouched")

    def test_run_dir_link_to_host_dir(self):
        from test_guardian import Daemon
        self.link("/run/kernelkeeper", self.host + "/run")
        host_before = snapshot(self.host)
        d = Daemon(self.t)
        try:
            self.assertTrue(os.path.exists(self.t.path(self.host + "/run/daemon.json")), d.log_tail())
            self.assertEqual(snapshot(self.host), host_before, "nothing created on the host")
            self.assertIn("daemon:       running", self.ok("status").stdout)
        finally:
            self.assertEqual(d.stop(), 0)
        self.assertEqual(snapshot(self.host), host_before)

    def test_config_links_inside_the_tree(self):
        # an absolute link to the host's file names the tree's file; a drop-in dir link likewise
        with open(self.secret, "w") as f:
            f.write("[Menu]\nPath=/boot/grub/" + CANARY + "\n")
        self.link("/etc/kernelkeeper.conf", self.secret)
        os.makedirs(os.path.join(self.host, "conf.d"))
        with open(os.path.join(self.host, "conf.d", "10-x.conf"), "w") as f:
            f.write("[Menu]\nPath=/boot/grub/" + CANARY + "\n")
        self.link("/etc/kernelkeeper.conf.d", self.host + "/conf.d")
        before = self.snapshots()
        self.assertEqual(show(self.t)["default"], 0, "the default configuration, not the host's")
        self.assertEqual(self.snapshots(), before)


class UserDataLinks(UserDataCase):
    """/run/kernelkeeper (the runner's lock) and /var/log/kernelkeeper linked out of the tree."""

    def setUp(self):
        super().setUp()
        self.host = tempfile.mkdtemp(prefix="kk-host-")

    def tearDown(self):
        super().tearDown()
        shutil.rmtree(self.host, ignore_errors=True)

    def test_lock_and_log_dirs_linked_out(self):
        host = self.host
        os.makedirs(self.t.path("/run"), exist_ok=True)
        os.makedirs(self.t.path("/var/log"), exist_ok=True)
        os.symlink(host + "/run", self.t.path("/run/kernelkeeper"))
        os.symlink(host + "/log", self.t.path("/var/log/kernelkeeper"))
        self.serve(self.script("a"))
        self.run_ok()
        self.assertEqual(self.trace("trace"), ["a"])
        self.assertEqual(os.listdir(host), [], "nothing created on the host")
        self.assertEqual(len(os.listdir(self.t.path(host + "/log"))), 1, "the log is in the tree")
        self.assertTrue(os.path.exists(self.t.path(host + "/run/userdata.lock")))
        # a link in place of the log file itself is refused, not followed
        self.srv.configure(instance_id="i-0fedcba9876543210")
        target = os.path.join(host, "victim.log")
        os.symlink(target, self.t.path(host + "/log/userdata-i-0fedcba9876543210-1.log"))
        p = self.userdata("run")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("not a regular file", p.stderr)
        self.assertFalse(os.path.lexists(target))
        self.assertEqual(os.listdir(host), [], "nothing created on the host")


class Fifos(Case):
    """A FIFO where kernelkeeper reads a file: one error line within seconds, nothing changed."""

    def test_fifo_menu(self):
        self.ok("pin", "--default", "old")
        self.fifo("/boot/grub/menu.lst")
        for args in (("menu", "show"), ("menu", "check"), ("pin", "--reapply"), ("pin", "--default", "old"),
                     ("menu", "remove", "new")):
            self.refused(*args, expect="menu.lst is not a regular file")

    def test_fifo_default(self):
        self.t.menu(MENU.replace("default 0", "default saved"))
        self.ok("pin", "--default", "old")
        self.fifo("/boot/grub/default")
        for args in (("menu", "show"), ("pin", "--reapply"), ("pin", "--default", "new")):
            self.refused(*args, expect="default is not a regular file")

    def test_fifo_state(self):
        self.fifo(STATE)
        for args in (("status",), ("pin", "--reapply"), ("pin", "--default", "old"), ("unpin",),
                     ("userdata", "show")):
            self.refused(*args, expect="state.json is not a regular file")

    def test_fifo_config(self):
        self.fifo("/etc/kernelkeeper.conf")
        self.refused("menu", "show", code=2, expect="kernelkeeper.conf is not a regular file")
        self.refused("pin", "--reapply", code=2, expect="kernelkeeper.conf is not a regular file")
        os.unlink(self.t.path("/etc/kernelkeeper.conf"))
        self.fifo("/etc/kernelkeeper.conf.d/10-x.conf")
        self.refused("status", code=2, expect="10-x.conf is not a regular file")
        explicit = os.path.join(self.host, "explicit.conf")
        os.mkfifo(explicit)
        self.refused("status", code=2, expect="explicit.conf is not a regular file", config=explicit)


class StateTypes(Case):
    """Keys kernelkeeper owns with the wrong JSON types: a corrupt state, never "no pin"."""

    BAD = [
        {"pin": {"default": 5}},
        {"pin": "x"},
        {"pin": None},
        {"pin": {"fallback": ["old"]}},
        {"pin": {"default": "old", "fallback": "new"}},
        {"pin": {"default": "old", "fallback": [1]}},
        {"last_restore": "yesterday"},
        {"restores": "3"},
        {"userdata": []},
        {"userdata": {"runs": {"ab": {"scope": "once", "status": 0}}}},
    ]

    def test_wrong_types(self):
        for state in self.BAD:
            with self.subTest(state=state):
                self.t.write(STATE, json.dumps(state))
                for args in (("pin", "--reapply"), ("status",), ("pin", "--default", "old")):
                    line = self.refused(*args, expect="state.json is corrupt")
                    self.assertIn(self.t.path(STATE), line, "the file is named")

    def test_parser_message_does_not_quote_the_file(self):
        self.t.write(STATE, f'{{"a": "{CANARY}')
        self.refused("status", expect="state.json is corrupt")

    def test_good_state_still_loads(self):
        self.ok("pin", "--default", "old", "--fallback", "new")
        self.ok("pin", "--reapply")
        s = json.loads(self.t.read(STATE))
        s["unknown_key_of_a_later_version"] = [1, 2]
        self.t.write(STATE, json.dumps(s))
        self.assertIn("default old", self.ok("status").stdout)


if __name__ == "__main__":
    kktest.main()

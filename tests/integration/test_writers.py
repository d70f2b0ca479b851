#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""kernelkeeper's own writers: one at a time (a lock), interrupted writes finished by the next one,
stale temp files removed, `menu add` an identity operation, `pin` records its state before /boot."""
import fcntl
import json
import os
import shutil
import subprocess
import threading
import time
import unittest

import kktest
from kktest import Tree, run, show

MENU = """default saved
timeout 5

title a
kernel /boot/vmlinuz-1
title b
kernel /boot/vmlinuz-2
title c
kernel /boot/vmlinuz-3
"""
FIRST = MENU.replace("title a", "title new\nkernel /boot/vmlinuz-9\n\ntitle a")
STAGE = FIRST.replace("default saved", "default 2")


def default_file(n):
    return f"{n}\n" + "#\n" * 10


STATE = "/var/lib/kernelkeeper"


class Writers(unittest.TestCase):
    def setUp(self):
        self.t = Tree()
        self.t.menu(MENU)
        self.t.write("/boot/grub/default", default_file(1))
        self.t.kernels("/boot/vmlinuz-1", "/boot/vmlinuz-2", "/boot/vmlinuz-3", "/boot/vmlinuz-9")

    def tearDown(self):
        self.t.cleanup()

    def booted(self):
        j = show(self.t)
        return j["entries"][j["default"]]["title"]

    def record(self, menu_now):
        """An interrupted `menu add --first` as the transaction record leaves it."""
        steps = [("/boot/grub/menu.lst", STAGE), ("/boot/grub/default", default_file(2)),
                 ("/boot/grub/menu.lst", FIRST)]
        self.t.write(STATE + "/menu-txn.json", json.dumps({
            "original": {"size": len(MENU), "hash": "0"},
            "steps": [{"path": p, "data": d.encode().hex()} for p, d in steps]}))
        self.t.menu(menu_now)

    def test_add_is_an_identity_operation(self):
        args = ["menu", "add", "--title", "new", "--kernel", "/boot/vmlinuz-9"]
        run(self.t, *args, "--first", check=0)
        after = self.t.read("/boot/grub/menu.lst"), self.t.read("/boot/grub/default")
        self.assertEqual(after, (FIRST.encode(), default_file(2).encode()))
        p = run(self.t, *args, "--first", check=0)
        self.assertIn("already in menu.lst", p.stderr)
        self.assertEqual((self.t.read("/boot/grub/menu.lst"), self.t.read("/boot/grub/default")), after)
        p = run(self.t, "menu", "add", "--title", "new", "--kernel", "/boot/vmlinuz-3")
        self.assertEqual(p.returncode, 1)
        self.assertIn("a title must name one entry", p.stderr)
        self.assertEqual(self.t.read("/boot/grub/menu.lst"), after[0])

    def test_interrupted_write_is_finished_by_the_next_writer(self):
        self.record(STAGE)
        self.assertEqual(self.booted(), "b", "the stage boots the intended entry")
        # read-only verbs warn and write nothing
        j = show(self.t)
        self.assertTrue(any("interrupted" in w for w in j["warnings"]), j["warnings"])
        run(self.t, "menu", "check", check=0)
        self.assertEqual(self.t.read("/boot/grub/menu.lst"), STAGE.encode())
        self.assertTrue(os.path.exists(self.t.path(STATE + "/menu-txn.json")))
        # any mutating command finishes it first
        p = run(self.t, "pin", "--reapply", check=0)
        self.assertIn("Finished an interrupted write", p.stderr)
        self.assertEqual(self.t.read("/boot/grub/menu.lst"), FIRST.encode())
        self.assertEqual(self.t.read("/boot/grub/default"), default_file(2).encode())
        self.assertFalse(os.path.exists(self.t.path(STATE + "/menu-txn.json")))
        self.assertEqual(self.booted(), "b")

    def test_foreign_rewrite_wins_over_an_interrupted_write(self):
        foreign = MENU.replace("timeout 5", "timeout 7")
        self.record(foreign)
        p = run(self.t, "menu", "remove", "title=c", check=0)
        self.assertIn("rewritten by another tool", p.stderr)
        self.assertNotIn(b"title c", self.t.read("/boot/grub/menu.lst"))
        self.assertIn(b"timeout 7", self.t.read("/boot/grub/menu.lst"))
        self.assertEqual(self.t.read("/boot/grub/default"), default_file(1).encode())
        self.assertFalse(os.path.exists(self.t.path(STATE + "/menu-txn.json")))

    def test_stale_temps_removed_by_the_next_writer(self):
        stale = ["/boot/grub/menu.lst.kk-Ab12Cd", "/boot/grub/default.kk-000000", STATE + "/state.json.kk-xYz123",
                 STATE + "/menu-txn.json.kk-QQQQQQ"]
        kept = ["/boot/grub/menu.lst.kk-prev", "/boot/grub/menu.lst.kk-short", "/boot/grub/other.kk-Ab12Cd"]
        for p in stale + kept:
            self.t.write(p, "x")
        run(self.t, "menu", "show", check=0)
        for p in stale:
            self.assertTrue(os.path.exists(self.t.path(p)), "a read-only verb removes nothing")
        run(self.t, "unpin", check=0)
        for p in stale:
            self.assertFalse(os.path.exists(self.t.path(p)), p)
        for p in kept:
            self.assertTrue(os.path.exists(self.t.path(p)), p)

    def lock(self):
        """What another kernelkeeper writer holds: flock() on menu.lst's directory."""
        fd = os.open(self.t.path("/boot/grub"), os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    def test_writers_wait_for_the_lock(self):
        fd = self.lock()
        threading.Timer(1.0, os.close, [fd]).start()
        start = time.monotonic()
        run(self.t, "pin", "--default", "title=c", check=0)
        self.assertGreater(time.monotonic() - start, 0.9, "waited for the other writer")
        self.assertEqual(self.t.read("/boot/grub/default"), default_file(2).encode())

    def test_writer_gives_up_on_a_held_lock(self):
        fd = self.lock()
        try:
            p = run(self.t, "pin", "--default", "title=c")
        finally:
            os.close(fd)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn("Another kernelkeeper process", p.stderr)
        self.assertEqual(self.t.read("/boot/grub/default"), default_file(1).encode())

    @unittest.skipUnless(shutil.which("unshare") and os.geteuid() == 0, "needs root and unshare for a mount")
    def test_pin_fails_before_boot_when_state_cannot_be_recorded(self):
        # a read-only state directory: the state reads as empty, but cannot be saved
        state = self.t.path(STATE)
        os.makedirs(state)
        script = f"""set -e
mount -t tmpfs -o ro tmpfs {state}
set +e
{kktest.BINARY} --root {self.t.root} pin --default title=c
echo "rc=$?"
"""
        p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                           capture_output=True, text=True, timeout=60)
        self.assertIn("rc=1", p.stdout, p.stdout + p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertEqual(self.t.read("/boot/grub/default"), default_file(1).encode(), "/boot untouched")
        self.assertEqual(self.t.read("/boot/grub/menu.lst"), MENU.encode())

    def test_pin_puts_old_state_back_when_boot_write_fails(self):
        run(self.t, "pin", "--default", "title=b", check=0)
        before = json.loads(self.t.read(STATE + "/state.json"))["pin"]
        # a directory where the old file's copy goes: the /boot write fails after the state was saved
        self.t.write("/boot/grub/default.kk-prev/x", "")
        p = run(self.t, "pin", "--default", "title=c")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(json.loads(self.t.read(STATE + "/state.json"))["pin"], before)
        # with no state before, none after
        os.unlink(self.t.path(STATE + "/state.json"))
        self.assertEqual(run(self.t, "pin", "--default", "title=c").returncode, 1)
        self.assertFalse(os.path.exists(self.t.path(STATE + "/state.json")))


if __name__ == "__main__":
    kktest.main()

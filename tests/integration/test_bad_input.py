#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Bad input gets one clear error line, a non-zero exit, and changes nothing."""
import hashlib
import json
import os
import shutil
import subprocess
import unittest

import kktest
from kktest import Tree, run

MENU = """default 0
timeout 0
title new
root (hd0,0)
kernel /boot/vmlinuz-2
title old
root (hd0,0)
kernel /boot/vmlinuz-1
"""


def snapshot(root):
    """Every file under root with its hash, to prove nothing changed."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            if os.path.islink(p):
                out[p] = "-> " + os.readlink(p)
            else:
                out[p] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out


class BadInput(unittest.TestCase):
    def setUp(self):
        self.t = Tree()
        self.t.menu(MENU)
        self.t.kernels("/boot/vmlinuz-1", "/boot/vmlinuz-2")

    def tearDown(self):
        self.t.cleanup()

    def refused(self, *args, code=1, expect=None):
        before = snapshot(self.t.root)
        p = run(self.t, *args)
        self.assertEqual(p.returncode, code, p.stdout + p.stderr)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, f"one error line expected: {p.stderr!r}")
        self.assertTrue(lines[0].startswith("kernelkeeper: "), lines[0])
        if expect:
            self.assertIn(expect, lines[0])
        self.assertEqual(snapshot(self.t.root), before, "nothing may change")
        return lines[0]

    def test_binary_menu(self):
        self.t.menu(b"\x7fELF\x02\x01\x01\x00" + os.urandom(4096))
        self.refused("menu", "show", expect="binary data")
        self.refused("pin", "--default", "old", expect="binary data")

    def test_huge_menu(self):
        self.t.menu("# padding\n" * 120000)
        self.refused("menu", "show", expect="larger than 1 MiB")
        self.refused("pin", "--default", "old", expect="larger than 1 MiB")

    def test_missing_root_and_menu(self):
        p = run("/nonexistent-kk-root", "menu", "show")
        self.assertEqual(p.returncode, 1)
        self.assertIn("Cannot read /nonexistent-kk-root/boot/grub/menu.lst", p.stderr)
        os.unlink(self.t.path("/boot/grub/menu.lst"))
        self.refused("menu", "check", expect="No such file")

    def test_unreadable_menu_dir(self):
        os.unlink(self.t.path("/boot/grub/menu.lst"))
        os.makedirs(self.t.path("/boot/grub/menu.lst"))
        self.refused("menu", "show", expect="not a regular file")

    def test_symlink_out_of_the_root(self):
        # an absolute link is resolved inside the tree, never to the host's file
        os.unlink(self.t.path("/boot/grub/menu.lst"))
        os.symlink("/etc/kk-host-menu.lst", self.t.path("/boot/grub/menu.lst"))
        with open("/etc/kk-host-menu.lst", "w") as f:
            f.write(MENU)
        try:
            self.refused("pin", "--default", "old", expect="No such file")
            self.assertEqual(open("/etc/kk-host-menu.lst").read(), MENU)
        finally:
            os.unlink("/etc/kk-host-menu.lst")

    def test_bad_config(self):
        self.t.write("/etc/kernelkeeper.conf", "[Menu]\nDialekt=grub\n")
        line = self.refused("menu", "show", code=2)
        self.assertIn("kernelkeeper.conf:2: unknown key 'Dialekt' in [Menu]", line)

    def test_usage_errors(self):
        self.refused("frobnicate", code=2, expect="Unknown verb")
        self.refused("menu", "show", "--bogus", code=2)
        self.refused("pin", code=2, expect="--default")
        self.refused("menu", "--default", "x", code=2, expect="does not take --default")
        self.refused("pin", "--default", "old", "--fallback", "new", "--no-fallback", code=2)

    def test_corrupt_state(self):
        self.t.write("/var/lib/kernelkeeper/state.json", "{not json")
        self.refused("pin", "--default", "old", expect="corrupt")

    def test_write_refused_when_default_would_not_boot(self):
        os.unlink(self.t.path("/boot/vmlinuz-1"))
        self.refused("pin", "--default", "old", expect="cannot boot")

    @unittest.skipUnless(shutil.which("unshare") and os.geteuid() == 0, "needs root and unshare for a tmpfs")
    def test_full_disk(self):
        """ENOSPC while writing: the old menu.lst is untouched and no temp file is left."""
        boot = self.t.path("/boot")
        # the tmpfs makes /boot look like its own partition; the menu is written for a single one
        self.t.write("/etc/kernelkeeper.conf", "[Menu]\nBootPartition=no\n")
        script = f"""
set -e
mount -t tmpfs -o size=64k tmpfs {boot}
mkdir -p {boot}/grub
printf '%s' '{MENU}' > {boot}/grub/menu.lst
printf k > {boot}/vmlinuz-1; printf k > {boot}/vmlinuz-2
dd if=/dev/zero of={boot}/filler bs=1k count=200 2>/dev/null || true
sha256sum {boot}/grub/menu.lst > /tmp/kk-enospc-before
set +e
{kktest.BINARY} --root {self.t.root} pin --default old 2>/tmp/kk-enospc-err
echo "rc=$?"
sha256sum -c /tmp/kk-enospc-before >/dev/null && echo unchanged
ls {boot}/grub
"""
        p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                           capture_output=True, text=True, timeout=60)
        err = open("/tmp/kk-enospc-err").read()
        self.assertIn("rc=1", p.stdout, p.stdout + p.stderr)
        self.assertIn("unchanged", p.stdout)
        self.assertEqual(p.stdout.split("unchanged\n")[1].split(), ["menu.lst"], "no temp file left")
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("No space left on device", err)


if __name__ == "__main__":
    kktest.main()

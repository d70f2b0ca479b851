#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""`menu show --json` and `menu check` against the real-world corpus and synthetic trees."""
import json
import os
import unittest

import kktest
from kktest import Tree, run, show

EXPECTED = json.load(open(os.path.join(kktest.CORPUS, "expected.json")))


class Corpus(unittest.TestCase):
    def check_file(self, name, want):
        t = Tree()
        try:
            t.write("/boot/grub/menu.lst", open(os.path.join(kktest.CORPUS, name), "rb").read())
            got = show(t)
            self.assertEqual(len(got["entries"]), want["entries"], "entries")
            for key in ("default", "fallback", "timeout", "default_saved"):
                if key in want:
                    self.assertEqual(got[key], want[key], key)
            self.assertEqual([e["index"] for e in got["entries"]], list(range(want["entries"])))
            if "first_title" in want:
                self.assertEqual(got["entries"][0]["title"], want["first_title"])
            if "joined_arg" in want:
                self.assertTrue(any(want["joined_arg"] in (e["args"] or "") for e in got["entries"]))
            if want.get("title_trailing_blank"):
                self.assertTrue(any(e["title"].endswith(" ") for e in got["entries"]))
            if "password_entry" in want:
                self.assertTrue(any("asks for a password" in w for w in got["warnings"]))
            if "pvgrub_warning" in want or "pvgrub_entries" in want:
                t.write("/etc/kernelkeeper.conf", "[Menu]\nDialect=pvgrub\n")
                pv = show(t)
                self.assertEqual(pv["dialect"], "pvgrub")
                if "pvgrub_entries" in want:
                    self.assertEqual(len(pv["entries"]), want["pvgrub_entries"])
                if "pvgrub_warning" in want:
                    self.assertTrue(any(want["pvgrub_warning"] in w for w in pv["warnings"]), pv["warnings"])
            # the file is never touched by reading it
            self.assertEqual(t.read("/boot/grub/menu.lst"), open(os.path.join(kktest.CORPUS, name), "rb").read())
        finally:
            t.cleanup()


def _make(name, want):
    return lambda self: self.check_file(name, want)


for _name, _want in EXPECTED.items():
    if not _name.startswith("_"):
        setattr(Corpus, "test_" + _name[:2], _make(_name, _want))

DEBIAN = """default 0
timeout 0
fallback 1

title Debian GNU/Linux, kernel 6.1.0-26-amd64
root (hd0,0)
kernel /boot/vmlinuz-6.1.0-26-amd64 root=/dev/xvda1 ro console=hvc0
initrd /boot/initrd.img-6.1.0-26-amd64

title Debian GNU/Linux, kernel 6.1.0-25-amd64
root (hd0,0)
kernel /boot/vmlinuz-6.1.0-25-amd64 root=/dev/xvda1 ro console=hvc0
initrd /boot/initrd.img-6.1.0-25-amd64
"""


class Check(unittest.TestCase):
    def setUp(self):
        self.t = Tree()
        self.t.menu(DEBIAN)

    def tearDown(self):
        self.t.cleanup()

    def test_all_present_is_ok(self):
        self.t.kernels("/boot/vmlinuz-6.1.0-26-amd64", "/boot/initrd.img-6.1.0-26-amd64",
                       "/boot/vmlinuz-6.1.0-25-amd64", "/boot/initrd.img-6.1.0-25-amd64")
        p = run(self.t, "menu", "check")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout, "")

    def test_missing_default_kernel(self):
        self.t.kernels("/boot/vmlinuz-6.1.0-25-amd64", "/boot/initrd.img-6.1.0-25-amd64",
                       "/boot/initrd.img-6.1.0-26-amd64")
        p = run(self.t, "menu", "check")
        self.assertEqual(p.returncode, 1)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("entry 0", lines[0])
        self.assertIn("kernel /boot/vmlinuz-6.1.0-26-amd64 is missing", lines[0])
        j = json.loads(run(self.t, "--json", "menu", "check").stdout)
        self.assertFalse(j["ok"])
        self.assertEqual(len(j["problems"]), 1)
        self.assertTrue(any("missing" in w for w in show(self.t)["warnings"]))

    def test_missing_fallback_initrd(self):
        self.t.kernels("/boot/vmlinuz-6.1.0-26-amd64", "/boot/initrd.img-6.1.0-26-amd64",
                       "/boot/vmlinuz-6.1.0-25-amd64")
        p = run(self.t, "menu", "check")
        self.assertEqual(p.returncode, 1)
        self.assertIn("entry 1", p.stdout)
        self.assertIn("initrd", p.stdout)

    def test_separate_boot_partition(self):
        # GRUB paths are relative to the /boot partition: /vmlinuz-X means ROOT/boot/vmlinuz-X
        self.t.menu(DEBIAN.replace("/boot/vmlinuz", "/vmlinuz").replace("/boot/initrd", "/initrd"))
        self.t.kernels("/boot/vmlinuz-6.1.0-26-amd64", "/boot/initrd.img-6.1.0-26-amd64",
                       "/boot/vmlinuz-6.1.0-25-amd64", "/boot/initrd.img-6.1.0-25-amd64")
        self.assertEqual(run(self.t, "menu", "check").returncode, 1, "without BootPartition=yes the files are not found")
        self.t.write("/etc/kernelkeeper.conf", "[Menu]\nBootPartition=yes\n")
        p = run(self.t, "menu", "check")
        self.assertEqual(p.returncode, 0, p.stdout)

    def test_device_prefix_and_symlink(self):
        self.t.menu(DEBIAN.replace("kernel /boot/vmlinuz-6.1.0-26-amd64", "kernel (hd0,0)/vmlinuz"))
        self.t.kernels("/boot/vmlinuz-6.1.0-26-amd64", "/boot/initrd.img-6.1.0-26-amd64",
                       "/boot/vmlinuz-6.1.0-25-amd64", "/boot/initrd.img-6.1.0-25-amd64")
        os.symlink("/boot/vmlinuz-6.1.0-26-amd64", self.t.path("/vmlinuz"))  # absolute link, resolved in the tree
        self.assertEqual(run(self.t, "menu", "check").returncode, 0)
        self.t.write("/etc/kernelkeeper.conf", "[Menu]\nBootDevice=(hd0,1)\n")
        p = run(self.t, "menu", "check")
        self.assertEqual(p.returncode, 1)
        self.assertIn("not on the boot filesystem", p.stdout)

    def test_sparse_kernel(self):
        self.t.kernels("/boot/initrd.img-6.1.0-26-amd64", "/boot/vmlinuz-6.1.0-25-amd64",
                       "/boot/initrd.img-6.1.0-25-amd64")
        with open(self.t.path("/boot/vmlinuz-6.1.0-26-amd64"), "wb") as f:
            f.write(b"MZ")
            f.truncate(1 << 20)  # a hole GRUB 0.97 cannot read on ext4
        p = run(self.t, "menu", "check")
        self.assertEqual(p.returncode, 1)
        self.assertIn("holes", p.stdout)

    def test_no_entries(self):
        self.t.menu("timeout 0\n")
        p = run(self.t, "menu", "check")
        self.assertEqual(p.returncode, 1)
        self.assertIn("no boot entries", p.stdout)
        self.assertIsNone(show(self.t)["default"])

    def test_human_output(self):
        p = run(self.t, "menu", "show", check=0)
        self.assertIn("default:  0 'Debian GNU/Linux, kernel 6.1.0-26-amd64'", p.stdout)
        self.assertIn("fallback: 1", p.stdout)

    def test_menu_lst_symlink_to_grub_conf(self):
        os.rename(self.t.path("/boot/grub/menu.lst"), self.t.path("/boot/grub/grub.conf"))
        os.symlink("grub.conf", self.t.path("/boot/grub/menu.lst"))
        j = show(self.t)
        self.assertTrue(j["path"].endswith("/boot/grub/grub.conf"))
        self.assertEqual(len(j["entries"]), 2)


if __name__ == "__main__":
    kktest.main()

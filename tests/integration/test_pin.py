#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""`pin`, `pin --reapply`, `unpin`, `status`: edits by identity that survive distro rewrites."""
import json
import os
import stat
import unittest

import kktest
from kktest import Tree, run, show

DEBIAN = """# menu.lst - written by a person
default\t\t0
timeout\t\t0
hiddenmenu

title\t\tDebian GNU/Linux, kernel 6.1.0-26-amd64
root\t\t(hd0,0)
kernel\t\t/boot/vmlinuz-6.1.0-26-amd64 root=/dev/xvda1 ro
initrd\t\t/boot/initrd.img-6.1.0-26-amd64

title\t\tDebian GNU/Linux, kernel 6.1.0-26-amd64 (single-user mode)
root\t\t(hd0,0)
kernel\t\t/boot/vmlinuz-6.1.0-26-amd64 root=/dev/xvda1 ro single
initrd\t\t/boot/initrd.img-6.1.0-26-amd64

title\t\tDebian GNU/Linux, kernel 6.1.0-25-amd64
root\t\t(hd0,0)
kernel\t\t/boot/vmlinuz-6.1.0-25-amd64 root=/dev/xvda1 ro
initrd\t\t/boot/initrd.img-6.1.0-25-amd64
"""
KERNELS = ["/boot/vmlinuz-6.1.0-26-amd64", "/boot/initrd.img-6.1.0-26-amd64",
           "/boot/vmlinuz-6.1.0-25-amd64", "/boot/initrd.img-6.1.0-25-amd64"]


def changed_lines(a, b):
    """Lines that differ between two texts of equal line count."""
    la, lb = a.splitlines(keepends=True), b.splitlines(keepends=True)
    assert len(la) == len(lb), (len(la), len(lb))
    return [(x, y) for x, y in zip(la, lb) if x != y]


def corpus(name):
    return open(os.path.join(kktest.CORPUS, name), "rb").read().decode("latin-1")


class Pin(unittest.TestCase):
    def setUp(self):
        self.t = Tree()
        self.t.menu(DEBIAN)
        self.t.kernels(*KERNELS)
        os.chmod(self.t.path("/boot/grub/menu.lst"), 0o640)

    def tearDown(self):
        self.t.cleanup()

    def state(self):
        return json.loads(self.t.read("/var/lib/kernelkeeper/state.json"))

    def test_pin_by_release_changes_only_default(self):
        run(self.t, "pin", "--default", "release=6.1.0-25-amd64", check=0)
        after = self.t.read("/boot/grub/menu.lst").decode()
        self.assertEqual(changed_lines(DEBIAN, after), [("default\t\t0\n", "default\t\t2\n")])
        self.assertEqual(show(self.t)["default"], 2)
        self.assertEqual(self.t.read("/boot/grub/menu.lst.kk-prev").decode(), DEBIAN)
        self.assertEqual(stat.S_IMODE(os.stat(self.t.path("/boot/grub/menu.lst")).st_mode), 0o640)
        self.assertEqual(self.state()["pin"]["default"], "release=6.1.0-25-amd64")
        self.assertEqual(stat.S_IMODE(os.stat(self.t.path("/var/lib/kernelkeeper/state.json")).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(self.t.path("/var/lib/kernelkeeper")).st_mode), 0o700)

    def test_release_prefers_normal_entry_over_recovery(self):
        self.t.menu(DEBIAN.replace("default\t\t0", "default\t\t2"))
        run(self.t, "pin", "--default", "6.1.0-26-amd64", check=0)
        self.assertEqual(show(self.t)["default"], 0)

    def test_fallback_added_after_globals(self):
        run(self.t, "pin", "--default", "release=6.1.0-25-amd64", "--fallback", "release=6.1.0-26-amd64", check=0)
        after = self.t.read("/boot/grub/menu.lst").decode()
        self.assertIn("hiddenmenu\nfallback\t\t0\n\ntitle", after)
        j = show(self.t)
        self.assertEqual((j["default"], j["fallback"]), (2, [0]))
        run(self.t, "pin", "--default", "release=6.1.0-25-amd64", "--no-fallback", check=0)
        self.assertNotIn("fallback", self.t.read("/boot/grub/menu.lst").decode())

    def test_already_pinned_writes_nothing(self):
        run(self.t, "pin", "--default", "title=Debian GNU/Linux, kernel 6.1.0-26-amd64", check=0)
        self.assertFalse(os.path.exists(self.t.path("/boot/grub/menu.lst.kk-prev")))
        self.assertEqual(self.t.read("/boot/grub/menu.lst").decode(), DEBIAN)

    def test_refuses_missing_kernel(self):
        os.unlink(self.t.path("/boot/vmlinuz-6.1.0-25-amd64"))
        p = run(self.t, "pin", "--default", "release=6.1.0-25-amd64")
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot boot", p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertEqual(self.t.read("/boot/grub/menu.lst").decode(), DEBIAN)
        self.assertFalse(os.path.exists(self.t.path("/var/lib/kernelkeeper/state.json")))

    def test_ambiguous_and_unknown_selectors(self):
        self.t.menu(DEBIAN + "\ntitle\t\tDebian GNU/Linux, kernel 6.1.0-25-amd64\nkernel /boot/vmlinuz-6.1.0-25-amd64\n")
        p = run(self.t, "pin", "--default", "title=Debian GNU/Linux, kernel 6.1.0-25-amd64")
        self.assertEqual(p.returncode, 1)
        self.assertIn("matches several entries", p.stderr)
        p = run(self.t, "pin", "--default", "release=9.9")
        self.assertEqual(p.returncode, 1)
        self.assertIn("No entry", p.stderr)

    def test_default_saved_writes_default_file(self):
        self.t.menu(DEBIAN.replace("default\t\t0", "default\t\tsaved"))
        self.t.write("/boot/grub/default", "0\n#\n#\n#\n#\n#\n#\n#\n#\n#\n#\n")
        run(self.t, "pin", "--default", "release=6.1.0-25-amd64", check=0)
        self.assertTrue(self.t.read("/boot/grub/default").startswith(b"2\n"))
        self.assertGreaterEqual(len(self.t.read("/boot/grub/default")), 10)
        self.assertIn("default\t\tsaved", self.t.read("/boot/grub/menu.lst").decode())
        j = show(self.t)
        self.assertEqual((j["default"], j["default_saved"]), (2, True))

    def test_unpin_status_and_reapply_without_pin(self):
        p = run(self.t, "pin", "--reapply")
        self.assertEqual(p.returncode, 0)
        run(self.t, "pin", "--default", "release=6.1.0-25-amd64", "--fallback", "release=6.1.0-26-amd64", check=0)
        st = json.loads(run(self.t, "status", "--json", check=0).stdout)
        self.assertEqual(st["pin"]["default"], "release=6.1.0-25-amd64")
        self.assertEqual(st["pin"]["fallback"], ["release=6.1.0-26-amd64"])
        run(self.t, "unpin", check=0)
        self.assertNotIn("pin", self.state())
        self.assertEqual(show(self.t)["default"], 2, "unpin leaves the menu as it is")

    def test_out_of_range_default_is_rewritten(self):
        # `default 7` is out of range: GRUB boots the first fallback (2) and keeps [0] as fallback.
        # Pinning 2 with fallback 1 must rewrite the default line too, or GRUB would take 1 as default.
        self.t.menu(DEBIAN.replace("default\t\t0", "default\t\t7\nfallback 2 0"))
        j = show(self.t)
        self.assertEqual((j["default"], j["fallback"]), (2, [0]))
        run(self.t, "pin", "--default", "release=6.1.0-25-amd64", "--fallback", "title=Debian GNU/Linux, kernel 6.1.0-26-amd64 (single-user mode)", check=0)
        j = show(self.t)
        self.assertEqual((j["default"], j["fallback"]), (2, [1]))
        self.assertIn("default\t\t2\nfallback 1\n", self.t.read("/boot/grub/menu.lst").decode())

    def test_symlinked_grub_conf_stays_a_link(self):
        os.rename(self.t.path("/boot/grub/menu.lst"), self.t.path("/boot/grub/grub.conf"))
        os.symlink("grub.conf", self.t.path("/boot/grub/menu.lst"))
        run(self.t, "pin", "--default", "release=6.1.0-25-amd64", check=0)
        self.assertTrue(os.path.islink(self.t.path("/boot/grub/menu.lst")))
        self.assertIn("default\t\t2", self.t.read("/boot/grub/grub.conf").decode())


class Reapply(unittest.TestCase):
    def tearDown(self):
        self.t.cleanup()

    def test_update_grub_pair(self):
        """02 -> 03: update-grub put two new kernels on top of the automagic block."""
        self.t = Tree()
        before, after = corpus("02-avar-linode-etc-before-update-grub.lst"), corpus("03-avar-linode-etc-after-update-grub.lst")
        for rel in ("2.6.36-rc6-Avar-Akbar+", "2.6.36-rc4-Avar-Akbar+", "2.6.36-rc1-Avar-Akbar", "2.6.35-rc5-Avar-Akbar+"):
            self.t.kernels("/etc/boot/vmlinuz-" + rel)
        self.t.menu(before)
        run(self.t, "pin", "--default", "release=2.6.36-rc4-Avar-Akbar+", check=0)
        self.assertEqual(show(self.t)["default"], 1)
        # update-grub keeps `default N` and regenerates the block: N now names the new kernel
        rewritten = after.replace("default  0", "default  1", 1)
        self.t.menu(rewritten)
        j = show(self.t)
        self.assertEqual(j["entries"][j["default"]]["release"], "2.6.36-rc6-Avar-Akbar+", "the index shift")
        run(self.t, "pin", "--reapply", check=0)
        final = self.t.read("/boot/grub/menu.lst").decode("latin-1")
        self.assertEqual(changed_lines(rewritten, final), [("default  1\n", "default  3\n")])
        j = show(self.t)
        self.assertEqual(j["entries"][j["default"]]["release"], "2.6.36-rc4-Avar-Akbar+")
        self.assertEqual(len(j["entries"]), 9, "the distro's new entries are kept")
        st = json.loads(self.t.read("/var/lib/kernelkeeper/state.json"))
        self.assertIn("default 1->3", st["last_restore"]["change"])
        # a second reapply finds the pin holding and writes nothing
        mtime = os.stat(self.t.path("/boot/grub/menu.lst")).st_mtime_ns
        run(self.t, "pin", "--reapply", check=0)
        self.assertEqual(os.stat(self.t.path("/boot/grub/menu.lst")).st_mtime_ns, mtime)

    def test_grubby_pair(self):
        """25 -> 26: grubby inserted an entry at index 0 and renumbered default/fallback its own way."""
        self.t = Tree()
        self.t.kernels("/boot/vmlinuz-2.4.7-ac3", "/boot/vmlinuz-2.4.7-2.5", "/boot/new-kernel")
        self.t.menu(corpus("25-rhboot-grubby-grub5-fallback-equals.lst"))
        j = show(self.t)
        for e in j["entries"]:
            if e["initrd"]:
                self.t.kernels(e["initrd"])
        run(self.t, "pin", "--default", "title=Red Hat Linux (2.4.7-ac3)", "--fallback", "title=dos", check=0)
        self.assertEqual((show(self.t)["default"], show(self.t)["fallback"]), (1, [2]))
        rewritten = corpus("26-rhboot-grubby-g5.3-after-add-kernel.lst")
        self.t.menu(rewritten)
        for e in show(self.t)["entries"]:
            if e["initrd"]:
                self.t.kernels(e["initrd"])
        run(self.t, "pin", "--reapply", check=0)
        j = show(self.t)
        self.assertEqual(j["entries"][j["default"]]["title"], "Red Hat Linux (2.4.7-ac3)")
        self.assertEqual([j["entries"][i]["title"] for i in j["fallback"]], ["dos"])
        final = self.t.read("/boot/grub/menu.lst").decode("latin-1")
        self.assertEqual(changed_lines(rewritten, final), [("default=0\n", "default=1\n"), ("fallback=1\n", "fallback=2\n")])


if __name__ == "__main__":
    kktest.main()

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""`menu add` / `menu remove`: entries change, GRUB keeps booting the same entries, nothing else moves."""
import unittest

import kktest
from kktest import Tree, run, show

MENU = """timeout 0
default 1
fallback 2

### BEGIN AUTOMAGIC KERNELS LIST
title a
kernel /boot/vmlinuz-1
title b
kernel /boot/vmlinuz-2
title c
kernel /boot/vmlinuz-3

### END DEBIAN AUTOMAGIC KERNELS LIST
"""


class Edit(unittest.TestCase):
    def setUp(self):
        self.t = Tree()
        self.t.menu(MENU)
        self.t.kernels("/boot/vmlinuz-1", "/boot/vmlinuz-2", "/boot/vmlinuz-3", "/boot/vmlinuz-9")

    def tearDown(self):
        self.t.cleanup()

    def titles(self):
        j = show(self.t)
        return [e["title"] for e in j["entries"]], j["entries"][j["default"]]["title"], \
            [j["entries"][i]["title"] for i in j["fallback"]]

    def test_add_last_outside_automagic(self):
        run(self.t, "menu", "add", "--title", "custom 9", "--kernel", "/boot/vmlinuz-9", "--args", "ro quiet",
            "--root-device", "(hd0,0)", check=0)
        text = self.t.read("/boot/grub/menu.lst").decode()
        self.assertTrue(text.startswith(MENU), "every old byte stays")
        self.assertTrue(text.endswith("### END DEBIAN AUTOMAGIC KERNELS LIST\n\ntitle custom 9\nroot (hd0,0)\n"
                                      "kernel /boot/vmlinuz-9 ro quiet\n"))
        self.assertEqual(self.titles(), (["a", "b", "c", "custom 9"], "b", ["c"]))

    def test_add_first_renumbers(self):
        run(self.t, "menu", "add", "--first", "--title", "new", "--kernel", "/boot/vmlinuz-9", check=0)
        self.assertEqual(self.titles(), (["new", "a", "b", "c"], "b", ["c"]))
        self.assertIn("default 2\nfallback 3\n", self.t.read("/boot/grub/menu.lst").decode())

    def test_add_refuses_missing_kernel_only_when_it_would_boot(self):
        # a new entry that is not the default may point at a kernel not yet copied
        run(self.t, "menu", "add", "--title", "later", "--kernel", "/boot/vmlinuz-x", check=0)
        self.assertIn("later", self.titles()[0])

    def test_remove_renumbers_and_refuses_in_use(self):
        run(self.t, "menu", "remove", "title=a", check=0)
        self.assertEqual(self.titles(), (["b", "c"], "b", ["c"]))
        text = self.t.read("/boot/grub/menu.lst").decode()
        self.assertIn("### BEGIN AUTOMAGIC", text)
        self.assertIn("default 0\nfallback 1\n", text)
        p = run(self.t, "menu", "remove", "title=b")
        self.assertEqual(p.returncode, 1)
        self.assertIn("default or a fallback", p.stderr)
        p = run(self.t, "menu", "remove", "nothing")
        self.assertEqual(p.returncode, 1)

    def test_default_saved_moves_default_file(self):
        self.t.menu(MENU.replace("default 1", "default saved"))
        self.t.write("/boot/grub/default", "1\n#\n#\n#\n#\n#\n#\n#\n#\n#\n#\n")
        run(self.t, "menu", "add", "--first", "--title", "new", "--kernel", "/boot/vmlinuz-9", check=0)
        self.assertTrue(self.t.read("/boot/grub/default").startswith(b"2\n"))
        self.assertEqual(self.titles()[1], "b")

    def test_usage(self):
        self.assertEqual(run(self.t, "menu", "add", "--title", "x").returncode, 2)
        self.assertEqual(run(self.t, "menu", "show", "--title", "x").returncode, 2)


if __name__ == "__main__":
    kktest.main()

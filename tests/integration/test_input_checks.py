#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Input that must be refused with one clear line (and nothing changed), and --json commands that
fail still printing one JSON object on stdout."""
import functools
import json
import os
import unittest

import kktest
from kktest import run
import test_bad_input  # not its class by name: the loader would run its tests here again
from test_bad_input import MENU

ENTRY = ["--title", "custom", "--kernel", "/boot/vmlinuz-2", "--initrd", "/boot/initrd-2", "--args", "ro quiet",
         "--root-device", "(hd0,0)"]


class Checks(unittest.TestCase):
    # the fixture and the "one line, exit code, nothing changed" check of test_bad_input;
    # everything refused here is a usage error
    setUp = test_bad_input.BadInput.setUp
    tearDown = test_bad_input.BadInput.tearDown
    refused = functools.partialmethod(test_bad_input.BadInput.refused, code=2)

    def add_with(self, option, value, **kw):
        args = list(ENTRY)
        args[args.index(option) + 1] = value
        return self.refused("menu", "add", *args, **kw)

    # menu add: every value checked before anything is read or written

    def test_menu_add_control_characters(self):
        for option in ("--title", "--kernel", "--initrd", "--args", "--root-device"):
            good = ENTRY[ENTRY.index(option) + 1]
            for bad in ("\n", "\t", "\r", "\x01", "\x1b", "\x7f", "\ntitle evil\nkernel /boot/vmlinuz-1"):
                with self.subTest(option=option, char=repr(bad)):
                    for value in (good + bad, bad + good, good[:2] + bad + good[2:]):
                        line = self.add_with(option, value, expect=option)
                        self.assertNotIn("evil", line, "the value is not echoed")

    def test_menu_add_bad_forms(self):
        self.add_with("--kernel", "boot/vmlinuz-2", expect="--kernel must be an absolute file path")
        self.add_with("--kernel", "/boot/vmlinuz 2", expect="--kernel must be a file path without blanks")
        self.add_with("--initrd", "(hd0,0)initrd", expect="--initrd must be an absolute file path")
        self.add_with("--initrd", "", expect="--initrd must be an absolute file path")
        for dev in ("hd0,0", "(hd0,)", "(sd0)", "(hd0,0)/", "(hd0,0", "(hdx)", " (hd0)", ""):
            self.add_with("--root-device", dev, expect="--root-device must be a GRUB device")
        self.add_with("--title", "", expect="--title must not be empty")
        self.add_with("--title", "   ", expect="--title must not be empty")
        self.add_with("--title", "=x", expect="--title must not start with a blank or '='")
        for option in ("--title", "--args", "--kernel"):
            self.add_with(option, ENTRY[ENTRY.index(option) + 1] + "\\", expect=f"{option} ends with a backslash")
        self.add_with("--args", "x" * 1500, expect="--args is too long")
        # each value fits, the kernel line does not
        self.add_with("--args", "x" * 1480, expect="The new 'kernel' line is too long")

    def test_menu_add_good_values_still_work(self):
        run(self.t, "menu", "add", "--title", "Debian GNU/Linux, kernel 6.1 (ÿ)", "--kernel", "(hd0,0)/vmlinuz-2",
            "--args", "root=/dev/xvda1 ro console=hvc0 quiet \"x=a b\"", "--root-device", "(hd0)", check=0)
        run(self.t, "menu", "add", "--title", "two", "--kernel", "/boot/vmlinuz-2", "--root-device", "(hd10,12)",
            "--args", "x" * 1400, check=0)
        j = kktest.show(self.t)
        self.assertEqual([e["title"] for e in j["entries"]], ["new", "old", "Debian GNU/Linux, kernel 6.1 (ÿ)", "two"])

    def test_menu_add_usage_exits_2(self):
        self.refused("menu", "add", "--title", "x", expect="'menu add' needs --kernel")
        self.refused("menu", "add", "--kernel", "/boot/vmlinuz-2", expect="'menu add' needs --title")
        self.refused("menu", "add", "extra", *ENTRY, expect="'menu add' takes")
        self.refused("menu", "add", "--default", "x", *ENTRY, expect="'menu add' does not take --default")

    # options given twice

    def test_options_given_twice(self):
        self.refused("pin", "--default", "old", "--default", "new", expect="--default may be given only once")
        self.refused("menu", "add", *ENTRY, "--title", "again", expect="--title may be given only once")
        self.refused("menu", "add", *ENTRY, "--kernel", "/boot/vmlinuz-1", expect="--kernel may be given only once")
        self.refused("userdata", "run", "--metadata-url", "http://127.0.0.1:1", "--metadata-url",
                     "http://127.0.0.1:2", expect="--metadata-url may be given only once")
        self.refused("--root", self.t.root, "menu", "show", expect="--root may be given only once")
        self.refused("--config", "/x", "--config", "/y", "menu", "show", expect="--config may be given only once")
        # repeatable and plain flags stay as they were
        self.t.menu(MENU + "title third\nroot (hd0,0)\nkernel /boot/vmlinuz-1\n")
        run(self.t, "pin", "--default", "title=old", "--fallback", "title=new", "--fallback", "title=third", check=0)
        self.assertEqual(kktest.show(self.t)["fallback"], [0, 2])
        run(self.t, "--json", "--json", "menu", "show", check=0)

    # clear messages

    def test_relative_path_in_config(self):
        self.t.write("/etc/kernelkeeper.conf", "[Menu]\nDialect=grub\nPath=boot/grub/menu.lst\n")
        line = self.refused("menu", "show")
        self.assertIn("kernelkeeper.conf:3: Path= needs an absolute path, not 'boot/grub/menu.lst'", line)
        self.t.write("/etc/kernelkeeper.conf", "[State]\nDirectory=\n")  # empty crashed
        self.refused("menu", "show", expect="kernelkeeper.conf:2: Directory= needs an absolute path")
        self.t.write("/etc/kernelkeeper.conf", "[UserData]\nLogDirectory=var/log\n")
        self.refused("menu", "show", expect="kernelkeeper.conf:2: LogDirectory= needs an absolute path")

    def test_root_is_a_file(self):
        f = self.t.path("/boot/vmlinuz-1")
        p = run(f, "menu", "show")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertEqual(p.stderr, f"kernelkeeper: --root {f} is not a directory\n")

    def test_config_over_the_limits(self):
        self.t.write("/etc/kernelkeeper.conf", "[Menu]\n#" + "x" * 5000 + "\nDialect=grub\n")
        self.refused("menu", "show", expect="kernelkeeper.conf:2: line longer than 4096 bytes, the limit")
        self.t.write("/etc/kernelkeeper.conf", "[Menu]\n" + "# padding\n" * 120000)
        self.refused("menu", "show", expect="kernelkeeper.conf: larger than 1 MiB, the limit for a configuration")

    def test_dropin_dir_is_a_file(self):
        self.t.write("/etc/kernelkeeper.conf.d", "[Menu]\nDialect=pvgrub\n")
        line = self.refused("menu", "show")
        self.assertTrue(line.endswith("/etc/kernelkeeper.conf.d is not a directory"), line)

    # --json: a failure is one JSON object on stdout

    def json_error(self, *args, code):
        p = run(self.t, "--json", *args)
        self.assertEqual(p.returncode, code, p.stdout + p.stderr)
        out = json.loads(p.stdout)
        err = p.stderr.strip().splitlines()
        self.assertEqual(len(err), 1, p.stderr)
        self.assertEqual(out, {"error": err[0].removeprefix("kernelkeeper: "), "exit": code})
        return out["error"]

    def test_json_errors(self):
        self.json_error("pin", "--default", "nothing-matches", code=1)
        self.json_error("menu", "show", "--bogus", code=2)
        self.json_error("menu", "add", "--title", "x\ny", "--kernel", "/boot/vmlinuz-2", code=2)
        self.json_error("frobnicate", code=2)
        self.json_error("pin", "--default", "a", "--default", "b", code=2)
        self.t.write("/var/lib/kernelkeeper/state.json", "{not json")
        self.assertIn("corrupt", self.json_error("status", code=1))
        os.unlink(self.t.path("/boot/grub/menu.lst"))
        self.assertIn("menu.lst", self.json_error("menu", "show", code=1))
        # an option that fails before --json is read still gets a JSON answer
        p = run(self.t, "--bogus", "menu", "show", "--json")
        self.assertEqual(json.loads(p.stdout)["exit"], 2)
        p = run(None, "--json")
        self.assertEqual(json.loads(p.stdout), {"error": "No verb given (see --help)", "exit": 2})

    def test_json_own_failure_object_kept(self):
        os.unlink(self.t.path("/boot/vmlinuz-2"))
        p = run(self.t, "--json", "menu", "check")
        self.assertEqual(p.returncode, 1)
        out = json.loads(p.stdout)
        self.assertFalse(out["ok"])
        self.assertNotIn("error", out)

    def test_json_success_unchanged(self):
        p = run(self.t, "--json", "status", check=0)
        self.assertNotIn("error", json.loads(p.stdout))
        p = run(self.t, "--json", "pin", "--default", "old", check=0)
        self.assertEqual(p.stdout, "")


if __name__ == "__main__":
    kktest.main()

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The demo of `./dev demo` (the README's first command) must exit 0 and leave nothing behind."""
import glob
import os
import subprocess
import unittest

import kktest

DEMO = os.path.join(os.environ.get("KK_SOURCE_ROOT", "."), "tests", "demo", "pin-demo.sh")


class Demo(unittest.TestCase):
    def test_demo_exits_0_and_cleans_up(self):
        before = set(glob.glob("/tmp/kk-demo-*"))
        p = subprocess.run(["bash", DEMO, kktest.BINARY], capture_output=True, text=True, timeout=120,
                           env={k: v for k, v in os.environ.items()
                                if k not in ("JOURNAL_STREAM", "INVOCATION_ID")})
        self.assertEqual(p.returncode, 0, p.stdout[-2000:] + p.stderr[-2000:])
        # the story it tells: the pin is restored by the hook path and by the daemon
        self.assertIn("restored", p.stdout)
        self.assertIn("default and fallbacks load kernels that exist", p.stdout)
        self.assertEqual(set(glob.glob("/tmp/kk-demo-*")), before, "the demo left its tree behind")


if __name__ == "__main__":
    kktest.main()

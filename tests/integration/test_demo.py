#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The demo of `./dev demo` (the README's first command) must exit 0 and leave nothing behind."""
import os
import subprocess
import tempfile
import unittest

import kktest

DEMO = os.path.join(os.environ.get("KK_SOURCE_ROOT", "."), "tests", "demo", "pin-demo.sh")


class Demo(unittest.TestCase):
    def test_demo_exits_0_and_cleans_up(self):
        # a TMPDIR of its own: other demos may run at the same time (the before-stop hook runs one)
        tmp = tempfile.mkdtemp(prefix="kk-demo-test-")
        env = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "INVOCATION_ID")}
        env["TMPDIR"] = tmp
        p = subprocess.run(["bash", DEMO, kktest.BINARY], capture_output=True, text=True, timeout=120, env=env)
        self.assertEqual(p.returncode, 0, p.stdout[-2000:] + p.stderr[-2000:])
        # the story it tells: the pin is restored by the hook path and by the daemon
        self.assertIn("restored", p.stdout)
        self.assertIn("default and fallbacks load kernels that exist", p.stdout)
        left = os.listdir(tmp)
        os.rmdir(tmp) if not left else None
        self.assertEqual(left, [], "the demo left its tree behind")


if __name__ == "__main__":
    kktest.main()

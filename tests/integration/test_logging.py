#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Messages go to the journal only when stderr is the journal stream systemd set up (JOURNAL_STREAM
names stderr's device:inode, systemd.exec(5)); otherwise to stderr, whatever else is in the
environment. The journal is a datagram socket at /run/systemd/journal/socket that the test binds
itself in a private mount namespace, so it sees exactly what kernelkeeper sent there."""
import json
import os
import shutil
import subprocess
import sys
import unittest

import kktest
from kktest import Tree

# Runs inside `unshare -m`: a fresh /run with our own journal socket, then kernelkeeper once.
HELPER = r"""
import json, os, socket, subprocess, sys, tempfile
cfg = json.loads(sys.argv[1])
subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run"], check=True)
os.makedirs("/run/systemd/journal")
journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
journal.bind("/run/systemd/journal/socket")
journal.settimeout(0.5)
env = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "INVOCATION_ID")}
env.update(cfg["env"])
with tempfile.TemporaryFile() as f:
    if cfg["stderr"] == "file":
        st = os.fstat(f.fileno())
        env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
        p = subprocess.run(cfg["cmd"], stdout=subprocess.PIPE, stderr=f, env=env, timeout=60)
        f.seek(0)
        err = f.read()
    else:
        p = subprocess.run(cfg["cmd"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=60)
        err = p.stderr
received = []
try:
    while True:
        received.append(journal.recv(1 << 20).decode(errors="replace"))
except socket.timeout:
    pass
print(json.dumps({"rc": p.returncode, "stderr": err.decode(errors="replace"), "journal": received}))
"""


@unittest.skipUnless(shutil.which("unshare") and os.geteuid() == 0, "needs root and unshare for a private /run")
class Logging(unittest.TestCase):
    def setUp(self):
        self.t = Tree()  # no menu.lst: `menu show` fails with one error line

    def tearDown(self):
        self.t.cleanup()

    def run_kk(self, stderr, env):
        cfg = {"cmd": [kktest.BINARY, "--root", self.t.root, "menu", "show"], "stderr": stderr, "env": env}
        p = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, "-c", HELPER,
                            json.dumps(cfg)], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(out["rc"], 1, out)
        return out

    def test_pipe_under_a_service_gets_stderr(self):
        """A verb run by another service whose stderr is a pipe (JOURNAL_STREAM and INVOCATION_ID
        inherited, naming some other stream): the error is on stderr, not in the journal."""
        out = self.run_kk("pipe", {"JOURNAL_STREAM": "1:2", "INVOCATION_ID": "0123456789abcdef0123456789abcdef"})
        self.assertIn("kernelkeeper: Cannot read", out["stderr"])
        self.assertEqual(out["journal"], [])

    def test_invocation_id_alone_gets_stderr(self):
        out = self.run_kk("pipe", {"INVOCATION_ID": "0123456789abcdef0123456789abcdef"})
        self.assertIn("kernelkeeper: Cannot read", out["stderr"])
        self.assertEqual(out["journal"], [])

    def test_stderr_that_is_the_journal_stream_goes_to_the_journal(self):
        """JOURNAL_STREAM matches stderr's device:inode: structured entry in the journal, nothing
        on stderr."""
        out = self.run_kk("file", {})
        self.assertEqual(out["stderr"], "")
        self.assertEqual(len(out["journal"]), 1, out)
        fields = out["journal"][0].splitlines()
        self.assertTrue(any(f.startswith("MESSAGE=Cannot read ") for f in fields), fields)
        self.assertIn("PRIORITY=3", fields)
        self.assertIn("SYSLOG_IDENTIFIER=kernelkeeper", fields)

    def test_malformed_journal_stream_gets_stderr(self):
        for value in ("", "x:y", "1:", ":2", "1:2:3", "-1:2"):
            out = self.run_kk("pipe", {"JOURNAL_STREAM": value})
            self.assertIn("kernelkeeper: Cannot read", out["stderr"], value)
            self.assertEqual(out["journal"], [], value)


if __name__ == "__main__":
    kktest.main()

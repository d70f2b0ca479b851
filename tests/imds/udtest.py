# SPDX-License-Identifier: GPL-2.0-or-later
"""Fixtures for the user-data tests: a --root tree with a fixed boot id and fast timeouts, a test
IMDS (imds_server.py) on 127.0.0.1, and helpers to run `kernelkeeper userdata`."""
import gzip
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.environ.get("KK_SOURCE_ROOT", ""), "tests", "integration"))

import kktest  # noqa: E402
from imds_server import ImdsServer  # noqa: E402

BOOT_ID = "6f1b6a6e-0d0c-4f3e-9a53-000000000001"

CONFIG = """[Metadata]
TimeoutSec={timeout}
RequestTimeoutMSec={request_timeout}
{metadata_extra}
[UserData]
ScriptTimeoutSec={script_timeout}
{userdata_extra}
"""


def mime(*parts, boundary="==BOUNDARY=="):
    """parts: (content_type, body) pairs -> multipart/mixed user data"""
    out = [f'Content-Type: multipart/mixed; boundary="{boundary}"\nMIME-Version: 1.0\n\n']
    for ctype, body in parts:
        if isinstance(body, bytes):
            body = body.decode()
        out.append(f'--{boundary}\nContent-Type: {ctype}; charset="us-ascii"\nMIME-Version: 1.0\n'
                   f'Content-Transfer-Encoding: 7bit\n\n{body}\n')
    out.append(f"--{boundary}--\n")
    return "".join(out).encode()


def gz(data):
    return gzip.compress(data if isinstance(data, bytes) else data.encode())


class UserDataCase(unittest.TestCase):
    """One tree and one server per test."""
    server_kw = {}

    def setUp(self):
        self.t = kktest.Tree()
        self.set_boot_id(BOOT_ID)
        self.configure()
        self.srv = ImdsServer(**self.server_kw)
        self.out = self.t.path("/out")  # where test scripts leave their traces
        os.makedirs(self.out)

    def tearDown(self):
        self.srv.stop()
        self.t.cleanup()

    def configure(self, timeout=20, request_timeout=1000, script_timeout=30, metadata_extra="", userdata_extra=""):
        self.t.write("/etc/kernelkeeper.conf", CONFIG.format(
            timeout=timeout, request_timeout=request_timeout, script_timeout=script_timeout,
            metadata_extra=metadata_extra, userdata_extra=userdata_extra))

    def set_boot_id(self, boot_id):
        self.t.write("/proc/sys/kernel/random/boot_id", boot_id + "\n")

    def serve(self, user_data=None, **kw):
        if isinstance(user_data, str):
            user_data = user_data.encode()
        self.srv.configure(user_data=user_data, **kw)
        if self.srv.httpd is None:
            self.srv.start()
        return self.srv

    def userdata(self, *args, check=None, env=None):
        """kernelkeeper --root TREE userdata ARGS (run gets --metadata-url of the test server)"""
        args = list(args)
        if args and args[0] == "run" and not any(a.startswith("--metadata-url") for a in args):
            args += ["--metadata-url", self.srv.url]
        return kktest.run(self.t, "userdata", *args, check=check, env=env)

    def run_ok(self):
        return self.userdata("run", check=0)

    def state(self):
        return json.loads(self.t.read("/var/lib/kernelkeeper/state.json"))

    def runs(self):
        return self.state().get("userdata", {}).get("runs", {})

    def trace(self, name):
        """Lines a test script appended to /out/NAME (empty list if none)."""
        p = os.path.join(self.out, name)
        if not os.path.exists(p):
            return []
        return open(p).read().split()

    def script(self, name, body="", shebang="#!/bin/sh"):
        """A script that appends its name to /out/trace, then runs body."""
        return f"{shebang}\necho {name} >> {self.out}/trace\n{body}\n"

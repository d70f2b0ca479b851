#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The test IMDS answers like the real one (/work/shared/notes/imds.md), so client tests against it
mean something. Uses python's http.client only."""
import http.client
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.environ.get("KK_SOURCE_ROOT", ""), "tests", "integration"))
import kktest  # noqa: E402
from imds_server import ImdsServer  # noqa: E402


class Server(unittest.TestCase):
    def setUp(self):
        self.srv = ImdsServer(user_data=b"#!/bin/sh\n").start()
        self.c = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=5)

    def tearDown(self):
        self.c.close()
        self.srv.stop()

    def req(self, method, path, headers=None):
        self.c.request(method, path, headers=headers or {})
        r = self.c.getresponse()
        return r.status, r.read(), r

    def token(self, ttl="21600"):
        s, body, _ = self.req("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": ttl})
        self.assertEqual(s, 200)
        return body.decode()

    def test_token_ttl_validation(self):
        for ttl in (None, "0", "21601", "abc", "-5"):
            h = {} if ttl is None else {"X-aws-ec2-metadata-token-ttl-seconds": ttl}
            self.assertEqual(self.req("PUT", "/latest/api/token", h)[0], 400, ttl)
        self.token("1")
        self.token("21600")

    def test_token_path_rules(self):
        h = {"X-aws-ec2-metadata-token-ttl-seconds": "60"}
        self.assertEqual(self.req("PUT", "/2021-03-23/api/token", h)[0], 403)
        self.assertEqual(self.req("PUT", "/latest/api/token", dict(h, **{"X-Forwarded-For": "1.2.3.4"}))[0], 403)
        s, _, r = self.req("GET", "/latest/api/token")
        self.assertEqual(s, 405)
        self.assertEqual(r.getheader("Allow"), "OPTIONS, PUT")

    def test_v2_required(self):
        self.assertEqual(self.req("GET", "/latest/meta-data/instance-id")[0], 401)
        self.assertEqual(self.req("GET", "/latest/meta-data/instance-id", {"X-aws-ec2-metadata-token": "bogus"})[0], 401)
        t = self.token()
        s, body, _ = self.req("GET", "/latest/meta-data/instance-id", {"X-aws-ec2-metadata-token": t})
        self.assertEqual((s, body), (200, b"i-0123456789abcdef0"))
        self.srv.configure(allow_v1=True)
        self.assertEqual(self.req("GET", "/latest/meta-data/instance-id")[0], 200)

    def test_token_expires(self):
        t = self.token("1")
        time.sleep(1.1)
        self.assertEqual(self.req("GET", "/latest/user-data", {"X-aws-ec2-metadata-token": t})[0], 401)

    def test_404_and_user_data(self):
        h = {"X-aws-ec2-metadata-token": self.token()}
        self.assertEqual(self.req("GET", "/latest/user-data", h)[:2], (200, b"#!/bin/sh\n"))
        self.srv.configure(user_data=None)
        self.assertEqual(self.req("GET", "/latest/user-data", h)[0], 404)
        self.assertEqual(self.req("GET", "/latest/meta-data/nothing", h)[0], 404)

    def test_503_retry_after_and_keep_alive(self):
        self.srv.configure(failures=[{"path": "user-data", "status": 503, "retry_after": 2, "count": 1}])
        h = {"X-aws-ec2-metadata-token": self.token()}
        s, _, r = self.req("GET", "/latest/user-data", h)
        self.assertEqual((s, r.getheader("Retry-After")), (503, "2"))
        self.assertEqual(self.req("GET", "/latest/user-data", h)[0], 200)
        self.assertEqual(len({e["conn"] for e in self.srv.requests()}), 1)

    def test_slow_reply(self):
        self.srv.configure(failures=[{"path": "instance-id", "delay": 0.5}])
        start = time.monotonic()
        self.req("GET", "/latest/meta-data/instance-id", {"X-aws-ec2-metadata-token": self.token()})
        self.assertGreaterEqual(time.monotonic() - start, 0.5)

    def test_down_for_refuses_then_serves(self):
        srv = ImdsServer(down_for=1).start()
        try:
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", srv.port), timeout=1)
            time.sleep(1.3)
            socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()
        finally:
            srv.stop()


if __name__ == "__main__":
    kktest.main()

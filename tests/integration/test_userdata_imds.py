#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""`userdata run` as an IMDS client: one token and one connection on the happy path, and the field
failures of /work/shared/notes/imds.md (expired token, 503 storms, a service that is not up yet,
dropped token replies, slow replies, 404, oversized user data)."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("KK_SOURCE_ROOT", ""), "tests", "imds"))
import kktest  # noqa: E402
import udtest  # noqa: E402
from udtest import UserDataCase  # noqa: E402

udtest_file = udtest.__file__


class Client(UserDataCase):
    def test_happy_path_one_put_three_gets_one_connection(self):
        self.serve(self.script("a"))
        self.run_ok()
        log = self.srv.requests()
        self.assertLessEqual(len(log), 4, [(e["method"], e["path"]) for e in log])
        self.assertEqual([e["method"] for e in log], ["PUT", "GET", "GET", "GET"])
        self.assertEqual(log[0]["path"], "/latest/api/token")
        self.assertEqual(log[0]["headers"]["x-aws-ec2-metadata-token-ttl-seconds"], "21600")
        self.assertEqual(len({e["conn"] for e in log}), 1, "all requests on one kept-alive connection")
        token = self.srv.tokens and list(self.srv.tokens)[0]
        for e in log[1:]:
            self.assertEqual(e["headers"].get("x-aws-ec2-metadata-token"), token)
            self.assertNotIn("x-forwarded-for", e["headers"])
        self.assertEqual(self.trace("trace"), ["a"])

    def test_token_ttl_from_config(self):
        self.t.write("/etc/kernelkeeper.conf.d/ttl.conf", "[Metadata]\nTokenTTLSec=60\n")
        self.serve(self.script("a"))
        self.run_ok()
        self.assertEqual(self.srv.requests(method="PUT")[0]["headers"]["x-aws-ec2-metadata-token-ttl-seconds"], "60")

    def test_token_expiry_mid_run_refetches_once(self):
        self.serve(self.script("a"), revoke_tokens_after=1)
        self.run_ok()
        log = self.srv.requests()
        self.assertEqual(len(self.srv.requests(method="PUT")), 2)
        self.assertEqual([e["status"] for e in log].count(401), 1)
        self.assertEqual(self.trace("trace"), ["a"])

    def test_503_storm_honours_retry_after(self):
        self.serve(self.script("a"), failures=[{"path": "user-data", "status": 503, "retry_after": 1, "count": 3}])
        self.run_ok()
        ud = self.srv.requests(path="/latest/user-data")
        self.assertEqual([e["status"] for e in ud], [503, 503, 503, 200])
        gaps = [b["t"] - a["t"] for a, b in zip(ud, ud[1:])]
        self.assertTrue(all(g >= 0.9 for g in gaps), gaps)
        self.assertEqual(len({e["conn"] for e in self.srv.requests()}), 1, "503s keep the connection")

    def test_429_and_token_503_back_off_exponentially(self):
        self.serve(self.script("a"), failures=[{"method": "PUT", "status": 503, "count": 1},
                                               {"path": "instance-id", "status": 429, "count": 4}])
        self.run_ok()
        iid = self.srv.requests(path="/latest/meta-data/instance-id")
        self.assertEqual([e["status"] for e in iid], [429, 429, 429, 429, 200])
        gaps = [b["t"] - a["t"] for a, b in zip(iid, iid[1:])]
        self.assertTrue(all(b > a * 1.5 for a, b in zip(gaps, gaps[1:])), f"not growing: {gaps}")
        self.assertLess(gaps[-1], 5.5, "bounded")

    def test_imds_down_then_up(self):
        self.srv.configure(down_for=2)
        start = time.monotonic()
        self.serve(self.script("a"))
        self.run_ok()
        self.assertGreaterEqual(time.monotonic() - start, 2)
        self.assertEqual(self.trace("trace"), ["a"])
        self.assertEqual(len(self.srv.requests(method="PUT")), 1)

    def test_no_route_yet_waits_for_the_network(self):
        """Started before the interface is configured (connect: ENETUNREACH), the client waits for
        the next address/route change instead of backing off: the first request leaves right when
        the route appears (here: lo brought up 3.2 s in, in a network namespace of its own; the
        old backoff of 100 ms doubling would try next at 6.3 s, and the client's own poll without
        netlink is at most 1 s: the 2 s bound leaves a loaded CI host room on both sides)."""
        if subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode != 0:
            self.skipTest("unshare -rn (a user + network namespace) is not available here")
        helper = f"""
import json, subprocess, sys, threading, time
sys.path.insert(0, {os.path.dirname(udtest_file)!r})
from imds_server import ImdsServer
srv = ImdsServer(user_data=b"#!/bin/sh\\necho a >> {self.out}/trace\\n").start()
up = {{}}
def lo_up():
    time.sleep(3.2)
    up["t"] = time.monotonic()
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
threading.Thread(target=lo_up).start()
p = subprocess.run([{kktest.BINARY!r}, "--root", {self.t.root!r}, "userdata", "run",
                    "--metadata-url", srv.url], capture_output=True, text=True)
print(json.dumps({{"rc": p.returncode, "stderr": p.stderr, "up": up["t"],
                  "first": srv.log[0]["t"] if srv.log else None}}))
"""
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)
        env.pop("INVOCATION_ID", None)
        p = subprocess.run(["unshare", "-rn", sys.executable, "-c", helper], capture_output=True,
                           text=True, timeout=60, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        r = json.loads(p.stdout.strip().splitlines()[-1])
        self.assertEqual(r["rc"], 0, r["stderr"])
        self.assertEqual(self.trace("trace"), ["a"])
        delay = r["first"] - r["up"]
        self.assertGreaterEqual(delay, 0)
        self.assertLess(delay, 2.0, f"first request {delay:.2f} s after the route appeared")
        self.assertIn("no route yet", r["stderr"])

    def test_overall_deadline(self):
        self.configure(timeout=2)
        self.serve(self.script("a"), failures=[{"path": "instance-id", "status": 503, "count": 1000}])
        start = time.monotonic()
        p = self.userdata("run", check=1)
        self.assertLess(time.monotonic() - start, 6)
        self.assertIn("HTTP 503", p.stderr)
        self.assertEqual(self.trace("trace"), [])

    def test_no_user_data_is_not_an_error_and_not_retried(self):
        self.serve(None)
        p = self.run_ok()
        self.assertIn("No user data", p.stderr)
        self.assertEqual([e["status"] for e in self.srv.requests(path="/latest/user-data")], [404])

    def test_one_mib_user_data_refused(self):
        self.serve(b"#!/bin/sh\n" + b"#" * (1024 * 1024) + b"\necho ran >> " + self.out.encode() + b"/trace\n")
        p = self.userdata("run", check=1)
        self.assertIn("larger than 65536 bytes; refusing it", p.stderr)
        self.assertEqual(self.trace("trace"), [])

    def test_dropped_token_reply_falls_back_to_v1_only_when_allowed(self):
        self.configure(timeout=3, request_timeout=300)
        self.serve(self.script("a"), allow_v1=True, failures=[{"method": "PUT", "delay": 1, "drop": True, "count": 100}])
        p = self.userdata("run", check=1)
        self.assertIn("Cannot read the instance id", p.stderr)
        self.assertEqual(self.srv.requests(method="GET"), [], "no GET without a token unless AllowIMDSv1=yes")

        self.configure(timeout=3, request_timeout=300, metadata_extra="AllowIMDSv1=yes")
        self.srv.log.clear()
        self.run_ok()
        gets = self.srv.requests(method="GET")
        self.assertEqual(len(gets), 3)
        self.assertTrue(all("x-aws-ec2-metadata-token" not in e["headers"] for e in gets))
        self.assertEqual(self.trace("trace"), ["a"])

    def test_v2_required_401_without_token(self):
        # the service answers GETs without a token with 401; the client never sends one without a token
        self.serve(self.script("a"))
        self.run_ok()
        self.assertTrue(all("x-aws-ec2-metadata-token" in e["headers"] for e in self.srv.requests(method="GET")))

    def test_slow_reply_is_retried(self):
        self.configure(request_timeout=500)
        self.serve(self.script("a"), failures=[{"path": "instance-id", "delay": 1.5, "count": 1}])
        self.run_ok()
        self.assertEqual(len(self.srv.requests(path="/latest/meta-data/instance-id")), 2)

    def test_redirect_not_followed(self):
        self.serve(self.script("a"))
        self.srv.configure(failures=[{"path": "user-data", "status": 302,
                                      "headers": {"Location": self.srv.url + "/elsewhere"}}])
        p = self.userdata("run", check=1)
        self.assertIn("HTTP 302", p.stderr)
        self.assertEqual(self.srv.requests(path="/elsewhere"), [])

    def test_proxy_environment_ignored(self):
        self.serve(self.script("a"))
        self.userdata("run", check=0, env={"http_proxy": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
                                           "no_proxy": "", "ALL_PROXY": "http://127.0.0.1:9"})
        self.assertEqual(self.trace("trace"), ["a"])

    def test_hostname_refused(self):
        p = self.userdata("run", "--metadata-url", "http://localhost:1234", check=2)
        self.assertIn("literal IP address", p.stderr)

    def test_ipv6_literal_accepted(self):
        # nothing listens there: the URL is accepted and the deadline ends the run
        self.configure(timeout=1, request_timeout=200)
        p = self.userdata("run", "--metadata-url", "http://[::1]:9", check=1)
        self.assertIn("Cannot read the instance id", p.stderr)

    def test_show_needs_no_network(self):
        self.serve(self.script("a"))
        self.run_ok()
        self.srv.stop()
        p = self.userdata("show", check=0)
        self.assertIn("success (exit 0)", p.stdout)


if __name__ == "__main__":
    kktest.main()

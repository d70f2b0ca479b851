#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A test instance metadata service that behaves like EC2's IMDS where a client can tell
(see /work/shared/notes/imds.md), with switches for the failures clients meet in the field.

In-process use (the integration tests):
    srv = ImdsServer(user_data=b"#!/bin/sh\\necho hi\\n").start()
    ... srv.url, srv.log (one dict per request), srv.configure(...), srv.stop()
Command line (the benchmark, manual runs):
    imds_server.py --port-file F [--user-data FILE] [--instance-id ID] [--allow-v1] ...
    prints the port (and writes it to F) once it listens.

Behaviour:
  PUT /latest/api/token   X-aws-ec2-metadata-token-ttl-seconds 1..21600, else 400; a dated path
                          (/2021-03-23/api/token) 403; X-Forwarded-For 403; GET 405 (Allow).
  GET/HEAD with X-aws-ec2-metadata-token: unknown or expired token 401; without a token 401
                          when IMDSv2 is required, served when IMDSv1 is allowed.
  /latest/meta-data/instance-id, /latest/meta-data/ (listing), /latest/dynamic/instance-identity/
  document (JSON), /latest/user-data (404 when there is none); anything else 404.
Switches (keyword arguments, configure(), or flags): failures=[{"path": regex, "method": m,
  "status": 503, "retry_after": 1, "headers": {...}, "count": n, "delay": seconds, "drop": bool}],
  down_for=seconds
  (bound but not listening: connections are refused), revoke_tokens_after=n (every token issued
  so far stops working after n authenticated GETs, once), allow_v1.
"""
import argparse
import itertools
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN_PATH = "/latest/api/token"
DATED_TOKEN = re.compile(r"^/\d{4}-\d{2}-\d{2}/api/token$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real service
    # headers and body leave in two writes: with Nagle on, the body waits for the client's delayed
    # ACK (40 ms a reply), which the real service does not do
    disable_nagle_algorithm = True
    server_version = "EC2ws"
    sys_version = ""

    def setup(self):
        super().setup()
        self.conn_id = next(self.server.imds.conn_ids)

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body=b"", headers=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.entry["status"] = status

    def handle_any(self):
        imds = self.server.imds
        self.entry = {
            "t": time.monotonic(),
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "conn": self.conn_id,
            "status": None,
        }
        with imds.lock:
            imds.log.append(self.entry)
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        failure = imds.take_failure(self.command, self.path)
        if failure:
            if failure.get("delay"):
                time.sleep(failure["delay"])
            if failure.get("drop"):
                self.entry["status"] = "dropped"
                self.close_connection = True
                return
            if failure.get("status"):
                h = dict(failure.get("headers") or {})
                if failure.get("retry_after") is not None:
                    h["Retry-After"] = str(failure["retry_after"])
                return self.reply(failure["status"], "", h)
        if self.path == TOKEN_PATH or DATED_TOKEN.match(self.path):
            return self.token()
        return self.metadata()

    def token(self):
        imds = self.server.imds
        if self.command != "PUT":
            return self.reply(405, "", {"Allow": "OPTIONS, PUT"})
        if self.path != TOKEN_PATH or "X-Forwarded-For" in self.headers:
            return self.reply(403, "")
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        if ttl is None or not ttl.strip().isdigit() or not 1 <= int(ttl) <= 21600:
            return self.reply(400, "")
        tok = imds.issue_token(int(ttl))
        self.reply(200, tok, {"X-aws-ec2-metadata-token-ttl-seconds": ttl})

    def metadata(self):
        imds = self.server.imds
        if self.command not in ("GET", "HEAD"):
            return self.reply(405, "", {"Allow": "OPTIONS, GET, HEAD"})
        with imds.lock:
            f = imds.files.get(self.path)
        if f is not None:
            return self.file(f)
        tok = self.headers.get("X-aws-ec2-metadata-token")
        if tok is not None:
            if not imds.use_token(tok):
                return self.reply(401, "")
        elif not imds.allow_v1:
            return self.reply(401, "")
        body = imds.lookup(self.path)
        if body is None:
            return self.reply(404, "")
        self.reply(200, body)

    def file(self, f):
        data, cut = (f["data"], f.get("cut_at")) if isinstance(f, dict) else (f, None)
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.entry["status"] = 200
        if self.command == "HEAD":
            return
        if cut is None:
            self.wfile.write(data)
            return
        self.wfile.write(data[:cut])
        self.wfile.flush()
        self.close_connection = True

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = do_OPTIONS = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # a client that gives up on a slow or oversized reply closes its end: that is the test
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class ImdsServer:
    def __init__(self, **kw):
        self.lock = threading.Lock()
        self.log = []
        self.conn_ids = itertools.count(1)
        self.tokens = {}  # token -> expiry (monotonic)
        self.token_ids = itertools.count(1)
        self.instance_id = "i-0123456789abcdef0"
        self.user_data = None
        self.identity = None
        self.allow_v1 = False
        self.failures = []
        self.down_for = 0
        self.revoke_tokens_after = None
        self.authenticated_gets = 0
        # path -> bytes, served to anyone (no token): kernel downloads for `kernel install --url`;
        # or path -> {"data": bytes, "cut_at": N}: Content-Length of the whole, N bytes, then close
        self.files = {}
        self.configure(**kw)
        self.httpd = None

    def configure(self, **kw):
        with self.lock:
            for k, v in kw.items():
                if not hasattr(self, k) or k in ("lock", "log", "httpd"):
                    raise TypeError(f"unknown switch {k}")
                if k == "failures":
                    v = [dict(f) for f in v]
                setattr(self, k, v)
        return self

    # --- state shared by the handler threads ---
    def take_failure(self, method, path):
        with self.lock:
            for f in self.failures:
                if f.get("count", 1) <= 0:
                    continue
                if f.get("method") and f["method"] != method:
                    continue
                if f.get("path") and not re.search(f["path"], path):
                    continue
                f["count"] = f.get("count", 1) - 1
                return f
        return None

    def issue_token(self, ttl):
        with self.lock:
            tok = "AQAEA%06d-%s" % (next(self.token_ids), "x" * 40)
            self.tokens[tok] = time.monotonic() + ttl
            return tok

    def use_token(self, tok):
        with self.lock:
            exp = self.tokens.get(tok)
            if exp is None or time.monotonic() >= exp:
                return False
            self.authenticated_gets += 1
            if self.revoke_tokens_after is not None and self.authenticated_gets > self.revoke_tokens_after:
                # every token issued so far expires now, once
                self.tokens.clear()
                self.revoke_tokens_after = None
                return False
            return True

    def document(self):
        doc = {
            "accountId": "123456789012", "architecture": "x86_64", "availabilityZone": "eu-west-1a",
            "imageId": "ami-0abcdef1234567890", "instanceId": self.instance_id, "instanceType": "t3.micro",
            "pendingTime": "2024-01-01T00:00:00Z", "privateIp": "10.0.0.12", "region": "eu-west-1",
            "version": "2017-09-30",
        }
        if self.identity:
            doc.update(self.identity)
        return json.dumps(doc, indent=2)

    def lookup(self, path):
        with self.lock:
            if path in ("/latest/meta-data/instance-id",):
                return self.instance_id
            if path in ("/latest/meta-data", "/latest/meta-data/"):
                return "ami-id\ninstance-id\ninstance-type\nlocal-ipv4"
            if path == "/latest/dynamic/instance-identity/document":
                return self.document()
            if path == "/latest/user-data":
                return self.user_data
            if path in ("/latest", "/latest/"):
                return "dynamic\nmeta-data\nuser-data" if self.user_data is not None else "dynamic\nmeta-data"
        return None

    # --- life cycle ---
    def bind(self, port=0):
        self.httpd = Server(("127.0.0.1", port), Handler, bind_and_activate=False)
        self.httpd.imds = self
        self.httpd.server_bind()
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    def start(self, port=0):
        """Binds now; listens now, or after down_for seconds (until then connections are refused)."""
        if self.httpd is None:
            self.bind(port)

        down_for = self.down_for
        if not down_for:
            self.httpd.server_activate()  # listening before start() returns: no refused first try

        def serve():
            if down_for:
                time.sleep(down_for)
                self.httpd.server_activate()
            self.httpd.serve_forever(poll_interval=0.05)

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.httpd:
            try:
                self.httpd.shutdown()
            except Exception:
                pass
            self.httpd.server_close()
            self.httpd = None

    def requests(self, path=None, method=None):
        with self.lock:
            return [e for e in self.log if (path is None or e["path"] == path) and (method is None or e["method"] == method)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--user-data", help="file served as /latest/user-data (none: 404)")
    ap.add_argument("--instance-id", default="i-0123456789abcdef0")
    ap.add_argument("--allow-v1", action="store_true")
    ap.add_argument("--down-for", type=float, default=0)
    ap.add_argument("--fail", action="append", default=[], metavar="JSON",
                    help='a failure switch, e.g. {"path": "user-data", "status": 503, "retry_after": 1, "count": 2}')
    ap.add_argument("--log-file", help="write the request log (JSON lines) here on exit (SIGTERM/SIGINT)")
    a = ap.parse_args()
    ud = open(a.user_data, "rb").read() if a.user_data else None
    srv = ImdsServer(user_data=ud, instance_id=a.instance_id, allow_v1=a.allow_v1, down_for=a.down_for,
                     failures=[json.loads(f) for f in a.fail]).bind(a.port)
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write(str(srv.port))
        import os
        os.rename(a.port_file + ".tmp", a.port_file)
    print(srv.port, flush=True)
    import signal

    def finish(*_):
        if a.log_file:
            with open(a.log_file, "w") as f:
                for e in srv.requests():
                    f.write(json.dumps(e) + "\n")
        sys.exit(0)

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    srv.start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()

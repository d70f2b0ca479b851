"""A tiny metadata server on 127.0.0.1 that guests reach as 169.254.169.254.

Start it, boot with net=server.guestfwd(), and look at server.requests
afterwards. It serves a dict of path -> text; anything else is 404."""

import http.server
import pathlib
import sys
import threading

RELAY = pathlib.Path(__file__).resolve().parent / "guestfwd-relay.py"


class MetadataServer:
    def __init__(self, files):
        self.files = dict(files)
        self.requests = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                owner.requests.append(("GET", self.path))
                body = owner.files.get(self.path)
                self.send_response(200 if body is not None else 404)
                data = (body or "").encode()
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def guestfwd(self):
        """The `-netdev user,guestfwd=...-<this>` target for qemu.boot(net=...)."""
        port = self.httpd.server_address[1]
        if "," in str(RELAY):
            raise RuntimeError(f"QEMU option syntax cannot carry a comma: {RELAY}")
        return f"cmd:{sys.executable} {RELAY} 127.0.0.1 {port}"

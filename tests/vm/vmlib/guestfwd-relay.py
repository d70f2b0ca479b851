#!/usr/bin/env python3
"""QEMU guestfwd `cmd:` helper: QEMU runs it once per guest connection to
169.254.169.254:80 with the connection on stdin/stdout; it relays the bytes to
a test server on the host (argv: HOST PORT). A chardev `tcp:` target would
carry only one connection per QEMU run."""

import os
import selectors
import socket
import sys

sock = socket.create_connection((sys.argv[1], int(sys.argv[2])))
sel = selectors.DefaultSelector()
sel.register(0, selectors.EVENT_READ, "guest")
sel.register(sock, selectors.EVENT_READ, "server")
open_ends = 2
while open_ends:
    for key, _ in sel.select():
        if key.data == "guest":
            data = os.read(0, 65536)
            if not data:
                sel.unregister(0)
                sock.shutdown(socket.SHUT_WR)
                open_ends -= 1
            else:
                sock.sendall(data)
        else:
            data = sock.recv(65536)
            if not data:
                sel.unregister(sock)
                open_ends -= 1
                # the server is done: end the guest connection too
                os.close(1)
                sys.exit(0)
            os.write(1, data)

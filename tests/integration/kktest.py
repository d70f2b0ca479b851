# SPDX-License-Identifier: GPL-2.0-or-later
"""Shared helpers for the integration tests: temporary --root trees, running the built binary,
and a unittest runner that prints TAP for meson."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

BINARY = os.environ.get("KK_BINARY", "kernelkeeper")
CORPUS = os.environ.get("KK_CORPUS", "")
DATA = os.environ.get("KK_DATA", "")


class Tree:
    """A throw-away root: /boot/grub, /etc and /var/lib under a temp dir."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="kk-root-")
        os.makedirs(self.path("/boot/grub"))
        os.makedirs(self.path("/etc"))

    def path(self, p):
        return os.path.join(self.root, p.lstrip("/"))

    def write(self, p, data, mode=None):
        full = self.path(p)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        if mode is not None:
            os.chmod(full, mode)
        return full

    def read(self, p):
        with open(self.path(p), "rb") as f:
            return f.read()

    def menu(self, data):
        return self.write("/boot/grub/menu.lst", data)

    def kernels(self, *paths):
        for p in paths:
            self.write(p, b"\x7fkernel image " + p.encode())

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)


def run(tree, *args, check=None, env=None):
    """Runs kernelkeeper --root TREE ARGS; returns CompletedProcess with text output."""
    cmd = [BINARY]
    if tree is not None:
        cmd += ["--root", tree.root if isinstance(tree, Tree) else tree]
    cmd += list(args)
    e = dict(os.environ)
    e.pop("JOURNAL_STREAM", None)
    e.pop("INVOCATION_ID", None)
    if env:
        e.update(env)
    p = subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=60)
    if check is not None and p.returncode != check:
        raise AssertionError(f"{cmd} exited {p.returncode}, expected {check}\nstdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def show(tree, *extra):
    p = run(tree, "menu", "show", "--json", *extra, check=0)
    return json.loads(p.stdout)


class TapResult(unittest.TextTestResult):
    pass


def main():
    """Runs the calling module's tests and prints TAP (one line per test)."""
    loader = unittest.TestLoader()
    suite = loader.loadTestsFromModule(sys.modules["__main__"])
    tests = list(_flatten(suite))
    print(f"1..{len(tests)}", flush=True)
    failed = 0
    for i, t in enumerate(tests, 1):
        r = unittest.TestResult()
        t.run(r)
        name = t.id().split(".", 1)[-1]
        if r.skipped:
            print(f"ok {i} - {name} # SKIP {r.skipped[0][1]}", flush=True)
        elif r.wasSuccessful():
            print(f"ok {i} - {name}", flush=True)
        else:
            failed += 1
            print(f"not ok {i} - {name}", flush=True)
            for _, tb in r.errors + r.failures:
                for line in tb.rstrip().splitlines():
                    print(f"#   {line}", flush=True)
    sys.exit(1 if failed else 0)


def _flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _flatten(t)
        else:
            yield t

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Two real Debian kernel module trees for the `module check` tests and benchmark.

The same packages the VM harness boots (tests/vm/vmlib/cache.py: `apt-get download` of the two
linux-image releases bookworm and bookworm-security offer, `dpkg -x` into
~/.cache/kernelkeeper-vm, nothing installed on the host). Prints one line per release, older
first: RELEASE<TAB>DIRECTORY (DIRECTORY/lib/modules/RELEASE holds its modules and modules.dep).
Exits non-zero with one line on stderr when the packages cannot be had."""
import os
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "vm"))

from vmlib import cache  # noqa: E402


def trees():
    """[(release, tree)] for the two kernel releases, older first."""
    out = []
    for package in cache.kernel_packages():
        tree = cache.unpacked(package)
        release = package[len("linux-image-"):]
        moddir = tree / "lib" / "modules" / release
        if not moddir.is_dir():
            raise RuntimeError(f"{package} has no lib/modules/{release}")
        if not (moddir / "modules.dep").exists():
            subprocess.run(["depmod", "-b", str(tree), release], check=True)
        out.append((release, tree))
    return out


def main():
    try:
        for release, tree in trees():
            print(f"{release}\t{tree}")
    except Exception as e:  # one line, the caller decides whether that fails a test
        print(f"tests/modules/fixture.py: cannot get the Debian kernel module trees: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

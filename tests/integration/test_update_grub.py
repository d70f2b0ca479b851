#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Debian's REAL update-grub (grub-legacy 0.97) rewriting menu.lst after a kernel install, with the
daemon running and with the kernel hooks: the pin holds, the new entry stays, one restore per
foreign rewrite. The unmodified script runs in a private mount namespace with the tree's boot
directory bind-mounted on /boot; grub-legacy and grub-common are downloaded once with
`apt-get download` into ${XDG_CACHE_HOME:-~/.cache}/kernelkeeper-test and unpacked with dpkg -x."""
import atexit
import fcntl
import glob
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import kktest
from kktest import Tree, run, show
from test_guardian import Daemon, restores, wait_until

CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kernelkeeper-test")
SOURCE = os.environ.get("KK_SOURCE_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HOOKS = os.path.join(SOURCE, "hooks")


def unpacked(pkg):
    """The package's files unpacked under the cache (downloaded on first use), or SkipTest."""
    os.makedirs(CACHE, exist_ok=True)
    dest = os.path.join(CACHE, "unpacked-" + pkg)
    with open(os.path.join(CACHE, ".lock"), "w") as lock:
        # the suites run in parallel: one download and unpack at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(dest, ".done")):
            return dest
        debs = sorted(glob.glob(os.path.join(CACHE, f"{pkg}_*.deb")))
        if not debs:
            p = subprocess.run(["apt-get", "download", pkg], cwd=CACHE, capture_output=True, text=True)
            debs = sorted(glob.glob(os.path.join(CACHE, f"{pkg}_*.deb")))
            if not debs:
                raise unittest.SkipTest(f"apt-get download {pkg} failed: {p.stderr.strip()[-300:]}")
        shutil.rmtree(dest, ignore_errors=True)
        subprocess.run(["dpkg", "-x", debs[-1], dest], check=True)
        open(os.path.join(dest, ".done"), "w").close()
        return dest


class Tools:
    """PATH and device map that let the unmodified update-grub run against a tree."""

    def __init__(self):
        if os.geteuid() != 0 or not shutil.which("unshare") or not os.path.isdir("/boot"):
            raise unittest.SkipTest("needs root, unshare and a /boot directory to bind-mount over")
        self.legacy = unpacked("grub-legacy")
        self.common = unpacked("grub-common")
        self.fake = tempfile.mkdtemp(prefix="kk-fakebin-")
        path = [os.path.join(self.legacy, "usr/sbin"), os.path.join(self.common, "usr/sbin"),
                os.path.join(self.common, "usr/bin")]
        self.device_map = self.real_device_map(path)
        if not self.device_map:
            # the host's / is on something grub-probe cannot map (overlayfs in a container): answer
            # for it the way it would for /dev/xvda1, so the script itself still runs unmodified
            self.write_fake_grub_probe()
            path.insert(0, self.fake)
            self.device_map = "(hd0)\t/dev/xvda\n"
        self.path = ":".join(path + [os.path.dirname(kktest.BINARY), "/usr/sbin:/usr/bin:/sbin:/bin"])

    def real_device_map(self, path):
        probe = shutil.which("grub-probe", path=":".join(path))
        p = subprocess.run([probe, "-t", "device", "/"], capture_output=True, text=True)
        dev = p.stdout.strip()
        if p.returncode != 0 or not dev.startswith("/dev/"):
            return None
        disk = dev
        m = re.match(r"^(/dev/(?:nvme\d+n\d+|mmcblk\d+))p\d+$", dev) or re.match(r"^(/dev/[a-z]+)\d+$", dev)
        if m and os.path.exists(m.group(1)):
            disk = m.group(1)
        return f"(hd0)\t{disk}\n"

    def write_fake_grub_probe(self):
        script = """#!/bin/sh
# stand-in for grub-probe on hosts whose / it cannot map
target=; for a in "$@"; do case "$a" in --target=*) target=${a#--target=};; esac; done
while [ $# -gt 0 ]; do case "$1" in -t) target=$2; shift;; esac; shift; done
case "$target" in
  device) echo /dev/xvda1;;
  drive) echo "(hd0,0)";;
  abstraction) echo;;
  *) exit 1;;
esac
"""
        p = os.path.join(self.fake, "grub-probe")
        with open(p, "w") as f:
            f.write(script)
        os.chmod(p, 0o755)

    def cleanup(self):
        shutil.rmtree(self.fake, ignore_errors=True)

    def run_in_boot(self, tree, argv, env=None):
        """Runs argv with the tree's /boot bind-mounted on /boot in a private mount namespace."""
        e = {"PATH": self.path, "LC_ALL": "C", "HOME": "/root", "TMPDIR": "/tmp"}
        if env:
            e.update(env)
        cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c",
               'mount --bind "$1" /boot && shift && exec "$@"', "sh", tree.path("/boot"), *argv]
        p = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise AssertionError(f"{argv} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p

    def update_grub(self, tree):
        return self.run_in_boot(tree, ["update-grub"])

    def initial_menu(self, tree):
        if not getattr(self, "_initial", None):
            self.update_grub(tree)
            self._initial = tree.read("/boot/grub/menu.lst")
        return self._initial


def add_kernel(tree, release):
    tree.write(f"/boot/vmlinuz-{release}", b"\x7fkernel " + release.encode())
    tree.write(f"/boot/initrd.img-{release}", b"initrd " + release.encode())


def remove_kernel(tree, release):
    for f in ("vmlinuz", "initrd.img"):
        os.unlink(tree.path(f"/boot/{f}-{release}"))


def default_release(tree):
    s = show(tree)
    kernel = s["entries"][s["default"]]["kernel"]
    return kernel.rsplit("vmlinuz-", 1)[-1]


def titles(tree):
    return [e["title"] for e in show(tree)["entries"]]


_tools = None


def tools():
    """One Tools for the whole run (kktest runs each test on its own, without setUpClass)."""
    global _tools
    if _tools is None:
        _tools = Tools()
        atexit.register(_tools.cleanup)
    return _tools


class UpdateGrub(unittest.TestCase):
    def setUp(self):
        self.tools = tools()
        self.t = Tree()
        self.addCleanup(self.t.cleanup)  # also when setUp itself fails
        self.daemon = None
        self.t.write("/boot/grub/device.map", self.tools.device_map)
        for r in ("6.1.0-25-amd64", "6.1.0-26-amd64"):
            add_kernel(self.t, r)
        # update-grub creates the menu itself (newest first, each with a recovery entry); the result
        # is the same for every tree, so it is made once
        self.t.menu(self.tools.initial_menu(self.t))
        self.assertEqual(len(titles(self.t)), 4)
        run(self.t, "pin", "--default", "release=6.1.0-25-amd64", "--fallback", "release=6.1.0-26-amd64", check=0)
        self.assertEqual(default_release(self.t), "6.1.0-25-amd64")
        self.assertEqual(restores(self.t), 0)

    def tearDown(self):
        if self.daemon:
            self.assertEqual(self.daemon.stop(), 0)

    def settle(self, n):
        wait_until(lambda: restores(self.t) >= n, 5, f"{n} restores")
        time.sleep(0.5)
        self.assertEqual(restores(self.t), n, self.daemon.log_tail() if self.daemon else "")

    def test_daemon_keeps_pin_across_kernel_install(self):
        self.daemon = Daemon(self.t)
        menu = self.t.path("/boot/grub/menu.lst")
        ino = os.stat(menu).st_ino

        add_kernel(self.t, "6.1.0-27-amd64")
        out = self.tools.update_grub(self.t)
        self.assertIn("Found kernel: /boot/vmlinuz-6.1.0-27-amd64", out.stderr)
        self.settle(1)
        self.assertEqual(default_release(self.t), "6.1.0-25-amd64")
        s = show(self.t)
        self.assertEqual(s["entries"][s["fallback"][0]]["kernel"], "/boot/vmlinuz-6.1.0-26-amd64")
        self.assertIn("Debian GNU/Linux, kernel 6.1.0-27-amd64", titles(self.t))
        self.assertEqual(len(titles(self.t)), 6)
        # update-grub wrote in place (menu.lst~ beside it); the restore replaced the file atomically
        self.assertTrue(os.path.exists(menu + "~"))
        self.assertNotEqual(os.stat(menu).st_ino, ino)

        # a run that changes nothing GRUB would boot does not trigger a restore
        self.tools.update_grub(self.t)
        time.sleep(0.5)
        self.assertEqual(restores(self.t), 1)

    def test_daemon_kernel_removal_out_of_range_default(self):
        """After a removal the written `default 4` is out of range and GRUB already boots entry 2
        through the first fallback: the restore must rewrite the default line too, not only the
        fallback (GRUB would then take fallback 0 as the default)."""
        add_kernel(self.t, "6.1.0-27-amd64")
        self.tools.update_grub(self.t)
        run(self.t, "pin", "--reapply", check=0)
        self.assertEqual(restores(self.t), 1)
        self.daemon = Daemon(self.t)
        remove_kernel(self.t, "6.1.0-27-amd64")
        self.tools.update_grub(self.t)
        self.settle(2)
        self.assertEqual(default_release(self.t), "6.1.0-25-amd64")
        self.assertNotIn("Debian GNU/Linux, kernel 6.1.0-27-amd64", titles(self.t))

    def run_hooks(self, kind, release):
        """run-parts over grub-legacy's zz-update-grub and our hook, as the kernel package does."""
        d = tempfile.mkdtemp(prefix="kk-hooks-")
        try:
            hookdir = os.path.join(d, kind)
            os.mkdir(hookdir)
            shutil.copy(os.path.join(self.tools.legacy, f"etc/kernel/{kind}/zz-update-grub"), hookdir)
            shutil.copy(os.path.join(HOOKS, f"kernel/{kind}/zzz-kernelkeeper"), hookdir)
            order = subprocess.run(["run-parts", "--test", hookdir], capture_output=True, text=True).stdout.split()
            self.assertEqual([os.path.basename(x) for x in order], ["zz-update-grub", "zzz-kernelkeeper"])
            return self.tools.run_in_boot(self.t, ["run-parts", "--arg", release, "--arg", f"/boot/vmlinuz-{release}",
                                                   hookdir], env={"KERNELKEEPER_ROOT": self.t.root})
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_hooks_without_daemon(self):
        add_kernel(self.t, "6.1.0-27-amd64")
        out = self.run_hooks("postinst.d", "6.1.0-27-amd64")
        self.assertIn("Pin restored", out.stderr)
        self.assertEqual(restores(self.t), 1)
        self.assertEqual(default_release(self.t), "6.1.0-25-amd64")
        self.assertIn("Debian GNU/Linux, kernel 6.1.0-27-amd64", titles(self.t))
        # postrm.d on removing an older kernel: the pinned entry moves up, the hook follows it
        remove_kernel(self.t, "6.1.0-26-amd64")
        run(self.t, "pin", "--default", "release=6.1.0-25-amd64", "--no-fallback", check=0)
        self.run_hooks("postrm.d", "6.1.0-26-amd64")
        self.assertEqual(restores(self.t), 2)
        self.assertEqual(default_release(self.t), "6.1.0-25-amd64")

    def test_hooks_and_daemon_restore_once(self):
        self.daemon = Daemon(self.t)
        add_kernel(self.t, "6.1.0-27-amd64")
        self.run_hooks("postinst.d", "6.1.0-27-amd64")
        self.settle(1)
        self.assertEqual(default_release(self.t), "6.1.0-25-amd64")

    def test_hooks_are_quiet_without_pin_or_binary(self):
        run(self.t, "unpin", check=0)
        add_kernel(self.t, "6.1.0-27-amd64")
        out = self.run_hooks("postinst.d", "6.1.0-27-amd64")
        self.assertNotIn("kernelkeeper", out.stderr)
        hook = os.path.join(HOOKS, "kernel/postinst.d/zzz-kernelkeeper")
        p = subprocess.run([hook], env={"PATH": "/nonexistent"}, capture_output=True, text=True)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, "", ""))
        plugin = os.path.join(HOOKS, "kernel-install/90-kernelkeeper.install")
        p = subprocess.run([plugin, "add", "6.1.0-27-amd64", "/nonexistent", "/boot/vmlinuz-6.1.0-27-amd64"],
                           env={"PATH": "/nonexistent"}, capture_output=True, text=True)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, "", ""))

    def test_kernel_install_plugin(self):
        add_kernel(self.t, "6.1.0-27-amd64")
        self.tools.update_grub(self.t)
        self.assertNotEqual(default_release(self.t), "6.1.0-25-amd64")
        plugin = os.path.join(HOOKS, "kernel-install/90-kernelkeeper.install")
        env = {"PATH": os.path.dirname(kktest.BINARY) + ":/usr/bin:/bin", "KERNELKEEPER_ROOT": self.t.root}
        p = subprocess.run([plugin, "add", "6.1.0-27-amd64", "/nonexistent", "/boot/vmlinuz-6.1.0-27-amd64"],
                           env=env, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(default_release(self.t), "6.1.0-25-amd64")
        self.assertEqual(restores(self.t), 1)


if __name__ == "__main__":
    kktest.main()

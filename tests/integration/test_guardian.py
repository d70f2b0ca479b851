#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""`kernelkeeper daemon`: the pin survives every way tools rewrite menu.lst, exactly one restore per
foreign rewrite, no fight with a writer that never stops, and the service protocol (sd_notify,
signals, status). The daemon runs on a temporary --root tree; restores are counted in state.json."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import kktest
from kktest import Tree, run, show

MENU = """default 0
timeout 5

title Debian GNU/Linux, kernel 6.1.0-27-amd64
root (hd0,0)
kernel /boot/vmlinuz-6.1.0-27-amd64 root=/dev/xvda1 ro
initrd /boot/initrd.img-6.1.0-27-amd64

title Debian GNU/Linux, kernel 6.1.0-26-amd64
root (hd0,0)
kernel /boot/vmlinuz-6.1.0-26-amd64 root=/dev/xvda1 ro
initrd /boot/initrd.img-6.1.0-26-amd64

title Debian GNU/Linux, kernel 6.1.0-25-amd64
root (hd0,0)
kernel /boot/vmlinuz-6.1.0-25-amd64 root=/dev/xvda1 ro
initrd /boot/initrd.img-6.1.0-25-amd64
"""
KERNELS = [f"/boot/{f}-6.1.0-{n}-amd64" for n in (25, 26, 27) for f in ("vmlinuz", "initrd.img")]


def wait_until(cond, timeout=5.0, what="condition"):
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def restores(tree):
    try:
        with open(tree.path("/var/lib/kernelkeeper/state.json")) as f:
            return json.load(f).get("restores", 0)
    except FileNotFoundError:
        return 0


def default_kernel(tree):
    s = show(tree)
    return s["entries"][s["default"]]["kernel"] if s["default"] >= 0 else None


class Daemon:
    """`kernelkeeper --root TREE daemon` with a private NOTIFY_SOCKET, so the test sees READY=1,
    STATUS= and WATCHDOG=1 exactly as systemd would."""

    def __init__(self, tree, env=None, prefix=()):
        self.tree = tree
        self.dir = tempfile.mkdtemp(prefix="kk-daemon-")
        self.sock_path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sock_path)
        self.sock.settimeout(0.05)
        self.messages = []
        self.lock = threading.Lock()
        self.closing = False
        e = dict(os.environ)
        for k in ("JOURNAL_STREAM", "INVOCATION_ID", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS"):
            e.pop(k, None)
        e["NOTIFY_SOCKET"] = self.sock_path
        e["KERNELKEEPER_LOG_LEVEL"] = "debug"
        if env:
            e.update(env)
        self.log_path = os.path.join(self.dir, "stderr")
        self.log_file = open(self.log_path, "w")
        root = tree.root if isinstance(tree, Tree) else tree
        self.proc = subprocess.Popen([*prefix, kktest.BINARY, "--root", root, "daemon"], env=e,
                                     stdout=self.log_file, stderr=subprocess.STDOUT)
        # read notifications all the time, as systemd does: net.unix.max_dgram_qlen unread datagrams
        # (10 by default) would make the daemon's sd_notify() block
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        try:
            self.wait_message("READY=1")
        except BaseException:
            self.stop()
            raise

    def _read(self):
        while not self.closing:
            try:
                data = self.sock.recv(4096)
            except (socket.timeout, BlockingIOError):
                continue
            except OSError:
                return
            with self.lock:
                self.messages.extend(data.decode().splitlines())

    def wait_message(self, want, timeout=10.0, start=0):
        def seen():
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.log_tail()}")
            with self.lock:
                return any(m.startswith(want) for m in self.messages[start:])
        wait_until(seen, timeout, want)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def log_tail(self):
        """The end of the log without the per-event debug lines, for failure messages."""
        return "\n".join(l for l in self.log().splitlines() if "inotify: wd" not in l)[-3000:]

    def stop(self):
        rc = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        else:
            rc = self.proc.returncode
        self.closing = True
        self.reader.join()
        self.sock.close()
        self.log_file.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc


def rename_over(path, data, tmp_suffix="-"):
    """grubby's way: write NAME- (or any temp) and rename() it over NAME."""
    tmp = path + tmp_suffix
    with open(tmp, "w") as f:
        f.write(data)
    os.rename(tmp, path)


def in_place(path, data):
    """update-grub's way: `cat new > menu.lst` (same inode)."""
    with open(path, "r+" if os.path.exists(path) else "w") as f:
        f.truncate(0)
        f.write(data)


class GuardianBase(unittest.TestCase):
    pin = ("--default", "release=6.1.0-25-amd64", "--fallback", "release=6.1.0-26-amd64")

    def setUp(self):
        self.t = Tree()
        self.addCleanup(self.t.cleanup)  # also when setUp itself fails
        self.t.kernels(*KERNELS)
        self.t.menu(MENU)
        self.menu = self.t.path("/boot/grub/menu.lst")
        self.daemon = None

    def tearDown(self):
        if self.daemon:
            rc = self.daemon.stop()
            if rc not in (0, None):
                raise AssertionError(f"daemon exited {rc}")

    def start(self, **kw):
        self.daemon = Daemon(self.t, **kw)
        return self.daemon

    def pinned(self):
        s = show(self.t)
        return s["default"] >= 0 and s["entries"][s["default"]]["kernel"] == "/boot/vmlinuz-6.1.0-25-amd64"

    def wait_restores(self, n, timeout=5.0):
        wait_until(lambda: restores(self.t) >= n, timeout, f"{n} restores")
        # one restore per foreign rewrite: nothing more may follow once it settled
        time.sleep(0.4)
        self.assertEqual(restores(self.t), n, self.daemon.log_tail() if self.daemon else "")
        self.assertTrue(self.pinned(), self.t.read("/boot/grub/menu.lst").decode())


class Rewrites(GuardianBase):
    def setUp(self):
        super().setUp()
        run(self.t, "pin", *self.pin, check=0)
        self.assertTrue(self.pinned())
        self.pinned_text = self.t.read("/boot/grub/menu.lst").decode()
        self.start()

    def drifted(self, extra=""):
        return self.pinned_text.replace("default\t\t2", "default 0").replace("default 2", "default 0") + extra

    def test_rename_over(self):
        rename_over(self.menu, self.drifted())
        self.wait_restores(1)
        rename_over(self.menu, self.drifted(), ".tmp")
        self.wait_restores(2)

    def test_in_place_cat(self):
        in_place(self.menu, self.drifted("# in place\n"))
        self.wait_restores(1)
        self.assertIn(b"# in place", self.t.read("/boot/grub/menu.lst"))

    def test_waits_for_another_writer(self):
        """A CLI writer holds the writers' lock: the daemon leaves the menu alone and checks again."""
        import fcntl
        fd = os.open(self.t.path("/boot/grub"), os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            rename_over(self.menu, self.drifted())
            wait_until(lambda: "another kernelkeeper process is writing" in self.daemon.log(), 5, "deferred check")
            self.assertEqual(restores(self.t), 0)
            self.assertFalse(self.pinned())
        finally:
            os.close(fd)
        self.wait_restores(1)

    def test_sed_i(self):
        subprocess.run(["sed", "-i", "s/^default.*/default 1/", self.menu], check=True)
        self.wait_restores(1)

    def test_backup_then_rename(self):
        # menu.lst~ / menu.lst- written first, then renamed: only the rename counts
        shutil.copy(self.menu, self.menu + "~")
        rename_over(self.menu, self.drifted())
        self.wait_restores(1)

    def test_own_write_is_not_a_rewrite(self):
        # a restore (the daemon's own rename, .kk-XXXXXX temp and .kk-prev link) triggers nothing more
        rename_over(self.menu, self.drifted())
        self.wait_restores(1)
        time.sleep(0.5)
        self.assertEqual(restores(self.t), 1)
        self.assertNotIn("Checking the pin (change)\nkernelkeeper: Checking the pin (change)", self.daemon.log())

    def test_status_shows_running_daemon(self):
        st = json.loads(run(self.t, "status", "--json", check=0).stdout)
        self.assertTrue(st["daemon"]["running"])
        self.assertEqual(st["daemon"]["pid"], self.daemon.proc.pid)
        self.assertIn("daemon:       running", run(self.t, "status", check=0).stdout)
        self.assertEqual(self.daemon.stop(), 0)
        self.daemon = None
        st = json.loads(run(self.t, "status", "--json", check=0).stdout)
        self.assertFalse(st["daemon"]["running"])
        self.assertFalse(os.path.exists(self.t.path("/run/kernelkeeper/daemon.json")))

    def test_pinned_kernel_missing(self):
        os.unlink(self.t.path("/boot/vmlinuz-6.1.0-25-amd64"))
        drifted = self.drifted()
        rename_over(self.menu, drifted)
        wait_until(lambda: "Pinned entry cannot boot" in self.daemon.log(), 5, "the missing-kernel event")
        time.sleep(0.3)
        self.assertEqual(restores(self.t), 0)
        self.assertEqual(self.t.read("/boot/grub/menu.lst").decode(), drifted)
        self.assertIsNone(self.daemon.proc.poll())


class Grubby(GuardianBase):
    def test_grubby_pair_replayed(self):
        """Corpus 25 -> 26 is grubby adding a kernel: written as menu.lst- and renamed over."""
        before = open(os.path.join(kktest.CORPUS, "25-rhboot-grubby-grub5-fallback-equals.lst")).read()
        after = open(os.path.join(kktest.CORPUS, "26-rhboot-grubby-g5.3-after-add-kernel.lst")).read()
        self.t.kernels("/boot/vmlinuz-2.4.7-2.5", "/boot/vmlinuz-2.4.7-ac3", "/boot/initrd-2.4.7-2.5.img",
                       "/boot/initrd-2.4.7-ac3.img", "/boot/new-kernel")
        self.t.menu(before)
        run(self.t, "pin", "--default", "kernel=/boot/vmlinuz-2.4.7-ac3", "--fallback", "title=dos", check=0)
        self.assertEqual(show(self.t)["default"], 1)
        self.start()
        rename_over(self.menu, after)
        wait_until(lambda: restores(self.t) >= 1, 5, "a restore")
        time.sleep(0.4)
        self.assertEqual(restores(self.t), 1)
        s = show(self.t)
        self.assertEqual(s["entries"][s["default"]]["kernel"], "/boot/vmlinuz-2.4.7-ac3")
        self.assertEqual(s["fallback"], [2])
        self.assertEqual(s["entries"][0]["title"], "Some_Title")  # grubby's new entry is kept
        # only the default/fallback lines differ from what grubby wrote
        got = self.t.read("/boot/grub/menu.lst").decode().splitlines()
        want = after.splitlines()
        diff = [(a, b) for a, b in zip(want, got) if a != b]
        self.assertEqual(len(got), len(want))
        self.assertEqual(sorted(a.split("=")[0] for a, _ in diff), ["default", "fallback"], diff)


class Storm(GuardianBase):
    def setUp(self):
        super().setUp()
        self.t.write("/etc/kernelkeeper.conf", "[Guardian]\nStormCount=5\nStormWindowSec=60\nStormMaxBackoffSec=1\n")
        run(self.t, "pin", *self.pin, check=0)
        self.pinned_text = self.t.read("/boot/grub/menu.lst").decode()
        self.start()

    def test_1000_distinct_rewrites(self):
        """A tight loop of rewrites: the last one is never lost and the daemon does not loop."""
        base = self.pinned_text.replace("default\t\t2", "default 0").replace("default 2", "default 0")
        for i in range(1000):
            rename_over(self.menu, base + f"# rewrite {i}\n")
        wait_until(self.pinned, 5, "the pin to hold again")
        time.sleep(0.5)
        text = self.t.read("/boot/grub/menu.lst").decode()
        self.assertIn("# rewrite 999\n", text)
        n = restores(self.t)
        self.assertGreaterEqual(n, 1)
        self.assertLess(n, 200, "the daemon wrote more often than the debounce allows")
        time.sleep(0.5)
        self.assertEqual(restores(self.t), n, "restores continued after the rewrites stopped")

    def test_same_rewrite_storm_backs_off(self):
        """A writer that keeps putting the same menu back (update-grub content) is not fought at full speed."""
        drifted = (self.pinned_text.replace("default\t\t2", "default 0").replace("default 2", "default 0")
                   + "### BEGIN AUTOMAGIC KERNELS LIST\n### END DEBIAN AUTOMAGIC KERNELS LIST\n")
        # the writer puts its menu back 50 ms after each of ours: a fight, not a burst to debounce
        start = time.monotonic()
        writes = 0
        while time.monotonic() - start < 2.5:
            rename_over(self.menu, drifted)
            writes += 1
            time.sleep(0.05)
        self.assertIn("update-grub keeps rewriting", self.daemon.log(), self.daemon.log_tail())
        n = restores(self.t)
        # without back-off the daemon would restore about every debounce (20 ms): > 100 times here
        self.assertLess(n, 15, f"{n} restores for {writes} rewrites")
        # the back-off never leaves the menu unpinned for longer than StormMaxBackoffSec
        wait_until(self.pinned, 2.5, "the restore after the back-off")


class Layout(GuardianBase):
    def test_rhel_symlink(self):
        """RHEL: menu.lst -> grub.conf, grubby rewrites grub.conf (grub.conf- then rename)."""
        os.rename(self.menu, self.t.path("/boot/grub/grub.conf"))
        os.symlink("grub.conf", self.menu)
        run(self.t, "pin", *self.pin, check=0)
        conf = self.t.path("/boot/grub/grub.conf")
        text = open(conf).read()
        self.start()
        rename_over(conf, text.replace("default 2", "default 0"))
        self.wait_restores(1)
        self.assertTrue(os.path.islink(self.menu))

    def test_directory_deleted_and_recreated(self):
        run(self.t, "pin", *self.pin, check=0)
        text = self.t.read("/boot/grub/menu.lst").decode()
        self.start()
        shutil.rmtree(self.t.path("/boot/grub"))
        time.sleep(0.2)
        os.mkdir(self.t.path("/boot/grub"))
        rename_over(self.menu, text.replace("default 2", "default 0"))
        self.wait_restores(1)
        shutil.rmtree(self.t.path("/boot"))
        time.sleep(0.2)
        self.t.kernels(*KERNELS)
        self.t.menu(text.replace("default 2", "default 1"))
        self.wait_restores(2)

    def test_menu_appears_later(self):
        run(self.t, "pin", *self.pin, check=0)
        text = self.t.read("/boot/grub/menu.lst").decode()
        shutil.rmtree(self.t.path("/boot"))
        self.start()
        self.daemon.wait_message("STATUS=Waiting for /boot/grub/menu.lst")
        self.t.kernels(*KERNELS)
        self.t.menu(text.replace("default 2", "default 0"))
        self.wait_restores(1)

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("nsenter") and shutil.which("unshare"),
                         "needs root, unshare and nsenter")
    def test_boot_mounted_after_start(self):
        """/boot mounted over the watched directory after the daemon started (a late fstab mount)."""
        run(self.t, "pin", *self.pin, check=0)
        text = self.t.read("/boot/grub/menu.lst").decode()
        self.daemon = Daemon(self.t, prefix=("unshare", "-m", "--propagation", "private"))
        pid = str(self.daemon.proc.pid)
        boot = self.t.path("/boot")
        # /boot is its own partition now: GRUB paths are relative to it
        drifted = (text.replace("default 2", "default 0").replace("/boot/vmlinuz", "/vmlinuz")
                   .replace("/boot/initrd", "/initrd"))
        script = ("set -e; mount -t tmpfs kk-boot \"$1\"; mkdir -p \"$1/grub\";"
                  "for k in vmlinuz initrd.img; do for n in 25 26 27; do echo k > \"$1/$k-6.1.0-$n-amd64\"; done; done;"
                  "cat > \"$1/grub/menu.lst\"")
        subprocess.run(["nsenter", "-t", pid, "-m", "sh", "-c", script, "sh", boot], input=drifted.encode(), check=True)
        wait_until(lambda: restores(self.t) >= 1, 5, "the restore on the new /boot")
        got = subprocess.run(["nsenter", "-t", pid, "-m", "cat", boot + "/grub/menu.lst"], capture_output=True,
                             check=True).stdout.decode()
        self.assertIn("default 2", got)
        # the tree outside the namespace was not touched
        self.assertEqual(self.t.read("/boot/grub/menu.lst").decode(), text)

    def test_queue_overflow(self):
        """IN_Q_OVERFLOW: events were dropped, so the daemon must look at the menu again."""
        limit = int(open("/proc/sys/fs/inotify/max_queued_events").read())
        if limit > 200000:
            self.skipTest(f"max_queued_events is {limit}: too many files to create")
        run(self.t, "pin", *self.pin, check=0)
        text = self.t.read("/boot/grub/menu.lst").decode()
        self.start()
        self.daemon.proc.send_signal(signal.SIGSTOP)
        try:
            d = self.t.path("/boot/grub")
            for i in range(limit // 2 + 16):
                p = os.path.join(d, f"flood{i}")
                open(p, "w").close()
                os.unlink(p)
            # the rewrite's own events are dropped: only the overflow tells the daemon
            rename_over(self.menu, text.replace("default 2", "default 0"))
        finally:
            self.daemon.proc.send_signal(signal.SIGCONT)
        self.wait_restores(1, timeout=10)
        self.assertIn("inotify queue overflowed", self.daemon.log())


class Service(GuardianBase):
    def test_start_restores_and_notifies(self):
        run(self.t, "pin", *self.pin, check=0)
        in_place(self.menu, self.t.read("/boot/grub/menu.lst").decode().replace("default 2", "default 0"))
        d = self.start(env={"WATCHDOG_USEC": "100000"})
        # the check at start happens before READY=1
        self.assertEqual(restores(self.t), 1)
        self.assertTrue(any(m.startswith("STATUS=Pin holds") for m in d.messages), d.messages)
        d.wait_message("WATCHDOG=1", timeout=2)

    def test_no_pin_idles(self):
        d = self.start()
        self.assertTrue(any(m.startswith("STATUS=No pin recorded") for m in d.messages), d.messages)
        before = self.t.read("/boot/grub/menu.lst")
        in_place(self.menu, MENU.replace("default 0", "default 1"))
        time.sleep(0.3)
        self.assertEqual(restores(self.t), 0)
        self.assertNotEqual(self.t.read("/boot/grub/menu.lst"), before)

    def test_sighup_reloads_config(self):
        run(self.t, "pin", *self.pin, check=0)
        d = self.start()
        # point the daemon at another file by configuration, then reload
        other = self.t.path("/boot/grub/other.lst")
        shutil.copy(self.menu, other)
        self.t.write("/etc/kernelkeeper.conf", "[Menu]\nPath=/boot/grub/other.lst\n")
        n = len(d.messages)
        d.proc.send_signal(signal.SIGHUP)
        d.wait_message("RELOADING=1", start=n)
        d.wait_message("READY=1", start=n + 1)
        rename_over(other, open(other).read().replace("default 2", "default 0"))
        wait_until(lambda: "default 2" in open(other).read(), 5, "the restore of other.lst")
        # a broken configuration is refused and the old one kept
        self.t.write("/etc/kernelkeeper.conf", "[Guardian]\nNoSuchKey=1\n")
        d.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "keeping the old configuration" in d.log(), 5, "the refusal")
        self.assertIsNone(d.proc.poll())

    def test_sigint_exits_cleanly(self):
        d = self.start()
        d.proc.send_signal(signal.SIGINT)
        self.assertEqual(d.proc.wait(10), 0)
        self.assertFalse(os.path.exists(self.t.path("/run/kernelkeeper/daemon.json")))

    def test_daemon_rejects_arguments(self):
        p = run(self.t, "daemon", "--default", "x")
        self.assertEqual(p.returncode, 2)
        p = run(self.t, "daemon", "extra")
        self.assertEqual(p.returncode, 2)


if __name__ == "__main__":
    kktest.main()

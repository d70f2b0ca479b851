#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""`kernel trial`, `boots record`, `kernel commit` / `rollback` on a --root tree whose /proc files say
which boot it is. Each boot is played the way the bootloader leaves the files (GRUB 0.97's
savedefault bytes); which entry GRUB boots is kernelkeeper's own GRUB reading (checked against the
corpus elsewhere), and the real-boot proof is tests/vm."""
import json
import os
import shutil
import subprocess
import unittest

import kktest
from kktest import Tree, run, show

G, T = "6.1.0-50-amd64", "6.1.0-57-amd64"
ARGS = "root=/dev/xvda1 ro console=hvc0"
MENU = f"""timeout 5
default 1

### BEGIN AUTOMAGIC KERNELS LIST
## ## Start Default Options ##
# kopt={ARGS}
## ## End Default Options ##

title\t\tDebian GNU/Linux, kernel {T}
root\t\t(hd0,0)
kernel\t\t/boot/vmlinuz-{T} {ARGS}
initrd\t\t/boot/initrd.img-{T}

title\t\tDebian GNU/Linux, kernel {G}
root\t\t(hd0,0)
kernel\t\t/boot/vmlinuz-{G} {ARGS}
initrd\t\t/boot/initrd.img-{G}

### END DEBIAN AUTOMAGIC KERNELS LIST
"""


class Trial(unittest.TestCase):
    def setUp(self):
        self.t = Tree()
        self.t.menu(MENU)
        for r in (G, T):
            self.t.kernels(f"/boot/vmlinuz-{r}", f"/boot/initrd.img-{r}")
        run(self.t, "pin", "--default", f"release={G}", check=0)
        self.boot = 0
        self.new_boot(f"{ARGS}", G)

    def tearDown(self):
        self.t.cleanup()

    def new_boot(self, cmdline, release):
        """What the kernel of a new boot shows in /proc."""
        self.boot += 1
        self.t.write("/proc/sys/kernel/random/boot_id", f"00000000-0000-0000-0000-{self.boot:012d}\n")
        self.t.write("/proc/cmdline", cmdline + "\n")
        self.t.write("/proc/sys/kernel/osrelease", release + "\n")

    def grub_boots(self):
        """The entry GRUB 0.97 boots now, and what it writes before handing off (savedefault)."""
        j = show(self.t)
        e = j["entries"][j["default"]]
        if e["savedefault"]:
            # builtins.c savedefault_func: `savedefault fallback` from the default saves fallback[0]
            d = bytearray(self.t.read("/boot/grub/default"))
            d[:10] = (str(j["fallback"][0]).encode() + b"\0").ljust(10, b"\n")
            self.t.write("/boot/grub/default", bytes(d))
        return j["default"], e

    def state(self):
        return json.loads(self.t.read("/var/lib/kernelkeeper/state.json"))

    def test_panic_before_userspace_is_rolled_back(self):
        run(self.t, "kernel", "trial", f"release={T}", check=0)
        j = show(self.t)
        self.assertTrue(j["entries"][0]["title"].startswith("kernelkeeper known-good:"))
        self.assertTrue(j["entries"][1]["title"].startswith("kernelkeeper trial:"))
        self.assertTrue(j["default_saved"])
        self.assertEqual(self.t.read("/boot/grub/default"), b"1\n" + b"#\n" * 10)
        env = self.t.read("/boot/grub/grubenv")
        self.assertEqual(len(env), 1024)
        self.assertTrue(env.startswith(b"# GRUB Environment Block\nsaved_entry=1\n#"))
        self.assertEqual(self.state()["trial"]["phase"], "armed")
        # the guardian/hooks leave the trial layout alone
        p = run(self.t, "pin", "--reapply", check=0)
        self.assertIn("trial is in flight", p.stderr)

        # boot 2: GRUB boots the trial, saves the fallback first; the kernel panics (no userspace)
        idx, e = self.grub_boots()
        self.assertEqual(idx, 1)
        self.assertIn("kernelkeeper.trial=1", e["args"])
        self.assertIn("panic=10", e["args"])
        # boot 3: GRUB now boots the known-good copy
        idx, e = self.grub_boots()
        self.assertEqual(idx, 0)
        self.new_boot(e["args"], G)
        run(self.t, "boots", "record", check=0)

        st = self.state()
        self.assertEqual(st["trial"]["phase"], "failed")
        self.assertIn("before userspace", st["trial"]["reason"])
        lost = [b for b in st["boots"] if b["trial"]]
        self.assertEqual(len(lost), 1)
        self.assertIsNone(lost[0]["boot_id"])
        self.assertEqual(lost[0]["outcome"], "failed")
        # disarmed: the trial entries are gone, GRUB boots G, both files name it
        self.assertEqual(self.t.read("/boot/grub/menu.lst").decode(), MENU)
        j = show(self.t)
        self.assertEqual(j["entries"][j["default"]]["release"], G)
        self.assertTrue(self.t.read("/boot/grub/grubenv").startswith(b"# GRUB Environment Block\nsaved_entry=1\n"))
        self.assertEqual(self.t.read("/boot/grub/default"), b"1\n" + b"#\n" * 10)
        p = run(self.t, "--json", "boots", check=0)
        self.assertEqual(json.loads(p.stdout)["trial"]["phase"], "failed")
        # a failed trial is not armed again by the next boot
        self.new_boot(e["args"], G)
        run(self.t, "boots", "record", check=0)
        self.assertEqual(self.state()["trial"]["phase"], "failed")
        self.assertEqual(self.t.read("/boot/grub/menu.lst").decode(), MENU)

    def test_healthy_trial_committed(self):
        run(self.t, "kernel", "trial", f"release={T}", check=0)
        p = run(self.t, "kernel", "commit", check=1)
        self.assertIn("has not booted yet", p.stderr)
        idx, e = self.grub_boots()
        self.new_boot(e["args"], T)
        run(self.t, "boots", "record", check=0)
        self.assertEqual(self.state()["trial"]["phase"], "booted")
        run(self.t, "kernel", "commit", check=0)
        st = self.state()
        self.assertEqual(st["trial"]["phase"], "committed")
        self.assertEqual(st["pin"]["default"], f"release={T}")
        self.assertEqual(st["pin"]["fallback"], [f"release={G}"])
        j = show(self.t)
        self.assertFalse(any(x["title"].startswith("kernelkeeper") for x in j["entries"]))
        self.assertEqual(j["entries"][j["default"]]["release"], T)
        self.assertEqual([j["entries"][i]["release"] for i in j["fallback"]], [G])
        good = [b for b in st["boots"] if b["trial"]]
        self.assertEqual(good[-1]["outcome"], "good")

    def test_userspace_without_verdict_fails_at_next_boot(self):
        self.trial_boot()
        # hung and reset: GRUB already saved the fallback, the next boot is G
        idx, e = self.grub_boots()
        self.assertEqual(idx, 0)
        self.new_boot(e["args"], G)
        run(self.t, "boots", "record", check=0)
        st = self.state()
        self.assertEqual(st["trial"]["phase"], "failed")
        self.assertIn("before its health was judged", st["trial"]["reason"])
        trial_boots = [b for b in st["boots"] if b["trial"]]
        self.assertEqual(trial_boots[0]["outcome"], "failed")

    def test_rollback_by_hand(self):
        run(self.t, "kernel", "trial", f"release={T}", check=0)
        run(self.t, "kernel", "rollback", check=0)
        self.assertEqual(self.state()["trial"]["phase"], "failed")
        self.assertEqual(self.t.read("/boot/grub/menu.lst").decode(), MENU)
        p = run(self.t, "kernel", "rollback", check=0)
        self.assertIn("has already ended (failed)", p.stderr)
        p = run(self.t, "kernel", "commit", check=1)
        self.assertIn("No kernel trial is running", p.stderr)

    def test_refusals_change_nothing(self):
        before = self.t.read("/boot/grub/menu.lst")
        for args, msg in [
            (("kernel", "trial", f"release={G}"), "known-good entry itself"),
            (("kernel", "trial", "release=9.9"), "matches no entry"),
            (("kernel", "commit"), "No kernel trial is running"),
            (("kernel", "rollback"), "No kernel trial is in flight"),
        ]:
            p = run(self.t, *args, check=1)
            self.assertIn(msg, p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
            self.assertEqual(self.t.read("/boot/grub/menu.lst"), before)
        os.unlink(self.t.path(f"/boot/vmlinuz-{T}"))
        p = run(self.t, "kernel", "trial", f"release={T}", check=1)
        self.assertIn("cannot boot", p.stderr)
        self.assertEqual(self.t.read("/boot/grub/menu.lst"), before)
        self.t.kernels(f"/boot/vmlinuz-{T}")
        run(self.t, "kernel", "trial", f"release={T}", check=0)
        armed = [self.t.read(f) for f in ("/boot/grub/menu.lst", "/boot/grub/default", "/boot/grub/grubenv")]
        # the same trial again in the boot that armed it finishes an arm that was cut off: same files
        run(self.t, "kernel", "trial", f"release={T}", check=0)
        self.assertEqual([self.t.read(f) for f in ("/boot/grub/menu.lst", "/boot/grub/default",
                                                   "/boot/grub/grubenv")], armed)
        # another trial, or the same one in a later boot, waits for this one to end
        self.t.kernels("/boot/vmlinuz-6.1.0-99-amd64")
        run(self.t, "menu", "add", "--title", "other", "--kernel", "/boot/vmlinuz-6.1.0-99-amd64", check=0)
        p = run(self.t, "kernel", "trial", "title=other", check=1)
        self.assertIn("in flight", p.stderr)
        self.new_boot(ARGS, G)
        p = run(self.t, "kernel", "trial", f"release={T}", check=1)
        self.assertIn("in flight", p.stderr)
        p = run(self.t, "pin", "--default", f"release={T}", check=1)
        self.assertIn("trial is in flight", p.stderr)

    def trial_boot(self):
        """Arms a trial and plays the trial's own boot up to `boots record`."""
        run(self.t, "kernel", "trial", f"release={T}", check=0)
        idx, e = self.grub_boots()
        self.new_boot(e["args"], T)
        self.t.write("/proc/uptime", "42.00 40.00\n")
        run(self.t, "boots", "record", check=0)

    def health_check(self, name, script):
        self.t.write(f"/etc/kernelkeeper/health.d/{name}", "#!/bin/sh\n" + script, mode=0o755)

    def test_health_commits_a_healthy_trial(self):
        self.trial_boot()
        self.health_check("10-ok", "exit 0\n")
        run(self.t, "boots", "health", check=0)
        st = self.state()
        self.assertEqual(st["trial"]["phase"], "committed")
        self.assertEqual(st["pin"]["default"], f"release={T}")
        self.assertEqual([b for b in st["boots"] if b["trial"]][-1]["outcome"], "good")

    def test_health_check_failure_rolls_back(self):
        self.trial_boot()
        self.health_check("10-ok", "exit 0\n")
        self.health_check("20-app", "echo app down >&2; exit 3\n")
        self.health_check("30-never", f"touch {self.t.path('/ran-30')}\n")
        p = run(self.t, "boots", "health", check=1)
        self.assertIn("health check 20-app failed (exit status 3)", p.stderr)
        self.assertFalse(os.path.exists(self.t.path("/ran-30")), "checks after a failed one do not run")
        st = self.state()
        self.assertEqual(st["trial"]["phase"], "failed")
        self.assertIn("20-app", st["trial"]["reason"])
        self.assertEqual(self.t.read("/boot/grub/menu.lst").decode(), MENU)
        self.assertEqual([b for b in st["boots"] if b["trial"]][-1]["outcome"], "failed")

    def test_health_deadline(self):
        self.trial_boot()
        self.t.write("/proc/uptime", "301.50 290.00\n")
        p = run(self.t, "boots", "health", check=1)
        self.assertIn("HealthTimeoutSec", p.stderr)
        self.assertEqual(self.state()["trial"]["phase"], "failed")

    def test_check_timeout(self):
        self.trial_boot()
        self.t.write("/etc/kernelkeeper.conf", "[Trial]\nCheckTimeoutSec=1\n")
        self.health_check("10-hangs", "sleep 30\n")
        p = run(self.t, "boots", "health", check=1)
        self.assertIn("did not finish within 1s", p.stderr)
        self.assertEqual(self.state()["trial"]["phase"], "failed")

    def test_autocommit_no_waits_for_commit(self):
        self.t.write("/etc/kernelkeeper.conf", "[Trial]\nAutoCommit=no\n")
        self.trial_boot()
        run(self.t, "boots", "health", check=0)
        self.assertEqual(self.state()["trial"]["phase"], "booted")
        run(self.t, "kernel", "commit", check=0)
        self.assertEqual(self.state()["trial"]["phase"], "committed")

    def test_health_of_a_plain_boot_is_recorded(self):
        run(self.t, "boots", "record", check=0)
        self.t.write("/proc/uptime", "42.00 40.00\n")
        run(self.t, "boots", "health", check=0)
        self.assertEqual(self.state()["boots"][-1]["outcome"], "good")

    def test_generator_only_on_the_trial_boot(self):
        out = self.t.path("/gen")
        os.makedirs(out)
        run(self.t, "boots", "generate", out, check=0)
        self.assertEqual(os.listdir(out), [])
        self.new_boot(f"{ARGS} kernelkeeper.trial=1", T)
        run(self.t, "boots", "generate", out, check=0)
        conf = open(os.path.join(out, "boot-complete.target.d", "kernelkeeper-trial.conf")).read()
        self.assertIn("JobTimeoutSec=300", conf)
        self.assertIn("JobTimeoutAction=reboot-force", conf)
        self.assertTrue(os.readlink(os.path.join(out, "default.target.wants", "kernelkeeper-health.service"))
                        .endswith("/kernelkeeper-health.service"))

    def apt_list(self):
        p = self.t.path("/etc/apt/apt.conf.d/50kernelkeeper")
        return open(p).read() if os.path.exists(p) else None

    def test_protection(self):
        os.makedirs(self.t.path("/etc/apt/apt.conf.d"))
        run(self.t, "pin", "--default", f"release={G}", check=0)
        self.assertIn('"^linux-image-6\\.1\\.0-50-amd64$";', self.apt_list())
        self.assertNotIn("57", self.apt_list())
        p = run(self.t, "kernel", "check-remove", G, check=1)
        self.assertIn(f"Refusing to remove kernel {G}: it is the pinned default kernel", p.stderr)
        run(self.t, "kernel", "check-remove", T, check=0)
        p = run(self.t, "kernel", "check-remove", G, env={"KERNELKEEPER_ALLOW_REMOVE": "1"}, check=0)
        self.assertIn("KERNELKEEPER_ALLOW_REMOVE=1", p.stderr)
        # the prerm hook as Debian's kernel prerm runs it (run-parts --exit-on-error --arg=VERSION)
        hook = os.path.join(os.environ.get("KK_SOURCE_ROOT", "."), "hooks/kernel/prerm.d/kernelkeeper")
        env = dict(os.environ, KERNELKEEPER_ROOT=self.t.root,
                   PATH=os.path.dirname(kktest.BINARY) + ":" + os.environ["PATH"])
        self.assertNotEqual(subprocess.run([hook, G, f"/boot/vmlinuz-{G}"], env=env, capture_output=True).returncode, 0)
        self.assertEqual(subprocess.run([hook, T, f"/boot/vmlinuz-{T}"], env=env, capture_output=True).returncode, 0)
        # a trial protects both kernels until it ends
        run(self.t, "kernel", "trial", f"release={T}", check=0)
        run(self.t, "kernel", "check-remove", T, check=1)
        self.assertIn("57", self.apt_list())
        run(self.t, "kernel", "rollback", check=0)
        run(self.t, "kernel", "check-remove", T, check=0)
        run(self.t, "unpin", check=0)
        self.assertIsNone(self.apt_list())
        # menu remove refuses the pinned entry too
        run(self.t, "pin", "--default", f"release={G}", check=0)
        run(self.t, "menu", "remove", f"release={G}", check=1)

    def test_selector_errors(self):
        """Each a usage error or one clear line, nothing written."""
        twin = MENU.replace("### END", f"title\t\tDebian GNU/Linux, kernel {T}\nroot\t\t(hd0,0)\n"
                            f"kernel\t\t/boot/vmlinuz-{T} {ARGS} quiet\n\n### END")
        self.t.menu(twin)
        files = lambda: [self.t.read(f) for f in ("/boot/grub/menu.lst", "/var/lib/kernelkeeper/state.json")]
        before = files()
        for args, rc, msg in [
            ((f"title=Debian GNU/Linux, kernel {T}",), 1, "matches several entries"),
            (("title=",), 1, "matches no entry"),
            ((), 2, "takes one selector"),
            ((f"release={T}", f"release={G}"), 2, "takes one selector"),
        ]:
            p = run(self.t, "kernel", "trial", *args, check=rc)
            self.assertIn(msg, p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
            self.assertEqual(files(), before)
            self.assertFalse(os.path.exists(self.t.path("/boot/grub/grubenv")))
        p = run(self.t, "kernel", "commit", "now", check=2)
        self.assertIn("takes no arguments", p.stderr)

    def test_failed_kernel_never_retried_automatically(self):
        """After a failed trial nothing arms it again: not the next boots' record and health, not the
        kernel hooks or the guardian (pin --reapply), not a later health verdict."""
        self.trial_boot()
        self.health_check("20-app", "exit 3\n")
        run(self.t, "boots", "health", check=1)
        for n in range(2):
            idx, e = self.grub_boots()
            self.assertEqual(e["release"], G)
            self.new_boot(e["args"], G)
            run(self.t, "boots", "record", check=0)
            run(self.t, "boots", "health", check=1)  # 20-app still fails: recorded, nothing else
            run(self.t, "pin", "--reapply", check=0)
            self.assertEqual(self.state()["trial"]["phase"], "failed")
            self.assertEqual(self.t.read("/boot/grub/menu.lst").decode(), MENU)
            self.assertTrue(self.t.read("/boot/grub/grubenv").startswith(b"# GRUB Environment Block\nsaved_entry=1\n"))
        # only by hand
        run(self.t, "kernel", "trial", f"release={T}", check=0)
        self.assertEqual(self.state()["trial"]["phase"], "armed")

    @unittest.skipUnless(shutil.which("strace"), "strace is not installed")
    def test_arm_cut_off_then_next_boot(self):
        """`kernel trial` killed at each of its renames (1 state, 2 the write's record, 3 menu.lst with
        an explicit `default 0`, 4 `default`, 5 grubenv, 6 the final menu.lst), then the machine goes
        down: the next boot is G's, `boots record` finishes the write, says the trial was never
        armed (GRUB read `default 0`: nothing was booted, no lost trial boot in the history) and
        disarms; a re-run arms the trial."""
        for n in range(1, 7):
            with self.subTest(rename=n):
                if n > 1:  # a fresh tree for each kill point
                    self.t.cleanup()
                    self.setUp()
                cmd = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=rename",
                       "-e", f"inject=rename:signal=KILL:when={n}", kktest.BINARY, "--root", self.t.root,
                       "kernel", "trial", f"release={T}"]
                self.assertEqual(subprocess.run(cmd, capture_output=True).returncode, -9)
                idx, e = self.grub_boots()
                self.assertEqual((idx, e["release"]), (self.show_default(), G))
                self.assertNotIn("kernelkeeper.trial=1", e["args"])
                self.new_boot(e["args"], G)
                run(self.t, "boots", "record", check=0)
                st = self.state()
                self.assertNotIn("trial", st) if n == 1 else self.assertEqual(
                    (st["trial"]["phase"], st["trial"]["reason"][:29]), ("failed", "the trial was recorded but ne"))
                self.assertFalse([b for b in st["boots"] if b["trial"]])
                self.assertEqual(self.t.read("/boot/grub/menu.lst").decode(), MENU)
                run(self.t, "kernel", "trial", f"release={T}", check=0)
                self.assertEqual(self.state()["trial"]["phase"], "armed")

    def show_default(self):
        return show(self.t)["default"]

    def test_needs_a_pin(self):
        run(self.t, "unpin", check=0)
        p = run(self.t, "kernel", "trial", f"release={T}", check=1)
        self.assertIn("pinned known-good", p.stderr)


if __name__ == "__main__":
    kktest.main()

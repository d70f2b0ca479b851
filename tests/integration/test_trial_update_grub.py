#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A kernel trial in flight while Debian's REAL update-grub (and grub-set-default) rewrite /boot: the
kernel hooks and the daemon put the TRIAL layout back (the known-good copy at entry 0, the trial copy
at 1 with `savedefault fallback`, the pin's fallbacks by identity, both state files armed in the boot
that armed it, naming the known-good entry after it), never the plain pin. Same tools and tree as
test_update_grub.py: kernels 25 and 26, 25 pinned with 26 as its fallback."""
import json
import os

import kktest
from kktest import run, show
from test_update_grub import UpdateGrub, add_kernel
from test_guardian import Daemon, restores

G, T, OTHER = "6.1.0-25-amd64", "6.1.0-27-amd64", "6.1.0-26-amd64"
ARMED_DEFAULT = b"1\n" + b"#\n" * 10
ARMED_ENV = b"# GRUB Environment Block\nsaved_entry=1\n"


class TrialRewrite(UpdateGrub):
    def setUp(self):
        super().setUp()
        self.boot = 0
        self.new_boot(G)
        # T installed the Debian way (zz-update-grub, then our hook keeps the pin), then tried
        add_kernel(self.t, T)
        self.run_hooks("postinst.d", T)
        self.assertEqual(restores(self.t), 1)
        run(self.t, "kernel", "trial", f"release={T}", check=0)
        self.assert_layout(armed=True)
        self.n = restores(self.t)

    def new_boot(self, release, cmdline="root=/dev/xvda1 ro"):
        self.boot += 1
        self.t.write("/proc/sys/kernel/random/boot_id", f"00000000-0000-0000-0000-{self.boot:012d}\n")
        self.t.write("/proc/cmdline", cmdline + "\n")
        self.t.write("/proc/sys/kernel/osrelease", release + "\n")

    def state(self):
        return json.loads(self.t.read("/var/lib/kernelkeeper/state.json"))

    def assert_layout(self, armed):
        """The trial layout, as GRUB 0.97 reads it, and the state files for the next boot."""
        s = show(self.t)
        e = s["entries"]
        self.assertTrue(e[0]["title"].startswith("kernelkeeper known-good:") and e[0]["release"] == G, e[0])
        self.assertTrue(e[1]["title"].startswith("kernelkeeper trial:") and e[1]["release"] == T, e[1])
        self.assertTrue(e[1]["savedefault"])
        self.assertTrue(s["default_saved"])
        # the pin's fallback (26, by identity) behind the known-good copy, wherever update-grub put it
        self.assertEqual([e[i]["title"] for i in s["fallback"]],
                         [e[0]["title"], f"Debian GNU/Linux, kernel {OTHER}"])
        self.assertEqual(sum(1 for x in e if x["title"].startswith("kernelkeeper")), 2)
        self.assertEqual(s["default"], 1 if armed else 0)
        env = self.t.read("/boot/grub/grubenv")
        self.assertEqual(len(env), 1024)
        if armed:
            self.assertEqual(self.t.read("/boot/grub/default"), ARMED_DEFAULT)
            self.assertTrue(env.startswith(ARMED_ENV))
        self.assertEqual(self.state()["trial"]["phase"], "armed" if armed else "booted")

    def test_hook_follows_update_grub_during_trial(self):
        """Another kernel installed during the trial: update-grub moves the pinned fallback down by
        two entries; the hook renumbers it in the trial layout and leaves the armed files alone."""
        add_kernel(self.t, "6.1.0-28-amd64")
        out = self.run_hooks("postinst.d", "6.1.0-28-amd64")
        self.assertIn("kernel trial layout put back", out.stderr)
        self.assertEqual(restores(self.t), self.n + 1)
        self.assert_layout(armed=True)
        self.assertIn("Debian GNU/Linux, kernel 6.1.0-28-amd64", [x["title"] for x in show(self.t)["entries"]])
        # nothing more to do: the next run changes nothing
        p = run(self.t, "pin", "--reapply", check=0)
        self.assertIn("trial is in flight", p.stderr)
        self.assertEqual(restores(self.t), self.n + 1)

    def test_hook_rearms_state_file_reset_by_grub_set_default(self):
        """update-grub's own helper resets the `default` file: GRUB 0.97 would skip the trial."""
        self.tools.run_in_boot(self.t, ["grub-set-default", "0"])
        self.assertEqual(show(self.t)["default"], 0)
        run(self.t, "pin", "--reapply", check=0)
        self.assertEqual(restores(self.t), self.n + 1)
        self.assert_layout(armed=True)

    def test_daemon_puts_trial_back_after_regeneration(self):
        """menu.lst regenerated from scratch by update-grub: the trial copies are gone and `default 0`
        is the newest kernel, the trial kernel itself, for every boot. The daemon re-arms."""
        self.daemon = Daemon(self.t)
        os.unlink(self.t.path("/boot/grub/menu.lst"))
        self.tools.update_grub(self.t)
        self.settle(self.n + 1)
        self.assert_layout(armed=True)
        self.assertIn("trial layout put back", self.daemon.log())

    def test_after_the_trial_boot_a_rewrite_sends_both_loaders_to_known_good(self):
        """In the trial's own boot (GRUB 0.97 already wrote the fallback into `default`) a rewrite is
        answered with the layout and both files naming the known-good copy: PV-GRUB2, after a loader
        switch, must not run the trial again."""
        d = bytearray(self.t.read("/boot/grub/default"))
        d[:10] = b"0\0" + b"\n" * 8
        self.t.write("/boot/grub/default", bytes(d))
        self.new_boot(T, f"root=/dev/xvda1 ro panic=10 kernelkeeper.trial=1")
        run(self.t, "boots", "record", check=0)
        # the layout holds: the files stay as GRUB left them
        run(self.t, "pin", "--reapply", check=0)
        self.assertEqual(restores(self.t), self.n)
        self.assertEqual(self.t.read("/boot/grub/default")[:2], b"0\0")
        add_kernel(self.t, "6.1.0-28-amd64")
        self.run_hooks("postinst.d", "6.1.0-28-amd64")
        self.assertEqual(restores(self.t), self.n + 1)
        self.assert_layout(armed=False)
        self.assertEqual(self.t.read("/boot/grub/default"), b"0\n" + b"#\n" * 10)
        self.assertTrue(self.t.read("/boot/grub/grubenv").startswith(b"# GRUB Environment Block\nsaved_entry=0\n"))
        # the trial still ends the usual way
        run(self.t, "kernel", "commit", check=0)
        s = show(self.t)
        self.assertEqual(s["entries"][s["default"]]["release"], T)
        self.assertFalse(any(x["title"].startswith("kernelkeeper") for x in s["entries"]))


# the parent's tests run in test_update_grub.py
for name in [n for n in dir(UpdateGrub) if n.startswith("test_")]:
    setattr(TrialRewrite, name, None)
del UpdateGrub

if __name__ == "__main__":
    kktest.main()

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Crash consistency of the kernel trial: `kernel trial`, `boots record` ending a trial that died,
`kernel commit`, `kernel rollback` and `pin --reapply` putting a rewritten trial layout back, each
killed (SIGKILL) at every invocation of every syscall, by
the method and the checks of test_crash.py, with grubenv among the files. The one documented stage
of menu.lst is the new menu with an explicit `default N` (both loaders then ignore the state
files). What GRUB boots is compared by kernel and by whether the entry saves a fallback: the
known-good copy at entry 0 boots the known-good kernel under another title, and the trial kernel
may only ever be booted by the one-shot trial entry."""
import os
import re
import unittest

import kktest
import test_crash
from test_crash import Case, TreeSpec

# the tree of test_kernel_trial.py: T above G in update-grub's block, G pinned
from test_kernel_trial import ARGS, MENU, G, T  # noqa: E402


def write(root, rel, data):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def boot(n, cmdline, release):
    """What a new boot's /proc says."""
    def step(root):
        write(root, "proc/sys/kernel/random/boot_id", f"00000000-0000-0000-0000-{n:012d}\n")
        write(root, "proc/cmdline", cmdline + "\n")
        write(root, "proc/sys/kernel/osrelease", release + "\n")
    return step


def grub_boots(root):
    """GRUB 0.97 booting the armed trial: savedefault writes the fallback (0) first."""
    p = os.path.join(root, "boot/grub/default")
    with open(p, "rb") as f:
        d = bytearray(f.read())
    d[:10] = b"0\0" + b"\n" * 8
    with open(p, "wb") as f:
        f.write(bytes(d))


def build(root, menu=MENU):
    write(root, "boot/grub/menu.lst", menu)
    write(root, "etc/.keep", "")
    for r in (G, T):
        for f in (f"boot/vmlinuz-{r}", f"boot/initrd.img-{r}"):
            write(root, f, b"\x7fkernel " + f.encode())
    boot(1, ARGS, G)(root)


def build_saved(root):
    """`default saved`: the default file holds the pin, and a trial's end rewrites both files."""
    build(root, MENU.replace("default 1", "default saved"))
    write(root, "boot/grub/default", "1\n" + "#\n" * 10)


def grubby_add(root):
    """A foreign rewrite during the trial, as grubby --add-kernel --make-default does it: a new entry on
    top (the trial copies move to 1 and 2) and `default 0`, so GRUB would boot the new kernel."""
    p = os.path.join(root, "boot/grub/menu.lst")
    with open(p, "rb") as f:
        m = f.read()
    first = re.search(rb"(?m)^title", m).start()
    m = m[:first] + b"title New kernel from grubby\nroot (hd0,0)\nkernel /boot/vmlinuz-grubby ro\n\n" + m[first:]
    write(root, "boot/grub/menu.lst", re.sub(rb"(?m)^default\s+\S+", b"default 0", m, count=1))
    write(root, "boot/vmlinuz-grubby", b"\x7fkernel grubby")


PIN = ["pin", "--default", f"release={G}"]
ARM = ["kernel", "trial", f"release={T}"]
TRIAL_BOOT = boot(2, f"{ARGS} panic=10 kernelkeeper.trial=1", T)
OPS = [
    ("kernel trial", [PIN], ARM),
    ("kernel rollback", [PIN, ARM], ["kernel", "rollback"]),
    ("boots record (trial died)", [PIN, ARM, grub_boots, boot(3, ARGS, G)], ["boots", "record"]),
    ("kernel commit", [PIN, ARM, grub_boots, TRIAL_BOOT, ["boots", "record"]], ["kernel", "commit"]),
    # the kernel hooks and the guardian put the trial layout back (armed: this is the arming boot)
    ("pin --reapply (trial layout rewritten)", [PIN, ARM, grubby_add], ["pin", "--reapply"]),
]
TREES = [
    TreeSpec("trial", build, "boot/grub/menu.lst", OPS),
    TreeSpec("trial, default saved", build_saved, "boot/grub/menu.lst", OPS),
]


class TrialCase(Case):
    BOOT_KEY = slice(2, 4)  # by kernel, and whether the entry is the one-shot

    def __init__(self, spec, op, workdir):
        super().__init__(spec, op, workdir)
        # each operation here changes /boot: a kill test of one that does nothing would prove nothing
        assert self.new.files() != self.old.files(), f"{spec.name}: {self.name} changed nothing"
        if self.argv == ["pin", "--reapply"]:
            # the layout goes back through its documented stage, which boots the known-good kernel
            self.ALSO_SAFE = ((f"/boot/vmlinuz-{G}", False),)
        # the staged menu.lst: the new one with `default saved` (or its default) as an explicit number
        if self.new.menu:
            for k in range(8):
                self.stages.add(re.sub(rb"(?m)^(\s*default\s+)\S+", rb"\g<1>" + str(k).encode(), self.new.menu,
                                       count=1))


@unittest.skipUnless(test_crash.STRACE, "strace is not installed")
class CrashTrial(unittest.TestCase):
    def test_kill_at_every_syscall(self):
        test_crash.kill_everywhere(self, TREES, TrialCase)


if __name__ == "__main__":
    kktest.main()

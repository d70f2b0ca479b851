"""Common frame of a scenario script: environment checks, a work directory
for the disk and console logs, boots, and assertions that report where the
evidence is. Exit codes follow meson's 'exitcode' protocol (77 = skipped)."""

import os
import pathlib
import re
import shutil
import sys
import tempfile
import time
import traceback

from . import cache, disk, guest, kernel, qemu, xen

STEP_PRELUDE = "export PATH=/usr/sbin:/usr/bin:/sbin:/bin\nset -u\n"


class Failed(Exception):
    pass


class Scenario:
    def __init__(self, name, layout="ext3", echo=False):
        self.name = name
        self.layout = disk.LAYOUTS[layout]
        self.echo = echo
        base = os.environ.get("KK_VM_LOGDIR") or str(cache.cache_dir() / "logs")
        self.workdir = pathlib.Path(base) / f"{name}-{layout}"
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir.mkdir(parents=True)
        self.binary = os.environ.get("KK_BINARY")
        if not self.binary or not os.access(self.binary, os.X_OK):
            raise Failed(f"KK_BINARY={self.binary!r} is not an executable kernelkeeper")
        self.old, self.new = [kernel.get(p) for p in cache.kernel_packages()]
        self.disk = None
        self.boots = 0
        # tests/vm/demo sets KK_VM_DEMO=1: the same scenario, told as a story
        self.narrating = os.environ.get("KK_VM_DEMO") == "1"

    def say(self, msg):
        print(f"[{self.name}/{self.layout.name}] {msg}", flush=True)

    def tell(self, text):
        if self.narrating:
            print("\n" + text, flush=True)

    def show_menu(self, heading):
        """Narration: menu.lst as GRUB will read it (titles with their index)."""
        if not self.narrating:
            return
        menu = self.disk.read("/boot/grub/menu.lst").decode()
        lines = [ln for ln in menu.splitlines() if ln.startswith(("default", "fallback"))]
        titles = [ln.split(None, 1)[1] for ln in menu.splitlines() if ln.startswith("title")]
        print(f"\n    {heading}: " + ", ".join(lines))
        for i, t in enumerate(titles):
            print(f"      [{i}] {t}")

    def entry(self, title, k, index, **kw):
        return guest.menu_entry(self.layout, title, k.release, f"kk.entry={index}", **kw)

    def build_disk(self, menu_lst, kernels, prepare=None):
        """prepare(stage) may change the guest tree before it becomes a disk."""
        t = time.monotonic()
        with tempfile.TemporaryDirectory(dir=self.workdir) as stage:
            guest.build_tree(stage, self.layout, kernels, self.binary, menu_lst)
            if prepare:
                prepare(pathlib.Path(stage))
            self.disk = disk.Disk(self.workdir / "disk.img", self.layout)
            self.disk.create(stage)
        self.say(f"disk built in {time.monotonic() - t:.1f} s ({self.layout.name})")
        return self.disk

    def set_step(self, script):
        """The shell script the guest runs on this boot (chrooted into the disk)."""
        self.disk.write("/kk/step", STEP_PRELUDE + script, mode=0o755)

    def boot(self, label, timeout=180, loader=None, **kw):
        """loader: "grub097" or "pvgrub2" to boot the disk with the other loader than its layout's
        (a disk made for both: see scenario-kernel-trial's switch mode)."""
        self.boots += 1
        log = self.workdir / f"boot{self.boots}-{label}.log"
        if loader == "pvgrub2" or (self.layout.xen and loader != "grub097"):
            # dom0 runs the newer kernel; the domU boots whatever PV-GRUB2 picks
            timeout = max(timeout, xen.DOMU_TIMEOUT + 120)
            b = xen.boot(self.new, self.disk.path, log, timeout=timeout, echo=self.echo)
        else:
            b = qemu.boot(self.disk.path, log, timeout=timeout, echo=self.echo, **kw)
        entry = b.arg("kk.entry") or b.arg("kk.menu") or "?"
        if "single" in b.cmdline.split():
            entry += " single"
        self.say(f"boot {self.boots} ({label}): kernel {b.release} entry {entry} "
                 f"step rc {b.markers.get('STEP-RC')} in {b.seconds:.1f} s")
        if b.timed_out:
            raise Failed(f"boot '{label}' timed out after {timeout} s; console: {log}")
        if self.narrating:
            print(f"    GRUB handed over to: Linux version {b.release}\n"
                  f"    kernel command line: {b.cmdline}")
            out = re.sub(r"KK:JSON-BEGIN.*?KK:JSON-END", "", b.step_output, flags=re.S)
            out = "\n".join(ln for ln in out.splitlines() if ln.strip() and not ln.startswith("KK:"))
            if out:
                print("    guest said:\n" + "\n".join("      " + ln for ln in out.splitlines()))
        return b

    def check(self, cond, msg, boot=None):
        if not cond:
            where = f"; console: {boot.log_path}" if boot else ""
            raise Failed(msg + where)
        self.say(f"ok: {msg}")


def require_vm():
    """Fail loudly (or skip with KK_SKIP_VM=1) when QEMU cannot run here."""
    reason = qemu.available()
    if reason:
        if os.environ.get("KK_SKIP_VM") == "1":
            print(f"SKIP: VM tests skipped (KK_SKIP_VM=1): {reason}")
            sys.exit(77)
        print(f"!!!!! VM TESTS CANNOT RUN: {reason} -- set KK_SKIP_VM=1 to skip them !!!!!")
        sys.exit(1)


def main(name, body, layouts=("ext3",)):
    """Run body(scenario) for each layout named on the command line (default: layouts)."""
    require_vm()
    chosen = sys.argv[1:] or list(layouts)
    start = time.monotonic()
    for layout in chosen:
        sc = None
        try:
            sc = Scenario(name, layout, echo=os.environ.get("KK_VM_ECHO") == "1")
            body(sc)
        except Failed as e:
            print(f"FAIL [{name}/{layout}]: {e}")
            sys.exit(1)
        except Exception:
            traceback.print_exc()
            print(f"FAIL [{name}/{layout}]: harness error; logs in {sc.workdir if sc else '?'}")
            sys.exit(1)
        if sc.disk:
            sc.disk.path.unlink()    # keep console logs, drop the 512 MiB image
    print(f"PASS [{name}] {' '.join(chosen)} in {time.monotonic() - start:.0f} s")

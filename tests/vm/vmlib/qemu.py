"""One QEMU (TCG) boot of a disk image, judged from the serial console.

GRUB's screen output is full of ANSI escapes, so the verdict comes from the
kernel's own lines ("Linux version", "Command line:") and from the KK:
markers printed by the initramfs (guest-init.sh)."""

import dataclasses
import re
import shutil
import subprocess
import sys
import threading
import time

QEMU = "qemu-system-x86_64"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>78DEHM]")


@dataclasses.dataclass
class Boot:
    log: str                 # console text, escapes removed
    log_path: str
    seconds: float
    timed_out: bool
    releases: list           # "Linux version X" per kernel start
    cmdlines: list           # "Command line: ..." per kernel start
    markers: dict            # KK:NAME=value (last value wins)
    step_output: str         # what the scenario step printed

    @property
    def release(self):
        return self.releases[-1] if self.releases else None

    @property
    def cmdline(self):
        return self.cmdlines[-1] if self.cmdlines else ""

    def arg(self, name):
        """Value of name=... on the booted kernel's command line."""
        for word in self.cmdline.split():
            if word.startswith(name + "="):
                return word[len(name) + 1:]
        return None

    def section(self, begin, end):
        m = re.search(re.escape(begin) + r"\n(.*?)\n" + re.escape(end), self.step_output, re.S)
        return m.group(1) if m else None

    def grub_errors(self):
        return re.findall(r"Error (\d+): ([^\n]*)", self.log)


def available():
    """None if QEMU can start a TCG machine here, else the reason."""
    if not shutil.which(QEMU):
        return f"{QEMU} not found (run tests/vm/deps.sh)"
    try:
        res = subprocess.run([QEMU, "-M", "none", "-accel", "tcg", "-nodefaults", "-display",
                              "none", "-S", "-monitor", "stdio"], input="quit\n",
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{QEMU} does not start: {e}"
    if res.returncode:
        return f"{QEMU} cannot start a TCG machine: {res.stderr.strip()[:200]}"
    return None


def boot(disk_path, log_path, timeout=120, net=None, echo=False, max_kernel_starts=1):
    """Boot once. The guest powers off when its step is done; `-no-reboot`
    turns a panic (panic=1) or reboot into a QEMU exit, so nothing loops.
    `net` is a guestfwd target such as "tcp:127.0.0.1:8080"; the guest sees
    it at 169.254.169.254:80."""
    cmd = [QEMU, "-accel", "tcg", "-m", "512", "-nodefaults", "-no-user-config",
           "-display", "none", "-monitor", "none", "-serial", "stdio",
           "-drive", f"file={disk_path},format=raw,if=virtio,cache=unsafe"]
    if max_kernel_starts == 1:
        cmd.append("-no-reboot")
    if net:
        cmd += ["-netdev", f"user,id=n0,net=169.254.0.0/16,guestfwd=tcp:169.254.169.254:80-{net}",
                "-device", "virtio-net-pci,netdev=n0,romfile="]
    return run(cmd, log_path, timeout, echo, max_kernel_starts)


def run(cmd, log_path, timeout, echo=False, max_kernel_starts=1):
    """Run one QEMU command line to its end (or the timeout), keeping the console."""
    start = time.monotonic()
    raw = bytearray()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    starts = [0]

    def reader():
        for chunk in iter(lambda: proc.stdout.read1(4096), b""):
            raw.extend(chunk)
            if echo:
                sys.stdout.write(ANSI.sub("", chunk.decode("utf-8", "replace")).replace("\r", ""))
                sys.stdout.flush()
            starts[0] = raw.count(b"Linux version ")
            if starts[0] > max_kernel_starts:
                proc.kill()    # reboot counter: stop a boot loop

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.kill()
        proc.wait()
    t.join(timeout=5)
    seconds = time.monotonic() - start
    with open(log_path, "wb") as f:
        f.write(bytes(raw))
    text = ANSI.sub("", raw.decode("utf-8", "replace")).replace("\r", "")
    return _parse(text, log_path, seconds, timed_out)


def _parse(text, log_path, seconds, timed_out):
    releases = re.findall(r"Linux version (\S+)", text)
    cmdlines = re.findall(r"Command line: ([^\n]*)", text)
    markers = dict(re.findall(r"^KK:([A-Z0-9-]+)=([^\n]*)$", text, re.M))
    for flag in re.findall(r"^KK:([A-Z0-9-]+)$", text, re.M):
        markers.setdefault(flag, "")
    m = re.search(r"^KK:STEP-BEGIN\n(.*?)^KK:STEP-RC=", text, re.S | re.M)
    return Boot(text, str(log_path), seconds, timed_out, releases, cmdlines, markers,
                m.group(1) if m else "")

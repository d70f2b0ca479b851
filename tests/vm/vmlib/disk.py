"""512 MiB MBR disk images with GRUB Legacy 0.97, built without loop devices.

sfdisk writes the partition table, `mke2fs -d STAGING -E offset=N` creates
and fills each filesystem inside the image file, and the 32-bit grub shell
(from the unpacked grub-legacy package) installs stage1/stage1.5/stage2.
Between boots, files are read and replaced with debugfs on the image."""

import dataclasses
import os
import pathlib
import re
import subprocess
import tempfile

from . import cache

SECTOR = 512
DISK_BYTES = 512 * 1024 * 1024
BOOT_PART_BYTES = 128 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Layout:
    """How /boot sits on the disk; `name` appears in test names."""
    name: str
    fstype: str            # of the filesystem holding /boot
    blocksize: int
    separate_boot: bool
    xen: bool = False      # a Xen PV domU disk (xvda, hvc0), booted through PV-GRUB2

    @property
    def grub_prefix(self):
        # GRUB paths are relative to the partition that holds them.
        return "" if self.separate_boot else "/boot"


# 4 KiB blocks everywhere: mke2fs -d and debugfs turn all-zero blocks into
# holes, Debian's vmlinuz has several all-zero 1 KiB blocks but no 4 KiB one,
# and a real dpkg-installed kernel is never sparse (GRUB 0.97 cannot read a
# sparse file on ext4; kernelkeeper refuses to pin one).
LAYOUTS = {
    "ext3": Layout("ext3", "ext3", 4096, False),
    "ext4": Layout("ext4", "ext4", 4096, False),
    "sepboot": Layout("sepboot", "ext3", 4096, True),
    "xen": Layout("xen", "ext3", 4096, False, xen=True),
}


def grub_legacy():
    return cache.unpacked("grub-legacy")


def grub_shell():
    """argv prefix running the 32-bit grub shell. Some hosts (PVM/Firecracker
    kernels) refuse 32-bit ELF with ENOEXEC; qemu-i386 runs the same binary."""
    grub = str(grub_legacy() / "usr" / "sbin" / "grub")
    try:
        subprocess.run([grub, "--version"], capture_output=True, check=True)
        return [grub]
    except OSError:
        return ["qemu-i386", grub]


class Disk:
    def __init__(self, path, layout, size=DISK_BYTES):
        self.path = pathlib.Path(path)
        self.layout = layout
        self.size = size
        first = 2048 * SECTOR
        if layout.separate_boot:
            self.parts = [(first, BOOT_PART_BYTES),
                          (first + BOOT_PART_BYTES, size - first - BOOT_PART_BYTES)]
        else:
            self.parts = [(first, size - first)]

    # --- building -------------------------------------------------------
    def create(self, root_stage):
        """root_stage is the whole guest tree, /boot included."""
        with open(self.path, "wb") as f:
            f.truncate(self.size)
        table = "label: dos\n" + "".join(
            f"start={off // SECTOR}, size={size // SECTOR}, type=83{', bootable' if i == 0 else ''}\n"
            for i, (off, size) in enumerate(self.parts))
        cache.run(["sfdisk", "-q", str(self.path)], input=table.encode(),
                  stdout=subprocess.DEVNULL)
        root_stage = pathlib.Path(root_stage)
        if self.layout.separate_boot:
            with tempfile.TemporaryDirectory() as scratch:
                # mke2fs -d has no exclude: the root filesystem is made from a
                # copy of the tree whose /boot is an empty mount point.
                root_only = pathlib.Path(scratch) / "root"
                cache.run(["cp", "-a", "--reflink=auto", str(root_stage), str(root_only)])
                cache.run(["find", str(root_only / "boot"), "-mindepth", "1", "-delete"])
                self._mkfs(1, "ext4", 4096, root_only)
            self._mkfs(0, self.layout.fstype, self.layout.blocksize, root_stage / "boot")
        else:
            self._mkfs(0, self.layout.fstype, self.layout.blocksize, root_stage)
        self.assert_not_sparse()
        self._install_grub()

    def _mkfs(self, part, fstype, blocksize, stage):
        off, size = self.parts[part]
        cache.run(["mke2fs", "-q", "-F", "-t", fstype, "-b", str(blocksize), "-d", str(stage),
                   "-E", f"offset={off}", str(self.path), f"{size // 1024}k"])

    def _install_grub(self):
        script = f"device (hd0) {self.path}\nroot (hd0,0)\nsetup (hd0)\nquit\n"
        res = subprocess.run(grub_shell() + ["--batch", "--no-floppy", "--device-map=/dev/null"],
                             input=script, capture_output=True, text=True)
        if "Running \"install" not in res.stdout or "succeeded" not in res.stdout:
            raise RuntimeError(f"grub setup failed:\n{res.stdout}\n{res.stderr}")

    # --- files between boots --------------------------------------------
    def _locate(self, path):
        """Map a guest path to (partition index, path inside that filesystem)."""
        if self.layout.separate_boot:
            if path == "/boot" or path.startswith("/boot/"):
                return 0, path[len("/boot"):] or "/"
            return 1, path
        return 0, path

    def _spec(self, part):
        return f"{self.path}?offset={self.parts[part][0]}"

    def debugfs(self, part, commands, write=False):
        cmd = ["debugfs"] + (["-w"] if write else []) + ["-f", "-", self._spec(part)]
        res = subprocess.run(cmd, input="\n".join(commands) + "\n", capture_output=True, text=True)
        return res.stdout, res.stderr

    def read(self, path):
        part, inner = self._locate(path)
        res = subprocess.run(["debugfs", "-R", f"cat {inner}", self._spec(part)],
                             capture_output=True)
        if not self.exists(path):
            raise FileNotFoundError(path)
        return res.stdout

    def exists(self, path):
        part, inner = self._locate(path)
        _, err = self.debugfs(part, [f"stat {inner}"])
        return "File not found" not in err

    def _writable(self, part):
        """debugfs does not replay the journal: changing a filesystem the guest
        left unclean lets the next mount's recovery overwrite our change."""
        out, _ = self.debugfs(part, ["stats"])
        if "needs_recovery" in out:
            raise RuntimeError(f"partition {part + 1} of {self.path} was not unmounted cleanly "
                               "(journal needs recovery); refusing to modify it with debugfs")

    def remove(self, path):
        part, inner = self._locate(path)
        self._writable(part)
        self.debugfs(part, [f"rm {inner}"], write=True)

    def write(self, path, data, mode=0o644):
        """Replace a file (new inode); data is bytes or a host file path."""
        part, inner = self._locate(path)
        self._writable(part)
        d, name = os.path.split(inner)
        with tempfile.NamedTemporaryFile() as tmp:
            if isinstance(data, (bytes, str)):
                tmp.write(data.encode() if isinstance(data, str) else data)
                tmp.flush()
                src = tmp.name
            else:
                src = str(data)
            os.chmod(src, mode)    # debugfs write copies the host file's mode
            _, err = self.debugfs(part, [f"cd {d or '/'}", f"rm {name}", f"write {src} {name}"],
                                  write=True)
        if not self.exists(path):
            raise RuntimeError(f"debugfs could not write {path}: {err}")
        if path.startswith("/boot/vmlinuz-") or path.startswith("/boot/initrd.img-"):
            self.assert_not_sparse(path)

    def rdump(self, path, dest):
        """Copy the guest directory `path` to dest/<its name>."""
        part, inner = self._locate(path)
        os.makedirs(dest, exist_ok=True)
        if inner != "/":
            self.debugfs(part, [f"rdump {inner} {dest}"])
            return
        # a separate /boot is its partition's root, which rdump cannot name
        target = os.path.join(dest, os.path.basename(path))
        os.makedirs(target, exist_ok=True)
        out, _ = self.debugfs(part, ["ls -p /"])
        names = [ln.split("/")[5] for ln in out.splitlines() if ln.startswith("/")]
        self.debugfs(part, [f"rdump /{n} {target}" for n in names
                            if n not in (".", "..", "lost+found")])

    def assert_not_sparse(self, path=None):
        """GRUB 0.97 cannot read files with holes on ext4 (Error 16)."""
        paths = [path] if path else self._boot_files()
        for p in paths:
            part, inner = self._locate(p)
            out, _ = self.debugfs(part, [f"stat {inner}"])
            size = int(re.search(r"Size: (\d+)", out).group(1))
            blocks = int(re.search(r"Blockcount: (\d+)", out).group(1))
            bs = self.layout.blocksize
            if blocks * 512 < -(-size // bs) * bs:
                raise RuntimeError(f"{p} is sparse on the image: GRUB Legacy cannot read it")

    def _boot_files(self):
        part, inner = self._locate("/boot")
        out, _ = self.debugfs(part, [f"ls -p {inner}"])
        names = [ln.split("/")[5] for ln in out.splitlines() if ln.startswith("/")]
        return [f"/boot/{n}" for n in names if n.startswith(("vmlinuz-", "initrd.img-"))]

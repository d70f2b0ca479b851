"""A Debian kernel plus the small busybox initramfs that boots it.

The initramfs only loads the disk/network/ext4 modules, mounts the root
filesystem named by root=, and hands over to the scenario step stored on the
disk (see guest-init.sh). Built once per (kernel version, busybox version,
init script) and kept in the cache."""

import dataclasses
import hashlib
import os
import pathlib
import shutil
import subprocess

from . import cache

HERE = pathlib.Path(__file__).resolve().parent
INIT_SCRIPT = HERE / "guest-init.sh"
# Loaded in this order, dependencies first: virtio disk + NIC (QEMU), Xen
# blkfront (PV domU; absent hardware just fails with ENODEV), ext3/ext4.
MODULES = ["virtio_pci", "virtio_blk", "virtio_net", "xen-blkfront", "crc32c_generic", "ext4"]


@dataclasses.dataclass
class Kernel:
    package: str
    version: str
    release: str
    vmlinuz: pathlib.Path
    config: pathlib.Path
    initrd: pathlib.Path
    tree: pathlib.Path


def busybox():
    return cache.unpacked("busybox-static") / "bin" / "busybox"


def get(package):
    version = cache.candidate_version(package)
    tree = cache.unpacked(package, version)
    release = package[len("linux-image-"):]
    moddir = tree / "lib" / "modules" / release
    if not (moddir / "modules.dep").exists():
        cache.run(["depmod", "-b", str(tree), release])
    boot = tree / "boot"
    return Kernel(package, version, release, boot / f"vmlinuz-{release}",
                  boot / f"config-{release}", _initramfs(tree, release, version), tree)


def module_files(tree, release, modules=MODULES):
    """The .ko files to insmod, in order, for modules and their dependencies."""
    # one module per call: modprobe takes further words as module parameters
    out = "".join(cache.run(["modprobe", "-d", str(tree), "-S", release, "--show-depends", m],
                            capture_output=True, text=True).stdout for m in modules)
    files = []
    for line in out.splitlines():
        words = line.split()
        if words and words[0] == "insmod" and words[1] not in files:
            files.append(words[1])
    return files


def _initramfs(tree, release, version):
    bb = busybox()
    key = hashlib.sha256()
    for part in (release, version, str(bb.stat().st_size), INIT_SCRIPT.read_text(), " ".join(MODULES)):
        key.update(part.encode() + b"\0")
    out = cache.cache_dir() / "initrd" / f"initrd.img-{release}-{key.hexdigest()[:12]}"
    if out.exists():
        return out
    cache.log(f"building initramfs for {release}")
    stage = out.parent / (out.name + ".stage")
    shutil.rmtree(stage, ignore_errors=True)
    for d in ("bin", "dev", "proc", "sys", "newroot", "lib/kk-modules"):
        (stage / d).mkdir(parents=True)
    shutil.copy2(bb, stage / "bin" / "busybox")
    shutil.copy2(INIT_SCRIPT, stage / "init")
    os.chmod(stage / "init", 0o755)
    order = []
    for i, path in enumerate(module_files(tree, release)):
        name = f"{i:02d}-{os.path.basename(path)}"
        shutil.copy2(path, stage / "lib" / "kk-modules" / name)
        order.append(name)
    (stage / "lib" / "kk-modules" / "order").write_text("\n".join(order) + "\n")
    write_initramfs(stage, out)
    shutil.rmtree(stage)
    prune_older(out, f"initrd.img-{release}-")
    return out


def prune_older(keep, prefix):
    """Drop superseded builds (older init script or package) from the cache."""
    for old in keep.parent.glob(prefix + "*"):
        if old != keep and old.is_file():
            old.unlink()


def write_initramfs(stage, out):
    # gzip -1: quick to inflate under TCG, and unlike a raw cpio it has no
    # all-zero blocks that would become holes on the image.
    files = subprocess.run(["find", "."], cwd=stage, capture_output=True, text=True,
                           check=True).stdout
    tmp = out.parent / (out.name + ".tmp")
    with open(tmp, "wb") as f:
        cpio = subprocess.Popen(["cpio", "-o", "-H", "newc", "--quiet", "-R", "0:0"], cwd=stage,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        gz = subprocess.Popen(["gzip", "-1", "-n"], stdin=cpio.stdout, stdout=f)
        cpio.stdout.close()
        cpio.communicate(files.encode())
        if gz.wait() or cpio.returncode:
            raise RuntimeError("cpio | gzip failed")
    tmp.rename(out)

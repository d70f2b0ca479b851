"""Xen 4.17 PV flavour: QEMU (TCG) boots the Xen hypervisor with a Debian
kernel as PV dom0 from a busybox + xl initramfs; dom0 starts one PV domU
whose "kernel" is PV-GRUB2 (grub-xen-bin, legacy_configfile on the domU's
/boot/grub/menu.lst), on the same kind of disk image as the native tests."""

import gzip
import hashlib
import os
import pathlib
import shutil

from . import cache, guest, kernel, qemu

HERE = pathlib.Path(__file__).resolve().parent
XEN_PKGS = ["xen-hypervisor-4.17-amd64", "xen-utils-4.17", "xenstore-utils", "libxencall1",
            "libxendevicemodel1", "libxenevtchn1", "libxenforeignmemory1", "libxengnttab1",
            "libxenhypfs1", "libxenstore4", "libxentoollog1", "libxentoolcore1",
            "libxenmisc4.17", "libyajl2"]
DOM0_MODULES = ["virtio_pci", "virtio_blk", "xen-evtchn", "xen-gntdev", "xen-gntalloc",
                "xen-privcmd", "xenfs", "xen-blkback"]
DOM0_TOOLS = ["xenstored", "xen-init-dom0", "xenconsoled", "xenconsole", "xl",
              "libxl-save-helper"]
DOMU_CFG = """name = "kk-domu"
type = "pv"
kernel = "/usr/lib/kk/pvgrub2.xen"
memory = 320
vcpus = 1
disk = [ "format=raw, vdev=xvda, access=rw, target=/dev/vda" ]
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "destroy"
"""
# PV-GRUB2's own config, embedded in the image: read the guest's GRUB Legacy
# menu the way EC2's PV-GRUB does ((hd0,0)/boot/grub/menu.lst).
PVGRUB_CFG = """insmod part_msdos
insmod ext2
insmod legacycfg
set root=(xen/xvda,msdos1)
legacy_configfile /boot/grub/menu.lst
"""
# loadenv: `default saved` and savedefault (load_env/save_env); without it a trial proves nothing
PVGRUB_MODULES = ["part_msdos", "ext2", "legacycfg", "linux", "xzio", "gzio", "normal", "echo", "loadenv",
                  "sleep", "test", "search", "configfile", "cat", "ls"]


def _key(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(str(p).encode() + b"\0")
    return h.hexdigest()[:12]


def hypervisor():
    """The uncompressed Xen image: QEMU's multiboot loader cannot take xen.gz."""
    pkg = cache.unpacked("xen-hypervisor-4.17-amd64")
    gz = next((pkg / "boot").glob("xen-4.17-amd64.gz"))
    out = cache.cache_dir() / "xen" / f"xen-{_key(pkg.name)}"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.parent / (out.name + ".tmp")
        tmp.write_bytes(gzip.decompress(gz.read_bytes()))
        tmp.rename(out)
    return out


def pvgrub2():
    bin_pkg = cache.unpacked("grub-xen-bin")
    common = cache.unpacked("grub-common")
    out = cache.cache_dir() / "xen" / f"pvgrub2-{_key(bin_pkg.name, common.name, PVGRUB_CFG, PVGRUB_MODULES)}.xen"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        cfg = out.with_suffix(".cfg")
        cfg.write_text(PVGRUB_CFG)
        cache.run([str(common / "usr" / "bin" / "grub-mkimage"), "-O", "x86_64-xen",
                   "-d", str(bin_pkg / "usr" / "lib" / "grub" / "x86_64-xen"),
                   "-c", str(cfg), "-p", "(xen/xvda,msdos1)/boot/grub", "-o", str(out)]
                  + PVGRUB_MODULES)
    return out


def dom0_initrd(k):
    pkgs = [cache.unpacked(p) for p in XEN_PKGS]
    sources = [HERE / "xen-dom0-init.sh", HERE / "xen-block-hotplug.sh"]
    out = cache.cache_dir() / "xen" / ("dom0-initrd-" + _key(
        k.release, k.version, *[p.name for p in pkgs], *[s.read_text() for s in sources],
        DOMU_CFG, DOM0_MODULES, pvgrub2().name))
    if out.exists():
        return out
    cache.log(f"building Xen dom0 initramfs ({k.release})")
    stage = out.parent / (out.name + ".stage")
    shutil.rmtree(stage, ignore_errors=True)
    for d in ("bin", "etc/xen/scripts", "usr/lib/kk", "usr/lib/xen-4.17/bin", "lib/kk-modules"):
        (stage / d).mkdir(parents=True)
    shutil.copy2(kernel.busybox(), stage / "bin" / "busybox")
    shutil.copy2(HERE / "xen-dom0-init.sh", stage / "init")
    shutil.copy2(HERE / "xen-block-hotplug.sh", stage / "etc/xen/scripts/block")
    (stage / "etc/xen/kk-domu.cfg").write_text(DOMU_CFG)
    (stage / "etc/xen/xl.conf").write_text("# defaults; hotplug scripts run by libxl\n")
    shutil.copy2(pvgrub2(), stage / "usr/lib/kk/pvgrub2.xen")
    libdirs = [str(p / "usr/lib/x86_64-linux-gnu") for p in pkgs]
    env_ld = ":".join(libdirs)
    utils = cache.unpacked("xen-utils-4.17") / "usr/lib/xen-4.17/bin"
    binaries = [(utils / t, f"usr/lib/xen-4.17/bin/{t}") for t in DOM0_TOOLS]
    xs = cache.unpacked("xenstore-utils") / "usr/bin"
    binaries += [(xs / t, f"usr/bin/{t}") for t in ("xenstore-read", "xenstore-write")]
    for src, dest in binaries:
        guest.install_binary(stage, src, dest, ld_library_path=env_ld)
    # pthread_cancel dlopens libgcc_s; ldd does not list it
    gcc_s = "/lib/x86_64-linux-gnu/libgcc_s.so.1"
    shutil.copy2(gcc_s, stage / "lib" / "x86_64-linux-gnu" / "libgcc_s.so.1")
    for i, path in enumerate(kernel.module_files(k.tree, k.release, DOM0_MODULES)):
        name = f"{i:02d}-{os.path.basename(path)}"
        shutil.copy2(path, stage / "lib/kk-modules" / name)
        with open(stage / "lib/kk-modules/order", "a") as f:
            f.write(name + "\n")
    kernel.write_initramfs(stage, out)
    shutil.rmtree(stage)
    kernel.prune_older(out, "dom0-initrd-")
    return out


def boot(k, disk_path, log_path, timeout=400, echo=False, cpu="max,-smap,-smep"):
    """Xen + dom0 (kernel k) + the PV-GRUB2 domU on disk_path; one run."""
    initrd = dom0_initrd(k)
    xen = hypervisor()
    for p in (k.vmlinuz, initrd):
        if "," in str(p):
            raise RuntimeError(f"QEMU's -initrd list cannot carry a comma: {p}")
    cmd = [qemu.QEMU, "-accel", "tcg", "-cpu", cpu, "-m", "1024",
           "-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none",
           "-serial", "stdio", "-no-reboot",
           "-kernel", str(xen),
           "-append", "console=com1 com1=115200,8n1 dom0_mem=512M,max:512M noreboot",
           "-initrd", f"{k.vmlinuz} console=hvc0 panic=1,{initrd}",
           "-drive", f"file={disk_path},format=raw,if=virtio,cache=unsafe"]
    return qemu.run(cmd, log_path, timeout=timeout, echo=echo, max_kernel_starts=2)


DOMU_TIMEOUT = 300    # dom0 gives up on the domU after this (xen-dom0-init.sh)

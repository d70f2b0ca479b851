"""The guest's root tree: busybox, the kernelkeeper binary with its shared
libraries, /boot with Debian kernels, GRUB Legacy files and menu.lst."""

import os
import pathlib
import re
import shutil
import subprocess

from . import disk, kernel

def root_device(layout):
    disk = "/dev/xvda" if layout.xen else "/dev/vda"
    return disk + ("2" if layout.separate_boot else "1")


def kernel_args(layout, marker):
    """Kernel command line; `marker` (e.g. kk.entry=1) identifies the entry in
    the kernel's own "Command line:" line, which is free of GRUB's escapes."""
    console = "console=hvc0" if layout.xen else "console=ttyS0,115200"
    return f"root={root_device(layout)} ro {console} panic=1 {marker}".strip()


def menu_entry(layout, title, release, marker, initrd=True, kernel_path=None):
    p = layout.grub_prefix
    lines = [f"title {title}", "root (hd0,0)",
             f"kernel {kernel_path or f'{p}/vmlinuz-{release}'} {kernel_args(layout, marker)}"]
    if initrd:
        lines.append(f"initrd {p}/initrd.img-{release}")
    return "\n".join(lines) + "\n"


def menu_header(default=0, fallback=None, serial=True):
    """serial=False for PV-GRUB menus: a PV guest's console is hvc0."""
    text = ("# GRUB Legacy menu written by kernelkeeper's VM tests\n"
            + ("serial --unit=0 --speed=115200\nterminal serial\n" if serial else "")
            + f"timeout 0\ndefault {default}\n")
    if fallback is not None:
        text += f"fallback {fallback}\n"
    return text + "\n"


def automagic_menu(layout, marker="kk.menu=automagic"):
    """A Debian-style menu.lst whose kernel list update-grub owns. kopt puts
    every generated entry on the serial console with panic=1; groot is the
    partition holding /boot."""
    return menu_header(default=0) + f"""### BEGIN AUTOMAGIC KERNELS LIST
## lines between the AUTOMAGIC KERNELS LIST markers will be modified
## by the debian update-grub script except for the default options below

## ## Start Default Options ##
# kopt={kernel_args(layout, marker)}
# groot=(hd0,0)
# alternative=true
# lockalternative=false
# defoptions=
# lockold=false
# altoptions=(single-user mode) single
# howmany=all
# memtest86=false
# updatedefaultentry=false
# savedefault=false
## ## End Default Options ##

### END DEBIAN AUTOMAGIC KERNELS LIST
"""


def default_file(entry=0):
    """/boot/grub/default in grub-set-default's padded format (>= 10 bytes)."""
    return f"{entry}\n" + "#\n" * 10 + (
        "# WARNING: If you want to edit this file directly, do not remove any line\n"
        "# from this file, including this warning. Using `grub-set-default\' is\n"
        "# strongly recommended.\n")


def build_tree(stage, layout, kernels, binary, menu_lst):
    stage = pathlib.Path(stage)
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "dev", "proc", "sys", "tmp", "run",
              "var/lib", "kk", "boot/grub", "lib/modules"):
        (stage / d).mkdir(parents=True, exist_ok=True)
    _install_busybox(stage)
    if binary:
        install_binary(stage, binary)
        install_dlopened(stage)
    (stage / "etc" / "fstab").write_text(
        f"{root_device(layout)} / {'ext4' if layout.separate_boot else layout.fstype} rw 0 1\n"
        + (f"{root_device(layout)[:-1]}1 /boot {layout.fstype} rw 0 2\n"
           if layout.separate_boot else ""))
    (stage / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (stage / "etc" / "group").write_text("root:x:0:\n")
    for k in kernels:
        install_kernel(stage, k)
    grub_dir = stage / "boot" / "grub"
    src = disk.grub_legacy() / "usr" / "lib" / "grub" / "x86_64-pc"
    for name in ("stage1", "stage2", "e2fs_stage1_5"):
        shutil.copy2(src / name, grub_dir / name)
    (grub_dir / "menu.lst").write_text(menu_lst)
    (grub_dir / "default").write_text(default_file())
    (grub_dir / "device.map").write_text(f"(hd0)\t{root_device(layout)[:-1]}\n")


def install_kernel(stage, k):
    boot = pathlib.Path(stage) / "boot"
    shutil.copy2(k.vmlinuz, boot / f"vmlinuz-{k.release}")
    shutil.copy2(k.config, boot / f"config-{k.release}")
    shutil.copy2(k.initrd, boot / f"initrd.img-{k.release}")


def _install_busybox(stage):
    bb = kernel.busybox()
    shutil.copy2(bb, stage / "bin" / "busybox")
    applets = subprocess.run([str(bb), "--list-full"], capture_output=True, text=True,
                             check=True).stdout.split()
    for rel in applets:
        link = stage / rel
        if not link.exists() and not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to("/bin/busybox")


def install_binary(stage, binary, dest="usr/sbin/kernelkeeper", ld_library_path=None):
    """Copy a dynamically linked host binary plus every library ldd names
    (libraries found through ld_library_path go to /lib/x86_64-linux-gnu)."""
    stage = pathlib.Path(stage)
    target = stage / dest
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(binary, target)
    env = dict(os.environ, LD_LIBRARY_PATH=ld_library_path) if ld_library_path else None
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True,
                         env=env).stdout
    if "not found" in out:
        raise RuntimeError(f"{binary}: libraries not found:\n{out}")
    for path in re.findall(r"(/\S+) \(0x", out):
        real = os.path.realpath(path)
        if ld_library_path and any(path.startswith(d) for d in ld_library_path.split(":")):
            path = "/lib/x86_64-linux-gnu/" + os.path.basename(path)
        dst = stage / path.lstrip("/")
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.exists():
            shutil.copy2(real, dst)


# kernelkeeper dlopen()s these on first use (the idle daemon maps none of them): ldd of the binary
# does not list them, so they and what they link are copied on their own.
DLOPENED = ("libcurl.so.4", "libcrypto.so.3", "libkmod.so.2")


def install_dlopened(stage):
    for lib in DLOPENED:
        path = next(p for p in ("/usr/lib/x86_64-linux-gnu/" + lib, "/lib/x86_64-linux-gnu/" + lib)
                    if os.path.exists(p))
        install_binary(stage, path, dest="usr/lib/x86_64-linux-gnu/" + lib)

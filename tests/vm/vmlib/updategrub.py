"""Run Debian's real, unmodified update-grub (grub-legacy) on a guest's /boot
tree from the host.

update-grub works on the absolute paths /boot and /, and decides whether
kernels are "/boot/vmlinuz-X" or "/vmlinuz-X" by comparing the filesystems
of /boot and /. So it runs chrooted into a tmpfs that holds a copy of the
guest's /boot (a second tmpfs on /boot when the guest has a separate /boot
partition) plus the host's /usr, inside a private mount namespace so nothing
leaks to the host. Only grub-probe is replaced (see grub-probe)."""

import os
import pathlib
import subprocess

from . import disk

HERE = pathlib.Path(__file__).resolve().parent

_SCRIPT = r'''
set -eu
R=$(mktemp -d /tmp/kk-update-grub.XXXXXX)
mount -t tmpfs kk-update-grub "$R"
mkdir -p "$R/usr" "$R/etc" "$R/dev" "$R/proc" "$R/tmp" "$R/boot" "$R/kk/grub" "$R/kk/shim"
mount --bind /usr "$R/usr"
for d in bin sbin lib lib32 lib64; do
	if [ -L "/$d" ]; then cp -P "/$d" "$R/$d"
	elif [ -d "/$d" ]; then mkdir "$R/$d"; mount --bind "/$d" "$R/$d"; fi
done
cp /etc/ld.so.cache "$R/etc/" 2>/dev/null || true
mount --bind /dev "$R/dev"
mount -t proc proc "$R/proc"
mount --bind "$GRUB_PKG" "$R/kk/grub"
cp "$SHIM" "$R/kk/shim/grub-probe"
if [ "$SEPARATE" = 1 ]; then mount -t tmpfs kk-boot "$R/boot"; fi
cp -a "$TREE/." "$R/boot/"
chroot "$R" /usr/bin/env -i PATH=/kk/shim:/kk/grub/usr/sbin:/usr/sbin:/usr/bin:/sbin:/bin \
	KK_PROBE_ROOT="$PROBE_ROOT" KK_PROBE_BOOT="$PROBE_BOOT" update-grub -y
cp "$R/boot/grub/menu.lst" "$TREE/grub/menu.lst"
'''


def run(boot_tree, layout):
    """Regenerate boot_tree/grub/menu.lst (boot_tree = the guest's /boot)."""
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "TREE": str(boot_tree),
        "GRUB_PKG": str(disk.grub_legacy()),
        "SHIM": str(HERE / "grub-probe"),
        "SEPARATE": "1" if layout.separate_boot else "0",
        "PROBE_ROOT": "/dev/vda2" if layout.separate_boot else "/dev/vda1",
        "PROBE_BOOT": "/dev/vda1",
    }
    # not root: a user namespace maps us to root for the mounts and chroot
    userns = ["--map-root-user"] if os.geteuid() != 0 else []
    res = subprocess.run(["unshare", "-m", "--propagation", "private"] + userns
                         + ["sh", "-c", _SCRIPT], env=env, capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(f"update-grub failed ({res.returncode}):\n{res.stdout}{res.stderr}")
    return res.stdout + res.stderr

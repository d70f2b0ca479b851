#!/bin/sh
# Host packages the real-boot suite (tests/vm) needs; idempotent.
# Guest-side packages (kernels, grub-legacy, busybox, Xen) are NOT installed on
# the host: build-images fetches them with `apt-get download` into its cache
# and unpacks them with dpkg -x, so the host's own boot setup is never touched.
set -eu

PACKAGES="
qemu-system-x86
seabios
fdisk
e2fsprogs
libc6-i386
qemu-user
cpio
kmod
python3
libdevmapper1.02.1
strace
mmdebstrap
dpkg-dev
debhelper
"
# qemu-system-x86: the VM (TCG); seabios: the BIOS that runs GRUB Legacy's MBR.
# fdisk: sfdisk (partition table without loop devices).
# e2fsprogs: mke2fs -d / debugfs (filesystems without mounting).
# libc6-i386: the grub-legacy shell is a 32-bit binary; qemu-user (qemu-i386)
#   runs it on hosts whose kernel cannot execute 32-bit code.
# cpio: initramfs archives; kmod: depmod/modprobe for the guest's module tree.
# libdevmapper1.02.1: needed by the unpacked grub-common's grub-mkimage (PV-GRUB2).
# strace: kills `kernel trial` in the guest at its Nth rename (power-cut points of the trial scenario).
# mmdebstrap: the real Debian 12 guest (vmlib/debian_guest.py) from the Debian archive;
#   dpkg-dev + debhelper: the kernelkeeper .deb it installs (tests/package/build-deb).

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
# build-images resolves guest package versions from the local apt lists
need_update=0
apt-cache policy linux-image-amd64 2>/dev/null | grep -q 'Candidate: [0-9]' || need_update=1
[ -z "$missing" ] && [ "$need_update" = 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "tests/vm/deps.sh: missing packages:${missing:- none} (apt lists stale: $need_update); run as root" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
[ -z "$missing" ] || apt-get install -y -qq --no-install-recommends $missing

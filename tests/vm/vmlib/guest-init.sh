#!/bin/busybox sh
# /init of the test initramfs. Markers "KK:..." on the serial console are what
# the host-side runner asserts on; keep their format in sync with qemu.py.
/bin/busybox mkdir -p /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "KK:RELEASE=$(uname -r)"
echo "KK:CMDLINE=$(cat /proc/cmdline)"

while read -r m; do
	# ENODEV = hardware absent (crc32c-intel without SSE4.2): not an error
	insmod "/lib/kk-modules/$m" 2>&1 | grep -v 'No such device' | sed "s/^/KK:INSMOD-FAILED $m: /"
done < /lib/kk-modules/order

root=
for arg in $(cat /proc/cmdline); do
	case "$arg" in root=*) root="${arg#root=}" ;; esac
done
i=0
while [ ! -b "$root" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
# No -t: busybox probes ext3 before ext4, so /proc/mounts names the real type.
if ! mount -o rw "$root" /newroot; then
	echo "KK:ERROR=cannot mount root '$root'"
	poweroff -f
fi
echo "KK:ROOTFS=$(awk '$2 == "/newroot" { print $3 }' /proc/mounts)"
for d in dev proc sys; do mount --bind /$d /newroot/$d; done
# A separate /boot (or anything else) comes from the disk's own fstab.
chroot /newroot /bin/busybox mount -a -t ext2,ext3,ext4

# QEMU user networking with net=169.254.0.0/16: the metadata address is on-link.
if [ -e /sys/class/net/eth0 ]; then
	ip link set lo up
	ip link set eth0 up
	ip addr add 169.254.0.15/16 dev eth0
	i=0
	while [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" != 1 ] && [ $i -lt 50 ]; do
		sleep 0.1; i=$((i + 1))
	done
fi

# Keep kernel messages from interleaving with the step's output.
dmesg -n 1
if [ -f /newroot/kk/step ]; then
	echo "KK:STEP-BEGIN"
	chroot /newroot /bin/sh /kk/step
	echo "KK:STEP-RC=$?"
else
	echo "KK:NO-STEP"
fi

if [ -e /newroot/kk/power-cut ]; then
	# The step asked for a power cut without unmount. fsync of /kk commits the
	# journal (Linux replays it and finds the next step); a global sync or
	# syncfs would also write the metadata in place, which is exactly what is
	# under test: GRUB, which does not replay the journal, must see only what
	# the step's own writes put in place.
	rm -f /newroot/kk/power-cut
	sync /newroot/kk
	echo "KK:POWER-CUT"
	poweroff -f -n
fi
sync
# A clean unmount, as at a real shutdown (busybox-static has no mountpoint).
mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; }
for m in /newroot/boot /newroot/dev /newroot/proc /newroot/sys /newroot; do
	mounted "$m" && umount "$m"
done
mounted /newroot && mount -o remount,ro /newroot
sync
echo "KK:POWEROFF"
poweroff -f

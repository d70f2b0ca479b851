#!/bin/busybox sh
# /init of the Xen dom0 initramfs: start the toolstack, run the test domU
# (PV-GRUB2 from the domU disk = QEMU's virtio disk /dev/vda) with its console
# on ours, then power the machine off. Markers: KK:DOM0-*, the domU's own KK:*.
/bin/busybox mkdir -p /sbin /usr/bin /usr/sbin /proc /sys /dev /tmp
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
echo "KK:DOM0-RELEASE=$(uname -r)"
while read -r m; do
	insmod "/lib/kk-modules/$m" 2>&1 | grep -v 'No such device' | sed "s/^/KK:DOM0-INSMOD-FAILED $m: /"
done < /lib/kk-modules/order
mount -t xenfs xenfs /proc/xen
mkdir -p /var/run/xen /var/run/xenstored /var/lib/xen /var/lib/xenstored /var/log/xen /var/lock
X=/usr/lib/xen-4.17/bin
$X/xenstored --pid-file=/var/run/xenstored.pid
# without xen-init-dom0, xl fails with "Illegal pool specified"
$X/xen-init-dom0 || echo "KK:DOM0-ERROR=xen-init-dom0 failed"
$X/xenconsoled --pid-file=/var/run/xenconsoled.pid
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
echo "KK:DOM0-READY"
# bounded, so a hung domU ends in a dom0 power-off, not a QEMU timeout
timeout 300 $X/xl create -c /etc/xen/kk-domu.cfg
echo "KK:DOM0-XL-RC=$?"
$X/xl list | sed 's/^/KK:DOM0-LIST /'
echo "KK:DOM0-POWEROFF"
poweroff -f

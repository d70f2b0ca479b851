/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "install/image.h"

/* Where a kernel goes and how GRUB names it: pure decisions from facts handed in. */

/* A release as it may appear in file names: [A-Za-z0-9._+~-], 1..64 bytes, not starting with '.'
 * or '-'. */
bool install_release_valid(const char *release);

/* The menu.lst path of a file in /boot: "/vmlinuz-REL" when /boot is its own partition (GRUB's root
 * is that partition), "/boot/vmlinuz-REL" otherwise. Newly allocated. */
char *install_grub_path(bool separate_boot, const char *file_name);

/* The `root` of the new entry: the current default entry's own (it boots, so it names the right
 * device) when it has one; else from the partition /boot lives on: partno > 0 -> "(hd0,partno-1)",
 * partno < 0 (a whole disk without a partition table, as EC2's /dev/xvda1 often is) -> "(hd0)";
 * partno == 0 (unknown) -> NULL (no root line: GRUB's current root). Newly allocated or NULL. */
char *install_root_device(const char *default_root, int partno);

/* The device (major:minor) of the mount at mount_point (a path as mountinfo shows it) in a
 * /proc/self/mountinfo text: 0, or -ENOENT if nothing is mounted there. The last mount wins (it
 * hides the ones below). */
int mountinfo_device(const char *mountinfo, const char *mount_point, dev_t *ret);

/* With libblkid: the partition number of devno on its disk (1-based), or -1 when devno is a whole
 * disk; -ENODEV if libblkid cannot tell. */
int block_partition_number(dev_t devno, int *ret_partno);

/* Free space needed for files of `need` bytes: need plus a margin (a tenth, at least 4 MiB: the
 * initramfs tools and the next update write there too). */
uint64_t install_space_needed(uint64_t need);

/* A Xen PV guest, from /sys/hypervisor/type ("xen"), /sys/hypervisor/guest_type ("PV", "HVM",
 * "PVH"; since Linux 4.13) and whether /proc/xen exists (older kernels: xenfs there and no
 * guest_type means PV). NULL for a file that is missing. */
bool xen_pv_guest(const char *hypervisor_type, const char *guest_type, bool proc_xen);

/* Can the kernel boot as a Xen PV guest? TRI_YES from its config (CONFIG_XEN_PV=y) or its Xen ENTRY
 * note, TRI_NO when the config says not set or the notes were read and have none, TRI_UNKNOWN when
 * neither could be read. The config wins over the notes when both are known (they agree on every
 * Debian kernel). */
Tristate install_xen_pv_capable(const KernelImage *image, const char *config_text);

/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <blkid.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "common/macro.h"
#include "install/layout.h"

bool install_release_valid(const char *release)
{
        size_t n = release ? strlen(release) : 0;
        if (n == 0 || n > 64 || release[0] == '.' || release[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = release[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("._+~-", c)))
                        return false;
        }
        return true;
}

char *install_grub_path(bool separate_boot, const char *file_name)
{
        char *p;
        return asprintf(&p, "%s/%s", separate_boot ? "" : "/boot", file_name) < 0 ? NULL : p;
}

char *install_root_device(const char *default_root, int partno)
{
        char *r = NULL;
        if (default_root)
                return strdup(default_root);
        if (partno > 0)
                return asprintf(&r, "(hd0,%d)", partno - 1) < 0 ? NULL : r;
        if (partno < 0)
                return strdup("(hd0)");
        return NULL;
}

/* mountinfo escapes blanks and backslashes as \ooo */
static void unescape(char *s)
{
        char *w = s;
        for (char *p = s; *p; p++) {
                if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
                    p[3] <= '7') {
                        *w++ = (char) ((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
                        p += 3;
                } else
                        *w++ = *p;
        }
        *w = 0;
}

int mountinfo_device(const char *mountinfo, const char *mount_point, dev_t *ret)
{
        bool found = false;
        dev_t dev = 0;
        const char *l = mountinfo;
        while (l && *l) {
                const char *e = strchr(l, '\n');
                size_t n = e ? (size_t) (e - l) : strlen(l);
                _cleanup_free_ char *line = strndup(l, n);
                if (!line)
                        return -ENOMEM;
                unsigned maj, min;
                char mp[4096];
                /* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... */
                if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &maj, &min, mp) == 3) {
                        unescape(mp);
                        if (streq(mp, mount_point)) {
                                found = true;
                                dev = makedev(maj, min);
                        }
                }
                l = e ? e + 1 : NULL;
        }
        if (!found)
                return -ENOENT;
        *ret = dev;
        return 0;
}

int block_partition_number(dev_t devno, int *ret_partno)
{
        dev_t disk = 0;
        char name[256];
        if (blkid_devno_to_wholedisk(devno, name, sizeof name, &disk) < 0)
                return -ENODEV;
        if (disk == devno) {
                *ret_partno = -1;
                return 0;
        }
        char path[128];
        snprintf(path, sizeof path, "/sys/dev/block/%u:%u/partition", major(devno), minor(devno));
        FILE *f = fopen(path, "re");
        int n = 0;
        bool ok = f && fscanf(f, "%d", &n) == 1 && n > 0;
        if (f)
                fclose(f);
        if (!ok)
                return -ENODEV;
        *ret_partno = n;
        return 0;
}

uint64_t install_space_needed(uint64_t need)
{
        uint64_t margin = MAX(need / 10, (uint64_t) 4 << 20);
        return need + margin;
}

bool xen_pv_guest(const char *hypervisor_type, const char *guest_type, bool proc_xen)
{
        if (!hypervisor_type || strncmp(hypervisor_type, "xen", 3) != 0)
                return false;
        if (guest_type)
                return strncmp(guest_type, "PV", 2) == 0 && strncmp(guest_type, "PVH", 3) != 0;
        return proc_xen;
}

Tristate install_xen_pv_capable(const KernelImage *image, const char *config_text)
{
        Tristate c = config_text ? kconfig_get(config_text, "CONFIG_XEN_PV") : TRI_UNKNOWN;
        if (c != TRI_UNKNOWN)
                return c;
        return image ? image->xen_pv : TRI_UNKNOWN;
}

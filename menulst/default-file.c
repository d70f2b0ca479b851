/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "common/macro.h"
#include "menulst/menulst.h"

bool menulst_parse_default_file(const char *data, size_t size, int *ret_entry, int *ret_once_restore)
{
        /* GRUB reads 10 bytes and terminates the 10th, so at most 9 characters count */
        char buf[10] = {};
        memcpy(buf, data, MIN(size, sizeof buf - 1));
        const char *p = buf;
        int entry, restore = -1;
        if (!menulst_parse_int(&p, &entry))
                return false;
        if (*p == ':') {
                /* Debian's one-shot "A:B": boot B now, savedefault writes A back */
                const char *q = p + 1;
                int once;
                if (menulst_parse_int(&q, &once)) {
                        restore = entry;
                        entry = once;
                }
        }
        *ret_entry = entry;
        if (ret_once_restore)
                *ret_once_restore = restore;
        return true;
}

int menulst_format_default_file(int entry, char **ret_data, size_t *ret_size)
{
        char *s;
        /* the same padding as grub-set-default: GRUB overwrites the first bytes in place */
        int n = asprintf(&s, "%d\n#\n#\n#\n#\n#\n#\n#\n#\n#\n#\n", entry);
        if (n < 0)
                return -ENOMEM;
        *ret_data = s;
        *ret_size = (size_t) n;
        return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Both loaders' boot simulation and the grubenv format on arbitrary bytes. The input is a menu.lst;
 * its first bytes also choose the armed entry and the loader of each of three boots.
 * - every boot hands off to an entry that exists, or to none;
 * - the loaders rewrite their state files in place: the `default` file keeps its size, a grubenv block
 *   stays a block of 1024 bytes;
 * - the input read as a grubenv block: a variable set is read back unchanged, others stay. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/loader.h"
#include "common/macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void grubenv_roundtrip(const uint8_t *data, size_t size)
{
        char block[MENULST_GRUBENV_SIZE];
        memset(block, '#', sizeof block);
        memcpy(block, data, MIN(size, sizeof block));
        char *value = NULL, *set = NULL, *back = NULL;
        int r = menulst_grubenv_get(block, sizeof block, "saved_entry", &value);
        if (r < 0 && r != -EBADMSG && r != -ENOENT && r != -ENOMEM)
                abort();
        _cleanup_free_ char *v = strndup((const char *) data, MIN(size, (size_t) 64));
        if (!v)
                return;
        r = menulst_grubenv_set(r == -EBADMSG ? NULL : block, sizeof block, "kk_fuzz", v, &set);
        if (r >= 0) {
                if (memchr(set, 0, MENULST_GRUBENV_SIZE) || menulst_grubenv_get(set, MENULST_GRUBENV_SIZE, "kk_fuzz", &back) < 0 ||
                    !streq(back, v))
                        abort();
                char *again = NULL;
                if (value && (menulst_grubenv_get(set, MENULST_GRUBENV_SIZE, "saved_entry", &again) < 0 ||
                              !streq(again, value)))
                        abort();
                free(again);
        } else if (r != -E2BIG && r != -ENOMEM)
                abort();
        free(value);
        free(set);
        free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        grubenv_roundtrip(data, size);

        MenuLst *m = NULL;
        if (menulst_parse((const char *) data, size, &m) < 0)
                return 0;
        unsigned sel = size ? data[0] : 0;
        BootFiles f = {};
        char num[8];
        snprintf(num, sizeof num, "%u", sel % 5);
        if (menulst_format_default_file((int) (sel % 5), &f.default_file, &f.default_size) < 0 ||
            menulst_grubenv_set(NULL, 0, "saved_entry", num, &f.grubenv) < 0)
                abort();
        f.grubenv_size = MENULST_GRUBENV_SIZE;
        size_t default_size = f.default_size;

        MenuInfo *info = NULL;
        MenuEvalOptions o = { .dialect = MENU_DIALECT_GRUB };
        if (menulst_evaluate(m, &o, &info) < 0)
                abort();
        for (int boot = 0; boot < 3; boot++) {
                BootLoader l = (sel >> (boot + 3)) & 1 ? BOOT_LOADER_PVGRUB2 : BOOT_LOADER_GRUB097;
                BootOutcome out;
                if (boot_simulate(l, m, &f, NULL, NULL, &out) < 0)
                        abort();
                if (out.entry < -1 || out.entry >= (int) info->n_entries || out.after.default_size != default_size ||
                    out.after.grubenv_size != MENULST_GRUBENV_SIZE || memchr(out.after.grubenv, 0, MENULST_GRUBENV_SIZE))
                        abort();
                boot_files_done(&f);
                f = out.after;
        }
        boot_files_done(&f);
        menu_info_free(info);
        menulst_free(m);
        return 0;
}

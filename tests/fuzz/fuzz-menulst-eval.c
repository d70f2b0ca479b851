/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Properties of the semantic pass and the edits on arbitrary files:
 * - the default is an entry (or -1 with none) and every fallback is an entry;
 * - setting default/fallback by the edit API makes GRUB resolve exactly those;
 * - removing an entry leaves one entry fewer; adding one leaves one more. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/macro.h"
#include "menulst/menulst.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_info(const MenuInfo *info)
{
        int n = (int) info->n_entries;
        if (n == 0 ? info->default_entry != -1 : (info->default_entry < 0 || info->default_entry >= n))
                abort();
        for (size_t i = 0; i < info->n_fallback; i++)
                if (info->fallback[i] < 0 || info->fallback[i] >= n)
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_(menulst_freep) MenuLst *m = NULL;
        if (menulst_parse((const char *) data, size, &m) < 0)
                return 0;
        MenuDialect dialect = size > 0 && (data[0] & 1) ? MENU_DIALECT_PVGRUB : MENU_DIALECT_GRUB;
        MenuEvalOptions o = { .dialect = dialect, .default_file = size > 4 ? (const char *) data : NULL,
                              .default_file_size = size > 12 ? 12 : size };
        _cleanup_(menu_info_freep) MenuInfo *info = NULL;
        if (menulst_evaluate(m, &o, &info) < 0)
                abort();
        check_info(info);
        if (info->n_entries < 2 || info->default_saved)
                return 0;

        /* pin the last entry with the first as fallback */
        int want = (int) info->n_entries - 1;
        char num[16];
        snprintf(num, sizeof num, "%d", want);
        if (menulst_set_global(m, dialect, "default", num) < 0 || menulst_set_global(m, dialect, "fallback", "0") < 0)
                abort();
        _cleanup_(menu_info_freep) MenuInfo *after = NULL;
        if (menulst_evaluate(m, &o, &after) < 0)
                abort();
        check_info(after);
        if (after->n_entries != info->n_entries || after->default_entry != want || after->n_fallback != 1 ||
            after->fallback[0] != 0)
                abort();

        if (menulst_remove_entry(m, after, 0) < 0)
                abort();
        _cleanup_(menu_info_freep) MenuInfo *removed = NULL;
        if (menulst_evaluate(m, &o, &removed) < 0 || removed->n_entries != after->n_entries - 1)
                abort();
        const char *lines[] = { "title fuzz", "kernel /vmlinuz-fuzz", NULL };
        if (menulst_add_entry(m, removed, lines, -1) < 0)
                abort();
        _cleanup_(menu_info_freep) MenuInfo *added = NULL;
        if (menulst_evaluate(m, &o, &added) < 0 || added->n_entries != removed->n_entries + 1)
                abort();
        return 0;
}

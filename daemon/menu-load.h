/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <sys/stat.h>

#include "daemon/context.h"
#include "menulst/menulst.h"

/* menu.lst of the tree as GRUB will read it, with the file facts needed to write it back safely. */
typedef struct LoadedMenu {
        char *path;          /* host path of the real file (a menu.lst -> grub.conf link resolved) */
        char *default_path;  /* host path of the 'default' file next to it */
        char *data;
        size_t size;
        struct stat st;      /* of the file we read, to notice a writer racing us */
        char *default_data;  /* NULL if the file is missing */
        size_t default_size;
        MenuLst *menu;
        MenuInfo *info;      /* warnings include the filesystem checks */
        MenuFs fs;
} LoadedMenu;

LoadedMenu *loaded_menu_free(LoadedMenu *lm);
static inline void loaded_menu_freep(LoadedMenu **lm)
{
        loaded_menu_free(*lm);
}

/* Loads and evaluates; logs one clear error line and returns <0 on failure. */
int menu_load(const Context *ctx, LoadedMenu **ret);

/* Evaluates a (changed) menu and default file the way GRUB will, with filesystem checks. */
int menu_evaluate(const Context *ctx, const LoadedMenu *lm, const MenuLst *m, const char *default_data,
                  size_t default_size, MenuInfo **ret);

/* Refuses (logged, -EINVAL) when the 'default' file could not be replaced: something other than a
 * regular file is there (a link whose target is missing in the tree). For checks before anything
 * is written. */
int menu_check_default_writable(const LoadedMenu *lm);

/* Writes a new menu (and/or default file) after checking that GRUB's default would load a kernel
 * that exists. Refuses (-EBUSY) if the file changed since it was loaded. evaluated (may be NULL) is
 * menu_evaluate()'s result for exactly this menu and default file, if the caller has it. Logs its
 * errors. */
int menu_write(const Context *ctx, const LoadedMenu *lm, const MenuLst *m, const char *default_data,
               size_t default_size, const MenuInfo *evaluated);

/* The edit of menu_write_boot_order() without the write: base (evaluated as base_info) changed so
 * that GRUB boots default_entry and then the fallback list; *ret_default_file is the new `default`
 * file under `default saved` (NULL when it does not change). Verified the GRUB way; logs its errors. */
int menu_plan_boot_order(const Context *ctx, const LoadedMenu *lm, const MenuLst *base, const MenuInfo *base_info,
                         int default_entry, const int *fallback, size_t n_fallback, MenuLst **ret_menu,
                         char **ret_default_file, size_t *ret_default_size, MenuInfo **ret_after);

/* Makes GRUB boot default_entry first and then the fallback list (left alone when fallback is NULL):
 * edits the default/fallback lines of a copy of base, or the 'default' file under `default saved`;
 * verifies the result the way GRUB reads it and writes it with menu_write(). *ret_after (may be
 * NULL) gets the evaluation of what was written. Logs its errors. */
int menu_write_boot_order(const Context *ctx, const LoadedMenu *lm, const MenuLst *base, int default_entry,
                          const int *fallback, size_t n_fallback, MenuInfo **ret_after);

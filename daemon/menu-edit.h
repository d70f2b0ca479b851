/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "daemon/menu-load.h"

typedef struct NewEntry {
        const char *title, *kernel, *initrd, *args, *root_device;
        bool first; /* before every other entry instead of after the last one */
} NewEntry;

/* Adds or removes an entry and renumbers default/fallback (or the 'default' file) so GRUB boots
 * the same entries as before. Removing the default or a fallback is refused. Logs its errors. */
int menu_add_entry(const Context *ctx, const NewEntry *e);
/* Checks every value of e as menu_add_entry() does, before anything is read: -EINVAL (logged) for
 * a missing --title/--kernel or a value that cannot go into menu.lst. */
int menu_check_new_entry(const NewEntry *e);
int menu_remove_entry(const Context *ctx, const char *selector);

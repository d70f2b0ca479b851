/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "common/macro.h"
#include "common/strv.h"
#include "daemon/log.h"
#include "daemon/menu-edit.h"

/* After entries moved (map[old] = new index, -1 for gone), make GRUB boot the same entries. */
static int keep_boot_order(const Context *ctx, const LoadedMenu *lm, MenuLst *m, const int *map)
{
        const MenuInfo *info = lm->info;
        int fb[MENULST_MAX_FALLBACK];
        for (size_t i = 0; i < info->n_fallback; i++)
                fb[i] = map[info->fallback[i]];
        return menu_write_boot_order(ctx, lm, m, map[info->default_entry], fb, info->n_fallback, NULL);
}

/* The entry's menu.lst lines, every value checked by the menulst library; a value that cannot go
 * into menu.lst is logged and gives -EINVAL. */
static int new_entry_lines(const NewEntry *e, char ***ret_lines)
{
        const struct {
                const char *option;
                MenuValueKind kind;
                const char *value;
                bool required;
        } values[] = {
                { "--title", MENU_VALUE_TITLE, e->title, true },
                { "--kernel", MENU_VALUE_PATH, e->kernel, true },
                { "--initrd", MENU_VALUE_PATH, e->initrd, false },
                { "--args", MENU_VALUE_ARGS, e->args, false },
                { "--root-device", MENU_VALUE_ROOT_DEVICE, e->root_device, false },
        };
        const char *why;
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                if (!values[i].value && values[i].required)
                        return log_error_errno(EINVAL, "'menu add' needs %s", values[i].option);
                if (values[i].value && menulst_check_value(values[i].kind, values[i].value, &why) < 0)
                        return log_error_errno(EINVAL, "%s %s", values[i].option, why);
        }

        _cleanup_strv_free_ char **lines = NULL;
        int r = strv_pushf(&lines, "title %s", e->title);
        if (r >= 0 && e->root_device)
                r = strv_pushf(&lines, "root %s", e->root_device);
        if (r >= 0)
                r = strv_pushf(&lines, "kernel %s%s%s", e->kernel, e->args ? " " : "", e->args ? e->args : "");
        if (r >= 0 && e->initrd)
                r = strv_pushf(&lines, "initrd %s", e->initrd);
        if (r < 0)
                return log_oom();
        for (char **l = lines; *l; l++)
                if (menulst_check_value(MENU_VALUE_LINE, *l, &why) < 0)
                        return log_error_errno(EINVAL, "The new '%.*s' line %s", (int) strcspn(*l, " "), *l, why);
        *ret_lines = TAKE_PTR(lines);
        return 0;
}

int menu_check_new_entry(const NewEntry *e)
{
        _cleanup_strv_free_ char **lines = NULL;
        return new_entry_lines(e, &lines);
}

static bool streq_null(const char *a, const char *b)
{
        return a == b || (a && b && streq(a, b));
}

static bool same_entry(const MenuEntry *x, const NewEntry *e)
{
        return streq_null(x->kernel, e->kernel) && streq_null(x->initrd, e->initrd) &&
               streq(x->args, e->args ? e->args : "") && streq_null(x->root, e->root_device);
}

int menu_add_entry(const Context *ctx, const NewEntry *e)
{
        _cleanup_strv_free_ char **lines = NULL;
        int r = new_entry_lines(e, &lines);
        if (r < 0)
                return r;
        _cleanup_(loaded_menu_freep) LoadedMenu *lm = NULL;
        r = menu_load(ctx, &lm);
        if (r < 0)
                return r;
        const MenuInfo *info = lm->info;

        /* a title names one entry: adding it again is a no-op (a re-run after a cut-off add), adding
         * it with other contents an error */
        for (size_t i = 0; i < info->n_entries; i++) {
                const MenuEntry *x = &info->entries[i];
                if (!streq(x->title, e->title))
                        continue;
                if (same_entry(x, e)) {
                        log_info("'%s' is already in menu.lst (%s, entry %zu); nothing to add", e->title, lm->path, i);
                        return 0;
                }
                return log_error_errno(EEXIST, "%s already has an entry titled '%s' (entry %zu) with another kernel, initrd, command line or root; a title must name one entry",
                                       lm->path, e->title, i);
        }

        _cleanup_(menulst_freep) MenuLst *m = menulst_copy(lm->menu);
        if (!m)
                return log_oom();
        r = menulst_add_entry(m, info, (const char *const *) lines, e->first && info->n_entries ? 0 : -1);
        if (r < 0)
                return log_error_errno(r, "Cannot add the entry: %m");
        if (info->n_entries == 0)
                return menu_write(ctx, lm, m, NULL, 0, NULL);

        _cleanup_free_ int *map = calloc(info->n_entries, sizeof(int));
        if (!map)
                return log_oom();
        for (size_t i = 0; i < info->n_entries; i++)
                map[i] = (int) i + (e->first ? 1 : 0);
        r = keep_boot_order(ctx, lm, m, map);
        if (r < 0)
                return r;
        log_info("Added '%s' to %s", e->title, lm->path);
        return 0;
}

int menu_remove_entry(const Context *ctx, const char *selector)
{
        _cleanup_(loaded_menu_freep) LoadedMenu *lm = NULL;
        int r = menu_load(ctx, &lm);
        if (r < 0)
                return r;
        const MenuInfo *info = lm->info;
        MenuSelectError e;
        int idx;
        if (menulst_select(info, selector, &e, &idx) < 0)
                return log_error_errno(e == MENU_SELECT_AMBIGUOUS ? EEXIST : ENOENT, "%s '%s' in %s",
                                       e == MENU_SELECT_AMBIGUOUS ? "Several entries match" : "No entry matches",
                                       selector, lm->path);
        bool in_use = idx == info->default_entry;
        for (size_t i = 0; i < info->n_fallback; i++)
                in_use = in_use || info->fallback[i] == idx;
        if (in_use)
                return log_error_errno(EBUSY, "Entry %d '%s' is GRUB's default or a fallback; pin another entry first",
                                       idx, info->entries[idx].title);

        _cleanup_(menulst_freep) MenuLst *m = menulst_copy(lm->menu);
        if (!m)
                return log_oom();
        r = menulst_remove_entry(m, info, idx);
        if (r < 0)
                return log_error_errno(r, "Cannot remove the entry: %m");
        _cleanup_free_ int *map = calloc(info->n_entries, sizeof(int));
        if (!map)
                return log_oom();
        for (size_t i = 0; i < info->n_entries; i++)
                map[i] = (int) i < idx ? (int) i : (int) i == idx ? -1 : (int) i - 1;
        r = keep_boot_order(ctx, lm, m, map);
        if (r < 0)
                return r;
        log_info("Removed entry %d '%s' from %s", idx, info->entries[idx].title, lm->path);
        return 0;
}

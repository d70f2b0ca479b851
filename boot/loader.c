/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "boot/loader.h"
#include "common/macro.h"

void boot_files_done(BootFiles *f)
{
        free(f->default_file);
        free(f->grubenv);
        *f = (BootFiles){};
}

static int dup_bytes(const char *data, size_t size, char **ret)
{
        *ret = NULL;
        if (!data)
                return 0;
        char *p = malloc(size + 1);
        if (!p)
                return -ENOMEM;
        memcpy(p, data, size);
        p[size] = 0;
        *ret = p;
        return 0;
}

int boot_files_copy(const BootFiles *f, BootFiles *ret)
{
        BootFiles c = { .default_size = f->default_size, .grubenv_size = f->grubenv_size };
        if (dup_bytes(f->default_file, f->default_size, &c.default_file) < 0 ||
            dup_bytes(f->grubenv, f->grubenv_size, &c.grubenv) < 0) {
                boot_files_done(&c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

void boot_outcome_done(BootOutcome *o)
{
        boot_files_done(&o->after);
        o->entry = -1;
}

static bool entry_loads(const MenuInfo *info, int i, BootLoadsFunc loads, void *userdata)
{
        const MenuEntry *e = &info->entries[i];
        if (e->fail_reason || (!e->kernel && !e->chainloader))
                return false;
        return !loads || loads(info, i, userdata);
}

/* builtins.c:savedefault_func(): the number to save, or false where GRUB fails the entry. */
static bool grub097_saved_number(const MenuInfo *info, const MenuEntry *e, int once_restore, int *ret)
{
        const char *arg = e->savedefault_arg;
        if (!arg || !*arg) {
                /* Debian's "A:B" one-shot: the booted entry's savedefault writes A back */
                *ret = once_restore >= 0 ? once_restore : e->index;
                return true;
        }
        if (strneq(arg, "fallback", 8)) {
                size_t next = 0;
                for (size_t i = 0; i < info->n_fallback_list; i++)
                        if (info->fallback_list[i] == e->index) {
                                next = i + 1;
                                break;
                        }
                if (next >= info->n_fallback_list)
                        return false; /* Error 30: the entry is the last one */
                *ret = info->fallback_list[next];
                return true;
        }
        return menulst_parse_int(&arg, ret);
}

/* Both loaders start from GRUB 0.97's numbering of the entries (with the default file only where the
 * loader reads it) and leave the state files as they found them unless they save. */
static int simulate_begin(const MenuLst *m, const BootFiles *files, bool read_default_file, MenuInfo **ret_info,
                          BootOutcome *ret_out)
{
        MenuEvalOptions o = { .dialect = MENU_DIALECT_GRUB };
        if (read_default_file) {
                o.default_file = files->default_file;
                o.default_file_size = files->default_size;
        }
        _cleanup_(menu_info_freep) MenuInfo *info = NULL;
        int r = menulst_evaluate(m, &o, &info);
        if (r < 0)
                return r;
        BootOutcome out = { .entry = -1 };
        r = boot_files_copy(files, &out.after);
        if (r < 0)
                return r;
        *ret_info = TAKE_PTR(info);
        *ret_out = out;
        return 0;
}

static int simulate_grub097(const MenuLst *m, const BootFiles *files, BootLoadsFunc loads, void *userdata,
                            BootOutcome *ret)
{
        _cleanup_(menu_info_freep) MenuInfo *info = NULL;
        BootOutcome out;
        int r = simulate_begin(m, files, true, &info, &out);
        if (r < 0)
                return r;
        int saved = 0, once_restore = -1;
        if (files->default_file)
                (void) menulst_parse_default_file(files->default_file, files->default_size, &saved, &once_restore);

        /* the default, then the fallback chain cmain() moves along after an error */
        int chain[1 + MENULST_MAX_FALLBACK];
        size_t n = 0;
        if (info->default_entry >= 0)
                chain[n++] = info->default_entry;
        for (size_t i = 0; i < info->n_fallback; i++)
                chain[n++] = info->fallback[i];

        for (size_t k = 0; k < n; k++) {
                const MenuEntry *e = &info->entries[chain[k]];
                if (!e->kernel && !e->fail_reason && !e->chainloader)
                        break; /* nothing to boot and no error either: GRUB waits at the menu */
                if (!entry_loads(info, chain[k], loads, userdata))
                        continue;
                if (e->savedefault) {
                        int num;
                        /* GRUB reads exactly 10 bytes before it writes: a shorter or missing file fails */
                        if (!files->default_file || files->default_size < 10 ||
                            !grub097_saved_number(info, e, info->default_saved ? once_restore : -1, &num))
                                continue;
                        char buf[16];
                        memset(buf, '\n', 10);
                        int w = snprintf(buf, sizeof buf, "%d", num);
                        if (w > 9)
                                continue;
                        /* sprintf's NUL lands in the file; the rest of the 10 bytes stay newlines */
                        memcpy(out.after.default_file, buf, 10);
                }
                out.entry = chain[k];
                break;
        }
        *ret = out;
        return 0;
}

/* normal/menu.c get_entry_number(): grub_strtoul() succeeds on a leading number whatever follows;
 * otherwise the value must equal a title. */
static int grub2_entry_number(const MenuInfo *info, const char *val)
{
        const char *p = val;
        while (*p == ' ' || *p == '\t')
                p++;
        if (isdigit((unsigned char) *p)) {
                unsigned long v = strtoul(p, NULL, 0);
                return v >= (unsigned long) info->n_entries ? -1 : (int) v;
        }
        for (size_t i = 0; i < info->n_entries; i++)
                if (streq(info->entries[i].title, val))
                        return (int) i;
        return -1;
}

static int simulate_pvgrub2(const MenuLst *m, const BootFiles *files, BootLoadsFunc loads, void *userdata,
                            BootOutcome *ret)
{
        _cleanup_(menu_info_freep) MenuInfo *info = NULL;
        BootOutcome out;
        int r = simulate_begin(m, files, false, &info, &out);
        if (r < 0)
                return r;
        if (info->n_entries == 0) {
                *ret = out;
                return 0;
        }

        /* "set default='%s'; if [ x"$default" = xsaved ]; then load_env; set default="$saved_entry"; fi" */
        _cleanup_free_ char *saved = NULL;
        const char *def = menulst_global_arg(m, MENU_DIALECT_GRUB, "default");
        if (def && streq(def, "saved")) {
                r = menulst_grubenv_get(files->grubenv, files->grubenv_size, "saved_entry", &saved);
                if (r == -ENOMEM) {
                        boot_outcome_done(&out);
                        return r;
                }
                def = saved ? saved : ""; /* load_env failed or no saved_entry: "" matches nothing */
        }
        int first = def ? grub2_entry_number(info, def) : -1;
        if (first < 0 || first >= (int) info->n_entries)
                first = 0;

        /* then "set fallback='%s'": get_and_remove_first_entry_number() takes numbers in turn */
        int chain[1 + MENULST_MAX_FALLBACK];
        size_t n = 0;
        chain[n++] = first;
        const char *fb = menulst_global_arg(m, MENU_DIALECT_GRUB, "fallback");
        while (fb && n < ELEMENTSOF(chain)) {
                while (*fb == ' ' || *fb == '\t')
                        fb++;
                if (!isdigit((unsigned char) *fb))
                        break;
                char *end;
                unsigned long v = strtoul(fb, &end, 0);
                if (v < info->n_entries)
                        chain[n++] = (int) v;
                fb = end;
        }

        for (size_t k = 0; k < n; k++) {
                const MenuEntry *e = &info->entries[chain[k]];
                if (!entry_loads(info, chain[k], loads, userdata))
                        continue;
                if (e->savedefault && out.after.grubenv) {
                        /* "saved_entry=${chosen}": the unquoted title is split, the first word assigned */
                        _cleanup_free_ char *word = strndup(e->title, strcspn(e->title, " \t"));
                        _cleanup_free_ char *env = NULL;
                        if (!word) {
                                boot_outcome_done(&out);
                                return -ENOMEM;
                        }
                        r = menulst_grubenv_set(out.after.grubenv, out.after.grubenv_size, "saved_entry", word,
                                                &env);
                        if (r == -ENOMEM) {
                                boot_outcome_done(&out);
                                return r;
                        }
                        if (r >= 0) { /* save_env refuses a file that is not a block: nothing written */
                                free(out.after.grubenv);
                                out.after.grubenv = TAKE_PTR(env);
                        }
                }
                out.entry = chain[k];
                break;
        }
        *ret = out;
        return 0;
}

int boot_simulate(BootLoader loader, const MenuLst *m, const BootFiles *files, BootLoadsFunc loads,
                  void *userdata, BootOutcome *ret)
{
        switch (loader) {
        case BOOT_LOADER_GRUB097:
                return simulate_grub097(m, files, loads, userdata, ret);
        case BOOT_LOADER_PVGRUB2:
                return simulate_pvgrub2(m, files, loads, userdata, ret);
        }
        return -EINVAL;
}

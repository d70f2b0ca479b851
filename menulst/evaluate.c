/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "common/macro.h"
#include "menulst/menulst.h"
#include "common/strv.h"

/* The globals of stage2.c that the menu builtins change, with their initial values from cmain(). */
typedef struct GrubGlobals {
        int default_entry;
        bool default_saved;
        int fallback_entryno;
        int fallback_entries[MENULST_MAX_FALLBACK];
        int timeout;
        bool hiddenmenu;
        bool password;
} GrubGlobals;

static bool is_blank(char c)
{
        return c == ' ' || c == '\t';
}

/* skip_to(0, p): past the word and the blanks after it */
static const char *next_word(const char *p)
{
        while (*p && !is_blank(*p))
                p++;
        while (is_blank(*p))
                p++;
        return p;
}

static char *first_word(const char *p)
{
        return strndup(p, strcspn(p, " \t"));
}

/* builtins.c:fallback_func(), including its quirks: a parse error returns without touching
 * fallback_entryno (so fallback stays disabled, or keeps an earlier list half overwritten), and a
 * duplicate "continues" without moving past itself, which is a parse error unless it is last. */
static bool fallback_func(GrubGlobals *g, const char *arg)
{
        int i = 0;
        while (*arg) {
                int entry, j;
                if (!menulst_parse_int(&arg, &entry))
                        return false;
                for (j = 0; j < i; j++)
                        if (entry == g->fallback_entries[j])
                                break;
                if (j != i)
                        continue;
                g->fallback_entries[i++] = entry;
                if (i == MENULST_MAX_FALLBACK)
                        break;
                arg = next_word(arg);
        }
        if (i < MENULST_MAX_FALLBACK)
                g->fallback_entries[i] = -1;
        g->fallback_entryno = i == 0 ? -1 : 0;
        return true;
}

static const char *release_from_image(const char *path)
{
        static const char *const prefixes[] = { "vmlinuz-", "vmlinux-", "bzImage-", "kernel-", "linux-",
                                                "zImage-" };
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++) {
                size_t n = strlen(prefixes[i]);
                if (strneq(base, prefixes[i], n) && base[n] >= '0' && base[n] <= '9')
                        return base + n;
        }
        return NULL;
}

static bool is_multiboot_hypervisor(const char *path)
{
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        return strneq(base, "xen", 3);
}

static int analyze_entry(const MenuLst *m, MenuDialect d, MenuEntry *e, size_t from, size_t to)
{
        size_t n_modules = 0;
        for (size_t i = from; i <= to; i++) {
                const char *cooked = m->items[i].cooked, *arg;
                char name[32];
                if (!cooked)
                        continue;
                int flags = menulst_find_command(d, cooked, name, sizeof name, &arg);
                if (!flags)
                        continue;
                e->last_item = i;
                if (!(flags & BUILTIN_CMDLINE)) {
                        if (!e->fail_reason &&
                            asprintf(&e->fail_reason, "line %u: '%s' is a global command, GRUB fails the entry",
                                     m->items[i].line, name) < 0)
                                return -ENOMEM;
                        continue;
                }
                char **slot = NULL;
                if (streq(name, "root") || streq(name, "rootnoverify"))
                        slot = &e->root;
                else if (streq(name, "initrd"))
                        slot = &e->initrd;
                else if (streq(name, "kernel")) {
                        /* kernel_func: --type= and --no-mem-option come before the file */
                        while (strneq(arg, "--type=", 7) || strneq(arg, "--no-mem-option", 15))
                                arg = next_word(arg);
                        free(e->kernel);
                        free(e->args);
                        e->kernel = first_word(arg);
                        e->args = strdup(next_word(arg));
                        if (!e->kernel || !e->args)
                                return -ENOMEM;
                        e->chainloader = false;
                        continue;
                } else if (streq(name, "module") || streq(name, "modulenounzip")) {
                        if (strv_consume_n(&e->modules, &n_modules, first_word(arg)) < 0)
                                return -ENOMEM;
                        continue;
                } else if (streq(name, "chainloader")) {
                        e->chainloader = true;
                        continue;
                } else if (streq(name, "savedefault")) {
                        e->savedefault = true;
                        slot = &e->savedefault_arg;
                } else if (streq(name, "password")) {
                        e->password = true;
                        continue;
                } else if (streq(name, "lock")) {
                        e->lock = true;
                        continue;
                } else
                        continue;
                free(*slot);
                *slot = first_word(arg);
                if (!*slot)
                        return -ENOMEM;
        }

        const char *image = e->kernel;
        if (image && is_multiboot_hypervisor(image) && e->modules && e->modules[0])
                image = e->modules[0];
        const char *rel = image ? release_from_image(image) : NULL;
        if (rel && !(e->release = strdup(rel)))
                return -ENOMEM;
        return 0;
}

/* menulst_evaluate() counts its warnings in n_warnings */
#define warn(info, ...) strv_pushf_n(&(info)->warnings, &n_warnings, __VA_ARGS__)

static int add_entry(MenuInfo *info, size_t *cap, const MenuLst *m, MenuDialect d, const char *title,
                     size_t title_item, size_t last)
{
        if (info->n_entries == *cap) {
                size_t ncap = *cap ? *cap * 2 : 16;
                MenuEntry *n = realloc(info->entries, ncap * sizeof *n);
                if (!n)
                        return -ENOMEM;
                info->entries = n;
                *cap = ncap;
        }
        MenuEntry *e = &info->entries[info->n_entries];
        *e = (MenuEntry){ .index = (int) info->n_entries, .title_item = title_item };
        info->n_entries++;
        if (!(e->title = strdup(title)))
                return -ENOMEM;
        return analyze_entry(m, d, e, title_item + 1, last);
}

int menulst_evaluate(const MenuLst *m, const MenuEvalOptions *o, MenuInfo **ret)
{
        _cleanup_(menu_info_freep) MenuInfo *info = calloc(1, sizeof *info);
        if (!info)
                return -ENOMEM;
        MenuDialect d = o ? o->dialect : MENU_DIALECT_GRUB;
        size_t n_warnings = 0;

        int saved_entry = 0, once_restore = -1;
        if (o && o->default_file)
                (void) menulst_parse_default_file(o->default_file, o->default_file_size, &saved_entry,
                                                  &once_restore);

        /* static storage in stage2: slots past the first start out as 0 */
        GrubGlobals g = { .default_entry = 0, .fallback_entryno = -1, .timeout = -1 };
        g.fallback_entries[0] = -1;

        int state = 0, r;
        size_t cap = 0, title_item = 0;
        const char *title = NULL;
        unsigned last_fallback_line = 0, last_default_line = 0;
        bool last_fallback_failed = false, last_default_failed = false;

        for (size_t i = 0; i < m->n_items; i++) {
                const char *cooked = m->items[i].cooked, *arg;
                char name[32];
                if (!cooked)
                        continue;
                int flags = menulst_find_command(d, cooked, name, sizeof name, &arg);
                if (!flags) {
                        r = warn(info, "line %u: GRUB does not know '%s', the line is ignored", m->items[i].line,
                                 name);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (flags & BUILTIN_TITLE) {
                        if (state > 1) {
                                r = add_entry(info, &cap, m, d, title, title_item, i - 1);
                                if (r < 0)
                                        return r;
                        } else if (state == 1) {
                                r = warn(info, "line %u: title '%s' has no commands, GRUB drops it",
                                         m->items[title_item].line, title);
                                if (r < 0)
                                        return r;
                        }
                        state = 1;
                        title = arg;
                        title_item = i;
                        continue;
                }
                if (state > 0) {
                        state++;
                        continue;
                }
                if (!(flags & BUILTIN_MENU)) {
                        r = warn(info, "line %u: '%s' before the first title is ignored", m->items[i].line, name);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (streq(name, "default")) {
                        last_default_line = m->items[i].line;
                        last_default_failed = false;
                        if (streq(arg, "saved")) {
                                g.default_entry = saved_entry;
                                g.default_saved = true;
                        } else if (menulst_parse_int(&arg, &g.default_entry))
                                g.default_saved = false;
                        else
                                last_default_failed = true;
                } else if (streq(name, "fallback")) {
                        last_fallback_line = m->items[i].line;
                        last_fallback_failed = !fallback_func(&g, arg);
                } else if (streq(name, "timeout")) {
                        (void) menulst_parse_int(&arg, &g.timeout);
                } else if (streq(name, "hiddenmenu"))
                        g.hiddenmenu = true;
                else if (streq(name, "password"))
                        g.password = true;
        }
        if (state > 1) {
                r = add_entry(info, &cap, m, d, title, title_item, m->n_items - 1);
                if (r < 0)
                        return r;
        } else if (state == 1) {
                r = warn(info, "line %u: title '%s' has no commands, GRUB drops it", m->items[title_item].line,
                         title);
                if (r < 0)
                        return r;
        }

        int num = (int) info->n_entries;
        /* cmain(): drop fallback entries past the end. The memmove leaves the last slot as it was,
         * so a bad value in the last of 8 slots makes 0.97 loop forever. */
        if (g.fallback_entryno >= 0) {
                unsigned guard = 0;
                for (int i = 0; i < MENULST_MAX_FALLBACK; i++) {
                        if (g.fallback_entries[i] < 0)
                                break;
                        if (g.fallback_entries[i] >= num) {
                                if (++guard > 64) {
                                        info->fallback_hang = true;
                                        break;
                                }
                                memmove(g.fallback_entries + i, g.fallback_entries + i + 1,
                                        (size_t) (MENULST_MAX_FALLBACK - i - 1) * sizeof(int));
                                i--;
                        }
                }
                if (g.fallback_entries[0] < 0)
                        g.fallback_entryno = -1;
        }
        int requested_default = g.default_entry;
        if (g.default_entry >= num) {
                /* (after a hang GRUB never gets here: the unpruned list is no default to give) */
                if (g.fallback_entryno >= 0 && !info->fallback_hang) {
                        g.default_entry = g.fallback_entries[0];
                        g.fallback_entryno++;
                        if (g.fallback_entryno >= MENULST_MAX_FALLBACK ||
                            g.fallback_entries[g.fallback_entryno] < 0)
                                g.fallback_entryno = -1;
                } else
                        g.default_entry = 0;
        }

        info->default_entry = num > 0 ? g.default_entry : -1;
        info->default_saved = g.default_saved;
        info->saved_entry = saved_entry;
        for (int i = 0; g.fallback_entries[0] >= 0 && i < MENULST_MAX_FALLBACK && g.fallback_entries[i] >= 0 &&
                        !info->fallback_hang; i++)
                info->fallback_list[info->n_fallback_list++] = g.fallback_entries[i];
        if (g.fallback_entryno >= 0 && !info->fallback_hang)
                for (int i = g.fallback_entryno; i < MENULST_MAX_FALLBACK && g.fallback_entries[i] >= 0; i++)
                        info->fallback[info->n_fallback++] = g.fallback_entries[i];
        info->timeout = g.timeout;
        info->hiddenmenu = g.hiddenmenu;
        info->global_password = g.password;

        /* hazards that the text alone shows */
        if (num == 0 && (r = warn(info, "no boot entries: GRUB drops to its command line (a headless guest hangs)")) < 0)
                return r;
        if (g.timeout < 0 && num > 0 &&
            (r = warn(info, "no 'timeout': the menu waits for a key forever%s (a headless guest hangs)",
                      g.hiddenmenu ? ", even with hiddenmenu" : "")) < 0)
                return r;
        if (last_fallback_failed &&
            (r = warn(info, "line %u: 'fallback' does not parse (a trailing comment or a repeated number breaks it)%s",
                      last_fallback_line, info->n_fallback == 0 ? ", fallback is disabled" : "")) < 0)
                return r;
        if (info->fallback_hang &&
            (r = warn(info, "line %u: GRUB 0.97 loops forever pruning this fallback list (8 numbers, the last out of range)",
                      last_fallback_line)) < 0)
                return r;
        if (last_default_failed &&
            (r = warn(info, "line %u: 'default' is neither a number nor exactly 'saved', GRUB ignores it",
                      last_default_line)) < 0)
                return r;
        if (num > 0 && requested_default >= num &&
            (r = warn(info, "default %d is out of range (%d entries): GRUB boots entry %d instead", requested_default,
                      num, info->default_entry)) < 0)
                return r;

        bool uses_savedefault = g.default_saved;
        for (size_t i = 0; i < info->n_entries; i++) {
                const MenuEntry *e = &info->entries[i];
                uses_savedefault = uses_savedefault || e->savedefault;
                if (e->fail_reason && (r = warn(info, "entry %zu '%s': %s", i, e->title, e->fail_reason)) < 0)
                        return r;
                if (!e->kernel && !e->chainloader &&
                    (r = warn(info, "entry %zu '%s' loads no kernel: booting it returns to the menu and no fallback fires",
                              i, e->title)) < 0)
                        return r;
                if (e->password &&
                    (r = warn(info, "entry %zu '%s' asks for a password at boot (a headless guest hangs)", i,
                              e->title)) < 0)
                        return r;
                if (d == MENU_DIALECT_GRUB && e->kernel && strlen(e->args) > 255 &&
                    (r = warn(info, "entry %zu '%s': GRUB 0.97 cuts the kernel command line at 255 bytes", i,
                              e->title)) < 0)
                        return r;
        }
        if (uses_savedefault && num > 0) {
                if (!o || !o->default_file)
                        r = warn(info, "%s but the 'default' file next to menu.lst is missing: savedefault fails (Error 15)",
                                 g.default_saved ? "'default saved'" : "an entry uses savedefault");
                else if (o->default_file_size < 10)
                        r = warn(info, "the 'default' file is shorter than 10 bytes: GRUB cannot write it (savedefault fails)");
                else
                        r = 0;
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(info);
        return 0;
}

MenuInfo *menu_info_free(MenuInfo *info)
{
        if (!info)
                return NULL;
        for (size_t i = 0; i < info->n_entries; i++) {
                MenuEntry *e = &info->entries[i];
                free(e->title);
                free(e->root);
                free(e->kernel);
                free(e->args);
                free(e->initrd);
                strv_free(e->modules);
                free(e->release);
                free(e->savedefault_arg);
                free(e->fail_reason);
        }
        free(info->entries);
        strv_free(info->warnings);
        free(info);
        return NULL;
}

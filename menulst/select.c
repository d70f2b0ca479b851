/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "common/macro.h"
#include "menulst/menulst.h"

typedef enum SelectKind { SEL_ANY, SEL_TITLE, SEL_KERNEL, SEL_RELEASE } SelectKind;

/* titles compare without trailing blanks: GRUB keeps them, update-grub strips them */
static bool title_eq(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b);
        while (la > 0 && (a[la - 1] == ' ' || a[la - 1] == '\t'))
                la--;
        while (lb > 0 && (b[lb - 1] == ' ' || b[lb - 1] == '\t'))
                lb--;
        return la == lb && memcmp(a, b, la) == 0;
}

static const char *strip_device(const char *p)
{
        if (p[0] == '(') {
                const char *c = strchr(p, ')');
                if (c)
                        return c + 1;
        }
        return p;
}

static bool kernel_eq(const MenuEntry *e, const char *sel)
{
        if (!e->kernel)
                return false;
        const char *k = strip_device(e->kernel);
        if (streq(k, strip_device(sel)))
                return true;
        if (strchr(sel, '/'))
                return false;
        const char *base = strrchr(k, '/');
        return streq(base ? base + 1 : k, sel);
}

static bool has_word(const char *s, const char *w)
{
        size_t n = strlen(w);
        for (const char *p = s; (p = strstr(p, w)); p += n)
                if ((p == s || p[-1] == ' ') && (p[n] == 0 || p[n] == ' '))
                        return true;
        return false;
}

/* Debian and Ubuntu pair every kernel with a recovery entry booting the same image */
static bool is_recovery(const MenuEntry *e)
{
        return (e->args && (has_word(e->args, "single") || has_word(e->args, "recovery"))) ||
               strstr(e->title, "recovery mode") || strstr(e->title, "single-user");
}

int menulst_select(const MenuInfo *info, const char *selector, MenuSelectError *ret_error, int *ret_index)
{
        SelectKind kind = SEL_ANY;
        const char *v = selector;
        if (strneq(selector, "title=", 6))
                kind = SEL_TITLE, v = selector + 6;
        else if (strneq(selector, "kernel=", 7))
                kind = SEL_KERNEL, v = selector + 7;
        else if (strneq(selector, "release=", 8))
                kind = SEL_RELEASE, v = selector + 8;
        if (isempty(v)) {
                *ret_error = MENU_SELECT_NONE;
                return -EINVAL;
        }

        int found = -1, normal = -1;
        size_t n_found = 0, n_normal = 0;
        bool by_title = false;
        for (size_t i = 0; i < info->n_entries; i++) {
                const MenuEntry *e = &info->entries[i];
                bool t = (kind == SEL_ANY || kind == SEL_TITLE) && title_eq(e->title, v);
                bool k = (kind == SEL_ANY || kind == SEL_KERNEL) && kernel_eq(e, v);
                bool r = (kind == SEL_ANY || kind == SEL_RELEASE) && e->release && streq(e->release, v);
                if (!t && !k && !r)
                        continue;
                by_title = by_title || t;
                n_found++;
                found = (int) i;
                if (!is_recovery(e)) {
                        n_normal++;
                        normal = (int) i;
                }
        }
        if (n_found == 0) {
                *ret_error = MENU_SELECT_NONE;
                return -ENOENT;
        }
        if (n_found == 1) {
                *ret_error = MENU_SELECT_OK;
                *ret_index = found;
                return 0;
        }
        /* a title names one entry; only an image-based match may prefer the normal twin */
        if (!by_title && n_normal == 1) {
                *ret_error = MENU_SELECT_OK;
                *ret_index = normal;
                return 0;
        }
        *ret_error = MENU_SELECT_AMBIGUOUS;
        return -EEXIST;
}

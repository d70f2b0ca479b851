/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdint.h>
#include <string.h>

#include "common/macro.h"
#include "menulst/menulst.h"

#define AUTOMAGIC_BEGIN "### BEGIN AUTOMAGIC KERNELS LIST"
#define AUTOMAGIC_END "### END DEBIAN AUTOMAGIC KERNELS LIST"

static const char *file_eol(const MenuLst *m)
{
        return m->crlf ? "\r\n" : "\n";
}

static const char *item_eol(const MenuItem *it)
{
        if (it->raw_len >= 2 && it->raw[it->raw_len - 2] == '\r' && it->raw[it->raw_len - 1] == '\n')
                return "\r\n";
        if (it->raw_len >= 1 && it->raw[it->raw_len - 1] == '\n')
                return "\n";
        return "";
}

static bool item_is_marker(const MenuItem *it, const char *marker)
{
        const char *p = it->raw;
        while (*p == ' ' || *p == '\t')
                p++;
        return strneq(p, marker, strlen(marker));
}

/* Each edit ends with one renumber() and removes its items with one sweep_items(), so an edit costs
 * one pass over the file however many lines it changes (a menu.lst of 40,000 'default' lines took
 * 10 s to pin when every changed line renumbered the whole file). */
static void renumber(MenuLst *m)
{
        unsigned line = 1;
        for (size_t i = 0; i < m->n_items; i++) {
                m->items[i].line = line;
                const char *p = m->items[i].raw, *end = p + m->items[i].raw_len;
                while ((p = memchr(p, '\n', (size_t) (end - p)))) {
                        line++;
                        p++;
                }
        }
}

/* Frees an item and marks it for sweep_items(). */
static void drop_item(MenuItem *it)
{
        free(it->raw);
        free(it->cooked);
        *it = (MenuItem){};
}

static void sweep_items(MenuLst *m)
{
        size_t k = 0;
        for (size_t i = 0; i < m->n_items; i++)
                if (m->items[i].raw)
                        m->items[k++] = m->items[i];
        m->n_items = k;
}

/* Makes sure the item before pos ends its line, so text inserted at pos starts a line of its own. */
static int terminate_line_before(MenuLst *m, size_t pos)
{
        if (pos == 0 || pos > m->n_items)
                return 0;
        MenuItem *it = &m->items[pos - 1];
        if (*item_eol(it))
                return 0;
        const char *eol = file_eol(m);
        char *n = realloc(it->raw, it->raw_len + strlen(eol) + 1);
        if (!n)
                return -ENOMEM;
        strcpy(n + it->raw_len, eol);
        it->raw = n;
        it->raw_len += strlen(eol);
        return 0;
}

/* Parses text with GRUB's reader and splices its items in at pos. */
static int insert_text(MenuLst *m, size_t pos, const char *text)
{
        int r = terminate_line_before(m, pos);
        if (r < 0)
                return r;
        _cleanup_(menulst_freep) MenuLst *add = NULL;
        r = menulst_parse(text, strlen(text), &add);
        if (r < 0)
                return r;
        MenuItem *n = realloc(m->items, (m->n_items + add->n_items + 1) * sizeof(MenuItem));
        if (!n)
                return -ENOMEM;
        m->items = n;
        memmove(m->items + pos + add->n_items, m->items + pos, (m->n_items - pos) * sizeof(MenuItem));
        memcpy(m->items + pos, add->items, add->n_items * sizeof(MenuItem));
        m->n_items += add->n_items;
        add->n_items = 0; /* the items now belong to m */
        renumber(m);
        return 0;
}

static int replace_text(MenuLst *m, size_t pos, const char *text)
{
        _cleanup_(menulst_freep) MenuLst *add = NULL;
        int r = menulst_parse(text, strlen(text), &add);
        if (r < 0)
                return r;
        if (add->n_items != 1)
                return -EINVAL;
        free(m->items[pos].raw);
        free(m->items[pos].cooked);
        m->items[pos].raw = add->items[0].raw;
        m->items[pos].raw_len = add->items[0].raw_len;
        m->items[pos].cooked = add->items[0].cooked;
        add->n_items = 0;
        return 0;
}

static size_t first_title_item(const MenuLst *m, MenuDialect d)
{
        for (size_t i = 0; i < m->n_items; i++)
                if (m->items[i].cooked &&
                    (menulst_find_command(d, m->items[i].cooked, NULL, 0, NULL) & BUILTIN_TITLE))
                        return i;
        return m->n_items;
}

/* The layout of a command line as written: indentation and the separator after the name. */
static void line_style(const MenuItem *it, const char **ret_indent, size_t *ret_indent_len, const char **ret_sep,
                       size_t *ret_sep_len)
{
        const char *p = it->raw;
        *ret_indent = p;
        while (*p == ' ' || *p == '\t')
                p++;
        *ret_indent_len = (size_t) (p - *ret_indent);
        while (*p && *p != ' ' && *p != '\t' && *p != '=' && *p != '\r' && *p != '\n')
                p++;
        *ret_sep = p;
        while (*p == ' ' || *p == '\t' || *p == '=')
                p++;
        *ret_sep_len = (size_t) (p - *ret_sep);
}

const char *menulst_global_arg(const MenuLst *m, MenuDialect d, const char *name)
{
        const char *found = NULL;
        size_t end = first_title_item(m, d);
        for (size_t i = 0; i < end; i++) {
                const char *arg;
                char cmd[32];
                if (!m->items[i].cooked)
                        continue;
                int flags = menulst_find_command(d, m->items[i].cooked, cmd, sizeof cmd, &arg);
                if ((flags & BUILTIN_MENU) && streq(cmd, name))
                        found = arg;
        }
        return found;
}

int menulst_set_global(MenuLst *m, MenuDialect d, const char *name, const char *value)
{
        size_t end = first_title_item(m, d), last_global = SIZE_MAX;
        const char *sep = " ";
        size_t sep_len = 1;
        bool found = false, style_known = false;

        for (size_t i = 0; i < end; i++) {
                MenuItem *it = &m->items[i];
                char n[32];
                if (!it->cooked)
                        continue;
                int flags = menulst_find_command(d, it->cooked, n, sizeof n, NULL);
                if (!(flags & BUILTIN_MENU))
                        continue;
                last_global = i;
                const char *indent, *s;
                size_t indent_len, s_len;
                line_style(it, &indent, &indent_len, &s, &s_len);
                if (!style_known && s_len > 0) {
                        sep = s, sep_len = s_len, style_known = true;
                }
                if (!streq(n, name))
                        continue;
                found = true;
                if (!value) {
                        drop_item(it);
                        continue;
                }
                _cleanup_free_ char *text = NULL;
                if (s_len == 0)
                        s = " ", s_len = 1;
                if (asprintf(&text, "%.*s%s%.*s%s%s", (int) indent_len, indent, name, (int) s_len, s, value,
                             item_eol(it)) < 0)
                        return -ENOMEM;
                int r = replace_text(m, i, text);
                if (r < 0) {
                        sweep_items(m);
                        renumber(m);
                        return r;
                }
        }
        sweep_items(m);
        renumber(m);
        if (found || !value)
                return 0;

        /* a new line goes after the other globals, or at the very top: never inside an automagic
         * block, which update-grub regenerates */
        size_t pos = last_global == SIZE_MAX ? 0 : last_global + 1;
        _cleanup_free_ char *text = NULL;
        if (asprintf(&text, "%s%.*s%s%s", name, (int) sep_len, sep, value, file_eol(m)) < 0)
                return -ENOMEM;
        return insert_text(m, pos, text);
}

/* "(hdN)" or "(hdN,M)" at the start of s: returns its length, 0 if there is none. */
static size_t grub_device_length(const char *s)
{
        if (!strneq(s, "(hd", 3))
                return 0;
        size_t n = 3, digits = strspn(s + n, "0123456789");
        if (digits == 0)
                return 0;
        n += digits;
        if (s[n] == ',') {
                digits = strspn(s + n + 1, "0123456789");
                if (digits == 0)
                        return 0;
                n += 1 + digits;
        }
        return s[n] == ')' ? n + 1 : 0;
}

int menulst_check_value(MenuValueKind kind, const char *value, const char **ret_reason)
{
        /* the longest command name each kind follows, and the blank after it */
        static const size_t prefix[] = {
                [MENU_VALUE_TITLE] = sizeof "title ",
                [MENU_VALUE_PATH] = sizeof "modulenounzip ",
                [MENU_VALUE_ROOT_DEVICE] = sizeof "rootnoverify ",
                [MENU_VALUE_ARGS] = sizeof "kernel / ",
                [MENU_VALUE_LINE] = 1,
        };
        const char *reason = NULL;
        size_t len = value ? strlen(value) : 0;

        if (!value || (size_t) kind >= ELEMENTSOF(prefix))
                reason = "is missing";
        else if (value[strcspn(value, "\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f"
                                      "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f")])
                reason = "contains a control character (newline, tab, ...)";
        else if (len > 0 && value[len - 1] == '\\')
                reason = "ends with a backslash (GRUB would join the next line to it)";
        else if (len + prefix[kind] - 1 >= MENULST_LINE_MAX)
                reason = "is too long (GRUB cuts lines at 1500 bytes)";
        else
                switch (kind) {
                case MENU_VALUE_TITLE:
                        if (value[strspn(value, " ")] == 0)
                                reason = "must not be empty";
                        else if (value[0] == ' ' || value[0] == '=')
                                reason = "must not start with a blank or '='";
                        break;
                case MENU_VALUE_PATH: {
                        const char *p = value + grub_device_length(value);
                        if (p[0] != '/' || !p[1])
                                reason = "must be an absolute file path such as /boot/vmlinuz or (hd0,0)/vmlinuz";
                        else if (strchr(p, ' '))
                                reason = "must be a file path without blanks";
                        break;
                }
                case MENU_VALUE_ROOT_DEVICE:
                        if (len == 0 || grub_device_length(value) != len)
                                reason = "must be a GRUB device such as (hd0) or (hd0,0)";
                        break;
                case MENU_VALUE_ARGS:
                        break;
                case MENU_VALUE_LINE:
                        if (len == 0)
                                reason = "must not be empty";
                        break;
                }
        if (reason) {
                if (ret_reason)
                        *ret_reason = reason;
                return -EINVAL;
        }
        return 0;
}

int menulst_add_entry(MenuLst *m, const MenuInfo *info, const char *const *lines, int position)
{
        if (!lines || !lines[0] || !strneq(lines[0], "title", 5))
                return -EINVAL;
        for (size_t i = 0; lines[i]; i++)
                if (menulst_check_value(MENU_VALUE_LINE, lines[i], NULL) < 0)
                        return -EINVAL;
        if (position >= (int) info->n_entries || (position == MENULST_ENTRY_TOP && info->n_entries == 0))
                position = -1;

        /* indent commands like the file's first entry does */
        const char *indent = "";
        size_t indent_len = 0;
        if (info->n_entries > 0 && info->entries[0].last_item > info->entries[0].title_item) {
                for (size_t i = info->entries[0].title_item + 1; i <= info->entries[0].last_item; i++)
                        if (m->items[i].cooked) {
                                const char *s;
                                size_t sl;
                                line_style(&m->items[i], &indent, &indent_len, &s, &sl);
                                break;
                        }
        }

        const char *eol = file_eol(m);
        size_t len = 1;
        for (size_t i = 0; lines[i]; i++)
                len += indent_len + strlen(lines[i]) + 2 * strlen(eol);
        _cleanup_free_ char *block = malloc(len + strlen(eol));
        if (!block)
                return -ENOMEM;
        char *p = block;
        size_t pos;
        if (position == -1)
                p = stpcpy(p, eol); /* a blank line between the last entry and ours */
        for (size_t i = 0; lines[i]; i++) {
                if (i > 0) {
                        memcpy(p, indent, indent_len);
                        p += indent_len;
                }
                p = stpcpy(p, lines[i]);
                p = stpcpy(p, eol);
        }
        if (position == MENULST_ENTRY_TOP && info->n_entries > 0) {
                p = stpcpy(p, eol);
                pos = info->entries[0].title_item;
                /* before update-grub's block when the first entry is inside it: it regenerates the block */
                bool inside = false;
                size_t begin = 0;
                for (size_t i = 0; i < pos; i++)
                        if (item_is_marker(&m->items[i], AUTOMAGIC_BEGIN)) {
                                inside = true;
                                begin = i;
                        } else if (item_is_marker(&m->items[i], AUTOMAGIC_END))
                                inside = false;
                if (inside)
                        pos = begin;
        } else if (position >= 0) {
                p = stpcpy(p, eol);
                pos = info->entries[position].title_item;
        } else if (info->n_entries == 0)
                pos = m->n_items;
        else {
                pos = info->entries[info->n_entries - 1].last_item + 1;
                /* the last entry may sit inside update-grub's block: go past its end marker */
                bool inside = false;
                for (size_t i = 0; i < pos; i++)
                        if (item_is_marker(&m->items[i], AUTOMAGIC_BEGIN))
                                inside = true;
                        else if (item_is_marker(&m->items[i], AUTOMAGIC_END))
                                inside = false;
                if (inside)
                        for (size_t i = pos; i < m->n_items; i++)
                                if (item_is_marker(&m->items[i], AUTOMAGIC_END)) {
                                        pos = i + 1;
                                        break;
                                }
        }
        *p = 0;
        return insert_text(m, pos, block);
}

int menulst_remove_entry(MenuLst *m, const MenuInfo *info, int index)
{
        if (index < 0 || (size_t) index >= info->n_entries)
                return -ENOENT;
        const MenuEntry *e = &info->entries[index];
        for (size_t i = e->last_item + 1; i-- > e->title_item;) {
                if (item_is_marker(&m->items[i], "###"))
                        continue;
                drop_item(&m->items[i]);
        }
        sweep_items(m);
        renumber(m);
        return 0;
}

bool menulst_remove_blank_line(MenuLst *m, size_t item)
{
        if (item >= m->n_items || m->items[item].cooked)
                return false;
        const char *p = m->items[item].raw;
        while (*p == ' ' || *p == '\t')
                p++;
        if (!streq(p, "\n") && !streq(p, "\r\n"))
                return false; /* a comment */
        drop_item(&m->items[item]);
        sweep_items(m);
        renumber(m);
        return true;
}

const char *menulst_guess_writer(const MenuLst *m)
{
        bool automagic = false, ec2 = false, anaconda = false;
        for (size_t i = 0; i < m->n_items; i++) {
                const char *raw = m->items[i].raw;
                if (item_is_marker(&m->items[i], AUTOMAGIC_BEGIN) || item_is_marker(&m->items[i], AUTOMAGIC_END))
                        automagic = true;
                if (strstr(raw, "# indomU=") || strstr(raw, "update-grub-legacy-ec2"))
                        ec2 = true;
                if (strstr(raw, "generated by anaconda") || strstr(raw, "grubby"))
                        anaconda = true;
        }
        if (automagic)
                return ec2 ? "update-grub-legacy-ec2" : "update-grub";
        if (anaconda)
                return "grubby";
        return NULL;
}

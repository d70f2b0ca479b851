/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Edits keep every byte they are not asked to change. */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/strv.h"
#include "menulst/menulst.h"
#include "tests/tap.h"

static char *edit_global(const char *text, const char *name, const char *value)
{
        _cleanup_(menulst_freep) MenuLst *m = NULL;
        char *out;
        size_t n;
        if (menulst_parse(text, strlen(text), &m) < 0 || menulst_set_global(m, MENU_DIALECT_GRUB, name, value) < 0 ||
            menulst_serialize(m, &out, &n) < 0)
                abort();
        return out;
}

static void check(const char *name, const char *text, const char *key, const char *value, const char *expected)
{
        _cleanup_free_ char *out = edit_global(text, key, value);
        is_str(out, expected, name);
}

static void test_set_global(void)
{
        check("replace keeps '=' style", "default=0\ntitle a\nkernel /a\n", "default", "3",
              "default=3\ntitle a\nkernel /a\n");
        check("replace keeps tabs", "#c\ndefault\t\t0\ntimeout 1\n", "default", "12", "#c\ndefault\t\t12\ntimeout 1\n");
        check("replace keeps CRLF and indentation", "  fallback 1 # x\r\ntitle a\r\n", "fallback", "2 3",
              "  fallback 2 3\r\ntitle a\r\n");
        check("every global line changes (last wins in GRUB)", "default 0\ndefault 1\ntitle a\ndefault 4\n", "default",
              "2", "default 2\ndefault 2\ntitle a\ndefault 4\n");
        check("new line goes after the last global", "# hi\ntimeout=5\n\ntitle a\nkernel /a\n", "fallback", "1",
              "# hi\ntimeout=5\nfallback=1\n\ntitle a\nkernel /a\n");
        check("no globals: at the very top", "### BEGIN AUTOMAGIC KERNELS LIST\ntitle a\nkernel /a\n", "default", "0",
              "default 0\n### BEGIN AUTOMAGIC KERNELS LIST\ntitle a\nkernel /a\n");
        check("remove", "default 0\nfallback 1\ntitle a\nkernel /a\n", "fallback", NULL,
              "default 0\ntitle a\nkernel /a\n");
        check("no final newline kept on the edited line", "title a\nkernel /a\n", "default", "1",
              "default 1\ntitle a\nkernel /a\n");
        check("joined line is replaced whole", "default \\\n 0\ntitle a\n", "default", "1", "default 1\ntitle a\n");
}

static void test_entries(void)
{
        const char *text = "default 0\n"
                           "title static\nroot (hd0)\nkernel /vmlinuz-static\n"
                           "### BEGIN AUTOMAGIC KERNELS LIST\n"
                           "title auto\nroot (hd0)\nkernel /vmlinuz-auto\n\n"
                           "### END DEBIAN AUTOMAGIC KERNELS LIST";
        _cleanup_(menulst_freep) MenuLst *m = NULL;
        _cleanup_(menu_info_freep) MenuInfo *info = NULL;
        MenuEvalOptions o = {};
        ok(menulst_parse(text, strlen(text), &m) == 0 && menulst_evaluate(m, &o, &info) == 0, "parse");
        const char *lines[] = { "title new", "root (hd0)", "kernel /vmlinuz-new", NULL };
        ok(menulst_add_entry(m, info, lines, -1) == 0, "append entry");
        _cleanup_free_ char *out = NULL;
        size_t n;
        menulst_serialize(m, &out, &n);
        is_str(out,
               "default 0\n"
               "title static\nroot (hd0)\nkernel /vmlinuz-static\n"
               "### BEGIN AUTOMAGIC KERNELS LIST\n"
               "title auto\nroot (hd0)\nkernel /vmlinuz-auto\n\n"
               "### END DEBIAN AUTOMAGIC KERNELS LIST\n\ntitle new\nroot (hd0)\nkernel /vmlinuz-new\n",
               "appended after update-grub's block, final newline added");

        _cleanup_(menu_info_freep) MenuInfo *i2 = NULL;
        menulst_evaluate(m, &o, &i2);
        is_int(i2->n_entries, 3, "three entries");
        ok(menulst_remove_entry(m, i2, 1) == 0, "remove the automagic entry");
        _cleanup_free_ char *out2 = NULL;
        menulst_serialize(m, &out2, &n);
        ok(strstr(out2, "### BEGIN AUTOMAGIC") && strstr(out2, "### END DEBIAN") && !strstr(out2, "vmlinuz-auto"),
           "markers stay, the entry goes");

        _cleanup_(menu_info_freep) MenuInfo *i3 = NULL;
        menulst_evaluate(m, &o, &i3);
        const char *first[] = { "title first", "kernel /vmlinuz-first", NULL };
        ok(menulst_add_entry(m, i3, first, 0) == 0, "insert before entry 0");
        _cleanup_(menu_info_freep) MenuInfo *i4 = NULL;
        menulst_evaluate(m, &o, &i4);
        ok(i4->n_entries == 3 && streq(i4->entries[0].title, "first"), "new entry is entry 0");
}

static void test_crlf_and_indent(void)
{
        const char *text = "timeout 0\r\ntitle a\r\n\troot (hd0,0)\r\n\tkernel /a\r\n";
        _cleanup_(menulst_freep) MenuLst *m = NULL;
        _cleanup_(menu_info_freep) MenuInfo *info = NULL;
        MenuEvalOptions o = {};
        menulst_parse(text, strlen(text), &m);
        menulst_evaluate(m, &o, &info);
        const char *lines[] = { "title b", "kernel /b", NULL };
        menulst_add_entry(m, info, lines, -1);
        _cleanup_free_ char *out = NULL;
        size_t n;
        menulst_serialize(m, &out, &n);
        is_str(out, "timeout 0\r\ntitle a\r\n\troot (hd0,0)\r\n\tkernel /a\r\n\r\ntitle b\r\n\tkernel /b\r\n",
               "new lines follow the file's CRLF and indentation");
}

static void value(MenuValueKind kind, const char *v, bool good, const char *reason_part)
{
        const char *why = NULL;
        int r = menulst_check_value(kind, v, &why);
        char shown[48]; /* printable, so the TAP line stays one line */
        snprintf(shown, sizeof shown, "%s", v);
        for (char *c = shown; *c; c++)
                if ((unsigned char) *c < ' ' || *c == 0x7f)
                        *c = '?';
        if (good)
                ok(r == 0, "kind %d accepts '%s'", (int) kind, shown);
        else
                ok(r == -EINVAL && why && strstr(why, reason_part), "kind %d refuses '%s': %s", (int) kind, shown,
                   why ? why : "(no reason)");
}

static void test_check_value(void)
{
        static const char controls[] = "\n\t\r\x01\x1b\x1f\x7f";
        const MenuValueKind kinds[] = { MENU_VALUE_TITLE, MENU_VALUE_PATH, MENU_VALUE_ROOT_DEVICE, MENU_VALUE_ARGS,
                                        MENU_VALUE_LINE };
        const char *good[] = { "Debian", "/boot/vmlinuz", "(hd0,0)", "ro quiet", "kernel /vmlinuz ro" };
        for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
                value(kinds[k], good[k], true, NULL);
                for (const char *c = controls; *c; c++) {
                        char v[64];
                        snprintf(v, sizeof v, "%.3s%c%s", good[k], *c, good[k] + 3);
                        value(kinds[k], v, false, "control character");
                }
                _cleanup_free_ char *bs = NULL;
                ok(asprintf(&bs, "%s\\", good[k]) > 0, "alloc");
                value(kinds[k], bs, false, "backslash");
                const char *why;
                ok(menulst_check_value(kinds[k], NULL, &why) == -EINVAL, "NULL refused");
        }
        static const struct {
                MenuValueKind kind;
                const char *value;
                const char *refused_because; /* NULL: accepted */
        } cases[] = {
                { MENU_VALUE_TITLE, "", "empty" },
                { MENU_VALUE_TITLE, "  ", "empty" },
                { MENU_VALUE_TITLE, " x", "start" },
                { MENU_VALUE_TITLE, "=x", "start" },
                { MENU_VALUE_TITLE, "Debian GNU/Linux, kernel 6.1.0-28-amd64 (single-user mode) \xc3\xbf", NULL },
                { MENU_VALUE_PATH, "(hd0,0)/vmlinuz", NULL },
                { MENU_VALUE_PATH, "(hd12)/boot/x-1.2", NULL },
                { MENU_VALUE_PATH, "vmlinuz", "absolute" },
                { MENU_VALUE_PATH, "/", "absolute" },
                { MENU_VALUE_PATH, "(hd0,0)", "absolute" },
                { MENU_VALUE_PATH, "(hd0,0)vmlinuz", "absolute" },
                { MENU_VALUE_PATH, "(nd)/vmlinuz", "absolute" },
                { MENU_VALUE_PATH, "/boot/vm linuz", "blanks" },
                { MENU_VALUE_PATH, "", "absolute" },
                { MENU_VALUE_ROOT_DEVICE, "(hd0)", NULL },
                { MENU_VALUE_ROOT_DEVICE, "(hd10,31)", NULL },
                { MENU_VALUE_ROOT_DEVICE, "", "GRUB device" },
                { MENU_VALUE_ROOT_DEVICE, "hd0", "GRUB device" },
                { MENU_VALUE_ROOT_DEVICE, "(hd0", "GRUB device" },
                { MENU_VALUE_ROOT_DEVICE, "(hd)", "GRUB device" },
                { MENU_VALUE_ROOT_DEVICE, "(hd0,)", "GRUB device" },
                { MENU_VALUE_ROOT_DEVICE, "(hd,0)", "GRUB device" },
                { MENU_VALUE_ROOT_DEVICE, "(hd0,0)x", "GRUB device" },
                { MENU_VALUE_ROOT_DEVICE, "(sd0)", "GRUB device" },
                { MENU_VALUE_ROOT_DEVICE, "(hd0,0,a)", "GRUB device" },
                { MENU_VALUE_ARGS, "", NULL },
                { MENU_VALUE_ARGS, "root=/dev/xvda1 ro \\x \"a b\"", NULL },
                { MENU_VALUE_LINE, "", "empty" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                value(cases[i].kind, cases[i].value, !cases[i].refused_because, cases[i].refused_because);

        /* the line limit: GRUB cuts a logical line at MENULST_LINE_MAX bytes */
        char line[MENULST_LINE_MAX + 1];
        memset(line, 'x', sizeof line - 1);
        line[MENULST_LINE_MAX - 1] = 0;
        value(MENU_VALUE_LINE, line, true, NULL);
        line[MENULST_LINE_MAX - 1] = 'x';
        line[MENULST_LINE_MAX] = 0;
        value(MENU_VALUE_LINE, line, false, "too long");
        line[MENULST_LINE_MAX - sizeof "title "] = 0;
        value(MENU_VALUE_TITLE, line, true, NULL);
        line[MENULST_LINE_MAX - sizeof "title "] = 'x';
        line[MENULST_LINE_MAX - sizeof "title " + 1] = 0;
        value(MENU_VALUE_TITLE, line, false, "too long");
}

static void test_add_entry_refuses_bad_lines(void)
{
        const char *text = "default 0\ntitle a\nkernel /a\n";
        _cleanup_(menulst_freep) MenuLst *m = NULL;
        _cleanup_(menu_info_freep) MenuInfo *info = NULL;
        MenuEvalOptions o = {};
        ok(menulst_parse(text, strlen(text), &m) == 0 && menulst_evaluate(m, &o, &info) == 0, "parse");
        const char *injected[] = { "title b", "kernel /b\ntitle evil", NULL };
        is_int(menulst_add_entry(m, info, injected, -1), -EINVAL, "a line with a newline is refused");
        const char *joined[] = { "title b\\", "kernel /b", NULL };
        is_int(menulst_add_entry(m, info, joined, -1), -EINVAL, "a line ending in a backslash is refused");
        _cleanup_free_ char *out = NULL;
        size_t n;
        menulst_serialize(m, &out, &n);
        is_str(out, text, "nothing changed");
}

static char *repeat(const char *head, const char *line, size_t n, const char *tail, size_t *ret_size)
{
        char *buf = malloc(strlen(head) + strlen(line) * n + strlen(tail) + 1), *p = buf;
        if (!buf)
                abort();
        p = stpcpy(p, head);
        for (size_t i = 0; i < n; i++)
                p = stpcpy(p, line);
        p = stpcpy(p, tail);
        *ret_size = (size_t) (p - buf);
        return buf;
}

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Menus near the 1 MiB limit with one kind of line repeated: every edit and the evaluation stay
 * linear. Each line used to cost a pass over the whole file (a warning appended to a list counted from
 * its start, an edited line renumbering the file): minutes for one pin. The alarm kills the test
 * long before that. */
static void test_scale(void)
{
        alarm(60);
        size_t size, n = 100000;
        _cleanup_free_ char *defaults = repeat("", "default 0\n", n, "timeout 0\ntitle a\nkernel /a\ntitle b\nkernel /b\n",
                                               &size);
        _cleanup_(menulst_freep) MenuLst *m = NULL;
        double t = now();
        ok(menulst_parse(defaults, size, &m) == 0 && menulst_set_global(m, MENU_DIALECT_GRUB, "default", "1") == 0,
           "%zu 'default' lines: set", n);
        ok(m->items[n].line == n + 1 && strneq(m->items[n - 1].raw, "default 1\n", 10), "all changed, lines numbered");
        ok(menulst_set_global(m, MENU_DIALECT_GRUB, "default", NULL) == 0 && m->n_items == 5 &&
           m->items[0].line == 1 && m->items[4].line == 5, "all removed, lines numbered");
        printf("# %.2f s\n", now() - t);

        n = 500000;
        _cleanup_free_ char *unknown = repeat("timeout 0\n", "x\n", n, "title a\nkernel /a\n", &size);
        _cleanup_(menulst_freep) MenuLst *u = NULL;
        _cleanup_(menu_info_freep) MenuInfo *info = NULL;
        t = now();
        ok(menulst_parse(unknown, size, &u) == 0 && menulst_evaluate(u, NULL, &info) == 0 &&
           strv_length(info->warnings) == n, "%zu unknown lines: %zu warnings", n, n);
        printf("# %.2f s\n", now() - t);

        n = 100000;
        _cleanup_free_ char *modules = repeat("timeout 0\ntitle xen\nkernel /xen.gz\n", "module /m\n", n,
                                              "title b\nkernel /b\n", &size);
        _cleanup_(menulst_freep) MenuLst *x = NULL;
        _cleanup_(menu_info_freep) MenuInfo *xi = NULL;
        t = now();
        ok(menulst_parse(modules, size, &x) == 0 && menulst_evaluate(x, NULL, &xi) == 0 &&
           strv_length(xi->entries[0].modules) == n && menulst_remove_entry(x, xi, 0) == 0 && x->n_items == 3 &&
           x->items[2].line == 3, "%zu module lines: evaluated, entry removed", n);
        printf("# %.2f s\n", now() - t);
        alarm(0);
}

int main(void)
{
        test_set_global();
        test_entries();
        test_crlf_and_indent();
        test_check_value();
        test_add_entry_refuses_bad_lines();
        test_scale();
        return tap_done();
}

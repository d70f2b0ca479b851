/* SPDX-License-Identifier: GPL-2.0-or-later */
/* GRUB 0.97's reading of menu.lst on synthetic files: each case is a quirk of stage2.c/builtins.c. */
#include <stdlib.h>

#include "common/macro.h"
#include "menulst/menulst.h"
#include "tests/tap.h"

static MenuInfo *eval_full(const char *text, MenuDialect d, const char *deffile, size_t defsize)
{
        _cleanup_(menulst_freep) MenuLst *m = NULL;
        MenuInfo *info = NULL;
        MenuEvalOptions o = { .dialect = d, .default_file = deffile, .default_file_size = defsize };
        if (menulst_parse(text, strlen(text), &m) < 0 || menulst_evaluate(m, &o, &info) < 0)
                abort();
        return info;
}

static MenuInfo *eval(const char *text)
{
        return eval_full(text, MENU_DIALECT_GRUB, NULL, 0);
}

#define ENTRIES3 "title a\nkernel /a\ntitle b\nkernel /b\ntitle c\nkernel /c\n"

static void expect(const char *name, const char *text, int n_entries, int def, const char *fallback)
{
        _cleanup_(menu_info_freep) MenuInfo *info = eval(text);
        char fb[64] = "";
        size_t k = 0;
        for (size_t i = 0; i < info->n_fallback; i++)
                k += (size_t) snprintf(fb + k, sizeof fb - k, "%s%d", i ? " " : "", info->fallback[i]);
        bool good = (int) info->n_entries == n_entries && info->default_entry == def && streq(fb, fallback);
        ok(good, "%s", name);
        if (!good)
                printf("#   got %zu entries, default %d, fallback [%s]; expected %d, %d, [%s]\n", info->n_entries,
                       info->default_entry, fb, n_entries, def, fallback);
}

static bool has_warning(const MenuInfo *info, const char *needle)
{
        for (char **w = info->warnings; w && *w; w++)
                if (strstr(*w, needle))
                        return true;
        return false;
}

static void test_default_and_fallback(void)
{
        expect("plain", "default 1\nfallback 2\ntimeout 0\n" ENTRIES3, 3, 1, "2");
        expect("hex default", "default 0x2\n" ENTRIES3, 3, 2, "");
        expect("trailing junk after a number is ignored", "default 1foo\n" ENTRIES3, 3, 1, "");
        expect("junk default keeps the earlier value", "default 2\ndefault x\n" ENTRIES3, 3, 2, "");
        expect("a sign is junk", "default -1\n" ENTRIES3, 3, 0, "");
        expect("'=' separator", "default=2\nfallback = 1\n" ENTRIES3, 3, 2, "1");
        expect("several fallbacks", "fallback 2 1\n" ENTRIES3, 3, 0, "2 1");
        expect("comma ends a number", "fallback 1,2\n" ENTRIES3, 3, 0, "1");
        expect("comma then blank goes on", "fallback 1, 2\n" ENTRIES3, 3, 0, "1 2");
        expect("trailing comment disables fallback", "fallback 1 # x\n" ENTRIES3, 3, 0, "");
        expect("duplicate not last disables fallback", "fallback 1 1 2\n" ENTRIES3, 3, 0, "");
        expect("duplicate last is fine", "fallback 1 2 2\n" ENTRIES3, 3, 0, "1 2");
        expect("failed fallback half-overwrites an earlier list", "fallback 2 1\nfallback 1 x\n" ENTRIES3, 3, 0,
               "1 1");
        expect("fallback past the end is pruned", "fallback 7 1\n" ENTRIES3, 3, 0, "1");
        expect("default out of range takes the first fallback", "default 5\nfallback 2 1\n" ENTRIES3, 3, 2, "1");
        expect("default out of range without fallback is 0", "default 5\n" ENTRIES3, 3, 0, "");
        expect("globals after the first title belong to it", "title a\ndefault 1\ntitle b\nkernel /b\n", 2, 0, "");
        expect("a title without commands is dropped", "title a\ntitle b\nkernel /b\n", 1, 0, "");
        expect("capitalised Title is unknown: two entries merge", "title a\nkernel /a\nTitle b\nkernel /b\n", 1, 0,
               "");
        expect("no title: no entries", "kernel /a\n", 0, -1, "");
        expect("comment backslash swallows a title", "# x \\\ntitle a\nkernel /a\ntitle b\nkernel /b\n", 1, 0, "");

        _cleanup_(menu_info_freep) MenuInfo *hang = eval("fallback 1 2 3 4 5 6 7 9\n" ENTRIES3);
        ok(hang->fallback_hang && has_warning(hang, "loops forever"), "8 fallbacks with the last out of range hang 0.97");
        /* found by fuzz-menulst-eval: the default was taken from the list the pruning never finished,
         * and `menu show` read entries[20] of 3 */
        _cleanup_(menu_info_freep) MenuInfo *hang2 = eval("default 5\nfallback 9 8 7 6 5 4 3 20\n" ENTRIES3);
        ok(hang2->fallback_hang && hang2->default_entry == 0 && hang2->n_fallback == 0,
           "a hanging fallback list does not give the out-of-range default (got %d)", hang2->default_entry);
        expect("a bad value before the last of 8 slots leaves the last one twice",
               "fallback 1 12 2 3 4 5 6 7\n" ENTRIES3 ENTRIES3 ENTRIES3 "title j\nkernel /j\n", 10, 0, "1 2 3 4 5 6 7 7");
}

static void test_saved(void)
{
        const char *menu = "default saved\ntimeout 0\n" ENTRIES3;
        _cleanup_(menu_info_freep) MenuInfo *a = eval_full(menu, MENU_DIALECT_GRUB, "2\n#\n#\n#\n#\n#\n", 12);
        ok(a->default_saved && a->default_entry == 2, "default saved reads the default file");
        _cleanup_(menu_info_freep) MenuInfo *b = eval_full(menu, MENU_DIALECT_GRUB, "0:1\n#########", 13);
        is_int(b->default_entry, 1, "A:B boots B once");
        _cleanup_(menu_info_freep) MenuInfo *c = eval_full(menu, MENU_DIALECT_GRUB, "1\0\n\n\n\n\n\n\n\n", 10);
        is_int(c->default_entry, 1, "NUL bytes left by GRUB's own write are fine");
        _cleanup_(menu_info_freep) MenuInfo *d = eval(menu);
        ok(d->default_entry == 0 && has_warning(d, "missing"), "missing default file: entry 0 and a warning");
        _cleanup_(menu_info_freep) MenuInfo *e = eval_full(menu, MENU_DIALECT_GRUB, "2\n", 2);
        ok(e->default_entry == 2 && has_warning(e, "shorter than 10"), "short default file: a warning");
        _cleanup_(menu_info_freep) MenuInfo *f =
                eval_full("default saved \n" ENTRIES3, MENU_DIALECT_GRUB, "2\n#########", 11);
        ok(!f->default_saved && f->default_entry == 0, "'saved ' with a trailing blank fails");
}

static void test_entries(void)
{
        _cleanup_(menu_info_freep) MenuInfo *i = eval(
                "timeout 5\npassword secret\n"
                "title Xen\nroot (hd0,0)\nkernel /boot/xen.gz dom0_mem=512M\nmodule /boot/vmlinuz-2.6.18-8.el5xen ro\n"
                "module /boot/initrd-2.6.18-8.el5xen.img\n"
                "title Linux\nkernel --type=linux /boot/vmlinuz-6.1.0-26-amd64 root=/dev/xvda1 ro\ninitrd /boot/initrd.img-6.1.0-26-amd64\nsavedefault fallback\n"
                "title broken\nkernel /boot/vmlinuz-1\ntimeout 3\n"
                "title chain\nrootnoverify (hd0,1)\nchainloader +1\n"
                "title locked\nlock\nkernel /v\npassword x\n");
        is_int(i->n_entries, 5, "five entries");
        const MenuEntry *e = i->entries;
        is_str(e[0].kernel, "/boot/xen.gz", "multiboot kernel");
        is_str(e[0].release, "2.6.18-8.el5xen", "release from the Linux module of a Xen entry");
        is_str(e[1].kernel, "/boot/vmlinuz-6.1.0-26-amd64", "--type= is skipped");
        is_str(e[1].args, "root=/dev/xvda1 ro", "kernel args");
        is_str(e[1].initrd, "/boot/initrd.img-6.1.0-26-amd64", "initrd");
        ok(e[1].savedefault && streq(e[1].savedefault_arg, "fallback"), "savedefault fallback");
        ok(e[2].fail_reason && strstr(e[2].fail_reason, "timeout"), "a global command fails the entry");
        ok(e[3].chainloader && !e[3].kernel && streq(e[3].root, "(hd0,1)"), "chainloader entry");
        ok(e[4].lock && e[4].password, "lock and entry password");
        ok(i->global_password, "global password");
        ok(has_warning(i, "asks for a password"), "password entry warned");

        _cleanup_(menu_info_freep) MenuInfo *nt = eval(ENTRIES3);
        ok(has_warning(nt, "no 'timeout'"), "missing timeout warned");
}

static void test_pvgrub(void)
{
        const char *t = "serial --unit=0\ntitle a\nsetup (hd0)\ntitle b\nkernel /b\n";
        _cleanup_(menu_info_freep) MenuInfo *g = eval_full(t, MENU_DIALECT_GRUB, NULL, 0);
        _cleanup_(menu_info_freep) MenuInfo *p = eval_full(t, MENU_DIALECT_PVGRUB, NULL, 0);
        is_int(g->n_entries, 2, "GRUB knows setup: entry a counts");
        is_int(p->n_entries, 1, "PV-GRUB does not: entry a is dropped");
        ok(has_warning(p, "'serial'"), "PV-GRUB warns about serial");
}

static void test_select(void)
{
        _cleanup_(menu_info_freep) MenuInfo *i = eval(
                "title Debian, kernel 6.1.0-26-amd64\nkernel /boot/vmlinuz-6.1.0-26-amd64 ro\n"
                "title Debian, kernel 6.1.0-26-amd64 (single-user mode)\nkernel /boot/vmlinuz-6.1.0-26-amd64 ro single\n"
                "title Debian, kernel 6.1.0-25-amd64\nkernel /boot/vmlinuz-6.1.0-25-amd64 ro\n"
                "title same\nkernel /a\ntitle same\nkernel /b\n");
        MenuSelectError e;
        int idx = -1;
        ok(menulst_select(i, "release=6.1.0-26-amd64", &e, &idx) == 0 && idx == 0, "release picks the normal twin");
        ok(menulst_select(i, "6.1.0-25-amd64", &e, &idx) == 0 && idx == 2, "bare release");
        ok(menulst_select(i, "kernel=/boot/vmlinuz-6.1.0-25-amd64", &e, &idx) == 0 && idx == 2, "kernel path");
        ok(menulst_select(i, "vmlinuz-6.1.0-25-amd64", &e, &idx) == 0 && idx == 2, "kernel basename");
        ok(menulst_select(i, "title=Debian, kernel 6.1.0-26-amd64 (single-user mode)", &e, &idx) == 0 && idx == 1,
           "title picks the recovery entry when asked");
        ok(menulst_select(i, "same", &e, &idx) == -EEXIST && e == MENU_SELECT_AMBIGUOUS, "duplicate titles are ambiguous");
        ok(menulst_select(i, "nothing", &e, &idx) == -ENOENT && e == MENU_SELECT_NONE, "no match");
}

/* Every command of GRUB 0.97's table is found (the look-up is a binary search: a name out of order
 * would be lost), and only whole names. */
static void test_commands(void)
{
        static const char *const names[] = {
                "blocklist", "boot", "cat", "chainloader", "cmdline", "cmp", "color", "configfile", "debug",
                "default", "displayapm", "displaymem", "embed", "fallback", "find", "fstest", "geometry", "halt",
                "help", "hiddenmenu", "hide", "impsprobe", "initrd", "install", "ioprobe", "kernel", "lock",
                "makeactive", "map", "md5crypt", "module", "modulenounzip", "pager", "partnew", "parttype",
                "password", "pause", "read", "reboot", "root", "rootnoverify", "savedefault", "serial", "setkey",
                "setup", "terminal", "terminfo", "testload", "testvbe", "timeout", "title", "unhide", "uppermem",
                "vbeprobe",
        };
        unsigned found = 0;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                char line[64], name[32];
                snprintf(line, sizeof line, "%s=x", names[i]);
                found += menulst_find_command(MENU_DIALECT_GRUB, line, name, sizeof name, NULL) != 0 &&
                         streq(name, names[i]);
        }
        is_int(found, ELEMENTSOF(names), "all 54 commands are found");
        static const char *const not_commands[] = { "", "a", "titl", "titles", "kernel2", "Kernel", "zzz", "=title" };
        unsigned none = 0;
        for (size_t i = 0; i < ELEMENTSOF(not_commands); i++)
                none += menulst_find_command(MENU_DIALECT_GRUB, not_commands[i], NULL, 0, NULL) == 0;
        is_int(none, ELEMENTSOF(not_commands), "prefixes, extensions and other case are not commands");
        is_int(menulst_find_command(MENU_DIALECT_PVGRUB, "serial --unit=0", NULL, 0, NULL), 0,
               "PV-GRUB has no serial");
}

int main(void)
{
        test_commands();
        test_default_and_fallback();
        test_saved();
        test_entries();
        test_pvgrub();
        test_select();
        return tap_done();
}

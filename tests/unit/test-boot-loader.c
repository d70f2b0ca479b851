/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One boot on each loader, against what shared/notes/boot-trial.md measured with real boots of GRUB
 * 0.97 and PV-GRUB2 (Xen 4.17): the one-shot layout, its failure modes, and the state-file bytes each
 * loader leaves behind. */
#include <stdlib.h>

#include "boot/loader.h"
#include "common/macro.h"
#include "tests/tap.h"

#define G_ENTRY "title Debian GNU/Linux, kernel 6.1.0-50-amd64\nroot (hd0,0)\n" \
                "kernel /boot/vmlinuz-6.1.0-50-amd64 root=/dev/vda1 ro panic=1\n" \
                "initrd /boot/initrd.img-6.1.0-50-amd64\n"
#define T_BODY  "root (hd0,0)\nkernel /boot/vmlinuz-6.1.0-57-amd64 root=/dev/vda1 ro panic=1\n" \
                "initrd /boot/initrd.img-6.1.0-57-amd64\n"

/* The layout boot-trial.md verified on both loaders: G at 0, T carries `savedefault fallback`. */
static const char *LAYOUT = "timeout 0\ndefault saved\nfallback 0\n\n" G_ENTRY
                            "\ntitle Debian GNU/Linux, kernel 6.1.0-57-amd64 (trial)\n" T_BODY "savedefault fallback\n";
/* e1: T at 0 with `savedefault 1`, G at 1 (works natively, loops on PV-GRUB2) */
static const char *E1 = "timeout 0\ndefault saved\nfallback 1\n\n"
                        "title Debian GNU/Linux, kernel 6.1.0-57-amd64 (trial)\n" T_BODY "savedefault 1\n\n" G_ENTRY;
/* e2: the same with T's title starting with G's index */
static const char *E2 = "timeout 0\ndefault saved\nfallback 1\n\n"
                        "title 1 Debian GNU/Linux, kernel 6.1.0-57-amd64 (trial)\n" T_BODY "savedefault 1\n\n" G_ENTRY;

static MenuLst *parse(const char *text)
{
        MenuLst *m = NULL;
        if (menulst_parse(text, strlen(text), &m) < 0)
                abort();
        return m;
}

/* grub-set-default's format and a grubenv, both naming entry n */
static void armed(BootFiles *f, int n)
{
        char num[8];
        snprintf(num, sizeof num, "%d", n);
        *f = (BootFiles){};
        if (menulst_format_default_file(n, &f->default_file, &f->default_size) < 0 ||
            menulst_grubenv_set(NULL, 0, "saved_entry", num, &f->grubenv) < 0)
                abort();
        f->grubenv_size = MENULST_GRUBENV_SIZE;
}

/* Boots `boots` times on the given loaders (one letter per boot: n = GRUB 0.97, x = PV-GRUB2), each
 * boot starting from the files the previous one left; returns the entries booted as a string. */
static void sequence(const char *menu, BootFiles *files, const char *loaders, char *out, size_t size)
{
        _cleanup_(menulst_freep) MenuLst *m = parse(menu);
        size_t k = 0;
        for (const char *l = loaders; *l; l++) {
                BootOutcome o;
                if (boot_simulate(*l == 'n' ? BOOT_LOADER_GRUB097 : BOOT_LOADER_PVGRUB2, m, files, NULL, NULL, &o) < 0)
                        abort();
                k += (size_t) snprintf(out + k, size - k, "%s%d", k ? " " : "", o.entry);
                boot_files_done(files);
                *files = o.after;
        }
}

static void test_layout_one_shot(void)
{
        char got[64];
        BootFiles f;

        /* Q1: armed -> T once (it may panic: the save happened before hand-off) -> G */
        armed(&f, 1);
        sequence(LAYOUT, &f, "nnn", got, sizeof got);
        is_str(got, "1 0 0", "GRUB 0.97: the armed trial boots once, then the known-good");
        static const char after_t[] = "0\0\n\n\n\n\n\n\n\n#\n#\n#\n#\n#\n#\n";
        ok(f.default_size == 22 && memcmp(f.default_file, after_t, 22) == 0,
           "GRUB 0.97 leaves the bytes boot-trial.md read back: 30 00 0a.. then the old padding");
        boot_files_done(&f);

        /* Q2: PV-GRUB2 saves the first word of T's title, which matches nothing: entry 0 */
        armed(&f, 1);
        sequence(LAYOUT, &f, "xxx", got, sizeof got);
        is_str(got, "1 0 0", "PV-GRUB2: the armed trial boots once, then the known-good");
        _cleanup_free_ char *saved = NULL;
        ok(menulst_grubenv_get(f.grubenv, f.grubenv_size, "saved_entry", &saved) >= 0 && streq(saved, "Debian") &&
           f.grubenv_size == MENULST_GRUBENV_SIZE && f.grubenv[MENULST_GRUBENV_SIZE - 1] == '#',
           "PV-GRUB2 leaves saved_entry=Debian in a 1024-byte, '#'-padded grubenv");
        boot_files_done(&f);

        /* commit: T without savedefault, both files = T: T for good on both */
        _cleanup_free_ char *committed = strdup(LAYOUT);
        *strstr(committed, "savedefault fallback\n") = 0;
        armed(&f, 1);
        sequence(committed, &f, "nnxx", got, sizeof got);
        is_str(got, "1 1 1 1", "committed: T on every boot, on both loaders");
        boot_files_done(&f);
}

static void test_measured_failures(void)
{
        char got[64];
        BootFiles f;

        armed(&f, 0);
        sequence(E1, &f, "nn", got, sizeof got);
        is_str(got, "0 1", "e1 on GRUB 0.97: `savedefault 1` saves G");
        boot_files_done(&f);
        armed(&f, 0);
        sequence(E1, &f, "xxx", got, sizeof got);
        is_str(got, "0 0 0", "e1 on PV-GRUB2: the argument is ignored, 'Debian' resolves to T again (loops)");
        boot_files_done(&f);
        armed(&f, 0);
        sequence(E2, &f, "xx", got, sizeof got);
        is_str(got, "0 1", "e2 on PV-GRUB2: a title starting with G's index saves that index");
        boot_files_done(&f);

        /* Q3: armed natively, the trial boot happens under PV-GRUB2, then native again: one extra boot */
        armed(&f, 1);
        sequence(LAYOUT, &f, "xnn", got, sizeof got);
        is_str(got, "1 1 0", "loader switch mid-trial costs one extra boot of T");
        boot_files_done(&f);

        /* without the state files the one-shot is gone */
        armed(&f, 1);
        free(f.grubenv);
        f.grubenv = NULL;
        f.grubenv_size = 0;
        sequence(LAYOUT, &f, "xx", got, sizeof got);
        is_str(got, "0 0", "PV-GRUB2 without grubenv: load_env fails, entry 0");
        boot_files_done(&f);

        armed(&f, 1);
        f.grubenv[0] = 'X'; /* not a block: load_env fails and save_env writes nothing */
        sequence(LAYOUT, &f, "xx", got, sizeof got);
        is_str(got, "0 0", "PV-GRUB2 with a damaged grubenv boots entry 0");
        boot_files_done(&f);

        armed(&f, 1);
        f.default_size = 4; /* "1\n#\n": GRUB cannot read 10 bytes, savedefault fails, the entry fails */
        sequence(LAYOUT, &f, "n", got, sizeof got);
        is_str(got, "0", "GRUB 0.97 with a short default file: T fails at savedefault, the fallback boots");
        boot_files_done(&f);

        /* `savedefault fallback` in the last member of the list: Error 30, the entry fails */
        const char *last = "timeout 0\ndefault saved\nfallback 1\n\n" G_ENTRY
                           "\ntitle t\n" T_BODY "savedefault fallback\n";
        armed(&f, 1);
        sequence(last, &f, "n", got, sizeof got);
        is_str(got, "-1", "GRUB 0.97: savedefault fallback in the last fallback member fails (Error 30)");
        boot_files_done(&f);
}

static void test_grub2_default_resolution(void)
{
        char got[64];
        BootFiles f = {};
        const char *menu = "timeout 0\ndefault saved\n\ntitle a\nkernel /a\n\ntitle 6.1.0-57 b\nkernel /b\n\ntitle c\nkernel /c\n";
        if (menulst_grubenv_set(NULL, 0, "saved_entry", "c", &f.grubenv) < 0)
                abort();
        f.grubenv_size = MENULST_GRUBENV_SIZE;
        sequence(menu, &f, "x", got, sizeof got);
        is_str(got, "2", "PV-GRUB2: a saved_entry equal to a title selects it");
        boot_files_done(&f);
        if (menulst_grubenv_set(NULL, 0, "saved_entry", "2abc", &f.grubenv) < 0)
                abort();
        f.grubenv_size = MENULST_GRUBENV_SIZE;
        sequence(menu, &f, "x", got, sizeof got);
        is_str(got, "2", "PV-GRUB2: a leading number is an index whatever follows");
        boot_files_done(&f);
        if (menulst_grubenv_set(NULL, 0, "saved_entry", "7", &f.grubenv) < 0)
                abort();
        f.grubenv_size = MENULST_GRUBENV_SIZE;
        sequence(menu, &f, "x", got, sizeof got);
        is_str(got, "0", "PV-GRUB2: an index out of range is entry 0 (not the fallback, unlike 0.97)");
        boot_files_done(&f);
}

static void test_grubenv(void)
{
        _cleanup_free_ char *a = NULL, *b = NULL, *v = NULL, *w = NULL;
        ok(menulst_grubenv_set(NULL, 0, "saved_entry", "1", &a) >= 0, "a new grubenv");
        ok(strneq(a, "# GRUB Environment Block\nsaved_entry=1\n#", 39) && strlen(a) == MENULST_GRUBENV_SIZE,
           "the format grub-editenv writes: signature, variable, '#' padding to 1024 bytes");
        ok(menulst_grubenv_set(a, MENULST_GRUBENV_SIZE, "next", "x\\y\nz", &b) >= 0, "a second variable");
        ok(menulst_grubenv_get(b, MENULST_GRUBENV_SIZE, "next", &v) >= 0 && streq(v, "x\\y\nz"),
           "backslash and newline round-trip through their escapes");
        ok(menulst_grubenv_get(b, MENULST_GRUBENV_SIZE, "saved_entry", &w) >= 0 && streq(w, "1"),
           "setting one variable keeps the others");
        char *big = malloc(2000);
        memset(big, 'v', 1999);
        big[1999] = 0;
        char *c = NULL;
        is_int(menulst_grubenv_set(b, MENULST_GRUBENV_SIZE, "big", big, &c), -E2BIG, "too big for the block");
        is_int(menulst_grubenv_get(b, 100, "next", &c), -EBADMSG, "a block of the wrong size is not a grubenv");
        is_int(menulst_grubenv_get(b, MENULST_GRUBENV_SIZE, "nope", &c), -ENOENT, "unset variable");
        free(big);
        /* envblk.c stops at a line without its newline: not a variable, and not carried over */
        char cut[MENULST_GRUBENV_SIZE];
        memset(cut, '#', sizeof cut);
        memcpy(cut, "# GRUB Environment Block\nsaved_entry=x", 38);
        is_int(menulst_grubenv_get(cut, sizeof cut, "saved_entry", &c), -ENOENT, "an unterminated line is no variable");
}

int main(void)
{
        test_layout_one_shot();
        test_measured_failures();
        test_grub2_default_resolution();
        test_grubenv();
        return tap_done();
}

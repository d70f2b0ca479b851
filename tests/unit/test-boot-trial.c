/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The trial layout on real menus: built, proven by simulating both loaders, surviving an update-grub
 * rewrite of its block, and removed again leaving the rest of the file as it was. */
#include <stdlib.h>

#include "boot/trial.h"
#include "common/fileio.h"
#include "common/macro.h"
#include "tests/tap.h"

static char *corpus_file(const char *name, size_t *ret_size)
{
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", getenv("KK_CORPUS") ? getenv("KK_CORPUS") : "tests/data/menulst", name);
        char *data = NULL;
        if (read_full_file(path, MENULST_MAX_SIZE, &data, ret_size) < 0)
                abort();
        return data;
}

static MenuLst *parse(const char *text, size_t size)
{
        MenuLst *m = NULL;
        if (menulst_parse(text, size, &m) < 0)
                abort();
        return m;
}

static MenuInfo *eval(const MenuLst *m)
{
        MenuInfo *info = NULL;
        MenuEvalOptions o = { .dialect = MENU_DIALECT_GRUB };
        if (menulst_evaluate(m, &o, &info) < 0)
                abort();
        return info;
}

static int select_entry(const MenuInfo *info, const char *sel)
{
        MenuSelectError e;
        int idx;
        if (menulst_select(info, sel, &e, &idx) < 0)
                abort();
        return idx;
}

static char *serialize(const MenuLst *m)
{
        char *data;
        size_t size;
        if (menulst_serialize(m, &data, &size) < 0)
                abort();
        return data;
}

static void test_arm_linode(void)
{
        size_t size;
        _cleanup_free_ char *data = corpus_file("02-avar-linode-etc-before-update-grub.lst", &size);
        _cleanup_(menulst_freep) MenuLst *m = parse(data, size);
        _cleanup_(menu_info_freep) MenuInfo *info = eval(m);
        int g = select_entry(info, "release=2.6.36-rc4-Avar-Akbar+");
        int t = select_entry(info, "release=2.6.36-rc1-Avar-Akbar");
        TrialOptions o = { .panic_sec = 10 };

        _cleanup_(menulst_freep) MenuLst *armed = NULL;
        ok(trial_layout_arm(m, info, g, t, &o, &armed) >= 0, "arm a trial on the Linode menu");
        _cleanup_(menu_info_freep) MenuInfo *ai = eval(armed);
        int fg, ft;
        trial_find(armed, ai, &fg, &ft);
        ok(fg == 0 && ft == 1, "known-good copy is entry 0, the trial copy entry 1");
        ok(ai->n_entries == info->n_entries + 2, "the menu's own entries are all still there");
        is_str(ai->entries[0].kernel, info->entries[g].kernel, "entry 0 boots G's kernel");
        is_str(ai->entries[1].kernel, info->entries[t].kernel, "entry 1 boots T's kernel");
        ok(strstr(ai->entries[1].args, "panic=10") && strstr(ai->entries[1].args, TRIAL_CMDLINE_MARK) &&
           !strstr(ai->entries[0].args, TRIAL_CMDLINE_MARK), "only the trial gets panic=N and the trial mark");
        ok(ai->entries[1].savedefault && streq(ai->entries[1].savedefault_arg, "fallback") && !ai->entries[0].savedefault,
           "the trial saves its fallback, the known-good saves nothing");
        ok(strncmp(ai->entries[1].title, "kernelkeeper ", 13) == 0, "the trial's first title word is not a number");

        _cleanup_free_ char *text = serialize(armed);
        const char *begin = strstr(text, "### BEGIN AUTOMAGIC");
        const char *copy = strstr(text, "title " TRIAL_TRIAL_PREFIX);
        ok(begin && copy && copy < begin, "the copies stand above update-grub's block");
        ok(ai->default_saved && ai->n_fallback_list == 1 && ai->fallback_list[0] == 0, "default saved, fallback 0");
        ok(!strstr(text, "ro  panic"), "one blank before what the trial adds to the command line");

        BootFiles files;
        if (trial_state_files(TRIAL_TRIAL_INDEX, NULL, &files) < 0)
                abort();
        const char *problem = NULL;
        ok(trial_verify(armed, &files, NULL, NULL, &problem) >= 0, "both loaders: T once, then G (%s)",
           problem ? problem : "ok");

        /* the default file naming G is not armed: verify says so */
        BootFiles g0;
        if (trial_state_files(TRIAL_GOOD_INDEX, NULL, &g0) < 0)
                abort();
        ok(trial_verify(armed, &g0, NULL, NULL, &problem) == -EPROTO && strstr(problem, "would not boot the trial"),
           "verify refuses state files that do not arm the trial");
        boot_files_done(&g0);

        /* a missing grubenv breaks the one-shot on PV-GRUB2 only */
        BootFiles no_env = files;
        no_env.grubenv = NULL;
        no_env.grubenv_size = 0;
        ok(trial_verify(armed, &no_env, NULL, NULL, &problem) == -EPROTO && strstr(problem, "PV-GRUB2"),
           "verify needs grubenv for PV-GRUB2");
        boot_files_done(&files);

        /* arming twice is refused; stripping gives back the file, globals aside */
        _cleanup_(menulst_freep) MenuLst *again = NULL;
        is_int(trial_layout_arm(armed, ai, 2, 3, &o, &again), -EBUSY, "a second trial on an armed menu is refused");
        _cleanup_(menulst_freep) MenuLst *stripped = NULL;
        ok(trial_layout_strip(armed, &stripped) >= 0, "strip the trial entries");
        if (menulst_set_global(stripped, MENU_DIALECT_GRUB, "default", "0") < 0 ||
            menulst_set_global(stripped, MENU_DIALECT_GRUB, "fallback", NULL) < 0)
                abort();
        _cleanup_free_ char *back = serialize(stripped);
        ok(streq(back, data), "stripped, with the old globals back, the file is byte for byte the original");
}

/* update-grub regenerates the block between its markers; the copies above it survive */
static void test_survives_update_grub(void)
{
        size_t size;
        _cleanup_free_ char *before = corpus_file("02-avar-linode-etc-before-update-grub.lst", &size);
        _cleanup_(menulst_freep) MenuLst *m = parse(before, size);
        _cleanup_(menu_info_freep) MenuInfo *info = eval(m);
        TrialOptions o = { .panic_sec = 10 };
        _cleanup_(menulst_freep) MenuLst *armed = NULL;
        if (trial_layout_arm(m, info, select_entry(info, "release=2.6.36-rc4-Avar-Akbar+"),
                             select_entry(info, "release=2.6.36-rc1-Avar-Akbar"), &o, &armed) < 0)
                abort();
        _cleanup_free_ char *text = serialize(armed);

        /* the real rewrite: the block of 03 (after update-grub) in place of ours */
        size_t asize;
        _cleanup_free_ char *after = corpus_file("03-avar-linode-etc-after-update-grub.lst", &asize);
        const char *nb = strstr(after, "### BEGIN AUTOMAGIC"), *ne = strstr(after, "### END DEBIAN AUTOMAGIC");
        char *ob = strstr(text, "### BEGIN AUTOMAGIC"), *oe = strstr(text, "### END DEBIAN AUTOMAGIC");
        if (!nb || !ne || !ob || !oe)
                abort();
        _cleanup_free_ char *rewritten = NULL;
        if (asprintf(&rewritten, "%.*s%.*s%s", (int) (ob - text), text, (int) (ne - nb), nb, oe) < 0)
                abort();
        _cleanup_(menulst_freep) MenuLst *rm = parse(rewritten, strlen(rewritten));
        _cleanup_(menu_info_freep) MenuInfo *ri = eval(rm);
        int fg, ft;
        trial_find(rm, ri, &fg, &ft);
        ok(fg == 0 && ft == 1 && ri->n_entries > info->n_entries + 2,
           "after update-grub added kernels to its block the trial entries are still 0 and 1");
        BootFiles files;
        if (trial_state_files(TRIAL_TRIAL_INDEX, NULL, &files) < 0)
                abort();
        const char *problem = NULL;
        ok(trial_verify(rm, &files, NULL, NULL, &problem) >= 0, "and the one-shot still holds on both loaders");
        boot_files_done(&files);
}

static void test_refusals(void)
{
        const char *text = "timeout 0\ndefault 0\n\ntitle a\nkernel /a ro\n\ntitle b\nkernel /b panic=5\n\n"
                           "title c\nroot (hd0,0)\n\ntitle kernelkeeper\nkernel /k\n";
        _cleanup_(menulst_freep) MenuLst *m = parse(text, strlen(text));
        _cleanup_(menu_info_freep) MenuInfo *info = eval(m);
        TrialOptions o = { .panic_sec = 10 };
        MenuLst *out = NULL;
        is_int(trial_layout_arm(m, info, 0, 0, &o, &out), -EINVAL, "G and T the same entry");
        is_int(trial_layout_arm(m, info, 0, 2, &o, &out), -EINVAL, "an entry without a kernel");
        is_int(trial_layout_arm(m, info, 0, 9, &o, &out), -EINVAL, "an index out of range");
        is_int(trial_layout_arm(m, info, 0, 1, &o, &out), -EEXIST,
               "a title 'kernelkeeper' would catch PV-GRUB2's saved word");

        const char *t2 = "timeout 0\n\ntitle a\nkernel /a ro\n\ntitle b\nkernel /b ro panic=5\n";
        _cleanup_(menulst_freep) MenuLst *m2 = parse(t2, strlen(t2));
        _cleanup_(menu_info_freep) MenuInfo *i2 = eval(m2);
        _cleanup_(menulst_freep) MenuLst *a2 = NULL;
        ok(trial_layout_arm(m2, i2, 0, 1, &o, &a2) >= 0, "arm with a trial that has its own panic=");
        _cleanup_(menu_info_freep) MenuInfo *ai2 = eval(a2);
        ok(!strstr(ai2->entries[1].args, "panic=10") && strstr(ai2->entries[1].args, "panic=5"),
           "its own panic= is kept, none added");

        char longargs[300];
        memset(longargs, 'x', 250);
        longargs[250] = 0;
        _cleanup_free_ char *t3 = NULL;
        if (asprintf(&t3, "timeout 0\n\ntitle a\nkernel /a ro\n\ntitle b\nkernel /b %s\n", longargs) < 0)
                abort();
        _cleanup_(menulst_freep) MenuLst *m3 = parse(t3, strlen(t3));
        _cleanup_(menu_info_freep) MenuInfo *i3 = eval(m3);
        is_int(trial_layout_arm(m3, i3, 0, 1, &o, &out), -E2BIG, "a command line GRUB 0.97 would cut");

        /* a menu whose own fallbacks move down by two behind fallback 0 */
        const char *t4 = "timeout 0\ndefault 1\nfallback 2\n\ntitle a\nkernel /a\n\ntitle b\nkernel /b\n\ntitle c\nkernel /c\n";
        _cleanup_(menulst_freep) MenuLst *m4 = parse(t4, strlen(t4));
        _cleanup_(menu_info_freep) MenuInfo *i4 = eval(m4);
        _cleanup_(menulst_freep) MenuLst *a4 = NULL;
        if (trial_layout_arm(m4, i4, 1, 0, &o, &a4) < 0)
                abort();
        _cleanup_(menu_info_freep) MenuInfo *ai4 = eval(a4);
        ok(ai4->n_fallback_list == 2 && ai4->fallback_list[0] == 0 && ai4->fallback_list[1] == 4,
           "fallback 0, then the menu's own fallback moved down by two");
}

int main(void)
{
        test_arm_linode();
        test_survives_update_grub();
        test_refusals();
        return tap_done();
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "boot/trial.h"
#include "common/macro.h"
#include "common/strv.h"

#define MARK_GOOD TRIAL_MARKER " known-good copy; kernelkeeper removes it when the trial ends"
#define MARK_TRIAL TRIAL_MARKER " trial copy; kernelkeeper removes it when the trial ends"

static const char *skip_blanks(const char *p)
{
        while (*p == ' ' || *p == '\t')
                p++;
        return p;
}

/* 1 known-good, 2 trial, 0 neither: the marker is the first comment inside the entry */
static int entry_kind(const MenuLst *m, const MenuEntry *e)
{
        for (size_t i = e->title_item + 1; i <= e->last_item && i < m->n_items; i++) {
                const char *p = skip_blanks(m->items[i].raw);
                if (!strneq(p, TRIAL_MARKER, strlen(TRIAL_MARKER)))
                        continue;
                p = skip_blanks(p + strlen(TRIAL_MARKER));
                return strneq(p, "known-good", 10) ? 1 : strneq(p, "trial", 5) ? 2 : 0;
        }
        return 0;
}

void trial_find(const MenuLst *m, const MenuInfo *info, int *ret_good, int *ret_trial)
{
        int good = -1, trial = -1;
        for (size_t i = 0; i < info->n_entries; i++) {
                int k = entry_kind(m, &info->entries[i]);
                if (k == 1 && good < 0)
                        good = (int) i;
                else if (k == 2 && trial < 0)
                        trial = (int) i;
        }
        *ret_good = good;
        *ret_trial = trial;
}

static size_t trailing_blanks(const char *s)
{
        size_t n = strlen(s), k = 0;
        while (k < n && (s[n - 1 - k] == ' ' || s[n - 1 - k] == '\t'))
                k++;
        return k;
}

static bool has_word_prefix(const char *args, const char *prefix)
{
        size_t l = strlen(prefix);
        for (const char *p = args; *p;) {
                p = skip_blanks(p);
                if (strneq(p, prefix, l))
                        return true;
                p += strcspn(p, " \t");
        }
        return false;
}

/* The entry's commands as GRUB reads them, for a copy: savedefault lines dropped (the copy decides
 * what it saves), the kernel line given `extra` at its end. */
static int copy_entry_lines(const MenuLst *m, const MenuEntry *e, const char *title, const char *mark,
                            const char *extra, char ***ret)
{
        _cleanup_strv_free_ char **lines = NULL;
        if (strv_pushf(&lines, "title %s", title) < 0 || strv_push(&lines, mark) < 0)
                return -ENOMEM;
        for (size_t i = e->title_item + 1; i <= e->last_item; i++) {
                const char *c = m->items[i].cooked, *arg;
                char name[32];
                if (!c)
                        continue;
                if (!menulst_find_command(MENU_DIALECT_GRUB, c, name, sizeof name, &arg) || streq(name, "savedefault"))
                        continue;
                /* GRUB keeps trailing blanks in the cooked line: one blank before what is added */
                int r = streq(name, "kernel") && extra
                                ? strv_pushf(&lines, "%.*s %s", (int) (strlen(c) - trailing_blanks(c)), c, extra)
                                : strv_push(&lines, c);
                if (r < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(lines);
        return 0;
}

static int insert_top(MenuLst *m, char **lines)
{
        _cleanup_(menu_info_freep) MenuInfo *info = NULL;
        MenuEvalOptions o = { .dialect = MENU_DIALECT_GRUB };
        int r = menulst_evaluate(m, &o, &info);
        if (r < 0)
                return r;
        return menulst_add_entry(m, info, (const char *const *) lines, MENULST_ENTRY_TOP);
}

int trial_layout_arm(const MenuLst *m, const MenuInfo *info, int good, int trial, const TrialOptions *o,
                     MenuLst **ret)
{
        if (good < 0 || trial < 0 || good == trial || (size_t) good >= info->n_entries ||
            (size_t) trial >= info->n_entries)
                return -EINVAL;
        const MenuEntry *g = &info->entries[good], *t = &info->entries[trial];
        if (!g->kernel || !t->kernel)
                return -EINVAL;
        int cur_good, cur_trial;
        trial_find(m, info, &cur_good, &cur_trial);
        if (cur_good >= 0 || cur_trial >= 0)
                return -EBUSY; /* strip the old trial first */
        for (size_t i = 0; i < info->n_entries; i++)
                if (streq(info->entries[i].title, "kernelkeeper"))
                        return -EEXIST;

        /* panic=N so a panicking trial reboots (into G) instead of halting; the mark tells the early
         * boot unit that this boot is the trial */
        _cleanup_free_ char *extra = NULL, *good_title = NULL, *trial_title = NULL;
        bool add_panic = o && o->panic_sec > 0 && !has_word_prefix(t->args, "panic=");
        if ((add_panic ? asprintf(&extra, "panic=%d %s", o->panic_sec, TRIAL_CMDLINE_MARK)
                       : asprintf(&extra, "%s", TRIAL_CMDLINE_MARK)) < 0)
                return -ENOMEM;
        if (strlen(t->args) + (*t->args ? 1 : 0) + strlen(extra) > TRIAL_LINUX_CMDLINE_MAX)
                return -E2BIG;
        if (asprintf(&good_title, TRIAL_GOOD_PREFIX "%s", g->title) < 0 ||
            asprintf(&trial_title, TRIAL_TRIAL_PREFIX "%s", t->title) < 0)
                return -ENOMEM;

        _cleanup_strv_free_ char **good_lines = NULL, **trial_lines = NULL;
        int r = copy_entry_lines(m, g, good_title, MARK_GOOD, NULL, &good_lines);
        if (r >= 0)
                r = copy_entry_lines(m, t, trial_title, MARK_TRIAL, extra, &trial_lines);
        if (r >= 0)
                r = strv_push(&trial_lines, "savedefault fallback");
        if (r < 0)
                return r;

        _cleanup_(menulst_freep) MenuLst *a = menulst_copy(m);
        if (!a)
                return -ENOMEM;
        /* T first, then G above it: G is entry 0, T entry 1 */
        r = insert_top(a, trial_lines);
        if (r >= 0)
                r = insert_top(a, good_lines);
        if (r < 0)
                return r;

        /* fallback 0 first; the menu's own fallbacks stay behind it, moved down by the two copies */
        char list[MENULST_MAX_FALLBACK * 12] = "0";
        size_t k = 1, n = 1;
        for (size_t i = 0; i < info->n_fallback_list && n < MENULST_MAX_FALLBACK; i++, n++)
                k += (size_t) snprintf(list + k, sizeof list - k, " %d", info->fallback_list[i] + 2);
        r = menulst_set_global(a, MENU_DIALECT_GRUB, "default", "saved");
        if (r >= 0)
                r = menulst_set_global(a, MENU_DIALECT_GRUB, "fallback", list);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}

int trial_state_files(int index, const BootFiles *current, BootFiles *ret)
{
        BootFiles f = {};
        char num[16];
        snprintf(num, sizeof num, "%d", index);
        int r = menulst_format_default_file(index, &f.default_file, &f.default_size);
        if (r < 0)
                return r;
        r = menulst_grubenv_set(current ? current->grubenv : NULL, current ? current->grubenv_size : 0,
                                "saved_entry", num, &f.grubenv);
        if (r == -EBADMSG) /* a damaged block is replaced by a new one */
                r = menulst_grubenv_set(NULL, 0, "saved_entry", num, &f.grubenv);
        if (r < 0) {
                boot_files_done(&f);
                return r;
        }
        f.grubenv_size = MENULST_GRUBENV_SIZE;
        *ret = f;
        return 0;
}

int trial_layout_strip(const MenuLst *m, MenuLst **ret)
{
        _cleanup_(menulst_freep) MenuLst *a = menulst_copy(m);
        if (!a)
                return -ENOMEM;
        for (;;) {
                _cleanup_(menu_info_freep) MenuInfo *info = NULL;
                MenuEvalOptions o = { .dialect = MENU_DIALECT_GRUB };
                int r = menulst_evaluate(a, &o, &info);
                if (r < 0)
                        return r;
                int good, trial;
                trial_find(a, info, &good, &trial);
                int idx = MAX(good, trial);
                if (idx < 0)
                        break;
                size_t at = info->entries[idx].title_item;
                r = menulst_remove_entry(a, info, idx);
                if (r < 0)
                        return r;
                /* the blank line trial_layout_arm() put after the copy now stands where it began */
                menulst_remove_blank_line(a, at);
        }
        *ret = TAKE_PTR(a);
        return 0;
}

int trial_verify(const MenuLst *m, const BootFiles *files, BootLoadsFunc loads, void *userdata,
                 const char **ret_problem)
{
        static const struct {
                BootLoader loader;
                const char *trial_not_booted, *good_not_next;
        } checks[] = {
                { BOOT_LOADER_GRUB097, "GRUB 0.97 would not boot the trial entry",
                  "GRUB 0.97 would not boot the known-good entry after the trial" },
                { BOOT_LOADER_PVGRUB2, "PV-GRUB2 would not boot the trial entry",
                  "PV-GRUB2 would not boot the known-good entry after the trial" },
        };
        _cleanup_(menu_info_freep) MenuInfo *info = NULL;
        MenuEvalOptions eo = { .dialect = MENU_DIALECT_GRUB };
        int r = menulst_evaluate(m, &eo, &info);
        if (r < 0)
                return r;
        int good, trial;
        trial_find(m, info, &good, &trial);
        if (good != TRIAL_GOOD_INDEX || trial != TRIAL_TRIAL_INDEX) {
                *ret_problem = "the trial entries are not entries 0 and 1";
                return -EPROTO;
        }
        for (size_t i = 0; i < ELEMENTSOF(checks); i++) {
                BootOutcome first = {}, second = {};
                r = boot_simulate(checks[i].loader, m, files, loads, userdata, &first);
                if (r < 0)
                        return r;
                const char *problem = NULL;
                if (first.entry != trial)
                        problem = checks[i].trial_not_booted;
                else {
                        r = boot_simulate(checks[i].loader, m, &first.after, loads, userdata, &second);
                        if (r < 0) {
                                boot_outcome_done(&first);
                                return r;
                        }
                        if (second.entry != good)
                                problem = checks[i].good_not_next;
                }
                boot_outcome_done(&first);
                boot_outcome_done(&second);
                if (problem) {
                        *ret_problem = problem;
                        return -EPROTO;
                }
        }
        return 0;
}

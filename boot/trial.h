/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The one-shot kernel trial in the layout that boot-trial.md measured to work on GRUB 0.97 AND on
 * PV-GRUB2 (the same disk may be booted by either):
 *
 *     default saved
 *     fallback 0 [the menu's other fallbacks, moved down by two]
 *     entry 0: a copy of the known-good entry G, "kernelkeeper known-good: <G's title>"
 *     entry 1: a copy of the trial entry T,      "kernelkeeper trial: <T's title>", with panic=N (if it
 *              has none) and kernelkeeper.trial=1 on its command line, and `savedefault fallback`
 *     both state files (`default`, `grubenv`) naming entry 1
 *
 * GRUB 0.97 writes 0 to `default` before it boots entry 1; PV-GRUB2 saves the first word of entry 1's
 * title, "kernelkeeper", which names no entry, so its next boot is entry 0: either way a trial that
 * panics, hangs or fails is followed by G. The copies sit above update-grub's AUTOMAGIC block, which it
 * regenerates, and carry a marker comment so a rewritten menu can be recognised and the trial entries
 * found and removed. Pure: menus and state files in, menus and state files out. */

#include "boot/loader.h"
#include "menulst/menulst.h"

#define TRIAL_MARKER "# kernelkeeper-trial:"
#define TRIAL_GOOD_PREFIX "kernelkeeper known-good: "
#define TRIAL_TRIAL_PREFIX "kernelkeeper trial: "
#define TRIAL_CMDLINE_MARK "kernelkeeper.trial=1"
#define TRIAL_GOOD_INDEX 0
#define TRIAL_TRIAL_INDEX 1
#define TRIAL_LINUX_CMDLINE_MAX 255 /* GRUB 0.97 cuts a Linux command line there */

typedef struct TrialOptions {
        int panic_sec; /* panic=N added when the trial's command line has no panic= (0: not added) */
} TrialOptions;

/* Builds the armed menu from m (info = its evaluation), G and T given by index. Existing trial
 * entries are replaced. Errors: -EINVAL (G == T, an index out of range, an entry without a kernel),
 * -E2BIG (T's command line would pass GRUB 0.97's 255 bytes), -EEXIST (a title equal to
 * "kernelkeeper", which PV-GRUB2's saved word would select). */
int trial_layout_arm(const MenuLst *m, const MenuInfo *info, int good, int trial, const TrialOptions *o,
                     MenuLst **ret);

/* The state files naming entry `index`: `default` in grub-set-default's format and grubenv with
 * saved_entry (its other variables kept when current holds a valid block). */
int trial_state_files(int index, const BootFiles *current, BootFiles *ret);

/* Where the trial entries of an evaluated menu are: -1 each if absent. */
void trial_find(const MenuLst *m, const MenuInfo *info, int *ret_good, int *ret_trial);

/* m without the trial entries (and their markers); every other byte kept. */
int trial_layout_strip(const MenuLst *m, MenuLst **ret);

/* Proves the one-shot before anything is written: with `files`, each loader boots the trial entry,
 * and the boot after it (whatever the trial kernel then does) boots the known-good entry. loads as
 * for boot_simulate(). On failure returns -EPROTO and sets *ret_problem (static text). */
int trial_verify(const MenuLst *m, const BootFiles *files, BootLoadsFunc loads, void *userdata,
                 const char **ret_problem);

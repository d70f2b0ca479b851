/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "daemon/context.h"
#include "daemon/menu-load.h"

/* The kernel trial, wired together: boot/trial.h builds and proves the layout, boot/trial-state.h
 * says what each event means, boot/history.h keeps the record; this file loads, writes and logs.
 * State: the "trial" key (phase, boot ids, the identities of the known-good and trial entries, the
 * menu's own default/fallback lines to put back) and the "boots" history. */

/* `kernel trial SEL`: arms a one-shot boot of SEL with the pinned default as the known-good. */
int kernel_trial_arm(const Context *ctx, const char *selector);

/* What `pin --reapply` (the kernel hooks) and the guardian do while a trial is in flight, the caller
 * holding the writers' lock (pin_reapply()): puts the trial layout back on the menu as it is now,
 * by identity (the known-good copy at entry 0, the trial copy at 1, the pin's fallbacks behind them)
 * when a rewrite (update-grub, grubby) broke it, with both state files naming the trial in the boot
 * that armed it, the known-good entry in any later one. Through menu_txn_run(), as `kernel trial`.
 * *ret_summary: NULL when the layout held, else what was put back; ret_seen (may be NULL): the menu
 * as it was read. Logs its errors. */
int kernel_trial_reapply(const Context *ctx, json_t *state, char **ret_summary, LoadedMenu **ret_seen);

/* `kernel commit` / `kernel rollback`. */
int kernel_trial_commit(const Context *ctx);
int kernel_trial_rollback(const Context *ctx);

/* `boots record` (kernelkeeper-boot.service, early in every boot): records this boot and moves the
 * trial on. *ret_reboot: the trial we are running failed, the caller should reboot into the
 * known-good kernel. */
int boots_record(const Context *ctx, bool *ret_reboot);

/* `boots health` (kernelkeeper-health.service, after boot-complete.target): runs every executable of
 * ROOT/etc/kernelkeeper/health.d in order, each within [Trial] CheckTimeoutSec, the whole boot within
 * HealthTimeoutSec of the kernel's start; records the verdict for this boot and, on the trial's boot,
 * commits it (AutoCommit=yes) or fails it. *ret_healthy: the verdict; *ret_reboot as for
 * boots_record(). */
int boots_health(const Context *ctx, bool *ret_healthy, bool *ret_reboot);

/* `boots generate DIR` (a systemd generator): on the trial's boot, boot-complete.target must be
 * reached within HealthTimeoutSec or systemd reboots, into the known-good kernel GRUB already
 * saved, and kernelkeeper-health.service judges the boot. Writes nothing on other boots. */
int boots_generate(const Context *ctx, const char *dir);

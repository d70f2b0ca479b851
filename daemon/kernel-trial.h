/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

#include "daemon/context.h"

/* The kernel trial, wired together: boot/trial.h builds and proves the layout, boot/trial-state.h
 * says what each event means, boot/history.h keeps the record; this file loads, writes and logs.
 * State: the "trial" key (phase, boot ids, the identities of the known-good and trial entries, the
 * menu's own default/fallback lines to put back) and the "boots" history. */

/* `kernel trial SEL`: arms a one-shot boot of SEL with the pinned default as the known-good. */
int kernel_trial_arm(const Context *ctx, const char *selector);

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

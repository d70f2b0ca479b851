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

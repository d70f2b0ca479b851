/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Boot history: one record per boot, newest last, bounded. Records are JSON objects (they live in
 * the state file under "boots") with the keys
 *   boot_id, time, release, entry (index or null), title (or null), trial (bool),
 *   outcome ("good", "failed", "unknown"), reason (or null)
 * and a boot the machine never reached userspace in (a trial that panicked) gets a record of its own,
 * without a boot id, when the boot after it tells. Pure: the caller loads and saves the array. */

#include <jansson.h>
#include <stdbool.h>

#include "menulst/menulst.h"

#define BOOT_HISTORY_MAX 64

typedef struct BootRecord {
        const char *boot_id;  /* NULL for a boot that never reached userspace */
        const char *time;     /* ISO 8601 */
        const char *release;
        int entry;            /* -1: not matched */
        const char *title;
        bool trial;
        const char *outcome;  /* "good", "failed", "unknown" */
        const char *reason;
} BootRecord;

/* Appends r (dropping the oldest records past BOOT_HISTORY_MAX); a record for a boot id already
 * there is not added twice (the early unit may run again in the same boot). Returns 1 if added. */
int boot_history_add(json_t *history, const BootRecord *r);

/* Sets the outcome (and reason) of the record of boot_id; -ENOENT if there is none. */
int boot_history_set_outcome(json_t *history, const char *boot_id, const char *outcome, const char *reason);

/* True if a trial boot of release is recorded as failed: a kernel that failed its trial is not
 * tried again automatically (by hand, `kernel trial` still may). */
bool boot_history_trial_failed(json_t *history, const char *release);

/* The entry a boot came from: the entry whose kernel command line is the booted one (GRUB 0.97 passes
 * it as written, cut at 255 bytes) and whose kernel release matches; the first such entry, or -1. */
int boot_match_entry(const MenuInfo *info, const char *cmdline, const char *release);

/* True if the kernel command line holds the word `word` (e.g. the trial mark). */
bool boot_cmdline_has(const char *cmdline, const char *word);

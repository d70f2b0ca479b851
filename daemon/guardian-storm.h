/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Rewrite-storm detection for the daemon: another writer that keeps putting the same menu back must
 * not be fought at full speed forever. Pure bookkeeping, times in microseconds (CLOCK_MONOTONIC). */

#define STORM_RING 64 /* StormCount is clamped to this */
#define STORM_BASE_BACKOFF_USEC (1000ULL * 1000ULL)

typedef struct StormLimits {
        unsigned count;           /* restores of the same foreign content that make a storm, 0: never */
        uint64_t window_usec;     /* ... within this long */
        uint64_t max_backoff_usec; /* the back-off doubles up to this */
} StormLimits;

typedef struct StormTracker {
        uint64_t hash;            /* the foreign content restored last */
        uint64_t times[STORM_RING]; /* when it was restored, oldest first */
        size_t n_times;
        unsigned level;           /* back-offs in a row for this content */
        uint64_t last_backoff;
} StormTracker;

/* Notes that foreign content `hash` was just replaced by a restore at `now`. Returns how long to
 * wait before restoring again (0: no storm). A storm ends when the content changes or when it has
 * not come back for a whole window plus the last back-off. */
uint64_t storm_note_restore(StormTracker *t, const StormLimits *l, uint64_t hash, uint64_t now);

/* Restores of the current content counted in the window (for the log message). */
size_t storm_recent(const StormTracker *t);

/* FNV-1a: identifies "the same rewrite" without keeping the bytes. */
uint64_t storm_hash(const void *data, size_t size);

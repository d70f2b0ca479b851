/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "common/macro.h"
#include "daemon/guardian-storm.h"

uint64_t storm_hash(const void *data, size_t size)
{
        const unsigned char *p = data;
        uint64_t h = 0xcbf29ce484222325ULL;
        for (size_t i = 0; i < size; i++) {
                h ^= p[i];
                h *= 0x100000001b3ULL;
        }
        return h;
}

size_t storm_recent(const StormTracker *t)
{
        return t->n_times;
}

static void forget_before(StormTracker *t, uint64_t since)
{
        size_t k = 0;
        while (k < t->n_times && t->times[k] < since)
                k++;
        memmove(t->times, t->times + k, (t->n_times - k) * sizeof t->times[0]);
        t->n_times -= k;
}

uint64_t storm_note_restore(StormTracker *t, const StormLimits *l, uint64_t hash, uint64_t now)
{
        if (l->count == 0 || l->max_backoff_usec == 0)
                return 0;

        uint64_t last = t->n_times ? t->times[t->n_times - 1] : 0;
        if (hash != t->hash || (t->level > 0 && now - last > l->window_usec + t->last_backoff)) {
                /* a different rewrite, or the old one stayed away long enough: start afresh */
                *t = (StormTracker){ .hash = hash };
        }
        if (now > l->window_usec)
                forget_before(t, now - l->window_usec);
        if (t->n_times == STORM_RING)
                forget_before(t, t->times[0] + 1);
        t->times[t->n_times++] = now;

        size_t count = MIN((size_t) l->count, (size_t) STORM_RING);
        if (t->level == 0 && t->n_times < count)
                return 0;

        /* once storming, every further return of the same content doubles the wait */
        uint64_t b = STORM_BASE_BACKOFF_USEC;
        for (unsigned i = 0; i < t->level && b < l->max_backoff_usec; i++)
                b *= 2;
        b = MIN(b, l->max_backoff_usec);
        t->level++;
        t->last_backoff = b;
        return b;
}

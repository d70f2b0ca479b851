/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Timing helpers shared by the benchmarks. */
#include <time.h>

/* Monotonic seconds. */
static inline double bench_now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* qsort() comparator for doubles (percentiles). */
static inline int bench_cmp_double(const void *a, const void *b)
{
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

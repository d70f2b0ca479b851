/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* A minimal TAP producer for meson's `protocol: 'tap'`. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static unsigned tap_n, tap_failed;

static inline bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static inline bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
{
        va_list ap;
        printf("%s %u - ", cond ? "ok" : "not ok", ++tap_n);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        if (!cond) {
                tap_failed++;
                printf("#   failed at %s:%d\n", file, line);
        }
        fflush(stdout);
        return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(a, b, name)                                                                               \
        ({                                                                                               \
                long long _a = (a), _b = (b);                                                            \
                bool _r = ok(_a == _b, "%s", name);                                                      \
                if (!_r)                                                                                 \
                        printf("#   got %lld, expected %lld\n", _a, _b);                                 \
                _r;                                                                                      \
        })
#define is_str(a, b, name)                                                                               \
        ({                                                                                               \
                const char *_a = (a), *_b = (b);                                                         \
                bool _r = ok((_a && _b && strcmp(_a, _b) == 0) || (!_a && !_b), "%s", name);             \
                if (!_r)                                                                                 \
                        printf("#   got '%s', expected '%s'\n", _a ? _a : "(null)", _b ? _b : "(null)");    \
                _r;                                                                                      \
        })

static inline int tap_done(void)
{
        printf("1..%u\n", tap_n);
        return tap_failed ? 1 : 0;
}

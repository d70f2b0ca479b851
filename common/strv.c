/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "common/macro.h"
#include "common/strv.h"

size_t strv_length(char *const *l)
{
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

bool strv_contains(char *const *l, const char *s)
{
        for (char *const *i = l; i && *i; i++)
                if (streq(*i, s))
                        return true;
        return false;
}

int strv_consume(char ***l, char *s)
{
        if (!s)
                return -ENOMEM;
        size_t n = strv_length(*l);
        char **nl = realloc(*l, (n + 2) * sizeof(char *));
        if (!nl) {
                free(s);
                return -ENOMEM;
        }
        nl[n] = s;
        nl[n + 1] = NULL;
        *l = nl;
        return 0;
}

int strv_push(char ***l, const char *s)
{
        return strv_consume(l, strdup(s));
}

/* the formatted string, NULL on failure (the consumers turn that into -ENOMEM) */
__attribute__((format(printf, 1, 0))) static char *vformat(const char *fmt, va_list ap)
{
        char *s;
        return vasprintf(&s, fmt, ap) < 0 ? NULL : s;
}

int strv_pushf(char ***l, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        char *s = vformat(fmt, ap);
        va_end(ap);
        return strv_consume(l, s);
}

/* The allocation of a list of n strings built by strv_consume_n(): the next power of two that holds
 * them and the NULL, so it is known from n alone. */
static size_t strv_slots(size_t n)
{
        size_t slots = 4;
        while (slots < n + 1)
                slots *= 2;
        return slots;
}

int strv_consume_n(char ***l, size_t *n, char *s)
{
        if (!s)
                return -ENOMEM;
        if (!*l || *n + 2 > strv_slots(*n)) {
                size_t slots = strv_slots(*n + 1);
                char **nl = slots < SIZE_MAX / sizeof(char *) ? realloc(*l, slots * sizeof(char *)) : NULL;
                if (!nl) {
                        free(s);
                        return -ENOMEM;
                }
                *l = nl;
        }
        (*l)[*n] = s;
        (*l)[++*n] = NULL;
        return 0;
}

int strv_pushf_n(char ***l, size_t *n, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        char *s = vformat(fmt, ap);
        va_end(ap);
        return strv_consume_n(l, n, s);
}

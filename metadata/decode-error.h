/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdarg.h>
#include <stdio.h>

#include "common/macro.h"

/* The decoders' one way to fail: an errno for the code and one sentence for the administrator in
 * *ret_error (never a piece of the input: user data may hold secrets). Returns r. */
static inline int decode_error(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);
static inline int decode_error(char **ret_error, int r, const char *fmt, ...)
{
        if (ret_error && !*ret_error) {
                va_list ap;
                va_start(ap, fmt);
                if (vasprintf(ret_error, fmt, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        return r;
}

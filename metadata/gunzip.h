/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

static inline bool gzip_magic(const void *data, size_t size)
{
        const unsigned char *p = data;
        return size >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/* Inflates one gzip stream. -EFBIG if it would grow beyond max_size (a zip bomb is refused before it
 * is written out), -EBADMSG if corrupt, truncated or followed by other data. The output is
 * NUL-terminated (not counted). */
int gunzip(const void *data, size_t size, size_t max_size, char **ret, size_t *ret_size);

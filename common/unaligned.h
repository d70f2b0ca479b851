/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>

/* Integers of a fixed byte order read from any address (file formats: ELF, bzImage, module
 * signature trailers), whatever the host's order and alignment. */

static inline uint16_t unaligned_read_le16(const void *_p)
{
        const uint8_t *p = _p;
        return (uint16_t) (p[0] | p[1] << 8);
}

static inline uint32_t unaligned_read_le32(const void *_p)
{
        const uint8_t *p = _p;
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static inline uint64_t unaligned_read_le64(const void *_p)
{
        const uint8_t *p = _p;
        return (uint64_t) unaligned_read_le32(p) | (uint64_t) unaligned_read_le32(p + 4) << 32;
}

static inline uint16_t unaligned_read_be16(const void *_p)
{
        const uint8_t *p = _p;
        return (uint16_t) (p[0] << 8 | p[1]);
}

static inline uint32_t unaligned_read_be32(const void *_p)
{
        const uint8_t *p = _p;
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | (uint32_t) p[3];
}

static inline uint64_t unaligned_read_be64(const void *_p)
{
        const uint8_t *p = _p;
        return (uint64_t) unaligned_read_be32(p) << 32 | (uint64_t) unaligned_read_be32(p + 4);
}

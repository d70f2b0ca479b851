/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A byte stream read from a file descriptor (a range of it) or a buffer, decompressed on the fly
 * (gzip, xz, zstd) with a bound on what it may grow to, so an archive or a kernel image is read
 * once, in small pieces, and a bomb is refused. */
typedef enum Compression {
        COMPRESSION_NONE,
        COMPRESSION_GZIP,
        COMPRESSION_XZ,
        COMPRESSION_ZSTD,
} Compression;

/* From the first bytes: gzip, xz or zstd magic, else COMPRESSION_NONE. */
Compression compression_detect(const void *data, size_t size);
const char *compression_to_string(Compression c);

typedef struct Stream Stream;

/* Reads length bytes of fd from its current offset (UINT64_MAX: to the end of the file). */
int stream_open_fd(int fd, uint64_t length, Compression c, uint64_t max_output, Stream **ret);
int stream_open_mem(const void *data, size_t size, Compression c, uint64_t max_output, Stream **ret);
/* Up to n bytes; 0 at the end. -EBADMSG corrupt or truncated, -EFBIG beyond max_output, -EIO. */
ssize_t stream_read(Stream *s, void *buf, size_t n);
/* Exactly n bytes: -EBADMSG if the stream ends first. */
int stream_read_full(Stream *s, void *buf, size_t n);
/* Reads and drops n bytes. */
int stream_skip(Stream *s, uint64_t n);
/* Bytes handed out so far */
uint64_t stream_offset(const Stream *s);

Stream *stream_free(Stream *s);
static inline void stream_freep(Stream **s)
{
        stream_free(*s);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <lzma.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "common/macro.h"
#include "install/stream.h"

#define IN_SIZE (64u * 1024u)

struct Stream {
        Compression c;
        int fd;               /* -1 for a buffer */
        uint64_t in_left;     /* bytes of the fd range not read yet */
        const uint8_t *mem;   /* the buffer source */
        size_t mem_size;
        uint8_t *in;          /* input buffer (fd source) */
        const uint8_t *in_next;
        size_t in_avail;
        bool in_eof;
        bool done;            /* the compressed stream ended */
        uint64_t out, max_output;
        z_stream z;
        bool z_init;
        lzma_stream x;
        bool x_init;
        ZSTD_DStream *zs;
};

Compression compression_detect(const void *data, size_t size)
{
        const uint8_t *p = data;
        if (size >= 2 && p[0] == 0x1f && p[1] == 0x8b)
                return COMPRESSION_GZIP;
        if (size >= 6 && memcmp(p, "\xfd" "7zXZ\0", 6) == 0)
                return COMPRESSION_XZ;
        if (size >= 4 && memcmp(p, "\x28\xb5\x2f\xfd", 4) == 0)
                return COMPRESSION_ZSTD;
        return COMPRESSION_NONE;
}

const char *compression_to_string(Compression c)
{
        static const char *const names[] = { "none", "gzip", "xz", "zstd" };
        return (unsigned) c < ELEMENTSOF(names) ? names[c] : "?";
}

static int stream_init(Stream *s)
{
        switch (s->c) {
        case COMPRESSION_GZIP:
                /* 16 + MAX_WBITS: gzip only */
                if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK)
                        return -ENOMEM;
                s->z_init = true;
                return 0;
        case COMPRESSION_XZ:
                s->x = (lzma_stream) LZMA_STREAM_INIT;
                if (lzma_stream_decoder(&s->x, UINT64_MAX, 0) != LZMA_OK)
                        return -ENOMEM;
                s->x_init = true;
                return 0;
        case COMPRESSION_ZSTD:
                if (!(s->zs = ZSTD_createDStream()) || ZSTD_isError(ZSTD_initDStream(s->zs)))
                        return -ENOMEM;
                return 0;
        default:
                return 0;
        }
}

int stream_open_fd(int fd, uint64_t length, Compression c, uint64_t max_output, Stream **ret)
{
        _cleanup_(stream_freep) Stream *s = calloc(1, sizeof *s);
        if (!s || !(s->in = malloc(IN_SIZE)))
                return -ENOMEM;
        s->c = c;
        s->fd = fd;
        s->in_left = length;
        s->max_output = max_output;
        int r = stream_init(s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

int stream_open_mem(const void *data, size_t size, Compression c, uint64_t max_output, Stream **ret)
{
        _cleanup_(stream_freep) Stream *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->c = c;
        s->fd = -1;
        s->in_next = data;
        s->in_avail = size;
        s->in_eof = true;
        s->max_output = max_output;
        int r = stream_init(s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

Stream *stream_free(Stream *s)
{
        if (!s)
                return NULL;
        if (s->z_init)
                inflateEnd(&s->z);
        if (s->x_init)
                lzma_end(&s->x);
        ZSTD_freeDStream(s->zs);
        free(s->in);
        free(s);
        return NULL;
}

/* Refills the input buffer once it is empty */
static int fill(Stream *s)
{
        if (s->in_avail > 0 || s->in_eof)
                return 0;
        size_t want = s->in_left < IN_SIZE ? (size_t) s->in_left : IN_SIZE;
        if (want == 0) {
                s->in_eof = true;
                return 0;
        }
        ssize_t n;
        do
                n = read(s->fd, s->in, want);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if (n == 0) {
                if (s->in_left != UINT64_MAX)
                        return -EBADMSG; /* the range is cut short */
                s->in_eof = true;
                return 0;
        }
        if (s->in_left != UINT64_MAX)
                s->in_left -= (size_t) n;
        s->in_next = s->in;
        s->in_avail = (size_t) n;
        return 0;
}

static ssize_t read_some(Stream *s, uint8_t *buf, size_t n)
{
        for (;;) {
                int r = fill(s);
                if (r < 0)
                        return r;
                if (s->c == COMPRESSION_NONE) {
                        size_t k = MIN(n, s->in_avail);
                        memcpy(buf, s->in_next, k);
                        s->in_next += k;
                        s->in_avail -= k;
                        return (ssize_t) k;
                }
                if (s->done)
                        return s->in_avail > 0 ? -EBADMSG : 0; /* data after the compressed stream */
                if (s->in_avail == 0 && s->in_eof)
                        return -EBADMSG; /* the compressed stream is cut short */
                size_t produced = 0, consumed = 0;
                if (s->c == COMPRESSION_GZIP) {
                        s->z.next_in = (Bytef *) s->in_next;
                        s->z.avail_in = (uInt) MIN(s->in_avail, (size_t) UINT32_MAX);
                        s->z.next_out = buf;
                        s->z.avail_out = (uInt) MIN(n, (size_t) UINT32_MAX);
                        uInt in0 = s->z.avail_in, out0 = s->z.avail_out;
                        int z = inflate(&s->z, Z_NO_FLUSH);
                        consumed = in0 - s->z.avail_in;
                        produced = out0 - s->z.avail_out;
                        if (z == Z_STREAM_END)
                                s->done = true;
                        else if (z != Z_OK && !(z == Z_BUF_ERROR && (produced || consumed)))
                                return z == Z_MEM_ERROR ? -ENOMEM : -EBADMSG;
                } else if (s->c == COMPRESSION_XZ) {
                        s->x.next_in = s->in_next;
                        s->x.avail_in = s->in_avail;
                        s->x.next_out = buf;
                        s->x.avail_out = n;
                        lzma_ret x = lzma_code(&s->x, LZMA_RUN);
                        consumed = s->in_avail - s->x.avail_in;
                        produced = n - s->x.avail_out;
                        if (x == LZMA_STREAM_END)
                                s->done = true;
                        else if (x != LZMA_OK && !(x == LZMA_BUF_ERROR && (produced || consumed)))
                                return x == LZMA_MEM_ERROR ? -ENOMEM : -EBADMSG;
                } else {
                        ZSTD_inBuffer in = { s->in_next, s->in_avail, 0 };
                        ZSTD_outBuffer out = { buf, n, 0 };
                        size_t z = ZSTD_decompressStream(s->zs, &out, &in);
                        if (ZSTD_isError(z))
                                return -EBADMSG;
                        consumed = in.pos;
                        produced = out.pos;
                        if (z == 0)
                                s->done = true;
                }
                s->in_next += consumed;
                s->in_avail -= consumed;
                if (produced > 0)
                        return (ssize_t) produced;
        }
}

ssize_t stream_read(Stream *s, void *buf, size_t n)
{
        if (n == 0)
                return 0;
        ssize_t k = read_some(s, buf, n);
        if (k < 0)
                return k;
        if ((uint64_t) k > s->max_output - s->out)
                return -EFBIG;
        s->out += (uint64_t) k;
        return k;
}

int stream_read_full(Stream *s, void *buf, size_t n)
{
        uint8_t *p = buf;
        while (n > 0) {
                ssize_t k = stream_read(s, p, n);
                if (k < 0)
                        return (int) k;
                if (k == 0)
                        return -EBADMSG;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

int stream_skip(Stream *s, uint64_t n)
{
        uint8_t buf[16384];
        while (n > 0) {
                size_t k = n < sizeof buf ? (size_t) n : sizeof buf;
                int r = stream_read_full(s, buf, k);
                if (r < 0)
                        return r;
                n -= k;
        }
        return 0;
}

uint64_t stream_offset(const Stream *s)
{
        return s->out;
}

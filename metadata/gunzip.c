/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <limits.h>
#include <string.h>
#include <zlib.h>

#include "common/macro.h"
#include "metadata/gunzip.h"

int gunzip(const void *data, size_t size, size_t max_size, char **ret, size_t *ret_size)
{
        if (!gzip_magic(data, size) || size > UINT_MAX)
                return -EBADMSG;
        z_stream z = { .next_in = (Bytef *) data, .avail_in = (uInt) size };
        /* 16 + MAX_WBITS: gzip framing only, with its CRC checked */
        if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
                return -ENOMEM;
        _cleanup_free_ char *out = NULL;
        size_t cap = 0, n = 0;
        int zr, r = 0;
        do {
                if (n == cap) {
                        if (cap > max_size) {
                                r = -EFBIG;
                                break;
                        }
                        size_t grow = MIN(MAX(cap, (size_t) 4096), max_size + 1 - cap);
                        char *p = realloc(out, cap + grow + 1);
                        if (!p) {
                                r = -ENOMEM;
                                break;
                        }
                        out = p;
                        cap += grow;
                }
                z.next_out = (Bytef *) out + n;
                z.avail_out = (uInt) (cap - n);
                zr = inflate(&z, Z_NO_FLUSH);
                n = cap - z.avail_out;
                if (n > max_size) {
                        r = -EFBIG;
                        break;
                }
                if (zr != Z_OK && zr != Z_STREAM_END) {
                        r = zr == Z_MEM_ERROR ? -ENOMEM : -EBADMSG;
                        break;
                }
                /* no progress with input and room left means the stream is truncated */
                if (zr == Z_OK && z.avail_in == 0 && z.avail_out > 0) {
                        r = -EBADMSG;
                        break;
                }
        } while (zr != Z_STREAM_END);
        if (r == 0 && z.avail_in != 0)
                r = -EBADMSG; /* trailing data or a second member: not what EC2 sends */
        inflateEnd(&z);
        if (r < 0)
                return r;
        out[n] = 0;
        *ret = TAKE_PTR(out);
        *ret_size = n;
        return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "modules/module-tar.h"

#define BLOCK 512
#define NAME_MAX_TAR 4096

bool module_tar_magic(const uint8_t *data, size_t size)
{
        return size >= BLOCK && memcmp(data + 257, "ustar", 5) == 0;
}

static int octal(const uint8_t *p, size_t n, uint64_t *ret)
{
        uint64_t v = 0;
        size_t i = 0;
        while (i < n && p[i] == ' ')
                i++;
        size_t digits = 0;
        for (; i < n && p[i] >= '0' && p[i] <= '7'; i++, digits++) {
                if (v >> 60)
                        return -EBADMSG;
                v = v * 8 + (uint64_t) (p[i] - '0');
        }
        for (; i < n; i++)
                if (p[i] != ' ' && p[i] != 0)
                        return -EBADMSG;
        if (digits == 0)
                return -EBADMSG;
        *ret = v;
        return 0;
}

static bool zero_block(const uint8_t *p)
{
        for (size_t i = 0; i < BLOCK; i++)
                if (p[i])
                        return false;
        return true;
}

/* "path=" from a pax extended header ("LEN path=VALUE\n" records) */
static char *pax_path(const uint8_t *data, size_t size)
{
        size_t off = 0;
        while (off < size) {
                size_t len = 0, i = off;
                while (i < size && data[i] >= '0' && data[i] <= '9' && len < size)
                        len = len * 10 + (size_t) (data[i++] - '0');
                if (i >= size || data[i] != ' ' || len == 0 || len > size - off)
                        return NULL;
                const uint8_t *rec = data + i + 1, *end = data + off + len;
                if (end[-1] == '\n' && (size_t) (end - rec) > 5 && memcmp(rec, "path=", 5) == 0)
                        return strndup((const char *) rec + 5, (size_t) (end - rec) - 6);
                off += len;
        }
        return NULL;
}

int module_tar_parse(const uint8_t *data, size_t size, TarMemberFunc cb, void *userdata)
{
        _cleanup_free_ char *long_name = NULL;
        for (size_t off = 0; off + BLOCK <= size;) {
                const uint8_t *h = data + off;
                if (zero_block(h))
                        return 0; /* end of archive */
                uint64_t sum = 0, want, len;
                for (size_t i = 0; i < BLOCK; i++)
                        sum += (i >= 148 && i < 156) ? ' ' : h[i];
                if (octal(h + 148, 8, &want) < 0 || want != sum || octal(h + 124, 12, &len) < 0)
                        return -EBADMSG;
                off += BLOCK;
                if (len > size - off)
                        return -EBADMSG;
                const uint8_t *body = data + off;
                uint64_t padded = (len + BLOCK - 1) / BLOCK * BLOCK;
                off = padded > size - off ? size : off + (size_t) padded;
                char type = (char) h[156];
                if (type == 'L' || type == 'x') {
                        free(long_name);
                        long_name = type == 'L' ? strndup((const char *) body, MIN((size_t) len, NAME_MAX_TAR))
                                                : pax_path(body, (size_t) len);
                        if (type == 'L' && !long_name)
                                return -ENOMEM;
                        continue;
                }
                _cleanup_free_ char *name = TAKE_PTR(long_name);
                if (!name) {
                        char prefix[156] = {}, base[101] = {};
                        memcpy(prefix, h + 345, 155);
                        memcpy(base, h, 100);
                        if (memcmp(h + 257, "ustar\0", 6) == 0 && prefix[0]) {
                                if (asprintf(&name, "%s/%s", prefix, base) < 0)
                                        return -ENOMEM;
                        } else if (!(name = strdup(base)))
                                return -ENOMEM;
                }
                if (type != '0' && type != 0 && type != '7')
                        continue; /* directories, links, devices: never followed */
                int r = cb(name, body, (size_t) len, userdata);
                if (r != 0)
                        return r;
        }
        return 0;
}

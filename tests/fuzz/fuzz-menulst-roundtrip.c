/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Property: any file the parser accepts serializes back to the same bytes, and so does a copy. */
#include <stdint.h>
#include <string.h>

#include "common/macro.h"
#include "menulst/menulst.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_(menulst_freep) MenuLst *m = NULL;
        if (menulst_parse((const char *) data, size, &m) < 0)
                return 0;
        _cleanup_free_ char *out = NULL;
        size_t n;
        if (menulst_serialize(m, &out, &n) < 0)
                abort();
        if (n != size || memcmp(out, data, size) != 0)
                abort();
        _cleanup_(menulst_freep) MenuLst *c = menulst_copy(m);
        _cleanup_free_ char *out2 = NULL;
        if (!c || menulst_serialize(c, &out2, &n) < 0 || n != size || memcmp(out2, data, size) != 0)
                abort();
        return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The user-data decoder (gzip, MIME, transfer encodings, classification) on arbitrary bytes:
 * - it either fails with a negative errno and one error sentence, or gives at most 64 parts;
 * - every part's hash is the hash of its bytes, its body is NUL-terminated at its size;
 * - scripts start with "#!", directives carry a parsed directive, nothing is bigger than the
 *   inflate budget. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "metadata/mime.h"
#include "common/sha256.h"
#include "metadata/userdata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        UserData *u = NULL;
        char *err = NULL;
        int r = userdata_decode(data, size, &u, &err);
        if (r < 0) {
                if (u || (r != -ENOMEM && !err))
                        abort();
                free(err);
                return 0;
        }
        if (!u || err || u->n_parts > MIME_PARTS_MAX)
                abort();
        for (size_t i = 0; i < u->n_parts; i++) {
                const UserDataPart *p = &u->parts[i];
                char hex[SHA256_HEX_SIZE];
                if (sha256_hex(p->data, p->size, hex) < 0 || p->index != i + 1 || !streq(hex, p->sha256) || p->data[p->size] != 0 ||
                    p->size > USERDATA_INFLATED_MAX + (size_t) size || !p->content_type)
                        abort();
                if (p->kind == USERDATA_SCRIPT && (p->size < 2 || memcmp(p->data, "#!", 2) != 0))
                        abort();
                if ((p->kind == USERDATA_DIRECTIVE) != (p->directive != NULL))
                        abort();
                if (p->directive && isempty(p->directive->pin_default) && p->directive->n_module_swaps == 0 &&
                    !p->directive->kernel)
                        abort();
        }
        userdata_free(u);
        return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What `module swap --from` parses beyond libkmod: a tar archive of modules and /proc/modules.
 * Members handed out lie inside the buffer; each parser succeeds or fails with -EBADMSG. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "modules/module-swap.h"
#include "modules/module-tar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct Range {
        const uint8_t *start, *end;
} Range;

static int check_member(const char *name, const uint8_t *body, size_t len, void *userdata)
{
        const Range *r = userdata;
        if (!name || (len > 0 && (body < r->start || body + len > r->end)))
                abort();
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        Range range = { data, data + size };
        int r = module_tar_parse(data, size, check_member, &range);
        if (r < 0 && r != -EBADMSG && r != -ENOMEM)
                abort();
        char **names = NULL;
        r = module_proc_modules_parse((const char *) data, size, &names);
        if (r < 0 && r != -EBADMSG && r != -ENOMEM)
                abort();
        for (char **n = names; n && *n; n++)
                if (!module_name_valid(*n))
                        abort();
        strv_free(names);
        return 0;
}

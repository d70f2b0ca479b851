/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The text parsers of a release's tree on arbitrary bytes: Module.symvers / symvers-REL.gz lines
 * and modules.dep. Each succeeds or fails with -EBADMSG; symbols handed out lie inside the buffer
 * and contain no TAB or newline; modules.dep entries have a path and a name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "modules/module-target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct Range {
        const char *start, *end;
} Range;

static int check_symbol(const char *symbol, size_t len, uint32_t crc, void *userdata)
{
        const Range *r = userdata;
        if (len == 0 || symbol < r->start || symbol + len > r->end || memchr(symbol, '\t', len) ||
            memchr(symbol, '\n', len))
                abort();
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *text = (const char *) data;
        Range range = {text, text + size};
        int r = module_symvers_parse(text, size, check_symbol, &range);
        if (r < 0 && r != -EBADMSG)
                abort();
        ModuleEntry *e = NULL;
        size_t n = 0;
        r = module_dep_parse(text, size, &e, &n);
        if (r < 0) {
                if ((r != -EBADMSG && r != -ENOMEM) || e)
                        abort();
                return 0;
        }
        for (size_t i = 0; i < n; i++)
                if (!e[i].path || !e[i].name || !e[i].path[0])
                        abort();
        module_entries_free(e, n);
        return 0;
}

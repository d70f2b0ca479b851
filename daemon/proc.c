/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "common/chase.h"
#include "common/fileio.h"
#include "common/macro.h"
#include "daemon/proc.h"

int proc_read_line(const Context *ctx, const char *rel, char **ret)
{
        _cleanup_free_ char *data = NULL;
        int r = -ENOENT;
        if (!root_is_host(ctx->root))
                r = read_full_file_in_root(ctx->root, rel, 0, 64 * 1024, &data, NULL);
        /* /proc files claim size 0: read_full_file reads to EOF regardless */
        if (r == -ENOENT)
                r = read_full_file(rel, 64 * 1024, &data, NULL);
        if (r < 0)
                return r;
        data[strcspn(data, "\r\n")] = 0;
        if (isempty(data))
                return -EBADMSG;
        *ret = TAKE_PTR(data);
        return 0;
}

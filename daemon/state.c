/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/chase.h"
#include "common/fileio.h"
#include "common/macro.h"
#include "daemon/log.h"
#include "daemon/state.h"

char *now_iso8601(void)
{
        char buf[32];
        time_t t = time(NULL);
        struct tm tm;
        if (!gmtime_r(&t, &tm) || strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return strdup("unknown");
        return strdup(buf);
}

static int state_dir(const Context *ctx, bool create, char **ret)
{
        _cleanup_free_ char *joined = path_join_root(ctx->root, ctx->config.state_dir);
        if (!joined)
                return -ENOMEM;
        if (create) {
                int r = mkdir_p(joined, 0700);
                if (r < 0)
                        return r;
        }
        /* never follow a link out of the tree */
        return chase_in_root(ctx->root, ctx->config.state_dir, create ? 0 : CHASE_NONEXISTENT, ret);
}

int state_dir_create(const Context *ctx, char **ret_dir)
{
        return state_dir(ctx, true, ret_dir);
}

int state_path(const Context *ctx, char **ret_path)
{
        _cleanup_free_ char *dir = NULL;
        int r = state_dir(ctx, false, &dir);
        if (r < 0)
                return r;
        return asprintf(ret_path, "%s/state.json", dir) < 0 ? -ENOMEM : 0;
}

int state_load(const Context *ctx, json_t **ret)
{
        _cleanup_free_ char *path = NULL, *data = NULL;
        int r = state_path(ctx, &path);
        if (r == -ENOENT) {
                *ret = json_object();
                return *ret ? 0 : -ENOMEM;
        }
        if (r < 0)
                return log_error_errno(r, "Cannot resolve the state directory %s: %m", ctx->config.state_dir);
        size_t size;
        r = read_full_file(path, 16 * 1024 * 1024, &data, &size);
        if (r == -ENOENT) {
                *ret = json_object();
                return *ret ? 0 : -ENOMEM;
        }
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m", path);
        json_error_t err;
        json_t *j = json_loadb(data, size, 0, &err);
        if (!j || !json_is_object(j)) {
                json_decref(j);
                return log_error_errno(EBADMSG, "%s is corrupt (line %d: %s); move it away to start afresh", path,
                                       err.line, j ? "not an object" : err.text);
        }
        *ret = j;
        return 0;
}

int state_save(const Context *ctx, json_t *state)
{
        _cleanup_free_ char *dir = NULL, *path = NULL;
        int r = state_dir(ctx, true, &dir);
        if (r < 0)
                return log_error_errno(r, "Cannot create the state directory %s: %m", ctx->config.state_dir);
        (void) chmod(dir, 0700);
        if (asprintf(&path, "%s/state.json", dir) < 0)
                return log_oom();
        _cleanup_free_ char *text = json_dumps(state, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (!text)
                return log_oom();
        size_t n = strlen(text);
        text[n] = '\n';
        r = write_file_atomic(path, text, n + 1, 0600, 0);
        text[n] = 0;
        if (r < 0)
                return log_error_errno(r, "Cannot write %s: %m", path);
        return 0;
}

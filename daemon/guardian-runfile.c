/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <signal.h>
#include <string.h>

#include "common/chase.h"
#include "common/fileio.h"
#include "common/macro.h"
#include "daemon/guardian-runfile.h"
#include "daemon/log.h"
#include "daemon/state.h"

#define RUN_DIR "/run/kernelkeeper"

/* field 22 of /proc/PID/stat, in clock ticks since boot; 0 if the process is gone */
static unsigned long long process_start_ticks(pid_t pid)
{
        char path[64];
        _cleanup_free_ char *data = NULL;
        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        /* /proc files report size 0, so read_full_file() would not do */
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return 0;
        char buf[1024];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        /* the command name may hold blanks and ')': the fields start after the last ')' */
        char *p = strrchr(buf, ')');
        if (!p)
                return 0;
        unsigned long long ticks = 0;
        int field = 2;
        for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " "))
                if (++field == 22) {
                        ticks = strtoull(tok, NULL, 10);
                        break;
                }
        return ticks;
}

static int runfile_path(const Context *ctx, bool create, char **ret)
{
        _cleanup_free_ char *dir = NULL;
        /* inside the tree: a link to a host directory is followed inside it */
        int r = create ? mkdir_in_root(ctx->root, RUN_DIR, 0755, &dir)
                       : chase_in_root(ctx->root, RUN_DIR, 0, &dir);
        if (r < 0)
                return r;
        return asprintf(ret, "%s/daemon.json", dir) < 0 ? -ENOMEM : 0;
}

int guardian_runfile_write(const Context *ctx, const char *menu_path)
{
        _cleanup_free_ char *path = NULL, *now = now_iso8601();
        int r = runfile_path(ctx, true, &path);
        if (r < 0)
                return log_error_errno(r, "Cannot create %s under %s: %m", RUN_DIR, ctx->root);
        pid_t pid = getpid();
        _cleanup_json_ json_t *j = json_pack("{s:i, s:s, s:I, s:s}", "pid", (int) pid, "started",
                                             now ? now : "unknown", "start_ticks",
                                             (json_int_t) process_start_ticks(pid), "menu", menu_path);
        _cleanup_free_ char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        if (!text)
                return log_oom();
        r = write_file_atomic(path, text, strlen(text), 0644, 0);
        if (r < 0)
                return log_file_error(r, "write", path);
        return 0;
}

void guardian_runfile_remove(const Context *ctx)
{
        _cleanup_free_ char *path = NULL;
        if (runfile_path(ctx, false, &path) >= 0)
                (void) unlink(path);
}

int guardian_runfile_query(const Context *ctx, json_t **ret)
{
        _cleanup_free_ char *data = NULL;
        json_t *info = json_pack("{s:b}", "running", 0);
        if (!info)
                return -ENOMEM;
        size_t size;
        if (read_full_file_in_root(ctx->root, RUN_DIR "/daemon.json", CHASE_NOFOLLOW_LAST, 64 * 1024, &data,
                                   &size) < 0) {
                *ret = info;
                return 0;
        }
        _cleanup_json_ json_t *j = json_loadb(data, size, 0, NULL);
        json_int_t pid = json_integer_value(json_object_get(j, "pid"));
        json_int_t ticks = json_integer_value(json_object_get(j, "start_ticks"));
        bool alive = pid > 0 && (kill((pid_t) pid, 0) >= 0 || errno == EPERM) &&
                     (json_int_t) process_start_ticks((pid_t) pid) == ticks;
        if (alive) {
                json_object_set_new(info, "running", json_true());
                json_object_set_new(info, "pid", json_integer(pid));
                json_object_set(info, "started", json_object_get(j, "started"));
        }
        *ret = info;
        return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common/chase.h"
#include "common/macro.h"
#include "common/spawn.h"
#include "daemon/health.h"
#include "daemon/log.h"

#define HEALTH_DIR "/etc/kernelkeeper/health.d"

static int filter_exec(const struct dirent *d)
{
        return d->d_name[0] != '.';
}

int health_run_checks(const Context *ctx, unsigned check_timeout_sec, char **ret_failed)
{
        _cleanup_free_ char *dir = NULL;
        int r = chase_in_root(ctx->root, HEALTH_DIR, 0, &dir);
        if (r == -ENOENT) {
                *ret_failed = NULL;
                return 0; /* no checks: reaching boot-complete.target is the whole verdict */
        }
        if (r < 0)
                return log_file_error(r, "read", HEALTH_DIR);
        struct dirent **names = NULL;
        int n = scandir(dir, &names, filter_exec, alphasort);
        if (n < 0)
                return log_file_error(-errno, "read", dir);
        char *failed = NULL;
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                struct stat st;
                if (!failed && asprintf(&path, "%s/%s", dir, names[i]->d_name) >= 0 && stat(path, &st) >= 0 &&
                    S_ISREG(st.st_mode) && (st.st_mode & 0111)) {
                        /* its output goes where ours goes (the journal); killed with its children after the timeout */
                        char *const argv[] = { path, NULL };
                        int status = spawn_wait(argv, &(const SpawnOptions) { .no_path_search = true, .timeout_sec = check_timeout_sec }, NULL);
                        if (status == -ETIME)
                                r = asprintf(&failed, "health check %s did not finish within %us",
                                             names[i]->d_name, check_timeout_sec);
                        else if (status < 0)
                                r = asprintf(&failed, "health check %s could not run: %s", names[i]->d_name,
                                             strerror(-status));
                        else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                                r = asprintf(&failed, "health check %s failed (%s %d)", names[i]->d_name,
                                             WIFEXITED(status) ? "exit status" : "signal",
                                             WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
                        else
                                log_info("Health check %s passed", names[i]->d_name);
                        if (r < 0)
                                failed = NULL;
                }
                free(names[i]);
        }
        free(names);
        *ret_failed = failed;
        return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#include "common/chase.h"
#include "common/macro.h"
#include "common/spawn.h"
#include "daemon/health.h"
#include "daemon/log.h"

#define HEALTH_DIR "/etc/kernelkeeper/health.d"
#define BOOT_COMPLETE_PATH "/org/freedesktop/systemd1/unit/boot_2dcomplete_2etarget"

static void bus_unrefp(sd_bus **b)
{
        sd_bus_flush_close_unref(*b);
}

/* The failed units, as "a.service b.service" (NULL if none or unknown) */
static char *failed_units(sd_bus *bus)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        if (sd_bus_message_new_method_call(bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", "ListUnitsFiltered") < 0 ||
            sd_bus_message_append_strv(m, (char *[]) { (char *) "failed", NULL }) < 0 ||
            sd_bus_call(bus, m, 0, NULL, &reply) < 0 ||
            sd_bus_message_enter_container(reply, 'a', "(ssssssouso)") < 0)
                return NULL;
        char *list = NULL;
        size_t len = 0;
        const char *name;
        while (sd_bus_message_read(reply, "(ssssssouso)", &name, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                   NULL) > 0) {
                size_t n = strlen(name);
                char *grown = realloc(list, len + n + 2);
                if (!grown)
                        break;
                list = grown;
                if (len)
                        list[len++] = ' ';
                memcpy(list + len, name, n + 1);
                len += n;
        }
        return list;
}

int health_boot_complete(const Context *ctx, char **ret_failed)
{
        *ret_failed = NULL;
        /* a tree given with --root has no systemd of its own to ask */
        if (!root_is_host(ctx->root) || sd_booted() <= 0)
                return 0;
        /* systemd's private socket, as systemctl uses it as root: no D-Bus daemon needed */
        _cleanup_(bus_unrefp) sd_bus *bus = NULL;
        int r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, "unix:path=/run/systemd/private");
        if (r >= 0)
                r = sd_bus_start(bus);
        _cleanup_free_ char *state = NULL;
        if (r >= 0)
                r = sd_bus_get_property_string(bus, "org.freedesktop.systemd1", BOOT_COMPLETE_PATH,
                                               "org.freedesktop.systemd1.Unit", "ActiveState", NULL, &state);
        if (r < 0)
                return log_error_errno(r, "Cannot ask systemd whether boot-complete.target was reached: %m");
        if (strcmp(state, "active") == 0)
                return 0;
        _cleanup_free_ char *failed = failed_units(bus);
        if (asprintf(ret_failed, "boot-complete.target was not reached (%s%s)",
                     failed ? "failed units: " : "it is ", failed ? failed : state) < 0)
                return log_oom();
        return 0;
}

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

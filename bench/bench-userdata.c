/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `kernelkeeper userdata run` against the test IMDS (tests/imds/imds_server.py) on 127.0.0.1:
 *  - latency: from the runner's exec to the first instruction of the first script (the script
 *    writes bash's $EPOCHREALTIME, no fork in between), over ITERATIONS fresh runs;
 *  - memory: the runner's peak RSS from wait4() (ru_maxrss; Linux folds in reaped children, so
 *    this is max(runner, its script)), and the runner's own VmHWM as its script sees it in
 *    /proc/$PPID/status (everything but the final state write is done by then). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "common/fileio.h"
#include "common/macro.h"

#include "bench-util.h"

#define ITERATIONS 20

static double now_real(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void put(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");
        if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
                fprintf(stderr, "bench-userdata: cannot write %s\n", path);
                exit(1);
        }
}

int main(void)
{
        char root[] = "/tmp/kk-bench-userdata-XXXXXX";
        if (!mkdtemp(root))
                return 1;
        char path[512], cmd[1024], ud[512], port_file[512], out[512], url[64];
        snprintf(cmd, sizeof cmd, "mkdir -p %s/etc %s/out %s/proc/sys/kernel/random", root, root, root);
        if (system(cmd) != 0)
                return 1;
        snprintf(path, sizeof path, "%s/etc/kernelkeeper.conf", root);
        put(path, "[Metadata]\nTimeoutSec=30\n");
        snprintf(path, sizeof path, "%s/proc/sys/kernel/random/boot_id", root);
        put(path, "0b5e1d2c-bench-0000-0000-000000000001\n");
        snprintf(out, sizeof out, "%s/out/first-instruction", root);
        snprintf(ud, sizeof ud, "%s/user-data", root);
        char script[2048], hwm_path[512];
        snprintf(hwm_path, sizeof hwm_path, "%s/out/hwm", root);
        snprintf(script, sizeof script,
                 "#!/bin/bash\necho \"$EPOCHREALTIME\" > %s\n"
                 "while read -r k v _; do [ \"$k\" = VmHWM: ] && echo \"$v\" > %s; done < /proc/$PPID/status\nexit 0\n",
                 out, hwm_path);
        put(ud, script);

        snprintf(port_file, sizeof port_file, "%s/port", root);
        pid_t server = fork();
        if (server == 0) {
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                dup2(null, STDOUT_FILENO);
                execlp("python3", "python3", IMDS_SERVER, "--port-file", port_file, "--user-data", ud, (char *) NULL);
                _exit(127);
        }
        _cleanup_free_ char *port = NULL;
        for (int i = 0; i < 200 && read_full_file(port_file, 64, &port, NULL) < 0; i++)
                usleep(25000);
        if (!port) {
                fprintf(stderr, "bench-userdata: the test IMDS did not start\n");
                return 1;
        }
        snprintf(url, sizeof url, "http://127.0.0.1:%s", port);

        double lat[ITERATIONS];
        long max_rss = 0, max_hwm = 0;
        int n = 0;
        for (int i = 0; i < ITERATIONS; i++) {
                /* a fresh state each time, so the per-instance script runs again */
                snprintf(cmd, sizeof cmd, "rm -rf %s/var %s/run %s/out/*", root, root, root);
                if (system(cmd) != 0)
                        return 1;
                double t0 = now_real();
                pid_t pid = fork();
                if (pid == 0) {
                        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                        dup2(null, STDERR_FILENO);
                        unsetenv("JOURNAL_STREAM");
                        unsetenv("INVOCATION_ID");
                        execl(KK_BINARY, "kernelkeeper", "--root", root, "userdata", "run", "--metadata-url", url,
                              (char *) NULL);
                        _exit(127);
                }
                int status;
                struct rusage ru;
                if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        fprintf(stderr, "bench-userdata: run %d failed\n", i);
                        continue;
                }
                _cleanup_free_ char *stamp = NULL;
                if (read_full_file(out, 64, &stamp, NULL) < 0)
                        continue;
                lat[n++] = (strtod(stamp, NULL) - t0) * 1000.0;
                _cleanup_free_ char *hwm = NULL;
                if (read_full_file(hwm_path, 64, &hwm, NULL) >= 0)
                        max_hwm = MAX(max_hwm, strtol(hwm, NULL, 10));
                max_rss = MAX(max_rss, ru.ru_maxrss);
        }
        kill(server, SIGTERM);
        waitpid(server, NULL, 0);
        snprintf(cmd, sizeof cmd, "rm -rf %s", root);
        (void) system(cmd);
        if (n == 0) {
                fprintf(stderr, "bench-userdata: no successful run\n");
                return 1;
        }
        qsort(lat, (size_t) n, sizeof lat[0], bench_cmp_double);
        printf("bench-userdata: %d runs against the test IMDS (1 PUT + 3 GETs each)\n", n);
        printf("  start -> first script instruction: min %.1f ms, median %.1f ms, max %.1f ms\n", lat[0], lat[n / 2],
               lat[n - 1]);
        printf("  peak RSS: runner VmHWM at script start %ld KiB; wait4 ru_maxrss (runner or its bash) %ld KiB\n",
               max_hwm, max_rss);
        return 0;
}

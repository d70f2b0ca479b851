/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `kernelkeeper module check` on a real Debian module importing ~200 symbols, against its own
 * release installed under --root (the module trees of tests/modules/fixture.py):
 *  - in-process: module_info_load + module_target_load + module_check, ITERATIONS fresh runs,
 *    median and p95, and the peak RSS of this process;
 *  - the command: fork+exec of the binary, ITERATIONS runs, median and p95, and its peak RSS
 *    (wait4's ru_maxrss). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "modules/module-check.h"

#include "bench-util.h"

#define ITERATIONS 50
#define WANT_SYMBOLS 200

static void report(const char *what, double *t, size_t n)
{
        qsort(t, n, sizeof(double), bench_cmp_double);
        printf("%-34s median %.2f ms, p95 %.2f ms, min %.2f ms (%zu runs)\n", what, t[n / 2] * 1e3,
               t[(n * 95) / 100 - 1] * 1e3, t[0] * 1e3, n);
}

int main(void)
{
        /* the newer release of the fixture: "RELEASE<TAB>DIR" lines, older first */
        FILE *f = popen(FIXTURE " 2>&1", "r");
        char line[4096], release[256] = "", root[4096] = "";
        while (f && fgets(line, sizeof line, f))
                if (sscanf(line, "%255[^\t]\t%4095[^\n]", release, root) != 2)
                        fputs(line, stderr);
        if (!f || pclose(f) != 0 || !*root) {
                printf("bench-module-check: no module fixture (tests/modules/fixture.py failed): not "
                       "measured\n");
                return 0;
        }

        /* a module of that release importing the number of symbols closest to WANT_SYMBOLS */
        ModuleTarget *t = NULL;
        if (module_target_load(root, release, NULL, &t) < 0)
                return fprintf(stderr, "cannot load %s under %s\n", release, root), 1;
        struct kmod_ctx *ctx = module_kmod_new();
        char best[8192] = "";
        size_t best_n = 0;
        for (size_t i = 0; i < t->n_entries && best_n != WANT_SYMBOLS; i++) {
                char path[8192];
                snprintf(path, sizeof path, "%s%s/%s", root, t->moddir, t->entries[i].path);
                ModuleVersion *v = NULL;
                size_t n = 0;
                if (module_versions_load(ctx, path, &v, &n) < 0)
                        continue;
                module_versions_free(v, n);
                if (!*best || labs((long) n - WANT_SYMBOLS) < labs((long) best_n - WANT_SYMBOLS)) {
                        snprintf(best, sizeof best, "%s", path);
                        best_n = n;
                }
        }
        module_target_free(t);
        if (!*best)
                return fprintf(stderr, "no module found\n"), 1;
        /* checked from a copy outside the tree, as a user would */
        char copy[] = "/tmp/kk-bench-module-XXXXXX";
        int fd = mkstemp(copy);
        char cmd[16384];
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", best, copy);
        if (fd < 0 || system(cmd) != 0)
                return 1;
        close(fd);
        printf("module: %s (%zu imported symbols), release %s\n", best + strlen(root), best_n, release);

        double times[ITERATIONS];
        for (int i = 0; i < ITERATIONS; i++) {
                double t0 = bench_now();
                ModuleInfo *m = NULL;
                ModuleTarget *target = NULL;
                ModuleReport *rep = NULL;
                if (module_info_load(copy, &m) < 0 ||
                    module_target_load(root, release, m->name, &target) < 0 ||
                    module_check(m, target, &rep) < 0 || !rep->safe)
                        return fprintf(stderr, "check failed\n"), 1;
                times[i] = bench_now() - t0;
                module_report_free(rep);
                module_target_free(target);
                module_info_free(m);
        }
        report("module check (in-process)", times, ITERATIONS);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("%-34s %ld KiB (this process, all runs)\n", "peak RSS (in-process)", ru.ru_maxrss);

        long max_rss = 0;
        for (int i = 0; i < ITERATIONS; i++) {
                double t0 = bench_now();
                pid_t pid = fork();
                if (pid == 0) {
                        int null = open("/dev/null", O_WRONLY);
                        dup2(null, 1);
                        execl(KK_BINARY, KK_BINARY, "--root", root, "module", "check", copy, "--kernel",
                              release, (char *) NULL);
                        _exit(127);
                }
                int status;
                if (pid < 0 || wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) ||
                    WEXITSTATUS(status) != 0)
                        return fprintf(stderr, "kernelkeeper module check failed\n"), 1;
                times[i] = bench_now() - t0;
                max_rss = MAX(max_rss, ru.ru_maxrss);
        }
        report("kernelkeeper module check (exec)", times, ITERATIONS);
        printf("%-34s %ld KiB\n", "peak RSS (kernelkeeper)", max_rss);
        unlink(copy);
        return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `kernelkeeper kernel install` of a real Debian kernel (the VM harness's cached
 * linux-image-6.1.0-57-amd64 .deb, 70 MB, 400 MB unpacked) into fresh --root trees:
 *  - --deb FILE (unpack data.tar.xz, inspect, place modules, config, System.map, vmlinuz; add the
 *    entry), RUNS runs;
 *  - --url of the same .deb from a local HTTP server with its sha256, RUNS runs;
 *  - --image of its vmlinuz alone, 10 runs.
 * Wall time (median, max) and peak RSS of the command (wait4's ru_maxrss). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"

#define RUNS 3
#define DEB_NAME "linux-image-6.1.0-57-amd64_6.1.192-3_amd64.deb"
#define RELEASE "6.1.0-57-amd64"

/* a tree with one pinned-by-default kernel and no AUTOMAGIC block: kernelkeeper adds the entry */
static void make_tree(char *root, size_t n)
{
        snprintf(root, n, "/var/tmp/kk-bench-install-XXXXXX");
        if (!mkdtemp(root))
                exit(1);
        char cmd[8192];
        snprintf(cmd, sizeof cmd,
                 "mkdir -p %1$s/boot/grub %1$s/etc && echo k > %1$s/boot/vmlinuz-6.1.0-50-amd64 && "
                 "printf 'timeout 5\\ndefault 0\\n\\ntitle Debian GNU/Linux, kernel 6.1.0-50-amd64\\nroot (hd0,0)\\n"
                 "kernel /boot/vmlinuz-6.1.0-50-amd64 root=/dev/xvda1 ro\\n' > %1$s/boot/grub/menu.lst",
                 root);
        if (system(cmd) != 0)
                exit(1);
}

static void remove_tree(const char *root)
{
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        (void) !system(cmd);
}

/* Runs kernelkeeper --root TREE kernel install ARGS on a fresh tree; wall seconds, *rss KiB */
static double run_install(char *const *args, long *rss)
{
        char root[256];
        make_tree(root, sizeof root);
        char *argv[16] = { (char *) KK_BINARY, (char *) "--root", root, (char *) "kernel", (char *) "install" };
        int k = 5;
        for (; args[k - 5]; k++)
                argv[k] = args[k - 5];
        argv[k] = NULL;
        double t0 = bench_now();
        pid_t pid = fork();
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY);
                dup2(null, 2);
                execv(KK_BINARY, argv);
                _exit(127);
        }
        int status;
        struct rusage ru;
        if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "kernel install failed\n");
                exit(1);
        }
        double t = bench_now() - t0;
        *rss = ru.ru_maxrss;
        remove_tree(root);
        return t;
}

static void measure(const char *what, char *const *args, int runs)
{
        double t[16];
        long rss = 0, max_rss = 0;
        for (int i = 0; i < runs; i++) {
                t[i] = run_install(args, &rss);
                if (rss > max_rss)
                        max_rss = rss;
        }
        qsort(t, (size_t) runs, sizeof(double), bench_cmp_double);
        printf("%-28s median %.2f s, max %.2f s (%d runs), peak RSS %ld KiB\n", what, t[runs / 2], t[runs - 1], runs,
               max_rss);
}

int main(void)
{
        const char *home = getenv("HOME");
        char deb[2048], dir[1024], cmd[8192];
        snprintf(dir, sizeof dir, "%s/.cache/kernelkeeper-vm/debs", home ? home : "/nonexistent");
        snprintf(deb, sizeof deb, "%s/" DEB_NAME, dir);
        if (access(deb, R_OK) < 0) {
                printf("bench-kernel-install: no %s (run the VM tests once to fill the cache): not measured\n", deb);
                return 0;
        }
        char *deb_args[] = { (char *) "--deb", deb, NULL };
        measure("kernel install --deb", deb_args, RUNS);

        /* the same .deb by URL */
        char sha[65] = "";
        snprintf(cmd, sizeof cmd, "sha256sum '%s'", deb);
        FILE *f = popen(cmd, "r");
        if (!f || fscanf(f, "%64s", sha) != 1 || pclose(f) != 0)
                return 1;
        int port = 20000 + getpid() % 20000;
        pid_t srv = fork();
        if (srv == 0) {
                int null = open("/dev/null", O_WRONLY);
                dup2(null, 1);
                dup2(null, 2);
                char p[16];
                snprintf(p, sizeof p, "%d", port);
                execlp("python3", "python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", dir, p,
                       (char *) NULL);
                _exit(127);
        }
        char url[1024];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/" DEB_NAME, port);
        snprintf(cmd, sizeof cmd, "for i in $(seq 50); do curl -sfI %s >/dev/null && exit 0; sleep 0.1; done; exit 1", url);
        if (system(cmd) != 0) {
                kill(srv, SIGTERM);
                return fprintf(stderr, "the HTTP server did not come up\n"), 1;
        }
        char *url_args[] = { (char *) "--url", url, (char *) "--sha256", sha, NULL };
        measure("kernel install --url (.deb)", url_args, RUNS);
        kill(srv, SIGTERM);
        waitpid(srv, NULL, 0);

        /* the image alone */
        char img[2048];
        snprintf(img, sizeof img, "%s/.cache/kernelkeeper-vm/pkg/linux-image-" RELEASE "_6.1.192-3/boot/vmlinuz-" RELEASE,
                 home);
        if (access(img, R_OK) >= 0) {
                char *img_args[] = { (char *) "--image", img, NULL };
                measure("kernel install --image", img_args, 10);
        }
        return 0;
}

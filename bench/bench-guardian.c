/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench-guardian [KERNELKEEPER [REWRITES]]: runs `kernelkeeper daemon` on a temporary tree (under
 * $TMPDIR, default /tmp) and measures
 *   - the latency from a foreign rewrite of menu.lst (alternately renamed over it, as grubby and
 *     sed -i do, and written in place, as update-grub does) to the daemon's restored file being in
 *     place (its rename landing), p50/p99/max over REWRITES (default 1000) rewrites;
 *   - the daemon's idle memory (VmRSS, with RssAnon/RssFile, from /proc/PID/status).
 * Targets: p99 <= 100 ms, VmRSS <= 2 MiB. Storm detection is switched off in the tree's
 * configuration: rewriting the same menu 1000 times is exactly what it exists to slow down. */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef KK_BINARY_PATH
#define KK_BINARY_PATH "kernelkeeper"
#endif

static const char MENU[] = "default 0\ntimeout 5\n\n"
                           "title A\nroot (hd0,0)\nkernel /boot/vmlinuz-1 ro\n\n"
                           "title B\nroot (hd0,0)\nkernel /boot/vmlinuz-2 ro\n\n"
                           "title C\nroot (hd0,0)\nkernel /boot/vmlinuz-3 ro\n";

static char root[1024]; /* short enough that every path built from it fits PATH_MAX */

static uint64_t now_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

static void die(const char *what)
{
        perror(what);
        exit(2);
}

static void put(const char *rel, const char *data)
{
        char p[PATH_MAX + 64];
        snprintf(p, sizeof p, "%s/%s", root, rel);
        FILE *f = fopen(p, "we");
        if (!f || fputs(data, f) < 0 || fclose(f) != 0)
                die(p);
}

static void mkdirs(const char *rel)
{
        char p[PATH_MAX + 64];
        snprintf(p, sizeof p, "%s/%s", root, rel);
        for (char *s = p + strlen(root) + 1; *s; s++)
                if (*s == '/') {
                        *s = 0;
                        (void) mkdir(p, 0755);
                        *s = '/';
                }
        if (mkdir(p, 0755) < 0)
                die(p);
}

static int run_wait(char *const argv[])
{
        pid_t pid = fork();
        if (pid < 0)
                die("fork");
        if (pid == 0) {
                execv(argv[0], argv);
                _exit(127);
        }
        int st;
        if (waitpid(pid, &st, 0) < 0)
                die("waitpid");
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static pid_t start_daemon(const char *kk, int *ret_notify)
{
        char sock_path[PATH_MAX];
        snprintf(sock_path, sizeof sock_path, "%s/notify", root);
        int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (s < 0 || strlen(sock_path) >= sizeof sa.sun_path)
                die("socket");
        strcpy(sa.sun_path, sock_path);
        if (bind(s, (struct sockaddr *) &sa, sizeof sa) < 0)
                die("bind");

        pid_t pid = fork();
        if (pid < 0)
                die("fork");
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                dup2(null, 1);
                dup2(null, 2);
                setenv("NOTIFY_SOCKET", sock_path, 1);
                unsetenv("JOURNAL_STREAM");
                unsetenv("INVOCATION_ID");
                unsetenv("WATCHDOG_USEC");
                execl(kk, kk, "--root", root, "daemon", (char *) NULL);
                _exit(127);
        }
        /* READY=1 comes after the daemon's first check */
        char buf[4096];
        struct pollfd pfd = { .fd = s, .events = POLLIN };
        for (;;) {
                if (poll(&pfd, 1, 10000) <= 0) {
                        fprintf(stderr, "bench-guardian: the daemon did not report READY=1\n");
                        exit(2);
                }
                ssize_t k = recv(s, buf, sizeof buf - 1, 0);
                if (k < 0)
                        die("recv");
                buf[k] = 0;
                if (strstr(buf, "READY=1"))
                        break;
        }
        *ret_notify = s;
        return pid;
}

static long proc_kb(pid_t pid, const char *file, const char *key)
{
        char p[64], line[256];
        snprintf(p, sizeof p, "/proc/%d/%s", (int) pid, file);
        FILE *f = fopen(p, "re");
        long v = -1;
        size_t kl = strlen(key);
        while (f && fgets(line, sizeof line, f))
                if (strncmp(line, key, kl) == 0 && line[kl] == ':')
                        v = strtol(line + kl + 1, NULL, 10);
        if (f)
                fclose(f);
        return v;
}

/* Waits until the daemon's rename of its temp file (menu.lst.kk-XXXXXX) over menu.lst lands. */
static int wait_restore(int ifd, uint64_t deadline)
{
        _Alignas(struct inotify_event) char buf[8192];
        uint32_t own_cookie = 0;
        for (;;) {
                uint64_t now = now_usec();
                if (now >= deadline)
                        return -1;
                struct pollfd pfd = { .fd = ifd, .events = POLLIN };
                int n = poll(&pfd, 1, (int) ((deadline - now) / 1000 + 1));
                if (n < 0)
                        die("poll");
                if (n == 0)
                        continue;
                ssize_t k = read(ifd, buf, sizeof buf);
                if (k < 0)
                        die("read inotify");
                for (char *p = buf; p < buf + k;) {
                        struct inotify_event *ev = (struct inotify_event *) p;
                        p += sizeof *ev + ev->len;
                        if (!ev->len)
                                continue;
                        if ((ev->mask & IN_MOVED_FROM) && strncmp(ev->name, "menu.lst.kk-", 12) == 0)
                                own_cookie = ev->cookie;
                        else if ((ev->mask & IN_MOVED_TO) && strcmp(ev->name, "menu.lst") == 0 && own_cookie &&
                                 ev->cookie == own_cookie)
                                return 0;
                }
        }
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, size_t n, double q)
{
        size_t i = (size_t) (q * (double) (n - 1) + 0.5);
        return (double) v[i] / 1000.0;
}

static void report(const char *what, uint64_t *v, size_t n)
{
        if (!n)
                return;
        qsort(v, n, sizeof *v, cmp_u64);
        printf("  %-28s n=%zu  p50 %.1f ms  p99 %.1f ms  max %.1f ms\n", what, n, pct(v, n, 0.50), pct(v, n, 0.99),
               (double) v[n - 1] / 1000.0);
}

int main(int argc, char **argv)
{
        const char *kk = argc > 1 ? argv[1] : KK_BINARY_PATH;
        size_t rewrites = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
        if (rewrites == 0)
                rewrites = 1000;
        const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        if ((size_t) snprintf(root, sizeof root, "%s/kk-bench-guardian-XXXXXX", tmp) >= sizeof root) {
                fprintf(stderr, "bench-guardian: TMPDIR is too long\n");
                return 2;
        }
        if (!mkdtemp(root))
                die("mkdtemp");

        mkdirs("boot/grub");
        mkdirs("etc");
        for (int i = 1; i <= 3; i++) {
                char rel[64];
                snprintf(rel, sizeof rel, "boot/vmlinuz-%d", i);
                put(rel, "\x7fkernel\n");
        }
        put("boot/grub/menu.lst", MENU);
        put("etc/kernelkeeper.conf", "[Guardian]\nStormCount=0\n");

        char *pin[] = { (char *) kk, "--root", root, "pin", "--default", "title=B", NULL };
        if (run_wait(pin) != 0) {
                fprintf(stderr, "bench-guardian: '%s pin' failed\n", kk);
                return 2;
        }

        int notify;
        pid_t daemon = start_daemon(kk, &notify);
        /* nobody reads STATUS= from here on: with net.unix.max_dgram_qlen (often 10) unread
         * datagrams a blocking sd_notify() would stall the daemon, so stop listening instead */
        close(notify);
        sleep(1);
        long rss0 = proc_kb(daemon, "status", "VmRSS"), anon0 = proc_kb(daemon, "status", "RssAnon"),
             file0 = proc_kb(daemon, "status", "RssFile"), pss0 = proc_kb(daemon, "smaps_rollup", "Pss");

        char dir[PATH_MAX], menu[PATH_MAX + 16], tmpf[PATH_MAX + 16];
        snprintf(dir, sizeof dir, "%s/boot/grub", root);
        snprintf(menu, sizeof menu, "%s/menu.lst", dir);
        snprintf(tmpf, sizeof tmpf, "%s/menu.lst-", dir);
        int ifd = inotify_init1(IN_CLOEXEC);
        if (ifd < 0 || inotify_add_watch(ifd, dir, IN_MOVED_FROM | IN_MOVED_TO) < 0)
                die("inotify");

        uint64_t *all = calloc(rewrites, sizeof *all), *renamed = calloc(rewrites, sizeof *renamed),
                 *inplace = calloc(rewrites, sizeof *inplace);
        size_t n_all = 0, n_renamed = 0, n_inplace = 0, lost = 0;
        if (!all || !renamed || !inplace)
                die("calloc");
        for (size_t i = 0; i < rewrites; i++) {
                uint64_t t0 = now_usec();
                if (i % 2 == 0) {
                        /* grubby, sed -i: a new file renamed over menu.lst */
                        put("boot/grub/menu.lst-", MENU);
                        t0 = now_usec();
                        if (rename(tmpf, menu) < 0)
                                die("rename");
                } else {
                        /* update-grub: cat new > menu.lst */
                        int fd = open(menu, O_WRONLY | O_TRUNC | O_CLOEXEC);
                        if (fd < 0 || write(fd, MENU, sizeof MENU - 1) != (ssize_t) sizeof MENU - 1 || close(fd) < 0)
                                die("write menu.lst");
                }
                if (wait_restore(ifd, t0 + 5000000ULL) < 0) {
                        lost++;
                        continue;
                }
                uint64_t d = now_usec() - t0;
                all[n_all++] = d;
                if (i % 2 == 0)
                        renamed[n_renamed++] = d;
                else
                        inplace[n_inplace++] = d;
        }

        sleep(1);
        long rss1 = proc_kb(daemon, "status", "VmRSS");
        kill(daemon, SIGTERM);
        int st;
        waitpid(daemon, &st, 0);
        close(ifd);
        char *rm[] = { "/bin/rm", "-rf", root, NULL };
        (void) run_wait(rm);

        printf("bench-guardian: %s, tree under %s, DebounceMSec default (20)\n", kk, tmp);
        printf("  restore latency (foreign rewrite -> restored file renamed in place):\n");
        double p99 = 0;
        if (n_all) {
                report("all rewrites", all, n_all);
                p99 = pct(all, n_all, 0.99);
        }
        report("renamed over (grubby, sed)", renamed, n_renamed);
        report("in place (update-grub)", inplace, n_inplace);
        printf("  idle VmRSS %ld kB (RssAnon %ld kB, RssFile %ld kB of shared libraries; PSS %ld kB); after the run,"
               " idle again: %ld kB\n", rss0, anon0, file0, pss0, rss1);
        printf("  targets: p99 <= 100 ms: %s; VmRSS <= 2048 kB: %s\n", n_all && p99 <= 100.0 ? "met" : "MISSED",
               rss0 <= 2048 ? "met" : "MISSED");
        free(all);
        free(renamed);
        free(inplace);
        if (lost) {
                fprintf(stderr, "bench-guardian: %zu of %zu rewrites were not restored within 5 s\n", lost, rewrites);
                return 1;
        }
        return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

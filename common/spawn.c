/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "common/spawn.h"

#define OUTPUT_MAX (64u * 1024 * 1024)

static long long now_msec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* In the child: only async-signal-safe calls. errfd (moved to 3, close-on-exec) carries exec's errno. */
_noreturn_ static void child(char *const argv[], const SpawnOptions *o, int devnull, int outfd, int errfd)
{
        if (o->timeout_sec)
                (void) setpgid(0, 0);
        if (o->stdin_null && devnull >= 0)
                (void) dup2(devnull, STDIN_FILENO);
        if (o->stdout_to == SPAWN_STDOUT_TO_STDERR)
                (void) dup2(STDERR_FILENO, STDOUT_FILENO);
        else if (o->stdout_to == SPAWN_STDOUT_NULL && devnull >= 0)
                (void) dup2(devnull, STDOUT_FILENO);
        else if (o->stdout_to == SPAWN_STDOUT_CAPTURE)
                (void) dup2(outfd, STDOUT_FILENO);
        int e = 0;
        if (errfd != 3 && dup3(errfd, 3, O_CLOEXEC) < 0)
                e = errno;
        (void) fd_close_from(4);
        if (!e && o->cwd && chdir(o->cwd) < 0)
                e = errno;
        if (!e) {
                if (o->no_path_search)
                        execv(argv[0], argv);
                else
                        execvp(argv[0], argv);
                e = errno;
        }
        (void) !write(3, &e, sizeof e);
        _exit(127);
}

/* Reads what the child writes until it closes its end or the deadline (0: none) passes. */
static int read_output(int fd, long long deadline, char **ret)
{
        _cleanup_free_ char *out = NULL;
        size_t n = 0, alloc = 0;
        for (;;) {
                if (deadline) {
                        long long left = deadline - now_msec();
                        struct pollfd p = { .fd = fd, .events = POLLIN };
                        int k = left > 0 ? poll(&p, 1, (int) MIN(left, 1000LL)) : 0;
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (left <= 0)
                                return -ETIME;
                        if (k == 0)
                                continue;
                }
                if (n + 4096 + 1 > alloc) {
                        if (alloc >= OUTPUT_MAX)
                                return -EFBIG;
                        char *g = realloc(out, alloc = alloc * 2 + 8192);
                        if (!g)
                                return -ENOMEM;
                        out = g;
                }
                ssize_t k = read(fd, out + n, alloc - n - 1);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        if (!out && !(out = malloc(1)))
                return -ENOMEM;
        out[n] = 0;
        *ret = TAKE_PTR(out);
        return 0;
}

int spawn_wait(char *const argv[], const SpawnOptions *o, char **ret_output)
{
        static const SpawnOptions none = {};
        o = o ?: &none;
        int errpipe[2], outpipe[2] = { -1, -1 };
        if (pipe2(errpipe, O_CLOEXEC) < 0)
                return -errno;
        if (o->stdout_to == SPAWN_STDOUT_CAPTURE && pipe2(outpipe, O_CLOEXEC) < 0) {
                int e = -errno;
                close(errpipe[0]);
                close(errpipe[1]);
                return e;
        }
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        pid_t pid = fork();
        if (pid == 0)
                child(argv, o, devnull, outpipe[1], errpipe[1]);
        int fork_errno = errno;
        if (devnull >= 0)
                close(devnull);
        close(errpipe[1]);
        if (outpipe[1] >= 0)
                close(outpipe[1]);
        if (pid < 0) {
                close(errpipe[0]);
                if (outpipe[0] >= 0)
                        close(outpipe[0]);
                return -fork_errno;
        }
        if (o->timeout_sec)
                (void) setpgid(pid, pid);
        long long deadline = o->timeout_sec ? now_msec() + (long long) o->timeout_sec * 1000 : 0;

        /* exec's errno, or nothing once exec closed the pipe */
        int exec_errno = 0;
        ssize_t k;
        while ((k = read(errpipe[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR)
                ;
        close(errpipe[0]);
        if (k != sizeof exec_errno)
                exec_errno = 0;

        _cleanup_free_ char *out = NULL;
        int r = 0;
        if (outpipe[0] >= 0) {
                if (!exec_errno)
                        r = read_output(outpipe[0], deadline, &out);
                close(outpipe[0]);
        }
        int status = 0;
        for (;;) {
                if (r == -ETIME || (deadline && now_msec() >= deadline)) {
                        (void) kill(-pid, SIGKILL);
                        (void) kill(pid, SIGKILL);
                        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                                ;
                        return -ETIME;
                }
                pid_t w = waitpid(pid, &status, deadline ? WNOHANG : 0);
                if (w == pid)
                        break;
                if (w < 0 && errno != EINTR)
                        return -errno;
                if (w == 0) {
                        struct timespec ts = { 0, 20 * 1000 * 1000 };
                        nanosleep(&ts, NULL);
                }
        }
        if (exec_errno)
                return -exec_errno;
        if (r < 0)
                return r;
        if (ret_output)
                *ret_output = TAKE_PTR(out);
        return status;
}

int spawn_run(char *const argv[], const SpawnOptions *o, char **ret_output)
{
        _cleanup_free_ char *out = NULL;
        int status = spawn_wait(argv, o, ret_output ? &out : NULL);
        if (status < 0)
                return status;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return -EPROTO;
        if (ret_output)
                *ret_output = TAKE_PTR(out);
        return 0;
}

bool spawn_in_path(const char *prog)
{
        const char *path = getenv("PATH") ?: "/usr/sbin:/usr/bin:/sbin:/bin";
        _cleanup_free_ char *copy = strdup(path);
        for (char *s = copy, *dir; copy && (dir = strsep(&s, ":"));) {
                _cleanup_free_ char *p = NULL;
                if (asprintf(&p, "%s/%s", *dir ? dir : ".", prog) >= 0 && access(p, X_OK) == 0)
                        return true;
        }
        return false;
}

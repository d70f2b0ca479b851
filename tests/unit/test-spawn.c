/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/spawn.h"
#include "tests/tap.h"

static void test_capture_and_status(void)
{
        char *const echo[] = { (char *) "sh", (char *) "-c", (char *) "echo hello; echo err >&2", NULL };
        _cleanup_free_ char *out = NULL;
        is_int(spawn_run(echo, &(const SpawnOptions) { .stdout_to = SPAWN_STDOUT_CAPTURE }, &out), 0, "runs");
        is_str(out, "hello\n", "stdout captured, stderr not");

        char *const fail[] = { (char *) "sh", (char *) "-c", (char *) "exit 3", NULL };
        int st = spawn_wait(fail, NULL, NULL);
        ok(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 3, "wait status of exit 3");
        is_int(spawn_run(fail, NULL, NULL), -EPROTO, "non-zero exit: -EPROTO");

        char *const none[] = { (char *) "kk-no-such-tool", NULL };
        is_int(spawn_run(none, NULL, NULL), -ENOENT, "missing program: -ENOENT (exec's errno)");
        char *const notpath[] = { (char *) "sh", NULL };
        is_int(spawn_run(notpath, &(const SpawnOptions) { .no_path_search = true }, NULL), -ENOENT,
               "no PATH lookup when asked");

        char *const pwd[] = { (char *) "pwd", NULL };
        _cleanup_free_ char *cwd = NULL;
        is_int(spawn_run(pwd, &(const SpawnOptions) { .stdout_to = SPAWN_STDOUT_CAPTURE, .cwd = "/" }, &cwd), 0, "cwd");
        is_str(cwd, "/\n", "runs in the directory given");

        char *const in[] = { (char *) "sh", (char *) "-c", (char *) "cat; echo end", NULL };
        _cleanup_free_ char *o2 = NULL;
        is_int(spawn_run(in, &(const SpawnOptions) { .stdin_null = true, .stdout_to = SPAWN_STDOUT_CAPTURE }, &o2), 0,
               "stdin from /dev/null");
        is_str(o2, "end\n", "read nothing from stdin");
}

static void test_no_fd_leak(void)
{
        int null = open("/dev/null", O_RDONLY);
        int fd = fcntl(null, F_DUPFD, 20); /* deliberately without FD_CLOEXEC */
        close(null);
        ok(fd >= 20, "an inheritable descriptor");
        char cmd[64];
        snprintf(cmd, sizeof cmd, "test ! -e /proc/self/fd/%d", fd);
        char *const argv[] = { (char *) "sh", (char *) "-c", cmd, NULL };
        is_int(spawn_run(argv, NULL, NULL), 0, "the child does not get it");
        close(fd);
}

static void test_timeout(void)
{
        /* the child's own child holds the output pipe: the whole group is killed */
        char *const argv[] = { (char *) "sh", (char *) "-c", (char *) "sleep 30 & sleep 30", NULL };
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        is_int(spawn_wait(argv, &(const SpawnOptions) { .timeout_sec = 1 }, NULL), -ETIME, "timeout: -ETIME");
        _cleanup_free_ char *out = NULL;
        is_int(spawn_wait(argv, &(const SpawnOptions) { .timeout_sec = 1, .stdout_to = SPAWN_STDOUT_CAPTURE }, &out),
               -ETIME, "timeout while capturing: -ETIME");
        clock_gettime(CLOCK_MONOTONIC, &b);
        ok(b.tv_sec - a.tv_sec < 10, "both killed in time");
}

int main(void)
{
        test_capture_and_status();
        test_no_fd_leak();
        test_timeout();
        return tap_done();
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "common/fd-util.h"
#include "common/macro.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static int close_range_syscall(int from, unsigned flags)
{
#ifdef __NR_close_range
        if (syscall(__NR_close_range, (unsigned) from, ~0U, flags) == 0)
                return 0;
        return negative_errno();
#else
        return -ENOSYS;
#endif
}

static int parse_fd(const char *s)
{
        int fd = 0;
        if (!*s)
                return -1;
        for (; *s; s++) {
                if (*s < '0' || *s > '9' || fd > (INT32_MAX - 9) / 10)
                        return -1;
                fd = fd * 10 + (*s - '0');
        }
        return fd;
}

/* Calls act(fd) for every open descriptor >= from but the directory's own, reading /proc/self/fd
 * with getdents64 into a stack buffer (no malloc: safe after fork). */
static int proc_fd_walk(int from, bool do_close)
{
        int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        union {
                char buf[4096];
                struct dirent64 align;
        } u;
        int r = 0;
        for (;;) {
                long n = syscall(SYS_getdents64, dfd, u.buf, sizeof u.buf);
                if (n < 0) {
                        r = negative_errno();
                        break;
                }
                if (n == 0)
                        break;
                for (long off = 0; off < n;) {
                        struct dirent64 *de = (struct dirent64 *) (u.buf + off);
                        off += de->d_reclen;
                        int fd = parse_fd(de->d_name);
                        if (fd < from || fd == dfd)
                                continue;
                        if (do_close)
                                (void) close(fd);
                        else {
                                int flags = fcntl(fd, F_GETFD);
                                if (flags >= 0 && !(flags & FD_CLOEXEC))
                                        (void) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
                        }
                }
        }
        close(dfd);
        return r;
}

int fd_cloexec_from(int from)
{
        if (close_range_syscall(from, CLOSE_RANGE_CLOEXEC) == 0)
                return 0;
        return proc_fd_walk(from, false);
}

int fd_close_from(int from)
{
        if (close_range_syscall(from, 0) == 0)
                return 0;
        if (proc_fd_walk(from, true) == 0)
                return 0;
        /* no /proc: every possible number */
        struct rlimit rl;
        int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (int) MIN(rl.rlim_cur, 65536)
                                                                                     : 65536;
        for (int fd = from; fd < max; fd++)
                (void) close(fd);
        return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "tests/tap.h"

static bool cloexec(int fd)
{
        int flags = fcntl(fd, F_GETFD);
        return flags >= 0 && (flags & FD_CLOEXEC);
}

/* close_range() fails with ENOSYS from here on, as on a kernel before 5.9 */
static bool without_close_range(void)
{
#ifdef __NR_close_range
        struct sock_filter f[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_close_range, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = ELEMENTSOF(f), .filter = f };
        return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0 &&
               syscall(__NR_close_range, 1000000U, 1000000U, 0U) < 0 && errno == ENOSYS;
#else
        return true;
#endif
}

/* In a child: fd_close_from(cut) closes every descriptor >= cut and no other. */
static int check_close_from(int below, int cut, bool old_kernel)
{
        pid_t pid = fork();
        if (pid == 0) {
                if (old_kernel && !without_close_range())
                        _exit(9);
                int extra = fcntl(below, F_DUPFD, cut + 50);
                if (extra < 0 || fcntl(extra, F_GETFD) != 0 || fd_close_from(cut) < 0)
                        _exit(10);
                if (fcntl(below, F_GETFD) < 0 || fcntl(STDERR_FILENO, F_GETFD) < 0)
                        _exit(11);
                for (int fd = cut; fd < 1024; fd++)
                        if (fcntl(fd, F_GETFD) >= 0)
                                _exit(12);
                _exit(0);
        }
        int status = -1;
        if (pid < 0 || waitpid(pid, &status, 0) != pid)
                return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int check_cloexec_from_old_kernel(int fd)
{
        pid_t pid = fork();
        if (pid == 0) {
                if (!without_close_range())
                        _exit(9);
                int extra = fcntl(fd, F_DUPFD, 300);
                _exit(extra >= 0 && fd_cloexec_from(fd) == 0 && cloexec(fd) && cloexec(extra) ? 0 : 10);
        }
        int status = -1;
        if (pid < 0 || waitpid(pid, &status, 0) != pid)
                return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(void)
{
        /* descriptors as a library might leave them: no O_CLOEXEC, one far up */
        int low = open("/dev/null", O_RDONLY), mid = open("/dev/null", O_RDONLY);
        int high = fcntl(low, F_DUPFD, 200);
        ok(low >= 3 && mid > low && high >= 200 && !cloexec(low) && !cloexec(high), "test descriptors open");
        int err_flags = fcntl(STDERR_FILENO, F_GETFD);

        ok(fd_cloexec_from(low) == 0, "fd_cloexec_from");
        ok(cloexec(low) && cloexec(mid) && cloexec(high), "every descriptor >= from is close-on-exec");
        is_int(fcntl(STDERR_FILENO, F_GETFD), err_flags, "descriptors below are left alone");

        /* in a child, as the script runner uses it */
        is_int(check_close_from(mid, mid + 1, false), 0, "fd_close_from closes every descriptor >= from, only those");
        is_int(check_close_from(mid, mid + 1, true), 0, "the same without close_range() (kernels before 5.9)");

        int fresh = open("/dev/null", O_RDONLY);
        is_int(check_cloexec_from_old_kernel(fresh), 0, "fd_cloexec_from without close_range() (kernels before 5.11)");
        close(fresh);

        close(low);
        close(mid);
        close(high);
        return tap_done();
}

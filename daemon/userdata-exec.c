/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-journal.h>
#include <time.h>

#include "common/chase.h"
#include "common/fd-util.h"
#include "common/fileio.h"
#include "common/macro.h"
#include "daemon/log.h"
#include "daemon/proc.h"
#include "daemon/userdata.h"

/* after SIGTERM on timeout, the group gets this long before SIGKILL */
#define KILL_GRACE_MSEC 5000
/* after the script exits, output still queued in the pipe is read for at most this long; a
 * background process that keeps the pipe open must not hold the runner */
#define DRAIN_MSEC 200

static long long now_msec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int userdata_boot_id(const Context *ctx, char **ret)
{
        return proc_read_line(ctx, "/proc/sys/kernel/random/boot_id", ret);
}

int userdata_log_open(const Context *ctx, const char *instance_id, unsigned index, int *ret_fd, char **ret_path)
{
        _cleanup_free_ char *dir = NULL, *rel = NULL, *path = NULL;
        /* inside the tree: a link to a host directory is followed inside it */
        int r = mkdir_in_root(ctx->root, ctx->config.log_dir, 0700, &dir);
        if (r < 0)
                return r;
        /* script output may echo secrets (cloud-init CVE-2021-3429, CVE-2023-1786): owner only, even if
         * the directory existed with looser bits */
        if (chmod(dir, 0700) < 0)
                return negative_errno();
        if (asprintf(&rel, "%s/userdata-%s-%u.log", ctx->config.log_dir, instance_id, index) < 0)
                return -ENOMEM;
        /* a link in place of the log is refused, never followed */
        _cleanup_close_ int fd =
                open_in_root(ctx->root, rel, CHASE_NOFOLLOW_LAST, O_WRONLY | O_CREAT | O_APPEND, 0600, &path);
        if (fd < 0)
                return fd;
        if (fchmod(fd, 0600) < 0)
                return negative_errno();
        *ret_fd = TAKE_FD(fd);
        *ret_path = TAKE_PTR(path);
        return 0;
}

/* The script runs from a sealed copy: ROOT/run/kernelkeeper-userdata/<instance>/part-<n>, mode 0500,
 * written atomically right before the fork into directories that are 0700 and owned by root, so only
 * root can change it between the hash and the exec. Its interpreter (the #! line) is started with that
 * path, so the script gets a real path as $0 (cloud-init gives one under /var/lib/cloud): `dirname "$0"` works, as in
 * cloud-init. The copy is removed once the script has exited; /run is a tmpfs, so nothing of the
 * script is left on disk (its text may hold secrets, like its output: see userdata_log_open()). */
int userdata_script_copy(const Context *ctx, const char *instance_id, const UserDataPart *p, char **ret_path)
{
        _cleanup_free_ char *top = NULL, *dir = NULL, *rel = NULL, *path = NULL;
        int r = mkdir_in_root(ctx->root, USERDATA_SCRIPT_DIR, 0700, &top);
        if (r < 0)
                return r;
        /* owner only, even if the directory existed with looser bits */
        if (chmod(top, 0700) < 0)
                return negative_errno();
        if (asprintf(&rel, USERDATA_SCRIPT_DIR "/%s", instance_id) < 0)
                return -ENOMEM;
        if ((r = mkdir_in_root(ctx->root, rel, 0700, &dir)) < 0)
                return r;
        if (chmod(dir, 0700) < 0)
                return negative_errno();
        free(rel);
        if (asprintf(&rel, USERDATA_SCRIPT_DIR "/%s/part-%u", instance_id, p->index) < 0) {
                rel = NULL;
                return -ENOMEM;
        }
        /* a link in place of the copy is refused by write_file_atomic(), never followed */
        if ((r = chase_in_root(ctx->root, rel, CHASE_NONEXISTENT | CHASE_NOFOLLOW_LAST, &path)) < 0)
                return r;
        if ((r = write_file_atomic(path, p->data, p->size, 0500, 0)) < 0)
                return r;
        *ret_path = TAKE_PTR(path);
        return 0;
}

/* The #! line as Linux reads it (fs/binfmt_script.c): the interpreter up to the first blank, the rest
 * of the line (trimmed) as at most one argument, the line cut at 255 bytes. */
typedef struct Interpreter {
        char path[256];
        char arg[256];
} Interpreter;

static int parse_interpreter(const UserDataPart *p, Interpreter *ret)
{
        size_t n = MIN(p->size, (size_t) 255);
        if (n < 2 || p->data[0] != '#' || p->data[1] != '!')
                return -ENOEXEC;
        char line[256];
        memcpy(line, p->data + 2, n - 2);
        line[n - 2] = 0;
        char *nl = strchr(line, '\n');
        if (nl)
                *nl = 0;
        char *s = line + strspn(line, " \t");
        size_t len = strcspn(s, " \t");
        if (len == 0)
                return -ENOEXEC;
        Interpreter in = {};
        memcpy(in.path, s, len);
        s += len;
        s += strspn(s, " \t");
        size_t alen = strlen(s);
        while (alen > 0 && (s[alen - 1] == ' ' || s[alen - 1] == '\t' || s[alen - 1] == '\r'))
                alen--;
        memcpy(in.arg, s, alen);
        *ret = in;
        return 0;
}

static _noreturn_ void child(const ScriptRun *run, const Interpreter *interp, int out_fd, const sigset_t *old_mask)
{
        /* its own session and process group: the timeout kills everything it started */
        (void) setsid();
        sigprocmask(SIG_SETMASK, old_mask, NULL);
        signal(SIGPIPE, SIG_DFL);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
            dup2(out_fd, STDERR_FILENO) < 0)
                _exit(127);
        /* a dup2() onto itself keeps the pipe's FD_CLOEXEC (when started with 0-2 closed) */
        for (int i = STDIN_FILENO; i <= STDERR_FILENO; i++)
                (void) fcntl(i, F_SETFD, 0);
        /* Nothing else crosses the exec: everything kernelkeeper opens is close-on-exec already,
         * and whatever a library opened without it (or a future descriptor we forget) is closed
         * here. */
        if (fd_close_from(STDERR_FILENO + 1) < 0)
                _exit(127);
        if (chdir(run->cwd) < 0)
                (void) chdir("/");
        /* what scripts expect of a root shell, whatever the runner was started with */
        umask(0022);

        /* a fixed environment: nothing of the runner's (proxy settings, credentials) leaks in */
        char instance[128], part[32];
        snprintf(instance, sizeof instance, "KERNELKEEPER_INSTANCE_ID=%s", run->instance_id);
        snprintf(part, sizeof part, "KERNELKEEPER_PART=%u", run->part->index);
        char *envp[] = {
                (char *) "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                (char *) "HOME=/root",
                (char *) "LANG=C.UTF-8",
                (char *) "USER=root",
                (char *) "LOGNAME=root",
                (char *) "SHELL=/bin/sh",
                instance,
                part,
                NULL,
        };
        /* as the kernel runs a #! script, but by hand: /run is mounted noexec on Debian (its
         * initramfs mounts it so), and the interpreter only reads the copy */
        char *argv[] = { (char *) interp->path, interp->arg[0] ? (char *) interp->arg : (char *) run->script_path,
                         interp->arg[0] ? (char *) run->script_path : NULL, NULL };
        execve(interp->path, argv, envp);
        dprintf(STDERR_FILENO, "kernelkeeper: cannot execute user-data part %u: %s\n", run->part->index,
                strerror(errno));
        _exit(127);
}

static int copy_output(int in_fd, int log_fd, int journal_fd, bool *ret_eof)
{
        char buf[16384];
        ssize_t n = read(in_fd, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return 0;
        if (n <= 0) {
                *ret_eof = true;
                return 0;
        }
        int r = loop_write(log_fd, buf, (size_t) n);
        if (journal_fd >= 0)
                (void) loop_write(journal_fd, buf, (size_t) n);
        return r;
}

int userdata_script_exec(const ScriptRun *run, ScriptOutcome *ret)
{
        Interpreter interp;
        int r0 = parse_interpreter(run->part, &interp);
        if (r0 < 0)
                return r0;
        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return negative_errno();
        _cleanup_close_ int out_r = pipefd[0], out_w = pipefd[1];
        _cleanup_close_ int journal_fd = -EBADF;
        if (run->to_journal) {
                /* the output keeps its own identifier so it is easy to find and to tell from ours */
                journal_fd = sd_journal_stream_fd("kernelkeeper-userdata", LOG_INFO, false);
                if (journal_fd >= 0)
                        (void) fcntl(journal_fd, F_SETFD, FD_CLOEXEC);
        }

        /* SIGCHLD through a signalfd: one poll() waits for output, exit and timeout alike */
        sigset_t mask, old_mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, &old_mask) < 0)
                return negative_errno();
        int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0) {
                int r = negative_errno();
                sigprocmask(SIG_SETMASK, &old_mask, NULL);
                return r;
        }
        _cleanup_close_ int sigfd = sfd;

        long long start = now_msec();
        pid_t pid = fork();
        if (pid < 0) {
                int r = negative_errno();
                sigprocmask(SIG_SETMASK, &old_mask, NULL);
                return r;
        }
        if (pid == 0)
                child(run, &interp, out_w, &old_mask);
        /* the parent's copies: EOF on the pipe must mean the script's side is closed */
        close(TAKE_FD(out_w));

        long long deadline = run->timeout_sec ? start + (long long) run->timeout_sec * 1000 : -1;
        long long kill_at = -1, drain_until = -1;
        bool eof = false, exited = false, timed_out = false, warned = false;
        int status = 0, r = 0;
        while (!(exited && (eof || now_msec() >= drain_until))) {
                long long now = now_msec(), wake = -1;
                if (!exited && !timed_out && deadline >= 0)
                        wake = deadline;
                if (!exited && kill_at >= 0)
                        wake = kill_at;
                if (exited)
                        wake = drain_until;
                int timeout = wake < 0 ? -1 : (int) MAX(0LL, wake - now);
                struct pollfd p[2] = { { .fd = eof ? -1 : out_r, .events = POLLIN }, { .fd = sigfd, .events = POLLIN } };
                int k = poll(p, 2, timeout);
                if (k < 0 && errno != EINTR) {
                        r = negative_errno();
                        break;
                }
                if (k > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
                        /* on a log write error keep reading: a full pipe would block the script */
                        if ((r = copy_output(out_r, run->log_fd, journal_fd, &eof)) < 0 && !warned) {
                                log_warning_errno(r, "Cannot copy the output of part %u to its log: %m",
                                                  run->part->index);
                                warned = true;
                        }
                if (k > 0 && (p[1].revents & POLLIN)) {
                        struct signalfd_siginfo si;
                        while (read(sigfd, &si, sizeof si) > 0)
                                ;
                }
                if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
                        exited = true;
                        drain_until = now_msec() + DRAIN_MSEC;
                }
                now = now_msec();
                if (!exited && !timed_out && deadline >= 0 && now >= deadline) {
                        timed_out = true;
                        (void) kill(-pid, SIGTERM);
                        kill_at = now + KILL_GRACE_MSEC;
                } else if (!exited && kill_at >= 0 && now >= kill_at) {
                        (void) kill(-pid, SIGKILL);
                        kill_at = -1;
                }
        }
        if (!exited)
                (void) waitpid(pid, &status, 0);
        if (timed_out)
                (void) kill(-pid, SIGKILL); /* whatever of the group is left */
        sigprocmask(SIG_SETMASK, &old_mask, NULL);

        *ret = (ScriptOutcome){
                .exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                .signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0,
                .timed_out = timed_out,
                .duration_msec = now_msec() - start,
        };
        return 0;
}

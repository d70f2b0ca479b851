/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "common/chase.h"
#include "common/macro.h"

bool root_is_host(const char *root)
{
        return isempty(root) || streq(root, "/");
}

char *path_join_root(const char *root, const char *path)
{
        char *r = NULL;
        if (root_is_host(root))
                return strdup(path);
        size_t rl = strlen(root);
        while (rl > 1 && root[rl - 1] == '/')
                rl--;
        if (asprintf(&r, "%.*s%s%s", (int) rl, root, path[0] == '/' ? "" : "/", path) < 0)
                return NULL;
        return r;
}

const char *path_skip_root(const char *root, const char *host_path)
{
        if (root_is_host(root))
                return host_path;
        size_t rl = strlen(root);
        while (rl > 1 && root[rl - 1] == '/')
                rl--;
        if (!strneq(host_path, root, rl) || (host_path[rl] != '/' && host_path[rl] != 0))
                return NULL;
        return host_path[rl] ? host_path + rl : "/";
}

/* Resolution works on a "resolved so far" string relative to root (always starting with "/") and a
 * queue of components still to walk; a symlink's target is pushed in front of the queue. With
 * CHASE_MKDIR a missing component is created where the walk stands, which is always inside root,
 * and then walked like any other. */
static int chase_internal(const char *root, const char *path, ChaseFlags flags, mode_t mode, char **ret_path)
{
        if (!path || path[0] != '/')
                return -EINVAL;
        if (strlen(path) >= PATH_MAX)
                return -ENAMETOOLONG;

        char done[PATH_MAX] = "";   /* resolved part, relative to root, "" means "/" */
        char todo[PATH_MAX * 2];    /* remaining path */
        snprintf(todo, sizeof todo, "%s", path);
        unsigned links = 0;

        char *p = todo;
        for (;;) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                char *end = strchrnul(p, '/');
                size_t n = (size_t) (end - p);
                bool last = true;
                for (char *q = end; *q; q++)
                        if (*q != '/') {
                                last = false;
                                break;
                        }

                if (n == 1 && p[0] == '.') {
                        p = end;
                        continue;
                }
                if (n == 2 && p[0] == '.' && p[1] == '.') {
                        char *s = strrchr(done, '/');
                        if (s)
                                *s = 0; /* never above root */
                        p = end;
                        continue;
                }
                size_t dl = strlen(done);
                if (dl + 1 + n >= PATH_MAX)
                        return -ENAMETOOLONG;
                done[dl] = '/';
                memcpy(done + dl + 1, p, n);
                done[dl + 1 + n] = 0;
                p = end;

                _cleanup_free_ char *host = path_join_root(root, done);
                if (!host)
                        return -ENOMEM;
                struct stat st;
                if (lstat(host, &st) < 0) {
                        if (errno == ENOENT && last && (flags & CHASE_NONEXISTENT))
                                break;
                        if (errno != ENOENT || !(flags & CHASE_MKDIR))
                                return negative_errno();
                        /* parents get the usual 0755, the directory asked for gets mode; EEXIST: someone
                         * was quicker, and what they made is walked like anything else */
                        if (mkdir(host, last ? mode : 0755) < 0 && errno != EEXIST)
                                return negative_errno();
                        if (lstat(host, &st) < 0)
                                return negative_errno();
                }
                if (S_ISLNK(st.st_mode) && !(last && (flags & CHASE_NOFOLLOW_LAST))) {
                        if (++links > 32)
                                return -ELOOP;
                        char target[PATH_MAX];
                        ssize_t k = readlink(host, target, sizeof target - 1);
                        if (k < 0)
                                return negative_errno();
                        target[k] = 0;
                        /* drop the link itself; an absolute target restarts at root */
                        done[dl] = 0;
                        if (target[0] == '/')
                                done[0] = 0;
                        char rest[PATH_MAX * 2];
                        if ((size_t) snprintf(rest, sizeof rest, "%s/%s", target, p) >= sizeof rest)
                                return -ENAMETOOLONG;
                        memcpy(todo, rest, strlen(rest) + 1);
                        p = todo;
                        continue;
                }
                if ((!last || (flags & CHASE_MKDIR)) && !S_ISDIR(st.st_mode))
                        return -ENOTDIR;
        }

        char *r = path_join_root(root, done[0] ? done : "/");
        if (!r)
                return -ENOMEM;
        *ret_path = r;
        return 0;
}

int chase_in_root(const char *root, const char *path, ChaseFlags flags, char **ret_path)
{
        return chase_internal(root, path, flags, 0, ret_path);
}

int mkdir_in_root(const char *root, const char *path, mode_t mode, char **ret_path)
{
        if (!root_is_host(root)) {
                /* the tree itself is never created */
                struct stat st;
                if (stat(root, &st) < 0)
                        return negative_errno();
                if (!S_ISDIR(st.st_mode))
                        return -ENOTDIR;
        }
        return chase_internal(root, path, CHASE_MKDIR, mode, ret_path);
}

int open_in_root(const char *root, const char *path, ChaseFlags flags, int open_flags, mode_t mode,
                 char **ret_path)
{
        if (open_flags & O_CREAT)
                flags |= CHASE_NONEXISTENT;
        _cleanup_free_ char *host = NULL;
        int r = chase_in_root(root, path, flags, &host);
        if (r < 0)
                return r;
        /* O_NOFOLLOW: a link put there after the walk is not followed out of the tree; O_NONBLOCK: a
         * FIFO does not block the open (the fstat below refuses it) */
        int oflags = open_flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
        _cleanup_close_ int fd = open(host, oflags, mode);
        if (fd < 0)
                /* ELOOP: a link under O_NOFOLLOW; ENXIO: a FIFO without reader opened for writing */
                return errno == ELOOP || errno == ENXIO ? -EINVAL : negative_errno();
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if (!(open_flags & O_NONBLOCK)) {
                int fl = fcntl(fd, F_GETFL);
                if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
                        return negative_errno();
        }
        if (ret_path)
                *ret_path = TAKE_PTR(host);
        return TAKE_FD(fd);
}

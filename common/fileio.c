/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "common/chase.h"
#include "common/fileio.h"
#include "common/macro.h"

int read_full_fd(int fd, size_t max_size, char **ret_data, size_t *ret_size)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if ((uint64_t) st.st_size > max_size)
                return -EFBIG;
        /* opened with O_NONBLOCK so that a FIFO could not block the open: regular files read as usual */
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || ((fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0))
                return negative_errno();

        size_t cap = (size_t) st.st_size + 1, n = 0;
        _cleanup_free_ char *buf = malloc(cap + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (n == cap) {
                        /* the file grew while we read it */
                        if (cap > max_size)
                                return -EFBIG;
                        size_t ncap = MIN(cap * 2, max_size + 1);
                        char *p = realloc(buf, ncap + 1);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        cap = ncap;
                }
                ssize_t k = read(fd, buf + n, cap - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        if (n > max_size)
                return -EFBIG;
        buf[n] = 0;
        *ret_data = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = n;
        return 0;
}

int read_full_file(const char *path, size_t max_size, char **ret_data, size_t *ret_size)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        return read_full_fd(fd, max_size, ret_data, ret_size);
}

int read_full_file_in_root(const char *root, const char *path, ChaseFlags flags, size_t max_size,
                           char **ret_data, size_t *ret_size)
{
        _cleanup_close_ int fd = open_in_root(root, path, flags, O_RDONLY, 0, NULL);
        if (fd < 0)
                return fd;
        return read_full_fd(fd, max_size, ret_data, ret_size);
}

int loop_write(int fd, const void *data, size_t size)
{
        const char *p = data;
        while (size > 0) {
                ssize_t k = write(fd, p, size);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += k;
                size -= (size_t) k;
        }
        return 0;
}

static int fsync_dir_of(const char *path)
{
        _cleanup_free_ char *dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (!slash)
                strcpy(dir, ".");
        else if (slash == dir)
                dir[1] = 0;
        else
                *slash = 0;
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        if (fsync(dfd) < 0)
                return negative_errno();
        return 0;
}

/* GRUB reads the disk without replaying the journal: freezing forces every byte to its final place. */
static int freeze_thaw(int fd)
{
        if (ioctl(fd, FIFREEZE, 0) < 0) {
                /* EBUSY: already frozen by someone else; EOPNOTSUPP/ENOTTY: fs can't; fall back to syncfs */
                if (errno == EBUSY || errno == EOPNOTSUPP || errno == ENOTTY || errno == EPERM)
                        return syncfs(fd) < 0 ? negative_errno() : 0;
                return negative_errno();
        }
        if (ioctl(fd, FITHAW, 0) < 0)
                return negative_errno();
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode, WriteFlags flags)
{
        struct stat old;
        bool have_old = lstat(path, &old) >= 0;
        if (!have_old && errno != ENOENT)
                return negative_errno();
        if (have_old && !S_ISREG(old.st_mode))
                return -EINVAL; /* never replace a symlink or device: callers resolve first */

        size_t len = strlen(path);
        _cleanup_free_ char *tmp = malloc(len + 16);
        if (!tmp)
                return -ENOMEM;
        snprintf(tmp, len + 16, "%s.kk-XXXXXX", path);

        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();

        int r = loop_write(fd, data, size);
        if (r < 0)
                goto fail;

        mode_t m = (flags & WRITE_MODE_FROM_OLD) && have_old ? (old.st_mode & 07777) : mode;
        if (fchmod(fd, m) < 0) {
                r = negative_errno();
                goto fail;
        }
        if ((flags & WRITE_MODE_FROM_OLD) && have_old && fchown(fd, old.st_uid, old.st_gid) < 0 &&
            errno != EPERM) {
                r = negative_errno();
                goto fail;
        }
        if (fsync(fd) < 0) {
                r = negative_errno();
                goto fail;
        }

        if ((flags & WRITE_KEEP_PREV) && have_old) {
                _cleanup_free_ char *prev = malloc(len + 9);
                if (!prev) {
                        r = -ENOMEM;
                        goto fail;
                }
                snprintf(prev, len + 9, "%s.kk-prev", path);
                /* a hard link keeps the old inode reachable without copying; replace any older one */
                (void) unlink(prev);
                if (link(path, prev) < 0 && errno != EPERM && errno != EXDEV) {
                        r = negative_errno();
                        goto fail;
                }
        }

        if (rename(tmp, path) < 0) {
                r = negative_errno();
                goto fail;
        }

        r = fsync_dir_of(path);
        if (r < 0)
                return r;
        if (flags & WRITE_FREEZE)
                return freeze_thaw(fd);
        if ((flags & WRITE_SYNCFS) && syncfs(fd) < 0)
                return negative_errno();
        return 0;

fail:
        (void) unlink(tmp);
        return r;
}

static bool is_stale_temp_name(const char *name, const char *const *names)
{
        for (const char *const *n = names; n && *n; n++) {
                size_t l = strlen(*n);
                if (!strneq(name, *n, l) || !strneq(name + l, ".kk-", 4))
                        continue;
                const char *x = name + l + 4;
                /* exactly mkostemp's six characters: [A-Za-z0-9] */
                if (strlen(x) != 6)
                        continue;
                if (strspn(x, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") == 6)
                        return true;
        }
        return false;
}

int remove_stale_temps(const char *dir, const char *const *names)
{
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dfd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        int fd2 = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        if (fd2 < 0)
                return negative_errno();
        DIR *d = fdopendir(fd2);
        if (!d) {
                int r = negative_errno();
                close(fd2);
                return r;
        }
        int n = 0, r = 0;
        struct dirent *de;
        while ((errno = 0, de = readdir(d))) {
                if (!is_stale_temp_name(de->d_name, names))
                        continue;
                struct stat st;
                if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if (unlinkat(dfd, de->d_name, 0) < 0) {
                        if (errno != ENOENT && r == 0)
                                r = negative_errno();
                        continue;
                }
                n++;
        }
        if (errno != 0 && r == 0)
                r = negative_errno();
        closedir(d);
        if (n > 0 && fsync(dfd) < 0 && r == 0)
                r = negative_errno();
        return r < 0 ? r : n;
}

int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return negative_errno();
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return negative_errno();
        return 0;
}

bool looks_binary(const char *data, size_t size)
{
        size_t n = MIN(size, (size_t) 8192), ctrl = 0;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) data[i];
                if (c == 0)
                        return true;
                if (c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' && c != 0x07 &&
                    c != 0x1b && c != '\v' && c != '\b')
                        ctrl++;
        }
        /* a few stray control characters (BEL in GRUB's own sample) are text; lots of them are not */
        return n > 0 && ctrl * 20 > n;
}

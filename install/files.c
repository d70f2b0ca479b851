/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/macro.h"
#include "install/files.h"
#include "install/tar.h"

static int rm_rf_children(int fd, unsigned depth)
{
        if (depth > 64)
                return -ELOOP;
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        int r = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        int c = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (c >= 0) {
                                int k = rm_rf_children(c, depth + 1);
                                if (k < 0 && r == 0)
                                        r = k;
                        }
                        if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && r == 0)
                                r = -errno;
                } else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && r == 0)
                        r = -errno;
        }
        closedir(d);
        return r;
}

int rm_rf_at(int dir_fd, const char *name)
{
        struct stat st;
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlinkat(dir_fd, name, 0) < 0 ? -errno : 0;
        int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = rm_rf_children(fd, 0);
        if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && r == 0)
                r = errno == ENOENT ? 0 : -errno;
        return r;
}

static int copy_file(int src_dir, const char *name, int dst_dir, uint64_t *bytes)
{
        _cleanup_close_ int in = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (in < 0)
                return -errno;
        _cleanup_close_ int out = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (out < 0)
                return -errno;
        _cleanup_free_ char *buf = malloc(1 << 16);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(in, buf, 1 << 16);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                int r = loop_write(out, buf, (size_t) n);
                if (r < 0)
                        return r;
                *bytes += (uint64_t) n;
        }
}

static int copy_children(int src, int dst, const char *rel, unsigned depth, uint64_t *bytes)
{
        if (depth > 32)
                return -ELOOP;
        DIR *d = fdopendir(src);
        if (!d) {
                close(src);
                return -errno;
        }
        int r = 0;
        struct dirent *de;
        while (r >= 0 && (de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = -errno;
                        break;
                }
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s/%s", rel, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                if (S_ISREG(st.st_mode))
                        r = copy_file(dirfd(d), de->d_name, dst, bytes);
                else if (S_ISDIR(st.st_mode)) {
                        if (mkdirat(dst, de->d_name, 0755) < 0) {
                                r = -errno;
                                break;
                        }
                        int s2 = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        _cleanup_close_ int d2 = openat(dst, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (s2 < 0 || d2 < 0) {
                                r = -errno;
                                if (s2 >= 0)
                                        close(s2);
                                break;
                        }
                        r = copy_children(s2, d2, path, depth + 1, bytes);
                } else if (S_ISLNK(st.st_mode)) {
                        char target[4096];
                        ssize_t n = readlinkat(dirfd(d), de->d_name, target, sizeof target - 1);
                        if (n < 0) {
                                r = -errno;
                                break;
                        }
                        target[n] = 0;
                        /* the same rule as for an archive: relative and inside the tree */
                        if (!tar_link_safe(path + 1, target)) {
                                r = -EPERM;
                                break;
                        }
                        if (r >= 0 && symlinkat(target, dst, de->d_name) < 0)
                                r = -errno;
                } else
                        r = -EPERM;
        }
        closedir(d);
        return r;
}

int copy_tree(const char *src, int dst_fd, const char *name, uint64_t *ret_bytes)
{
        int s = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s < 0)
                return -errno;
        if (mkdirat(dst_fd, name, 0755) < 0) {
                close(s);
                return -errno;
        }
        _cleanup_close_ int d = openat(dst_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (d < 0) {
                close(s);
                return -errno;
        }
        uint64_t bytes = 0;
        int r = copy_children(s, d, "", 0, &bytes);
        if (r >= 0 && ret_bytes)
                *ret_bytes = bytes;
        return r;
}

bool fd_is_sparse(int fd)
{
        struct stat st;
        if (fstat(fd, &st) < 0 || st.st_size == 0)
                return false;
        off_t hole = lseek(fd, 0, SEEK_HOLE);
        if (hole >= 0 && hole < st.st_size)
                return true;
        /* filesystems without SEEK_HOLE report the end: count blocks too (4 KiB slack for the tail) */
        return (uint64_t) st.st_blocks * 512 + 4096 < (uint64_t) st.st_size;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tar reader on arbitrary bytes, extracting into a scratch directory:
 * - it fails with one of its documented errors and a sentence, or succeeds;
 * - either way, every link it created stays inside the tree (relative, never above the top). */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "install/files.h"
#include "install/tar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool take(const char *name, TarType type, void *userdata)
{
        return strncmp(name, "skip", 4) != 0;
}

static void check_links(int dfd, const char *rel, unsigned depth)
{
        DIR *d = fdopendir(dfd);
        if (!d)
                abort();
        struct dirent *de;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                char path[8192];
                snprintf(path, sizeof path, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        abort();
                if (S_ISLNK(st.st_mode)) {
                        char t[4096];
                        ssize_t n = readlinkat(dirfd(d), de->d_name, t, sizeof t - 1);
                        if (n < 0)
                                abort();
                        t[n] = 0;
                        if (!tar_link_safe(path, t))
                                abort();
                } else if (S_ISDIR(st.st_mode) && depth < 64) {
                        int c = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (c < 0)
                                abort();
                        check_links(c, path, depth + 1);
                } else if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
                        abort();
        }
        closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static char dir[64];
        if (!*dir) {
                snprintf(dir, sizeof dir, "/tmp/kk-fuzz-tar-%d", (int) getpid());
                if (mkdir(dir, 0700) < 0)
                        abort();
        }
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                abort();
        (void) rm_rf_at(fd, "t");
        if (mkdirat(fd, "t", 0700) < 0)
                abort();
        int tfd = openat(fd, "t", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        Stream *s = NULL;
        if (tfd < 0 || stream_open_mem(data, size, compression_detect(data, size), 1 << 20, &s) < 0)
                abort();
        TarLimits l = { .max_total = 256 * 1024, .max_members = 256 };
        char *err = NULL;
        int r = tar_extract(s, tfd, take, NULL, &l, NULL, &err);
        if (r < 0 && r != -EBADMSG && r != -EPERM && r != -EFBIG && r != -EEXIST && r != -ENOMEM && r != -ENAMETOOLONG &&
            r != -ENOTDIR && r != -EISDIR && r != -ELOOP && r != -EINVAL && r != -ENOENT)
                abort();
        if (r < 0 && r != -ENOMEM && !err)
                abort();
        free(err);
        stream_free(s);
        int c = fcntl(tfd, F_DUPFD_CLOEXEC, 3);
        check_links(c, "", 0);
        close(tfd);
        (void) rm_rf_at(fd, "t");
        close(fd);
        return 0;
}

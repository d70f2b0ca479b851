/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "common/chase.h"
#include "common/macro.h"
#include "tests/tap.h"

static bool is_dir(const char *root, const char *rel, mode_t mode)
{
        char path[512];
        struct stat st;
        snprintf(path, sizeof path, "%s%s", root, rel);
        return lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && (mode == 0 || (st.st_mode & 07777) == mode);
}

static void test_mkdir_in_root(const char *root)
{
        /* a host directory that a link in the tree points to: nothing may appear in it */
        char host[] = "/tmp/kk-chase-host-XXXXXX", cmd[1024], want[512];
        ok(mkdtemp(host) != NULL, "host dir made");
        snprintf(cmd, sizeof cmd,
                 "mkdir -p %1$s/var/lib && ln -s %2$s %1$s/var/lib/kernelkeeper && "
                 "ln -s ../../../../../../../%2$s %1$s/var/lib/dotdot && mkdir -p %1$s/run && "
                 "ln -s %2$s/sub %1$s/run/kernelkeeper && touch %1$s/var/lib/file",
                 root, host);
        ok(system(cmd) == 0, "links to the host made");
        mode_t old = umask(0022);

        char *p = NULL;
        ok(mkdir_in_root(root, "/var/lib/kernelkeeper", 0700, &p) == 0, "mkdir through an absolute link");
        snprintf(want, sizeof want, "%s%s", root, host);
        is_str(p, want, "the link's target is taken inside the tree");
        free(p);
        ok(is_dir(root, host, 0700), "created inside the tree with the mode asked for");
        snprintf(want, sizeof want, "%s/tmp", root);
        ok(is_dir(want, "", 0755), "missing parents created 0755");

        ok(mkdir_in_root(root, "/run/kernelkeeper/x", 0700, &p) == 0, "mkdir below a link to a missing host dir");
        free(p);
        snprintf(want, sizeof want, "%s/sub/x", host);
        ok(!is_dir(want, "", 0), "nothing created on the host");

        ok(mkdir_in_root(root, "/var/lib/dotdot/y", 0700, &p) == 0, "'..' in a link target");
        free(p);
        snprintf(want, sizeof want, "%s/y", host);
        ok(!is_dir(want, "", 0), "'..' does not climb out of the tree");
        snprintf(want, sizeof want, "%s/y", host);
        ok(is_dir(root, want, 0700), "it stops at the tree's root");

        ok(mkdir_in_root(root, "/a/../b/./c/..//d", 0700, &p) == 0, "'..' and '.' components");
        snprintf(want, sizeof want, "%s/b/d", root);
        is_str(p, want, "resolved lexically inside the tree");
        free(p);
        ok(is_dir(root, "/a", 0755), "a component before '..' is walked, so created, as mkdir -p does");

        p = NULL;
        is_int(mkdir_in_root(root, "/var/lib/file", 0700, &p), -ENOTDIR, "an existing file in the way (last)");
        is_int(mkdir_in_root(root, "/var/lib/file/z", 0700, &p), -ENOTDIR, "an existing file in the way (middle)");
        ok(p == NULL, "ret_path untouched on failure");
        ok(mkdir_in_root(root, "/b/d", 0700, &p) == 0, "an existing directory is fine");
        free(p);
        is_int(mkdir_in_root("/nonexistent-kk-root", "/var", 0700, &p), -ENOENT, "the tree itself is not created");

        /* the host directory is still empty */
        snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s)\"", host);
        ok(system(cmd) == 0, "the host directory is untouched");
        umask(old);
        snprintf(cmd, sizeof cmd, "rm -rf %s", host);
        (void) system(cmd);
}

static void test_open_in_root(const char *root)
{
        char cmd[1024], want[512];
        snprintf(cmd, sizeof cmd,
                 "mkdir -p %1$s/o && echo data > %1$s/o/file && ln -s /o/file %1$s/o/link && "
                 "ln -s /etc/passwd %1$s/o/host && mkfifo %1$s/o/fifo",
                 root);
        ok(system(cmd) == 0, "files for open_in_root made");
        char *p = NULL;
        int fd = open_in_root(root, "/o/link", 0, O_RDONLY, 0, &p);
        ok(fd >= 0, "a link is followed inside the tree");
        snprintf(want, sizeof want, "%s/o/file", root);
        is_str(p, want, "to the file in the tree");
        ok(fd >= 0 && !(fcntl(fd, F_GETFL) & O_NONBLOCK), "O_NONBLOCK cleared");
        if (fd >= 0)
                close(fd);
        free(p);
        p = NULL;
        is_int(open_in_root(root, "/o/link", CHASE_NOFOLLOW_LAST, O_RDONLY, 0, &p), -EINVAL,
               "CHASE_NOFOLLOW_LAST: a link is refused as not a regular file");
        is_int(open_in_root(root, "/o/host", 0, O_RDONLY, 0, &p), -ENOENT, "a link to a host file is not followed out");
        is_int(open_in_root(root, "/o/fifo", 0, O_RDONLY, 0, &p), -EINVAL, "a FIFO is refused without blocking");
        is_int(open_in_root(root, "/o/fifo", 0, O_WRONLY | O_APPEND, 0, &p), -EINVAL, "also for writing");
        is_int(open_in_root(root, "/o", 0, O_RDONLY, 0, &p), -EINVAL, "a directory is refused");
        ok(p == NULL, "ret_path untouched on failure");
        fd = open_in_root(root, "/o/new", CHASE_NOFOLLOW_LAST, O_RDWR | O_CREAT, 0600, NULL);
        ok(fd >= 0, "O_CREAT creates a missing file");
        if (fd >= 0)
                close(fd);
        is_int(open_in_root(root, "/o/host", CHASE_NOFOLLOW_LAST, O_RDWR | O_CREAT, 0600, NULL), -EINVAL,
               "O_CREAT never creates through a link");
        snprintf(want, sizeof want, "%s/etc/passwd", root);
        ok(access(want, F_OK) < 0, "nothing created at the link's target");
}

int main(void)
{
        char tmpl[] = "/tmp/kk-chase-XXXXXX";
        char *root = mkdtemp(tmpl);
        char cmd[512];
        snprintf(cmd, sizeof cmd,
                 "mkdir -p %1$s/boot/grub %1$s/etc && touch %1$s/boot/grub/grub.conf %1$s/boot/vmlinuz-1 && "
                 "ln -s grub.conf %1$s/boot/grub/menu.lst && ln -s /boot/vmlinuz-1 %1$s/vmlinuz && "
                 "ln -s ../../../../../etc/passwd %1$s/boot/escape && ln -s loop %1$s/loop",
                 root);
        ok(system(cmd) == 0, "tree made");

        char *p = NULL;
        ok(chase_in_root(root, "/boot/grub/menu.lst", 0, &p) == 0, "relative link");
        char want[512];
        snprintf(want, sizeof want, "%s/boot/grub/grub.conf", root);
        is_str(p, want, "resolves to grub.conf in the tree");
        free(p);

        ok(chase_in_root(root, "/vmlinuz", 0, &p) == 0, "absolute link");
        snprintf(want, sizeof want, "%s/boot/vmlinuz-1", root);
        is_str(p, want, "absolute target taken inside the tree");
        free(p);

        is_int(chase_in_root(root, "/boot/escape", 0, &p), -ENOENT, "'..' never climbs out of the tree");
        is_int(chase_in_root(root, "/loop", 0, &p), -ELOOP, "link loop");
        ok(chase_in_root(root, "/boot/new", CHASE_NONEXISTENT, &p) == 0, "missing last component allowed");
        free(p);
        is_int(chase_in_root(root, "/boot/vmlinuz-1/x", 0, &p), -ENOTDIR, "file in the middle");

        test_mkdir_in_root(root);
        test_open_in_root(root);
        snprintf(cmd, sizeof cmd, "rm -rf %s", root);
        (void) system(cmd);
        return tap_done();
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "common/chase.h"
#include "common/macro.h"
#include "common/strv.h"
#include "menulst/menulst.h"

/* "(hd0,0)/boot/x" -> device "(hd0,0)", path "/boot/x"; "/boot/x" -> no device */
static void split_device(const char *grub_path, const char **ret_dev, size_t *ret_dev_len, const char **ret_path)
{
        *ret_dev = NULL;
        *ret_dev_len = 0;
        *ret_path = grub_path;
        if (grub_path[0] == '(') {
                const char *close = strchr(grub_path, ')');
                if (close) {
                        *ret_dev = grub_path;
                        *ret_dev_len = (size_t) (close - grub_path) + 1;
                        *ret_path = close + 1;
                }
        }
}

/* GRUB 0.97 reads holes of block-mapped files (ext2/ext3) as zeros but fails (Error 16) on a hole
 * in an extent-mapped one (ext4). Filesystems that cannot tell count as extent-mapped. */
static bool has_unreadable_holes(const char *path)
{
        /* O_NONBLOCK: a FIFO swapped in after the caller's stat() must not block */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return false;
        struct stat st;
        if (fstat(fd, &st) < 0 || st.st_size == 0)
                return false;
        off_t hole = lseek(fd, 0, SEEK_HOLE);
        if (hole < 0 || hole >= st.st_size)
                return false;
        int flags = 0;
        if (ioctl(fd, FS_IOC_GETFLAGS, &flags) >= 0 && !(flags & FS_EXTENT_FL))
                return false;
        return true;
}

FileState menulst_resolve_file(const MenuFs *fs, const char *root_dev, const char *grub_path, char **ret_host)
{
        const char *dev, *path;
        size_t dev_len;
        split_device(grub_path, &dev, &dev_len, &path);
        if (!dev && root_dev) {
                dev = root_dev;
                dev_len = strlen(root_dev);
        }
        if (path[0] != '/')
                return FILE_UNVERIFIABLE; /* a block list such as +1 or (hd0,0)+1 */
        if (fs->boot_device && dev &&
            (strlen(fs->boot_device) != dev_len || memcmp(fs->boot_device, dev, dev_len) != 0))
                return FILE_UNVERIFIABLE;

        /* GRUB sees the filesystem holding menu.lst: the whole root, or the /boot partition */
        _cleanup_free_ char *base = fs->separate_boot ? path_join_root(fs->root, "/boot") : NULL;
        if (fs->separate_boot && !base)
                return FILE_MISSING;
        _cleanup_free_ char *host = NULL;
        if (chase_in_root(fs->separate_boot ? base : fs->root, path, 0, &host) < 0) {
                if (ret_host)
                        *ret_host = path_join_root(fs->separate_boot ? base : fs->root, path);
                return FILE_MISSING;
        }
        struct stat st;
        FileState s = stat(host, &st) < 0 || !S_ISREG(st.st_mode) ? FILE_MISSING
                      : has_unreadable_holes(host)                          ? FILE_SPARSE
                                                                 : FILE_OK;
        if (ret_host)
                *ret_host = TAKE_PTR(host);
        return s;
}

typedef int (*file_cb)(void *userdata, const MenuEntry *e, const char *what, const char *grub_path,
                       FileState s, const char *host);

static int for_each_file(const MenuEntry *e, const MenuFs *fs, file_cb cb, void *userdata)
{
        const char *what[] = { "kernel", "initrd" };
        const char *paths[] = { e->kernel, e->initrd };
        for (size_t k = 0; k < ELEMENTSOF(paths); k++) {
                if (!paths[k])
                        continue;
                _cleanup_free_ char *host = NULL;
                FileState s = menulst_resolve_file(fs, e->root, paths[k], &host);
                int r = cb(userdata, e, what[k], paths[k], s, host);
                if (r < 0)
                        return r;
        }
        for (char **m = e->modules; m && *m; m++) {
                _cleanup_free_ char *host = NULL;
                FileState s = menulst_resolve_file(fs, e->root, *m, &host);
                int r = cb(userdata, e, "module", *m, s, host);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int describe(char **ret, const MenuEntry *e, const char *what, const char *grub_path, FileState s,
                    const char *host)
{
        switch (s) {
        case FILE_MISSING:
                return asprintf(ret, "entry %d '%s': %s %s is missing (looked for %s)", e->index, e->title, what,
                                grub_path, host ? host : "?");
        case FILE_SPARSE:
                return asprintf(ret, "entry %d '%s': %s %s has holes in an extent-mapped file, GRUB 0.97 cannot read it (Error 16)",
                                e->index, e->title, what, grub_path);
        case FILE_UNVERIFIABLE:
                return asprintf(ret, "entry %d '%s': %s %s is not on the boot filesystem, cannot check it",
                                e->index, e->title, what, grub_path);
        case FILE_OK:
                break;
        }
        *ret = NULL;
        return 0;
}

static int warn_cb(void *userdata, const MenuEntry *e, const char *what, const char *grub_path, FileState s,
                   const char *host)
{
        if (s == FILE_OK || s == FILE_UNVERIFIABLE)
                return 0;
        char *msg;
        if (describe(&msg, e, what, grub_path, s, host) < 0)
                return -ENOMEM;
        return strv_consume(userdata, msg);
}

int menulst_check_files(MenuInfo *info, const MenuFs *fs)
{
        for (size_t i = 0; i < info->n_entries; i++) {
                int r = for_each_file(&info->entries[i], fs, warn_cb, &info->warnings);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int problem_cb(void *userdata, const MenuEntry *e, const char *what, const char *grub_path, FileState s,
                      const char *host)
{
        if (s == FILE_OK)
                return 0;
        char *msg;
        if (describe(&msg, e, what, grub_path, s, host) < 0)
                return -ENOMEM;
        return strv_consume(userdata, msg);
}

int menulst_entry_problems(const MenuInfo *info, const MenuFs *fs, int index, char ***l)
{
        if (index < 0 || (size_t) index >= info->n_entries)
                return -ENOENT;
        const MenuEntry *e = &info->entries[index];
        int r = 0;
        if (e->fail_reason)
                r = strv_pushf(l, "entry %d '%s': %s", e->index, e->title, e->fail_reason);
        else if (e->password)
                r = strv_pushf(l, "entry %d '%s' asks for a password at boot", e->index, e->title);
        else if (!e->kernel)
                r = strv_pushf(l, "entry %d '%s' loads no Linux kernel", e->index, e->title);
        if (r < 0)
                return r;
        return for_each_file(e, fs, problem_cb, l);
}

int menulst_boot_problems(const MenuInfo *info, const MenuFs *fs, char ***ret)
{
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        int r;
        if (info->n_entries == 0) {
                r = strv_push(&l, "no boot entries: GRUB drops to its command line");
                if (r < 0)
                        return r;
        } else {
                r = menulst_entry_problems(info, fs, info->default_entry, &l);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < info->n_fallback; i++) {
                        r = menulst_entry_problems(info, fs, info->fallback[i], &l);
                        if (r < 0)
                                return r;
                }
        }
        if (info->fallback_hang && (r = strv_push(&l, "GRUB 0.97 hangs pruning the fallback list")) < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

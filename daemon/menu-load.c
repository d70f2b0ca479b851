/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <string.h>

#include "common/chase.h"
#include "common/fileio.h"
#include "common/macro.h"
#include "daemon/log.h"
#include "daemon/menu-load.h"

LoadedMenu *loaded_menu_free(LoadedMenu *lm)
{
        if (!lm)
                return NULL;
        free(lm->path);
        free(lm->default_path);
        free(lm->data);
        free(lm->default_data);
        menulst_free(lm->menu);
        menu_info_free(lm->info);
        free(lm);
        return NULL;
}

static int detect_separate_boot(const Context *ctx)
{
        if (ctx->config.separate_boot >= 0)
                return ctx->config.separate_boot;
        _cleanup_free_ char *boot = path_join_root(ctx->root, "/boot");
        struct stat a, b;
        if (!boot || stat(root_is_host(ctx->root) ? "/" : ctx->root, &a) < 0 || stat(boot, &b) < 0)
                return false;
        return a.st_dev != b.st_dev;
}

int menu_evaluate(const Context *ctx, const LoadedMenu *lm, const MenuLst *m, const char *default_data,
                  size_t default_size, MenuInfo **ret)
{
        MenuEvalOptions o = {
                .dialect = ctx->config.dialect,
                .default_file = default_data,
                .default_file_size = default_size,
        };
        _cleanup_(menu_info_freep) MenuInfo *info = NULL;
        int r = menulst_evaluate(m, &o, &info);
        if (r < 0)
                return r;
        r = menulst_check_files(info, &lm->fs);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(info);
        return 0;
}

int menu_load(const Context *ctx, LoadedMenu **ret)
{
        _cleanup_(loaded_menu_freep) LoadedMenu *lm = calloc(1, sizeof *lm);
        if (!lm)
                return log_oom();
        const char *mp = ctx->config.menu_path;

        int r = chase_in_root(ctx->root, mp, 0, &lm->path);
        if (r < 0) {
                _cleanup_free_ char *shown = path_join_root(ctx->root, mp);
                return log_error_errno(r, "Cannot read %s: %m", shown ? shown : mp);
        }
        _cleanup_close_ int fd = open(lm->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return log_error_errno(errno, "Cannot read %s: %m", lm->path);
        if (fstat(fd, &lm->st) < 0)
                return log_error_errno(errno, "Cannot stat %s: %m", lm->path);
        r = read_full_fd(fd, MENULST_MAX_SIZE, &lm->data, &lm->size);
        if (r == -EFBIG)
                return log_error_errno(r, "%s is larger than 1 MiB, refusing to treat it as a menu", lm->path);
        if (r == -EINVAL)
                return log_error_errno(r, "%s is not a regular file", lm->path);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m", lm->path);

        r = menulst_parse(lm->data, lm->size, &lm->menu);
        if (r == -EBADMSG)
                return log_error_errno(r, "%s holds binary data, not a GRUB menu; nothing was changed", lm->path);
        if (r < 0)
                return log_error_errno(r, "Cannot parse %s: %m", lm->path);

        /* GRUB looks for 'default' in the directory menu.lst was read from */
        char *slash = strrchr(lm->path, '/');
        if (asprintf(&lm->default_path, "%.*s/default", (int) (slash - lm->path), lm->path) < 0)
                return log_oom();
        r = read_full_file(lm->default_path, 4096, &lm->default_data, &lm->default_size);
        if (r < 0 && r != -ENOENT && r != -EFBIG)
                return log_error_errno(r, "Cannot read %s: %m", lm->default_path);

        lm->fs = (MenuFs){
                .root = ctx->root,
                .separate_boot = detect_separate_boot(ctx),
                .boot_device = ctx->config.boot_device,
        };
        r = menu_evaluate(ctx, lm, lm->menu, lm->default_data, lm->default_size, &lm->info);
        if (r < 0)
                return log_error_errno(r, "Cannot evaluate %s: %m", lm->path);
        *ret = TAKE_PTR(lm);
        return 0;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
        return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int menu_write(const Context *ctx, const LoadedMenu *lm, const MenuLst *m, const char *default_data,
               size_t default_size)
{
        const char *dd = default_data ? default_data : lm->default_data;
        size_t ds = default_data ? default_size : lm->default_size;
        _cleanup_(menu_info_freep) MenuInfo *info = NULL;
        int r = menu_evaluate(ctx, lm, m, dd, ds, &info);
        if (r < 0)
                return log_error_errno(r, "Cannot evaluate the new menu: %m");

        /* the one rule for /boot: GRUB's default must load a kernel that is there */
        _cleanup_strv_free_ char **problems = NULL;
        if (info->n_entries == 0)
                return log_error_errno(EINVAL, "Refusing to write %s: the result has no boot entries", lm->path);
        r = menulst_entry_problems(info, &lm->fs, info->default_entry, &problems);
        if (r < 0)
                return log_oom();
        if (problems && problems[0])
                return log_error_errno(EINVAL, "Refusing to write %s: the default would not boot: %s", lm->path,
                                       problems[0]);

        WriteFlags flags = WRITE_KEEP_PREV | WRITE_MODE_FROM_OLD |
                           (ctx->config.freeze_boot ? WRITE_FREEZE : WRITE_SYNCFS);
        struct stat now;
        if (stat(lm->path, &now) < 0 || !same_file(&now, &lm->st))
                return log_error_errno(EBUSY, "%s changed while kernelkeeper was working on it; nothing written",
                                       lm->path);

        if (default_data) {
                r = write_file_atomic(lm->default_path, default_data, default_size, 0644, flags);
                if (r < 0)
                        return log_error_errno(r, "Cannot write %s: %m; nothing else was changed", lm->default_path);
        }
        if (m) {
                _cleanup_free_ char *data = NULL;
                size_t size;
                r = menulst_serialize(m, &data, &size);
                if (r < 0)
                        return log_oom();
                if (size != lm->size || memcmp(data, lm->data, size) != 0) {
                        r = write_file_atomic(lm->path, data, size, 0644, flags);
                        if (r < 0)
                                return log_error_errno(r, "Cannot write %s: %m; the old file is untouched", lm->path);
                }
        }
        return 0;
}

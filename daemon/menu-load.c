/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <string.h>

#include "common/chase.h"
#include "common/fileio.h"
#include "common/macro.h"
#include "daemon/log.h"
#include "daemon/menu-load.h"
#include "daemon/menu-txn.h"

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
        _cleanup_free_ char *boot = NULL;
        struct stat a, b;
        if (chase_in_root(ctx->root, "/boot", 0, &boot) < 0 ||
            stat(root_is_host(ctx->root) ? "/" : ctx->root, &a) < 0 || stat(boot, &b) < 0)
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

        _cleanup_free_ char *shown = path_join_root(ctx->root, mp);
        if (!shown)
                return log_oom();
        /* O_NONBLOCK inside: a FIFO there is refused instead of hanging every command */
        _cleanup_close_ int fd = open_in_root(ctx->root, mp, 0, O_RDONLY, 0, &lm->path);
        if (fd < 0)
                return log_file_error(fd, "read", shown);
        if (fstat(fd, &lm->st) < 0)
                return log_error_errno(errno, "Cannot stat %s: %m", lm->path);
        int r = read_full_fd(fd, MENULST_MAX_SIZE, &lm->data, &lm->size);
        if (r == -EFBIG)
                return log_error_errno(r, "%s is larger than 1 MiB, refusing to treat it as a menu", lm->path);
        if (r < 0)
                return log_file_error(r, "read", lm->path);

        r = menulst_parse(lm->data, lm->size, &lm->menu);
        if (r == -EBADMSG)
                return log_error_errno(r, "%s holds binary data, not a GRUB menu; nothing was changed", lm->path);
        if (r < 0)
                return log_error_errno(r, "Cannot parse %s: %m", lm->path);

        /* GRUB looks for 'default' in the directory menu.lst was read from; like every path it resolves
         * inside the tree (a link there is followed as GRUB would, but never out of the tree) */
        _cleanup_free_ char *rel_default = NULL;
        const char *rel = path_skip_root(ctx->root, lm->path), *slash = rel ? strrchr(rel, '/') : NULL;
        if (!slash || asprintf(&rel_default, "%.*s/default", (int) (slash - rel), rel) < 0)
                return log_oom();
        r = chase_in_root(ctx->root, rel_default, CHASE_NONEXISTENT, &lm->default_path);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "Cannot resolve %s/default: %m", lm->path);
        if (r == -ENOENT) {
                /* a link into a directory that is not there: read as no file; a write refuses the link */
                if (asprintf(&lm->default_path, "%.*s/default", (int) (strrchr(lm->path, '/') - lm->path),
                             lm->path) < 0)
                        return log_oom();
        } else {
                r = read_full_file_in_root(ctx->root, rel_default, 0, 4096, &lm->default_data,
                                           &lm->default_size);
                if (r < 0 && r != -ENOENT && r != -EFBIG)
                        return log_file_error(r, "read", lm->default_path);
        }

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

int menu_check_default_writable(const LoadedMenu *lm)
{
        struct stat st;
        if (lstat(lm->default_path, &st) >= 0 && !S_ISREG(st.st_mode))
                return log_error_errno(EINVAL, "Cannot write %s: not a regular file; nothing was changed",
                                       lm->default_path);
        return 0;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
        return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Both files change: no order of two renames is safe when entries shift, so stage them (see
 * menu_plan_stages()) and record the steps, so a cut-off write is finished by the next writer. */
static int write_staged(const Context *ctx, const LoadedMenu *lm, const MenuLst *m, const char *default_data,
                        size_t default_size, int intended, WriteFlags flags)
{
        MenuStage st[3];
        int n = menu_plan_stages(ctx->config.dialect, m, lm->default_data, lm->default_size, default_data,
                                 default_size, intended, st);
        if (n == -ENOMEM)
                return log_oom();
        if (n < 0)
                return log_error_errno(n, "Refusing to write %s: a step of the change would not boot entry %d; nothing written",
                                       lm->path, intended);
        MenuTxnStep steps[3];
        for (int i = 0; i < n; i++)
                steps[i] = (MenuTxnStep){ .path = st[i].is_menu ? lm->path : lm->default_path,
                                          .data = st[i].data,
                                          .size = st[i].size };
        int r = menu_txn_run(ctx, lm->data, lm->size, steps, (size_t) n, flags);
        menu_stages_done(st, (size_t) n);
        return r;
}

int menu_write(const Context *ctx, const LoadedMenu *lm, const MenuLst *m, const char *default_data,
               size_t default_size, const MenuInfo *evaluated)
{
        const char *dd = default_data ? default_data : lm->default_data;
        size_t ds = default_data ? default_size : lm->default_size;
        _cleanup_(menu_info_freep) MenuInfo *own = NULL;
        const MenuInfo *info = evaluated;
        int r;
        if (!info) {
                r = menu_evaluate(ctx, lm, m, dd, ds, &own);
                if (r < 0)
                        return log_error_errno(r, "Cannot evaluate the new menu: %m");
                info = own;
        }

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

        WriteFlags flags = boot_write_flags(ctx);
        struct stat now;
        if (stat(lm->path, &now) < 0 || !same_file(&now, &lm->st))
                return log_error_errno(EBUSY, "%s changed while kernelkeeper was working on it; nothing written",
                                       lm->path);

        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        if (m) {
                r = menulst_serialize(m, &data, &size);
                if (r < 0)
                        return log_oom();
        }
        bool menu_changed = m && (size != lm->size || memcmp(data, lm->data, size) != 0);
        bool default_changed = default_data && (!lm->default_data || default_size != lm->default_size ||
                                                memcmp(default_data, lm->default_data, default_size) != 0);
        if (menu_changed && default_changed)
                return write_staged(ctx, lm, m, default_data, default_size, info->default_entry, flags);

        if (default_changed) {
                r = write_file_atomic(lm->default_path, default_data, default_size, 0644, flags);
                if (r < 0)
                        return log_error_errno(r, "Cannot write %s: %m; nothing else was changed", lm->default_path);
        }
        if (menu_changed) {
                r = write_file_atomic(lm->path, data, size, 0644, flags);
                if (r < 0)
                        return log_error_errno(r, "Cannot write %s: %m; the old file is untouched", lm->path);
        }
        return 0;
}

/* Applies the boot order to m. The minimal edit leaves a line alone when GRUB already resolves it
 * as wanted; the explicit one writes default (or the default file) and the managed fallback list
 * whatever they say now, for when the effective values hide what is written (an out-of-range
 * default that consumed the first fallback). */
static int set_boot_order(const Context *ctx, const MenuInfo *info, MenuLst *m, int default_entry,
                          const int *fallback, size_t n_fallback, bool explicit, char **ret_default_file,
                          size_t *ret_default_size)
{
        int r = 0;
        if (explicit || default_entry != info->default_entry) {
                char num[16];
                snprintf(num, sizeof num, "%d", default_entry);
                /* under `default saved` GRUB takes the entry from the default file */
                r = info->default_saved
                            ? menulst_format_default_file(default_entry, ret_default_file, ret_default_size)
                            : menulst_set_global(m, ctx->config.dialect, "default", num);
                if (r < 0)
                        return r;
        }
        if (!fallback)
                return 0;
        bool fb_same = n_fallback == info->n_fallback &&
                       memcmp(fallback, info->fallback, n_fallback * sizeof(int)) == 0;
        if (fb_same && !explicit)
                return 0;
        char list[MENULST_MAX_FALLBACK * 12 + 1] = "";
        size_t k = 0;
        for (size_t i = 0; i < n_fallback && i < MENULST_MAX_FALLBACK; i++)
                k += (size_t) snprintf(list + k, sizeof list - k, "%s%d", i ? " " : "", fallback[i]);
        return menulst_set_global(m, ctx->config.dialect, "fallback", n_fallback ? list : NULL);
}

static bool boot_order_is(const MenuInfo *after, int default_entry, const int *fallback, size_t n_fallback)
{
        return after->default_entry == default_entry &&
               (!fallback || (after->n_fallback == n_fallback &&
                              memcmp(after->fallback, fallback, n_fallback * sizeof(int)) == 0));
}

int menu_plan_boot_order(const Context *ctx, const LoadedMenu *lm, const MenuLst *base, const MenuInfo *base_info,
                         int default_entry, const int *fallback, size_t n_fallback, MenuLst **ret_menu,
                         char **ret_default_file, size_t *ret_default_size, MenuInfo **ret_after)
{
        _cleanup_(menulst_freep) MenuLst *m = NULL;
        _cleanup_free_ char *default_file = NULL;
        _cleanup_(menu_info_freep) MenuInfo *after = NULL;
        size_t default_size = 0;
        int r;

        for (int explicit = 0; explicit <= 1; explicit++) {
                menulst_free(m);
                menu_info_free(after);
                after = NULL;
                free(default_file);
                default_file = NULL;
                m = menulst_copy(base);
                if (!m)
                        return log_oom();
                r = set_boot_order(ctx, base_info, m, default_entry, fallback, n_fallback, explicit, &default_file,
                                   &default_size);
                if (r < 0)
                        return log_error_errno(r, "Cannot edit the menu: %m");
                /* check our own work the way GRUB will read it */
                r = menu_evaluate(ctx, lm, m, default_file ? default_file : lm->default_data,
                                  default_file ? default_size : lm->default_size, &after);
                if (r < 0)
                        return log_error_errno(r, "Cannot evaluate the new menu: %m");
                if (boot_order_is(after, default_entry, fallback, n_fallback))
                        break;
        }
        if (!boot_order_is(after, default_entry, fallback, n_fallback))
                return log_error_errno(EPROTO, "Cannot express this boot order in %s (GRUB would boot entry %d); nothing written",
                                       lm->path, after->default_entry);
        *ret_menu = TAKE_PTR(m);
        *ret_default_file = TAKE_PTR(default_file);
        *ret_default_size = default_size;
        *ret_after = TAKE_PTR(after);
        return 0;
}

int menu_write_boot_order(const Context *ctx, const LoadedMenu *lm, const MenuLst *base, int default_entry,
                          const int *fallback, size_t n_fallback, MenuInfo **ret_after)
{
        _cleanup_(menulst_freep) MenuLst *m = NULL;
        _cleanup_free_ char *default_file = NULL;
        _cleanup_(menu_info_freep) MenuInfo *after = NULL;
        size_t default_size = 0;
        int r = menu_plan_boot_order(ctx, lm, base, lm->info, default_entry, fallback, n_fallback, &m, &default_file,
                                     &default_size, &after);
        if (r < 0)
                return r;
        r = menu_write(ctx, lm, m, default_file, default_size, after);
        if (r < 0)
                return r;
        if (ret_after)
                *ret_after = TAKE_PTR(after);
        return 0;
}

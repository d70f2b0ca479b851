/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/chase.h"
#include "common/macro.h"
#include "daemon/guardian-storm.h"
#include "daemon/log.h"
#include "daemon/menu-txn.h"
#include "daemon/state.h"

#define TXN_FILE "menu-txn.json"
#define LOCK_WAIT_TRIES 100 /* x 100 ms */

WriteFlags boot_write_flags(const Context *ctx)
{
        return WRITE_KEEP_PREV | WRITE_MODE_FROM_OLD | (ctx->config.freeze_boot ? WRITE_FREEZE : WRITE_SYNCFS);
}

/* The directory menu.lst is configured in: it is there whenever there is a menu to protect, and
 * locking it creates nothing (a refused command leaves the tree exactly as it was). */
static int lock_dir(const Context *ctx, char **ret)
{
        _cleanup_free_ char *dir = strdup(ctx->config.menu_path);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (slash == dir)
                slash[1] = 0;
        else if (slash)
                *slash = 0;
        return chase_in_root(ctx->root, dir, 0, ret);
}

int writers_lock(const Context *ctx, bool wait, int *ret_fd)
{
        _cleanup_free_ char *dir = NULL;
        int r = lock_dir(ctx, &dir);
        if (r == -ENOENT || r == -ENOTDIR) {
                /* no menu directory: nothing under /boot to protect, the command fails or only
                 * touches the state */
                *ret_fd = -EBADF;
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "Cannot resolve the directory of %s: %m", ctx->config.menu_path);
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return log_error_errno(errno, "Cannot open %s: %m; nothing was changed", dir);
        for (unsigned i = 0;; i++) {
                if (flock(fd, LOCK_EX | LOCK_NB) == 0)
                        break;
                if (errno == EINTR)
                        continue;
                if (errno != EWOULDBLOCK)
                        return log_error_errno(errno, "Cannot lock %s: %m; nothing was changed", dir);
                if (!wait)
                        return -EBUSY;
                if (i == LOCK_WAIT_TRIES)
                        return log_error_errno(EBUSY, "Another kernelkeeper process has been writing for 10 s (it holds the lock on %s); nothing was changed, try again",
                                               dir);
                (void) usleep(100 * 1000);
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int txn_path(const Context *ctx, bool create, char **ret)
{
        _cleanup_free_ char *dir = NULL;
        int r;
        if (create)
                r = state_dir_create(ctx, &dir);
        else {
                /* state_path() resolves without creating anything */
                r = state_path(ctx, &dir);
                if (r >= 0)
                        *strrchr(dir, '/') = 0;
        }
        if (r < 0)
                return r;
        return asprintf(ret, "%s/" TXN_FILE, dir) < 0 ? -ENOMEM : 0;
}

bool menu_txn_pending(const Context *ctx)
{
        _cleanup_free_ char *path = NULL;
        return txn_path(ctx, false, &path) >= 0 && access(path, F_OK) >= 0;
}

/* the path inside the root, so a record stays valid for the tree it was made in */
static char *to_inroot(const Context *ctx, const char *host)
{
        const char *p = path_skip_root(ctx->root, host);
        return p ? strdup(p) : NULL;
}

static char *hex_encode(const char *data, size_t size)
{
        static const char digits[] = "0123456789abcdef";
        char *s = malloc(size * 2 + 1);
        if (!s)
                return NULL;
        for (size_t i = 0; i < size; i++) {
                s[2 * i] = digits[(unsigned char) data[i] >> 4];
                s[2 * i + 1] = digits[(unsigned char) data[i] & 15];
        }
        s[size * 2] = 0;
        return s;
}

static int hex_value(char c)
{
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int hex_decode(const char *s, char **ret, size_t *ret_size)
{
        size_t l = strlen(s);
        if (l % 2)
                return -EBADMSG;
        _cleanup_free_ char *d = malloc(l / 2 + 1);
        if (!d)
                return -ENOMEM;
        for (size_t i = 0; i < l / 2; i++) {
                int a = hex_value(s[2 * i]), b = hex_value(s[2 * i + 1]);
                if (a < 0 || b < 0)
                        return -EBADMSG;
                d[i] = (char) (a << 4 | b);
        }
        d[l / 2] = 0;
        *ret = TAKE_PTR(d);
        *ret_size = l / 2;
        return 0;
}

static int remove_record(const char *path)
{
        if (unlink(path) < 0 && errno != ENOENT)
                return negative_errno();
        _cleanup_free_ char *dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        *strrchr(dir, '/') = 0;
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) < 0)
                return negative_errno();
        return 0;
}

static bool file_is(const char *path, const char *data, size_t size)
{
        _cleanup_free_ char *cur = NULL;
        size_t n;
        return read_full_file(path, MENULST_MAX_SIZE, &cur, &n) >= 0 && n == size && memcmp(cur, data, n) == 0;
}

int menu_txn_run(const Context *ctx, const char *orig, size_t orig_size, const MenuTxnStep *steps, size_t n_steps,
                 WriteFlags flags)
{
        _cleanup_free_ char *path = NULL;
        int r = txn_path(ctx, true, &path);
        if (r < 0)
                return log_error_errno(r, "Cannot create the state directory %s: %m; nothing was changed",
                                       ctx->config.state_dir);
        _cleanup_json_ json_t *rec = json_object();
        json_t *l = json_array();
        char hash[17];
        snprintf(hash, sizeof hash, "%016" PRIx64, storm_hash(orig, orig_size));
        _cleanup_free_ char *now = now_iso8601();
        if (!rec || !l || json_object_set_new(rec, "steps", l) < 0 ||
            json_object_set_new(rec, "original",
                                json_pack("{s:I, s:s}", "size", (json_int_t) orig_size, "hash", hash)) < 0 ||
            json_object_set_new(rec, "started", json_string(now ? now : "unknown")) < 0)
                return log_oom();
        for (size_t i = 0; i < n_steps; i++) {
                _cleanup_free_ char *p = to_inroot(ctx, steps[i].path), *hex = hex_encode(steps[i].data, steps[i].size);
                if (!p || !hex)
                        return log_oom();
                if (json_array_append_new(l, json_pack("{s:s, s:s}", "path", p, "data", hex)) < 0)
                        return log_oom();
        }
        _cleanup_free_ char *text = json_dumps(rec, JSON_COMPACT);
        if (!text)
                return log_oom();
        /* durable before the first rename under /boot */
        r = write_file_atomic(path, text, strlen(text), 0600, 0);
        if (r < 0)
                return log_error_errno(r, "Cannot write %s: %m; nothing was changed", path);

        for (size_t i = 0; i < n_steps; i++) {
                r = write_file_atomic(steps[i].path, steps[i].data, steps[i].size, 0644, flags);
                if (r < 0 && i == 0) {
                        (void) remove_record(path);
                        return log_error_errno(r, "Cannot write %s: %m; nothing was changed", steps[i].path);
                }
                if (r < 0)
                        return log_error_errno(r, "Cannot write %s: %m; GRUB boots the intended entry and the next kernelkeeper command finishes the change",
                                               steps[i].path);
        }
        r = remove_record(path);
        if (r < 0)
                return log_error_errno(r, "Cannot remove %s: %m", path);
        return 0;
}

int menu_txn_recover(const Context *ctx)
{
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r = txn_path(ctx, false, &path);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return log_error_errno(r, "Cannot resolve the state directory %s: %m", ctx->config.state_dir);
        _cleanup_free_ char *rel = NULL;
        if (asprintf(&rel, "%s/" TXN_FILE, ctx->config.state_dir) < 0)
                return log_oom();
        size_t size;
        /* kernelkeeper's own file: a link there is refused, never followed */
        r = read_full_file_in_root(ctx->root, rel, CHASE_NOFOLLOW_LAST, 8 * MENULST_MAX_SIZE, &text, &size);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m", path);

        _cleanup_json_ json_t *rec = json_loadb(text, size, 0, NULL);
        json_t *steps = json_object_get(rec, "steps");
        json_t *orig = json_object_get(rec, "original");
        size_t n = json_array_size(steps);
        char *host[MENU_TXN_MAX_STEPS] = {}, *data[MENU_TXN_MAX_STEPS] = {};
        size_t sizes[MENU_TXN_MAX_STEPS] = {};
        bool bad = !json_is_array(steps) || n == 0 || n > MENU_TXN_MAX_STEPS || !json_is_object(orig);
        for (size_t i = 0; !bad && i < n; i++) {
                const char *p = json_string_value(json_object_get(json_array_get(steps, i), "path"));
                const char *d = json_string_value(json_object_get(json_array_get(steps, i), "data"));
                bad = !p || !d || p[0] != '/' || chase_in_root(ctx->root, p, CHASE_NONEXISTENT, &host[i]) < 0 ||
                      hex_decode(d, &data[i], &sizes[i]) < 0;
        }

        if (bad)
                log_warning("%s is not a valid record of an interrupted write; removing it", path);
        else {
                /* how far did it get? the first file tells: the last of its stages it holds */
                _cleanup_free_ char *cur = NULL;
                size_t cur_size = 0;
                r = read_full_file(host[0], MENULST_MAX_SIZE, &cur, &cur_size);
                if (r < 0 && r != -ENOENT) {
                        log_error_errno(r, "Cannot read %s: %m", host[0]);
                        goto out;
                }
                ssize_t done = -1;
                for (size_t i = 0; cur && i < n; i++)
                        if (streq(host[i], host[0]) && sizes[i] == cur_size && memcmp(data[i], cur, cur_size) == 0)
                                done = (ssize_t) i;
                char hash[17];
                snprintf(hash, sizeof hash, "%016" PRIx64, cur ? storm_hash(cur, cur_size) : 0);
                if (done < 0 && cur &&
                    json_integer_value(json_object_get(orig, "size")) == (json_int_t) cur_size &&
                    streq(json_string_value(json_object_get(orig, "hash")) ?: "", hash))
                        log_warning("An interrupted write had not changed %s yet; dropping it", host[0]);
                else if (done < 0)
                        log_warning("%s was rewritten by another tool since an interrupted kernelkeeper write; dropping that write",
                                    host[0]);
                else {
                        for (size_t i = (size_t) done + 1; i < n; i++) {
                                if (file_is(host[i], data[i], sizes[i]))
                                        continue;
                                r = write_file_atomic(host[i], data[i], sizes[i], 0644, boot_write_flags(ctx));
                                if (r < 0) {
                                        log_error_errno(r, "Cannot finish an interrupted write of %s: %m", host[i]);
                                        goto out;
                                }
                        }
                        if ((size_t) done + 1 < n)
                                log_notice("Finished an interrupted write of %s", host[0]);
                }
        }
        r = remove_record(path);
        if (r < 0)
                log_error_errno(r, "Cannot remove %s: %m", path);
out:
        for (size_t i = 0; i < MENU_TXN_MAX_STEPS; i++) {
                free(host[i]);
                free(data[i]);
        }
        return r < 0 ? r : 0;
}

static char *dirname_dup(const char *path)
{
        char *d = strdup(path);
        if (d && strrchr(d, '/'))
                *strrchr(d, '/') = 0;
        return d;
}

int writers_begin(const Context *ctx, bool wait, int *ret_fd)
{
        _cleanup_close_ int fd = -EBADF;
        int r = writers_lock(ctx, wait, &fd);
        if (r < 0)
                return r;

        /* nobody of ours writes now: what a killed writer left behind can go */
        _cleanup_free_ char *menu = NULL, *state = NULL;
        if (chase_in_root(ctx->root, ctx->config.menu_path, 0, &menu) >= 0) {
                _cleanup_free_ char *dir = dirname_dup(menu);
                const char *names[] = { strrchr(menu, '/') + 1, "default", "grubenv", NULL };
                if (!dir)
                        return log_oom();
                r = remove_stale_temps(dir, names);
                if (r < 0)
                        log_warning_errno(r, "Cannot remove stale temporary files in %s: %m", dir);
        }
        if (txn_path(ctx, false, &state) >= 0) {
                *strrchr(state, '/') = 0;
                const char *names[] = { "state.json", TXN_FILE, NULL };
                r = remove_stale_temps(state, names);
                if (r < 0)
                        log_warning_errno(r, "Cannot remove stale temporary files in %s: %m", state);
        }

        r = menu_txn_recover(ctx);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

void menu_stages_done(MenuStage *stages, size_t n)
{
        for (size_t i = 0; i < n; i++)
                stages[i].data = (free(stages[i].data), NULL);
}

static int stage_from_menu(const MenuLst *m, MenuStage *ret)
{
        ret->is_menu = true;
        return menulst_serialize(m, &ret->data, &ret->size);
}

static int stage_from_bytes(const char *d, size_t size, MenuStage *ret)
{
        ret->is_menu = false;
        ret->size = size;
        ret->data = malloc(size + 1);
        if (!ret->data)
                return -ENOMEM;
        memcpy(ret->data, d, size);
        ret->data[size] = 0;
        return 0;
}

static int boots(MenuDialect dialect, const char *menu, size_t menu_size, const char *d, size_t d_size, int intended)
{
        _cleanup_(menulst_freep) MenuLst *m = NULL;
        _cleanup_(menu_info_freep) MenuInfo *info = NULL;
        MenuEvalOptions o = { .dialect = dialect, .default_file = d, .default_file_size = d_size };
        int r = menulst_parse(menu, menu_size, &m);
        if (r >= 0)
                r = menulst_evaluate(m, &o, &info);
        if (r < 0)
                return r;
        return info->default_entry == intended ? 0 : -EPROTO;
}

int menu_plan_stages(MenuDialect dialect, const MenuLst *m1, const char *d0, size_t d0_size, const char *d1,
                     size_t d1_size, int intended, MenuStage ret_stages[3])
{
        MenuStage st[3] = {};
        size_t n = 0;
        _cleanup_(menu_info_freep) MenuInfo *info = NULL;
        MenuEvalOptions o = { .dialect = dialect, .default_file = d1, .default_file_size = d1_size };
        int r = menulst_evaluate(m1, &o, &info);
        if (r < 0)
                return r;
        if (info->default_entry != intended)
                return -EPROTO;

        if (info->default_saved) {
                /* GRUB takes an explicit `default K` over the default file, whatever it holds */
                _cleanup_(menulst_freep) MenuLst *explicit = menulst_copy(m1);
                char num[16];
                snprintf(num, sizeof num, "%d", intended);
                if (!explicit)
                        return -ENOMEM;
                r = menulst_set_global(explicit, dialect, "default", num);
                if (r >= 0)
                        r = stage_from_menu(explicit, &st[n++]);
        } else
                r = stage_from_menu(m1, &st[n++]);
        if (r >= 0)
                r = stage_from_bytes(d1, d1_size, &st[n++]);
        if (r >= 0 && info->default_saved)
                r = stage_from_menu(m1, &st[n++]);

        /* replay the renames and check every pair of files GRUB could find on disk */
        const char *cur_d = d0;
        size_t cur_d_size = d0_size;
        const MenuStage *cur_m = NULL;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                if (st[i].is_menu)
                        cur_m = &st[i];
                else
                        cur_d = st[i].data, cur_d_size = st[i].size;
                r = boots(dialect, cur_m->data, cur_m->size, cur_d, cur_d_size, intended);
        }
        if (r < 0) {
                menu_stages_done(st, n);
                return r;
        }
        memcpy(ret_stages, st, sizeof st);
        return (int) n;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `module swap NAME --from FILE|DIR|TAR`: the new files are copied into the state directory (the
 * bytes checked are the bytes loaded), each passes `module check`, the plan is printed, and
 * swap_execute() runs it through libkmod, putting the originals back on any failure. */
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/chase.h"
#include "common/fileio.h"
#include "common/macro.h"
#include "common/spawn.h"
#include "common/strv.h"
#include "daemon/log.h"
#include "daemon/menu-txn.h"
#include "daemon/module-swap.h"
#include "daemon/proc.h"
#include "daemon/state.h"
#include "install/files.h"
#include "install/tar.h"
#include "common/sha256.h"
#include "metadata/download.h"
#include "modules/module-kmod.h"
#include "modules/module-stage.h"
#include "modules/module-swap.h"

#define SWAP_HISTORY_MAX 50
#define ARCHIVE_MAX (256u * 1024 * 1024)

typedef ModuleCandidate Candidate;

typedef struct Staging {
        const Context *ctx;
        ModuleStage st; /* STATE/modules/staging.XXXXXX */
        char *modules_dir;
        json_t *previous; /* state "modules"."active": earlier swaps' copies */
} Staging;

static void staging_done(Staging *s)
{
        module_stage_done(&s->st);
        free(s->modules_dir);
}

static int log_source_error(int r, const Staging *s, const char *from)
{
        if (r == -ENOTUNIQ)
                return log_error_errno(r, "%s holds two files for module %s: nothing changed", from, s->st.duplicate);
        if (r == -EFBIG)
                return log_error_errno(r, "%s is too large for a module or module archive: nothing changed", from);
        if (r == -EBADMSG)
                return log_error_errno(r, "%s is a damaged archive (gzip or tar): nothing changed", from);
        return log_error_errno(r, "Cannot read %s: %m", from);
}

static bool tar_module_member(const char *name, TarType type, void *userdata)
{
        const char *base = strrchr(name, '/');
        return type == TAR_FILE && module_file_name(base ? base + 1 : name);
}

/* An archive's module files (*.ko, *.ko.xz, *.ko.zst regular members; the rest skipped, never
 * followed) extracted by the one safe tar reader below the staging directory, then staged. */
static int stage_tar(Staging *s, const char *from, const void *data, size_t size, Compression comp)
{
        _cleanup_free_ char *dir = NULL, *err = NULL;
        if (asprintf(&dir, "%s/archive", s->st.dir) < 0)
                return log_oom();
        if (mkdir(dir, 0700) < 0)
                return log_error_errno(errno, "Cannot create %s: %m", dir);
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "Cannot open %s: %m", dir);
        _cleanup_(stream_freep) Stream *st = NULL;
        int r = stream_open_mem(data, size, comp, ARCHIVE_MAX, &st);
        if (r < 0)
                return log_source_error(r, s, from);
        const TarLimits limits = { .max_total = ARCHIVE_MAX, .max_members = 100000 };
        r = tar_extract(st, fd, tar_module_member, NULL, &limits, NULL, &err);
        if (r == -EBADMSG || r == -EFBIG)
                return log_source_error(r, s, from);
        if (r < 0)
                return log_error_errno(r, "%s is refused: %s; nothing changed", from, err ? err : strerror(-r));
        r = module_stage_add_dir(&s->st, dir);
        (void) rm_rf_at(AT_FDCWD, dir);
        return r < 0 ? log_source_error(r, s, from) : 0;
}

/* Copies the new module files into the staging directory. The file or archive is hashed when
 * --sha256 is given. */
static int stage_source(Staging *s, const ModuleSwapRequest *req)
{
        struct stat st;
        if (stat(req->from, &st) < 0)
                return log_error_errno(errno, "Cannot read %s: %m", req->from);
        if (S_ISDIR(st.st_mode)) {
                if (req->sha256) {
                        log_error("--sha256 needs a file or an archive, not the directory %s", req->from);
                        return -EINVAL;
                }
                int r = module_stage_add_dir(&s->st, req->from);
                return r < 0 ? log_source_error(r, s, req->from) : 0;
        }
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r = read_full_file(req->from, ARCHIVE_MAX, &data, &size);
        if (r < 0)
                return r == -EINVAL ? log_error_errno(r, "%s is not a regular file or directory", req->from)
                                    : log_source_error(r, s, req->from);
        if (req->sha256) {
                char hex[SHA256_HEX_SIZE];
                if ((r = sha256_hex(data, size, hex)) < 0)
                        return log_error_errno(r, "Cannot hash %s: %m", req->from);
                if (strcasecmp(hex, req->sha256) != 0)
                        return log_error_errno(EBADMSG, "%s has sha256 %s, not %s: nothing changed", req->from, hex,
                                               req->sha256);
        }
        /* a tar archive (plain, gzip, xz or zstd) or one module file (.ko, .ko.xz, .ko.zst) */
        Compression comp = compression_detect(data, size);
        bool tar = tar_magic(data, size);
        if (comp != COMPRESSION_NONE) {
                _cleanup_(stream_freep) Stream *peek = NULL;
                uint8_t block[512];
                tar = stream_open_mem(data, size, comp, ARCHIVE_MAX, &peek) >= 0 &&
                      stream_read_full(peek, block, sizeof block) >= 0 && tar_magic(block, sizeof block);
        }
        if (comp == COMPRESSION_GZIP && !tar)
                return log_error_errno(EBADMSG, "%s is gzip data but not a tar archive of modules", req->from);
        if (tar)
                return stage_tar(s, req->from, data, size, comp);
        /* one module file: named after the module it replaces unless its own name says which */
        const char *base = strrchr(req->from, '/');
        base = base ? base + 1 : req->from;
        _cleanup_free_ char *as = NULL;
        if (!module_file_name(base) && asprintf(&as, "%s.ko", req->name) < 0)
                return log_oom();
        r = module_stage_add(&s->st, as ? as : base, data, size);
        return r < 0 ? log_source_error(r, s, req->from) : 0;
}

static const char *replacement_of(const char *name, void *userdata)
{
        const Candidate *c = module_stage_find(&((Staging *) userdata)->st, name);
        return c ? c->path : NULL;
}

static const char *previous_of(const char *name, void *userdata)
{
        Staging *s = userdata;
        json_t *rec = json_object_get(s->previous, name);
        const char *file = json_string_value(json_object_get(rec, "file"));
        static char *host; /* the one answer in flight */
        free(host);
        host = NULL;
        if (!file || chase_in_root(s->ctx->root, file, 0, &host) < 0)
                return NULL;
        return host;
}

static Candidate *candidate_of(Staging *s, const char *path)
{
        return module_stage_find_path(&s->st, path);
}

/* ---- running tools (depmod, lsinitramfs, update-initramfs) ---- */

/* stdin from /dev/null; stdout captured or dropped */
static int run_tool(char *const argv[], char **ret_output)
{
        SpawnOptions o = { .stdin_null = true, .stdout_to = ret_output ? SPAWN_STDOUT_CAPTURE : SPAWN_STDOUT_NULL };
        return spawn_run(argv, &o, ret_output);
}

static int run_depmod(const Context *ctx, const char *release)
{
        char *argv_host[] = { "depmod", "-a", (char *) release, NULL };
        char *argv_root[] = { "depmod", "-b", (char *) ctx->root, (char *) release, NULL };
        return run_tool(root_is_host(ctx->root) ? argv_host : argv_root, NULL);
}

/* Whether the release's initramfs carries the module (a file named like its stock one). */
static int initramfs_holds(const Context *ctx, const char *release, const char *stock_base)
{
        _cleanup_free_ char *rel = NULL, *host = NULL, *out = NULL;
        if (asprintf(&rel, "/boot/initrd.img-%s", release) < 0)
                return -ENOMEM;
        if (chase_in_root(ctx->root, rel, 0, &host) < 0)
                return 0; /* no initramfs */
        char *argv[] = { "lsinitramfs", host, NULL };
        int r = run_tool(argv, &out);
        if (r < 0)
                return r;
        _cleanup_free_ char *stem = strdup(stock_base);
        if (!stem)
                return -ENOMEM;
        char *dot = strstr(stem, ".ko");
        if (dot)
                dot[3] = 0; /* "dm-mod.ko": the initramfs may compress it differently */
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
                const char *b = strrchr(line, '/');
                b = b ? b + 1 : line;
                if (strneq(b, stem, strlen(stem)) && (b[strlen(stem)] == 0 || b[strlen(stem)] == '.'))
                        return 1;
        }
        return 0;
}

/* When the release's initramfs carries the module (a file named like stock_base): update-initramfs
 * -u -k REL on the host root; under --root a warning says what to run in that system. 1 when it
 * carries it, 0 when not (or it cannot be listed: a warning), negative errno when update-initramfs
 * failed (the caller says what that means). */
static int refresh_initramfs(const Context *ctx, const char *release, const char *name, const char *stock_base)
{
        int r = initramfs_holds(ctx, release, stock_base);
        if (r < 0)
                log_warning("Cannot list the initramfs of %s (%s): not refreshed", release, strerror(-r));
        if (r <= 0)
                return 0;
        if (!root_is_host(ctx->root)) {
                log_warning("The initramfs of %s under %s carries %s: run update-initramfs -u -k %s in that system",
                            release, ctx->root, name, release);
                return 1;
        }
        char *argv[] = { "update-initramfs", "-u", "-k", (char *) release, NULL };
        r = run_tool(argv, NULL);
        return r < 0 ? r : 1;
}

/* Installs the replacement into ROOT/lib/modules/REL/updates/ (which modprobe prefers), runs depmod
 * and refreshes the initramfs when it carries the module. Fills rec's "persisted". */
static int persist_module(const Context *ctx, const SwapPlan *p, const SwapModule *m, const Candidate *c,
                          json_t *rec)
{
        _cleanup_free_ char *dir_rel = NULL, *dir = NULL, *dest = NULL, *data = NULL;
        if (asprintf(&dir_rel, "/lib/modules/%s/updates", p->release) < 0)
                return log_oom();
        int r = mkdir_in_root(ctx->root, dir_rel, 0755, &dir);
        if (r < 0)
                return log_error_errno(r, "Cannot create %s: %m", dir_rel);
        if (asprintf(&dest, "%s/%s", dir, c->basename) < 0)
                return log_oom();
        size_t size;
        r = read_full_file(c->path, MODULE_FILE_MAX, &data, &size);
        if (r >= 0)
                r = write_file_atomic(dest, data, size, 0644, 0);
        if (r < 0)
                return log_error_errno(r, "Cannot install %s into %s: %m", c->basename, dir_rel);
        r = run_depmod(ctx, p->release);
        if (r < 0)
                return log_error_errno(r, "depmod for %s failed (%s): %s/%s is installed but not yet in modules.dep",
                                       p->release, r == -EPROTO ? "non-zero exit" : strerror(-r), dir_rel,
                                       c->basename);
        const char *stock = m->original_shown ? strrchr(m->original_shown, '/') : NULL;
        r = refresh_initramfs(ctx, p->release, m->name, stock ? stock + 1 : c->basename);
        if (r < 0)
                return log_error_errno(r, "update-initramfs -u -k %s failed: the next boot may load the old %s from the "
                                          "initramfs",
                                       p->release, m->name);
        bool initramfs = r > 0;
        _cleanup_free_ char *file = NULL;
        if (asprintf(&file, "%s/%s", dir_rel, c->basename) < 0)
                return log_oom();
        json_object_set_new(rec, "persisted", json_pack("{s:s, s:s, s:b}", "file", file, "release", p->release,
                                                        "initramfs", initramfs));
        return 0;
}

/* ---- the swap ---- */

static void print_plan(const SwapPlan *p, Staging *s, FILE *f)
{
        fprintf(f, "Plan for %s on %s:\n", p->modules[p->n_modules - 1].name, p->release);
        for (size_t i = 0; i < p->n_modules; i++) {
                const SwapModule *m = &p->modules[i];
                if (m->loaded)
                        fprintf(f, "  remove %-14s refcnt %ld%s\n", m->name, m->refcnt,
                                m->n_holders ? " (its users are removed first)" : "");
        }
        for (size_t i = p->n_modules; i > 0; i--) {
                const SwapModule *m = &p->modules[i - 1];
                const Candidate *c = candidate_of(s, m->replacement);
                if (c)
                        fprintf(f, "  insert %-14s new file %s (sha256 %.12s, srcversion %s)\n", m->name, c->basename,
                                c->sha256, c->info && c->info->srcversion ? c->info->srcversion : "none");
                else if (m->original)
                        fprintf(f, "  insert %-14s original %s\n", m->name, m->original_shown);
        }
        for (char **u = p->users; u && *u; u++)
                fprintf(f, "  in use: %s\n", *u);
}

static json_t *plan_json(const SwapPlan *p, Staging *s)
{
        json_t *mods = json_array(), *users = json_array();
        for (size_t i = 0; i < p->n_modules; i++) {
                const SwapModule *m = &p->modules[i];
                const Candidate *c = candidate_of(s, m->replacement);
                json_array_append_new(
                    mods, json_pack("{s:s, s:b, s:I, s:s?, s:s?, s:s?, s:s?}", "name", m->name, "loaded", m->loaded,
                                    "refcnt", (json_int_t) m->refcnt, "srcversion", m->srcversion, "original",
                                    m->original_shown, "replacement", c ? c->basename : NULL, "replacement_sha256",
                                    c ? c->sha256 : NULL));
        }
        for (char **u = p->users; u && *u; u++)
                json_array_append_new(users, json_string(*u));
        return json_pack("{s:s, s:o, s:o}", "release", p->release, "modules", mods, "in_use", users);
}

static json_t *refusal(const ModuleSwapRequest *req, const char *why)
{
        return json_pack("{s:s, s:s, s:s?}", "name", req->name, "outcome", "refused", "error", why);
}

static int record_swap(const Context *ctx, json_t *rec, const char *name, bool active, bool persisted)
{
        _cleanup_json_ json_t *state = NULL;
        int r = state_load(ctx, &state);
        if (r < 0)
                return r;
        json_t *mods = json_object_get(state, "modules");
        if (!mods) {
                mods = json_object();
                json_object_set_new(state, "modules", mods);
        }
        json_t *swaps = json_object_get(mods, "swaps"), *act = json_object_get(mods, "active"),
               *pers = json_object_get(mods, "persisted");
        if (!swaps)
                json_object_set_new(mods, "swaps", swaps = json_array());
        if (!act)
                json_object_set_new(mods, "active", act = json_object());
        if (!pers)
                json_object_set_new(mods, "persisted", pers = json_object());
        if (!mods || !swaps || !act || !pers)
                return log_oom();
        json_array_append(swaps, rec);
        json_object_del(mods, "in_flight");
        while (json_array_size(swaps) > SWAP_HISTORY_MAX)
                json_array_remove(swaps, 0);
        if (active)
                json_object_set(act, name, rec);
        if (persisted)
                json_object_set(pers, name, rec);
        return state_save(ctx, state);
}

static int keep_copy(const Context *ctx, Staging *s, Candidate *c, char **ret_inside)
{
        _cleanup_free_ char *dest = NULL;
        if (asprintf(&dest, "%s/%s-%.12s-%s", s->modules_dir, c->name, c->sha256, c->basename) < 0)
                return -ENOMEM;
        if (rename(c->path, dest) < 0)
                return -errno;
        const char *inside = path_skip_root(ctx->root, dest);
        if (!(*ret_inside = strdup(inside ? inside : dest)))
                return -ENOMEM;
        free(c->path);
        c->path = TAKE_PTR(dest);
        return 0;
}

static void swap_event(const SwapPlan *p, const SwapResult *res, const char *shown_from, const char *summary)
{
        _cleanup_free_ char *f_name = NULL, *f_outcome = NULL, *f_from = NULL, *f_rel = NULL;
        const char *fields[5] = {};
        size_t n = 0;
        if (asprintf(&f_name, "KK_MODULE=%s", p->modules[p->n_modules - 1].name) >= 0)
                fields[n++] = f_name;
        if (asprintf(&f_outcome, "KK_MODULE_OUTCOME=%s", swap_outcome_to_string(res->outcome)) >= 0)
                fields[n++] = f_outcome;
        if (asprintf(&f_from, "KK_MODULE_FROM=%s", shown_from) >= 0)
                fields[n++] = f_from;
        if (asprintf(&f_rel, "KK_KERNEL_RELEASE=%s", p->release) >= 0)
                fields[n++] = f_rel;
        log_event(res->outcome == SWAP_DONE ? LOG_NOTICE : LOG_ERR,
                  res->outcome == SWAP_DONE ? KK_MESSAGE_MODULE_SWAPPED : KK_MESSAGE_MODULE_SWAP_FAILED, fields, "%s",
                  summary);
}

/* ---- a swap cut off between its steps (killed, power cut): recorded before the first step ---- */

static int in_flight_set(const Context *ctx, const SwapPlan *p)
{
        _cleanup_json_ json_t *state = NULL;
        _cleanup_free_ char *boot_id = NULL, *now = now_iso8601();
        int r = state_load(ctx, &state);
        if (r < 0)
                return r;
        (void) proc_read_line(ctx, "/proc/sys/kernel/random/boot_id", &boot_id);
        json_t *mods = json_object_get(state, "modules"), *list = json_array(), *before = json_array();
        if (!mods)
                json_object_set_new(state, "modules", mods = json_object());
        if (!mods || !list || !before)
                return json_decref(list), json_decref(before), log_oom();
        for (size_t i = 0; i < p->n_modules; i++) {
                const SwapModule *m = &p->modules[i];
                const char *inside = m->original ? path_skip_root(ctx->root, m->original) : NULL;
                json_array_append_new(list, json_pack("{s:s, s:b, s:s?, s:s?}", "name", m->name, "loaded", m->loaded,
                                                      "srcversion", m->srcversion, "original", inside));
        }
        for (char **b = p->loaded_before; b && *b; b++)
                json_array_append_new(before, json_string(*b));
        json_object_set_new(mods, "in_flight",
                            json_pack("{s:s, s:s, s:s?, s:s, s:o, s:o}", "name", p->modules[p->n_modules - 1].name,
                                      "release", p->release, "boot_id", boot_id, "at", now ? now : "unknown",
                                      "modules", list, "loaded_before", before));
        return state_save(ctx, state);
}

static SwapPlan *plan_from_record(const Context *ctx, json_t *rec)
{
        json_t *mods = json_object_get(rec, "modules"), *m;
        _cleanup_(swap_plan_freep) SwapPlan *p = calloc(1, sizeof(SwapPlan));
        if (!p || !json_is_array(mods) || json_array_size(mods) == 0 ||
            !(p->modules = calloc(json_array_size(mods), sizeof(SwapModule))) ||
            !(p->release = strdup(json_string_value(json_object_get(rec, "release")) ?: "")))
                return NULL;
        size_t i;
        json_array_foreach(mods, i, m) {
                SwapModule *sm = &p->modules[p->n_modules++];
                const char *name = json_string_value(json_object_get(m, "name")),
                           *sv = json_string_value(json_object_get(m, "srcversion")),
                           *orig = json_string_value(json_object_get(m, "original"));
                if (!name || !(sm->name = strdup(name)) || (sv && !(sm->srcversion = strdup(sv))))
                        return NULL;
                sm->loaded = json_is_true(json_object_get(m, "loaded"));
                if (orig && (!(sm->original_shown = strdup(orig)) || chase_in_root(ctx->root, orig, 0, &sm->original) < 0))
                        sm->original = NULL;
                if (sm->loaded && !sm->original)
                        return NULL; /* nothing to put back from */
        }
        json_t *b;
        size_t nb = 0;
        json_array_foreach(json_object_get(rec, "loaded_before"), i, b) if (json_is_string(b) &&
                                                                            strv_pushf_n(&p->loaded_before, &nb, "%s",
                                                                                         json_string_value(b)) < 0) return NULL;
        return TAKE_PTR(p);
}

/* A swap of this boot that was cut off: put the originals back (act) or say so. One of an earlier
 * boot is over: the kernel loaded its modules afresh. */
static int recover_cut_off(const Context *ctx, bool act)
{
        _cleanup_json_ json_t *state = NULL;
        _cleanup_free_ char *boot_id = NULL, *diff = NULL;
        int r = state_load(ctx, &state);
        if (r < 0)
                return r;
        json_t *mods = json_object_get(state, "modules"), *rec = json_object_get(mods, "in_flight");
        if (!rec)
                return 0;
        const char *name = json_string_value(json_object_get(rec, "name")) ?: "?",
                   *was = json_string_value(json_object_get(rec, "boot_id"));
        (void) proc_read_line(ctx, "/proc/sys/kernel/random/boot_id", &boot_id);
        _cleanup_(swap_plan_freep) SwapPlan *p = NULL;
        bool same_boot = was && boot_id && streq(was, boot_id);
        if (same_boot && !(p = plan_from_record(ctx, rec)))
                return log_error_errno(EBADMSG, "A swap of %s was cut off and its record cannot be used: load its "
                                                "modules with modprobe",
                                       name);
        if (same_boot && (r = swap_verify(ctx->root, p, NULL, SWAP_RESTORED, &diff)) < 0)
                return log_error_errno(r, "Cannot read the loaded modules: %m");
        if (same_boot && r > 0 && !act) {
                log_warning("A swap of %s was cut off (%s); the next 'module swap' puts the original modules back",
                            name, diff);
                return 0;
        }
        if (!act)
                return 0;
        json_t *done = json_deep_copy(rec);
        if (same_boot && r > 0) {
                ModuleOps ops;
                SwapResult res = {};
                if ((r = module_kmod_ops(&ops)) < 0)
                        return json_decref(done), log_oom();
                r = swap_recover(ctx->root, p, &ops, &res);
                module_kmod_ops_done(&ops);
                if (r < 0)
                        return json_decref(done), log_oom();
                _cleanup_free_ char *diff2 = NULL;
                int v = swap_verify(ctx->root, p, NULL, SWAP_RESTORED, &diff2);
                bool ok = res.outcome == SWAP_RESTORED && v == 0;
                _cleanup_free_ char *msg = NULL;
                if (asprintf(&msg, "A swap of %s was cut off (%s); %s", name, diff,
                             ok ? "the original modules are back, the loaded set is as it was"
                                : "PUTTING THE ORIGINAL MODULES BACK FAILED, the loaded set differs") < 0)
                        msg = NULL;
                const char *fields[] = { NULL };
                log_event(ok ? LOG_NOTICE : LOG_ERR, KK_MESSAGE_MODULE_SWAP_FAILED, fields, "%s", msg ? msg : name);
                json_object_set_new(done, "outcome", json_string(ok ? "recovered" : "restore-failed"));
                json_object_set_new(done, "error", json_string(msg ? msg : "cut off"));
                swap_result_done(&res);
        } else {
                log_notice("A swap of %s was cut off%s; nothing of it is loaded now", name,
                           same_boot ? " before it changed anything" : " in an earlier boot");
                json_object_set_new(done, "outcome", json_string("cut-off"));
        }
        json_t *swaps = json_object_get(mods, "swaps");
        if (!swaps)
                json_object_set_new(mods, "swaps", swaps = json_array());
        json_array_append_new(swaps, done);
        json_object_del(mods, "in_flight");
        return state_save(ctx, state);
}

int module_swap_run(const Context *ctx, const ModuleSwapRequest *req, bool quiet, json_t **ret_record)
{
        _cleanup_free_ char *name = module_name_normalize(req->name), *release = NULL, *stale = NULL;
        if (!name)
                return log_oom();
        if (!module_name_valid(name)) {
                log_error("'%s' is not a module name", req->name);
                return EXIT_USAGE;
        }
        if (req->sha256 && !sha256_hex_valid(req->sha256)) {
                log_error("--sha256 takes 64 hex digits");
                return EXIT_USAGE;
        }
        _cleanup_close_ int lock_fd = -EBADF;
        int r = writers_begin(ctx, true, &lock_fd);
        if (r < 0)
                return r;
        r = recover_cut_off(ctx, !req->dry_run);
        if (r < 0)
                return r;
        r = module_running_release(ctx->root, &release);
        if (r < 0)
                return log_error_errno(r, "Cannot read the running kernel's release (/proc/sys/kernel/osrelease): %m");
        _cleanup_(module_target_freep) ModuleTarget *t = NULL;
        r = module_target_load(ctx->root, release, name, &t);
        if (r < 0)
                return log_error_errno(r, "Cannot read the modules of the running kernel %s: %m", release);
        r = module_certs_load(ctx, req->cert, release, t);
        if (r < 0)
                return r;

        _cleanup_json_ json_t *state = NULL;
        r = state_load(ctx, &state);
        if (r < 0)
                return r;
        _cleanup_(staging_done) Staging s = { .ctx = ctx };
        s.previous = json_object_get(json_object_get(state, "modules"), "active");
        _cleanup_free_ char *rel = NULL;
        if (asprintf(&rel, "%s/modules", ctx->config.state_dir) < 0)
                return log_oom();
        r = state_dir_create(ctx, &s.modules_dir);
        if (r >= 0) {
                free(s.modules_dir);
                s.modules_dir = NULL;
                r = mkdir_in_root(ctx->root, rel, 0700, &s.modules_dir);
        }
        if (r < 0)
                return log_error_errno(r, "Cannot create %s: %m", rel);
        if (asprintf(&s.st.dir, "%s/staging.XXXXXX", s.modules_dir) < 0)
                return log_oom();
        if (!mkdtemp(s.st.dir)) {
                r = -errno;
                s.st.dir = (free(s.st.dir), NULL);
                return log_error_errno(r, "Cannot create a staging directory in %s: %m", rel);
        }
        r = stage_source(&s, req);
        if (r < 0) {
                if (ret_record)
                        *ret_record = refusal(req, log_last_error());
                return r;
        }
        if (!replacement_of(name, &s)) {
                log_error("%s holds no file for module %s (%s.ko, .ko.xz or .ko.zst): nothing changed", req->from, name,
                          name);
                if (ret_record)
                        *ret_record = refusal(req, log_last_error());
                return EXIT_PROBLEM;
        }

        _cleanup_(swap_plan_freep) SwapPlan *p = NULL;
        SwapSources src = { .replacement = replacement_of, .previous = previous_of, .userdata = &s };
        r = swap_plan_make(ctx->root, t, name, &src, &p, &stale);
        if (r < 0) {
                if (r == -EPERM)
                        log_error("%s is built into the kernel %s: it cannot be swapped", name, release);
                else if (r == -ESTALE)
                        log_error("The loaded %s is not the installed file of %s nor a copy kernelkeeper loaded: it could "
                                  "not be put back as it is, so nothing is swapped",
                                  stale, release);
                else if (r == -EUCLEAN)
                        log_error("The loaded %s has no installed file under /lib/modules/%s: it could not be put back, "
                                  "so nothing is swapped",
                                  stale, release);
                else
                        log_error_errno(r, "Cannot plan the swap of %s: %m", name);
                if (ret_record)
                        *ret_record = refusal(req, log_last_error());
                return EXIT_PROBLEM;
        }

        /* every new file passes module check before anything is unloaded */
        char **new_srcversions = calloc(p->n_modules, sizeof(char *));
        if (!new_srcversions)
                return log_oom();
        bool safe = true;
        for (size_t i = 0; i < p->n_modules && safe; i++) {
                Candidate *c = candidate_of(&s, p->modules[i].replacement);
                if (!c)
                        continue;
                r = module_info_load(c->path, &c->info);
                if (r < 0) {
                        log_module_error(r, c->basename);
                        safe = false;
                        break;
                }
                new_srcversions[i] = c->info->srcversion;
                _cleanup_(module_report_freep) ModuleReport *rep = NULL;
                r = module_check(c->info, t, &rep);
                if (r < 0) {
                        log_error_errno(r, "Cannot check %s: %m", c->basename);
                        safe = false;
                } else if (!rep->safe) {
                        if (!quiet)
                                module_findings_print(rep);
                        log_error("%s (for %s) is NOT safe to load on %s: nothing changed", c->basename, c->name,
                                  release);
                        safe = false;
                }
        }
        if (!safe) {
                free(new_srcversions);
                if (ret_record)
                        *ret_record = refusal(req, log_last_error());
                return EXIT_PROBLEM;
        }
        if (ctx->json && !quiet && req->dry_run) {
                _cleanup_json_ json_t *j = plan_json(p, &s);
                (void) cli_print_json(j);
        }
        else if (!quiet)
                print_plan(p, &s, stdout);
        if (p->users) {
                _cleanup_free_ char *list = NULL;
                for (char **u = p->users; *u; u++) {
                        char *n2 = NULL;
                        if (asprintf(&n2, "%s%s%s", list ? list : "", list ? "; " : "", *u) < 0) {
                                free(new_srcversions);
                                return log_oom();
                        }
                        free(list);
                        list = n2;
                }
                log_error("%s is in use, not swapped (nothing changed): %s", name, list);
                free(new_srcversions);
                if (ret_record)
                        *ret_record = refusal(req, log_last_error());
                return EXIT_PROBLEM;
        }
        if (req->dry_run) {
                free(new_srcversions);
                return EXIT_OK;
        }

        r = in_flight_set(ctx, p);
        if (r < 0) {
                free(new_srcversions);
                return r;
        }
        ModuleOps ops;
        r = module_kmod_ops(&ops);
        if (r < 0) {
                free(new_srcversions);
                return log_oom();
        }
        SwapResult res = {};
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = swap_execute(p, &ops, &res);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double exec_ms = (double) (t1.tv_sec - t0.tv_sec) * 1e3 + (double) (t1.tv_nsec - t0.tv_nsec) / 1e6;
        module_kmod_ops_done(&ops);
        if (r < 0) {
                free(new_srcversions);
                return log_oom();
        }
        _cleanup_free_ char *diff = NULL;
        int v = swap_verify(ctx->root, p, new_srcversions, res.outcome, &diff);
        free(new_srcversions);
        for (char **st = res.steps; st && *st && ctx->verbose; st++)
                log_debug("step: %s", *st);

        const SwapModule *top = &p->modules[p->n_modules - 1];
        Candidate *c = candidate_of(&s, top->replacement);
        _cleanup_free_ char *kept = NULL, *summary = NULL;
        if (res.outcome == SWAP_DONE) {
                for (size_t i = 0; i < p->n_modules; i++) {
                        Candidate *ci = candidate_of(&s, p->modules[i].replacement);
                        _cleanup_free_ char *k = NULL;
                        if (ci && keep_copy(ctx, &s, ci, ci == c ? &kept : &k) < 0)
                                log_warning("Cannot keep a copy of %s in %s", ci->basename, rel);
                }
        }
        _cleanup_json_ json_t *rec = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:o, s:b}", "name", name, "release", release, "at",
            "", "outcome", swap_outcome_to_string(res.outcome), "from", req->from, "sha256", c->sha256, "file", kept,
            "srcversion", c->info ? c->info->srcversion : NULL, "previous_srcversion", top->srcversion, "steps",
            json_array(), "verified", v == 0);
        if (!rec) {
                swap_result_done(&res);
                return log_oom();
        }
        _cleanup_free_ char *now = now_iso8601();
        json_object_set_new(rec, "at", json_string(now ? now : "unknown"));
        for (char **st = res.steps; st && *st; st++)
                json_array_append_new(json_object_get(rec, "steps"), json_string(*st));
        json_t *others = json_array();
        for (size_t i = 0; i + 1 < p->n_modules; i++)
                json_array_append_new(others, json_string(p->modules[i].name));
        json_object_set_new(rec, "dependents", others);
        /* the removes and inserts alone, the modules out of service for this long */
        json_object_set_new(rec, "execute_ms", json_real(exec_ms));

        int ret = EXIT_OK;
        bool done = res.outcome == SWAP_DONE;
        if (res.outcome == SWAP_DONE) {
                if (asprintf(&summary, "Module %s swapped live on %s (srcversion %s -> %s) from %s%s%s", name, release,
                             !top->loaded ? "not loaded" : top->srcversion ? top->srcversion : "none",
                             c->info && c->info->srcversion ? c->info->srcversion : "none", req->from,
                             p->n_modules > 1 ? "; users reinserted" : "", v == 0 ? "" : " (but the loaded set differs)") < 0)
                        summary = NULL;
        } else {
                if (asprintf(&summary, "Swapping %s failed at %s (%s); %s", name, res.failed_step,
                             strerror(-res.error),
                             res.outcome == SWAP_RESTORED && v == 0
                                 ? "the original modules are back, the loaded set is as it was"
                                 : "RESTORING THE ORIGINAL MODULES FAILED too, the loaded set differs") < 0)
                        summary = NULL;
                json_object_set_new(rec, "error", json_string(summary ? summary : "failed"));
                ret = EXIT_PROBLEM;
        }
        if (v == 1 && diff)
                log_warning("After the swap of %s: %s", name, diff);
        swap_event(p, &res, req->from, summary ? summary : "module swap");
        swap_result_done(&res);

        bool persisted = false;
        if (ret == EXIT_OK && req->persist && c) {
                r = persist_module(ctx, p, top, c, rec);
                if (r < 0)
                        ret = EXIT_PROBLEM;
                else
                        persisted = true;
        }
        r = record_swap(ctx, rec, name, done, persisted);
        if (r < 0)
                return r;
        if (ctx->json && !quiet)
                (void) cli_print_json(rec);
        if (ret_record)
                *ret_record = json_incref(rec);
        return ret;
}

int module_swap_verb(Context *ctx, CliArgs *args)
{
        if (cli_check_options(args, OPT_SWAP | OPT_CERT | OPT_SHA256, "module swap") < 0)
                return EXIT_USAGE;
        if (!args->words[2] || args->words[3] || !args->from) {
                log_error("'module swap' takes one module name and --from FILE|DIR|TAR");
                return EXIT_USAGE;
        }
        ModuleSwapRequest req = { .name = args->words[2], .from = args->from, .sha256 = args->sha256,
                                  .persist = args->persist, .dry_run = args->dry_run, .cert = args->cert };
        return module_swap_run(ctx, &req, false, NULL);
}

static int no_arguments(const CliArgs *args, const char *verb)
{
        if (cli_check_options(args, 0, verb) < 0)
                return -EINVAL;
        if (args->words[2]) {
                log_error("'%s' takes no arguments", verb);
                return -EINVAL;
        }
        return 0;
}

static const char *loaded_note(const Context *ctx, const char *name, const char *srcversion, char **buf)
{
        _cleanup_(loaded_module_freep) LoadedModule *lm = NULL;
        int r = module_loaded_read(ctx->root, name, &lm);
        if (r < 0)
                return "not loaded";
        if (srcversion && lm->srcversion && !streq(srcversion, lm->srcversion))
                return asprintf(buf, "loaded is another build (srcversion %s)", lm->srcversion) < 0 ? "?" : *buf;
        return "loaded";
}

int module_status_verb(Context *ctx, CliArgs *args)
{
        if (no_arguments(args, "module status") < 0)
                return EXIT_USAGE;
        int r = recover_cut_off(ctx, false);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *state = NULL;
        r = state_load(ctx, &state);
        if (r < 0)
                return r;
        json_t *mods = json_object_get(state, "modules");
        json_t *active = json_object_get(mods, "active"), *pers = json_object_get(mods, "persisted"),
               *swaps = json_object_get(mods, "swaps");
        if (ctx->json) {
                json_t *list = json_array();
                const char *k;
                json_t *v;
                json_object_foreach(active, k, v) {
                        _cleanup_free_ char *buf = NULL;
                        json_t *o = json_deep_copy(v);
                        json_object_del(o, "steps");
                        json_object_set_new(o, "now",
                                            json_string(loaded_note(ctx, k, json_string_value(json_object_get(v, "srcversion")), &buf)));
                        json_array_append_new(list, o);
                }
                _cleanup_json_ json_t *empty = json_object(),
                                      *j = json_pack("{s:o, s:O, s:I}", "modules", list, "persisted", pers ? pers : empty,
                                                     "swaps", (json_int_t) json_array_size(swaps));
                return cli_print_json(j);
        }
        if (json_object_size(active) == 0 && json_object_size(pers) == 0) {
                printf("No module swapped (%zu attempts recorded)\n", json_array_size(swaps));
                return EXIT_OK;
        }
        const char *k;
        json_t *v;
        json_object_foreach(active, k, v) {
                _cleanup_free_ char *buf = NULL;
                const char *sv = json_string_value(json_object_get(v, "srcversion"));
                json_t *pe = json_object_get(json_object_get(pers, k), "persisted");
                printf("%s: srcversion %s from %s (sha256 %.12s) at %s on %s; %s%s%s\n", k, sv ? sv : "?",
                       json_string_value(json_object_get(v, "from")), json_string_value(json_object_get(v, "sha256")),
                       json_string_value(json_object_get(v, "at")), json_string_value(json_object_get(v, "release")),
                       loaded_note(ctx, k, sv, &buf), pe ? "; persisted as " : "",
                       pe ? json_string_value(json_object_get(pe, "file")) : "");
        }
        return EXIT_OK;
}

/* ---- at boot: the persisted swaps against the booted kernel ---- */

static void persisted_event(int level, const char *name, const char *file, const char *verdict, const char *fmt,
                            ...) _printf_(5, 6);
static void persisted_event(int level, const char *name, const char *file, const char *verdict, const char *fmt, ...)
{
        _cleanup_free_ char *f_name = NULL, *f_file = NULL, *f_verdict = NULL, *msg = NULL;
        const char *fields[4] = {};
        size_t n = 0;
        if (asprintf(&f_name, "KK_MODULE=%s", name) >= 0)
                fields[n++] = f_name;
        if (asprintf(&f_file, "KK_MODULE_FILE=%s", file) >= 0)
                fields[n++] = f_file;
        if (asprintf(&f_verdict, "KK_MODULE_VERDICT=%s", verdict) >= 0)
                fields[n++] = f_verdict;
        va_list ap;
        va_start(ap, fmt);
        int k = vasprintf(&msg, fmt, ap);
        va_end(ap);
        log_event(level, KK_MESSAGE_MODULE_PERSISTED_CHECKED, fields, "%s", k >= 0 ? msg : name);
}

/* The failed findings of a report, "vermagic: ...; crcs: ..." */
static char *failed_findings(const ModuleReport *rep)
{
        char *out = NULL;
        for (size_t i = 0; i < rep->n_findings; i++) {
                const ModuleFinding *f = &rep->findings[i];
                if (f->verdict == VERDICT_PASS)
                        continue;
                char *n = NULL;
                if (asprintf(&n, "%s%s%s: %s", out ? out : "", out ? "; " : "", f->name, f->message) < 0)
                        break;
                free(out);
                out = n;
        }
        return out;
}

static int verify_one(const Context *ctx, const char *booted, const char *name, json_t *rec, bool *changed)
{
        json_t *pe = json_object_get(rec, "persisted");
        const char *file = json_string_value(json_object_get(pe, "file")),
                   *release = json_string_value(json_object_get(pe, "release"));
        if (!file || !release)
                return 0;
        if (!streq(release, booted)) {
                persisted_event(LOG_NOTICE, name, file, "other-release",
                                "Persisted %s (%s) is for %s; the booted kernel is %s: not used, its own %s loads",
                                name, file, release, booted, name);
                return 0;
        }
        _cleanup_free_ char *host = NULL;
        if (chase_in_root(ctx->root, file, 0, &host) < 0) {
                persisted_event(LOG_WARNING, name, file, "missing",
                                "Persisted %s (%s) is gone: the stock module of %s loads", name, file, booted);
                return 0;
        }
        _cleanup_(module_info_freep) ModuleInfo *m = NULL;
        _cleanup_(module_target_freep) ModuleTarget *t = NULL;
        _cleanup_(module_report_freep) ModuleReport *rep = NULL;
        _cleanup_free_ char *why = NULL;
        int r = module_info_load(host, &m);
        if (r >= 0)
                r = module_target_load(ctx->root, booted, name, &t);
        if (r >= 0)
                r = module_check(m, t, &rep);
        if (r >= 0 && rep->safe) {
                persisted_event(LOG_INFO, name, file, "pass", "Persisted %s (%s, srcversion %s) passes module check on %s",
                                name, file, m->srcversion ? m->srcversion : "none", booted);
                return 0;
        }
        why = r < 0 ? strdup(strerror(-r)) : failed_findings(rep);
        /* stale: out of modprobe's way (a name depmod does not take for a module), depmod again */
        _cleanup_free_ char *aside = NULL;
        if (asprintf(&aside, "%s.kk-stale", host) < 0)
                return log_oom();
        if (rename(host, aside) < 0)
                return log_error_errno(errno, "Persisted %s (%s) fails module check on %s (%s) and cannot be moved aside: %m",
                                       name, file, booted, why ? why : "?");
        r = run_depmod(ctx, booted);
        if (r < 0)
                log_warning("depmod %s failed after moving %s aside: modprobe may still name it", booted, file);
        /* a kernel package's postinst rebuilt the initramfs with the stale copy in it: without a
         * refresh every boot's initramfs would offer the kernel that copy first */
        const char *base = strrchr(file, '/');
        r = refresh_initramfs(ctx, booted, name, base ? base + 1 : file);
        if (r < 0)
                log_warning("update-initramfs -u -k %s failed after moving %s aside: the initramfs may still carry it",
                            booted, file);
        persisted_event(LOG_WARNING, name, file, "stale",
                        "Persisted %s (%s) fails module check on %s (%s): moved aside to %s.kk-stale, the stock %s "
                        "loads instead",
                        name, file, booted, why ? why : "?", file, name);
        json_object_set_new(rec, "stale", json_string(why ? why : "fails module check"));
        *changed = true;
        return 0;
}

int module_verify_persisted_verb(Context *ctx, CliArgs *args)
{
        if (no_arguments(args, "module verify-persisted") < 0)
                return EXIT_USAGE;
        _cleanup_json_ json_t *state = NULL;
        _cleanup_free_ char *booted = NULL;
        int r = recover_cut_off(ctx, true);
        if (r < 0)
                return r;
        r = state_load(ctx, &state);
        if (r < 0)
                return r;
        json_t *pers = json_object_get(json_object_get(state, "modules"), "persisted");
        if (json_object_size(pers) == 0)
                return EXIT_OK;
        r = module_running_release(ctx->root, &booted);
        if (r < 0)
                return log_error_errno(r, "Cannot read the running kernel's release: %m");
        bool changed = false;
        const char *name;
        json_t *rec;
        json_object_foreach(pers, name, rec) if (!json_object_get(rec, "stale") &&
                                                 (r = verify_one(ctx, booted, name, rec, &changed)) < 0) return r;
        return changed ? state_save(ctx, state) : EXIT_OK;
}

/* ---- from user data: {"modules": {"swap": [...]}} ---- */

int module_swap_directive(const Context *ctx, const DirectiveModuleSwap *swaps, size_t n, json_t **ret_results,
                          char **ret_problem)
{
        _cleanup_json_ json_t *results = json_array();
        if (!results)
                return log_oom();
        int failed = 0;
        for (size_t i = 0; i < n; i++) {
                const DirectiveModuleSwap *m = &swaps[i];
                _cleanup_free_ char *shown = download_url_shown(m->url), *dir = NULL, *path = NULL, *cerr = NULL,
                                    *rel = NULL, *why = NULL;
                json_t *rec = NULL;
                if (!shown || asprintf(&rel, "%s/modules", ctx->config.state_dir) < 0)
                        return log_oom();
                int r = state_dir_create(ctx, &dir);
                if (r >= 0) {
                        free(dir);
                        dir = NULL;
                        r = mkdir_in_root(ctx->root, rel, 0700, &dir);
                }
                if (r < 0)
                        return log_error_errno(r, "Cannot create %s: %m", rel);
                /* the download keeps the URL's file name: a .tgz or a .ko.xz says what it is */
                const char *base = strrchr(shown, '/');
                base = base && base[1] ? base + 1 : "download";
                if (asprintf(&path, "%s/download.XXXXXX", dir) < 0)
                        return log_oom();
                _cleanup_close_ int fd = mkostemp(path, O_CLOEXEC);
                if (fd < 0)
                        return log_error_errno(errno, "Cannot create a download file in %s: %m", rel);
                char hex[SHA256_HEX_SIZE];
                uint64_t size;
                r = download_to_fd(m->url, fd, ARCHIVE_MAX, hex, &size, &cerr);
                int code = EXIT_PROBLEM;
                if (r < 0) {
                        if (asprintf(&why, "cannot download %s: %s", shown, cerr ? cerr : strerror(-r)) < 0)
                                return log_oom();
                        log_error("modules.swap[%zu] (%s): %s", i, m->name, why);
                        rec = json_pack("{s:s, s:s, s:s, s:s}", "name", m->name, "outcome", "refused", "error", why,
                                        "from", shown);
                } else {
                        /* a name the source reader understands: same suffix as the URL's file */
                        _cleanup_free_ char *named = NULL;
                        if (asprintf(&named, "%s/%s", dir, base) < 0 || rename(path, named) < 0)
                                return log_error_errno(errno ?: ENOMEM, "Cannot name the download %s: %m", path);
                        free(path);
                        path = TAKE_PTR(named);
                        ModuleSwapRequest req = { .name = m->name, .from = path, .sha256 = m->sha256, .persist = m->persist };
                        code = module_swap_run(ctx, &req, true, &rec);
                        if (code < 0)
                                code = EXIT_PROBLEM;
                        if (rec)
                                json_object_set_new(rec, "from", json_string(shown));
                        if (code != EXIT_OK && !why)
                                why = strdup(log_last_error() ? log_last_error() : "failed");
                }
                (void) unlink(path);
                if (!rec)
                        return log_oom();
                json_array_append_new(results, rec);
                if (code != EXIT_OK) {
                        failed++;
                        if (ret_problem && !*ret_problem &&
                            asprintf(ret_problem, "modules.swap[%zu] (%s): %s", i, m->name, why ? why : "failed") < 0)
                                return log_oom();
                }
        }
        *ret_results = TAKE_PTR(results);
        return failed;
}

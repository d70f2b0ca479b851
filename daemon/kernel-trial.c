/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/history.h"
#include "boot/trial-state.h"
#include "boot/trial.h"
#include "common/fileio.h"
#include "common/macro.h"
#include "common/strv.h"
#include "daemon/health.h"
#include "daemon/kernel-trial.h"
#include "daemon/log.h"
#include "daemon/menu-load.h"
#include "daemon/menu-txn.h"
#include "daemon/pin.h"
#include "daemon/proc.h"
#include "daemon/state.h"

#define GRUBENV_READ_MAX 4096

/* What the state file says about the trial (pointers into the state object). */
typedef struct TrialRecord {
        json_t *j;
        TrialPhase phase;
        const char *armed_boot_id, *trial_boot_id;
        const char *good_title, *trial_title, *trial_release;
        json_t *pre_default, *pre_fallback; /* the menu's own lines, JSON null if it had none */
} TrialRecord;

static void trial_record_get(json_t *state, TrialRecord *ret)
{
        json_t *t = json_object_get(state, "trial");
        TrialRecord r = { .j = t, .phase = TRIAL_PHASE_NONE };
        if (t) {
                r.phase = trial_phase_from_string(json_string_value(json_object_get(t, "phase")));
                r.armed_boot_id = json_string_value(json_object_get(t, "armed_boot_id"));
                r.trial_boot_id = json_string_value(json_object_get(t, "trial_boot_id"));
                r.good_title = json_string_value(json_object_get(json_object_get(t, "good"), "title"));
                r.trial_title = json_string_value(json_object_get(json_object_get(t, "trial"), "title"));
                r.trial_release = json_string_value(json_object_get(json_object_get(t, "trial"), "release"));
                r.pre_default = json_object_get(json_object_get(t, "pre"), "default");
                r.pre_fallback = json_object_get(json_object_get(t, "pre"), "fallback");
        }
        *ret = r;
}

static json_t *string_or_null(const char *s)
{
        return s ? json_string(s) : json_null();
}

static json_t *identity(const MenuEntry *e)
{
        return json_pack("{s:s, s:o, s:o}", "title", e->title, "kernel", string_or_null(e->kernel), "release",
                         string_or_null(e->release));
}

/* A selector for an entry that survives update-grub renumbering: its release (which picks the normal
 * entry over its recovery twin), else its exact title. */
static char *selector_for(const MenuEntry *e)
{
        char *s = NULL;
        if (asprintf(&s, e->release ? "release=%s" : "title=%s", e->release ? e->release : e->title) < 0)
                return NULL;
        return s;
}

static int read_grubenv(const LoadedMenu *lm, char **ret_path, char **ret_data, size_t *ret_size)
{
        _cleanup_free_ char *path = NULL;
        char *slash = strrchr(lm->path, '/');
        if (asprintf(&path, "%.*s/grubenv", (int) (slash - lm->path), lm->path) < 0)
                return -ENOMEM;
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        /* missing or oversized: not a grubenv, trial_state_files() makes a new one */
        int r = read_full_file(path, GRUBENV_READ_MAX, &data, &size);
        if (r < 0 && r != -ENOENT && r != -EFBIG)
                return log_file_error(r, "read", path);
        *ret_path = TAKE_PTR(path);
        *ret_data = TAKE_PTR(data);
        *ret_size = size;
        return 0;
}

static bool entry_loads(const MenuInfo *info, int index, void *userdata)
{
        const LoadedMenu *lm = userdata;
        _cleanup_strv_free_ char **problems = NULL;
        if (menulst_entry_problems(info, &lm->fs, index, &problems) < 0)
                return false;
        return !problems || !problems[0];
}

/* The loaders boot `entry` of m with files, both of them (the same disk may be booted by either). */
static bool both_loaders_boot(const MenuLst *m, const BootFiles *files, const LoadedMenu *lm, int entry)
{
        for (int l = BOOT_LOADER_GRUB097; l <= BOOT_LOADER_PVGRUB2; l++) {
                BootOutcome o;
                if (boot_simulate((BootLoader) l, m, files, entry_loads, (void *) lm, &o) < 0)
                        return false;
                bool good = o.entry == entry;
                boot_outcome_done(&o);
                if (!good)
                        return false;
        }
        return true;
}

/* Writes the new menu and both state files so that every state on disk boots `safe` or the new
 * layout: menu.lst first with an explicit `default <safe>` (both loaders then ignore the state files),
 * then `default`, then grubenv, then the final menu.lst (its `default saved` takes the files). The
 * steps are recorded first (menu_txn_run()): a write cut off is finished by the next writer. */
static int write_boot_files(const Context *ctx, const LoadedMenu *lm, const MenuLst *final, int safe,
                            const BootFiles *files, const char *grubenv_path)
{
        _cleanup_(menulst_freep) MenuLst *staged = menulst_copy(final);
        if (!staged)
                return log_oom();
        char num[16];
        snprintf(num, sizeof num, "%d", safe);
        int r = menulst_set_global(staged, MENU_DIALECT_GRUB, "default", num);
        if (r < 0)
                return log_error_errno(r, "Cannot edit the menu: %m");
        BootFiles old = { .default_file = lm->default_data, .default_size = lm->default_size };
        if (!both_loaders_boot(staged, &old, lm, safe) || !both_loaders_boot(staged, files, lm, safe))
                return log_error_errno(EPROTO, "Refusing to write %s: its first step would not boot entry %d; nothing written",
                                       lm->path, safe);

        _cleanup_free_ char *a = NULL, *b = NULL;
        size_t as, bs;
        if (menulst_serialize(staged, &a, &as) < 0 || menulst_serialize(final, &b, &bs) < 0)
                return log_oom();
        const MenuTxnStep steps[] = {
                { lm->path, a, as },
                { lm->default_path, files->default_file, files->default_size },
                { grubenv_path, files->grubenv, files->grubenv_size },
                { lm->path, b, bs },
        };
        /* the final menu may name its default itself: then the staged one is the final one */
        size_t n = as == bs && memcmp(a, b, as) == 0 ? 3 : 4;
        return menu_txn_run(ctx, lm->data, lm->size, steps, n, boot_write_flags(ctx));
}

static int boot_facts(const Context *ctx, char **ret_boot_id, char **ret_cmdline, char **ret_release)
{
        int r = proc_read_line(ctx, "/proc/sys/kernel/random/boot_id", ret_boot_id);
        if (r < 0)
                return log_error_errno(r, "Cannot read the boot id: %m");
        if (ret_cmdline && (r = proc_read_line(ctx, "/proc/cmdline", ret_cmdline)) < 0)
                return log_error_errno(r, "Cannot read the kernel command line: %m");
        if (ret_release && (r = proc_read_line(ctx, "/proc/sys/kernel/osrelease", ret_release)) < 0)
                return log_error_errno(r, "Cannot read the kernel release: %m");
        return 0;
}

static int resolve(const MenuInfo *info, const char *sel, const char *what, int *ret)
{
        MenuSelectError e;
        if (menulst_select(info, sel, &e, ret) >= 0)
                return 0;
        return log_error_errno(e == MENU_SELECT_AMBIGUOUS ? EEXIST : ENOENT, "%s '%s' %s", what, sel,
                               e == MENU_SELECT_AMBIGUOUS ? "matches several entries" : "matches no entry");
}

/* menu.lst without the trial entries, its own default/fallback lines back, evaluated. */
static int menu_without_trial(const Context *ctx, const LoadedMenu *lm, const TrialRecord *t, MenuLst **ret_menu,
                              MenuInfo **ret_info)
{
        _cleanup_(menulst_freep) MenuLst *m = NULL;
        int r = trial_layout_strip(lm->menu, &m);
        if (r < 0)
                return log_error_errno(r, "Cannot remove the trial entries: %m");
        if (t) {
                if ((r = menulst_set_global(m, MENU_DIALECT_GRUB, "default", json_string_value(t->pre_default))) < 0 ||
                    (r = menulst_set_global(m, MENU_DIALECT_GRUB, "fallback", json_string_value(t->pre_fallback))) < 0)
                        return log_error_errno(r, "Cannot edit the menu: %m");
        }
        r = menu_evaluate(ctx, lm, m, lm->default_data, lm->default_size, ret_info);
        if (r < 0)
                return log_error_errno(r, "Cannot evaluate the menu: %m");
        *ret_menu = TAKE_PTR(m);
        return 0;
}

/* What every trial operation starts with: the writers' lock, the state and its trial, this boot. */
typedef struct TrialOp {
        int lock;
        json_t *state;
        TrialRecord t;
        char *boot_id;
} TrialOp;

static void trial_op_done(TrialOp *op)
{
        if (op->lock >= 0)
                close(op->lock);
        json_decref(op->state);
        free(op->boot_id);
}

static int trial_op_begin(const Context *ctx, TrialOp *ret)
{
        TrialOp op = { .lock = -EBADF };
        int r = writers_begin(ctx, true, &op.lock);
        if (r >= 0)
                r = state_load(ctx, &op.state);
        if (r >= 0)
                r = boot_facts(ctx, &op.boot_id, NULL, NULL);
        if (r < 0) {
                trial_op_done(&op);
                return r;
        }
        trial_record_get(op.state, &op.t);
        *ret = op;
        return 0;
}

/* The trial layout on the menu as it is now: built and proven, not written. */
typedef struct TrialPlan {
        MenuLst *armed;
        BootFiles files;      /* both naming the entry asked for */
        BootFiles now;        /* grubenv as it is (`default`: lm's) */
        char *env_path;
        MenuInfo *info;       /* the menu without the trial entries, evaluated */
        char *pre_default, *pre_fallback; /* its own default/fallback lines, NULL if none */
        int good, trial;      /* in info */
} TrialPlan;

static void trial_plan_done(TrialPlan *p)
{
        menulst_free(p->armed);
        boot_files_done(&p->files);
        free(p->now.grubenv);
        free(p->env_path);
        menu_info_free(p->info);
        free(p->pre_default);
        free(p->pre_fallback);
}

static int strdup_or_null(const char *s, char **ret)
{
        *ret = s ? strdup(s) : NULL;
        return s && !*ret ? -ENOMEM : 0;
}

/* Builds the trial layout on lm: its trial entries stripped (t: the trial in flight, whose menu lines
 * come back first), G = the pin's default, T = trial_sel, the pin's fallbacks as they resolve now (when
 * it manages them) behind G's copy, both state files naming files_index; proven on both loaders.
 * doing: for the refusal ("arm the trial"). Logs its errors. */
static int trial_plan(const Context *ctx, const LoadedMenu *lm, const TrialRecord *t, const Pin *pin,
                      const char *trial_sel, const char *trial_what, int files_index, const char *doing,
                      TrialPlan *ret)
{
        _cleanup_(trial_plan_done) TrialPlan p = {};
        _cleanup_(menulst_freep) MenuLst *base = NULL;
        int r = menu_without_trial(ctx, lm, t, &base, &p.info);
        if (r < 0)
                return r;
        if ((r = resolve(p.info, pin->default_sel, "The pinned default", &p.good)) < 0 ||
            (r = resolve(p.info, trial_sel, trial_what, &p.trial)) < 0)
                return r;
        if (p.good == p.trial)
                return log_error_errno(EINVAL, "'%s' is the pinned known-good entry itself; nothing to try", trial_sel);
        _cleanup_strv_free_ char **problems = NULL;
        if (menulst_entry_problems(p.info, &lm->fs, p.trial, &problems) < 0)
                return log_oom();
        if (problems && problems[0])
                return log_error_errno(ENOENT, "The trial entry cannot boot: %s", problems[0]);
        if (strdup_or_null(menulst_global_arg(base, MENU_DIALECT_GRUB, "default"), &p.pre_default) < 0 ||
            strdup_or_null(menulst_global_arg(base, MENU_DIALECT_GRUB, "fallback"), &p.pre_fallback) < 0)
                return log_oom();
        if (pin->fallback_sels) {
                /* a rewrite (update-grub adding a kernel) moves them: by identity, not by number */
                char list[MENULST_MAX_FALLBACK * 12] = "";
                size_t k = 0, n = 0;
                for (char **s = pin->fallback_sels; *s && n < MENULST_MAX_FALLBACK; s++, n++) {
                        int idx;
                        if ((r = resolve(p.info, *s, "A pinned fallback", &idx)) < 0)
                                return r;
                        k += (size_t) snprintf(list + k, sizeof list - k, "%s%d", k ? " " : "", idx);
                }
                if ((r = menulst_set_global(base, MENU_DIALECT_GRUB, "fallback", k ? list : NULL)) < 0)
                        return log_error_errno(r, "Cannot edit the menu: %m");
                p.info = menu_info_free(p.info);
                if ((r = menu_evaluate(ctx, lm, base, lm->default_data, lm->default_size, &p.info)) < 0)
                        return log_error_errno(r, "Cannot evaluate the menu: %m");
        }

        TrialOptions o = { .panic_sec = ctx->config.trial_panic_sec };
        r = trial_layout_arm(base, p.info, p.good, p.trial, &o, &p.armed);
        if (r == -E2BIG)
                return log_error_errno(r, "The trial's kernel command line would pass GRUB 0.97's %d bytes",
                                       TRIAL_LINUX_CMDLINE_MAX);
        if (r == -EEXIST)
                return log_error_errno(r, "An entry titled 'kernelkeeper' would catch PV-GRUB2's one-shot; rename it");
        if (r < 0)
                return log_error_errno(r, "Cannot build the trial layout: %m");

        if ((r = read_grubenv(lm, &p.env_path, &p.now.grubenv, &p.now.grubenv_size)) < 0)
                return r;
        if ((r = trial_state_files(files_index, &p.now, &p.files)) < 0)
                return log_error_errno(r, "Cannot format the state files: %m");
        const char *problem = "a loader would not boot the known-good entry";
        r = files_index == TRIAL_TRIAL_INDEX ? trial_verify(p.armed, &p.files, entry_loads, (void *) lm, &problem)
            : both_loaders_boot(p.armed, &p.files, lm, files_index) ? 0 : -EPROTO;
        if (r < 0)
                return log_error_errno(r, "Refusing to %s: %s; nothing written", doing, problem ? problem : "");
        *ret = p;
        p = (TrialPlan){};
        return 0;
}

int kernel_trial_arm(const Context *ctx, const char *selector)
{
        _cleanup_(trial_op_done) TrialOp op = { .lock = -EBADF };
        int r = trial_op_begin(ctx, &op);
        if (r < 0)
                return r;
        json_t *state = op.state;
        const TrialRecord t = op.t;
        const char *boot_id = op.boot_id;
        /* the same trial again in the boot that armed it finishes an arm that was cut off */
        bool redo = t.phase == TRIAL_PHASE_ARMED && t.armed_boot_id && streq(t.armed_boot_id, boot_id);
        if (trial_phase_in_flight(t.phase) && !redo)
                return log_error_errno(EBUSY, "A kernel trial of '%s' is in flight; commit or roll it back first",
                                       t.trial_title ? t.trial_title : "?");
        _cleanup_(pin_done) Pin pin = {};
        r = pin_from_state(state, &pin);
        if (r == -ENOENT)
                return log_error_errno(r, "A trial needs a pinned known-good kernel: run 'kernelkeeper pin --default SEL' first");
        if (r < 0)
                return log_error_errno(r, "The recorded pin is corrupt: %m");

        _cleanup_(loaded_menu_freep) LoadedMenu *lm = NULL;
        r = menu_load(ctx, &lm);
        if (r < 0)
                return r;
        _cleanup_(trial_plan_done) TrialPlan p = {};
        r = trial_plan(ctx, lm, redo ? &t : NULL, &pin, selector, "The trial selector", TRIAL_TRIAL_INDEX,
                       "arm the trial", &p);
        if (r < 0)
                return r;
        const MenuEntry *good = &p.info->entries[p.good], *trial = &p.info->entries[p.trial];
        if (redo && !streq(trial->title, t.trial_title ? t.trial_title : ""))
                return log_error_errno(EBUSY, "A kernel trial of '%s' is in flight; commit or roll it back first",
                                       t.trial_title ? t.trial_title : "?");

        /* the state first: a trial that cannot be recorded is never armed */
        _cleanup_free_ char *now_s = now_iso8601();
        json_t *rec = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:{s:o, s:o}, s:o, s:o}", "phase", "armed",
                                "armed_boot_id", boot_id, "trial_boot_id", json_null(), "good", identity(good),
                                "trial", identity(trial), "started", string_or_null(now_s), "pre", "default",
                                string_or_null(p.pre_default), "fallback", string_or_null(p.pre_fallback), "ended",
                                json_null(), "reason", json_null());
        _cleanup_json_ json_t *old = json_deep_copy(state);
        if (!rec || !old || json_object_set_new(state, "trial", rec) < 0)
                return log_oom();
        if ((r = state_save(ctx, state)) < 0)
                return r;
        r = write_boot_files(ctx, lm, p.armed, TRIAL_GOOD_INDEX, &p.files, p.env_path);
        if (r < 0) {
                (void) state_save(ctx, old);
                return r;
        }
        const char *fields[] = { NULL, NULL };
        _cleanup_free_ char *f = NULL;
        if (asprintf(&f, "KK_TRIAL_KERNEL=%s", trial->title) >= 0)
                fields[0] = f;
        log_event(LOG_NOTICE, KK_MESSAGE_TRIAL_STARTED, fields,
                  "Kernel trial armed: the next boot runs '%s' once, then '%s' unless the trial is committed",
                  trial->title, good->title);
        return 0;
}

int kernel_trial_reapply(const Context *ctx, json_t *state, char **ret_summary, LoadedMenu **ret_seen)
{
        TrialRecord t;
        trial_record_get(state, &t);
        _cleanup_free_ char *boot_id = NULL, *sel = NULL;
        int r = boot_facts(ctx, &boot_id, NULL, NULL);
        if (r < 0)
                return r;
        _cleanup_(pin_done) Pin pin = {};
        r = pin_from_state(state, &pin);
        if (r < 0)
                return log_error_errno(r, "The recorded pin is missing or corrupt: %m");
        if (!t.trial_title || asprintf(&sel, "title=%s", t.trial_title) < 0)
                return log_error_errno(t.trial_title ? ENOMEM : EBADMSG, "The recorded kernel trial is corrupt: %m");
        _cleanup_(loaded_menu_freep) LoadedMenu *lm = NULL;
        if ((r = menu_load(ctx, &lm)) < 0)
                return r;

        /* armed in this boot: the next boot is the trial; any later boot (the trial's own, or G after
         * it died) must go to G next, whatever the loader */
        bool arming = t.phase == TRIAL_PHASE_ARMED && t.armed_boot_id && streq(t.armed_boot_id, boot_id);
        int want = arming ? TRIAL_TRIAL_INDEX : TRIAL_GOOD_INDEX;
        _cleanup_(trial_plan_done) TrialPlan p = {};
        if ((r = trial_plan(ctx, lm, &t, &pin, sel, "The trial entry", want, "put the kernel trial's layout back", &p)) < 0)
                return r;
        _cleanup_free_ char *bytes = NULL;
        size_t size;
        if (menulst_serialize(p.armed, &bytes, &size) < 0)
                return log_oom();
        BootFiles now = p.now;
        now.default_file = lm->default_data;
        now.default_size = lm->default_size;
        /* it holds when menu.lst is the layout byte for byte and, while the trial waits for its boot,
         * both loaders would run it. After that boot the files are what the loader left (its one-shot
         * reset): they are rewritten, naming G, only with a menu that has to be put back. */
        bool holds = size == lm->size && memcmp(bytes, lm->data, size) == 0 &&
                     (!arming || both_loaders_boot(p.armed, &now, lm, want));
        _cleanup_free_ char *summary = NULL;
        if (!holds) {
                if ((r = write_boot_files(ctx, lm, p.armed, TRIAL_GOOD_INDEX, &p.files, p.env_path)) < 0)
                        return r;
                if (asprintf(&summary, "kernel trial layout put back: '%s' at entry %d, the trial at entry %d, next boot entry %d",
                             p.info->entries[p.good].title, TRIAL_GOOD_INDEX, TRIAL_TRIAL_INDEX, want) < 0)
                        return log_oom();
        }
        *ret_summary = TAKE_PTR(summary);
        if (ret_seen)
                *ret_seen = TAKE_PTR(lm);
        return 0;
}

/* Ends the trial: menu.lst without the trial entries, its own default/fallback lines back, the pin
 * (the new one on commit) applied, both state files naming the default. /boot first, then the state:
 * cut off in between, the trial is still recorded as in flight and ending it again (a re-run, or the
 * next boot's `boots record`) writes the same files; the other order could leave an armed menu
 * behind a trial recorded as over. That the state can be written is proven before /boot is touched. */
static int trial_finish(const Context *ctx, json_t *state, const TrialRecord *t, bool commit, const char *reason)
{
        _cleanup_(loaded_menu_freep) LoadedMenu *lm = NULL;
        int r = menu_load(ctx, &lm);
        if (r < 0)
                return r;
        _cleanup_(menulst_freep) MenuLst *base = NULL;
        _cleanup_(menu_info_freep) MenuInfo *info = NULL;
        if ((r = menu_without_trial(ctx, lm, t, &base, &info)) < 0)
                return r;

        _cleanup_(pin_done) Pin pin = {};
        r = pin_from_state(state, &pin);
        if (r < 0)
                return log_error_errno(r, "The recorded pin is missing or corrupt: %m");
        if (commit) {
                int trial, good;
                if ((r = resolve(info, t->trial_title, "The trial entry", &trial)) < 0 ||
                    (r = resolve(info, t->good_title, "The known-good entry", &good)) < 0)
                        return r;
                pin_done(&pin);
                pin.default_sel = selector_for(&info->entries[trial]);
                char *g = selector_for(&info->entries[good]);
                if (!pin.default_sel || !g || strv_consume(&pin.fallback_sels, g) < 0)
                        return log_oom();
        }
        int want, fb[MENULST_MAX_FALLBACK];
        size_t n_fb = 0;
        if ((r = resolve(info, pin.default_sel, "The pinned default", &want)) < 0)
                return r;
        for (char **s = pin.fallback_sels; s && *s && n_fb < MENULST_MAX_FALLBACK; s++)
                if ((r = resolve(info, *s, "A pinned fallback", &fb[n_fb++])) < 0)
                        return r;

        _cleanup_(menulst_freep) MenuLst *final = NULL;
        _cleanup_free_ char *dfile = NULL;
        size_t dsize;
        _cleanup_(menu_info_freep) MenuInfo *after = NULL;
        r = menu_plan_boot_order(ctx, lm, base, info, want, pin.fallback_sels ? fb : NULL, n_fb, &final, &dfile, &dsize,
                                 &after);
        if (r < 0)
                return r;
        _cleanup_free_ char *env_path = NULL, *env = NULL;
        size_t env_size;
        if ((r = read_grubenv(lm, &env_path, &env, &env_size)) < 0)
                return r;
        BootFiles now = { .grubenv = env, .grubenv_size = env_size };
        _cleanup_(boot_files_done) BootFiles files = {};
        /* both files name the default: each loader resets only its own, a stale one would send the
         * other loader back to the trial's index */
        if ((r = trial_state_files(after->default_entry, &now, &files)) < 0)
                return log_error_errno(r, "Cannot format the state files: %m");
        if (!both_loaders_boot(final, &files, lm, after->default_entry))
                return log_error_errno(EPROTO, "Refusing to write %s: a loader would not boot entry %d after the trial",
                                       lm->path, after->default_entry);

        if ((r = state_save(ctx, state)) < 0) /* as it is: can it be written at all? */
                return r;
        if ((r = write_boot_files(ctx, lm, final, after->default_entry, &files, env_path)) < 0)
                return r;
        _cleanup_free_ char *now_s = now_iso8601();
        if (json_object_set_new(t->j, "phase", json_string(commit ? "committed" : "failed")) < 0 ||
            json_object_set_new(t->j, "ended", string_or_null(now_s)) < 0 ||
            (!commit && json_object_set_new(t->j, "reason", string_or_null(reason)) < 0) ||
            (commit && pin_to_state(state, &pin) < 0))
                return log_oom();
        if ((r = state_save(ctx, state)) < 0)
                return r;
        const char *fields[] = { NULL, NULL };
        _cleanup_free_ char *f = NULL;
        if (asprintf(&f, "KK_TRIAL_KERNEL=%s", t->trial_title ? t->trial_title : "?") >= 0)
                fields[0] = f;
        if (commit)
                log_event(LOG_NOTICE, KK_MESSAGE_TRIAL_COMMITTED, fields,
                          "Kernel trial committed: '%s' is the pinned default, '%s' its fallback", t->trial_title,
                          t->good_title);
        else
                log_event(LOG_WARNING, KK_MESSAGE_TRIAL_FAILED, fields, "Kernel trial of '%s' failed: %s; GRUB boots '%s'",
                          t->trial_title, reason, t->good_title);
        return 0;
}

static int trial_event(const Context *ctx, TrialEvent event)
{
        _cleanup_(trial_op_done) TrialOp op = { .lock = -EBADF };
        int r = trial_op_begin(ctx, &op);
        if (r < 0)
                return r;
        json_t *state = op.state;
        const TrialRecord t = op.t;
        const char *boot_id = op.boot_id;
        /* asked again after it happened (a re-run after a crash, a script): nothing left to do */
        if ((event == TRIAL_EVENT_COMMIT && t.phase == TRIAL_PHASE_COMMITTED) ||
            (event == TRIAL_EVENT_ROLLBACK && t.phase == TRIAL_PHASE_FAILED)) {
                log_info("The trial of '%s' has already ended (%s)", t.trial_title ? t.trial_title : "?",
                         trial_phase_to_string(t.phase));
                return 0;
        }
        TrialState s = { .phase = t.phase, .armed_boot_id = t.armed_boot_id, .trial_boot_id = t.trial_boot_id };
        TrialInput in = { .event = event, .boot_id = boot_id };
        TrialStep st;
        if (trial_step(&s, &in, &st) < 0) {
                if (event == TRIAL_EVENT_COMMIT)
                        return log_error_errno(EINVAL, t.phase == TRIAL_PHASE_ARMED
                                                               ? "The trial kernel has not booted yet; only a running trial can be committed"
                                                               : "No kernel trial is running to commit");
                return log_error_errno(EINVAL, "No kernel trial is in flight to roll back");
        }
        r = trial_finish(ctx, state, &t, st.action == TRIAL_ACTION_COMMIT, st.reason);
        if (r < 0)
                return r;
        if (event == TRIAL_EVENT_COMMIT) {
                json_t *boots = json_object_get(state, "boots");
                if (boots && boot_history_set_outcome(boots, boot_id, "good", NULL) >= 0)
                        (void) state_save(ctx, state);
        }
        return 0;
}

int kernel_trial_commit(const Context *ctx)
{
        return trial_event(ctx, TRIAL_EVENT_COMMIT);
}

int kernel_trial_rollback(const Context *ctx)
{
        return trial_event(ctx, TRIAL_EVENT_ROLLBACK);
}

int boots_record(const Context *ctx, bool *ret_reboot)
{
        _cleanup_free_ char *boot_id = NULL, *cmdline = NULL, *release = NULL, *now_s = now_iso8601();
        int r = boot_facts(ctx, &boot_id, &cmdline, &release);
        if (r < 0)
                return r;
        /* a write cut off in the last boot (a power cut during `kernel trial`) is finished below, but
         * GRUB read the menu as it is now: trial entries behind an explicit `default N` (the arm's
         * documented stage) were never booted, whatever the state files say */
        bool trial_was_live = true;
        if (menu_txn_pending(ctx)) {
                _cleanup_(loaded_menu_freep) LoadedMenu *before = NULL;
                int g, tr = -1;
                if (menu_load(ctx, &before) >= 0)
                        trial_find(before->menu, before->info, &g, &tr);
                trial_was_live = !(tr >= 0 && !before->info->default_saved);
        }
        _cleanup_close_ int lock = -EBADF;
        if ((r = writers_begin(ctx, true, &lock)) < 0)
                return r;
        _cleanup_json_ json_t *state = NULL;
        if ((r = state_load(ctx, &state)) < 0)
                return r;
        json_t *boots = json_object_get(state, "boots");
        if (!boots) {
                if (json_object_set_new(state, "boots", json_array()) < 0)
                        return log_oom();
                boots = json_object_get(state, "boots");
        }

        /* which entry: a menu that cannot be read still gets its boot recorded */
        _cleanup_(loaded_menu_freep) LoadedMenu *lm = NULL;
        int entry = -1;
        if (menu_load(ctx, &lm) >= 0)
                entry = boot_match_entry(lm->info, cmdline, release);
        bool mark = boot_cmdline_has(cmdline, TRIAL_CMDLINE_MARK);

        TrialRecord t;
        trial_record_get(state, &t);
        TrialState s = { .phase = t.phase, .armed_boot_id = t.armed_boot_id, .trial_boot_id = t.trial_boot_id };
        TrialInput in = { .event = TRIAL_EVENT_BOOT, .boot_id = boot_id, .trial_mark = mark };
        TrialStep st;
        if ((r = trial_step(&s, &in, &st)) < 0)
                return log_error_errno(r, "Cannot judge this boot: %m");

        int on_disk_good = -1, on_disk_trial = -1;
        if (lm)
                trial_find(lm->menu, lm->info, &on_disk_good, &on_disk_trial);
        bool never_armed = on_disk_trial < 0 || !trial_was_live;
        if (st.phase == TRIAL_PHASE_FAILED && t.phase == TRIAL_PHASE_ARMED && never_armed)
                /* `kernel trial` recorded it but was cut off before the menu took the state files:
                 * nothing ran */
                st.reason = TRIAL_REASON_NEVER_ARMED;
        if (st.phase == TRIAL_PHASE_FAILED && t.phase == TRIAL_PHASE_ARMED && !never_armed) {
                /* the trial's own boot never reached userspace: it gets a record all the same */
                BootRecord lost = { .release = t.trial_release, .entry = TRIAL_TRIAL_INDEX, .title = t.trial_title,
                                    .trial = true, .outcome = "failed", .reason = st.reason };
                if (boot_history_add(boots, &lost) < 0)
                        return log_oom();
        } else if (st.phase == TRIAL_PHASE_FAILED && t.phase == TRIAL_PHASE_BOOTED)
                (void) boot_history_set_outcome(boots, t.trial_boot_id, "failed", st.reason);
        BootRecord me = { .boot_id = boot_id, .time = now_s, .release = release, .entry = entry,
                          .title = entry >= 0 ? lm->info->entries[entry].title : NULL, .trial = mark,
                          .outcome = "unknown" };
        if (boot_history_add(boots, &me) < 0)
                return log_oom();
        if (st.set_trial_boot_id && json_object_set_new(t.j, "trial_boot_id", json_string(boot_id)) < 0)
                return log_oom();
        if (t.j && st.phase != t.phase && st.phase != TRIAL_PHASE_FAILED &&
            json_object_set_new(t.j, "phase", json_string(trial_phase_to_string(st.phase))) < 0)
                return log_oom();

        bool reboot = false;
        switch (st.action) {
        case TRIAL_ACTION_DISARM_REBOOT:
                reboot = true;
                __attribute__((fallthrough));
        case TRIAL_ACTION_DISARM:
                r = trial_finish(ctx, state, &t, false, st.reason);
                if (r < 0)
                        return r;
                break;
        default:
                if ((r = state_save(ctx, state)) < 0)
                        return r;
        }
        log_info("Boot %s recorded: %s, entry %d%s", boot_id, release, entry, mark ? " (the kernel trial)" : "");
        *ret_reboot = reboot;
        return 0;
}

static int uptime_sec(const Context *ctx, double *ret)
{
        _cleanup_free_ char *line = NULL;
        int r = proc_read_line(ctx, "/proc/uptime", &line);
        if (r < 0)
                return r;
        char *end;
        double v = strtod(line, &end);
        if (end == line)
                return -EBADMSG;
        *ret = v;
        return 0;
}

int boots_health(const Context *ctx, bool *ret_healthy, bool *ret_reboot)
{
        _cleanup_free_ char *boot_id = NULL, *failed = NULL;
        int r = boot_facts(ctx, &boot_id, NULL, NULL);
        if (r < 0)
                return r;
        /* kernelkeeper-health.service only Wants= boot-complete.target: a unit it requires that fails
         * must still get the trial judged (and rolled back), not leave it waiting for a reboot */
        r = health_boot_complete(ctx, &failed);
        if (r < 0)
                return r;
        if (!failed)
                r = health_run_checks(ctx, ctx->config.trial_check_timeout_sec, &failed);
        if (r < 0)
                return r;
        double up;
        if (!failed && ctx->config.trial_health_timeout_sec && uptime_sec(ctx, &up) >= 0 &&
            up > ctx->config.trial_health_timeout_sec &&
            asprintf(&failed, "the boot was not judged healthy within %us (HealthTimeoutSec=)",
                     ctx->config.trial_health_timeout_sec) < 0)
                return log_oom();

        _cleanup_close_ int lock = -EBADF;
        if ((r = writers_begin(ctx, true, &lock)) < 0)
                return r;
        _cleanup_json_ json_t *state = NULL;
        if ((r = state_load(ctx, &state)) < 0)
                return r;
        json_t *boots = json_object_get(state, "boots");
        if (boots)
                (void) boot_history_set_outcome(boots, boot_id, failed ? "failed" : "good", failed);
        TrialRecord t;
        trial_record_get(state, &t);
        TrialState s = { .phase = t.phase, .armed_boot_id = t.armed_boot_id, .trial_boot_id = t.trial_boot_id };
        TrialInput in = { .event = failed ? TRIAL_EVENT_UNHEALTHY : TRIAL_EVENT_HEALTHY, .boot_id = boot_id,
                          .auto_commit = ctx->config.trial_auto_commit, .reason = failed };
        TrialStep st;
        bool reboot = false;
        if (trial_step(&s, &in, &st) < 0 || st.action == TRIAL_ACTION_NONE) {
                /* not the trial's boot (or AutoCommit=no): the verdict is only recorded */
                if ((r = state_save(ctx, state)) < 0)
                        return r;
        } else {
                r = trial_finish(ctx, state, &t, st.action == TRIAL_ACTION_COMMIT, st.reason);
                if (r < 0)
                        return r;
                reboot = st.action == TRIAL_ACTION_DISARM_REBOOT;
        }
        if (failed)
                log_warning("This boot is not healthy: %s", failed);
        else
                log_info("This boot is healthy");
        *ret_healthy = !failed;
        *ret_reboot = reboot;
        return 0;
}

int boots_generate(const Context *ctx, const char *dir)
{
        _cleanup_free_ char *cmdline = NULL, *dropin = NULL, *conf = NULL, *wants = NULL, *link = NULL;
        if (proc_read_line(ctx, "/proc/cmdline", &cmdline) < 0 || !boot_cmdline_has(cmdline, TRIAL_CMDLINE_MARK))
                return 0;
        /* generators write only below their output directory, which exists */
        if (asprintf(&dropin, "%s/boot-complete.target.d", dir) < 0 ||
            asprintf(&conf, "%s/kernelkeeper-trial.conf", dropin) < 0 ||
            asprintf(&wants, "%s/default.target.wants", dir) < 0 ||
            asprintf(&link, "%s/kernelkeeper-health.service", wants) < 0)
                return log_oom();
        if ((mkdir(dropin, 0755) < 0 && errno != EEXIST) || (mkdir(wants, 0755) < 0 && errno != EEXIST))
                return log_error_errno(errno, "Cannot create %s: %m", dropin);
        /* a trial that hangs in userspace is rebooted by systemd itself: GRUB already saved the
         * known-good entry, and the next boot's `boots record` ends the trial */
        _cleanup_free_ char *text = NULL;
        if (asprintf(&text,
                     "# Written by kernelkeeper's generator: this boot is a kernel trial\n"
                     "[Unit]\nJobTimeoutSec=%u\nJobTimeoutAction=reboot-force\n",
                     ctx->config.trial_health_timeout_sec) < 0)
                return log_oom();
        int r = write_file_atomic(conf, text, strlen(text), 0644, 0);
        if (r < 0)
                return log_error_errno(r, "Cannot write %s: %m", conf);
        if (symlink(UNITDIR "/kernelkeeper-health.service", link) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Cannot create %s: %m", link);
        return 0;
}

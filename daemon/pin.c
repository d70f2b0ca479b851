/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <string.h>

#include "boot/trial-state.h"
#include "common/macro.h"
#include "common/strv.h"
#include "daemon/kernel-trial.h"
#include "daemon/log.h"
#include "daemon/menu-txn.h"
#include "daemon/pin.h"
#include "daemon/state.h"

void pin_done(Pin *p)
{
        free(p->default_sel);
        strv_free(p->fallback_sels);
        *p = (Pin){};
}

int pin_from_state(json_t *state, Pin *ret)
{
        json_t *j = json_object_get(state, "pin");
        if (!j)
                return -ENOENT;
        /* state_load() refuses wrong types; a pin that is there but unreadable is never "no pin" */
        const char *d = json_string_value(json_object_get(j, "default"));
        if (!d)
                return -EBADMSG;
        Pin p = {};
        if (!(p.default_sel = strdup(d)))
                return -ENOMEM;
        json_t *fb = json_object_get(j, "fallback");
        if (fb && !json_is_array(fb)) {
                pin_done(&p);
                return -EBADMSG;
        }
        if (fb) {
                if (!(p.fallback_sels = calloc(1, sizeof(char *)))) {
                        pin_done(&p);
                        return -ENOMEM;
                }
                size_t i;
                json_t *v;
                json_array_foreach(fb, i, v) if (!json_is_string(v) || strv_push(&p.fallback_sels, json_string_value(v)) < 0)
                {
                        pin_done(&p);
                        return json_is_string(v) ? -ENOMEM : -EBADMSG;
                }
        }
        *ret = p;
        return 0;
}

int pin_to_state(json_t *state, const Pin *p)
{
        _cleanup_free_ char *now = now_iso8601();
        json_t *j = json_pack("{s:s, s:s}", "default", p->default_sel, "pinned_at", now ? now : "unknown");
        if (!j)
                return -ENOMEM;
        if (p->fallback_sels) {
                json_t *fb = json_array();
                for (char **s = p->fallback_sels; *s; s++)
                        json_array_append_new(fb, json_string(*s));
                json_object_set_new(j, "fallback", fb);
        }
        return json_object_set_new(state, "pin", j) < 0 ? -ENOMEM : 0;
}

/* A problem with the pin itself when the caller words it (ret_problem given): one sentence that
 * names the selector by its place, never by its text (it may come from user data). Returns r. */
static int quiet_problem(char **ret_problem, int r, const char *fmt, ...) _printf_(3, 4);
static int quiet_problem(char **ret_problem, int r, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(ret_problem, fmt, ap) < 0)
                *ret_problem = NULL;
        va_end(ap);
        return r;
}

/* what: "default" or "fallback N". Without ret_problem the error is logged quoting the selector
 * the administrator typed. */
static int resolve(const LoadedMenu *lm, const char *sel, const char *what, char **ret_problem, int *ret)
{
        MenuSelectError e;
        int r = menulst_select(lm->info, sel, &e, ret);
        if (r >= 0)
                return 0;
        bool several = e == MENU_SELECT_AMBIGUOUS;
        if (ret_problem)
                return quiet_problem(ret_problem, several ? r : -ENOENT, "the pin's %s selector matches %s of %s",
                                     what, several ? "several entries" : "no entry", lm->path);
        if (several)
                return log_error_errno(r, "'%s' matches several entries of %s; use title=, kernel= or release=", sel,
                                       lm->path);
        return log_error_errno(ENOENT, "No entry of %s matches '%s'", lm->path, sel);
}

static void format_list(char *buf, size_t size, const int *l, size_t n)
{
        size_t k = (size_t) snprintf(buf, size, "[");
        for (size_t i = 0; i < n && k < size; i++)
                k += (size_t) snprintf(buf + k, size - k, "%s%d", i ? "," : "", l[i]);
        if (k < size)
                snprintf(buf + k, size - k, "]");
}

/* check_only: resolve and validate everything, write nothing (outcome: what a write would do) */
static int enforce(const Context *ctx, const Pin *pin, bool check_only, PinOutcome *ret_outcome, char **ret_summary,
                   LoadedMenu **ret_seen, char **ret_problem)
{
        _cleanup_(loaded_menu_freep) LoadedMenu *lm = NULL;
        int r = menu_load(ctx, &lm);
        if (r < 0)
                return r;
        const MenuInfo *info = lm->info;

        int want_default, want_fb[MENULST_MAX_FALLBACK];
        size_t n_fb = 0;
        r = resolve(lm, pin->default_sel, "default", ret_problem, &want_default);
        if (r < 0)
                return r;
        for (char **s = pin->fallback_sels; s && *s; s++) {
                char what[32];
                snprintf(what, sizeof what, "fallback %zu", n_fb + 1);
                int idx;
                r = resolve(lm, *s, what, ret_problem, &idx);
                if (r < 0)
                        return r;
                if (idx == want_default)
                        return ret_problem ? quiet_problem(ret_problem, -EINVAL,
                                                           "the pin's %s selector is the pinned default itself", what)
                                           : log_error_errno(EINVAL, "Fallback '%s' is the pinned default itself", *s);
                if (n_fb == MENULST_MAX_FALLBACK)
                        return ret_problem ? quiet_problem(ret_problem, -E2BIG,
                                                           "GRUB takes at most %d fallback entries",
                                                           MENULST_MAX_FALLBACK)
                                           : log_error_errno(E2BIG, "GRUB takes at most %d fallback entries",
                                                             MENULST_MAX_FALLBACK);
                want_fb[n_fb++] = idx;
        }

        bool fb_ok = !pin->fallback_sels ||
                     (info->n_fallback == n_fb && memcmp(info->fallback, want_fb, n_fb * sizeof(int)) == 0);
        if (info->default_entry == want_default && fb_ok) {
                *ret_outcome = PIN_HELD;
                if (ret_summary)
                        *ret_summary = NULL;
                if (ret_seen)
                        *ret_seen = TAKE_PTR(lm);
                return 0;
        }

        /* refuse before touching anything if the pinned kernel itself is gone */
        _cleanup_strv_free_ char **problems = NULL;
        r = menulst_entry_problems(info, &lm->fs, want_default, &problems);
        if (r < 0)
                return log_oom();
        if (problems && problems[0]) {
                if (ret_problem)
                        return quiet_problem(ret_problem, -ENOENT, "the pinned entry cannot boot, menu left as it is: %s",
                                             problems[0]);
                const char *fields[] = { "KK_PIN_DEFAULT=", NULL };
                _cleanup_free_ char *f = NULL;
                if (asprintf(&f, "KK_PIN_DEFAULT=%s", pin->default_sel) >= 0)
                        fields[0] = f;
                log_event(LOG_ERR, KK_MESSAGE_PINNED_KERNEL_MISSING, fields,
                          "Pinned entry cannot boot, menu left as it is: %s", problems[0]);
                return -ENOENT;
        }
        if (check_only) {
                /* under `default saved` the default file is what changes */
                r = info->default_saved ? menu_check_default_writable(lm) : 0;
                if (r < 0)
                        return r;
                *ret_outcome = PIN_RESTORED;
                return 0;
        }

        _cleanup_(menu_info_freep) MenuInfo *after = NULL;
        r = menu_write_boot_order(ctx, lm, lm->menu, want_default, pin->fallback_sels ? want_fb : NULL, n_fb, &after);
        if (r < 0)
                return r;

        if (ret_summary) {
                char before_fb[128], after_fb[128];
                format_list(before_fb, sizeof before_fb, info->fallback, info->n_fallback);
                format_list(after_fb, sizeof after_fb, after->fallback, after->n_fallback);
                if (asprintf(ret_summary, "default %d->%d, fallback %s->%s", info->default_entry,
                             after->default_entry, before_fb, after_fb) < 0)
                        *ret_summary = NULL;
        }
        *ret_outcome = PIN_RESTORED;
        if (ret_seen)
                *ret_seen = TAKE_PTR(lm);
        return 0;
}

int pin_enforce(const Context *ctx, const Pin *pin, PinOutcome *ret_outcome, char **ret_summary,
                LoadedMenu **ret_seen, char **ret_problem)
{
        return enforce(ctx, pin, false, ret_outcome, ret_summary, ret_seen, ret_problem);
}

int pin_set(const Context *ctx, const Pin *pin, PinOutcome *ret_outcome, char **ret_summary, char **ret_problem)
{
        _cleanup_close_ int lock = -EBADF;
        int r = writers_begin(ctx, true, &lock);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *state = NULL, *old = NULL;
        r = state_load(ctx, &state);
        if (r < 0)
                return r;
        if (trial_in_flight(state))
                return log_error_errno(EBUSY, "A kernel trial is in flight; commit or roll it back before changing the pin");
        _cleanup_free_ char *state_file = NULL;
        bool had_state = state_path(ctx, &state_file) >= 0 && access(state_file, F_OK) >= 0;
        PinOutcome outcome;
        r = enforce(ctx, pin, true, &outcome, NULL, NULL, ret_problem);
        if (r < 0)
                return r;

        /* the state first: a pin that cannot be recorded must not reach /boot */
        old = json_deep_copy(state);
        if (!old || pin_to_state(state, pin) < 0)
                return log_oom();
        r = state_save(ctx, state);
        if (r < 0)
                return r;
        r = pin_enforce(ctx, pin, ret_outcome, ret_summary, NULL, ret_problem);
        if (r < 0 && had_state)
                (void) state_save(ctx, old);
        else if (r < 0) {
                /* there was none: there is none (the directory exists by now) */
                _cleanup_free_ char *saved = NULL;
                if (state_path(ctx, &saved) >= 0)
                        (void) unlink(saved);
        }
        return r;
}

static int record_restore(const Context *ctx, json_t *state, const char *summary)
{
        _cleanup_free_ char *now = now_iso8601();
        json_t *j = json_pack("{s:s, s:s}", "at", now ? now : "unknown", "change", summary ? summary : "");
        if (!j || json_object_set_new(state, "last_restore", j) < 0)
                return log_oom();
        /* a counter, so tests and `status` can tell one restore per foreign rewrite from a fight */
        json_int_t n = json_integer_value(json_object_get(state, "restores"));
        if (json_object_set_new(state, "restores", json_integer(n + 1)) < 0)
                return log_oom();
        return state_save(ctx, state);
}

bool trial_in_flight(json_t *state)
{
        json_t *t = json_object_get(state, "trial");
        return trial_phase_in_flight(trial_phase_from_string(json_string_value(json_object_get(t, "phase"))));
}

int pin_reapply(const Context *ctx, PinOutcome *ret_outcome, char **ret_default_sel, LoadedMenu **ret_seen)
{
        _cleanup_json_ json_t *state = NULL;
        int r = state_load(ctx, &state);
        if (r < 0)
                return r;
        _cleanup_(pin_done) Pin pin = {};
        r = pin_from_state(state, &pin);
        /* a kernel trial owns the boot order until it ends: its layout is put back, not the plain pin */
        bool trial = trial_in_flight(state);
        if (r == -ENOENT && !trial) {
                *ret_outcome = PIN_NONE;
                if (ret_default_sel)
                        *ret_default_sel = NULL;
                if (ret_seen)
                        *ret_seen = NULL;
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "The recorded pin is missing or corrupt: %m");

        PinOutcome outcome;
        _cleanup_free_ char *summary = NULL;
        _cleanup_(loaded_menu_freep) LoadedMenu *seen = NULL;
        if (trial) {
                r = kernel_trial_reapply(ctx, state, &summary, ret_seen ? &seen : NULL);
                outcome = summary ? PIN_RESTORED : PIN_TRIAL;
        } else
                r = pin_enforce(ctx, &pin, &outcome, &summary, ret_seen ? &seen : NULL, NULL);
        if (r < 0)
                return r;
        if (outcome == PIN_RESTORED) {
                _cleanup_free_ char *f = NULL;
                const char *fields[] = { NULL, NULL };
                if (asprintf(&f, "KK_CHANGE=%s", summary ? summary : "") >= 0)
                        fields[0] = f;
                log_event(LOG_NOTICE, KK_MESSAGE_PIN_RESTORED, fields, "Pin restored (%s)", summary ? summary : "");
                r = record_restore(ctx, state, summary);
                if (r < 0)
                        return r;
        }
        *ret_outcome = outcome;
        if (ret_default_sel)
                *ret_default_sel = TAKE_PTR(pin.default_sel);
        if (ret_seen)
                *ret_seen = TAKE_PTR(seen);
        return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "boot/trial-state.h"
#include "common/chase.h"
#include "common/fileio.h"
#include "common/macro.h"
#include "daemon/log.h"
#include "daemon/state.h"

char *now_iso8601(void)
{
        char buf[32];
        time_t t = time(NULL);
        struct tm tm;
        if (!gmtime_r(&t, &tm) || strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return strdup("unknown");
        return strdup(buf);
}

#define STATE_FILE "state.json"

/* ROOT/STATE_DIR/state.json for messages (resolution goes through chase_in_root()) */
static char *state_shown(const Context *ctx)
{
        _cleanup_free_ char *dir = path_join_root(ctx->root, ctx->config.state_dir);
        char *r = NULL;
        if (!dir || asprintf(&r, "%s/" STATE_FILE, dir) < 0)
                return NULL;
        return r;
}

/* The types of what each subsystem keeps under its top-level key: one place, so that a state file
 * edited by hand or damaged is refused as corrupt instead of read as "nothing recorded". Keys not
 * listed here are left alone. Each check returns NULL or what is wrong. */
static bool is_string_or_absent(json_t *o, const char *key)
{
        json_t *v = json_object_get(o, key);
        return !v || json_is_string(v);
}

static bool is_array_of(json_t *a, bool (*check)(const json_t *))
{
        if (!json_is_array(a))
                return false;
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v) if (!check(v)) return false;
        return true;
}

static bool is_string(const json_t *v)
{
        return json_is_string(v);
}

static bool is_object(const json_t *v)
{
        return json_is_object(v);
}

static const char *check_pin(json_t *v)
{
        json_t *fb = json_object_get(v, "fallback");
        if (!json_is_object(v) || !json_is_string(json_object_get(v, "default")) ||
            !is_string_or_absent(v, "pinned_at"))
                return "\"pin\" is not an object with a string \"default\"";
        if (fb && !is_array_of(fb, is_string))
                return "\"pin\".\"fallback\" is not an array of strings";
        return NULL;
}

static const char *check_last_restore(json_t *v)
{
        if (!json_is_object(v) || !json_is_string(json_object_get(v, "at")) ||
            !is_string_or_absent(v, "change"))
                return "\"last_restore\" is not an object with a string \"at\"";
        return NULL;
}

static const char *check_restores(json_t *v)
{
        return json_is_integer(v) && json_integer_value(v) >= 0 ? NULL : "\"restores\" is not a count";
}

static const char *check_userdata(json_t *v)
{
        if (!json_is_object(v))
                return "\"userdata\" is not an object";
        static const char *const strings[] = { "instance_id", "boot_id", "fetched_at", "error" };
        for (size_t i = 0; i < ELEMENTSOF(strings); i++)
                if (!is_string_or_absent(v, strings[i]))
                        return "\"userdata\" holds a non-string id, time or error";
        json_t *identity = json_object_get(v, "identity"), *parts = json_object_get(v, "parts"),
               *runs = json_object_get(v, "runs");
        if ((identity && !json_is_object(identity)) || (parts && !is_array_of(parts, is_object)))
                return "\"userdata\".\"identity\" or \"parts\" has the wrong type";
        if (runs && !json_is_object(runs))
                return "\"userdata\".\"runs\" is not an object";
        const char *hash;
        json_t *run;
        /* what decides whether a part runs again */
        json_object_foreach(runs, hash, run) {
                json_t *attempts = json_object_get(run, "attempts");
                if (!json_is_object(run) || !json_is_string(json_object_get(run, "scope")) ||
                    !json_is_string(json_object_get(run, "status")) ||
                    (attempts && !json_is_integer(attempts)))
                        return "a \"userdata\".\"runs\" record lacks a string scope and status";
        }
        return NULL;
}

static bool is_string_or_null(json_t *o, const char *key)
{
        json_t *v = json_object_get(o, key);
        return !v || json_is_string(v) || json_is_null(v);
}

/* what the trial's next step is decided on: its phase, boot ids and the two entries' titles */
static const char *check_trial(json_t *v)
{
        if (!json_is_object(v) || trial_phase_from_string(json_string_value(json_object_get(v, "phase"))) ==
                                          _TRIAL_PHASE_MAX)
                return "\"trial\" is not an object with a known \"phase\"";
        static const char *const ids[] = { "armed_boot_id", "trial_boot_id", "started", "ended", "reason" };
        for (size_t i = 0; i < ELEMENTSOF(ids); i++)
                if (!is_string_or_null(v, ids[i]))
                        return "\"trial\" holds a boot id, time or reason that is not a string";
        static const char *const entries[] = { "good", "trial" };
        for (size_t i = 0; i < ELEMENTSOF(entries); i++) {
                json_t *e = json_object_get(v, entries[i]);
                if (!json_is_object(e) || !json_is_string(json_object_get(e, "title")))
                        return "\"trial\" lacks the title of its known-good or trial entry";
        }
        json_t *pre = json_object_get(v, "pre");
        if (!json_is_object(pre) || !is_string_or_null(pre, "default") || !is_string_or_null(pre, "fallback"))
                return "\"trial\".\"pre\" is not the menu's default and fallback lines";
        return NULL;
}

static bool is_boot_record(const json_t *v)
{
        json_t *o = (json_t *) v;
        return json_is_object(o) && is_string_or_null(o, "boot_id") && json_is_string(json_object_get(o, "outcome"));
}

static const char *check_boots(json_t *v)
{
        return is_array_of(v, is_boot_record) ? NULL : "\"boots\" is not a list of boot records";
}

/* what `module swap` recorded: a history and, per module, the swap in force and the persisted one */
static const char *check_modules(json_t *v)
{
        json_t *swaps = json_object_get(v, "swaps"), *in_flight = json_object_get(v, "in_flight");
        if (!json_is_object(v) || (swaps && !is_array_of(swaps, is_object)))
                return "\"modules\" is not an object with a list of swaps";
        if (in_flight && (!json_is_object(in_flight) || !json_is_string(json_object_get(in_flight, "name")) ||
                          !is_array_of(json_object_get(in_flight, "modules"), is_object)))
                return "\"modules\".\"in_flight\" is not the record of a swap";
        static const char *const maps[] = { "active", "persisted" };
        for (size_t i = 0; i < ELEMENTSOF(maps); i++) {
                json_t *m = json_object_get(v, maps[i]), *rec;
                const char *name;
                if (m && !json_is_object(m))
                        return "\"modules\" holds a swap table that is not an object";
                json_object_foreach(m, name, rec) if (!json_is_object(rec) || !is_string_or_absent(rec, "file") ||
                                                       !json_is_string(json_object_get(rec, "release")))
                        return "a \"modules\" swap record lacks its release or has a non-string file";
        }
        return NULL;
}

static const struct {
        const char *key;
        const char *(*check)(json_t *v);
} owned_keys[] = {
        { "pin", check_pin },
        { "last_restore", check_last_restore },
        { "restores", check_restores },
        { "userdata", check_userdata },
        { "trial", check_trial },
        { "boots", check_boots },
        { "modules", check_modules },
};

static const char *state_check(json_t *state)
{
        for (size_t i = 0; i < ELEMENTSOF(owned_keys); i++) {
                json_t *v = json_object_get(state, owned_keys[i].key);
                const char *why = v ? owned_keys[i].check(v) : NULL;
                if (why)
                        return why;
        }
        return NULL;
}

int state_dir_create(const Context *ctx, char **ret_dir)
{
        _cleanup_free_ char *dir = NULL;
        int r = mkdir_in_root(ctx->root, ctx->config.state_dir, 0700, &dir);
        if (r < 0)
                return r;
        *ret_dir = TAKE_PTR(dir);
        return 0;
}

int state_path(const Context *ctx, char **ret_path)
{
        _cleanup_free_ char *dir = NULL;
        int r = chase_in_root(ctx->root, ctx->config.state_dir, CHASE_NONEXISTENT, &dir);
        if (r < 0)
                return r;
        return asprintf(ret_path, "%s/" STATE_FILE, dir) < 0 ? -ENOMEM : 0;
}

int state_load(const Context *ctx, json_t **ret)
{
        _cleanup_free_ char *rel = NULL, *data = NULL, *shown = state_shown(ctx);
        if (!shown || asprintf(&rel, "%s/" STATE_FILE, ctx->config.state_dir) < 0)
                return log_oom();
        size_t size;
        /* kernelkeeper's own file: a link there is refused, never followed */
        int r = read_full_file_in_root(ctx->root, rel, CHASE_NOFOLLOW_LAST, 16 * 1024 * 1024, &data, &size);
        if (r == -ENOENT) {
                *ret = json_object();
                return *ret ? 0 : -ENOMEM;
        }
        if (r < 0)
                return log_file_error(r, "read", shown);
        /* the parser's message may quote the file: only the position is shown */
        json_error_t err;
        json_t *j = json_loadb(data, size, 0, &err);
        const char *why = !j ? NULL : !json_is_object(j) ? "not an object" : state_check(j);
        if (!j)
                r = log_error_errno(EBADMSG,
                                    "%s is corrupt (not JSON at line %d, column %d); move it away to start afresh",
                                    shown, err.line, err.column);
        else if (why)
                r = log_error_errno(EBADMSG, "%s is corrupt (%s); move it away to start afresh", shown, why);
        if (r < 0) {
                json_decref(j);
                return r;
        }
        *ret = j;
        return 0;
}

int state_save(const Context *ctx, json_t *state)
{
        _cleanup_free_ char *dir = NULL, *path = NULL;
        int r = state_dir_create(ctx, &dir);
        if (r < 0) {
                _cleanup_free_ char *shown = path_join_root(ctx->root, ctx->config.state_dir);
                return log_error_errno(r, "Cannot create the state directory %s: %m",
                                       shown ? shown : ctx->config.state_dir);
        }
        (void) chmod(dir, 0700);
        if (asprintf(&path, "%s/" STATE_FILE, dir) < 0)
                return log_oom();
        _cleanup_free_ char *text = json_dumps(state, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (!text)
                return log_oom();
        size_t n = strlen(text);
        text[n] = '\n';
        r = write_file_atomic(path, text, n + 1, 0600, 0);
        text[n] = 0;
        if (r < 0)
                return log_file_error(r, "write", path);
        return 0;
}

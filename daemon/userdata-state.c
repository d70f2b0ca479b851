/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "common/macro.h"
#include "daemon/log.h"
#include "daemon/state.h"
#include "daemon/userdata.h"

/* state.json "userdata":
 *   instance_id, boot_id, fetched_at, identity {region, ...}, parts [{index, kind, type, frequency,
 *   sha256, size, filename}], error   -- what the last fetch decoded (never the bodies), or why not
 *   runs {SHA256: {index, type, frequency, scope, status, attempts, started, ended, exit_status,
 *                  signal, duration_ms, log, note}}
 * A run is keyed by the part's hash and holds the scope it ran in (instance id, boot id or "once"):
 * a part runs when its record is missing or from another scope. status "started" is written before
 * the script runs and replaced when it ends, so a "started" found later means the run was cut off. */

const char *userdata_scope(UserDataFrequency f, const char *instance_id, const char *boot_id)
{
        switch (f) {
        case USERDATA_PER_BOOT:
                return boot_id;
        case USERDATA_ONCE:
                return "once";
        case USERDATA_PER_INSTANCE:
        default:
                return instance_id;
        }
}

static json_t *object_child(json_t *parent, const char *key)
{
        json_t *o = json_object_get(parent, key);
        if (json_is_object(o))
                return o;
        o = json_object();
        if (!o || json_object_set_new(parent, key, o) < 0)
                return NULL;
        return o;
}

static json_t *run_record(json_t *state, const char *hash)
{
        json_t *r = json_object_get(json_object_get(json_object_get(state, "userdata"), "runs"), hash);
        return json_is_object(r) ? r : NULL;
}

RunDecision userdata_decide(json_t *state, const UserDataPart *p, const char *scope, unsigned *ret_attempt)
{
        json_t *rec = run_record(state, p->sha256);
        const char *rec_scope = json_string_value(json_object_get(rec, "scope"));
        if (!rec || !rec_scope || !streq(rec_scope, scope)) {
                *ret_attempt = 1;
                return RUN_FIRST;
        }
        const char *status = json_string_value(json_object_get(rec, "status"));
        if (!status || !streq(status, "started"))
                return RUN_SKIP;
        json_int_t attempts = json_integer_value(json_object_get(rec, "attempts"));
        /* unlike cloud-init, a run cut off by a crash or reboot gets one more chance, only one */
        if (attempts < 2) {
                *ret_attempt = (unsigned) MAX(attempts, (json_int_t) 1) + 1;
                return RUN_AGAIN;
        }
        *ret_attempt = (unsigned) attempts;
        return RUN_GIVE_UP;
}

/* Load, edit one run record, save: the state may have been changed by others since we looked. */
static int update_run(const Context *ctx, const UserDataPart *p, json_t *fields, bool replace)
{
        _cleanup_json_ json_t *f = fields;
        if (!f)
                return log_oom();
        _cleanup_json_ json_t *state = NULL;
        int r = state_load(ctx, &state);
        if (r < 0)
                return r;
        json_t *runs = object_child(object_child(state, "userdata"), "runs");
        if (!runs)
                return log_oom();
        json_t *rec = replace ? NULL : run_record(state, p->sha256);
        if (!rec) {
                rec = json_object();
                if (!rec || json_object_set_new(runs, p->sha256, rec) < 0)
                        return log_oom();
        }
        if (json_object_update(rec, f) < 0)
                return log_oom();
        return state_save(ctx, state);
}

int userdata_record_started(const Context *ctx, const UserDataPart *p, const char *scope, unsigned attempt,
                            const char *log_path)
{
        _cleanup_free_ char *now = now_iso8601();
        return update_run(ctx, p,
                          json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:s, s:s?}", "index", (json_int_t) p->index, "type",
                                    p->content_type, "frequency", userdata_frequency_to_string(p->frequency), "scope",
                                    scope, "status", "started", "attempts", (json_int_t) attempt, "started",
                                    now ? now : "unknown", "log", log_path),
                          true);
}

int userdata_record_finished(const Context *ctx, const UserDataPart *p, const char *scope, const char *status,
                             const ScriptOutcome *o, const char *note)
{
        _cleanup_free_ char *now = now_iso8601();
        json_t *f = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "index", (json_int_t) p->index, "type",
                              p->content_type, "frequency", userdata_frequency_to_string(p->frequency), "scope", scope,
                              "status", status, "ended", now ? now : "unknown");
        if (f && o) {
                json_object_set_new(f, "duration_ms", json_integer(o->duration_msec));
                if (o->signal)
                        json_object_set_new(f, "signal", json_integer(o->signal));
                else
                        json_object_set_new(f, "exit_status", json_integer(o->exit_status));
                if (o->timed_out)
                        note = "timed out; its process group was killed";
        }
        if (f && note)
                json_object_set_new(f, "note", json_string(note));
        return update_run(ctx, p, f, false);
}

int userdata_record_attach(const Context *ctx, const UserDataPart *p, const char *key, json_t *value)
{
        return update_run(ctx, p, value ? json_pack("{s:o}", key, value) : NULL, false);
}

int userdata_record_fetch(const Context *ctx, const char *instance_id, const char *boot_id, json_t *identity,
                          const UserData *u, const char *error)
{
        _cleanup_json_ json_t *state = NULL;
        int r = state_load(ctx, &state);
        if (r < 0)
                return r;
        json_t *ud = object_child(state, "userdata");
        _cleanup_free_ char *now = now_iso8601();
        json_t *parts = json_array();
        if (!ud || !parts)
                return json_decref(parts), log_oom();
        for (size_t i = 0; u && i < u->n_parts; i++) {
                const UserDataPart *p = &u->parts[i];
                json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:s?}", "index", (json_int_t) p->index, "kind",
                                      userdata_kind_to_string(p->kind), "type", p->content_type, "frequency",
                                      userdata_frequency_to_string(p->frequency), "sha256", p->sha256, "size",
                                      (json_int_t) p->size, "filename", p->filename);
                if (!j || json_array_append_new(parts, j) < 0)
                        return json_decref(parts), log_oom();
        }
        /* only what identifies the machine; the document's other fields are not ours to keep */
        json_t *id = json_object();
        static const char *const keep[] = { "instanceId", "region", "availabilityZone", "imageId", "instanceType",
                                            "architecture" };
        for (size_t i = 0; id && identity && i < ELEMENTSOF(keep); i++) {
                json_t *v = json_object_get(identity, keep[i]);
                if (json_is_string(v))
                        json_object_set(id, keep[i], v);
        }
        if (!id || json_object_set_new(ud, "parts", parts) < 0 || json_object_set_new(ud, "identity", id) < 0 ||
            json_object_set_new(ud, "instance_id", json_string(instance_id)) < 0 ||
            json_object_set_new(ud, "boot_id", json_string(boot_id)) < 0 ||
            json_object_set_new(ud, "fetched_at", json_string(now ? now : "unknown")) < 0 ||
            json_object_set_new(ud, "gzip", json_boolean(u && u->gzip)) < 0 ||
            json_object_set_new(ud, "mime", json_boolean(u && u->mime)) < 0)
                return log_oom();
        if (!error)
                (void) json_object_del(ud, "error");
        else if (json_object_set_new(ud, "error", json_string(error)) < 0)
                return log_oom();
        return state_save(ctx, state);
}

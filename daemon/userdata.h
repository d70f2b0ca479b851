/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "daemon/context.h"
#include "metadata/userdata.h"

/* The user-data runner (`kernelkeeper userdata run`), split by what each file does:
 *  userdata-exec.c   runs one script: memfd, own session, clean environment, output to the log
 *                    file (and the journal under systemd), timeout that kills the process group;
 *  userdata-state.c  the "userdata" key of state.json: run records and the decision to run;
 *  verb-userdata.c   fetch, decode, run in order, apply directives, `userdata show`. */

/* ---- userdata-exec.c ---- */

typedef struct ScriptOutcome {
        int exit_status;  /* when !signal */
        int signal;       /* the signal that ended it, or 0 */
        bool timed_out;
        long long duration_msec;
} ScriptOutcome;

typedef struct ScriptRun {
        const UserDataPart *part;
        const char *script_path; /* the sealed copy (userdata_script_copy()), executed by path */
        const char *instance_id;
        const char *cwd;
        unsigned timeout_sec;  /* 0: none */
        int log_fd;            /* the part's 0600 log file */
        bool to_journal;       /* also send the output to the journal */
} ScriptRun;

/* Where the sealed copies of the scripts live while they run: <dir>/<instance>/part-<n> */
#define USERDATA_SCRIPT_DIR "/run/kernelkeeper-userdata"

/* Writes part p's text to ROOT/run/kernelkeeper-userdata/<instance>/part-<n> (directories 0700, the
 * file 0500, atomically); *ret_path is its host path. The caller unlinks it after the run. */
int userdata_script_copy(const Context *ctx, const char *instance_id, const UserDataPart *p, char **ret_path);

/* Runs the script and waits for it (or for its timeout). Errors are about starting it; the
 * script's own failure is in *ret. */
int userdata_script_exec(const ScriptRun *run, ScriptOutcome *ret);

/* ROOT/var/log/kernelkeeper (LogDirectory=) created 0700, then userdata-<instance>-<n>.log opened
 * for appending, mode 0600. */
int userdata_log_open(const Context *ctx, const char *instance_id, unsigned index, int *ret_fd, char **ret_path);

/* The boot id: ROOT/proc/sys/kernel/random/boot_id if the tree has one, else the host's. */
int userdata_boot_id(const Context *ctx, char **ret);

/* ---- userdata-state.c ---- */

typedef enum RunDecision {
        RUN_FIRST,        /* never ran in this scope */
        RUN_AGAIN,        /* the one re-run of an attempt cut off by a crash or reboot */
        RUN_SKIP,         /* done in this scope (whatever its result) */
        RUN_GIVE_UP,      /* cut off twice: recorded as failed, not run again */
} RunDecision;

/* The scope a part runs once in: the instance id, the boot id, or "once". */
const char *userdata_scope(UserDataFrequency f, const char *instance_id, const char *boot_id);

/* Looks at state.userdata.runs[part hash]; *ret_attempt is the attempt number to record. */
RunDecision userdata_decide(json_t *state, const UserDataPart *p, const char *scope, unsigned *ret_attempt);

/* Writes the "started" marker (before running) or the final record (after); each loads the state
 * afresh, changes only userdata.runs[hash] and saves, so other subsystems' keys survive. note (may
 * be NULL): why it failed or was skipped, naming the part, never quoting it. */
int userdata_record_started(const Context *ctx, const UserDataPart *p, const char *scope, unsigned attempt,
                            const char *log_path);
int userdata_record_finished(const Context *ctx, const UserDataPart *p, const char *scope, const char *status,
                             const ScriptOutcome *o, const char *note);
/* Adds key: value (taken) to the part's run record, e.g. a directive's module swap results. */
int userdata_record_attach(const Context *ctx, const UserDataPart *p, const char *key, json_t *value);
/* Records what was fetched (instance, identity summary, the parts without bodies) for `show`. */
int userdata_record_fetch(const Context *ctx, const char *instance_id, const char *boot_id, json_t *identity,
                          const UserData *u, const char *error);

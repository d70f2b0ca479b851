/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The life of one kernel trial, as a pure state machine: what happened (an arm, a boot seen by the
 * early boot unit, a health verdict, a commit or rollback by hand) moves the trial on and says what
 * the caller must now do to the disk. Nothing here reads the clock, the disk or /proc: the daemon
 * hands in what it observed and carries out the action, then records the new state.
 *
 *   armed --(a boot with the trial's mark)----------------> booted --(healthy)--> committed
 *     |                                                        |
 *     +--(a boot without the mark: the trial died before       +--(a check failed, the deadline,
 *         userspace, GRUB already fell back)--> failed             or the next boot came without a
 *                                                                  verdict)--> failed
 * A failed trial is never tried again by itself; `kernel rollback` ends an armed or booted trial. */

#include <stdbool.h>

typedef enum TrialPhase {
        TRIAL_PHASE_NONE,      /* no trial recorded */
        TRIAL_PHASE_ARMED,     /* the next boot is the trial's */
        TRIAL_PHASE_BOOTED,    /* the trial kernel is (or was) up; its health is being judged */
        TRIAL_PHASE_COMMITTED, /* healthy: the trial kernel is the pinned default now */
        TRIAL_PHASE_FAILED,    /* judged bad, or died: the known-good kernel is the default again */
        _TRIAL_PHASE_MAX,
} TrialPhase;

typedef enum TrialAction {
        TRIAL_ACTION_NONE,
        TRIAL_ACTION_WATCH_HEALTH, /* this boot is the trial: run the health checks, with the deadline */
        TRIAL_ACTION_COMMIT,       /* make the trial kernel the default, G the fallback; disarm */
        TRIAL_ACTION_DISARM,       /* trial over, G already boots: put the plain pin back, both files = G */
        TRIAL_ACTION_DISARM_REBOOT,/* the same, then reboot into G (we are running the failed trial) */
} TrialAction;

typedef enum TrialEvent {
        TRIAL_EVENT_BOOT,          /* the early unit saw a boot (boot_id, trial mark) */
        TRIAL_EVENT_HEALTHY,       /* every check passed within the deadline, on the trial boot */
        TRIAL_EVENT_UNHEALTHY,     /* a check failed or the deadline passed (reason given) */
        TRIAL_EVENT_COMMIT,        /* `kernel commit` by hand */
        TRIAL_EVENT_ROLLBACK,      /* `kernel rollback` by hand */
} TrialEvent;

/* What the state file keeps between boots. Strings are owned by the caller. */
typedef struct TrialState {
        TrialPhase phase;
        const char *armed_boot_id; /* the boot that armed the trial */
        const char *trial_boot_id; /* the trial's own boot, once seen */
} TrialState;

typedef struct TrialInput {
        TrialEvent event;
        const char *boot_id;  /* the current boot */
        bool trial_mark;      /* this boot came from the trial entry (kernelkeeper.trial=1) */
        bool auto_commit;     /* AutoCommit= */
        const char *reason;   /* UNHEALTHY: which check, or the deadline */
} TrialInput;

typedef struct TrialStep {
        TrialPhase phase;       /* the new phase */
        TrialAction action;
        bool set_trial_boot_id; /* record input->boot_id as the trial's boot */
        const char *reason;     /* FAILED: why (static text, or the input's reason) */
} TrialStep;

/* Returns 0 and the step, or -EINVAL for an event that makes no sense in this phase (commit with no
 * trial, rollback of a finished trial, health outside the trial boot): the caller reports it. */
int trial_step(const TrialState *s, const TrialInput *in, TrialStep *ret);

const char *trial_phase_to_string(TrialPhase p);
TrialPhase trial_phase_from_string(const char *s); /* _TRIAL_PHASE_MAX if unknown */
bool trial_phase_in_flight(TrialPhase p);          /* armed or booted */

#define TRIAL_REASON_BEFORE_USERSPACE "the trial failed before userspace (panic, hang or load failure): GRUB booted the known-good kernel"
#define TRIAL_REASON_NO_VERDICT "the trial boot ended before its health was judged: a userspace hang rebooted at the HealthTimeoutSec= deadline, a crash or a reset"
#define TRIAL_REASON_AGAIN "the trial kernel was booted again after a boot without a verdict (a loader switch left the other state file armed)"
#define TRIAL_REASON_NEVER_ARMED "the trial was recorded but never armed on disk (kernel trial was cut off); nothing was booted"
#define TRIAL_REASON_ROLLBACK "rolled back by hand (kernel rollback)"

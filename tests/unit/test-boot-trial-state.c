/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The trial state machine: every phase against every event, and the boot sequences of
 * boot-trial.md (panic, health failure, commit, loader switch) walked through it. */
#include "boot/trial-state.h"
#include "common/macro.h"
#include "tests/tap.h"

typedef struct Case {
        const char *name;
        TrialPhase phase;
        const char *armed, *trial;   /* boot ids in the state */
        TrialEvent event;
        const char *boot;            /* current boot id */
        bool mark, auto_commit;
        int ret;
        TrialPhase next;
        TrialAction action;
        bool set_trial_boot;
} Case;

static const Case cases[] = {
        { "armed, same boot: nothing", TRIAL_PHASE_ARMED, "b1", NULL, TRIAL_EVENT_BOOT, "b1", false, true, 0,
          TRIAL_PHASE_ARMED, TRIAL_ACTION_NONE, false },
        { "armed, trial boot: watch its health", TRIAL_PHASE_ARMED, "b1", NULL, TRIAL_EVENT_BOOT, "b2", true, true, 0,
          TRIAL_PHASE_BOOTED, TRIAL_ACTION_WATCH_HEALTH, true },
        { "armed, known-good boot: died before userspace", TRIAL_PHASE_ARMED, "b1", NULL, TRIAL_EVENT_BOOT, "b2",
          false, true, 0, TRIAL_PHASE_FAILED, TRIAL_ACTION_DISARM, false },
        { "booted, the early unit again in the same boot", TRIAL_PHASE_BOOTED, "b1", "b2", TRIAL_EVENT_BOOT, "b2",
          true, true, 0, TRIAL_PHASE_BOOTED, TRIAL_ACTION_WATCH_HEALTH, false },
        { "booted, next boot without verdict", TRIAL_PHASE_BOOTED, "b1", "b2", TRIAL_EVENT_BOOT, "b3", false, true, 0,
          TRIAL_PHASE_FAILED, TRIAL_ACTION_DISARM, false },
        { "booted, trial again (loader switch): fail and reboot", TRIAL_PHASE_BOOTED, "b1", "b2", TRIAL_EVENT_BOOT,
          "b3", true, true, 0, TRIAL_PHASE_FAILED, TRIAL_ACTION_DISARM_REBOOT, false },
        { "healthy with AutoCommit: commit", TRIAL_PHASE_BOOTED, "b1", "b2", TRIAL_EVENT_HEALTHY, "b2", true, true, 0,
          TRIAL_PHASE_COMMITTED, TRIAL_ACTION_COMMIT, false },
        { "healthy without AutoCommit: wait for kernel commit", TRIAL_PHASE_BOOTED, "b1", "b2", TRIAL_EVENT_HEALTHY,
          "b2", true, false, 0, TRIAL_PHASE_BOOTED, TRIAL_ACTION_NONE, false },
        { "unhealthy: fail and reboot into G", TRIAL_PHASE_BOOTED, "b1", "b2", TRIAL_EVENT_UNHEALTHY, "b2", true, true,
          0, TRIAL_PHASE_FAILED, TRIAL_ACTION_DISARM_REBOOT, false },
        { "health verdict outside the trial boot is refused", TRIAL_PHASE_BOOTED, "b1", "b2", TRIAL_EVENT_HEALTHY,
          "b3", false, true, -EINVAL, 0, 0, false },
        { "health verdict with no trial is refused", TRIAL_PHASE_NONE, NULL, NULL, TRIAL_EVENT_UNHEALTHY, "b1", false,
          true, -EINVAL, 0, 0, false },
        { "commit by hand on the trial boot", TRIAL_PHASE_BOOTED, "b1", "b2", TRIAL_EVENT_COMMIT, "b2", true, false, 0,
          TRIAL_PHASE_COMMITTED, TRIAL_ACTION_COMMIT, false },
        { "commit of an armed trial that never booted is refused", TRIAL_PHASE_ARMED, "b1", NULL, TRIAL_EVENT_COMMIT,
          "b1", false, true, -EINVAL, 0, 0, false },
        { "commit with no trial is refused", TRIAL_PHASE_NONE, NULL, NULL, TRIAL_EVENT_COMMIT, "b1", false, true,
          -EINVAL, 0, 0, false },
        { "rollback of an armed trial", TRIAL_PHASE_ARMED, "b1", NULL, TRIAL_EVENT_ROLLBACK, "b1", false, true, 0,
          TRIAL_PHASE_FAILED, TRIAL_ACTION_DISARM, false },
        { "rollback on the trial boot disarms, reboot is the admin's", TRIAL_PHASE_BOOTED, "b1", "b2",
          TRIAL_EVENT_ROLLBACK, "b2", true, true, 0, TRIAL_PHASE_FAILED, TRIAL_ACTION_DISARM, false },
        { "rollback of a finished trial is refused", TRIAL_PHASE_COMMITTED, "b1", "b2", TRIAL_EVENT_ROLLBACK, "b3",
          false, true, -EINVAL, 0, 0, false },
        { "a failed trial is not tried again at the next boot", TRIAL_PHASE_FAILED, "b1", NULL, TRIAL_EVENT_BOOT, "b4",
          true, true, 0, TRIAL_PHASE_FAILED, TRIAL_ACTION_NONE, false },
};

static void test_table(void)
{
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const Case *c = &cases[i];
                TrialState s = { .phase = c->phase, .armed_boot_id = c->armed, .trial_boot_id = c->trial };
                TrialInput in = { .event = c->event, .boot_id = c->boot, .trial_mark = c->mark,
                                  .auto_commit = c->auto_commit };
                TrialStep st = { .phase = 99 };
                int r = trial_step(&s, &in, &st);
                bool good = r == c->ret &&
                            (r < 0 ? st.phase == 99
                                   : st.phase == c->next && st.action == c->action &&
                                             st.set_trial_boot_id == c->set_trial_boot &&
                                             (st.phase != TRIAL_PHASE_FAILED || c->phase == TRIAL_PHASE_FAILED || st.reason));
                ok(good, "%s", c->name);
                if (!good)
                        printf("#   got r=%d phase=%d action=%d set=%d\n", r, st.phase, st.action, st.set_trial_boot_id);
        }
}

/* walks a sequence of boots (mark per boot) from an armed trial, as the early unit would see them */
static TrialPhase walk(const char *marks, TrialAction *ret_last)
{
        TrialState s = { .phase = TRIAL_PHASE_ARMED, .armed_boot_id = "b0" };
        char ids[8][16];
        TrialAction last = TRIAL_ACTION_NONE;
        for (int i = 0; marks[i] && i < 8; i++) {
                snprintf(ids[i], sizeof ids[i], "b%d", i + 1);
                TrialInput in = { .event = TRIAL_EVENT_BOOT, .boot_id = ids[i], .trial_mark = marks[i] == 'T' };
                TrialStep st;
                if (trial_step(&s, &in, &st) < 0)
                        return _TRIAL_PHASE_MAX;
                s.phase = st.phase;
                if (st.set_trial_boot_id)
                        s.trial_boot_id = ids[i];
                if (st.action != TRIAL_ACTION_NONE)
                        last = st.action;
        }
        *ret_last = last;
        return s.phase;
}

static void test_sequences(void)
{
        TrialAction a;
        /* boot-trial.md Q1: G arms, T panics (no userspace, no record), G: failed before userspace */
        ok(walk("G", &a) == TRIAL_PHASE_FAILED && a == TRIAL_ACTION_DISARM, "panic cycle: failed, disarmed on G");
        /* T reached userspace, then hung and was reset: the next (G) boot says no verdict */
        ok(walk("TG", &a) == TRIAL_PHASE_FAILED && a == TRIAL_ACTION_DISARM, "userspace hang: failed on the next boot");
        /* Q3: armed on 0.97, T under PV-GRUB2, T again under 0.97 (its file still armed): fail + reboot */
        ok(walk("TT", &a) == TRIAL_PHASE_FAILED && a == TRIAL_ACTION_DISARM_REBOOT,
           "loader switch: the second trial boot fails it and reboots into G");
        ok(trial_phase_from_string(trial_phase_to_string(TRIAL_PHASE_BOOTED)) == TRIAL_PHASE_BOOTED &&
           trial_phase_from_string("bogus") == _TRIAL_PHASE_MAX, "phase names round-trip; unknown names are refused");
}

int main(void)
{
        test_table();
        test_sequences();
        return tap_done();
}

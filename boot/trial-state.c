/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>

#include "boot/trial-state.h"
#include "common/macro.h"

static const char *const phase_names[_TRIAL_PHASE_MAX] = {
        [TRIAL_PHASE_NONE] = "none",
        [TRIAL_PHASE_ARMED] = "armed",
        [TRIAL_PHASE_BOOTED] = "booted",
        [TRIAL_PHASE_COMMITTED] = "committed",
        [TRIAL_PHASE_FAILED] = "failed",
};

const char *trial_phase_to_string(TrialPhase p)
{
        return p < _TRIAL_PHASE_MAX ? phase_names[p] : NULL;
}

TrialPhase trial_phase_from_string(const char *s)
{
        for (int p = 0; p < _TRIAL_PHASE_MAX; p++)
                if (s && streq(s, phase_names[p]))
                        return (TrialPhase) p;
        return _TRIAL_PHASE_MAX;
}

bool trial_phase_in_flight(TrialPhase p)
{
        return p == TRIAL_PHASE_ARMED || p == TRIAL_PHASE_BOOTED;
}

static bool same(const char *a, const char *b)
{
        return a && b && streq(a, b);
}

static int on_boot(const TrialState *s, const TrialInput *in, TrialStep *st)
{
        switch (s->phase) {
        case TRIAL_PHASE_ARMED:
                if (same(in->boot_id, s->armed_boot_id))
                        return 0; /* still the boot that armed it */
                if (in->trial_mark) {
                        st->phase = TRIAL_PHASE_BOOTED;
                        st->action = TRIAL_ACTION_WATCH_HEALTH;
                        st->set_trial_boot_id = true;
                        return 0;
                }
                /* the one-shot was spent (GRUB saved the fallback before handing off) and we came up
                 * on the known-good entry without the trial ever reaching userspace */
                st->phase = TRIAL_PHASE_FAILED;
                st->action = TRIAL_ACTION_DISARM;
                st->reason = TRIAL_REASON_BEFORE_USERSPACE;
                return 0;
        case TRIAL_PHASE_BOOTED:
                if (same(in->boot_id, s->trial_boot_id))
                        return in->trial_mark ? (st->action = TRIAL_ACTION_WATCH_HEALTH, 0) : 0;
                st->phase = TRIAL_PHASE_FAILED;
                st->reason = in->trial_mark ? TRIAL_REASON_AGAIN : TRIAL_REASON_NO_VERDICT;
                st->action = in->trial_mark ? TRIAL_ACTION_DISARM_REBOOT : TRIAL_ACTION_DISARM;
                return 0;
        default:
                return 0; /* nothing in flight: a boot is just a boot */
        }
}

int trial_step(const TrialState *s, const TrialInput *in, TrialStep *ret)
{
        TrialStep st = { .phase = s->phase, .action = TRIAL_ACTION_NONE };
        bool on_trial_boot = s->phase == TRIAL_PHASE_BOOTED && same(in->boot_id, s->trial_boot_id);
        int r = 0;

        switch (in->event) {
        case TRIAL_EVENT_BOOT:
                r = on_boot(s, in, &st);
                break;
        case TRIAL_EVENT_HEALTHY:
                if (!on_trial_boot)
                        return -EINVAL;
                if (in->auto_commit) {
                        st.phase = TRIAL_PHASE_COMMITTED;
                        st.action = TRIAL_ACTION_COMMIT;
                }
                break;
        case TRIAL_EVENT_UNHEALTHY:
                if (!on_trial_boot)
                        return -EINVAL;
                st.phase = TRIAL_PHASE_FAILED;
                st.action = TRIAL_ACTION_DISARM_REBOOT;
                st.reason = in->reason ? in->reason : "a health check failed";
                break;
        case TRIAL_EVENT_COMMIT:
                /* only the running trial kernel can be judged good: committing an armed trial that
                 * never booted would make an untried kernel the default */
                if (!on_trial_boot)
                        return -EINVAL;
                st.phase = TRIAL_PHASE_COMMITTED;
                st.action = TRIAL_ACTION_COMMIT;
                break;
        case TRIAL_EVENT_ROLLBACK:
                if (!trial_phase_in_flight(s->phase))
                        return -EINVAL;
                /* by hand: disarmed now, the administrator chooses when to reboot */
                st.phase = TRIAL_PHASE_FAILED;
                st.action = TRIAL_ACTION_DISARM;
                st.reason = TRIAL_REASON_ROLLBACK;
                break;
        default:
                return -EINVAL;
        }
        if (r < 0)
                return r;
        *ret = st;
        return 0;
}

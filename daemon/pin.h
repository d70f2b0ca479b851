/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>

#include "daemon/context.h"
#include "daemon/menu-load.h"

/* The administrator's choice, by entry identity (see menulst_select()). */
typedef struct Pin {
        char *default_sel;
        char **fallback_sels; /* NULL: fallback is not managed; empty: no fallback */
} Pin;

void pin_done(Pin *p);
/* -ENOENT if no pin is recorded, -EBADMSG if the recorded one has the wrong JSON types */
int pin_from_state(json_t *state, Pin *ret);
int pin_to_state(json_t *state, const Pin *p);

typedef enum PinOutcome {
        PIN_HELD,      /* nothing to do */
        PIN_RESTORED,  /* menu.lst (or the default file) was rewritten */
        PIN_NONE,      /* no pin is recorded (pin_reapply() only) */
        PIN_TRIAL,     /* a kernel trial is in flight and its layout holds (pin_reapply() only) */
} PinOutcome;

/* Makes GRUB boot the pinned entries: resolves the selectors against the menu as it is now, changes
 * only default/fallback lines (or the 'default' file under `default saved`), verifies the result
 * and writes it. Logs its errors. ret_summary (may be NULL) gets "default 2->4, fallback [3]->[5]";
 * ret_seen (may be NULL) gets the menu as it was read, before any restore.
 * Problems with the pin itself (a selector matches no entry or several, a fallback is the default,
 * the pinned entry cannot boot) are logged quoting the selectors, as the administrator typed them;
 * with ret_problem (selectors from user data) they are not logged: *ret_problem gets one sentence
 * naming the selector by its place ("the pin's default selector matches no entry of ..."), never
 * by its text, for the caller to log (it stays NULL for other errors, which are logged). */
int pin_enforce(const Context *ctx, const Pin *pin, PinOutcome *ret_outcome, char **ret_summary,
                LoadedMenu **ret_seen, char **ret_problem);

/* What `pin` does: takes the writers' lock (finishing an interrupted write), resolves and checks
 * the pin, records it in the state and only then makes GRUB boot it (pin_enforce()); when that
 * fails the old state is put back. Logs its errors; ret_problem as for pin_enforce(). */
int pin_set(const Context *ctx, const Pin *pin, PinOutcome *ret_outcome, char **ret_summary, char **ret_problem);

/* What `pin --reapply` and the daemon both do: loads the state, enforces the recorded pin and, when
 * the menu had to be rewritten, logs KK_MESSAGE_PIN_RESTORED with the change and records it in the
 * state ("last_restore", and the "restores" counter). Errors are logged (-EBUSY: the file changed
 * under us, try again; -ENOENT: the pinned entry cannot boot, the menu was left alone).
 * While a kernel trial is in flight the trial owns the boot order: its layout is what is put back
 * (kernel_trial_reapply()), never the plain pin; PIN_TRIAL says it held, PIN_RESTORED that it was
 * rewritten.
 * ret_default_sel (may be NULL) gets the pinned default selector, NULL with PIN_NONE; ret_seen (may
 * be NULL) gets the menu as it was read, NULL with PIN_NONE. */
int pin_reapply(const Context *ctx, PinOutcome *ret_outcome, char **ret_default_sel, LoadedMenu **ret_seen);

/* True if the state records a kernel trial that is armed or running. */
bool trial_in_flight(json_t *state);

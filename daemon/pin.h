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
/* -ENOENT if no pin is recorded */
int pin_from_state(json_t *state, Pin *ret);
int pin_to_state(json_t *state, const Pin *p);

typedef enum PinOutcome {
        PIN_HELD,      /* nothing to do */
        PIN_RESTORED,  /* menu.lst (or the default file) was rewritten */
} PinOutcome;

/* Makes GRUB boot the pinned entries: resolves the selectors against the menu as it is now, changes
 * only default/fallback lines (or the 'default' file under `default saved`), verifies the result
 * and writes it. Logs its errors. ret_summary (may be NULL) gets "default 2->4, fallback [3]->[5]". */
int pin_enforce(const Context *ctx, const Pin *pin, PinOutcome *ret_outcome, char **ret_summary);

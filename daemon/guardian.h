/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "daemon/context.h"

/* The service loop behind `kernelkeeper daemon`: one sd-event loop that watches menu.lst (see
 * guardian-watch.h), debounces bursts of writes and puts the pin back with pin_reapply() -- the
 * same code as `pin --reapply` -- backing off from a writer that keeps undoing it (see
 * guardian-storm.h). Re-checks at start, on SIGHUP (after reloading the configuration), after a
 * mount change and every RecheckSec. Speaks sd_notify (READY=1, STATUS=, WATCHDOG=1). Returns when
 * SIGTERM or SIGINT arrives; ctx->config may be replaced by a reload. */
int guardian_run(Context *ctx);

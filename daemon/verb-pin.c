/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "common/macro.h"
#include "daemon/cli.h"
#include "daemon/log.h"
#include "daemon/menu-txn.h"
#include "daemon/pin.h"
#include "daemon/protect.h"
#include "daemon/state.h"

static int reapply(Context *ctx)
{
        PinOutcome outcome;
        _cleanup_free_ char *sel = NULL;
        _cleanup_close_ int lock = -EBADF;
        int r = writers_begin(ctx, true, &lock);
        if (r < 0)
                return r;
        r = pin_reapply(ctx, &outcome, &sel, NULL);
        if (r < 0)
                return r;
        if (outcome == PIN_TRIAL)
                log_info("A kernel trial is in flight: it owns the boot order until it is committed or rolled back");
        else if (outcome == PIN_NONE)
                log_info("No pin recorded, nothing to reapply");
        else if (outcome == PIN_HELD)
                log_info("Pin holds: GRUB boots '%s'", sel);
        return EXIT_OK;
}

int verb_pin(Context *ctx, CliArgs *args)
{
        if (cli_check_options(args, OPT_DEFAULT | OPT_FALLBACK | OPT_NO_FALLBACK | OPT_REAPPLY, "pin") < 0)
                return EXIT_USAGE;
        if (args->words[1]) {
                log_error("'pin' takes options only (see --help)");
                return EXIT_USAGE;
        }
        if (args->reapply) {
                if (args->seen & ~OPT_REAPPLY) {
                        log_error("--reapply takes no other pin options");
                        return EXIT_USAGE;
                }
                return reapply(ctx);
        }
        if (!args->default_sel) {
                log_error("'pin' needs --default SEL (or --reapply)");
                return EXIT_USAGE;
        }
        if (args->no_fallback && args->fallback_sels) {
                log_error("--no-fallback and --fallback exclude each other");
                return EXIT_USAGE;
        }

        Pin pin = { .default_sel = args->default_sel, .fallback_sels = args->fallback_sels };
        char *none[] = { NULL };
        if (args->no_fallback)
                pin.fallback_sels = none;

        PinOutcome outcome;
        _cleanup_free_ char *summary = NULL;
        int r = pin_set(ctx, &pin, &outcome, &summary, NULL);
        if (r < 0)
                return r;
        protect_update(ctx);
        if (outcome == PIN_RESTORED)
                log_info("Pinned '%s' (%s)", pin.default_sel, summary ? summary : "");
        else
                log_info("Pinned '%s' (menu.lst already boots it)", pin.default_sel);
        return EXIT_OK;
}

int verb_unpin(Context *ctx, CliArgs *args)
{
        if (cli_check_options(args, 0, "unpin") < 0)
                return EXIT_USAGE;
        _cleanup_close_ int lock = -EBADF;
        int r = writers_begin(ctx, true, &lock);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *state = NULL;
        r = state_load(ctx, &state);
        if (r < 0)
                return r;
        if (trial_in_flight(state))
                return log_error_errno(EBUSY, "A kernel trial is in flight; commit or roll it back before changing the pin");
        if (!json_object_get(state, "pin")) {
                log_info("No pin recorded");
                return EXIT_OK;
        }
        json_object_del(state, "pin");
        r = state_save(ctx, state);
        if (r < 0)
                return r;
        protect_update(ctx);
        log_info("Pin removed; menu.lst is left as it is");
        return EXIT_OK;
}

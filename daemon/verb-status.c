/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "common/macro.h"
#include "daemon/cli.h"
#include "daemon/guardian-runfile.h"
#include "daemon/log.h"
#include "daemon/state.h"

int verb_status(Context *ctx, CliArgs *args)
{
        if (cli_check_options(args, 0, "status") < 0)
                return EXIT_USAGE;
        _cleanup_json_ json_t *state = NULL;
        int r = state_load(ctx, &state);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *daemon = NULL;
        r = guardian_runfile_query(ctx, &daemon);
        if (r < 0)
                return log_oom();
        json_t *pin = json_object_get(state, "pin"), *last = json_object_get(state, "last_restore");
        json_int_t restores = json_integer_value(json_object_get(state, "restores"));
        if (ctx->json) {
                _cleanup_json_ json_t *out = json_pack("{s:O?, s:O?, s:I, s:O}", "pin", pin, "last_restore", last,
                                                       "restores", restores, "daemon", daemon);
                return cli_print_json(out);
        }
        if (pin) {
                printf("pin:          default %s\n", json_string_value(json_object_get(pin, "default")));
                json_t *fb = json_object_get(pin, "fallback");
                size_t i;
                json_t *v;
                if (json_is_array(fb)) {
                        printf("              fallback");
                        json_array_foreach(fb, i, v) printf(" %s", json_string_value(v));
                        printf("%s\n", json_array_size(fb) ? "" : " none");
                }
        } else
                printf("pin:          none\n");
        if (last)
                printf("last restore: %s (%s), %lld in all\n", json_string_value(json_object_get(last, "at")),
                       json_string_value(json_object_get(last, "change")), (long long) restores);
        if (json_is_true(json_object_get(daemon, "running")))
                printf("daemon:       running (pid %lld, since %s)\n",
                       (long long) json_integer_value(json_object_get(daemon, "pid")),
                       json_string_value(json_object_get(daemon, "started")));
        else
                printf("daemon:       not running\n");
        return EXIT_OK;
}

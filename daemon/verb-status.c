/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "common/macro.h"
#include "daemon/cli.h"
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
        json_t *pin = json_object_get(state, "pin"), *last = json_object_get(state, "last_restore");
        if (ctx->json) {
                _cleanup_json_ json_t *out = json_pack("{s:O?, s:O?}", "pin", pin, "last_restore", last);
                _cleanup_free_ char *s = out ? json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
                if (!s)
                        return log_oom();
                puts(s);
                return EXIT_OK;
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
                printf("last restore: %s (%s)\n", json_string_value(json_object_get(last, "at")),
                       json_string_value(json_object_get(last, "change")));
        return EXIT_OK;
}

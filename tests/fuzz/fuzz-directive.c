/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The directive parser on arbitrary bytes:
 * - failure gives -EINVAL (or -ENOMEM) and an error sentence, success a pin with a valid default;
 * - a parsed directive written back as JSON parses to the same directive (nothing is lost or
 *   invented between user data and `pin`). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/strv.h"
#include "metadata/directive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool strv_equal(char **a, char **b)
{
        if (!a || !b)
                return a == b;
        for (; *a && *b; a++, b++)
                if (!streq(*a, *b))
                        return false;
        return !*a && !*b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        Directive *d = NULL;
        char *err = NULL;
        int r = directive_parse((const char *) data, size, &d, &err);
        if (r < 0) {
                if (d || (r != -ENOMEM && (r != -EINVAL || !err)))
                        abort();
                free(err);
                return 0;
        }
        if (!d || err || isempty(d->pin_default) || strlen(d->pin_default) > DIRECTIVE_SELECTOR_MAX ||
            strv_length(d->pin_fallback) > DIRECTIVE_FALLBACK_MAX)
                abort();

        json_t *pin = json_pack("{s:s}", "default", d->pin_default);
        if (d->pin_fallback) {
                json_t *fb = json_array();
                for (char **s = d->pin_fallback; *s; s++)
                        json_array_append_new(fb, json_string(*s));
                json_object_set_new(pin, "fallback", fb);
        }
        json_t *top = json_pack("{s:o}", "pin", pin);
        char *text = json_dumps(top, JSON_COMPACT);
        json_decref(top);
        char *again = NULL;
        if (!text || asprintf(&again, DIRECTIVE_TOKEN "\n%s\n", text) < 0)
                abort();
        Directive *d2 = NULL;
        if (directive_parse(again, strlen(again), &d2, NULL) < 0 || !streq(d->pin_default, d2->pin_default) ||
            !strv_equal(d->pin_fallback, d2->pin_fallback))
                abort();
        free(text);
        free(again);
        directive_free(d);
        directive_free(d2);
        return 0;
}

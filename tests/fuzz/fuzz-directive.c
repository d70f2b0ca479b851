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

static bool streq_ptr(const char *a, const char *b)
{
        return a == b || (a && b && streq(a, b));
}

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
        if (!d || err || (!d->pin_default && !d->kernel) ||
            (d->pin_default && (isempty(d->pin_default) || strlen(d->pin_default) > DIRECTIVE_SELECTOR_MAX)) ||
            strv_length(d->pin_fallback) > DIRECTIVE_FALLBACK_MAX)
                abort();
        if (d->kernel && (!!d->kernel->package + !!d->kernel->deb + !!d->kernel->url != 1 ||
                          !!d->kernel->url != !!d->kernel->sha256 || (d->kernel->reboot && !d->kernel->trial)))
                abort();

        json_t *top = json_object();
        if (d->kernel) {
                json_t *in = json_object();
                if (d->kernel->package)
                        json_object_set_new(in, "package", json_string(d->kernel->package));
                if (d->kernel->deb)
                        json_object_set_new(in, "deb", json_string(d->kernel->deb));
                if (d->kernel->url)
                        json_object_set_new(in, "url", json_string(d->kernel->url));
                if (d->kernel->sha256)
                        json_object_set_new(in, "sha256", json_string(d->kernel->sha256));
                json_object_set_new(top, "kernel", json_pack("{s:o, s:b, s:b}", "install", in, "trial", d->kernel->trial,
                                                             "reboot", d->kernel->reboot));
        }
        json_t *pin = d->pin_default ? json_pack("{s:s}", "default", d->pin_default) : NULL;
        if (pin && d->pin_fallback) {
                json_t *fb = json_array();
                for (char **s = d->pin_fallback; *s; s++)
                        json_array_append_new(fb, json_string(*s));
                json_object_set_new(pin, "fallback", fb);
        }
        if (pin)
                json_object_set_new(top, "pin", pin);
        char *text = json_dumps(top, JSON_COMPACT);
        json_decref(top);
        char *again = NULL;
        if (!text || asprintf(&again, DIRECTIVE_TOKEN "\n%s\n", text) < 0)
                abort();
        Directive *d2 = NULL;
        if (directive_parse(again, strlen(again), &d2, NULL) < 0 || !streq_ptr(d->pin_default, d2->pin_default) ||
            !strv_equal(d->pin_fallback, d2->pin_fallback) || !!d->kernel != !!d2->kernel ||
            (d->kernel && (!streq_ptr(d->kernel->package, d2->kernel->package) || !streq_ptr(d->kernel->deb, d2->kernel->deb) ||
                           !streq_ptr(d->kernel->url, d2->kernel->url) || !streq_ptr(d->kernel->sha256, d2->kernel->sha256) ||
                           d->kernel->trial != d2->kernel->trial || d->kernel->reboot != d2->kernel->reboot)))
                abort();
        free(text);
        free(again);
        directive_free(d);
        directive_free(d2);
        return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <jansson.h>
#include <string.h>

#include "common/macro.h"
#include "common/sha256.h"
#include "common/strv.h"
#include "metadata/decode-error.h"
#include "metadata/directive.h"

#define _cleanup_json_ _cleanup_(json_decrefp)

bool directive_detect(const char *data, size_t size)
{
        size_t n = strlen(DIRECTIVE_TOKEN);
        if (size < n || memcmp(data, DIRECTIVE_TOKEN, n) != 0)
                return false;
        return size == n || strchr(" \t\r\n{", data[n]);
}

Directive *directive_free(Directive *d)
{
        if (!d)
                return NULL;
        free(d->pin_default);
        strv_free(d->pin_fallback);
        for (size_t i = 0; i < d->n_module_swaps; i++) {
                free(d->module_swaps[i].name);
                free(d->module_swaps[i].url);
                free(d->module_swaps[i].sha256);
        }
        free(d->module_swaps);
        if (d->kernel) {
                free(d->kernel->package);
                free(d->kernel->deb);
                free(d->kernel->url);
                free(d->kernel->sha256);
                free(d->kernel);
        }
        free(d);
        return NULL;
}

/* Selectors end up in state (and a pin that held in `status`), never in a message about user data:
 * printable, bounded. */
static bool selector_ok(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > DIRECTIVE_SELECTOR_MAX)
                return false;
        for (const char *p = s; *p; p++)
                if ((unsigned char) *p < ' ' || *p == 127)
                        return false;
        return true;
}

/* jansson's own text may quote the input ("invalid token near 'x'", "invalid Unicode escape
 * '\\uXXXX'"): user data can hold secrets, so only its error code is put into words */
static const char *json_problem(const json_error_t *err)
{
        switch (json_error_code(err)) {
        case json_error_invalid_utf8:
                return "not UTF-8";
        case json_error_premature_end_of_input:
                return "it ends too early";
        case json_error_end_of_input_expected:
                return "text after the JSON object";
        case json_error_null_character:
        case json_error_null_byte_in_key:
                return "a NUL character in a string";
        case json_error_duplicate_key:
                return "a key appears twice";
        case json_error_numeric_overflow:
                return "a number out of range";
        case json_error_stack_overflow:
                return "nested too deeply";
        case json_error_invalid_syntax:
        default:
                return "syntax error";
        }
}

static int parse_pin(json_t *pin, Directive *d, char **ret_error)
{
        if (!json_is_object(pin))
                return decode_error(ret_error, -EINVAL, "directive: \"pin\" must be an object");
        const char *key;
        json_t *v;
        size_t k = 0;
        json_object_foreach(pin, key, v) {
                k++;
                if (streq(key, "default")) {
                        if (!json_is_string(v) || !selector_ok(json_string_value(v)))
                                return decode_error(ret_error, -EINVAL,
                                                    "directive: \"pin.default\" must be a non-empty selector string "
                                                    "of at most %u printable characters",
                                                    DIRECTIVE_SELECTOR_MAX);
                        if (!(d->pin_default = strdup(json_string_value(v))))
                                return -ENOMEM;
                } else if (streq(key, "fallback")) {
                        if (!json_is_array(v))
                                return decode_error(ret_error, -EINVAL,
                                                    "directive: \"pin.fallback\" must be an array of selectors");
                        if (json_array_size(v) > DIRECTIVE_FALLBACK_MAX)
                                return decode_error(ret_error, -EINVAL,
                                                    "directive: \"pin.fallback\" has more than %u entries",
                                                    DIRECTIVE_FALLBACK_MAX);
                        if (!(d->pin_fallback = calloc(1, sizeof(char *))))
                                return -ENOMEM;
                        size_t i;
                        json_t *s;
                        json_array_foreach(v, i, s) {
                                if (!json_is_string(s) || !selector_ok(json_string_value(s)))
                                        return decode_error(ret_error, -EINVAL,
                                                            "directive: \"pin.fallback\"[%zu] must be a non-empty "
                                                            "selector string of at most %u printable characters",
                                                            i, DIRECTIVE_SELECTOR_MAX);
                                if (strv_push(&d->pin_fallback, json_string_value(s)) < 0)
                                        return -ENOMEM;
                        }
                } else
                        /* named by its place: even a key is user data */
                        return decode_error(ret_error, -EINVAL,
                                            "directive: key %zu of \"pin\" is unknown (known: default, fallback)", k);
        }
        if (!d->pin_default)
                return decode_error(ret_error, -EINVAL, "directive: \"pin\" needs \"default\"");
        return 0;
}

/* One line of printable text without blanks (a URL, a package name, a path), at most max bytes. */
static bool text_ok(const char *s, size_t max)
{
        size_t n = strlen(s);
        if (n == 0 || n > max)
                return false;
        for (const char *p = s; *p; p++)
                if ((unsigned char) *p <= ' ' || *p == 127)
                        return false;
        return true;
}

/* ---- "modules": {"swap": [{"name", "url", "sha256", "persist"}]} ---- */

static int parse_module_swap(json_t *o, size_t i, DirectiveModuleSwap *m, char **ret_error)
{
        if (!json_is_object(o))
                return decode_error(ret_error, -EINVAL, "directive: \"modules.swap\"[%zu] must be an object", i);
        const char *key;
        json_t *v;
        size_t k = 0;
        json_object_foreach(o, key, v) {
                k++;
                const char *s = json_string_value(v);
                if (streq(key, "name")) {
                        if (!s || strlen(s) > 55 || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != strlen(s) || !*s)
                                return decode_error(ret_error, -EINVAL,
                                                    "directive: \"modules.swap\"[%zu].name must be a module name", i);
                        if (!(m->name = strdup(s)))
                                return -ENOMEM;
                } else if (streq(key, "url")) {
                        if (!s || !text_ok(s, DIRECTIVE_URL_MAX) ||
                            (!strneq(s, "http://", 7) && !strneq(s, "https://", 8)))
                                return decode_error(ret_error, -EINVAL,
                                                    "directive: \"modules.swap\"[%zu].url must be an http:// or https:// "
                                                    "URL of at most %u characters",
                                                    i, DIRECTIVE_URL_MAX);
                        if (!(m->url = strdup(s)))
                                return -ENOMEM;
                } else if (streq(key, "sha256")) {
                        if (!s || !sha256_hex_valid(s))
                                return decode_error(ret_error, -EINVAL,
                                                    "directive: \"modules.swap\"[%zu].sha256 must be 64 hex digits", i);
                        if (!(m->sha256 = strdup(s)))
                                return -ENOMEM;
                } else if (streq(key, "persist")) {
                        if (!json_is_boolean(v))
                                return decode_error(ret_error, -EINVAL,
                                                    "directive: \"modules.swap\"[%zu].persist must be true or false", i);
                        m->persist = json_is_true(v);
                } else
                        return decode_error(ret_error, -EINVAL,
                                            "directive: key %zu of \"modules.swap\"[%zu] is unknown (known: name, url, "
                                            "sha256, persist)",
                                            k, i);
        }
        if (!m->name || !m->url || !m->sha256)
                return decode_error(ret_error, -EINVAL,
                                    "directive: \"modules.swap\"[%zu] needs \"name\", \"url\" and \"sha256\"", i);
        return 0;
}

static int parse_modules(json_t *modules, Directive *d, char **ret_error)
{
        if (!json_is_object(modules))
                return decode_error(ret_error, -EINVAL, "directive: \"modules\" must be an object");
        const char *key;
        json_t *v;
        size_t k = 0;
        json_object_foreach(modules, key, v) {
                k++;
                if (!streq(key, "swap"))
                        return decode_error(ret_error, -EINVAL,
                                            "directive: key %zu of \"modules\" is unknown (known: swap)", k);
                if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > DIRECTIVE_MODULE_SWAPS_MAX)
                        return decode_error(ret_error, -EINVAL,
                                            "directive: \"modules.swap\" must be an array of 1 to %u swaps",
                                            DIRECTIVE_MODULE_SWAPS_MAX);
                if (!(d->module_swaps = calloc(json_array_size(v), sizeof(DirectiveModuleSwap))))
                        return -ENOMEM;
                size_t i;
                json_t *o;
                json_array_foreach(v, i, o) {
                        d->n_module_swaps = i + 1;
                        int r = parse_module_swap(o, i, &d->module_swaps[i], ret_error);
                        if (r < 0)
                                return r;
                }
        }
        if (d->n_module_swaps == 0)
                return decode_error(ret_error, -EINVAL, "directive: \"modules\" needs \"swap\"");
        return 0;
}

/* ---- "kernel": {"install": {...}, "trial": bool, "reboot": bool} ---- */

static int parse_kernel_install(json_t *in, DirectiveKernel *k, char **ret_error)
{
        if (!json_is_object(in))
                return decode_error(ret_error, -EINVAL, "directive: \"kernel.install\" must be an object");
        static const char *const keys[] = { "package", "deb", "url", "sha256" };
        char **slots[] = { &k->package, &k->deb, &k->url, &k->sha256 };
        const char *key;
        json_t *v;
        size_t n = 0;
        json_object_foreach(in, key, v) {
                n++;
                size_t i = 0;
                while (i < ELEMENTSOF(keys) && !streq(key, keys[i]))
                        i++;
                if (i == ELEMENTSOF(keys))
                        return decode_error(ret_error, -EINVAL,
                                            "directive: key %zu of \"kernel.install\" is unknown (known: package, deb, url, sha256)", n);
                if (!json_is_string(v) || !text_ok(json_string_value(v), DIRECTIVE_STRING_MAX))
                        return decode_error(ret_error, -EINVAL,
                                            "directive: \"kernel.install.%s\" must be a string of 1..%u printable characters without blanks",
                                            keys[i], DIRECTIVE_STRING_MAX);
                if (!(*slots[i] = strdup(json_string_value(v))))
                        return -ENOMEM;
        }
        if (!!k->package + !!k->deb + !!k->url != 1)
                return decode_error(ret_error, -EINVAL, "directive: \"kernel.install\" needs exactly one of package, deb, url");
        if (!!k->url != !!k->sha256)
                return decode_error(ret_error, -EINVAL, "directive: \"kernel.install.url\" goes with \"sha256\" (and only it)");
        if (k->sha256 && !sha256_hex_valid(k->sha256))
                return decode_error(ret_error, -EINVAL, "directive: \"kernel.install.sha256\" must be 64 hexadecimal digits");
        if (k->url && strncmp(k->url, "http://", 7) != 0 && strncmp(k->url, "https://", 8) != 0)
                return decode_error(ret_error, -EINVAL, "directive: \"kernel.install.url\" must be http:// or https://");
        if (k->deb && k->deb[0] != '/')
                return decode_error(ret_error, -EINVAL, "directive: \"kernel.install.deb\" must be an absolute path");
        if (k->package && k->package[0] == '-')
                return decode_error(ret_error, -EINVAL, "directive: \"kernel.install.package\" must be a package name");
        return 0;
}

static int parse_kernel(json_t *kj, Directive *d, char **ret_error)
{
        if (!json_is_object(kj))
                return decode_error(ret_error, -EINVAL, "directive: \"kernel\" must be an object");
        DirectiveKernel *k = d->kernel = calloc(1, sizeof *k);
        if (!k)
                return -ENOMEM;
        bool have_install = false;
        const char *key;
        json_t *v;
        size_t n = 0;
        int r;
        json_object_foreach(kj, key, v) {
                n++;
                if (streq(key, "install")) {
                        if ((r = parse_kernel_install(v, k, ret_error)) < 0)
                                return r;
                        have_install = true;
                } else if (streq(key, "trial") || streq(key, "reboot")) {
                        if (!json_is_boolean(v))
                                return decode_error(ret_error, -EINVAL, "directive: \"kernel.%s\" must be true or false", key);
                        *(streq(key, "trial") ? &k->trial : &k->reboot) = json_is_true(v);
                } else
                        return decode_error(ret_error, -EINVAL,
                                            "directive: key %zu of \"kernel\" is unknown (known: install, trial, reboot)", n);
        }
        if (!have_install)
                return decode_error(ret_error, -EINVAL, "directive: \"kernel\" needs \"install\"");
        if (k->reboot && !k->trial)
                return decode_error(ret_error, -EINVAL, "directive: \"kernel.reboot\" needs \"trial\": true");
        return 0;
}

int directive_parse(const char *data, size_t size, Directive **ret, char **ret_error)
{
        if (!directive_detect(data, size))
                return decode_error(ret_error, -EINVAL, "directive: does not start with " DIRECTIVE_TOKEN);
        size_t skip = strlen(DIRECTIVE_TOKEN);
        json_error_t err;
        /* the token is on line 1; counting its line keeps jansson's line numbers true to the text */
        _cleanup_json_ json_t *j = json_loadb(data + skip, size - skip, JSON_REJECT_DUPLICATES, &err);
        if (!j) {
                if (json_error_code(&err) == json_error_out_of_memory)
                        return -ENOMEM;
                return decode_error(ret_error, -EINVAL, "directive line %d column %d: invalid JSON (%s)", err.line,
                                    err.line == 1 ? err.column + (int) skip : err.column, json_problem(&err));
        }
        if (!json_is_object(j))
                return decode_error(ret_error, -EINVAL, "directive: expected a JSON object after " DIRECTIVE_TOKEN);

        Directive *d = calloc(1, sizeof *d);
        if (!d)
                return -ENOMEM;
        _cleanup_(directive_freep) Directive *dd = d;
        const char *key;
        json_t *v;
        int r;
        size_t k = 0;
        json_object_foreach(j, key, v) {
                k++;
                if (streq(key, "pin")) {
                        if ((r = parse_pin(v, dd, ret_error)) < 0)
                                return r;
                } else if (streq(key, "modules")) {
                        if ((r = parse_modules(v, dd, ret_error)) < 0)
                                return r;
                } else if (streq(key, "kernel")) {
                        if ((r = parse_kernel(v, dd, ret_error)) < 0)
                                return r;
                } else
                        return decode_error(ret_error, -EINVAL,
                                            "directive: key %zu of the object is unknown (known: pin, modules, kernel)", k);
        }
        if (!dd->pin_default && dd->n_module_swaps == 0 && !dd->kernel)
                return decode_error(ret_error, -EINVAL,
                                    "directive: nothing to do (expected \"pin\", \"modules\" or \"kernel\")");
        *ret = TAKE_PTR(dd);
        return 0;
}

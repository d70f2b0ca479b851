/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* A kernelkeeper directive in user data: the token "#kernelkeeper", then one JSON object:
 *
 *   #kernelkeeper
 *   {"pin": {"default": "release=6.1.0-26-amd64", "fallback": ["release=6.1.0-25-amd64"]}}
 *
 * Known keys only (anything else is an error, so a typo never passes silently):
 *   pin.default   string, a menu selector (as `kernelkeeper pin --default`), required in "pin";
 *   pin.fallback  array of selectors (as --fallback); [] means no fallback (--no-fallback);
 *                 absent leaves the fallback unmanaged.
 *   modules.swap  array of {"name": module, "url": http(s) URL of a module file or (gzipped) tar,
 *                 "sha256": 64 hex digits (required: the file is checked before it is used),
 *                 "persist": bool (optional)}: `kernelkeeper module swap` for each.
 *   kernel        {"install": {"package": NAME} | {"deb": PATH} | {"url": URL, "sha256": HEX},
 *                  "trial": bool, "reboot": bool} (as `kernel install`, then `kernel trial
 *                  release=REL`, then a reboot into the trial). "trial" needs "install", "reboot"
 *                  needs "trial". */

#define DIRECTIVE_TOKEN "#kernelkeeper"
#define DIRECTIVE_SELECTOR_MAX 256u
#define DIRECTIVE_FALLBACK_MAX 16u
#define DIRECTIVE_MODULE_SWAPS_MAX 16u
#define DIRECTIVE_URL_MAX 2048u

typedef struct DirectiveModuleSwap {
        char *name, *url, *sha256;
        bool persist;
} DirectiveModuleSwap;

#define DIRECTIVE_STRING_MAX 2048u

typedef struct DirectiveKernel {
        char *package, *deb, *url, *sha256; /* exactly one source (url with sha256) */
        bool trial, reboot;
} DirectiveKernel;

typedef struct Directive {
        char *pin_default;    /* NULL: no pin */
        char **pin_fallback;  /* NULL: not managed; empty strv: none */
        DirectiveModuleSwap *module_swaps; /* modules.swap, in order */
        size_t n_module_swaps;
        DirectiveKernel *kernel; /* NULL: no kernel install */
} Directive;

/* True if data begins with the directive token followed by white space, '{' or the end. */
bool directive_detect(const char *data, size_t size);

/* Parses and validates a whole directive (token included). On failure *ret_error says what is
 * wrong without quoting any of it ("directive line 3 column 5: invalid JSON (syntax error)",
 * "directive: key 2 of \"pin\" is unknown (known: default, fallback)"). */
int directive_parse(const char *data, size_t size, Directive **ret, char **ret_error);

Directive *directive_free(Directive *d);
static inline void directive_freep(Directive **d)
{
        directive_free(*d);
}

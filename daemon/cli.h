/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>

#include "daemon/context.h"

/* Options of all verbs, parsed in one pass so they may stand before or after the verb. Each verb
 * rejects the ones it does not take. */
typedef struct CliArgs {
        char **words;          /* verb and its positional words */
        char *default_sel;     /* pin --default */
        char **fallback_sels;  /* pin --fallback (repeatable) */
        bool fallback_given;
        bool no_fallback;      /* pin --no-fallback: manage fallback as "none" */
        bool reapply;          /* pin --reapply */
        char *metadata_url;    /* --metadata-url */
        bool foreground;       /* daemon: log to stderr even under systemd */
        char *title, *kernel, *initrd, *kargs, *root_device; /* menu add; kernel also module check */
        bool first;            /* menu add --first */
        char *from;            /* module swap --from */
        char *sha256;          /* module swap, kernel install --url: --sha256 */
        char *cert;            /* module check/swap --cert FILE|auto */
        bool persist, dry_run; /* module swap --persist --dry-run */
        char *package, *deb, *url, *image, *modules; /* kernel install sources */
        bool reinstall;        /* kernel install --reinstall */
        unsigned seen;         /* bit set of CliOption given */
} CliArgs;

typedef enum CliOption {
        OPT_DEFAULT = 1 << 0,
        OPT_FALLBACK = 1 << 1,
        OPT_NO_FALLBACK = 1 << 2,
        OPT_REAPPLY = 1 << 3,
        OPT_METADATA_URL = 1 << 4,
        OPT_FOREGROUND = 1 << 5,
        OPT_ENTRY = 1 << 6,    /* --title --args --root-device --first */
        OPT_KERNEL = 1 << 7,   /* --kernel: menu add's kernel path, module check's release */
        OPT_SWAP = 1 << 8,     /* --from --persist --dry-run (module swap) */
        OPT_CERT = 1 << 9,     /* --cert (module check, module swap) */
        OPT_INITRD = 1 << 10,  /* --initrd: menu add, kernel install --image */
        OPT_INSTALL = 1 << 11, /* --package --deb --url --image --modules --reinstall */
        OPT_SHA256 = 1 << 12,  /* --sha256 (module swap, kernel install) */
} CliOption;

/* Runs the command line; a failed command given --json that printed nothing on stdout prints
 * {"error": "<its last error line>", "exit": N} there. */
int cli_run(int argc, char **argv);

/* Prints j (NULL: out of memory) as the verb's JSON output; returns EXIT_OK or a logged error. */
int cli_print_json(json_t *j);

/* Fails with a usage error naming the first option in `seen` that is not in `allowed`. */
int cli_check_options(const CliArgs *a, unsigned allowed, const char *verb);

typedef int (*VerbFunc)(Context *ctx, CliArgs *args);
int verb_menu(Context *ctx, CliArgs *args);
int verb_pin(Context *ctx, CliArgs *args);
int verb_unpin(Context *ctx, CliArgs *args);
int verb_status(Context *ctx, CliArgs *args);
int verb_userdata(Context *ctx, CliArgs *args);
int verb_daemon(Context *ctx, CliArgs *args);
int verb_kernel(Context *ctx, CliArgs *args);
int verb_boots(Context *ctx, CliArgs *args);
int verb_module(Context *ctx, CliArgs *args);

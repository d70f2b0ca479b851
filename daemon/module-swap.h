/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "daemon/cli.h"
#include "metadata/directive.h"
#include "modules/module-check.h"

/* `module swap` and `module status`, and what the user-data directive's "modules" key runs. */

typedef struct ModuleSwapRequest {
        const char *name;   /* the module to swap */
        const char *from;   /* a module file, a directory of them, or a (gzipped) tar archive */
        const char *sha256; /* of the file or archive, NULL: not checked */
        bool persist;       /* also install it for later boots (updates/, depmod, initramfs) */
        bool dry_run;       /* print the plan, change nothing */
        const char *cert;   /* --cert FILE|auto: verify signatures (NULL: not verified) */
} ModuleSwapRequest;

/* Plans, checks and runs one swap, printing the plan (not with quiet) and logging its one error
 * line. Records the swap in state ("modules") and the journal. Returns EXIT_OK, EXIT_PROBLEM (refused,
 * failed: the originals are back, or restoring failed: said so) or a logged negative errno. *ret_record
 * (may be NULL) gets the swap's record (also for a refusal: {"name", "outcome": "refused", "error"}). */
int module_swap_run(const Context *ctx, const ModuleSwapRequest *req, bool quiet, json_t **ret_record);

int module_swap_verb(Context *ctx, CliArgs *args);
/* A directive's modules.swap: each file downloaded (into the state directory, removed after),
 * checked against its sha256 and swapped; later ones are tried when one fails. *ret_results gets
 * each swap's record; returns how many failed (*ret_problem: the first, one line) or a logged
 * negative errno. */
int module_swap_directive(const Context *ctx, const DirectiveModuleSwap *swaps, size_t n, json_t **ret_results,
                          char **ret_problem);
int module_status_verb(Context *ctx, CliArgs *args);
/* At boot, before udev coldplug and LVM: each persisted swap of the booted release is checked again
 * (`module check`); a stale one is moved aside (FILE.kk-stale) and depmod run, so the stock module
 * loads; the journal says which and why. */
int module_verify_persisted_verb(Context *ctx, CliArgs *args);

/* shared with `module check` (verb-module.c) */
int log_module_error(int r, const char *path);
void module_findings_print(const ModuleReport *rep);
/* --cert FILE (PEM/DER) or "auto" (the certificates built into ROOT/boot/vmlinuz-RELEASE) into
 * t->certs; NULL: nothing. Logs its error. */
int module_certs_load(const Context *ctx, const char *cert, const char *release, ModuleTarget *t);

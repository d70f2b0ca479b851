/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modules/module-info.h"
#include "modules/module-target.h"

/* `module check`: would this module file be safe to load on that kernel release? Stricter than the
 * kernel: the whole vermagic (release too), every imported CRC against the release's own, ELF
 * identity, name, dependencies, signature policy. Each finding is named; the module is safe only
 * when every finding passes. Nothing here prints. */

typedef enum Verdict {
        VERDICT_PASS,
        VERDICT_FAIL,
        VERDICT_UNVERIFIED, /* nothing to compare with: not a pass */
} Verdict;

const char *verdict_to_string(Verdict v);

typedef struct ModuleFinding {
        const char *name; /* "elf", "name", "vermagic", "crcs", "depends", "signature" */
        Verdict verdict;
        char *message; /* one line */
} ModuleFinding;

/* Parts of two vermagic strings ("RELEASE FLAG FLAG ..."). */
typedef struct VermagicDiff {
        bool equal; /* the whole strings are equal */
        bool release_differs;
        char *module_release, *target_release;
        char **flags_missing; /* in the target's, not in the module's */
        char **flags_extra;   /* in the module's, not in the target's */
        bool order_differs;   /* same release and flags, spelled differently */
} VermagicDiff;

int vermagic_compare(const char *module, const char *target, VermagicDiff *ret);
void vermagic_diff_done(VermagicDiff *d);
/* True if the vermagic carries the "modversions" flag. */
bool vermagic_has_flag(const char *vermagic, const char *flag);

typedef struct CrcMismatch {
        const char *symbol; /* borrowed from the ModuleInfo */
        uint32_t module_crc, target_crc;
        const TargetCrc *target;
} CrcMismatch;

enum { MODULE_FINDING_MAX = 6 };

/* Borrows from the ModuleInfo and ModuleTarget it was made from: free it first. */
typedef struct ModuleReport {
        ModuleFinding findings[MODULE_FINDING_MAX];
        size_t n_findings;
        bool safe;
        VermagicDiff vermagic;
        TargetCrc *crcs; /* one per module version */
        CrcMismatch *mismatches;
        size_t n_mismatches;
        const char **unverified; /* symbols */
        size_t n_unverified;
        size_t n_by_source[4]; /* indexed by CrcSource */
        char **depends_missing;
        int sig_enforced; /* 1 enforced, 0 not */
        char *sig_enforced_by;
        bool sig_key_foreign; /* signed with another key than the release's own modules */
        int sig_verdict;      /* ModuleSigVerdict: verified against t->certs when it is set */
        char *sig_verified_by;
} ModuleReport;

ModuleReport *module_report_free(ModuleReport *r);
static inline void module_report_freep(ModuleReport **r)
{
        module_report_free(*r);
}

/* The individual checks: each fills report->findings[report->n_findings++]. */
int module_check_elf(const ModuleInfo *m, const ModuleTarget *t, ModuleReport *report);
int module_check_name(const ModuleInfo *m, ModuleReport *report);
int module_check_vermagic(const ModuleInfo *m, const ModuleTarget *t, ModuleReport *report);
int module_check_crcs(const ModuleInfo *m, ModuleTarget *t, ModuleReport *report);
int module_check_depends(const ModuleInfo *m, const ModuleTarget *t, ModuleReport *report);
int module_check_signature(const ModuleInfo *m, const ModuleTarget *t, ModuleReport *report);

/* All of them. Errors are only those that stop the check (-ENOMEM, a corrupt symvers...);
 * a module that fails a check is a successful call with report->safe false. */
int module_check(const ModuleInfo *m, ModuleTarget *t, ModuleReport **ret);

/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modules/module-elf.h"
#include "modules/module-info.h"
#include "modules/module-sig.h"

/* One installed module of the target release: its path relative to ROOT/lib/modules/REL (or
 * absolute in ROOT, as old depmod wrote it) and its normalized name. */
typedef struct ModuleEntry {
        char *path;
        char *name;
} ModuleEntry;

/* What a kernel release installed under a root says about itself. */
typedef struct ModuleTarget {
        char *root;
        char *release;
        char *moddir;         /* "/lib/modules/REL" (inside root) */
        char *symvers;        /* "/boot/symvers-REL.gz" */
        char *module_symvers; /* "/usr/src/linux-headers-REL/Module.symvers" */
        ModuleEntry *entries; /* modules.dep order, or a walk of moddir when there is no modules.dep */
        size_t n_entries;
        bool from_modules_dep;
        char *vermagic;          /* the release's vermagic, from one of its installed modules */
        char *vermagic_from;     /* that module, path inside root */
        ModuleElf reference_elf; /* and its ELF identity */
        char *reference_sig_key; /* and the key it is signed with (NULL: unsigned) */
        ModuleCerts *certs;      /* the kernel's certificates when known (--cert): signatures are verified */
} ModuleTarget;

ModuleTarget *module_target_free(ModuleTarget *t);
static inline void module_target_freep(ModuleTarget **t)
{
        module_target_free(*t);
}

/* Loads ROOT/lib/modules/REL: its module list and its vermagic, read from an installed module under
 * kernel/ (the stock copy of `prefer_name` when there is one). Errors: -ENOENT no such release
 * installed, -ENOMEDIUM no usable module of that release to read a vermagic from. */
int module_target_load(const char *root, const char *release, const char *prefer_name, ModuleTarget **ret);

/* The path of an entry inside the root (modules.dep paths are relative to the release's directory,
 * or absolute from old depmod), newly allocated or NULL; and its host path, resolved inside the root. */
char *module_target_entry_path(const ModuleTarget *t, const ModuleEntry *e);
int module_target_entry_resolve(const ModuleTarget *t, const ModuleEntry *e, char **ret);

/* The entry for a module name (normalized), or NULL. */
const ModuleEntry *module_target_find(const ModuleTarget *t, const char *name);

typedef enum CrcSource {
        CRC_SOURCE_NONE,           /* no source covers the symbol: unverified */
        CRC_SOURCE_MODULES,        /* imported by one of the release's own installed modules */
        CRC_SOURCE_SYMVERS,        /* /boot/symvers-REL.gz */
        CRC_SOURCE_MODULE_SYMVERS, /* /usr/src/linux-headers-REL/Module.symvers */
} CrcSource;

typedef struct TargetCrc {
        CrcSource source;
        uint32_t crc;
        const char *from; /* the module (relative path, owned by the target) or symvers file */
} TargetCrc;

/* The target's CRC for each of n symbols, in order of source: the release's installed modules
 * under kernel/ (the stock copy of the module first; updates/ and extra/ are not the kernel's),
 * then /boot/symvers-REL.gz, then /usr/src/linux-headers-REL/Module.symvers; each source is only
 * read while symbols are left. *ret has n entries. Errors: -ENOMEM, -EBADMSG a corrupt symvers. */
int module_target_resolve_crcs(ModuleTarget *t, const ModuleVersion *v, size_t n, TargetCrc **ret);
const char *crc_source_to_string(CrcSource s);

/* Calls cb for every "0xCRC<TAB>symbol<TAB>module<TAB>export[<TAB>namespace]" line; a line that is
 * not of that form is -EBADMSG. cb returning nonzero stops the walk and returns that value. */
typedef int (*SymversFunc)(const char *symbol, size_t len, uint32_t crc, void *userdata);
int module_symvers_parse(const char *data, size_t size, SymversFunc cb, void *userdata);

/* modules.dep text ("path: dep dep...") into entries. -EBADMSG for a line without ':'. */
int module_dep_parse(const char *data, size_t size, ModuleEntry **ret, size_t *ret_n);
void module_entries_free(ModuleEntry *e, size_t n);

/* Whether the system under root refuses unsigned modules: 1 (and a reason such as
 * "sig_enforce=Y") or 0. The kernel command line (module.sig_enforce=1) is read only for the
 * running system (root "/"); ROOT/sys/module/module/parameters/sig_enforce and
 * ROOT/sys/kernel/security/lockdown always. */
int module_sig_enforced(const char *root, char **ret_reason);
/* The lockdown mode selected in a /sys/kernel/security/lockdown text ("none [integrity] ..."), a
 * pointer into a static string, or NULL. */
const char *module_lockdown_parse(const char *text);

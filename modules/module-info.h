/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modules/module-elf.h"

struct kmod_ctx;

typedef struct ModuleVersion {
        char *symbol;
        uint32_t crc;
} ModuleVersion;

/* What a module file says about itself: its ELF identity (module_elf_parse) and what libkmod reads
 * from .modinfo, __versions and the signature. */
typedef struct ModuleInfo {
        char *path;
        ModuleCompression compression;
        ModuleElf elf;
        char *name;              /* modinfo name= (NULL when missing) */
        char *vermagic;          /* modinfo vermagic= (NULL when missing) */
        char *srcversion;        /* modinfo srcversion= (NULL when missing): what /sys/module/NAME shows */
        char **depends;          /* modinfo depends=, split; NULL when none */
        ModuleVersion *versions; /* __versions in file order */
        size_t n_versions;
        bool signed_;                                   /* a signature trailer is appended */
        char *signer, *sig_key, *sig_hashalgo, *sig_id; /* from libkmod, NULL when unknown */
} ModuleInfo;

ModuleInfo *module_info_free(ModuleInfo *m);
static inline void module_info_freep(ModuleInfo **m)
{
        module_info_free(*m);
}

/* A libkmod context that reads no configuration and logs nowhere (libraries never print); libkmod
 * is loaded on first use. NULL with errno ELIBACC (libkmod.so.2 not installed), ELIBBAD or ENOMEM. */
struct kmod_ctx *module_kmod_new(void);
void module_kmod_unrefp(struct kmod_ctx **ctx);

/* Loads everything above from a .ko, .ko.xz or .ko.zst. Errors: those of module_file_read() and
 * module_elf_parse() (-ENOEXEC, -EBADMSG, -EMEDIUMTYPE), or libkmod's. */
int module_info_load(const char *path, ModuleInfo **ret);

/* Only the imported symbol CRCs of a module file, through libkmod (for scanning a module tree).
 * The context is the caller's so a scan does not build one per file. */
int module_versions_load(struct kmod_ctx *ctx, const char *path, ModuleVersion **ret, size_t *ret_n);
void module_versions_free(ModuleVersion *v, size_t n);

/* "dm-mod" and "dm_mod" are the same module: '-' becomes '_' (a new string). */
char *module_name_normalize(const char *name);
/* The module name a file name implies: directory and .ko[.xz|.zst|.gz] suffix dropped, normalized. */
char *module_name_from_path(const char *path);
/* A module name the kernel accepts: 1..55 characters of [A-Za-z0-9_-]. */
bool module_name_valid(const char *name);

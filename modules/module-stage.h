/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/sha256.h"
#include "modules/module-info.h"

/* The new module files of a `module swap`, copied into a staging directory (a source the user
 * named, or its archive's members, must not change under the checks): one candidate per module
 * name, hashed as it is copied. */

typedef struct ModuleCandidate {
        char *name;     /* normalized module name */
        char *basename; /* dm-mod.ko.xz */
        char *path;     /* host path of the staged copy */
        char sha256[SHA256_HEX_SIZE];
        ModuleInfo *info; /* filled by the caller (module_info_load()) */
} ModuleCandidate;

typedef struct ModuleStage {
        char *dir; /* the staging directory (host path), removed with everything in it by _done() */
        ModuleCandidate *c;
        size_t n;
        char *duplicate; /* set with -ENOTUNIQ: the module name given twice */
} ModuleStage;

/* Frees the candidates and removes dir (never following a link); the struct itself is the caller's. */
void module_stage_done(ModuleStage *s);

/* A module file's name: *.ko, *.ko.xz, *.ko.zst */
bool module_file_name(const char *base);

/* Stages data under the base name of member if it is a module file's name for a valid module name
 * (else 0, nothing staged). -ENOTUNIQ a second file for a module, -EFBIG over MODULE_FILE_MAX. */
int module_stage_add(ModuleStage *s, const char *member, const void *data, size_t size);

/* Stages the module files of a directory tree (8 levels at most), never following a link. */
int module_stage_add_dir(ModuleStage *s, const char *dir);

/* The candidate for a module name, or for the host path of a staged copy; NULL if none. */
ModuleCandidate *module_stage_find(const ModuleStage *s, const char *name);
ModuleCandidate *module_stage_find_path(const ModuleStage *s, const char *path);

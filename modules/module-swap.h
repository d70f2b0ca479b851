/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "modules/module-target.h"

/* `module swap`: replace a loaded module (and, where new files are given, its dependents) with new
 * files, live. The plan reads what the kernel shows under ROOT/proc/modules and ROOT/sys/module,
 * ROOT/sys/block/dm-* and ROOT/proc/PID/fd (every path resolved inside root, so tests use fake
 * trees); the execution goes through ModuleOps (libkmod in the daemon, fakes in the unit tests) and
 * puts the original modules back on any failure. Nothing here prints. */

/* The names in a /proc/modules text, in file order. -EBADMSG for a line that is not
 * "NAME SIZE REFCNT DEPS STATE ADDR". */
int module_proc_modules_parse(const char *data, size_t size, char ***ret_names);

/* A module as the kernel shows it. */
typedef struct LoadedModule {
        char *name;
        long refcnt;      /* /sys/module/NAME/refcnt; -1 if there is none (built in) */
        char **holders;   /* /sys/module/NAME/holders/: the loaded modules that use it */
        char *srcversion; /* /sys/module/NAME/srcversion, NULL if none */
} LoadedModule;

/* -ENOENT: NAME is not loaded (no line in ROOT/proc/modules); -EPERM: built into the kernel (in
 * ROOT/sys/module, not in ROOT/proc/modules). */
int module_loaded_read(const char *root, const char *name, LoadedModule **ret);
LoadedModule *loaded_module_free(LoadedModule *m);
static inline void loaded_module_freep(LoadedModule **m)
{
        loaded_module_free(*m);
}

typedef struct SwapModule {
        char *name;
        bool loaded;          /* loaded when the plan was made */
        long refcnt;          /* as read; refcnt - n_holders references are not ours to drop */
        size_t n_holders;
        char *srcversion;     /* of the loaded module */
        char *original;       /* host path of the installed file that is put back (NULL: not loaded) */
        char *original_shown; /* the same inside root, for messages */
        char *replacement;    /* host path of the new file; NULL: reinserted from original */
} SwapModule;

typedef struct SwapPlan {
        char *release;
        SwapModule *modules; /* removal order: each module before those it uses; the swapped one last */
        size_t n_modules;
        char **users; /* what else holds them ("device-mapper device dm-0 (vg-snap)", "process 812
                       * (lvm) has /dev/mapper/control open", "dm_mod: 2 references"): in use when set */
        char **loaded_before; /* every loaded module when the plan was made */
} SwapPlan;

SwapPlan *swap_plan_free(SwapPlan *p);
static inline void swap_plan_freep(SwapPlan **p)
{
        swap_plan_free(*p);
}

/* Where the files come from: a module name to a host path, or NULL. */
typedef const char *(*SwapFileFunc)(const char *name, void *userdata);
typedef struct SwapSources {
        SwapFileFunc replacement; /* the new file; NULL: the module is reinserted from its own file */
        SwapFileFunc previous;    /* a copy an earlier swap loaded: put back when the loaded module
                                   * is that one rather than the installed file (may be NULL) */
        void *userdata;
} SwapSources;

/* The plan for swapping NAME on the release t describes: NAME and every loaded module that uses it,
 * directly or not, from ROOT/sys/module/.../holders; the file each is put back from (its entry in
 * the release's modules.dep, or the previous copy, whose srcversion must be the loaded one); the
 * replacement of each (NAME's is required). Errors: -EPERM NAME is built in; -ESTALE no file with
 * the loaded srcversion, -EUCLEAN no installed file at all for a loaded module (*ret_stale names
 * it in both cases); -ENOENT no replacement for NAME; -ELOOP holders that form a cycle. */
int swap_plan_make(const char *root, ModuleTarget *t, const char *name, const SwapSources *src,
                   SwapPlan **ret, char **ret_stale);

typedef struct ModuleOps {
        int (*remove)(const char *name, void *userdata); /* negative errno */
        int (*insert)(const char *path, void *userdata);
        void *userdata;
} ModuleOps;

typedef enum SwapOutcome {
        SWAP_DONE,           /* every module swapped or reinserted */
        SWAP_RESTORED,       /* a step failed; every original module is back */
        SWAP_RESTORE_FAILED, /* a step failed and putting the originals back failed too */
} SwapOutcome;

const char *swap_outcome_to_string(SwapOutcome o);

typedef struct SwapResult {
        SwapOutcome outcome;
        int error;             /* of the failed step */
        char *failed_step;     /* "insert /path (dm_mod)", "remove dm_snapshot" */
        int restore_error;     /* of the first failed restore step */
        char *restore_failed_step;
        char **steps;          /* every step taken, in order, with its result */
} SwapResult;

void swap_result_done(SwapResult *r);

/* Remove the modules in plan order, insert the replacements and originals in reverse order; on any
 * failure remove what was inserted and put every module that was loaded back from its original
 * file. Returns 0 with *ret filled (whatever the outcome), or -ENOMEM. */
int swap_execute(const SwapPlan *p, const ModuleOps *ops, SwapResult *ret);

/* After a swap was cut off between its steps (the process killed): every module of the plan that is
 * loaded now is taken out (users first) and every module that was loaded is put back from its
 * original file. Returns 0 with *ret (SWAP_RESTORED or SWAP_RESTORE_FAILED), or -ENOMEM. */
int swap_recover(const char *root, const SwapPlan *p, const ModuleOps *ops, SwapResult *ret);

/* Compares the loaded modules under root with what the plan expects after `outcome`: every module
 * of the plan loaded, with its replacement's srcversion (SWAP_DONE) or its original one
 * (SWAP_RESTORED). new_srcversions[i] is that of modules[i].replacement (NULL: none/unknown).
 * Returns 0 if all match; else 1 and *ret_diff says the first difference. */
int swap_verify(const char *root, const SwapPlan *p, char *const *new_srcversions, SwapOutcome outcome,
                char **ret_diff);

/* The kernel's release under root: ROOT/proc/sys/kernel/osrelease. */
int module_running_release(const char *root, char **ret);

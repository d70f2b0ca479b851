/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <libkmod.h>

#include "modules/kmod-loader.h"

#include "common/macro.h"

#include "modules/module-info.h"
#include "modules/module-kmod.h"

static void kmod_module_unrefp(struct kmod_module **m)
{
        if (*m)
                kmod_module_unref(*m);
}

static int kmod_insert(const char *path, void *userdata)
{
        struct kmod_ctx *ctx = userdata;
        _cleanup_(kmod_module_unrefp) struct kmod_module *mod = NULL;
        int r = kmod_module_new_from_path(ctx, path, &mod);
        if (r < 0)
                return r;
        /* no force flags: the kernel's own checks stay on top of ours */
        r = kmod_module_insert_module(mod, 0, NULL);
        return r < 0 ? r : 0;
}

static int kmod_remove(const char *name, void *userdata)
{
        struct kmod_ctx *ctx = userdata;
        _cleanup_(kmod_module_unrefp) struct kmod_module *mod = NULL;
        int r = kmod_module_new_from_name(ctx, name, &mod);
        if (r < 0)
                return r;
        /* never KMOD_REMOVE_FORCE: a module in use stays */
        r = kmod_module_remove_module(mod, 0);
        return r < 0 ? r : 0;
}

int module_kmod_ops(ModuleOps *ret)
{
        struct kmod_ctx *ctx = module_kmod_new();
        if (!ctx)
                return -errno;
        *ret = (ModuleOps) { .insert = kmod_insert, .remove = kmod_remove, .userdata = ctx };
        return 0;
}

void module_kmod_ops_done(ModuleOps *ops)
{
        if (ops->userdata)
                kmod_unref(ops->userdata);
        ops->userdata = NULL;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>

#include "common/dlopen-util.h"
#include "common/macro.h"
#include "modules/kmod-loader.h"

KmodFunctions kk_kmod;

int kmod_load(void)
{
        static int state = 1; /* 1: not tried, 0: loaded, <0: the error */
        if (state <= 0)
                return state;
        static const DlSym syms[] = {
                { (void **) &kk_kmod.new_, "kmod_new" },
                { (void **) &kk_kmod.unref, "kmod_unref" },
                { (void **) &kk_kmod.set_log_fn, "kmod_set_log_fn" },
                { (void **) &kk_kmod.list_next, "kmod_list_next" },
                { (void **) &kk_kmod.module_new_from_path, "kmod_module_new_from_path" },
                { (void **) &kk_kmod.module_new_from_name, "kmod_module_new_from_name" },
                { (void **) &kk_kmod.module_unref, "kmod_module_unref" },
                { (void **) &kk_kmod.module_insert_module, "kmod_module_insert_module" },
                { (void **) &kk_kmod.module_remove_module, "kmod_module_remove_module" },
                { (void **) &kk_kmod.module_get_info, "kmod_module_get_info" },
                { (void **) &kk_kmod.module_info_get_key, "kmod_module_info_get_key" },
                { (void **) &kk_kmod.module_info_get_value, "kmod_module_info_get_value" },
                { (void **) &kk_kmod.module_info_free_list, "kmod_module_info_free_list" },
                { (void **) &kk_kmod.module_get_versions, "kmod_module_get_versions" },
                { (void **) &kk_kmod.module_version_get_symbol, "kmod_module_version_get_symbol" },
                { (void **) &kk_kmod.module_version_get_crc, "kmod_module_version_get_crc" },
                { (void **) &kk_kmod.module_versions_free_list, "kmod_module_versions_free_list" },
        };
        return state = dlopen_symbols("libkmod.so.2", syms, ELEMENTSOF(syms));
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "modules/module-swap.h"

/* The real kernel's module operations through libkmod (init_module/finit_module, delete_module
 * without force, non-blocking), for swap_execute(). Release with module_kmod_ops_done(). */
int module_kmod_ops(ModuleOps *ret);
void module_kmod_ops_done(ModuleOps *ops);

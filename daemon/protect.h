/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "daemon/context.h"

/* Kernels that routine package operations must not take away: the pinned default and fallbacks,
 * and both kernels of a trial in flight. Like Debian's own apt-auto-removal hook protects the running
 * kernel, an APT::NeverAutoRemove list in ROOT/etc/apt/apt.conf.d/50kernelkeeper keeps `apt
 * autoremove` off them (written only where ROOT/etc/apt/apt.conf.d exists), and
 * /etc/kernel/prerm.d/kernelkeeper refuses an explicit removal (protect_check_removal()). */

/* Rewrites the apt list from the state and the menu as they are now (the list is removed when
 * nothing is protected). Logs a warning on failure: protection never fails the operation. */
void protect_update(const Context *ctx);

/* 0 if the kernel release may be removed; -EBUSY (logged, naming why) if it is protected, unless
 * KERNELKEEPER_ALLOW_REMOVE=1 (then a warning). */
int protect_check_removal(const Context *ctx, const char *release);

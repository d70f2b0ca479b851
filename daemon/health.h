/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "daemon/context.h"

/* Runs the executables of ROOT/etc/kernelkeeper/health.d in name order, each in its own process
 * group with check_timeout_sec (0: none), output where ours goes. Stops at the first that fails;
 * *ret_failed then names it and how ("health check 20-ssh failed (exit status 1)"), else NULL. */
int health_run_checks(const Context *ctx, unsigned check_timeout_sec, char **ret_failed);

/* Whether boot-complete.target was reached on this boot (asked of systemd over its private socket):
 * *ret_failed is NULL if it was (or when there is no systemd to ask: a --root tree), else the reason
 * with the failed units ("boot-complete.target was not reached (failed units: x.service)"). */
int health_boot_complete(const Context *ctx, char **ret_failed);

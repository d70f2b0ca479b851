/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "daemon/context.h"

/* The first line of a /proc file of the system kernelkeeper manages: ROOT/proc/... when the tree has
 * one (tests give a tree its own boot id, command line and release), the host's otherwise. */
int proc_read_line(const Context *ctx, const char *rel, char **ret);

/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>

#include "daemon/context.h"

/* ROOT/run/kernelkeeper/daemon.json: written by a running daemon (pid, start time), removed when it
 * exits, read by `status`. A pid alone could have been reused by now, so the kernel's start time of
 * the process (/proc/PID/stat) is recorded and compared too. */
int guardian_runfile_write(const Context *ctx, const char *menu_path);
void guardian_runfile_remove(const Context *ctx);

/* A new object {"running": bool, "pid", "started"} (pid/started only when known). Never fails on a
 * missing or stale file: that simply means "not running". */
int guardian_runfile_query(const Context *ctx, json_t **ret);

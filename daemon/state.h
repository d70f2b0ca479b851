/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>

#include "daemon/context.h"

/* ROOT/var/lib/kernelkeeper/state.json: one JSON object, each subsystem owning a top-level key
 * ("pin", "guardian", "userdata", ...). Written atomically, mode 0600, directory 0700. */
/* The host path of state.json, its directory resolved inside --root (the file itself may be
 * missing or anything else: state_load() checks). */
int state_path(const Context *ctx, char **ret_path);
/* A missing file gives an empty object; an unreadable or corrupt one is an error (logged): not JSON,
 * not a regular file (a FIFO, a symlink: never followed), or a key kernelkeeper owns ("pin",
 * "last_restore", "restores", "userdata"; the table in state.c) holding the wrong JSON types. The
 * path resolves inside --root; state_save() creates the directory there with mkdir_in_root(). */
int state_load(const Context *ctx, json_t **ret);
int state_save(const Context *ctx, json_t *state);
/* The state directory, created (0700) if missing, resolved inside the root: where the record of an
 * interrupted write lives. */
int state_dir_create(const Context *ctx, char **ret_dir);

/* json_decrefp() comes with jansson >= 2.9 */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* "2026-11-22T03:48:47Z" */
char *now_iso8601(void);

/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A tar archive of modules (`module swap --from modules.tar`, the 2007 recipe's tarball once
 * gunzipped): ustar/GNU/pax headers checked (checksum, octal sizes, bounds), regular files handed to
 * the callback with their member name; links, devices and directories are skipped, never followed. */

/* True if the buffer starts with a ustar (POSIX or GNU) header. */
bool module_tar_magic(const uint8_t *data, size_t size);

/* cb returning nonzero stops the walk and returns that. -EBADMSG for a damaged archive (bad
 * checksum, a size that is not octal, a member running past the end). */
typedef int (*TarMemberFunc)(const char *name, const uint8_t *data, size_t size, void *userdata);
int module_tar_parse(const uint8_t *data, size_t size, TarMemberFunc cb, void *userdata);

/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

typedef enum ChaseFlags {
        CHASE_NONEXISTENT = 1 << 0, /* the last component may be missing */
        CHASE_NOFOLLOW_LAST = 1 << 1, /* do not follow a symlink in the last component */
} ChaseFlags;

/* Resolves path as if root were "/": ".." never climbs above root and absolute symlink targets are
 * taken relative to root, so nothing outside the tree is ever reached. root NULL or "/" means the
 * real root. On success *ret_path is the host path (root prefix included), newly allocated.
 * Errors: -ENOENT, -ELOOP (more than 32 links), -ENOTDIR, -ENAMETOOLONG. */
int chase_in_root(const char *root, const char *path, ChaseFlags flags, char **ret_path);

/* Joins root and an absolute path without resolving anything ("/" root collapses). */
char *path_join_root(const char *root, const char *path);

/* True if path names the host's real root ("/", NULL or empty). */
bool root_is_host(const char *root);

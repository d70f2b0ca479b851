/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

typedef enum ChaseFlags {
        CHASE_NONEXISTENT = 1 << 0, /* the last component may be missing */
        CHASE_NOFOLLOW_LAST = 1 << 1, /* do not follow a symlink in the last component */
        CHASE_MKDIR = 1 << 2,         /* internal: see mkdir_in_root() */
} ChaseFlags;

/* Resolves path as if root were "/": ".." never climbs above root and absolute symlink targets are
 * taken relative to root, so nothing outside the tree is ever reached. root NULL or "/" means the
 * real root. On success *ret_path is the host path (root prefix included), newly allocated.
 * Errors: -ENOENT, -ELOOP (more than 32 links), -ENOTDIR, -ENAMETOOLONG. */
int chase_in_root(const char *root, const char *path, ChaseFlags flags, char **ret_path);

/* mkdir -p inside root: walks path as chase_in_root() does and creates each missing component where
 * the walk stands (parents 0755, the last one mode), so a link to a host directory is followed inside
 * the tree and never gets anything created on the host. root itself must exist. *ret_path is the
 * resolved directory. Errors: as chase_in_root(), -ENOTDIR if a non-directory is in the way. */
int mkdir_in_root(const char *root, const char *path, mode_t mode, char **ret_path);

/* Opens a regular file inside root: chase_in_root() (with CHASE_NONEXISTENT when open_flags hold
 * O_CREAT), then open() with O_NOFOLLOW and O_NONBLOCK so neither a link swapped in after the walk
 * nor a FIFO can take it anywhere, then fstat(). Anything but a regular file gives -EINVAL (with
 * CHASE_NOFOLLOW_LAST that includes a symlink as last component); O_NONBLOCK is cleared again unless
 * open_flags asked for it. Returns the fd (O_CLOEXEC); *ret_path (may be NULL) gets the host path. */
int open_in_root(const char *root, const char *path, ChaseFlags flags, int open_flags, mode_t mode,
                 char **ret_path);

/* The part of host_path below root ("/" for root itself), or NULL if host_path is not under root. For
 * a path chase_in_root() returned, this is the same path as if root were "/". */
const char *path_skip_root(const char *root, const char *host_path);

/* Joins root and an absolute path without resolving anything ("/" root collapses). Only for messages
 * and for paths that are then resolved: nothing may be opened or created through the result. */
char *path_join_root(const char *root, const char *path);

/* True if path names the host's real root ("/", NULL or empty). */
bool root_is_host(const char *root);

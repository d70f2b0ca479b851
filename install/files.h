/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Removes name below dir_fd and everything in it, never following a symbolic link. A missing name
 * is not an error. */
int rm_rf_at(int dir_fd, const char *name);

/* Copies the tree src (a host path) to a new directory name below dst_fd: directories, regular
 * files (with write(): never sparse) and symbolic links whose target stays inside the tree; anything
 * else is refused with -EPERM. *ret_bytes (may be NULL) the bytes copied. No fsync: the caller
 * syncs the filesystem once. */
int copy_tree(const char *src, int dst_fd, const char *name, uint64_t *ret_bytes);

/* True if the open file has a hole (SEEK_HOLE before its end) or fewer blocks than its size needs:
 * GRUB 0.97 cannot read such a file on ext4. */
bool fd_is_sparse(int fd);

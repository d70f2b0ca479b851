/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/chase.h"

/* Reads a whole regular file. Refuses anything larger than max_size with -EFBIG and
 * anything that is not a regular file with -EINVAL. The buffer is NUL-terminated
 * (not counted in the size) so text parsers may treat it as a string. The file is opened with
 * O_NONBLOCK, so a FIFO is refused instead of blocking; read_full_fd() clears O_NONBLOCK once it
 * knows the fd is a regular file (open your own fds with O_NONBLOCK for the same reason).
 * read_full_file() takes a host path as it is (links followed): for a path under a --root tree use
 * read_full_file_in_root(), which resolves it with open_in_root(). */
int read_full_file(const char *path, size_t max_size, char **ret_data, size_t *ret_size);
int read_full_file_in_root(const char *root, const char *path, ChaseFlags flags, size_t max_size,
                           char **ret_data, size_t *ret_size);
int read_full_fd(int fd, size_t max_size, char **ret_data, size_t *ret_size);

typedef enum WriteFlags {
        WRITE_KEEP_PREV = 1 << 0,   /* keep the replaced file as PATH.kk-prev */
        WRITE_SYNCFS = 1 << 1,      /* syncfs() the filesystem after the rename */
        WRITE_FREEZE = 1 << 2,      /* FIFREEZE/FITHAW the filesystem so a bootloader sees the bytes */
        WRITE_MODE_FROM_OLD = 1 << 3, /* keep mode/owner of the file being replaced */
} WriteFlags;

/* Writes data to path atomically: temp file in the same directory, fsync, rename, fsync of the
 * directory. On any failure the temp file is removed and the old file is untouched. mode is used
 * for new files (or always, without WRITE_MODE_FROM_OLD). path must already be resolved (see
 * chase_in_root()). A path that is a symlink or anything but a regular file is refused with -EINVAL:
 * the link is never replaced nor followed. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode, WriteFlags flags);

/* Writes all of data, retrying short writes and EINTR. */
int loop_write(int fd, const void *data, size_t size);

/* mkdir -p with the given mode for the directories it creates, on a host path as it is (links
 * followed). Under a --root tree use mkdir_in_root(). */
int mkdir_p(const char *path, mode_t mode);

/* Binary data detection for text parsers: true if the buffer holds a NUL byte in its
 * first 8 KiB or is not mostly printable. */
bool looks_binary(const char *data, size_t size);

/* Removes the temp files write_file_atomic() left behind when it was killed: in directory dir, the
 * regular files named NAME.kk-XXXXXX (NAME one of names, XXXXXX mkostemp's six characters), never
 * NAME.kk-prev nor anything else. Call it only while no writer of ours can be at work (under the
 * writers' lock). Returns the number removed; a missing dir removes nothing. */
int remove_stale_temps(const char *dir, const char *const *names);

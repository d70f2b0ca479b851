/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Descriptors that must not cross an exec. Every descriptor kernelkeeper opens is close-on-exec
 * from the start (O_CLOEXEC, SOCK_CLOEXEC, ...); these cover what a library opens without it and
 * what a child is about to exec with. */

/* Marks every descriptor >= from close-on-exec: close_range(CLOSE_RANGE_CLOEXEC) (Linux 5.11), else
 * a walk of /proc/self/fd. */
int fd_cloexec_from(int from);

/* Closes every descriptor >= from: close_range() (Linux 5.9), else a walk of /proc/self/fd, else a
 * loop up to the descriptor limit. Async-signal-safe (no allocation): for a child between fork()
 * and exec(). */
int fd_close_from(int from);

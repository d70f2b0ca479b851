/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

/* Running a tool (depmod, update-initramfs, dpkg, apt-get, systemctl, a health check): fork + exec
 * with no descriptor of ours crossing the exec (everything above stderr is closed in the child). */

typedef enum SpawnStdout {
        SPAWN_STDOUT_INHERIT,   /* where ours goes */
        SPAWN_STDOUT_TO_STDERR, /* onto our stderr (a tool's chatter never mixes with our output) */
        SPAWN_STDOUT_NULL,
        SPAWN_STDOUT_CAPTURE, /* into *ret_output */
} SpawnStdout;

typedef struct SpawnOptions {
        SpawnStdout stdout_to;
        bool stdin_null;      /* stdin from /dev/null instead of ours */
        bool no_path_search;  /* argv[0] is a path, not looked up in $PATH */
        const char *cwd;      /* the child's working directory; NULL: ours */
        unsigned timeout_sec; /* 0: none; else the child runs in its own process group, killed after it */
} SpawnOptions;

/* Runs argv and waits for it. Returns its wait status (>= 0), or a negative errno: the program could
 * not be started (-ENOENT it does not exist, -EACCES, ... as exec said), -ETIME it ran out of time
 * (it and its process group were killed). With SPAWN_STDOUT_CAPTURE, *ret_output (NUL-terminated)
 * is set whenever a status is returned. */
int spawn_wait(char *const argv[], const SpawnOptions *o, char **ret_output);

/* spawn_wait() for callers that need only success: 0 on exit status 0, -EPROTO on another exit
 * status or a signal, else spawn_wait()'s error. *ret_output only on success. */
int spawn_run(char *const argv[], const SpawnOptions *o, char **ret_output);

/* prog is an executable file in one of $PATH's directories (/usr/sbin:/usr/bin:/sbin:/bin without
 * one). */
bool spawn_in_path(const char *prog);

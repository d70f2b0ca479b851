/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <syslog.h>

#include "common/macro.h"

/* Logging lives in daemon/ only: to the journal when stderr is the journal stream systemd set up
 * (JOURNAL_STREAM names stderr's device:inode), to stderr otherwise. Libraries return errors; the
 * daemon logs them once. */
void log_setup(void);
void log_set_max_level(int level);
int log_get_max_level(void);
void log_force_stderr(void);
bool log_to_journal(void);
/* The text of the last message logged at LOG_ERR or above, NULL if none: the one error line a
 * failed command reports (cli_run repeats it in --json output). */
const char *log_last_error(void);

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...) _printf_(5, 6);

/* Structured event with a MESSAGE_ID (see man/kernelkeeper.catalog). Extra fields are "KEY=value"
 * strings terminated by NULL. */
int log_event(int level, const char *message_id, const char *const *fields, const char *fmt, ...) _printf_(4, 5);

#define log_full_errno(level, error, ...) log_internal((level), (error), __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)
/* these return -abs(error) so callers can "return log_error_errno(r, ...)"; %m prints the error */
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, (error), __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(LOG_ERR, (error), __VA_ARGS__)

/* MESSAGE_IDs (128-bit, as journalctl --catalog expects) */
#define KK_MESSAGE_PIN_RESTORED "9a3c1f0e5b7d4c2a8e6f1d3b5a7c9e01"
#define KK_MESSAGE_REWRITE_STORM "9a3c1f0e5b7d4c2a8e6f1d3b5a7c9e02"
#define KK_MESSAGE_PINNED_KERNEL_MISSING "9a3c1f0e5b7d4c2a8e6f1d3b5a7c9e03"
#define KK_MESSAGE_USERDATA_RAN "9a3c1f0e5b7d4c2a8e6f1d3b5a7c9e04"
#define KK_MESSAGE_TRIAL_STARTED "9a3c1f0e5b7d4c2a8e6f1d3b5a7c9e05"
#define KK_MESSAGE_TRIAL_COMMITTED "9a3c1f0e5b7d4c2a8e6f1d3b5a7c9e06"
#define KK_MESSAGE_TRIAL_FAILED "9a3c1f0e5b7d4c2a8e6f1d3b5a7c9e07"
#define KK_MESSAGE_MODULE_SWAPPED "9a3c1f0e5b7d4c2a8e6f1d3b5a7c9e20"
#define KK_MESSAGE_MODULE_SWAP_FAILED "9a3c1f0e5b7d4c2a8e6f1d3b5a7c9e21"
#define KK_MESSAGE_MODULE_PERSISTED_CHECKED "9a3c1f0e5b7d4c2a8e6f1d3b5a7c9e22"

#define log_oom() log_error_errno(ENOMEM, "Out of memory")

/* The one line for an error of the file helpers (read_full_file*(), open_in_root(),
 * write_file_atomic()), for which -EINVAL means "not a regular file" (a FIFO, a directory, a link
 * where none may be): "Cannot ACTION PATH: %m" otherwise. */
#define log_file_error(r, action, path)                                                                  \
        ((r) == -EINVAL ? log_error_errno((r), "%s is not a regular file", (path))                     \
                        : log_error_errno((r), "Cannot %s %s: %m", (action), (path)))

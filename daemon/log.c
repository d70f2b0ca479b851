/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>

#include "daemon/log.h"

static int max_level = LOG_INFO;
static bool to_journal;
static char *last_error;

/* systemd.exec(5): $JOURNAL_STREAM is "DEVICE:INODE" of the stream systemd connected to the
 * journal. It is inherited by everything the service runs, so only a stderr that still is that
 * stream counts (as systemd's own log.c checks it). */
static bool stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        if (!e)
                return false;
        size_t n_dev = strspn(e, "0123456789");
        const char *i = e + n_dev + 1;
        if (n_dev == 0 || e[n_dev] != ':' || strspn(i, "0123456789") == 0 || i[strspn(i, "0123456789")])
                return false;
        unsigned long long dev = strtoull(e, NULL, 10), ino = strtoull(i, NULL, 10);
        struct stat st;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_setup(void)
{
        to_journal = stderr_is_journal();
        const char *e = getenv("KERNELKEEPER_LOG_LEVEL");
        if (e && streq(e, "debug"))
                max_level = LOG_DEBUG;
}

void log_force_stderr(void)
{
        to_journal = false;
}

bool log_to_journal(void)
{
        return to_journal;
}

const char *log_last_error(void)
{
        return last_error;
}

void log_set_max_level(int level)
{
        max_level = level;
}

int log_get_max_level(void)
{
        return max_level;
}

static void emit(int level, int error, const char *file, int line, const char *message_id,
                 const char *const *fields, const char *msg)
{
        if (level <= LOG_ERR) {
                char *copy = strdup(msg);
                if (copy) {
                        free(last_error);
                        last_error = copy;
                }
        }
        if (!to_journal) {
                fprintf(stderr, "kernelkeeper: %s\n", msg);
                return;
        }
        char prio[16], code_line[16], errno_field[32];
        snprintf(prio, sizeof prio, "PRIORITY=%d", level);
        snprintf(code_line, sizeof code_line, "CODE_LINE=%d", line);
        snprintf(errno_field, sizeof errno_field, "ERRNO=%d", error);
        _cleanup_free_ char *m = NULL, *f = NULL, *id = NULL;
        if (asprintf(&m, "MESSAGE=%s", msg) < 0 || asprintf(&f, "CODE_FILE=%s", file ? file : "?") < 0)
                return;
        if (message_id && asprintf(&id, "MESSAGE_ID=%s", message_id) < 0)
                return;

        struct iovec iov[32];
        size_t n = 0;
        iov[n++] = (struct iovec){ m, strlen(m) };
        iov[n++] = (struct iovec){ prio, strlen(prio) };
        iov[n++] = (struct iovec){ f, strlen(f) };
        iov[n++] = (struct iovec){ code_line, strlen(code_line) };
        iov[n++] = (struct iovec){ (char *) "SYSLOG_IDENTIFIER=kernelkeeper", 30 };
        if (error)
                iov[n++] = (struct iovec){ errno_field, strlen(errno_field) };
        if (id)
                iov[n++] = (struct iovec){ id, strlen(id) };
        for (size_t i = 0; fields && fields[i] && n < ELEMENTSOF(iov); i++)
                iov[n++] = (struct iovec){ (char *) fields[i], strlen(fields[i]) };
        if (sd_journal_sendv(iov, (int) n) < 0)
                fprintf(stderr, "kernelkeeper: %s\n", msg);
}

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...)
{
        error = error < 0 ? -error : error;
        if (level > max_level)
                return -error;
        int saved = errno;
        errno = error; /* so %m prints the error we were given */
        va_list ap;
        char *msg;
        va_start(ap, fmt);
        int k = vasprintf(&msg, fmt, ap);
        va_end(ap);
        errno = saved;
        if (k < 0)
                return -error;
        emit(level, error, file, line, NULL, NULL, msg);
        free(msg);
        return -error;
}

int log_event(int level, const char *message_id, const char *const *fields, const char *fmt, ...)
{
        if (level > max_level)
                return 0;
        va_list ap;
        char *msg;
        va_start(ap, fmt);
        int k = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        emit(level, 0, NULL, 0, message_id, fields, msg);
        free(msg);
        return 0;
}

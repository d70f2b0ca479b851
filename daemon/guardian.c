/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "common/chase.h"
#include "common/macro.h"
#include "daemon/guardian-runfile.h"
#include "daemon/guardian-storm.h"
#include "daemon/guardian-watch.h"
#include "daemon/guardian.h"
#include "daemon/log.h"
#include "daemon/menu-txn.h"
#include "daemon/pin.h"
#include "menulst/menulst.h"

#define USEC_PER_MSEC 1000ULL
#define USEC_PER_SEC 1000000ULL
/* an in-place writer (IN_MODIFY without IN_CLOSE_WRITE yet) gets this long to finish */
#define WRITING_SETTLE_USEC (250 * USEC_PER_MSEC)
/* a burst that never pauses is still checked this often */
#define MAX_DELAY_USEC USEC_PER_SEC

typedef struct Guardian {
        Context *ctx;
        sd_event *event;
        WatchSet *watches;
        int mountinfo_fd;
        sd_event_source *inotify_source, *mount_source, *debounce_source, *backoff_source, *recheck_source;
        sd_event_source *sigterm_source, *sigint_source, *sighup_source;
        uint64_t burst_start;   /* first event not yet acted on, 0: none */
        uint64_t backoff_until; /* storm back-off: no restore before this */
        StormTracker storm;
        unsigned restores;      /* by this process */
        char *status;           /* last STATUS= sent */
} Guardian;

static void guardian_done(Guardian *g)
{
        sd_event_source **sources[] = { &g->inotify_source, &g->mount_source, &g->debounce_source,
                                        &g->backoff_source, &g->recheck_source, &g->sigterm_source,
                                        &g->sigint_source, &g->sighup_source };
        for (size_t i = 0; i < ELEMENTSOF(sources); i++)
                *sources[i] = sd_event_source_disable_unref(*sources[i]);
        g->event = sd_event_unref(g->event);
        g->watches = watch_set_free(g->watches);
        if (g->mountinfo_fd >= 0)
                close(g->mountinfo_fd);
        g->mountinfo_fd = -EBADF;
        g->status = (free(g->status), NULL);
}

static uint64_t now_usec(const Guardian *g)
{
        uint64_t t = 0;
        (void) sd_event_now(g->event, CLOCK_MONOTONIC, &t);
        return t;
}

static void set_status(Guardian *g, const char *fmt, ...) _printf_(2, 3);
static void set_status(Guardian *g, const char *fmt, ...)
{
        va_list ap;
        char *s;
        va_start(ap, fmt);
        int k = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (k < 0)
                return;
        if (g->status && streq(g->status, s)) {
                free(s);
                return;
        }
        free(g->status);
        g->status = s;
        (void) sd_notifyf(false, "STATUS=%s", s);
}

static void schedule_check(Guardian *g, uint64_t delay)
{
        uint64_t now = now_usec(g);
        if (!g->burst_start)
                g->burst_start = now;
        /* trailing debounce: each event moves the check later, but never past MAX_DELAY_USEC */
        uint64_t max_delay = MAX(MAX_DELAY_USEC, 10 * (uint64_t) g->ctx->config.debounce_msec * USEC_PER_MSEC);
        uint64_t when = MIN(now + delay, g->burst_start + max_delay);
        (void) sd_event_source_set_time(g->debounce_source, when);
        (void) sd_event_source_set_enabled(g->debounce_source, SD_EVENT_ONESHOT);
}

static uint64_t debounce_usec(const Guardian *g)
{
        return (uint64_t) g->ctx->config.debounce_msec * USEC_PER_MSEC;
}

static void rearm(Guardian *g)
{
        const char *mp = g->ctx->config.menu_path;
        int r = watch_set_arm(g->watches, g->ctx->root, mp);
        if (r < 0)
                log_warning_errno(r, "Cannot watch the directories of %s: %m; relying on the periodic re-check", mp);
        else if (!watch_set_complete(g->watches))
                log_info("The directory of %s does not exist yet; waiting for it", mp);
        else
                log_debug("Watching %s", mp);
}

static void storm_backoff(Guardian *g, const LoadedMenu *seen, uint64_t backoff)
{
        const char *writer = menulst_guess_writer(seen->menu);
        unsigned secs = (unsigned) ((backoff + USEC_PER_SEC - 1) / USEC_PER_SEC);

        _cleanup_free_ char *f_writer = NULL, *f_backoff = NULL, *f_count = NULL;
        const char *fields[4] = {};
        size_t n = 0;
        if (asprintf(&f_backoff, "KK_BACKOFF_SEC=%u", secs) >= 0)
                fields[n++] = f_backoff;
        if (asprintf(&f_count, "KK_RESTORES=%zu", storm_recent(&g->storm)) >= 0)
                fields[n++] = f_count;
        if (writer && asprintf(&f_writer, "KK_WRITER=%s", writer) >= 0)
                fields[n++] = f_writer;
        log_event(LOG_WARNING, KK_MESSAGE_REWRITE_STORM, fields,
                  "%s keeps rewriting %s the same way (%zu restores in %us); backing off %us before restoring again",
                  writer ? writer : "Another writer", g->ctx->config.menu_path, storm_recent(&g->storm),
                  g->ctx->config.storm_window_sec, secs);
        set_status(g, "Backing off %us from %s rewriting %s", secs, writer ? writer : "another writer",
                   g->ctx->config.menu_path);

        g->backoff_until = now_usec(g) + backoff;
        (void) sd_event_source_set_time(g->backoff_source, g->backoff_until);
        (void) sd_event_source_set_enabled(g->backoff_source, SD_EVENT_ONESHOT);
}

/* Looks at the menu now and puts the pin back if it no longer holds. Never fatal: the daemon keeps
 * watching whatever happens to one attempt. */
static void check(Guardian *g, const char *why)
{
        Context *ctx = g->ctx;
        g->burst_start = 0;
        (void) sd_event_source_set_enabled(g->debounce_source, SD_EVENT_OFF);

        uint64_t now = now_usec(g);
        if (now < g->backoff_until) {
                log_debug("Check (%s) deferred: backing off from a rewrite storm", why);
                return; /* the back-off timer checks when it ends */
        }
        if (watch_set_stale(g->watches, ctx->root, ctx->config.menu_path))
                rearm(g);

        _cleanup_free_ char *path = NULL;
        int r = chase_in_root(ctx->root, ctx->config.menu_path, 0, &path);
        if (r == -ENOENT || r == -ENOTDIR) {
                set_status(g, "Waiting for %s to appear", ctx->config.menu_path);
                log_debug("Check (%s): %s does not exist", why, ctx->config.menu_path);
                return;
        }

        /* one writer at a time: the CLI or a kernel hook may be at work */
        _cleanup_close_ int lock = -EBADF;
        r = writers_begin(ctx, false, &lock);
        if (r == -EBUSY) {
                log_debug("Check (%s) deferred: another kernelkeeper process is writing", why);
                schedule_check(g, debounce_usec(g));
                return;
        }
        if (r < 0) {
                set_status(g, "Cannot take the writers' lock (see the log); watching");
                return;
        }

        log_debug("Checking the pin (%s)", why);
        PinOutcome outcome;
        _cleanup_free_ char *sel = NULL;
        /* seen: the bytes another tool left there, as the check read them: what a storm is
         * recognised by, and who wrote it */
        _cleanup_(loaded_menu_freep) LoadedMenu *seen = NULL;
        r = pin_reapply(ctx, &outcome, &sel, &seen);
        if (r == -EBUSY) {
                /* another writer is at work right now; look again once it is done */
                schedule_check(g, debounce_usec(g));
                return;
        }
        if (r < 0) {
                set_status(g, "Cannot enforce the pin on %s (see the log); watching", ctx->config.menu_path);
                return;
        }
        if (outcome == PIN_TRIAL) {
                set_status(g, "A kernel trial is in flight; its layout holds (%u restores since start)", g->restores);
                return;
        }
        if (outcome == PIN_NONE) {
                set_status(g, "No pin recorded; watching %s", ctx->config.menu_path);
                return;
        }
        if (outcome == PIN_RESTORED) {
                g->restores++;
                uint64_t backoff = 0;
                if (seen) {
                        StormLimits l = {
                                .count = ctx->config.storm_count,
                                .window_usec = (uint64_t) ctx->config.storm_window_sec * USEC_PER_SEC,
                                .max_backoff_usec = (uint64_t) ctx->config.storm_max_backoff_sec * USEC_PER_SEC,
                        };
                        backoff = storm_note_restore(&g->storm, &l, storm_hash(seen->data, seen->size), now);
                }
                if (backoff) {
                        storm_backoff(g, seen, backoff);
                        return;
                }
        }
        set_status(g, "Pin holds: %s (%u restores since start)", sel, g->restores);
}

static int on_debounce(sd_event_source *s, uint64_t usec, void *userdata)
{
        check(userdata, "change");
        return 0;
}

static int on_backoff(sd_event_source *s, uint64_t usec, void *userdata)
{
        Guardian *g = userdata;
        g->backoff_until = 0;
        check(g, "end of back-off");
        return 0;
}

static int on_recheck(sd_event_source *s, uint64_t usec, void *userdata)
{
        Guardian *g = userdata;
        check(g, "periodic");
        (void) sd_event_source_set_time(s, usec + (uint64_t) g->ctx->config.recheck_sec * USEC_PER_SEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

static void arm_recheck(Guardian *g)
{
        if (!g->ctx->config.recheck_sec) {
                (void) sd_event_source_set_enabled(g->recheck_source, SD_EVENT_OFF);
                return;
        }
        (void) sd_event_source_set_time(g->recheck_source,
                                        now_usec(g) + (uint64_t) g->ctx->config.recheck_sec * USEC_PER_SEC);
        (void) sd_event_source_set_enabled(g->recheck_source, SD_EVENT_ONESHOT);
}

static int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Guardian *g = userdata;
        WatchVerdict v;
        int r = watch_set_read(g->watches, &v);
        if (r < 0) {
                log_error_errno(r, "Cannot read inotify events: %m");
                return 0;
        }
        switch (v) {
        case WATCH_NOTHING:
                break;
        case WATCH_WRITING:
                schedule_check(g, MAX(debounce_usec(g), WRITING_SETTLE_USEC));
                break;
        case WATCH_CHANGED:
                schedule_check(g, debounce_usec(g));
                break;
        case WATCH_OVERFLOW:
                log_warning("The inotify queue overflowed; events were lost, re-checking everything");
                rearm(g);
                schedule_check(g, debounce_usec(g));
                break;
        case WATCH_REARM:
                rearm(g);
                schedule_check(g, debounce_usec(g));
                break;
        }
        return 0;
}

static int on_mount(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Guardian *g = userdata;
        /* /boot may just have been mounted over the directory we watch */
        log_debug("Mount table changed; re-arming the watches");
        rearm(g);
        schedule_check(g, debounce_usec(g));
        return 0;
}

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Guardian *g = userdata;
        log_info("Received %s, exiting", strsignal((int) si->ssi_signo));
        (void) sd_notify(false, "STOPPING=1");
        return sd_event_exit(g->event, 0);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Guardian *g = userdata;
        Context *ctx = g->ctx;
        (void) sd_notify(false, "RELOADING=1");
        Config c;
        config_init(&c);
        _cleanup_free_ char *err = NULL;
        int r = config_load(&c, ctx->root, ctx->config_path, &err);
        if (r < 0) {
                if (err)
                        log_error("%s; keeping the old configuration", err);
                else
                        log_error_errno(r, "Cannot reload the configuration: %m; keeping the old one");
                config_done(&c);
        } else {
                config_done(&ctx->config);
                ctx->config = c;
                log_info("Configuration reloaded");
        }
        rearm(g);
        arm_recheck(g);
        check(g, "reload");
        (void) sd_notify(false, "READY=1");
        return 0;
}

static int setup(Guardian *g)
{
        int r = sd_event_default(&g->event);
        if (r < 0)
                return log_error_errno(r, "Cannot create the event loop: %m");

        sigset_t ss;
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        /* sd-event takes signals through a signalfd, which needs them blocked */
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return log_error_errno(errno, "Cannot block signals: %m");
        if ((r = sd_event_add_signal(g->event, &g->sigterm_source, SIGTERM, on_exit_signal, g)) < 0 ||
            (r = sd_event_add_signal(g->event, &g->sigint_source, SIGINT, on_exit_signal, g)) < 0 ||
            (r = sd_event_add_signal(g->event, &g->sighup_source, SIGHUP, on_sighup, g)) < 0)
                return log_error_errno(r, "Cannot watch signals: %m");

        r = watch_set_new(&g->watches);
        if (r < 0)
                return log_error_errno(r, "Cannot create an inotify instance: %m");
        r = sd_event_add_io(g->event, &g->inotify_source, watch_set_fd(g->watches), EPOLLIN, on_inotify, g);
        if (r < 0)
                return log_error_errno(r, "Cannot watch inotify: %m");

        /* the kernel flags /proc/self/mountinfo with POLLPRI whenever the mount table changes */
        g->mountinfo_fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
        if (g->mountinfo_fd < 0)
                log_warning_errno(errno, "Cannot open /proc/self/mountinfo: %m; a late /boot mount is seen by the periodic re-check only");
        else if ((r = sd_event_add_io(g->event, &g->mount_source, g->mountinfo_fd, EPOLLPRI, on_mount, g)) < 0)
                return log_error_errno(r, "Cannot watch the mount table: %m");

        /* 1 ms accuracy: the restore latency is the debounce, not sd-event's default 250 ms slack */
        if ((r = sd_event_add_time(g->event, &g->debounce_source, CLOCK_MONOTONIC, UINT64_MAX, USEC_PER_MSEC,
                                   on_debounce, g)) < 0 ||
            (r = sd_event_add_time(g->event, &g->backoff_source, CLOCK_MONOTONIC, UINT64_MAX, 10 * USEC_PER_MSEC,
                                   on_backoff, g)) < 0 ||
            (r = sd_event_add_time(g->event, &g->recheck_source, CLOCK_MONOTONIC, UINT64_MAX, USEC_PER_SEC,
                                   on_recheck, g)) < 0)
                return log_error_errno(r, "Cannot create timers: %m");
        (void) sd_event_source_set_enabled(g->debounce_source, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(g->backoff_source, SD_EVENT_OFF);

        r = sd_event_set_watchdog(g->event, true);
        if (r < 0)
                return log_error_errno(r, "Cannot enable the watchdog: %m");
        return 0;
}

int guardian_run(Context *ctx)
{
        _cleanup_(guardian_done) Guardian g = { .ctx = ctx, .mountinfo_fd = -EBADF };
        int r = setup(&g);
        if (r < 0)
                return r;

        rearm(&g);
        arm_recheck(&g);
        check(&g, "start");
        r = guardian_runfile_write(ctx, ctx->config.menu_path);
        if (r < 0)
                return r;
        (void) sd_notify(false, "READY=1");
        log_info("Guarding %s%s", root_is_host(ctx->root) ? "" : ctx->root, ctx->config.menu_path);

        r = sd_event_loop(g.event);
        guardian_runfile_remove(ctx);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return 0;
}

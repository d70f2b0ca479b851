/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/inotify.h>

#include "common/chase.h"
#include "common/macro.h"
#include "common/strv.h"
#include "daemon/guardian-watch.h"
#include "daemon/log.h"

/* in place writes show IN_MODIFY first and IN_CLOSE_WRITE when done; renames show IN_MOVED_TO */
#define LEAF_MASK                                                                                        \
        (IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | \
         IN_MOVE_SELF | IN_ONLYDIR)
#define PARENT_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

typedef struct Watch {
        int wd;
        char *path;
        char **names;     /* files that matter in this directory (menu, link target, 'default') */
        char *link_name;  /* the configured name when it is a symlink: replacing it means re-arming */
        char *next;       /* the next directory on the way to the menu */
} Watch;

struct WatchSet {
        int fd;
        Watch *watches;
        size_t n_watches;
        bool complete;
        char *target;     /* what the menu path resolved to when armed, NULL if it did not */
        uint32_t own_cookie; /* rename cookie of our own temp file, see watch_set_read() */
        const char *own_close; /* name our writer still has open: its IN_CLOSE_WRITE is ours too */
};

static void watch_done(Watch *w)
{
        free(w->path);
        strv_free(w->names);
        free(w->link_name);
        free(w->next);
}

static void drop_watches(WatchSet *s)
{
        for (size_t i = 0; i < s->n_watches; i++) {
                /* the kernel answers with IN_IGNORED for a wd we no longer know: harmless */
                (void) inotify_rm_watch(s->fd, s->watches[i].wd);
                watch_done(&s->watches[i]);
        }
        free(s->watches);
        s->watches = NULL;
        s->n_watches = 0;
        s->complete = false;
        s->target = (free(s->target), NULL);
        s->own_close = NULL;
        s->own_cookie = 0;
}

int watch_set_new(WatchSet **ret)
{
        WatchSet *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (s->fd < 0) {
                int r = negative_errno();
                free(s);
                return r;
        }
        *ret = s;
        return 0;
}

WatchSet *watch_set_free(WatchSet *s)
{
        if (!s)
                return NULL;
        drop_watches(s);
        close(s->fd);
        free(s);
        return NULL;
}

int watch_set_fd(const WatchSet *s)
{
        return s->fd;
}

bool watch_set_complete(const WatchSet *s)
{
        return s->complete;
}

/* Adds (or extends: one inode may play several roles) the watch on a directory. */
static int add_watch(WatchSet *s, const char *path, uint32_t mask, Watch **ret)
{
        int wd = inotify_add_watch(s->fd, path, mask | IN_MASK_ADD);
        if (wd < 0)
                return negative_errno();
        for (size_t i = 0; i < s->n_watches; i++)
                if (s->watches[i].wd == wd) {
                        *ret = &s->watches[i];
                        return 0;
                }
        Watch *n = realloc(s->watches, (s->n_watches + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        s->watches = n;
        Watch *w = &s->watches[s->n_watches];
        *w = (Watch){ .wd = wd, .path = strdup(path) };
        if (!w->path)
                return -ENOMEM;
        s->n_watches++;
        *ret = w;
        return 0;
}

static int add_leaf(WatchSet *s, const char *dir, const char *name, const char *link_name)
{
        Watch *w;
        int r = add_watch(s, dir, LEAF_MASK, &w);
        if (r < 0)
                return r;
        if (name && ((r = strv_push(&w->names, name)) < 0 || (r = strv_push(&w->names, "default")) < 0))
                return r;
        if (link_name && !w->link_name && !(w->link_name = strdup(link_name)))
                return -ENOMEM;
        return 0;
}

/* "/a/b/c" -> dir "/a/b", name "c" (both allocated) */
static int split_path(const char *path, char **ret_dir, char **ret_name)
{
        const char *slash = strrchr(path, '/');
        if (!slash || !slash[1])
                return -EINVAL;
        char *dir = slash == path ? strdup("/") : strndup(path, (size_t) (slash - path));
        char *name = strdup(slash + 1);
        if (!dir || !name) {
                free(dir);
                free(name);
                return -ENOMEM;
        }
        *ret_dir = dir;
        *ret_name = name;
        return 0;
}

/* Watches each directory from the root down to dir (a path inside root) for the next one to
 * appear or go; returns 1 if dir itself exists, 0 if the walk stopped at a missing directory. */
static int add_parents(WatchSet *s, const char *root, const char *dir)
{
        char prefix[PATH_MAX] = "/";
        const char *p = dir;
        for (;;) {
                while (*p == '/')
                        p++;
                if (!*p)
                        return 1;
                size_t n = strcspn(p, "/");
                _cleanup_free_ char *host = NULL, *next = strndup(p, n);
                if (!next)
                        return -ENOMEM;
                int r = chase_in_root(root, prefix, 0, &host);
                if (r < 0)
                        return 0;
                Watch *w;
                r = add_watch(s, host, PARENT_MASK, &w);
                if (r == -ENOENT || r == -ENOTDIR)
                        return 0;
                if (r < 0)
                        return r;
                if (!w->next)
                        w->next = TAKE_PTR(next);
                size_t pl = strlen(prefix);
                if (pl + n + 2 >= sizeof prefix)
                        return -ENAMETOOLONG;
                snprintf(prefix + pl, sizeof prefix - pl, "%s%.*s", pl > 1 ? "/" : "", (int) n, p);
                _cleanup_free_ char *sub = NULL;
                if (chase_in_root(root, prefix, 0, &sub) < 0)
                        return 0;
                p += n;
        }
}

int watch_set_arm(WatchSet *s, const char *root, const char *menu_path)
{
        drop_watches(s);

        _cleanup_free_ char *cdir = NULL, *cname = NULL, *host_cdir = NULL, *real = NULL;
        int r = split_path(menu_path, &cdir, &cname);
        if (r < 0)
                return r;
        r = add_parents(s, root, cdir);
        if (r <= 0)
                return r;
        r = chase_in_root(root, cdir, 0, &host_cdir);
        if (r < 0)
                return 0; /* raced with a removal: the parent watch will tell */

        if (chase_in_root(root, menu_path, 0, &real) >= 0) {
                _cleanup_free_ char *rdir = NULL, *rname = NULL, *configured = NULL;
                if (asprintf(&configured, "%s/%s", host_cdir, cname) < 0)
                        return -ENOMEM;
                r = split_path(real, &rdir, &rname);
                if (r < 0)
                        return r;
                bool is_link = !streq(real, configured);
                /* GRUB reads 'default' next to the real file, so that directory carries both */
                r = add_leaf(s, rdir, rname, NULL);
                if (r >= 0)
                        r = add_leaf(s, host_cdir, is_link ? NULL : cname, is_link ? cname : NULL);
                s->target = TAKE_PTR(real);
        } else
                r = add_leaf(s, host_cdir, cname, NULL);
        if (r == -ENOENT || r == -ENOTDIR)
                return 0;
        if (r < 0)
                return r;
        s->complete = true;
        return 0;
}

bool watch_set_stale(const WatchSet *s, const char *root, const char *menu_path)
{
        _cleanup_free_ char *real = NULL;
        if (chase_in_root(root, menu_path, 0, &real) < 0)
                return s->target != NULL || !s->complete;
        return !s->target || !streq(real, s->target);
}

static bool is_own_temp(const Watch *w, const char *name)
{
        /* write_file_atomic() writes NAME.kk-XXXXXX and links NAME.kk-prev */
        for (char **n = w->names; n && *n; n++) {
                size_t l = strlen(*n);
                if (strneq(name, *n, l) && strneq(name + l, ".kk-", 4))
                        return true;
        }
        return false;
}

static WatchVerdict classify(WatchSet *s, const struct inotify_event *ev)
{
        if (ev->mask & IN_Q_OVERFLOW)
                return WATCH_OVERFLOW;
        Watch *w = NULL;
        for (size_t i = 0; i < s->n_watches && !w; i++)
                if (s->watches[i].wd == ev->wd)
                        w = &s->watches[i];
        if (!w)
                return WATCH_NOTHING; /* a watch dropped by the last re-arm */
        if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT))
                return WATCH_REARM;
        if (!ev->len)
                return WATCH_NOTHING;
        const char *name = ev->name;

        if (w->next && streq(name, w->next))
                return WATCH_REARM;
        if (w->link_name && streq(name, w->link_name))
                return WATCH_REARM; /* menu.lst -> grub.conf replaced: the target may differ now */
        if (is_own_temp(w, name)) {
                if (ev->mask & IN_MOVED_FROM)
                        s->own_cookie = ev->cookie;
                return WATCH_NOTHING;
        }
        const char *match = NULL;
        for (char **n = w->names; n && *n && !match; n++)
                if (streq(name, *n))
                        match = *n;
        if (!match)
                return WATCH_NOTHING;
        if ((ev->mask & IN_MOVED_TO) && s->own_cookie && ev->cookie == s->own_cookie) {
                /* our own restore landing; the writer closes the renamed file right after */
                s->own_cookie = 0;
                s->own_close = match;
                return WATCH_NOTHING;
        }
        if (s->own_close == match) {
                s->own_close = NULL;
                /* a close with no write in between is our writer's; anything else is someone else's */
                if ((ev->mask & IN_CLOSE_WRITE) && !(ev->mask & IN_MODIFY))
                        return WATCH_NOTHING;
        }
        if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE))
                return WATCH_CHANGED;
        if (ev->mask & (IN_MODIFY | IN_CREATE))
                return WATCH_WRITING;
        return WATCH_NOTHING;
}

int watch_set_read(WatchSet *s, WatchVerdict *ret)
{
        WatchVerdict v = WATCH_NOTHING;
        _Alignas(struct inotify_event) char buf[16384];
        for (;;) {
                ssize_t k = read(s->fd, buf, sizeof buf);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        return negative_errno();
                }
                for (char *p = buf; p < buf + k;) {
                        const struct inotify_event *ev = (const struct inotify_event *) p;
                        WatchVerdict e = classify(s, ev);
                        if (e != WATCH_NOTHING)
                                log_debug("inotify: wd %d mask 0x%x name '%s' -> %d", ev->wd, ev->mask,
                                          ev->len ? ev->name : "", (int) e);
                        v = MAX(v, e);
                        p += sizeof *ev + ev->len;
                }
        }
        *ret = v;
        return 0;
}

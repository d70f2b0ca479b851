/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/chase.h"
#include "common/fileio.h"
#include "common/macro.h"
#include "common/strv.h"
#include "modules/module-info.h"
#include "modules/module-swap.h"

static void closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}

int module_proc_modules_parse(const char *data, size_t size, char ***ret_names)
{
        _cleanup_strv_free_ char **names = NULL;
        size_t n = 0;
        for (const char *p = data, *end = data + size; p < end;) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len = nl ? (size_t) (nl - p) : (size_t) (end - p);
                if (len > 0) {
                        _cleanup_free_ char *line = strndup(p, len);
                        if (!line)
                                return -ENOMEM;
                        /* NAME SIZE REFCNT DEPS STATE ADDR [TAINTS] */
                        char *save = NULL, *w[6] = {};
                        size_t k = 0;
                        for (char *t = strtok_r(line, " \t", &save); t && k < 6; t = strtok_r(NULL, " \t", &save))
                                w[k++] = t;
                        if (k < 6 || !module_name_valid(w[0]) || strspn(w[1], "0123456789") != strlen(w[1]))
                                return -EBADMSG;
                        _cleanup_free_ char *name = module_name_normalize(w[0]);
                        if (!name || strv_consume_n(&names, &n, TAKE_PTR(name)) < 0)
                                return -ENOMEM;
                }
                p += len + 1;
        }
        if (!names && !(names = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret_names = TAKE_PTR(names);
        return 0;
}

static int loaded_list(const char *root, char ***ret)
{
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r = read_full_file_in_root(root, "/proc/modules", 0, 4 * 1024 * 1024, &data, &size);
        if (r < 0)
                return r;
        return module_proc_modules_parse(data, size, ret);
}

static int read_line_in_root(const char *root, const char *path, char **ret)
{
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r = read_full_file_in_root(root, path, 0, 4096, &data, &size);
        if (r < 0)
                return r;
        data[strcspn(data, "\n")] = 0;
        *ret = TAKE_PTR(data);
        return 0;
}

/* names in a directory under root, "." and ".." left out; a missing directory is empty */
static int dir_names(const char *root, const char *path, char ***ret)
{
        _cleanup_free_ char *host = NULL;
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        int r = chase_in_root(root, path, 0, &host);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return r;
        _cleanup_(closedirp) DIR *d = opendir(host);
        if (!d)
                return errno == ENOENT ? (*ret = NULL, 0) : -errno;
        struct dirent *de;
        while ((errno = 0, de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..") && strv_pushf_n(&l, &n, "%s", de->d_name) < 0)
                        return -ENOMEM;
        if (errno)
                return -errno;
        *ret = TAKE_PTR(l);
        return 0;
}

LoadedModule *loaded_module_free(LoadedModule *m)
{
        if (!m)
                return NULL;
        free(m->name);
        strv_free(m->holders);
        free(m->srcversion);
        free(m);
        return NULL;
}

static int loaded_read(const char *root, const char *name, char *const *loaded, LoadedModule **ret)
{
        _cleanup_free_ char *dir = NULL, *p = NULL, *refcnt = NULL;
        if (asprintf(&dir, "/sys/module/%s", name) < 0)
                return -ENOMEM;
        if (!strv_contains(loaded, name)) {
                _cleanup_free_ char *host = NULL;
                return chase_in_root(root, dir, 0, &host) >= 0 ? -EPERM : -ENOENT;
        }
        _cleanup_(loaded_module_freep) LoadedModule *m = calloc(1, sizeof(LoadedModule));
        if (!m || !(m->name = strdup(name)))
                return -ENOMEM;
        m->refcnt = -1;
        if (asprintf(&p, "%s/refcnt", dir) < 0)
                return -ENOMEM;
        int r = read_line_in_root(root, p, &refcnt);
        if (r >= 0) {
                char *end;
                errno = 0;
                long v = strtol(refcnt, &end, 10);
                if (errno || end == refcnt || *end || v < 0)
                        return -EBADMSG;
                m->refcnt = v;
        } else if (r != -ENOENT)
                return r;
        free(p);
        if (asprintf(&p, "%s/holders", dir) < 0)
                return -ENOMEM;
        r = dir_names(root, p, &m->holders);
        if (r < 0)
                return r;
        for (char **h = m->holders; h && *h; h++) {
                char *x = module_name_normalize(*h);
                if (!x)
                        return -ENOMEM;
                free(*h);
                *h = x;
        }
        free(p);
        if (asprintf(&p, "%s/srcversion", dir) < 0)
                return -ENOMEM;
        r = read_line_in_root(root, p, &m->srcversion);
        if (r < 0 && r != -ENOENT)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

int module_loaded_read(const char *root, const char *name, LoadedModule **ret)
{
        _cleanup_strv_free_ char **loaded = NULL;
        _cleanup_free_ char *n = module_name_normalize(name);
        if (!n)
                return -ENOMEM;
        int r = loaded_list(root, &loaded);
        if (r < 0)
                return r;
        return loaded_read(root, n, loaded, ret);
}

SwapPlan *swap_plan_free(SwapPlan *p)
{
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_modules; i++) {
                SwapModule *m = &p->modules[i];
                free(m->name);
                free(m->srcversion);
                free(m->original);
                free(m->original_shown);
                free(m->replacement);
        }
        free(p->modules);
        free(p->release);
        strv_free(p->users);
        strv_free(p->loaded_before);
        free(p);
        return NULL;
}

/* "WHAT (NAME)SUFFIX", NAME read from name_path under root, or "WHATSUFFIX" without one */
static int push_named(char ***users, size_t *n, const char *root, const char *name_path, const char *what,
                      const char *suffix)
{
        _cleanup_free_ char *name = NULL;
        if (read_line_in_root(root, name_path, &name) < 0)
                return strv_pushf_n(users, n, "%s%s", what, suffix);
        return strv_pushf_n(users, n, "%s (%s)%s", what, name, suffix);
}

/* device-mapper devices and the processes that hold /dev/mapper/control open: what keeps dm_mod
 * in use (the kernel counts them as references, the names tell the user what to close) */
static int dm_users(const char *root, char ***users, size_t *n)
{
        _cleanup_strv_free_ char **blocks = NULL, **procs = NULL;
        int r = dir_names(root, "/sys/block", &blocks);
        if (r < 0)
                return r;
        for (char **b = blocks; b && *b; b++) {
                if (!strneq(*b, "dm-", 3))
                        continue;
                _cleanup_free_ char *p = NULL, *what = NULL;
                if (asprintf(&p, "/sys/block/%s/dm/name", *b) < 0 || asprintf(&what, "device-mapper device %s", *b) < 0)
                        return -ENOMEM;
                if ((r = push_named(users, n, root, p, what, "")) < 0)
                        return r;
        }
        r = dir_names(root, "/proc", &procs);
        if (r < 0)
                return r;
        for (char **pid = procs; pid && *pid; pid++) {
                if (strspn(*pid, "0123456789") != strlen(*pid))
                        continue;
                _cleanup_free_ char *fdpath = NULL, *host = NULL;
                if (asprintf(&fdpath, "/proc/%s/fd", *pid) < 0)
                        return -ENOMEM;
                if (chase_in_root(root, fdpath, 0, &host) < 0)
                        continue; /* gone, or not ours to see */
                _cleanup_(closedirp) DIR *d = opendir(host);
                if (!d)
                        continue;
                struct dirent *de;
                bool holds = false;
                while (!holds && (de = readdir(d))) {
                        char target[64];
                        ssize_t k = readlinkat(dirfd(d), de->d_name, target, sizeof target - 1);
                        if (k <= 0)
                                continue;
                        target[k] = 0;
                        holds = streq(target, "/dev/mapper/control");
                }
                if (!holds)
                        continue;
                _cleanup_free_ char *commpath = NULL, *what = NULL;
                if (asprintf(&commpath, "/proc/%s/comm", *pid) < 0 || asprintf(&what, "process %s", *pid) < 0)
                        return -ENOMEM;
                if ((r = push_named(users, n, root, commpath, what, " has /dev/mapper/control open")) < 0)
                        return r;
        }
        return 0;
}

static void loaded_modules_free(LoadedModule **l, size_t n)
{
        for (size_t i = 0; i < n; i++)
                loaded_module_free(l[i]);
        free(l);
}

static bool file_has_srcversion(const char *path, const char *srcversion)
{
        _cleanup_(module_info_freep) ModuleInfo *info = NULL;
        return module_info_load(path, &info) >= 0 && info->srcversion && streq(info->srcversion, srcversion);
}

static int plan_original(const char *root, ModuleTarget *t, const SwapSources *src, SwapModule *m)
{
        const ModuleEntry *e = module_target_find(t, m->name);
        _cleanup_free_ char *shown = NULL, *host = NULL;
        if (e) {
                if (!(shown = module_target_entry_path(t, e)))
                        return -ENOMEM;
                if (module_target_entry_resolve(t, e, &host) < 0)
                        host = (free(host), NULL);
        }
        if (!m->loaded) {
                m->original = TAKE_PTR(host);
                m->original_shown = TAKE_PTR(shown);
                return 0;
        }
        /* the file put back must be the one the kernel has loaded */
        if (host && (!m->srcversion || file_has_srcversion(host, m->srcversion))) {
                m->original = TAKE_PTR(host);
                m->original_shown = TAKE_PTR(shown);
                return 0;
        }
        const char *prev = src && src->previous ? src->previous(m->name, src->userdata) : NULL;
        if (prev && m->srcversion && file_has_srcversion(prev, m->srcversion)) {
                if (!(m->original = strdup(prev)))
                        return -ENOMEM;
                const char *inside = path_skip_root(root, prev);
                return (m->original_shown = strdup(inside ? inside : prev)) ? 0 : -ENOMEM;
        }
        return host || prev ? -ESTALE : -EUCLEAN;
}

int swap_plan_make(const char *root, ModuleTarget *t, const char *name, const SwapSources *src,
                   SwapPlan **ret, char **ret_stale)
{
        _cleanup_(swap_plan_freep) SwapPlan *p = calloc(1, sizeof(SwapPlan));
        _cleanup_free_ char *target = module_name_normalize(name);
        if (!p || !target || !(p->release = strdup(t->release)))
                return -ENOMEM;
        int r = loaded_list(root, &p->loaded_before);
        if (r < 0)
                return r;

        /* NAME and everything that uses it, breadth first */
        LoadedModule **set = NULL;
        size_t n = 0;
        bool target_loaded = true;
        _cleanup_free_ char *stale = NULL;
        LoadedModule *lm = NULL;
        r = loaded_read(root, target, p->loaded_before, &lm);
        if (r == -ENOENT) {
                target_loaded = false;
                r = 0;
                if (!(lm = calloc(1, sizeof(LoadedModule))) || !(lm->name = strdup(target)))
                        r = -ENOMEM;
        }
        if (r >= 0 && !(set = calloc(1, sizeof(LoadedModule *))))
                r = -ENOMEM;
        if (r < 0) {
                loaded_module_free(lm);
                return r;
        }
        set[n++] = lm;
        for (size_t i = 0; i < n && r >= 0; i++)
                for (char **h = set[i]->holders; h && *h && r >= 0; h++) {
                        bool seen = false;
                        for (size_t j = 0; j < n && !seen; j++)
                                seen = streq(set[j]->name, *h);
                        if (seen)
                                continue;
                        LoadedModule **grown = realloc(set, (n + 1) * sizeof(LoadedModule *));
                        if (!grown) {
                                r = -ENOMEM;
                                break;
                        }
                        set = grown;
                        r = loaded_read(root, *h, p->loaded_before, &set[n]);
                        if (r >= 0)
                                n++;
                        else if (r == -ENOENT || r == -EPERM) /* a holder that went away meanwhile */
                                r = 0;
                }
        if (r >= 0 && !(p->modules = calloc(n, sizeof(SwapModule))))
                r = -ENOMEM;
        if (r < 0) {
                loaded_modules_free(set, n);
                return r;
        }

        /* removal order: a module goes once every module using it has gone */
        bool *placed = calloc(n, sizeof(bool));
        if (!placed) {
                loaded_modules_free(set, n);
                return -ENOMEM;
        }
        while (p->n_modules < n && r >= 0) {
                bool progress = false;
                for (size_t i = 0; i < n && r >= 0; i++) {
                        if (placed[i])
                                continue;
                        bool ready = true;
                        for (char **h = set[i]->holders; h && *h && ready; h++)
                                for (size_t j = 0; j < n; j++)
                                        if (streq(set[j]->name, *h) && !placed[j])
                                                ready = false;
                        if (!ready)
                                continue;
                        SwapModule *m = &p->modules[p->n_modules++];
                        placed[i] = progress = true;
                        if (!(m->name = strdup(set[i]->name))) {
                                r = -ENOMEM;
                                break;
                        }
                        m->loaded = i > 0 || target_loaded;
                        m->refcnt = set[i]->refcnt;
                        m->n_holders = strv_length(set[i]->holders);
                        m->srcversion = TAKE_PTR(set[i]->srcversion);
                        r = plan_original(root, t, src, m);
                        if (r < 0 && !stale)
                                stale = strdup(m->name);
                        const char *repl =
                            r >= 0 && src && src->replacement ? src->replacement(m->name, src->userdata) : NULL;
                        if (repl && !(m->replacement = strdup(repl)))
                                r = -ENOMEM;
                }
                if (!progress && r >= 0)
                        r = -ELOOP;
        }
        free(placed);
        loaded_modules_free(set, n);
        if (r < 0) {
                if (ret_stale && stale)
                        *ret_stale = TAKE_PTR(stale);
                return r;
        }
        if (!p->modules[p->n_modules - 1].replacement)
                return -ENOENT;

        /* what else holds them */
        size_t nu = 0;
        bool dm = false;
        for (size_t i = 0; i < p->n_modules; i++) {
                const SwapModule *m = &p->modules[i];
                dm = dm || streq(m->name, "dm_mod");
                if (!m->loaded)
                        continue;
                if (m->refcnt < 0)
                        r = strv_pushf_n(&p->users, &nu, "%s cannot be unloaded (the kernel shows no reference count)",
                                         m->name);
                else if ((size_t) m->refcnt > m->n_holders)
                        r = strv_pushf_n(&p->users, &nu, "%s has %zu reference%s besides the modules using it",
                                         m->name, (size_t) m->refcnt - m->n_holders,
                                         (size_t) m->refcnt - m->n_holders == 1 ? "" : "s");
                if (r < 0)
                        return r;
        }
        if (dm && target_loaded && (r = dm_users(root, &p->users, &nu)) < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

const char *swap_outcome_to_string(SwapOutcome o)
{
        static const char *const s[] = { "swapped", "restored", "restore-failed" };
        return o <= SWAP_RESTORE_FAILED ? s[o] : "unknown";
}

void swap_result_done(SwapResult *r)
{
        free(r->failed_step);
        free(r->restore_failed_step);
        strv_free(r->steps);
        *r = (SwapResult) {};
}

typedef struct Run {
        const ModuleOps *ops;
        char **steps;
        size_t n_steps;
        bool oom;
} Run;

/* one step, recorded with its result; the description of a failed one in *ret_failed */
static int run_step(Run *run, bool insert, const char *arg, const char *name, const char *what,
                    char **ret_failed)
{
        int r = insert ? run->ops->insert(arg, run->ops->userdata) : run->ops->remove(arg, run->ops->userdata);
        _cleanup_free_ char *desc = NULL;
        int k = insert ? asprintf(&desc, "insert %s (%s %s)", arg, what, name) : asprintf(&desc, "remove %s", arg);
        if (k < 0) {
                run->oom = true;
                return r;
        }
        if (strv_pushf_n(&run->steps, &run->n_steps, "%s: %s", desc, r < 0 ? strerror(-r) : "ok") < 0)
                run->oom = true;
        if (r < 0 && ret_failed && !*ret_failed)
                *ret_failed = TAKE_PTR(desc);
        return r;
}

enum { GONE, LOADED_ORIGINAL, LOADED_NEW };

/* once a new file is in, everything of the plan that is loaded comes out (users first: a
 * reinserted user holds the new module); then every original goes back */
static void restore(const SwapPlan *p, Run *run, int *st, SwapResult *res)
{
        res->outcome = SWAP_RESTORED;
        bool any_new = false;
        for (size_t i = 0; i < p->n_modules; i++)
                any_new = any_new || st[i] == LOADED_NEW;
        for (size_t i = 0; i < p->n_modules && any_new; i++) {
                if (st[i] == GONE)
                        continue;
                int k = run_step(run, false, p->modules[i].name, NULL, NULL, &res->restore_failed_step);
                if (k < 0) {
                        res->outcome = SWAP_RESTORE_FAILED;
                        res->restore_error = res->restore_error ?: k;
                } else
                        st[i] = GONE;
        }
        for (size_t i = p->n_modules; i > 0; i--) {
                const SwapModule *m = &p->modules[i - 1];
                if (!m->loaded || st[i - 1] != GONE)
                        continue;
                int k = run_step(run, true, m->original, m->name, "original", &res->restore_failed_step);
                if (k < 0) {
                        res->outcome = SWAP_RESTORE_FAILED;
                        res->restore_error = res->restore_error ?: k;
                } else
                        st[i - 1] = LOADED_ORIGINAL;
        }
}

/* hands the steps over with the result: *ret, or -ENOMEM when a step could not be recorded */
static int finish(Run *run, int *st, SwapResult *res, SwapResult *ret)
{
        free(st);
        res->steps = TAKE_PTR(run->steps);
        if (run->oom) {
                swap_result_done(res);
                return -ENOMEM;
        }
        *ret = *res;
        return 0;
}

int swap_recover(const char *root, const SwapPlan *p, const ModuleOps *ops, SwapResult *ret)
{
        _cleanup_strv_free_ char **now = NULL;
        int r = loaded_list(root, &now);
        if (r < 0)
                return r;
        int *st = calloc(p->n_modules ? p->n_modules : 1, sizeof(int));
        if (!st)
                return -ENOMEM;
        /* what is loaded now may be the new build or the old one: it all comes out */
        for (size_t i = 0; i < p->n_modules; i++)
                st[i] = strv_contains(now, p->modules[i].name) ? LOADED_NEW : GONE;
        Run run = { .ops = ops };
        SwapResult res = {};
        restore(p, &run, st, &res);
        return finish(&run, st, &res, ret);
}

int swap_execute(const SwapPlan *p, const ModuleOps *ops, SwapResult *ret)
{
        int *st = calloc(p->n_modules ? p->n_modules : 1, sizeof(int));
        if (!st)
                return -ENOMEM;
        Run run = { .ops = ops };
        SwapResult res = {};
        int r = 0;
        for (size_t i = 0; i < p->n_modules; i++)
                st[i] = p->modules[i].loaded ? LOADED_ORIGINAL : GONE;

        for (size_t i = 0; i < p->n_modules && r >= 0; i++)
                if (st[i] == LOADED_ORIGINAL && (r = run_step(&run, false, p->modules[i].name, NULL, NULL,
                                                               &res.failed_step)) >= 0)
                        st[i] = GONE;
        for (size_t i = p->n_modules; i > 0 && r >= 0; i--) {
                const SwapModule *m = &p->modules[i - 1];
                const char *path = m->replacement ? m->replacement : m->original;
                if (!path)
                        continue;
                r = run_step(&run, true, path, m->name, m->replacement ? "new" : "original", &res.failed_step);
                if (r >= 0)
                        st[i - 1] = m->replacement ? LOADED_NEW : LOADED_ORIGINAL;
        }
        if (r < 0) {
                res.error = r;
                restore(p, &run, st, &res);
        }
        return finish(&run, st, &res, ret);
}

int swap_verify(const char *root, const SwapPlan *p, char *const *new_srcversions, SwapOutcome outcome,
                char **ret_diff)
{
        _cleanup_strv_free_ char **now = NULL;
        int r = loaded_list(root, &now);
        if (r < 0)
                return r;
        char *diff = NULL;
        for (char **b = p->loaded_before; b && *b && !diff; b++) {
                bool planned = false;
                for (size_t i = 0; i < p->n_modules && !planned; i++)
                        planned = streq(p->modules[i].name, *b);
                if (!planned && !strv_contains(now, *b) && asprintf(&diff, "%s is no longer loaded", *b) < 0)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < p->n_modules && !diff; i++) {
                const SwapModule *m = &p->modules[i];
                bool want = outcome == SWAP_DONE ? (m->loaded || m->replacement) : m->loaded;
                _cleanup_(loaded_module_freep) LoadedModule *lm = NULL;
                r = loaded_read(root, m->name, now, &lm);
                if (r < 0 && r != -ENOENT && r != -EPERM)
                        return r;
                bool is = r >= 0;
                r = 0;
                const char *sv = outcome == SWAP_DONE && m->replacement ? new_srcversions[i] : m->srcversion;
                if (want != is)
                        r = asprintf(&diff, "%s is %s", m->name, is ? "loaded" : "not loaded");
                else if (is && sv && lm->srcversion && !streq(sv, lm->srcversion))
                        r = asprintf(&diff, "%s has srcversion %s, not %s", m->name, lm->srcversion, sv);
                if (r < 0)
                        return -ENOMEM;
        }
        if (!diff)
                return 0;
        *ret_diff = diff;
        return 1;
}

int module_running_release(const char *root, char **ret)
{
        _cleanup_free_ char *rel = NULL;
        int r = read_line_in_root(root, "/proc/sys/kernel/osrelease", &rel);
        if (r < 0)
                return r;
        if (isempty(rel) || strchr(rel, '/') || streq(rel, ".") || streq(rel, ".."))
                return -EBADMSG;
        *ret = TAKE_PTR(rel);
        return 0;
}

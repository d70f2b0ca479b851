/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <libkmod.h>

#include "modules/kmod-loader.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "common/chase.h"
#include "common/fileio.h"
#include "common/macro.h"
#include "common/strv.h"
#include "modules/module-target.h"

#define MODULES_DEP_MAX (64u * 1024 * 1024)
#define SYMVERS_MAX (64u * 1024 * 1024)

void module_entries_free(ModuleEntry *e, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(e[i].path);
                free(e[i].name);
        }
        free(e);
}

ModuleTarget *module_target_free(ModuleTarget *t)
{
        if (!t)
                return NULL;
        free(t->root);
        free(t->release);
        free(t->moddir);
        free(t->symvers);
        free(t->module_symvers);
        module_entries_free(t->entries, t->n_entries);
        free(t->vermagic);
        free(t->vermagic_from);
        free(t->reference_sig_key);
        module_certs_free(t->certs);
        free(t);
        return NULL;
}

static int entries_add(ModuleEntry **e, size_t *n, size_t *alloc, const char *path, size_t len)
{
        if (*n == *alloc) {
                size_t a = *alloc ? *alloc * 2 : 256;
                ModuleEntry *p = realloc(*e, a * sizeof(ModuleEntry));
                if (!p)
                        return -ENOMEM;
                *e = p;
                *alloc = a;
        }
        char *s = strndup(path, len);
        char *name = s ? module_name_from_path(s) : NULL;
        if (!name) {
                free(s);
                return -ENOMEM;
        }
        (*e)[(*n)++] = (ModuleEntry){.path = s, .name = name};
        return 0;
}

int module_dep_parse(const char *data, size_t size, ModuleEntry **ret, size_t *ret_n)
{
        ModuleEntry *e = NULL;
        size_t n = 0, alloc = 0;
        int r = 0;
        for (const char *p = data, *end = data + size; p < end && r >= 0;) {
                const char *eol = memchr(p, '\n', end - p);
                if (!eol)
                        eol = end;
                if (eol > p && *p != '#') {
                        const char *colon = memchr(p, ':', eol - p);
                        if (!colon || colon == p || memchr(p, 0, eol - p))
                                r = -EBADMSG;
                        else
                                r = entries_add(&e, &n, &alloc, p, colon - p);
                }
                p = eol + 1;
        }
        if (r < 0) {
                module_entries_free(e, n);
                return r;
        }
        *ret = e;
        *ret_n = n;
        return 0;
}

static bool is_module_file(const char *name)
{
        size_t n = strlen(name);
        static const char *const suffixes[] = {".ko", ".ko.xz", ".ko.zst"};
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                size_t k = strlen(suffixes[i]);
                if (n > k && streq(name + n - k, suffixes[i]))
                        return true;
        }
        return false;
}

/* Without modules.dep: every module file under the directory (host path dir, relative prefix rel). */
static int walk(const char *dir, const char *rel, unsigned depth, ModuleEntry **e, size_t *n, size_t *alloc)
{
        if (depth > 16)
                return 0;
        DIR *d = opendir(dir);
        if (!d)
                return depth == 0 ? negative_errno() : 0;
        int r = 0;
        struct dirent *de;
        while (r >= 0 && (de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *host = NULL, *relpath = NULL;
                if (asprintf(&host, "%s/%s", dir, de->d_name) < 0 ||
                    asprintf(&relpath, "%s%s%s", rel, *rel ? "/" : "", de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                struct stat st;
                if (lstat(host, &st) < 0)
                        continue;
                if (S_ISDIR(st.st_mode))
                        r = walk(host, relpath, depth + 1, e, n, alloc);
                else if (is_module_file(de->d_name))
                        r = entries_add(e, n, alloc, relpath, strlen(relpath));
        }
        closedir(d);
        return r;
}

/* Appends the module file named `name` under DIR/kernel (found by walking it) to t's entries:
 * 1 added, 0 none. */
static int stock_copy_add(ModuleTarget *t, const char *dir, const char *name)
{
        _cleanup_free_ char *kernel = NULL;
        if (asprintf(&kernel, "%s/kernel", dir) < 0)
                return -ENOMEM;
        ModuleEntry *all = NULL;
        size_t n = 0, alloc = 0;
        int r = walk(kernel, "kernel", 1, &all, &n, &alloc);
        size_t found = n;
        for (size_t i = 0; r >= 0 && i < n && found == n; i++)
                if (streq(all[i].name, name))
                        found = i;
        if (r >= 0 && found < n) {
                alloc = t->n_entries;
                r = entries_add(&t->entries, &t->n_entries, &alloc, all[found].path, strlen(all[found].path));
                if (r >= 0)
                        r = 1;
        } else if (r >= 0)
                r = 0;
        module_entries_free(all, n);
        return r == -ENOENT ? 0 : r;
}

const ModuleEntry *module_target_find(const ModuleTarget *t, const char *name)
{
        _cleanup_free_ char *want = module_name_normalize(name);
        if (!want)
                return NULL;
        for (size_t i = 0; i < t->n_entries; i++)
                if (streq(t->entries[i].name, want))
                        return &t->entries[i];
        return NULL;
}

char *module_target_entry_path(const ModuleTarget *t, const ModuleEntry *e)
{
        char *p = NULL;
        if (e->path[0] == '/')
                return strdup(e->path);
        return asprintf(&p, "%s/%s", t->moddir, e->path) < 0 ? NULL : p;
}

int module_target_entry_resolve(const ModuleTarget *t, const ModuleEntry *e, char **ret)
{
        _cleanup_free_ char *p = module_target_entry_path(t, e);
        if (!p)
                return -ENOMEM;
        return chase_in_root(t->root, p, 0, ret);
}

/* Modules the distribution installed with the kernel, not added later (updates/, extra/). */
static bool entry_is_stock(const ModuleTarget *t, const ModuleEntry *e)
{
        const char *p = e->path;
        if (p[0] == '/') {
                size_t k = strlen(t->moddir);
                if (!strneq(p, t->moddir, k) || p[k] != '/')
                        return false;
                p += k + 1;
        }
        return !strneq(p, "updates/", 8) && !strneq(p, "extra/", 6);
}

/* Reads the vermagic of one installed module: 0, or negative when it is not a usable module. */
static int reference_try(ModuleTarget *t, const ModuleEntry *e)
{
        _cleanup_free_ char *host = NULL;
        int r = module_target_entry_resolve(t, e, &host);
        if (r < 0)
                return r;
        _cleanup_(module_info_freep) ModuleInfo *m = NULL;
        r = module_info_load(host, &m);
        if (r < 0)
                return r;
        if (isempty(m->vermagic))
                return -ENOMEDIUM;
        char *from = module_target_entry_path(t, e);
        if (!from)
                return -ENOMEM;
        t->vermagic = TAKE_PTR(m->vermagic);
        t->vermagic_from = from;
        t->reference_elf = m->elf;
        t->reference_sig_key = TAKE_PTR(m->sig_key);
        return 0;
}

int module_target_load(const char *root, const char *release, const char *prefer_name, ModuleTarget **ret)
{
        if (isempty(release) || strchr(release, '/') || streq(release, ".") || streq(release, ".."))
                return -EINVAL;
        _cleanup_(module_target_freep) ModuleTarget *t = calloc(1, sizeof(ModuleTarget));
        if (!t || !(t->root = strdup(root ? root : "/")) || !(t->release = strdup(release)) ||
            asprintf(&t->moddir, "/lib/modules/%s", release) < 0 ||
            asprintf(&t->symvers, "/boot/symvers-%s.gz", release) < 0 ||
            asprintf(&t->module_symvers, "/usr/src/linux-headers-%s/Module.symvers", release) < 0)
                return -ENOMEM;
        _cleanup_free_ char *dir = NULL;
        int r = chase_in_root(t->root, t->moddir, 0, &dir);
        if (r < 0)
                return r;
        struct stat st;
        if (stat(dir, &st) < 0)
                return negative_errno();
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;

        _cleanup_free_ char *dep_path = NULL, *dep = NULL;
        size_t dep_size = 0;
        if (asprintf(&dep_path, "%s/modules.dep", t->moddir) < 0)
                return -ENOMEM;
        _cleanup_free_ char *dep_host = NULL;
        r = chase_in_root(t->root, dep_path, 0, &dep_host);
        if (r >= 0)
                r = read_full_file(dep_host, MODULES_DEP_MAX, &dep, &dep_size);
        if (r >= 0) {
                r = module_dep_parse(dep, dep_size, &t->entries, &t->n_entries);
                if (r < 0)
                        return r;
                t->from_modules_dep = true;
        }
        if (r == -ENOENT || (r >= 0 && t->n_entries == 0)) {
                /* no modules.dep, or depmod has not run yet: the module files themselves */
                t->from_modules_dep = false;
                size_t alloc = 0;
                r = walk(dir, "", 0, &t->entries, &t->n_entries, &alloc);
        }
        if (r < 0)
                return r;

        /* the stock copy of the module itself, else the first stock module that reads */
        r = -ENOMEDIUM;
        const ModuleEntry *same = prefer_name ? module_target_find(t, prefer_name) : NULL;
        if (same && !entry_is_stock(t, same) && t->from_modules_dep) {
                /* depmod prefers updates/ (a persisted swap): the stock copy is still under kernel/,
                 * and it is what the release's own CRCs and vermagic are read from */
                r = stock_copy_add(t, dir, same->name);
                if (r == -ENOMEM)
                        return r;
                same = r > 0 ? &t->entries[t->n_entries - 1] : same;
                r = -ENOMEDIUM;
        }
        if (same && entry_is_stock(t, same))
                r = reference_try(t, same);
        for (size_t i = 0; r < 0 && r != -ENOMEM && i < t->n_entries; i++)
                if (&t->entries[i] != same && entry_is_stock(t, &t->entries[i]))
                        r = reference_try(t, &t->entries[i]);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return -ENOMEDIUM;
        *ret = TAKE_PTR(t);
        return 0;
}

const char *crc_source_to_string(CrcSource s)
{
        switch (s) {
        case CRC_SOURCE_MODULES:
                return "installed modules";
        case CRC_SOURCE_SYMVERS:
                return "symvers";
        case CRC_SOURCE_MODULE_SYMVERS:
                return "Module.symvers";
        default:
                return "none";
        }
}

int module_symvers_parse(const char *data, size_t size, SymversFunc cb, void *userdata)
{
        for (const char *p = data, *end = data + size; p < end;) {
                const char *eol = memchr(p, '\n', end - p);
                if (!eol)
                        eol = end;
                const char *line = p;
                p = eol + 1;
                if (eol == line)
                        continue;
                /* 0x + 1..8 hex digits (16 on some old 64-bit symvers), TAB, symbol, TAB */
                if (eol - line < 4 || line[0] != '0' || line[1] != 'x')
                        return -EBADMSG;
                const char *q = line + 2;
                uint64_t crc = 0;
                size_t digits = 0;
                for (; q < eol && *q != '\t'; q++, digits++) {
                        int d = *q >= '0' && *q <= '9'   ? *q - '0'
                                : *q >= 'a' && *q <= 'f' ? *q - 'a' + 10
                                : *q >= 'A' && *q <= 'F' ? *q - 'A' + 10
                                                         : -1;
                        if (d < 0 || digits >= 16)
                                return -EBADMSG;
                        crc = crc << 4 | (unsigned) d;
                }
                if (digits == 0 || q >= eol)
                        return -EBADMSG;
                const char *sym = ++q;
                while (q < eol && *q != '\t' && *q != 0)
                        q++;
                if (q == sym || q >= eol || *q != '\t')
                        return -EBADMSG;
                int r = cb(sym, q - sym, (uint32_t) crc, userdata);
                if (r != 0)
                        return r;
        }
        return 0;
}

/* The symbols still wanted, sorted by name for bsearch. */
typedef struct Want {
        const char *symbol;
        size_t index;
} Want;

typedef struct Resolver {
        Want *want;
        size_t n_want;
        TargetCrc *crcs;
        size_t left;
        CrcSource source;
        const char *from;
} Resolver;

static int want_cmp(const void *a, const void *b)
{
        return strcmp(((const Want *) a)->symbol, ((const Want *) b)->symbol);
}

typedef struct Key {
        const char *s;
        size_t len;
} Key;

static int key_cmp(const void *k, const void *w)
{
        const Key *key = k;
        const char *s = ((const Want *) w)->symbol;
        int c = strncmp(key->s, s, key->len);
        return c != 0 ? c : (s[key->len] == 0 ? 0 : -1);
}

static int resolver_offer(const char *symbol, size_t len, uint32_t crc, void *userdata)
{
        Resolver *res = userdata;
        Key key = {symbol, len};
        const Want *w = bsearch(&key, res->want, res->n_want, sizeof(Want), key_cmp);
        if (!w)
                return 0;
        /* the same symbol may be imported twice (never in practice): every index of it */
        size_t lo = w - res->want, hi = lo + 1;
        while (lo > 0 && streq(res->want[lo - 1].symbol, w->symbol))
                lo--;
        while (hi < res->n_want && streq(res->want[hi].symbol, w->symbol))
                hi++;
        for (size_t i = lo; i < hi; i++) {
                TargetCrc *c = &res->crcs[res->want[i].index];
                if (c->source == CRC_SOURCE_NONE) {
                        *c = (TargetCrc){.source = res->source, .crc = crc, .from = res->from};
                        res->left--;
                }
        }
        return res->left == 0 ? 1 : 0;
}

static int resolve_from_module(ModuleTarget *t, const ModuleEntry *e, struct kmod_ctx *ctx, Resolver *res)
{
        _cleanup_free_ char *host = NULL;
        if (module_target_entry_resolve(t, e, &host) < 0)
                return 0; /* listed but missing: not a source */
        ModuleVersion *v = NULL;
        size_t n = 0;
        if (module_versions_load(ctx, host, &v, &n) < 0)
                return 0; /* unreadable: not a source */
        res->source = CRC_SOURCE_MODULES;
        res->from = e->path;
        for (size_t i = 0; i < n && res->left > 0; i++)
                resolver_offer(v[i].symbol, strlen(v[i].symbol), v[i].crc, res);
        module_versions_free(v, n);
        return 0;
}

static int read_gz(const char *path, char **ret, size_t *ret_size)
{
        gzFile f = gzopen(path, "rb");
        if (!f)
                return errno > 0 ? -errno : -ENOMEM;
        _cleanup_free_ char *buf = NULL;
        size_t used = 0, alloc = 0;
        int r = 0;
        for (;;) {
                if (alloc - used < 65536) {
                        if (alloc >= SYMVERS_MAX) {
                                r = -EFBIG;
                                break;
                        }
                        size_t a = alloc ? alloc * 2 : 1 << 20;
                        char *p = realloc(buf, a + 1);
                        if (!p) {
                                r = -ENOMEM;
                                break;
                        }
                        buf = p;
                        alloc = a;
                }
                int n = gzread(f, buf + used, (unsigned) (alloc - used));
                if (n < 0) {
                        r = -EBADMSG;
                        break;
                }
                if (n == 0)
                        break;
                used += n;
        }
        gzclose(f);
        if (r < 0)
                return r;
        buf[used] = 0;
        *ret = TAKE_PTR(buf);
        *ret_size = used;
        return 0;
}

static int resolve_from_symvers(ModuleTarget *t, const char *path, bool gz, CrcSource source, Resolver *res)
{
        _cleanup_free_ char *host = NULL, *data = NULL;
        size_t size;
        int r = chase_in_root(t->root, path, 0, &host);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        r = gz ? read_gz(host, &data, &size) : read_full_file(host, SYMVERS_MAX, &data, &size);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        res->source = source;
        res->from = path;
        r = module_symvers_parse(data, size, resolver_offer, res);
        return r < 0 ? r : 0;
}

int module_target_resolve_crcs(ModuleTarget *t, const ModuleVersion *v, size_t n, TargetCrc **ret)
{
        _cleanup_free_ TargetCrc *crcs = calloc(n ? n : 1, sizeof(TargetCrc));
        _cleanup_free_ Want *want = calloc(n ? n : 1, sizeof(Want));
        if (!crcs || !want)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                want[i] = (Want){v[i].symbol, i};
        qsort(want, n, sizeof(Want), want_cmp);
        Resolver res = {.want = want, .n_want = n, .crcs = crcs, .left = n};

        if (res.left > 0) {
                _cleanup_(module_kmod_unrefp) struct kmod_ctx *ctx = module_kmod_new();
                if (!ctx)
                        return -errno;
                /* the stock copy of the same module imports nearly the same symbols: first */
                const ModuleEntry *first = NULL;
                if (t->vermagic_from)
                        for (size_t i = 0; i < t->n_entries && !first; i++) {
                                _cleanup_free_ char *p = module_target_entry_path(t, &t->entries[i]);
                                if (!p)
                                        return -ENOMEM;
                                if (streq(p, t->vermagic_from))
                                        first = &t->entries[i];
                        }
                if (first)
                        resolve_from_module(t, first, ctx, &res);
                for (size_t i = 0; i < t->n_entries && res.left > 0; i++)
                        if (&t->entries[i] != first && entry_is_stock(t, &t->entries[i]))
                                resolve_from_module(t, &t->entries[i], ctx, &res);
        }
        int r = 0;
        if (res.left > 0)
                r = resolve_from_symvers(t, t->symvers, true, CRC_SOURCE_SYMVERS, &res);
        if (r >= 0 && res.left > 0)
                r = resolve_from_symvers(t, t->module_symvers, false, CRC_SOURCE_MODULE_SYMVERS, &res);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(crcs);
        return 0;
}

const char *module_lockdown_parse(const char *text)
{
        static const char *const modes[] = {"none", "integrity", "confidentiality"};
        const char *open = text ? strchr(text, '[') : NULL;
        if (!open)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(modes); i++) {
                size_t k = strlen(modes[i]);
                if (strneq(open + 1, modes[i], k) && open[1 + k] == ']')
                        return modes[i];
        }
        return NULL;
}

static int read_small(const char *root, const char *path, char **ret)
{
        _cleanup_free_ char *host = NULL;
        int r = chase_in_root(root, path, 0, &host);
        if (r < 0)
                return r;
        size_t size;
        return read_full_file(host, 64 * 1024, ret, &size);
}

int module_sig_enforced(const char *root, char **ret_reason)
{
        _cleanup_free_ char *cmdline = NULL, *param = NULL, *lockdown = NULL;
        const char *reason = NULL;
        if (root_is_host(root) && read_small(root, "/proc/cmdline", &cmdline) >= 0) {
                for (char *w = strtok(cmdline, " \t\n"); w && !reason; w = strtok(NULL, " \t\n"))
                        if (streq(w, "module.sig_enforce=1") || streq(w, "module.sig_enforce=y") ||
                            streq(w, "module.sig_enforce=Y") || streq(w, "module.sig_enforce"))
                                reason = "module.sig_enforce=1 on the kernel command line";
        }
        if (!reason && read_small(root, "/sys/module/module/parameters/sig_enforce", &param) >= 0 &&
            (param[0] == 'Y' || param[0] == 'y' || param[0] == '1'))
                reason = "/sys/module/module/parameters/sig_enforce is Y";
        const char *mode = NULL;
        if (!reason && read_small(root, "/sys/kernel/security/lockdown", &lockdown) >= 0 &&
            (mode = module_lockdown_parse(lockdown)) && !streq(mode, "none"))
                reason = streq(mode, "integrity") ? "kernel lockdown (integrity)"
                                                  : "kernel lockdown (confidentiality)";
        if (!reason)
                return 0;
        if (ret_reason && !(*ret_reason = strdup(reason)))
                return -ENOMEM;
        return 1;
}

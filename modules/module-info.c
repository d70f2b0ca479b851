/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <libkmod.h>

#include "modules/kmod-loader.h"
#include <stdarg.h>
#include <string.h>

#include "common/macro.h"
#include "common/strv.h"
#include "modules/module-info.h"

static void kmod_log_nowhere(void *data, int priority, const char *file, int line, const char *fn,
                             const char *format, va_list args)
{
}

struct kmod_ctx *module_kmod_new(void)
{
        int r = kmod_load();
        if (r < 0) {
                errno = r == -ENOENT ? ELIBACC : ELIBBAD;
                return NULL;
        }
        /* no modprobe.d configuration: nothing here depends on it */
        static const char *const no_config[] = {NULL};
        struct kmod_ctx *ctx = kmod_new("/nonexistent", no_config);
        if (ctx)
                kmod_set_log_fn(ctx, kmod_log_nowhere, NULL);
        else
                errno = ENOMEM;
        return ctx;
}

void module_kmod_unrefp(struct kmod_ctx **ctx)
{
        if (*ctx)
                kmod_unref(*ctx);
}

static void kmod_module_unrefp(struct kmod_module **m)
{
        if (*m)
                kmod_module_unref(*m);
}

void module_versions_free(ModuleVersion *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i].symbol);
        free(v);
}

ModuleInfo *module_info_free(ModuleInfo *m)
{
        if (!m)
                return NULL;
        free(m->path);
        free(m->name);
        free(m->vermagic);
        free(m->srcversion);
        strv_free(m->depends);
        module_versions_free(m->versions, m->n_versions);
        free(m->signer);
        free(m->sig_key);
        free(m->sig_hashalgo);
        free(m->sig_id);
        free(m);
        return NULL;
}

static int versions_from_module(struct kmod_module *mod, ModuleVersion **ret, size_t *ret_n)
{
        struct kmod_list *list = NULL, *l;
        int r = kmod_module_get_versions(mod, &list);
        if (r < 0)
                return r;
        size_t n = 0;
        kmod_list_foreach(l, list) n++;
        ModuleVersion *v = calloc(n ? n : 1, sizeof(ModuleVersion));
        if (!v) {
                kmod_module_versions_free_list(list);
                return -ENOMEM;
        }
        size_t i = 0;
        kmod_list_foreach(l, list)
        {
                v[i].crc = (uint32_t) kmod_module_version_get_crc(l);
                if (!(v[i].symbol = strdup(kmod_module_version_get_symbol(l)))) {
                        kmod_module_versions_free_list(list);
                        module_versions_free(v, i);
                        return -ENOMEM;
                }
                i++;
        }
        kmod_module_versions_free_list(list);
        *ret = v;
        *ret_n = n;
        return 0;
}

int module_versions_load(struct kmod_ctx *ctx, const char *path, ModuleVersion **ret, size_t *ret_n)
{
        _cleanup_(kmod_module_unrefp) struct kmod_module *mod = NULL;
        int r = kmod_module_new_from_path(ctx, path, &mod);
        if (r < 0)
                return r;
        return versions_from_module(mod, ret, ret_n);
}

static int set_string(char **slot, const char *value)
{
        char *s = strdup(value ? value : "");
        if (!s)
                return -ENOMEM;
        free(*slot);
        *slot = s;
        return 0;
}

int module_info_load(const char *path, ModuleInfo **ret)
{
        _cleanup_(module_info_freep) ModuleInfo *m = calloc(1, sizeof(ModuleInfo));
        if (!m || !(m->path = strdup(path)))
                return -ENOMEM;

        /* our own defensive pass first: libkmod is not the place to meet a damaged file */
        _cleanup_free_ uint8_t *data = NULL;
        size_t size;
        int r = module_file_read(path, &data, &size, &m->compression);
        if (r < 0)
                return r;
        r = module_elf_parse(data, size, &m->elf);
        if (r < 0)
                return r;
        m->signed_ = m->elf.signature;

        _cleanup_(module_kmod_unrefp) struct kmod_ctx *ctx = module_kmod_new();
        if (!ctx)
                return -errno;
        _cleanup_(kmod_module_unrefp) struct kmod_module *mod = NULL;
        r = kmod_module_new_from_path(ctx, path, &mod);
        if (r < 0)
                return r;
        struct kmod_list *info = NULL, *l;
        r = kmod_module_get_info(mod, &info);
        if (r < 0)
                return r;
        kmod_list_foreach(l, info)
        {
                const char *key = kmod_module_info_get_key(l), *value = kmod_module_info_get_value(l);
                if (!key)
                        continue;
                if (streq(key, "name"))
                        r = set_string(&m->name, value);
                else if (streq(key, "vermagic"))
                        r = set_string(&m->vermagic, value);
                else if (streq(key, "srcversion"))
                        r = set_string(&m->srcversion, value);
                else if (streq(key, "depends")) {
                        strv_free(m->depends);
                        m->depends = NULL;
                        r = 0;
                        for (const char *p = value ? value : ""; *p && r >= 0;) {
                                size_t n = strcspn(p, ",");
                                if (n > 0) {
                                        _cleanup_free_ char *dep = strndup(p, n);
                                        r = dep ? strv_push(&m->depends, dep) : -ENOMEM;
                                }
                                p += n + (p[n] == ',');
                        }
                } else if (streq(key, "signer"))
                        r = set_string(&m->signer, value);
                else if (streq(key, "sig_key"))
                        r = set_string(&m->sig_key, value);
                else if (streq(key, "sig_hashalgo"))
                        r = set_string(&m->sig_hashalgo, value);
                else if (streq(key, "sig_id"))
                        r = set_string(&m->sig_id, value);
                if (r < 0)
                        break;
        }
        kmod_module_info_free_list(info);
        if (r < 0)
                return r;
        r = versions_from_module(mod, &m->versions, &m->n_versions);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

char *module_name_normalize(const char *name)
{
        char *s = strdup(name);
        if (s)
                for (char *p = s; *p; p++)
                        if (*p == '-')
                                *p = '_';
        return s;
}

char *module_name_from_path(const char *path)
{
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        size_t n = strlen(base);
        static const char *const suffixes[] = {".ko.xz", ".ko.zst", ".ko.gz", ".ko"};
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                size_t k = strlen(suffixes[i]);
                if (n > k && streq(base + n - k, suffixes[i])) {
                        n -= k;
                        break;
                }
        }
        _cleanup_free_ char *s = strndup(base, n);
        return s ? module_name_normalize(s) : NULL;
}

bool module_name_valid(const char *name)
{
        size_t n = name ? strlen(name) : 0;
        if (n == 0 || n > 55)
                return false;
        return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

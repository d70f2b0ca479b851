/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fileio.h"
#include "common/macro.h"
#include "modules/module-elf.h"
#include "modules/module-stage.h"

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void) remove(path);
        return 0;
}

void module_stage_done(ModuleStage *s)
{
        if (s->dir)
                (void) nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        for (size_t i = 0; i < s->n; i++) {
                free(s->c[i].name);
                free(s->c[i].basename);
                free(s->c[i].path);
                module_info_free(s->c[i].info);
        }
        free(s->c);
        free(s->dir);
        free(s->duplicate);
        *s = (ModuleStage) {};
}

bool module_file_name(const char *base)
{
        static const char *const suffixes[] = { ".ko", ".ko.xz", ".ko.zst" };
        size_t n = strlen(base);
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                size_t k = strlen(suffixes[i]);
                if (n > k && streq(base + n - k, suffixes[i]))
                        return true;
        }
        return false;
}

int module_stage_add(ModuleStage *s, const char *member, const void *data, size_t size)
{
        const char *base = strrchr(member, '/');
        base = base ? base + 1 : member;
        if (!module_file_name(base))
                return 0;
        _cleanup_free_ char *name = module_name_from_path(base);
        if (!name)
                return -ENOMEM;
        if (!module_name_valid(name))
                return 0;
        for (size_t i = 0; i < s->n; i++)
                if (streq(s->c[i].name, name)) {
                        if (!s->duplicate)
                                s->duplicate = strdup(name);
                        return -ENOTUNIQ;
                }
        if (size > MODULE_FILE_MAX)
                return -EFBIG;
        char hex[SHA256_HEX_SIZE];
        int r = sha256_hex(data, size, hex);
        if (r < 0)
                return r;
        ModuleCandidate *grown = realloc(s->c, (s->n + 1) * sizeof(ModuleCandidate));
        if (!grown)
                return -ENOMEM;
        s->c = grown;
        ModuleCandidate *c = &s->c[s->n];
        *c = (ModuleCandidate) {};
        if (!(c->basename = strdup(base)) || asprintf(&c->path, "%s/%s", s->dir, base) < 0) {
                free(c->basename);
                return -ENOMEM;
        }
        c->name = TAKE_PTR(name);
        memcpy(c->sha256, hex, sizeof hex);
        s->n++;
        return write_file_atomic(c->path, data, size, 0600, 0);
}

static int add_dir(ModuleStage *s, const char *dir, unsigned depth)
{
        if (depth > 8)
                return 0;
        DIR *d = opendir(dir);
        if (!d)
                return -errno;
        struct dirent *de;
        int r = 0;
        while (r >= 0 && (de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                _cleanup_free_ char *p = NULL;
                if (asprintf(&p, "%s/%s", dir, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                struct stat st;
                if (lstat(p, &st) < 0)
                        continue;
                if (S_ISDIR(st.st_mode))
                        r = add_dir(s, p, depth + 1);
                else if (S_ISREG(st.st_mode) && module_file_name(de->d_name)) {
                        _cleanup_free_ char *data = NULL;
                        size_t size;
                        r = read_full_file(p, MODULE_FILE_MAX, &data, &size);
                        if (r >= 0)
                                r = module_stage_add(s, de->d_name, data, size);
                }
        }
        closedir(d);
        return r;
}

int module_stage_add_dir(ModuleStage *s, const char *dir)
{
        return add_dir(s, dir, 0);
}

ModuleCandidate *module_stage_find(const ModuleStage *s, const char *name)
{
        for (size_t i = 0; i < s->n; i++)
                if (streq(s->c[i].name, name))
                        return &s->c[i];
        return NULL;
}

ModuleCandidate *module_stage_find_path(const ModuleStage *s, const char *path)
{
        for (size_t i = 0; path && i < s->n; i++)
                if (streq(s->c[i].path, path))
                        return &s->c[i];
        return NULL;
}

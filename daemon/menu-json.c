/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "common/macro.h"
#include "daemon/menu-json.h"

static json_t *string_or_null(const char *s)
{
        return s ? json_string(s) : json_null();
}

static json_t *entry_to_json(const MenuEntry *e)
{
        json_t *modules = json_array();
        for (char **m = e->modules; m && *m; m++)
                json_array_append_new(modules, json_string(*m));
        return json_pack("{s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:b, s:o}",
                         "index", e->index,
                         "title", string_or_null(e->title),
                         "root", string_or_null(e->root),
                         "kernel", string_or_null(e->kernel),
                         "args", e->kernel ? string_or_null(e->args) : json_null(),
                         "initrd", string_or_null(e->initrd),
                         "release", string_or_null(e->release),
                         "modules", modules,
                         "savedefault", e->savedefault,
                         "chainloader", e->chainloader,
                         "fails", string_or_null(e->fail_reason));
}

json_t *menu_info_to_json(const MenuInfo *info, const char *path, MenuDialect dialect)
{
        json_t *entries = json_array(), *fallback = json_array(), *warnings = json_array();
        for (size_t i = 0; i < info->n_entries; i++)
                json_array_append_new(entries, entry_to_json(&info->entries[i]));
        for (size_t i = 0; i < info->n_fallback; i++)
                json_array_append_new(fallback, json_integer(info->fallback[i]));
        for (char **w = info->warnings; w && *w; w++)
                json_array_append_new(warnings, json_string(*w));
        return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:b, s:b, s:o}",
                         "path", path,
                         "dialect", dialect == MENU_DIALECT_PVGRUB ? "pvgrub" : "grub",
                         "entries", entries,
                         "default", info->default_entry >= 0 ? json_integer(info->default_entry) : json_null(),
                         "fallback", fallback,
                         "timeout", info->timeout >= 0 ? json_integer(info->timeout) : json_null(),
                         "default_saved", info->default_saved,
                         "hiddenmenu", info->hiddenmenu,
                         "warnings", warnings);
}

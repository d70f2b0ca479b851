/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>

#include "menulst/menulst.h"

/* The `menu show --json` object: entries, default, fallback, timeout, default_saved, warnings, ... */
json_t *menu_info_to_json(const MenuInfo *info, const char *path, MenuDialect dialect);

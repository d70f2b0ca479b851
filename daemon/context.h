/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

#include "daemon/config.h"

/* What every verb gets: the global options and the loaded configuration. */
typedef struct Context {
        const char *root;        /* the tree to operate on, "/" for the running system */
        const char *config_path; /* --config, NULL for ROOT/etc/kernelkeeper.conf */
        bool json;
        bool verbose;
        Config config;
} Context;

/* Exit codes of every verb */
enum {
        EXIT_OK = 0,
        EXIT_PROBLEM = 1, /* the operation failed or found problems */
        EXIT_USAGE = 2,
};

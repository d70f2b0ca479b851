/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

/* A library loaded on first use (dlopen) instead of linked, so processes that never need it (the
 * guardian daemon) do not map it. */
typedef struct DlSymbol {
        void **slot;
        const char *name;
} DlSymbol;

/* dlopen(soname) and every symbol into its slot; the handle stays open for the process's life.
 * -ENOENT the library is not installed, -ELIBBAD a symbol is missing (the library is closed). */
int dl_open_symbols(const char *soname, const DlSymbol *syms, size_t n);

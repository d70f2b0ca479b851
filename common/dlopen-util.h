/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

/* Libraries loaded on first use (libcurl, libcrypto, libkmod), so a process that never needs them
 * maps none of their pages. */
typedef struct DlSym {
        void **slot;
        const char *name;
} DlSym;

/* dlopen()s soname (RTLD_NOW | RTLD_LOCAL) and fills every slot; the handle stays open for the
 * life of the process. -ENOENT if the library is not installed, -ELIBBAD if a symbol is missing
 * (nothing is kept open then). */
int dlopen_symbols(const char *soname, const DlSym *syms, size_t n);

/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dlfcn.h>
#include <errno.h>

#include "common/dlopen-util.h"

int dlopen_symbols(const char *soname, const DlSym *syms, size_t n)
{
        void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
        if (!h)
                return -ENOENT;
        for (size_t i = 0; i < n; i++)
                if (!(*syms[i].slot = dlsym(h, syms[i].name))) {
                        dlclose(h);
                        return -ELIBBAD;
                }
        return 0;
}

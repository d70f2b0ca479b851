/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <limits.h>
#include <string.h>

#include "common/macro.h"
#include "menulst/menulst.h"

#define C BUILTIN_CMDLINE
#define M BUILTIN_MENU

/* builtins.c:builtin_table of GRUB 0.97 as built by default (serial and hercules support, MD5
 * passwords, no netboot); GRUB_UTIL-only commands (device, dump, quit) are not in stage2. */
static const struct {
        const char *name;
        int flags;
        bool pvgrub; /* also in Xen's stubdom PV-GRUB */
} builtins[] = {
        { "blocklist", C, true },      { "boot", C, true },         { "cat", C, true },
        { "chainloader", C, true },    { "cmdline", C, true },      { "cmp", C, true },
        { "color", C | M, true },      { "configfile", C, true },   { "debug", C, true },
        { "default", M, true },        { "displayapm", C, true },   { "displaymem", C, true },
        { "embed", C, true },          { "fallback", M, true },     { "find", C, true },
        { "fstest", C, true },         { "geometry", C, true },     { "halt", C, true },
        { "help", C, true },           { "hiddenmenu", M, true },   { "hide", C | M, true },
        { "impsprobe", C, true },      { "initrd", C, true },       { "install", C, false },
        { "ioprobe", C, true },        { "kernel", C, true },       { "lock", C, true },
        { "makeactive", C, true },     { "map", C, true },          { "md5crypt", C, true },
        { "module", C, true },         { "modulenounzip", C, true }, { "pager", C | M, true },
        { "partnew", C | M, true },    { "parttype", C | M, true }, { "password", C | M, true },
        { "pause", C, true },          { "read", C, true },         { "reboot", C, true },
        { "root", C, true },           { "rootnoverify", C, true }, { "savedefault", C, true },
        { "serial", C | M, false },    { "setkey", C | M, false },  { "setup", C, false },
        { "terminal", C | M, true },   { "terminfo", C | M, true }, { "testload", C, true },
        { "testvbe", C, true },        { "timeout", M, true },      { "title", BUILTIN_TITLE, true },
        { "unhide", C | M, true },     { "uppermem", C, false },    { "vbeprobe", C, true },
};

/* skip_to(1, p): past the word, then past blanks and '=' */
static const char *skip_to_arg(const char *p)
{
        while (*p && *p != ' ' && *p != '\t' && *p != '=')
                p++;
        while (*p == ' ' || *p == '\t' || *p == '=')
                p++;
        return p;
}

int menulst_find_command(MenuDialect d, const char *cooked, char *ret_name, size_t name_size,
                         const char **ret_arg)
{
        size_t n = strcspn(cooked, " \t=");
        if (ret_name && name_size > 0) {
                size_t k = MIN(n, name_size - 1);
                memcpy(ret_name, cooked, k);
                ret_name[k] = 0;
        }
        if (ret_arg)
                *ret_arg = skip_to_arg(cooked);
        /* the table is in strcmp() order: a binary search (every line of every evaluation comes here) */
        size_t lo = 0, hi = ELEMENTSOF(builtins);
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strncmp(cooked, builtins[mid].name, n);
                if (c == 0 && builtins[mid].name[n])
                        c = -1; /* cooked's name is a prefix of this one */
                if (c < 0)
                        hi = mid;
                else if (c > 0)
                        lo = mid + 1;
                else if (d == MENU_DIALECT_PVGRUB && !builtins[mid].pvgrub)
                        return 0;
                else
                        return builtins[mid].flags;
        }
        return 0;
}

bool menulst_parse_int(const char **str, int *ret)
{
        const char *p = *str;
        int v = 0, mult = 10;
        bool found = false;

        if (p[0] == '0' && tolower((unsigned char) p[1]) == 'x') {
                p += 2;
                mult = 16;
        }
        for (;;) {
                unsigned digit = (unsigned) (tolower((unsigned char) *p) - '0');
                if (digit > 9) {
                        digit -= 'a' - '0';
                        if (mult == 10 || digit > 5)
                                break;
                        digit += 10;
                }
                found = true;
                if (v > (int) ((INT_MAX - digit) / (unsigned) mult))
                        return false; /* ERR_NUMBER_OVERFLOW */
                v = v * mult + (int) digit;
                p++;
        }
        if (!found)
                return false;
        *str = p;
        *ret = v;
        return true;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PV-GRUB2's state file: GRUB 2's environment block (grub-core/lib/envblk.c), read by `load_env` and
 * rewritten in place by `save_env`, which refuses a file whose size would change. */
#include <string.h>

#include "common/macro.h"
#include "menulst/menulst.h"

#define SIGNATURE "# GRUB Environment Block\n"

/* grub-editenv never writes a NUL; a block holding one is treated as damaged, so nothing we write
 * from it can carry one either */
static bool grubenv_valid(const char *data, size_t size)
{
        return data && size == MENULST_GRUBENV_SIZE && strneq(data, SIGNATURE, strlen(SIGNATURE)) &&
               !memchr(data, 0, size);
}

/* A line runs to the first unescaped newline: where that is, or end if there is none. */
static const char *line_end(const char *p, const char *end)
{
        while (p < end && *p != '\n') {
                if (*p == '\\' && p + 1 < end)
                        p++;
                p++;
        }
        return MIN(p, end);
}

/* The value (still escaped) of the first "name=value" line, and where that line ends. */
static const char *find_var(const char *data, size_t size, const char *name, const char **ret_line_end)
{
        size_t nl = strlen(name);
        const char *p = data + strlen(SIGNATURE), *end = data + size;
        while (p < end) {
                const char *q = line_end(p, end);
                if (q >= end)
                        break; /* no newline: envblk.c stops there ("broken") */
                if (*p != '#' && (size_t) (q - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
                        *ret_line_end = q;
                        return p + nl + 1;
                }
                p = q + 1;
        }
        return NULL;
}

int menulst_grubenv_get(const char *data, size_t size, const char *name, char **ret_value)
{
        if (!grubenv_valid(data, size))
                return -EBADMSG;
        const char *end, *v = find_var(data, size, name, &end);
        if (!v)
                return -ENOENT;
        char *out = malloc((size_t) (end - v) + 1), *o = out;
        if (!out)
                return -ENOMEM;
        for (const char *p = v; p < end; p++) {
                if (*p == '\\' && p + 1 < end)
                        p++;
                *o++ = *p;
        }
        *o = 0;
        *ret_value = out;
        return 0;
}

int menulst_grubenv_set(const char *data, size_t size, const char *name, const char *value, char **ret_data)
{
        if (data && !grubenv_valid(data, size))
                return -EBADMSG;
        if (!*name || strpbrk(name, "=\n#\\"))
                return -EINVAL;

        /* rebuild: signature, every other variable as it was, then this one; '#' padding to the end */
        _cleanup_free_ char *out = malloc(MENULST_GRUBENV_SIZE + 1);
        if (!out)
                return -ENOMEM;
        size_t n = 0;
        memcpy(out, SIGNATURE, strlen(SIGNATURE));
        n = strlen(SIGNATURE);
        if (data) {
                const char *skip_end = NULL, *skip = find_var(data, size, name, &skip_end);
                const char *p = data + n, *end = data + size;
                while (p < end) {
                        const char *q = line_end(p, end);
                        bool is_ours = skip && p <= skip && skip < q;
                        if (*p != '#' && q < end && !is_ours) {
                                size_t l = (size_t) (q - p) + 1;
                                if (n + l > MENULST_GRUBENV_SIZE)
                                        return -E2BIG;
                                memcpy(out + n, p, l);
                                n += l;
                        }
                        p = q + 1;
                }
        }
        size_t need = strlen(name) + 2;
        for (const char *v = value; *v; v++)
                need += (*v == '\\' || *v == '\n') ? 2 : 1;
        if (n + need > MENULST_GRUBENV_SIZE)
                return -E2BIG;
        n += (size_t) sprintf(out + n, "%s=", name);
        for (const char *v = value; *v; v++) {
                if (*v == '\\' || *v == '\n')
                        out[n++] = '\\';
                out[n++] = *v;
        }
        out[n++] = '\n';
        /* never zeros: save_env refuses a block with a hole in it */
        memset(out + n, '#', MENULST_GRUBENV_SIZE - n);
        out[MENULST_GRUBENV_SIZE] = 0;
        *ret_data = TAKE_PTR(out);
        return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The config parser with drop-in semantics: the input is the main file followed by drop-ins, split at
 * NUL bytes, applied in order as config_load() applies /etc/kernelkeeper.conf and its .conf.d files.
 * - a file that fails gives -EINVAL and one line "file:line: ..." naming that file, and stops the load;
 * - a load that succeeds gives valid values (a known dialect, auto/yes/no, no empty or multi-line
 *   strings), and written back as one file (config_format) it reads back to the same values. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_string(const char *s)
{
        if (s && (!*s || strchr(s, '\n')))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        Config c;
        config_init(&c);
        const char *p = (const char *) data, *end = p + size;
        for (unsigned n = 0;; n++) {
                const char *nul = memchr(p, 0, (size_t) (end - p));
                size_t len = nul ? (size_t) (nul - p) : (size_t) (end - p);
                char path[64];
                snprintf(path, sizeof path, n == 0 ? "/etc/kernelkeeper.conf" : "/etc/kernelkeeper.conf.d/%02u.conf",
                         n);
                char *err = NULL;
                int r = config_parse(&c, path, p, len, &err);
                if (r < 0) {
                        size_t l = strlen(path);
                        if (r != -ENOMEM && (r != -EINVAL || !err || !strneq(err, path, l) || err[l] != ':' ||
                                             strchr(err, '\n')))
                                abort();
                        free(err);
                        config_done(&c);
                        return 0;
                }
                if (err)
                        abort();
                if (!nul)
                        break;
                p = nul + 1;
        }

        if ((c.dialect != MENU_DIALECT_GRUB && c.dialect != MENU_DIALECT_PVGRUB) || c.separate_boot < -1 ||
            c.separate_boot > 1)
                abort();
        check_string(c.menu_path);
        check_string(c.boot_device);
        check_string(c.state_dir);
        check_string(c.metadata_url);
        check_string(c.log_dir);

        _cleanup_free_ char *text = NULL, *again = NULL, *err = NULL;
        if (config_format(&c, &text) < 0)
                abort();
        Config c2;
        config_init(&c2);
        if (config_parse(&c2, "formatted", text, strlen(text), &err) < 0 || config_format(&c2, &again) < 0 ||
            !streq(text, again))
                abort();
        config_done(&c);
        config_done(&c2);
        return 0;
}

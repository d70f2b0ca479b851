/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <sys/stat.h>

#include "common/macro.h"
#include "daemon/config.h"
#include "tests/tap.h"

static char root[64];

static void write_file(const char *rel, const char *text)
{
        char path[256];
        snprintf(path, sizeof path, "%s%s", root, rel);
        FILE *f = fopen(path, "we");
        fputs(text, f);
        fclose(f);
}

int main(void)
{
        snprintf(root, sizeof root, "/tmp/kk-config-XXXXXX");
        if (!mkdtemp(root))
                return 1;
        char cmd[256];
        snprintf(cmd, sizeof cmd, "mkdir -p %s/etc/kernelkeeper.conf.d", root);
        (void) system(cmd);

        Config c;
        char *err = NULL;
        config_init(&c);
        ok(config_load(&c, root, NULL, &err) == 0, "no file is fine");
        is_str(c.menu_path, "/boot/grub/menu.lst", "default menu path");
        config_done(&c);

        write_file("/etc/kernelkeeper.conf", "# comment\n[Menu]\nDialect = pvgrub\nBootPartition=yes\n\n[Guardian]\nDebounceMSec=50\n");
        write_file("/etc/kernelkeeper.conf.d/10-a.conf", "[Guardian]\nDebounceMSec=70\n");
        write_file("/etc/kernelkeeper.conf.d/20-b.conf", "[Menu]\nPath=/boot/grub/grub.conf\n");
        config_init(&c);
        ok(config_load(&c, root, NULL, &err) == 0, "loads");
        ok(c.dialect == MENU_DIALECT_PVGRUB && c.separate_boot == 1, "values");
        is_int(c.debounce_msec, 70, "drop-ins override in lexical order");
        is_str(c.menu_path, "/boot/grub/grub.conf", "string from a drop-in");
        config_done(&c);

        write_file("/etc/kernelkeeper.conf.d/30-bad.conf", "[Menu]\n\nColour=blue\n");
        config_init(&c);
        ok(config_load(&c, root, NULL, &err) < 0 && err && strstr(err, "30-bad.conf:3: unknown key 'Colour' in [Menu]"),
           "unknown key is an error with file:line");
        free(err);
        config_done(&c);

        write_file("/etc/kernelkeeper.conf.d/30-bad.conf", "[Guardian]\nDebounceMSec=-4\n");
        config_init(&c);
        ok(config_load(&c, root, NULL, &err) < 0 && err && strstr(err, ":2: invalid value"), "bad value");
        free(err);
        config_done(&c);

        write_file("/etc/kernelkeeper.conf.d/30-bad.conf", "[Nope]\n");
        config_init(&c);
        ok(config_load(&c, root, NULL, &err) < 0 && err && strstr(err, "unknown section [Nope]"), "bad section");
        free(err);
        config_done(&c);

        config_init(&c);
        ok(config_load(&c, root, "/nonexistent.conf", &err) < 0 && err, "--config must exist");
        free(err);
        config_done(&c);
        snprintf(cmd, sizeof cmd, "rm -rf %s", root);
        (void) system(cmd);
        return tap_done();
}

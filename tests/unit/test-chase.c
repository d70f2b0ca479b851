/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <sys/stat.h>

#include "common/chase.h"
#include "common/macro.h"
#include "tests/tap.h"

int main(void)
{
        char tmpl[] = "/tmp/kk-chase-XXXXXX";
        char *root = mkdtemp(tmpl);
        char cmd[512];
        snprintf(cmd, sizeof cmd,
                 "mkdir -p %1$s/boot/grub %1$s/etc && touch %1$s/boot/grub/grub.conf %1$s/boot/vmlinuz-1 && "
                 "ln -s grub.conf %1$s/boot/grub/menu.lst && ln -s /boot/vmlinuz-1 %1$s/vmlinuz && "
                 "ln -s ../../../../../etc/passwd %1$s/boot/escape && ln -s loop %1$s/loop",
                 root);
        ok(system(cmd) == 0, "tree made");

        char *p = NULL;
        ok(chase_in_root(root, "/boot/grub/menu.lst", 0, &p) == 0, "relative link");
        char want[512];
        snprintf(want, sizeof want, "%s/boot/grub/grub.conf", root);
        is_str(p, want, "resolves to grub.conf in the tree");
        free(p);

        ok(chase_in_root(root, "/vmlinuz", 0, &p) == 0, "absolute link");
        snprintf(want, sizeof want, "%s/boot/vmlinuz-1", root);
        is_str(p, want, "absolute target taken inside the tree");
        free(p);

        is_int(chase_in_root(root, "/boot/escape", 0, &p), -ENOENT, "'..' never climbs out of the tree");
        is_int(chase_in_root(root, "/loop", 0, &p), -ELOOP, "link loop");
        ok(chase_in_root(root, "/boot/new", CHASE_NONEXISTENT, &p) == 0, "missing last component allowed");
        free(p);
        is_int(chase_in_root(root, "/boot/vmlinuz-1/x", 0, &p), -ENOTDIR, "file in the middle");
        snprintf(cmd, sizeof cmd, "rm -rf %s", root);
        (void) system(cmd);
        return tap_done();
}

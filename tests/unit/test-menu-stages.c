/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Staging of a menu.lst + default file change: every pair of files GRUB could find between the
 * renames boots the intended entry, and no plain order of two renames would. */
#include <stdlib.h>

#include "common/macro.h"
#include "daemon/menu-txn.h"
#include "menulst/menulst.h"
#include "tests/tap.h"

#define D(n) #n "\n#\n#\n#\n#\n#\n#\n#\n#\n#\n#\n"

static int boots(const char *menu, const char *d)
{
        _cleanup_(menulst_freep) MenuLst *m = NULL;
        _cleanup_(menu_info_freep) MenuInfo *info = NULL;
        MenuEvalOptions o = { .dialect = MENU_DIALECT_GRUB, .default_file = d, .default_file_size = d ? strlen(d) : 0 };
        if (menulst_parse(menu, strlen(menu), &m) < 0 || menulst_evaluate(m, &o, &info) < 0)
                abort();
        return info->default_entry;
}

/* m0/d0 -> m1/d1, GRUB booting entry `was` before and `intended` after (the same kernel) */
static void check(const char *name, const char *m0, const char *d0, const char *m1, const char *d1, int was,
                  int intended, int want_stages, bool plain_orders_fail)
{
        is_int(boots(m0, d0), was, "before");
        _cleanup_(menulst_freep) MenuLst *m = NULL;
        if (menulst_parse(m1, strlen(m1), &m) < 0)
                abort();
        MenuStage st[3];
        int n = menu_plan_stages(MENU_DIALECT_GRUB, m, d0, strlen(d0), d1, strlen(d1), intended, st);
        is_int(n, want_stages, name);
        if (n < 0)
                return;
        /* replay the renames from the old pair */
        const char *cm = m0, *cd = d0;
        for (int i = 0; i < n; i++) {
                if (st[i].is_menu)
                        cm = st[i].data;
                else
                        cd = st[i].data;
                is_int(boots(cm, cd), intended, "each stage boots the intended entry");
        }
        is_str(cm, m1, "ends in the new menu.lst");
        is_str(cd, d1, "ends in the new default file");
        if (plain_orders_fail) {
                ok(boots(m1, d0) != intended, "menu.lst first would boot another entry");
                ok(boots(m0, d1) != was, "default first would boot another entry");
        }
        menu_stages_done(st, (size_t) n);
}

static const char *SAVED = "default saved\ntimeout 5\n\ntitle a\nkernel /a\ntitle b\nkernel /b\ntitle c\nkernel /c\n";
static const char *SAVED_FIRST = "default saved\ntimeout 5\n\ntitle new\nkernel /n\n\ntitle a\nkernel /a\ntitle b\n"
                                 "kernel /b\ntitle c\nkernel /c\n";
static const char *SAVED_REMOVED = "default saved\ntimeout 5\n\ntitle b\nkernel /b\ntitle c\nkernel /c\n";

int main(void)
{
        check("add --first under default saved: 3 stages", SAVED, D(1), SAVED_FIRST, D(2), 1, 2, 3, true);
        check("remove above the default: 3 stages", SAVED, D(1), SAVED_REMOVED, D(0), 1, 0, 3, true);

        /* the first stage is the new menu with the default made explicit */
        _cleanup_(menulst_freep) MenuLst *m = NULL;
        if (menulst_parse(SAVED_FIRST, strlen(SAVED_FIRST), &m) < 0)
                abort();
        MenuStage st[3];
        is_int(menu_plan_stages(MENU_DIALECT_GRUB, m, D(1), strlen(D(1)), D(2), strlen(D(2)), 2, st), 3, "plan");
        ok(st[0].is_menu && strneq(st[0].data, "default 2\ntimeout 5\n\ntitle new\n", 30), "stage 1: default 2");
        ok(!st[1].is_menu && streq(st[1].data, D(2)), "stage 2: the default file");
        ok(st[2].is_menu && streq(st[2].data, SAVED_FIRST), "stage 3: the final menu.lst");
        menu_stages_done(st, 3);

        /* a menu that does not read the default file: menu.lst, then the file */
        const char *explicit0 = "default 1\ntitle a\nkernel /a\ntitle b\nkernel /b\n";
        const char *explicit1 = "default 2\ntitle n\nkernel /n\ntitle a\nkernel /a\ntitle b\nkernel /b\n";
        check("explicit default: 2 stages", explicit0, D(1), explicit1, D(2), 1, 2, 2, false);
        /* `default saved # x` is not `default saved` to GRUB: the file does not count either */
        const char *comment1 = "default saved # x\ntitle a\nkernel /a\ntitle b\nkernel /b\n";
        check("default saved with a trailing comment", comment1, D(1), comment1, D(0), 0, 0, 2, false);

        /* refusals: a target that does not boot the intended entry */
        menulst_freep(&m);
        if (menulst_parse(SAVED_FIRST, strlen(SAVED_FIRST), &m) < 0)
                abort();
        is_int(menu_plan_stages(MENU_DIALECT_GRUB, m, D(1), strlen(D(1)), D(1), strlen(D(1)), 2, st), -EPROTO,
               "new default file pointing elsewhere: refused");
        is_int(menu_plan_stages(MENU_DIALECT_GRUB, m, D(1), strlen(D(1)), D(2), strlen(D(2)), 1, st), -EPROTO,
               "intended entry not what the target boots: refused");
        return tap_done();
}

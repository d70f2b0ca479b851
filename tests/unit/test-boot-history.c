/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Boot history records and matching a booted command line to its menu entry. */
#include <stdlib.h>

#include "boot/history.h"
#include "boot/trial.h"
#include "common/macro.h"
#include "tests/tap.h"

static void test_records(void)
{
        json_t *h = json_array();
        BootRecord r = { .boot_id = "b1", .time = "2026-11-30T04:00:00Z", .release = "6.1.0-50-amd64", .entry = 0,
                         .title = "G", .outcome = "unknown" };
        is_int(boot_history_add(h, &r), 1, "a boot is recorded");
        is_int(boot_history_add(h, &r), 0, "the same boot is not recorded twice");
        BootRecord lost = { .release = "6.1.0-57-amd64", .entry = 1, .trial = true, .outcome = "failed",
                            .reason = "before userspace" };
        is_int(boot_history_add(h, &lost), 1, "a boot that never reached userspace gets a record without boot id");
        ok(boot_history_trial_failed(h, "6.1.0-57-amd64"), "the failed trial of 6.1.0-57 is found");
        ok(!boot_history_trial_failed(h, "6.1.0-50-amd64"), "a release that was never tried did not fail one");
        ok(boot_history_set_outcome(h, "b1", "good", NULL) == 0 &&
           streq(json_string_value(json_object_get(json_array_get(h, 0), "outcome")), "good"), "outcome set");
        is_int(boot_history_set_outcome(h, "nope", "good", NULL), -ENOENT, "unknown boot id");
        char id[32];
        for (int i = 0; i < 100; i++) {
                snprintf(id, sizeof id, "x%d", i);
                BootRecord x = { .boot_id = id, .entry = -1 };
                if (boot_history_add(h, &x) < 0)
                        abort();
        }
        ok(json_array_size(h) == BOOT_HISTORY_MAX &&
           streq(json_string_value(json_object_get(json_array_get(h, BOOT_HISTORY_MAX - 1), "boot_id")), "x99"),
           "bounded: the oldest records go");
        json_decref(h);
}

static void test_match(void)
{
        const char *text = "timeout 0\n\ntitle a\nkernel /boot/vmlinuz-6.1.0-50-amd64 root=/dev/vda1 ro\n\n"
                           "title b\nkernel /boot/vmlinuz-6.1.0-57-amd64 root=/dev/vda1  ro\n\n"
                           "title b single\nkernel /boot/vmlinuz-6.1.0-57-amd64 root=/dev/vda1 ro single\n";
        MenuLst *m = NULL;
        MenuInfo *info = NULL;
        MenuEvalOptions o = { .dialect = MENU_DIALECT_GRUB };
        if (menulst_parse(text, strlen(text), &m) < 0 || menulst_evaluate(m, &o, &info) < 0)
                abort();
        is_int(boot_match_entry(info, "root=/dev/vda1 ro\n", "6.1.0-57-amd64"), 1,
               "the command line and release pick the entry (blanks do not matter)");
        is_int(boot_match_entry(info, "root=/dev/vda1 ro single", "6.1.0-57-amd64"), 2, "the recovery twin");
        is_int(boot_match_entry(info, "root=/dev/vda1 ro", "6.1.0-50-amd64"), 0, "the other release");
        is_int(boot_match_entry(info, "root=/dev/vda2 ro", "6.1.0-50-amd64"), -1, "no entry booted this");
        ok(boot_cmdline_has("root=/dev/vda1 ro panic=10 " TRIAL_CMDLINE_MARK "\n", TRIAL_CMDLINE_MARK) &&
           !boot_cmdline_has("x" TRIAL_CMDLINE_MARK, TRIAL_CMDLINE_MARK), "the trial mark is a whole word");
        menu_info_free(info);
        menulst_free(m);
}

int main(void)
{
        test_records();
        test_match();
        return tap_done();
}

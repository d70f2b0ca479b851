/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The pure parts of `module check`: vermagic comparison, symvers and modules.dep parsing, the
 * lockdown file, module names; and the whole check on a synthetic release tree. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "common/fileio.h"
#include "common/macro.h"
#include "modules/module-check.h"
#include "tests/tap.h"
#include "tests/unit/module-elf-builder.h"

static void test_vermagic(void)
{
        VermagicDiff d;
        is_int(vermagic_compare("6.1.0-57-amd64 SMP preempt mod_unload modversions ",
                                "6.1.0-57-amd64 SMP preempt mod_unload modversions ", &d),
               0, "compare equal");
        ok(d.equal && !d.release_differs && !d.flags_missing && !d.flags_extra, "equal");
        vermagic_diff_done(&d);

        vermagic_compare("6.1.0-50-amd64 SMP preempt mod_unload modversions ",
                         "6.1.0-57-amd64 SMP preempt mod_unload modversions ", &d);
        ok(!d.equal && d.release_differs && !d.flags_missing && !d.flags_extra, "only the release differs");
        is_str(d.module_release, "6.1.0-50-amd64", "module release");
        is_str(d.target_release, "6.1.0-57-amd64", "target release");
        vermagic_diff_done(&d);

        vermagic_compare("6.1.0-57-amd64 SMP mod_unload modversions RANDSTRUCT_1234 ",
                         "6.1.0-57-amd64 SMP preempt mod_unload modversions ", &d);
        ok(!d.release_differs && d.flags_missing && d.flags_extra, "flags differ");
        is_str(d.flags_missing[0], "preempt", "preempt missing");
        ok(!d.flags_missing[1], "only preempt");
        is_str(d.flags_extra[0], "RANDSTRUCT_1234", "RANDSTRUCT extra");
        vermagic_diff_done(&d);

        vermagic_compare("2.6.16-xenU SMP  686 gcc-4.0", "2.6.16-xenU SMP 686 gcc-4.0", &d);
        ok(!d.equal && d.order_differs, "same words, spelled differently: not equal");
        vermagic_diff_done(&d);

        vermagic_compare("", "6.1.0 SMP", &d);
        ok(d.release_differs && d.flags_missing, "empty vermagic");
        vermagic_diff_done(&d);

        ok(vermagic_has_flag("6.1.0-57-amd64 SMP preempt mod_unload modversions ", "modversions"),
           "has modversions");
        ok(!vermagic_has_flag("modversions SMP", "modversions"), "the release is not a flag");
        ok(!vermagic_has_flag("6.1.0 SMP mod_unload", "mod"), "whole words only");
}

typedef struct Seen {
        char names[8][64];
        uint32_t crcs[8];
        size_t n;
} Seen;

static int seen_add(const char *symbol, size_t len, uint32_t crc, void *userdata)
{
        Seen *s = userdata;
        if (s->n >= 8 || len >= 64)
                return -E2BIG;
        memcpy(s->names[s->n], symbol, len);
        s->names[s->n][len] = 0;
        s->crcs[s->n++] = crc;
        return 0;
}

static void test_symvers(void)
{
        static const char good[] = "0x9060323f\tmodule_layout\tvmlinux\tEXPORT_SYMBOL\t\n"
                                   "\n"
                                   "0x00001fd1\tblk_start_plug\tvmlinux\tEXPORT_SYMBOL_GPL\tNS\n"
                                   "0xdeadbeef\tdm_get_device\tdrivers/md/dm-mod\tEXPORT_SYMBOL_GPL";
        Seen s = {};
        is_int(module_symvers_parse(good, sizeof(good) - 1, seen_add, &s), 0, "symvers parses");
        is_int(s.n, 3, "three symbols");
        is_str(s.names[0], "module_layout", "first symbol");
        is_int(s.crcs[0], 0x9060323f, "its crc");
        is_int(s.crcs[1], 0x1fd1, "short crc");
        is_str(s.names[2], "dm_get_device", "last line without newline");

        static const char *const bad[] = {
            "garbage\n",     "0x\tsym\tvmlinux\n", "0x12zz\tsym\tvmlinux\n",
            "0x1234\n",      "0x1234\tsym\n",      "0x12345678123456789\tsym\tm\tE\n",
            "0x1\t\tm\tE\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                Seen x = {};
                char name[64];
                snprintf(name, sizeof name, "malformed symvers line %zu is corrupt", i);
                is_int(module_symvers_parse(bad[i], strlen(bad[i]), seen_add, &x), -EBADMSG, name);
        }
        Seen x = {};
        static const char many[] = "0x1\ta\tm\tE\n0x2\tb\tm\tE\n0x3\tc\tm\tE\n0x4\td\tm\tE\n0x5\te\tm\tE\n"
                                   "0x6\tf\tm\tE\n0x7\tg\tm\tE\n0x8\th\tm\tE\n0x9\ti\tm\tE\n";
        is_int(module_symvers_parse(many, sizeof(many) - 1, seen_add, &x), -E2BIG,
               "the callback stops the walk");
}

static void test_modules_dep(void)
{
        static const char dep[] = "kernel/drivers/md/dm-mod.ko:\n"
                                  "kernel/drivers/md/dm-snapshot.ko.xz: kernel/drivers/md/dm-bufio.ko "
                                  "kernel/drivers/md/dm-mod.ko\n"
                                  "# comment\n"
                                  "/lib/modules/2.6.16-xenU/kernel/drivers/md/dm-mirror.ko:\n";
        ModuleEntry *e = NULL;
        size_t n = 0;
        is_int(module_dep_parse(dep, sizeof(dep) - 1, &e, &n), 0, "modules.dep parses");
        is_int(n, 3, "three modules");
        is_str(e[0].name, "dm_mod", "name from path, normalized");
        is_str(e[1].path, "kernel/drivers/md/dm-snapshot.ko.xz", "path");
        is_str(e[1].name, "dm_snapshot", "name without .ko.xz");
        is_str(e[2].path, "/lib/modules/2.6.16-xenU/kernel/drivers/md/dm-mirror.ko",
               "old absolute path kept");
        module_entries_free(e, n);
        e = NULL;
        is_int(module_dep_parse("no colon here\n", 14, &e, &n), -EBADMSG, "a line without ':' is corrupt");
        ok(!e, "nothing returned on failure");
}

static void test_names_and_lockdown(void)
{
        char *s = module_name_from_path("/x/dm-mod.ko.zst");
        is_str(s, "dm_mod", "name from .ko.zst");
        free(s);
        s = module_name_from_path("crc7.ko");
        is_str(s, "crc7", "name from .ko");
        free(s);
        ok(module_name_valid("dm_mod") && module_name_valid("dm-mod"), "valid names");
        ok(!module_name_valid("") && !module_name_valid("dm mod") && !module_name_valid("../x"),
           "invalid names");
        is_str(module_lockdown_parse("none [integrity] confidentiality\n"), "integrity",
               "lockdown integrity");
        is_str(module_lockdown_parse("[none] integrity confidentiality\n"), "none", "lockdown none");
        ok(!module_lockdown_parse("integrity\n"), "no selection");
}

static void write_file(const char *path, const void *data, size_t size)
{
        FILE *f = fopen(path, "we");
        fwrite(data, 1, size, f);
        fclose(f);
}

static void test_whole_check(void)
{
        char root[] = "/tmp/kk-test-modcheck-XXXXXX";
        if (!ok(mkdtemp(root), "temp root"))
                return;
        char dir[512], path[600];
        snprintf(dir, sizeof dir, "%s/lib/modules/6.1.0-57-amd64/kernel", root);
        mkdir_p(dir, 0755);

        /* the release's own module imports module_layout and printk */
        static const TestVersion stock[] = {{"module_layout", 0x9060323f}, {"printk", 0x92997ed8}};
        TestModule t = {.modinfo = TEST_MODINFO,
                        .modinfo_size = sizeof(TEST_MODINFO) - 1,
                        .versions = stock,
                        .n_versions = 2,
                        .sig_len = 0};
        Buf b = test_module_build(&t);
        snprintf(path, sizeof path, "%s/kktest.ko", dir);
        write_file(path, b.data, b.size);
        free(b.data);
        static const char dep[] = "kernel/kktest.ko:\nkernel/dm-mod.ko:\nkernel/dm-bufio.ko:\n";
        snprintf(path, sizeof path, "%s/lib/modules/6.1.0-57-amd64/modules.dep", root);
        write_file(path, dep, sizeof(dep) - 1);

        /* the candidate: printk's CRC differs, and it imports a symbol nobody else does */
        static const TestVersion cand[] = {
            {"module_layout", 0x9060323f}, {"printk", 0x11111111}, {"kk_only", 1}};
        t.versions = cand;
        t.n_versions = 3;
        b = test_module_build(&t);
        snprintf(path, sizeof path, "%s/candidate.ko", root);
        write_file(path, b.data, b.size);
        free(b.data);

        ModuleInfo *m = NULL;
        ModuleTarget *target = NULL;
        ModuleReport *rep = NULL;
        is_int(module_info_load(path, &m), 0, "synthetic module loads through libkmod");
        is_str(m->name, "kktest", "name from .modinfo");
        is_int(m->n_versions, 3, "three versions through libkmod");
        ok(m->depends && streq(m->depends[0], "dm-mod") && streq(m->depends[1], "dm-bufio"),
           "depends split");
        is_int(module_target_load(root, "6.1.0-57-amd64", m->name, &target), 0, "target loads");
        is_str(target->vermagic, "6.1.0-57-amd64 SMP preempt mod_unload modversions ", "target vermagic");
        is_str(target->vermagic_from, "/lib/modules/6.1.0-57-amd64/kernel/kktest.ko",
               "read from the stock copy");
        is_int(module_check(m, target, &rep), 0, "check runs");
        ok(!rep->safe, "not safe");
        is_int(rep->n_mismatches, 1, "one mismatch");
        is_str(rep->mismatches[0].symbol, "printk", "printk named");
        is_int(rep->n_unverified, 1, "one unverified");
        is_str(rep->unverified[0], "kk_only", "kk_only unverified");
        ok(rep->findings[3].verdict == VERDICT_FAIL && streq(rep->findings[3].name, "crcs"), "crcs fail");
        ok(rep->findings[2].verdict == VERDICT_PASS, "vermagic passes");
        ok(rep->findings[4].verdict == VERDICT_PASS, "depends found in modules.dep");
        module_report_free(rep);
        module_target_free(target);
        module_info_free(m);

        ModuleTarget *x = NULL;
        is_int(module_target_load(root, "6.1.0-99-amd64", NULL, &x), -ENOENT, "unknown release");
        is_int(module_target_load(root, "../..", NULL, &x), -EINVAL, "a release is not a path");
        ok(!x, "nothing returned");

        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        ok(system(cmd) == 0, "cleanup");
}

int main(void)
{
        test_vermagic();
        test_symvers();
        test_modules_dep();
        test_names_and_lockdown();
        test_whole_check();
        return tap_done();
}

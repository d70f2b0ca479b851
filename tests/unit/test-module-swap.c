/* SPDX-License-Identifier: GPL-2.0-or-later */
/* swap_execute() against an in-memory kernel: every step of a three-module swap fails in turn,
 * and every time the kernel ends with exactly the modules and files it started with; a failure
 * while restoring is reported as such. Plus the /proc/modules and tar parsers. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/strv.h"
#include "modules/module-stage.h"
#include "modules/module-swap.h"
#include "tests/tap.h"

/* name -> the file it was loaded from; module "uses": dm_snapshot uses dm_bufio and dm_mod,
 * dm_bufio uses dm_mod */
typedef struct Kernel {
        char *file[3]; /* dm_snapshot, dm_bufio, dm_mod */
        unsigned calls, fail_at, fail_from; /* fail call number fail_at; and every call from fail_from */
        int fail_error;
} Kernel;

static const char *const names[3] = { "dm_snapshot", "dm_bufio", "dm_mod" };

static int idx(const char *name)
{
        for (int i = 0; i < 3; i++)
                if (streq(names[i], name))
                        return i;
        return -1;
}

static int fail_now(Kernel *k)
{
        k->calls++;
        if (k->calls == k->fail_at || (k->fail_from && k->calls >= k->fail_from))
                return k->fail_error;
        return 0;
}

static int fake_remove(const char *name, void *userdata)
{
        Kernel *k = userdata;
        int i = idx(name), r = fail_now(k);
        if (r)
                return r;
        if (i < 0 || !k->file[i])
                return -ENOENT;
        /* in use while a user is loaded */
        if ((i == 2 && (k->file[0] || k->file[1])) || (i == 1 && k->file[0]))
                return -EWOULDBLOCK;
        free(k->file[i]);
        k->file[i] = NULL;
        return 0;
}

static int fake_insert(const char *path, void *userdata)
{
        Kernel *k = userdata;
        const char *base = strrchr(path, '/') + 1;
        int i = strneq(base, "dm-snapshot", 11) ? 0 : strneq(base, "dm-bufio", 8) ? 1 : 2, r = fail_now(k);
        if (r)
                return r;
        if (k->file[i])
                return -EEXIST;
        if ((i == 0 && (!k->file[1] || !k->file[2])) || (i == 1 && !k->file[2]))
                return -ENOENT; /* unknown symbol */
        k->file[i] = strdup(path);
        return 0;
}

static SwapPlan *plan(void)
{
        SwapPlan *p = calloc(1, sizeof(SwapPlan));
        p->release = strdup("6.1.0-57-amd64");
        p->n_modules = 3;
        p->modules = calloc(3, sizeof(SwapModule));
        static const char *const orig[3] = { "/lib/dm-snapshot.ko", "/lib/dm-bufio.ko", "/lib/dm-mod.ko" };
        for (int i = 0; i < 3; i++) {
                p->modules[i].name = strdup(names[i]);
                p->modules[i].loaded = true;
                p->modules[i].original = strdup(orig[i]);
        }
        p->modules[2].replacement = strdup("/new/dm-mod.ko");
        return p;
}

static void kernel_start(Kernel *k)
{
        *k = (Kernel) { .file = { strdup("/lib/dm-snapshot.ko"), strdup("/lib/dm-bufio.ko"), strdup("/lib/dm-mod.ko") } };
}

static void kernel_done(Kernel *k)
{
        for (int i = 0; i < 3; i++)
                free(k->file[i]);
}

static bool kernel_is(const Kernel *k, const char *mod)
{
        return k->file[0] && streq(k->file[0], "/lib/dm-snapshot.ko") && k->file[1] &&
               streq(k->file[1], "/lib/dm-bufio.ko") && k->file[2] && streq(k->file[2], mod);
}

static void test_success(void)
{
        _cleanup_(swap_plan_freep) SwapPlan *p = plan();
        Kernel k;
        kernel_start(&k);
        ModuleOps ops = { fake_remove, fake_insert, &k };
        SwapResult res;
        is_int(swap_execute(p, &ops, &res), 0, "execute");
        is_int(res.outcome, SWAP_DONE, "swapped");
        ok(kernel_is(&k, "/new/dm-mod.ko"), "dm_mod is the new file, its users reinserted from theirs");
        is_int((int) strv_length(res.steps), 6, "six steps");
        is_str(res.steps[0], "remove dm_snapshot: ok", "users go first");
        is_str(res.steps[3], "insert /new/dm-mod.ko (new dm_mod): ok", "then the new module");
        swap_result_done(&res);
        kernel_done(&k);
}

static void test_every_step_fails(void)
{
        for (unsigned at = 1; at <= 6; at++) {
                _cleanup_(swap_plan_freep) SwapPlan *p = plan();
                Kernel k;
                kernel_start(&k);
                k.fail_at = at;
                k.fail_error = at == 4 ? -EKEYREJECTED : -EIO;
                ModuleOps ops = { fake_remove, fake_insert, &k };
                SwapResult res;
                ok(swap_execute(p, &ops, &res) == 0, "execute, step %u failing", at);
                ok(res.outcome == SWAP_RESTORED, "step %u failing: restored (%s)", at, swap_outcome_to_string(res.outcome));
                ok(res.error == k.fail_error, "step %u: its error is kept", at);
                ok(res.failed_step, "step %u: the failed step is named (%s)", at, res.failed_step);
                ok(kernel_is(&k, "/lib/dm-mod.ko"), "step %u failing: exactly the original modules are loaded", at);
                swap_result_done(&res);
                kernel_done(&k);
        }
}

static void test_restore_fails(void)
{
        _cleanup_(swap_plan_freep) SwapPlan *p = plan();
        Kernel k;
        kernel_start(&k);
        k.fail_from = 4; /* the new dm_mod and everything after */
        k.fail_error = -EIO;
        ModuleOps ops = { fake_remove, fake_insert, &k };
        SwapResult res;
        is_int(swap_execute(p, &ops, &res), 0, "execute");
        is_int(res.outcome, SWAP_RESTORE_FAILED, "restoring failed is reported");
        is_int(res.restore_error, -EIO, "with its error");
        ok(res.restore_failed_step && strstr(res.restore_failed_step, "/lib/dm-mod.ko"), "and its step (%s)",
           res.restore_failed_step);
        swap_result_done(&res);
        kernel_done(&k);
}

static void test_proc_modules(void)
{
        char **n = NULL;
        const char *text = "dm_snapshot 61440 0 - Live 0xffffffffc0a1d000\n"
                           "dm-bufio 49152 1 dm_snapshot, Live 0xffffffffc09f0000 (E)\n\n";
        is_int(module_proc_modules_parse(text, strlen(text), &n), 0, "parse /proc/modules");
        is_int((int) strv_length(n), 2, "two modules");
        is_str(n[1], "dm_bufio", "names normalized");
        strv_free(n);
        n = NULL;
        is_int(module_proc_modules_parse("dm_mod 1 0 -\n", 12, &n), -EBADMSG, "short line refused");
        is_int(module_proc_modules_parse("", 0, &n), 0, "empty");
        ok(n && !n[0], "no modules");
        strv_free(n);
}

static void test_stage(void)
{
        char src[] = "/tmp/kk-test-stage-XXXXXX", dst[] = "/tmp/kk-test-staged-XXXXXX", p[256];
        ok(mkdtemp(src) && mkdtemp(dst), "temp dirs");
        snprintf(p, sizeof p, "mkdir -p %s/a/b", src);
        ok(system(p) == 0, "tree");
        snprintf(p, sizeof p, "%s/a/b/dm-mod.ko.xz", src);
        FILE *f = fopen(p, "w");
        ok(f && fputs("xz", f) >= 0 && fclose(f) == 0, "a module file");
        snprintf(p, sizeof p, "%s/a/README", src);
        f = fopen(p, "w");
        ok(f && fputs("doc", f) >= 0 && fclose(f) == 0, "not a module file");
        snprintf(p, sizeof p, "%s/link.ko", src);
        ok(symlink("/etc/passwd", p) == 0, "a link named like a module");

        ModuleStage s = { .dir = strdup(dst) };
        is_int(module_stage_add_dir(&s, src), 0, "directory staged");
        is_int((int) s.n, 1, "one candidate: the README skipped, the link not followed");
        ModuleCandidate *c = module_stage_find(&s, "dm_mod");
        ok(c && streq(c->basename, "dm-mod.ko.xz") && module_stage_find_path(&s, c->path) == c, "found by name, path");
        ok(c && access(c->path, F_OK) == 0, "copied into the staging directory");
        is_int(module_stage_add(&s, "x/dm_mod.ko", "ko", 2), -ENOTUNIQ, "a second file for dm_mod refused");
        ok(s.duplicate && streq(s.duplicate, "dm_mod"), "the duplicate named");
        is_int(module_stage_add(&s, "notes.txt", "t", 1), 0, "other names ignored");
        is_int((int) s.n, 1, "still one");
        ok(module_file_name("a.ko.zst") && !module_file_name(".ko") && !module_file_name("a.ko.gz"), "module file names");
        module_stage_done(&s);
        ok(access(dst, F_OK) < 0, "staging directory removed");
        snprintf(p, sizeof p, "rm -rf %s", src);
        ok(system(p) == 0, "cleanup");
}

int main(void)
{
        test_stage();
        test_success();
        test_every_step_fails();
        test_restore_fails();
        test_proc_modules();
        return tap_done();
}

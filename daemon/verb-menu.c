/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "common/macro.h"
#include "common/strv.h"
#include "daemon/cli.h"
#include "daemon/log.h"
#include "daemon/menu-edit.h"
#include "daemon/menu-json.h"
#include "daemon/menu-load.h"
#include "daemon/menu-txn.h"
#include "daemon/state.h"

static int print_json(json_t *j)
{
        int r = cli_print_json(j);
        json_decref(j);
        return r;
}

static void print_entry_line(const char *label, const MenuEntry *e)
{
        printf("%-9s %d '%s'", label, e->index, e->title);
        if (e->kernel)
                printf(" (%s)", e->kernel);
        putchar('\n');
}

static int menu_show(Context *ctx)
{
        _cleanup_(loaded_menu_freep) LoadedMenu *lm = NULL;
        int r = menu_load(ctx, &lm);
        if (r < 0)
                return r;
        const MenuInfo *info = lm->info;
        /* read-only: an interrupted write is finished by the next writer, not here */
        if (menu_txn_pending(ctx) &&
            strv_push(&lm->info->warnings, "an interrupted kernelkeeper write is pending: the next kernelkeeper command or the daemon finishes it") < 0)
                return log_oom();
        if (ctx->json)
                return print_json(menu_info_to_json(info, lm->path, ctx->config.dialect));

        printf("menu:     %s (%s)\n", lm->path, ctx->config.dialect == MENU_DIALECT_PVGRUB ? "PV-GRUB" : "GRUB 0.97");
        if (info->default_entry >= 0)
                print_entry_line("default:", &info->entries[info->default_entry]);
        else
                printf("default:  none (no entries)\n");
        if (info->default_saved)
                printf("          (default saved: entry %d from %s)\n", info->saved_entry, lm->default_path);
        for (size_t i = 0; i < info->n_fallback; i++)
                print_entry_line(i == 0 ? "fallback:" : "", &info->entries[info->fallback[i]]);
        if (info->n_fallback == 0)
                printf("fallback: none\n");
        if (info->timeout >= 0)
                printf("timeout:  %d%s\n", info->timeout, info->hiddenmenu ? " (hidden menu)" : "");
        else
                printf("timeout:  none (waits for a key)\n");
        printf("\nentries:\n");
        for (size_t i = 0; i < info->n_entries; i++) {
                const MenuEntry *e = &info->entries[i];
                printf(" %c%2zu  %s\n", (int) i == info->default_entry ? '*' : ' ', i, e->title);
                if (e->kernel)
                        printf("       kernel %s%s%s\n", e->kernel, *e->args ? " " : "", e->args);
                if (e->initrd)
                        printf("       initrd %s\n", e->initrd);
        }
        if (info->warnings && info->warnings[0]) {
                printf("\nwarnings:\n");
                for (char **w = info->warnings; *w; w++)
                        printf("  %s\n", *w);
        }
        return EXIT_OK;
}

static int menu_check(Context *ctx)
{
        _cleanup_(loaded_menu_freep) LoadedMenu *lm = NULL;
        int r = menu_load(ctx, &lm);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **problems = NULL;
        r = menulst_boot_problems(lm->info, &lm->fs, &problems);
        if (r < 0)
                return log_oom();
        bool ok = !problems || !problems[0];
        if (ctx->json) {
                json_t *l = json_array();
                for (char **p = problems; p && *p; p++)
                        json_array_append_new(l, json_string(*p));
                print_json(json_pack("{s:b, s:o}", "ok", ok, "problems", l));
        } else
                for (char **p = problems; p && *p; p++)
                        printf("%s\n", *p);
        return ok ? EXIT_OK : EXIT_PROBLEM;
}

int verb_menu(Context *ctx, CliArgs *args)
{
        const char *what = args->words[1] ? args->words[1] : "show";
        if (streq(what, "add")) {
                if (cli_check_options(args, OPT_ENTRY | OPT_KERNEL | OPT_INITRD, "menu add") < 0)
                        return EXIT_USAGE;
                if (args->words[2]) {
                        log_error("'menu add' takes --title, --kernel, --initrd, --args, --root-device, --first");
                        return EXIT_USAGE;
                }
                NewEntry e = { .title = args->title, .kernel = args->kernel, .initrd = args->initrd,
                               .args = args->kargs, .root_device = args->root_device, .first = args->first };
                if (menu_check_new_entry(&e) < 0)
                        return EXIT_USAGE;
                _cleanup_close_ int lock = -EBADF;
                if (writers_begin(ctx, true, &lock) < 0)
                        return EXIT_PROBLEM;
                return menu_add_entry(ctx, &e) < 0 ? EXIT_PROBLEM : EXIT_OK;
        }
        if (cli_check_options(args, 0, "menu") < 0)
                return EXIT_USAGE;
        if (streq(what, "remove")) {
                if (!args->words[2] || args->words[3]) {
                        log_error("'menu remove' takes one selector");
                        return EXIT_USAGE;
                }
                _cleanup_close_ int lock = -EBADF;
                if (writers_begin(ctx, true, &lock) < 0)
                        return EXIT_PROBLEM;
                return menu_remove_entry(ctx, args->words[2]) < 0 ? EXIT_PROBLEM : EXIT_OK;
        }
        if (args->words[1] && args->words[2]) {
                log_error("'menu %s' takes no further arguments", what);
                return EXIT_USAGE;
        }
        if (streq(what, "show"))
                return menu_show(ctx);
        if (streq(what, "check"))
                return menu_check(ctx);
        log_error("Unknown 'menu' verb '%s': use show, check, add or remove", what);
        return EXIT_USAGE;
}

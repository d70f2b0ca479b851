/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "common/chase.h"
#include "common/macro.h"
#include "common/spawn.h"
#include "daemon/cli.h"
#include "daemon/kernel-install.h"
#include "daemon/kernel-trial.h"
#include "daemon/log.h"
#include "daemon/protect.h"
#include "daemon/state.h"

static int kernel_install_verb(Context *ctx, CliArgs *args)
{
        if (cli_check_options(args, OPT_INSTALL | OPT_INITRD | OPT_SHA256, "kernel install") < 0)
                return EXIT_USAGE;
        if (args->words[2]) {
                log_error("'kernel install' takes no arguments, only its options (see --help)");
                return EXIT_USAGE;
        }
        InstallRequest q = { .package = args->package, .deb = args->deb, .url = args->url, .sha256 = args->sha256,
                             .image = args->image, .initrd = args->initrd, .modules = args->modules,
                             .reinstall = args->reinstall };
        if (kernel_install_check_request(&q) < 0)
                return EXIT_USAGE;
        if (kernel_install(ctx, &q, NULL) < 0)
                return EXIT_PROBLEM;
        protect_update(ctx);
        return EXIT_OK;
}

int verb_kernel(Context *ctx, CliArgs *args)
{
        const char *what = args->words[1];
        if (what && streq(what, "install"))
                return kernel_install_verb(ctx, args);
        if (cli_check_options(args, 0, "kernel") < 0)
                return EXIT_USAGE;
        if (what && streq(what, "trial")) {
                if (!args->words[2] || args->words[3]) {
                        log_error("'kernel trial' takes one selector (title=, kernel=, release= or bare)");
                        return EXIT_USAGE;
                }
                if (kernel_trial_arm(ctx, args->words[2]) < 0)
                        return EXIT_PROBLEM;
                protect_update(ctx);
                return EXIT_OK;
        }
        if (what && (streq(what, "commit") || streq(what, "rollback"))) {
                if (args->words[2]) {
                        log_error("'kernel %s' takes no arguments", what);
                        return EXIT_USAGE;
                }
                int r = streq(what, "commit") ? kernel_trial_commit(ctx) : kernel_trial_rollback(ctx);
                if (r < 0)
                        return EXIT_PROBLEM;
                protect_update(ctx);
                return EXIT_OK;
        }
        if (what && streq(what, "check-remove")) {
                if (!args->words[2] || args->words[3]) {
                        log_error("'kernel check-remove' takes one kernel release");
                        return EXIT_USAGE;
                }
                return protect_check_removal(ctx, args->words[2]) < 0 ? EXIT_PROBLEM : EXIT_OK;
        }
        log_error("Unknown 'kernel' verb '%s': use install, trial, commit, rollback or check-remove", what ? what : "");
        return EXIT_USAGE;
}

/* The trial we are running failed: back to the known-good kernel now, through systemd when it runs */
static void reboot_now(void)
{
        char *const argv[] = { (char *) "systemctl", (char *) "reboot", NULL };
        if (spawn_run(argv, NULL, NULL) < 0)
                log_error("Cannot reboot into the known-good kernel (systemctl reboot failed); reboot by hand");
}

static int boots_show(Context *ctx)
{
        _cleanup_json_ json_t *state = NULL;
        int r = state_load(ctx, &state);
        if (r < 0)
                return r;
        json_t *boots = json_object_get(state, "boots"), *trial = json_object_get(state, "trial");
        if (ctx->json) {
                _cleanup_json_ json_t *out = json_pack("{s:o, s:O?}", "boots", boots ? json_incref(boots) : json_array(),
                                                       "trial", trial);
                return cli_print_json(out);
        }
        size_t i;
        json_t *b;
        printf("%-20s  %-36s  %-22s  %-5s  %-7s  %s\n", "TIME", "BOOT ID", "RELEASE", "TRIAL", "OUTCOME", "ENTRY / REASON");
        json_array_foreach(boots, i, b) {
                const char *reason = json_string_value(json_object_get(b, "reason"));
                const char *title = json_string_value(json_object_get(b, "title"));
                printf("%-20s  %-36s  %-22s  %-5s  %-7s  %s\n",
                       json_string_value(json_object_get(b, "time")) ?: "-",
                       json_string_value(json_object_get(b, "boot_id")) ?: "(never reached userspace)",
                       json_string_value(json_object_get(b, "release")) ?: "?",
                       json_is_true(json_object_get(b, "trial")) ? "yes" : "no",
                       json_string_value(json_object_get(b, "outcome")) ?: "unknown",
                       reason ? reason : title ? title : "");
        }
        return EXIT_OK;
}

int verb_boots(Context *ctx, CliArgs *args)
{
        if (cli_check_options(args, 0, "boots") < 0)
                return EXIT_USAGE;
        const char *what = args->words[1];
        if (!what || streq(what, "show")) {
                if (what && args->words[2]) {
                        log_error("'boots show' takes no arguments");
                        return EXIT_USAGE;
                }
                return boots_show(ctx);
        }
        if (streq(what, "health") && !args->words[2]) {
                bool healthy = false, reboot = false;
                if (boots_health(ctx, &healthy, &reboot) < 0)
                        return EXIT_PROBLEM;
                protect_update(ctx);
                if (reboot && root_is_host(ctx->root) && ctx->config.trial_reboot_on_failure)
                        reboot_now();
                return healthy ? EXIT_OK : EXIT_PROBLEM;
        }
        if (streq(what, "generate") && args->words[2] && !args->words[3])
                return boots_generate(ctx, args->words[2]) < 0 ? EXIT_PROBLEM : EXIT_OK;
        if (streq(what, "record") && !args->words[2]) {
                bool reboot = false;
                if (boots_record(ctx, &reboot) < 0)
                        return EXIT_PROBLEM;
                protect_update(ctx);
                /* never reboot a tree given with --root */
                if (reboot && root_is_host(ctx->root) && ctx->config.trial_reboot_on_failure)
                        reboot_now();
                return EXIT_OK;
        }
        log_error("Unknown 'boots' verb '%s': use show, record, health or generate DIR", what);
        return EXIT_USAGE;
}

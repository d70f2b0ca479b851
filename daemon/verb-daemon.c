/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "common/macro.h"
#include "daemon/cli.h"
#include "daemon/guardian.h"
#include "daemon/log.h"

int verb_daemon(Context *ctx, CliArgs *args)
{
        if (cli_check_options(args, OPT_FOREGROUND, "daemon") < 0)
                return EXIT_USAGE;
        if (args->words[1]) {
                log_error("'daemon' takes no arguments");
                return EXIT_USAGE;
        }
        if (args->foreground)
                log_force_stderr();
        return guardian_run(ctx) < 0 ? EXIT_PROBLEM : EXIT_OK;
}

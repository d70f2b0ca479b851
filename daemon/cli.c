/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <getopt.h>
#include <jansson.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "common/macro.h"
#include "common/strv.h"
#include "daemon/cli.h"
#include "daemon/log.h"

static const struct {
        const char *name;
        VerbFunc func;
        bool needs_config;
} verbs[] = {
        { "menu", verb_menu, true },
        { "pin", verb_pin, true },
        { "unpin", verb_unpin, true },
        { "status", verb_status, true },
        { "userdata", verb_userdata, true },
        { "daemon", verb_daemon, true },
        { "kernel", verb_kernel, true },
        { "boots", verb_boots, true },
        { "module", verb_module, true },
};

static void help(void)
{
        printf("kernelkeeper " PACKAGE_VERSION " - keeps a GRUB Legacy guest's kernels bootable\n\n"
               "Usage: kernelkeeper [OPTIONS] VERB [ARGS]\n\n"
               "Verbs:\n"
               "  menu show               what GRUB will boot, entries and hazards\n"
               "  menu check              exit 0 only if the default and fallbacks would load\n"
               "  menu add --title T --kernel PATH [--initrd PATH] [--args ARGS]\n"
               "           [--root-device (hdN,M)] [--first]\n"
               "                          add an entry; GRUB keeps booting what it booted\n"
               "  menu remove SEL         remove an entry (not the default or a fallback)\n"
               "  pin --default SEL [--fallback SEL]... [--no-fallback]\n"
               "                          make GRUB boot SEL (title=, kernel=, release= or bare)\n"
               "  pin --reapply           restore the recorded pin after a foreign rewrite\n"
               "  unpin                   forget the pin (menu.lst is left as it is)\n"
               "  status                  the pin, the last restore and whether the daemon runs\n"
               "  userdata run [--metadata-url URL]\n"
               "                          fetch the user data and run its scripts and directives\n"
               "  userdata show           the decoded parts and their runs (never their bodies)\n"
               "  daemon [--foreground]   watch menu.lst and restore the pin after foreign rewrites\n"
               "  kernel install --package NAME | --deb FILE | --url URL --sha256 HEX |\n"
               "           --image FILE [--initrd FILE] [--modules DIR|TAR]  [--reinstall]\n"
               "                          install a kernel and add its menu entry (the pin stays)\n"
               "  kernel trial SEL        boot SEL once; the pinned default is the known-good kernel\n"
               "  kernel commit           make the running trial kernel the pinned default\n"
               "  kernel rollback         end the trial; the known-good kernel stays the default\n"
               "  kernel check-remove REL exit 1 if REL is pinned or in a trial (kernel prerm hook)\n"
               "  boots [show]            the boot history and a trial in flight\n"
               "  boots record            record this boot and move a trial on (early boot unit)\n"
               "  boots health            run the health checks; commit or fail a trial's boot\n"
               "  module check FILE [--kernel RELEASE] [--cert FILE|auto]\n"
               "                          exit 0 only if the module would be safe to load on RELEASE\n"
               "  module swap NAME --from FILE|DIR|TAR [--sha256 HEX] [--persist] [--dry-run]\n"
               "                          replace a loaded module live; the originals back on failure\n"
               "  module status           the swapped modules and where they came from\n"
               "  module verify-persisted at boot: move persisted modules that fail check aside\n\n"
               "Options:\n"
               "  --root DIR              operate on the tree DIR instead of /\n"
               "  --config FILE           read FILE instead of ROOT/etc/kernelkeeper.conf\n"
               "  --json                  print state as JSON\n"
               "  --verbose               log debug messages\n"
               "  --help, --version\n\n"
               "See kernelkeeper(8).\n");
}

int cli_check_options(const CliArgs *a, unsigned allowed, const char *verb)
{
        static const char *const names[] = { "--default", "--fallback", "--no-fallback", "--reapply",
                                             "--metadata-url", "--foreground", "--title/--args/--root-device/--first",
                                             "--kernel", "--from/--persist/--dry-run", "--cert", "--initrd",
                                             "--package/--deb/--url/--image/--modules/--reinstall", "--sha256" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if ((a->seen & (1u << i)) && !(allowed & (1u << i))) {
                        log_error("'%s' does not take %s", verb, names[i]);
                        return -EINVAL;
                }
        return 0;
}

static bool json_printed;

int cli_print_json(json_t *j)
{
        _cleanup_free_ char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        if (!s)
                return log_oom();
        puts(s);
        json_printed = true;
        return EXIT_OK;
}

static void args_done(CliArgs *a)
{
        strv_free(a->words);
        strv_free(a->fallback_sels);
        free(a->default_sel);
        free(a->metadata_url);
        free(a->title);
        free(a->kernel);
        free(a->initrd);
        free(a->kargs);
        free(a->root_device);
        free(a->from);
        free(a->sha256);
        free(a->cert);
        free(a->package);
        free(a->deb);
        free(a->url);
        free(a->image);
        free(a->modules);
}

/* Parses the options and runs the verb; returns the exit code. *json tells whether --json was seen. */
static int parse_and_run(int argc, char **argv, bool *json)
{
        enum { ARG_ROOT = 0x100, ARG_CONFIG, ARG_JSON, ARG_VERBOSE, ARG_HELP, ARG_VERSION, ARG_DEFAULT,
               ARG_FALLBACK, ARG_NO_FALLBACK, ARG_REAPPLY, ARG_METADATA_URL, ARG_FOREGROUND,
               ARG_TITLE, ARG_KERNEL, ARG_INITRD, ARG_ARGS, ARG_ROOT_DEVICE, ARG_FIRST,
               ARG_FROM, ARG_SHA256, ARG_PERSIST, ARG_DRY_RUN, ARG_CERT,
               ARG_PACKAGE, ARG_DEB, ARG_URL, ARG_IMAGE, ARG_MODULES, ARG_REINSTALL };
        static const struct option options[] = {
                { "root", required_argument, NULL, ARG_ROOT },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "json", no_argument, NULL, ARG_JSON },
                { "verbose", no_argument, NULL, ARG_VERBOSE },
                { "help", no_argument, NULL, ARG_HELP },
                { "version", no_argument, NULL, ARG_VERSION },
                { "default", required_argument, NULL, ARG_DEFAULT },
                { "fallback", required_argument, NULL, ARG_FALLBACK },
                { "no-fallback", no_argument, NULL, ARG_NO_FALLBACK },
                { "reapply", no_argument, NULL, ARG_REAPPLY },
                { "metadata-url", required_argument, NULL, ARG_METADATA_URL },
                { "foreground", no_argument, NULL, ARG_FOREGROUND },
                { "title", required_argument, NULL, ARG_TITLE },
                { "kernel", required_argument, NULL, ARG_KERNEL },
                { "initrd", required_argument, NULL, ARG_INITRD },
                { "args", required_argument, NULL, ARG_ARGS },
                { "root-device", required_argument, NULL, ARG_ROOT_DEVICE },
                { "first", no_argument, NULL, ARG_FIRST },
                { "from", required_argument, NULL, ARG_FROM },
                { "sha256", required_argument, NULL, ARG_SHA256 },
                { "persist", no_argument, NULL, ARG_PERSIST },
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                { "cert", required_argument, NULL, ARG_CERT },
                { "package", required_argument, NULL, ARG_PACKAGE },
                { "deb", required_argument, NULL, ARG_DEB },
                { "url", required_argument, NULL, ARG_URL },
                { "image", required_argument, NULL, ARG_IMAGE },
                { "modules", required_argument, NULL, ARG_MODULES },
                { "reinstall", no_argument, NULL, ARG_REINSTALL },
                {}
        };

        Context ctx = { .root = "/" };
        _cleanup_(args_done) CliArgs a = {};
        uint64_t given = 0; /* options seen, by index in options[] */
        int c, r, idx;
        opterr = 0;
        while ((idx = -1, c = getopt_long(argc, argv, "h", options, &idx)) >= 0) {
                /* an option with a value keeps one value: a second one is refused, not silently
                 * preferred (--fallback is the list option) */
                if (idx >= 0 && options[idx].has_arg == required_argument && c != ARG_FALLBACK) {
                        if (given & (UINT64_C(1) << idx)) {
                                log_error("--%s may be given only once", options[idx].name);
                                return EXIT_USAGE;
                        }
                        given |= UINT64_C(1) << idx;
                }
                switch (c) {
                case ARG_ROOT:
                        ctx.root = optarg;
                        break;
                case ARG_CONFIG:
                        ctx.config_path = optarg;
                        break;
                case ARG_JSON:
                        ctx.json = *json = true;
                        break;
                case ARG_VERBOSE:
                        ctx.verbose = true;
                        log_set_max_level(LOG_DEBUG);
                        break;
                case 'h':
                case ARG_HELP:
                        help();
                        return EXIT_OK;
                case ARG_VERSION:
                        printf("kernelkeeper %s\n", PACKAGE_VERSION);
                        return EXIT_OK;
                case ARG_DEFAULT:
                        if (!(a.default_sel = strdup(optarg)))
                                return log_oom(), EXIT_PROBLEM;
                        a.seen |= OPT_DEFAULT;
                        break;
                case ARG_FALLBACK:
                        if (strv_push(&a.fallback_sels, optarg) < 0)
                                return log_oom(), EXIT_PROBLEM;
                        a.seen |= OPT_FALLBACK;
                        break;
                case ARG_NO_FALLBACK:
                        a.no_fallback = true;
                        a.seen |= OPT_NO_FALLBACK;
                        break;
                case ARG_REAPPLY:
                        a.reapply = true;
                        a.seen |= OPT_REAPPLY;
                        break;
                case ARG_METADATA_URL:
                        if (!(a.metadata_url = strdup(optarg)))
                                return log_oom(), EXIT_PROBLEM;
                        a.seen |= OPT_METADATA_URL;
                        break;
                case ARG_FOREGROUND:
                        a.foreground = true;
                        a.seen |= OPT_FOREGROUND;
                        break;
                case ARG_TITLE:
                case ARG_KERNEL:
                case ARG_INITRD:
                case ARG_ARGS:
                case ARG_ROOT_DEVICE: {
                        char **slot = c == ARG_TITLE    ? &a.title
                                      : c == ARG_KERNEL ? &a.kernel
                                      : c == ARG_INITRD ? &a.initrd
                                      : c == ARG_ARGS   ? &a.kargs
                                                        : &a.root_device;
                        if (!(*slot = strdup(optarg)))
                                return log_oom(), EXIT_PROBLEM;
                        a.seen |= c == ARG_KERNEL ? OPT_KERNEL : c == ARG_INITRD ? OPT_INITRD : OPT_ENTRY;
                        break;
                }
                case ARG_PACKAGE:
                case ARG_DEB:
                case ARG_URL:
                case ARG_IMAGE:
                case ARG_MODULES: {
                        char **slot = c == ARG_PACKAGE ? &a.package
                                      : c == ARG_DEB   ? &a.deb
                                      : c == ARG_URL   ? &a.url
                                      : c == ARG_IMAGE ? &a.image
                                                       : &a.modules;
                        if (!(*slot = strdup(optarg)))
                                return log_oom(), EXIT_PROBLEM;
                        a.seen |= OPT_INSTALL;
                        break;
                }
                case ARG_REINSTALL:
                        a.reinstall = true;
                        a.seen |= OPT_INSTALL;
                        break;
                case ARG_FIRST:
                        a.first = true;
                        a.seen |= OPT_ENTRY;
                        break;
                case ARG_FROM:
                case ARG_SHA256:
                        if (!(*(c == ARG_FROM ? &a.from : &a.sha256) = strdup(optarg)))
                                return log_oom(), EXIT_PROBLEM;
                        a.seen |= c == ARG_FROM ? OPT_SWAP : OPT_SHA256;
                        break;
                case ARG_CERT:
                        if (!(a.cert = strdup(optarg)))
                                return log_oom(), EXIT_PROBLEM;
                        a.seen |= OPT_CERT;
                        break;
                case ARG_PERSIST:
                case ARG_DRY_RUN:
                        *(c == ARG_PERSIST ? &a.persist : &a.dry_run) = true;
                        a.seen |= OPT_SWAP;
                        break;
                case '?':
                default:
                        /* --json later on the command line still asks for a JSON error */
                        for (int i = optind; i < argc && !streq(argv[i], "--"); i++)
                                *json = *json || streq(argv[i], "--json");
                        if (optopt)
                                log_error("Option '%s' needs an argument or is unknown (see --help)", argv[optind - 1]);
                        else
                                log_error("Unknown option '%s' (see --help)", argv[optind - 1]);
                        return EXIT_USAGE;
                }
        }
        for (int i = optind; i < argc; i++)
                if (strv_push(&a.words, argv[i]) < 0)
                        return log_oom(), EXIT_PROBLEM;
        if (!a.words) {
                if (ctx.json)
                        log_error("No verb given (see --help)");
                else
                        help();
                return EXIT_USAGE;
        }
        if (ctx.root[0] != '/') {
                log_error("--root needs an absolute path, not '%s'", ctx.root);
                return EXIT_USAGE;
        }
        struct stat st;
        if (stat(ctx.root, &st) >= 0 && !S_ISDIR(st.st_mode)) {
                log_error("--root %s is not a directory", ctx.root);
                return EXIT_USAGE;
        }

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (!streq(verbs[i].name, a.words[0]))
                        continue;
                config_init(&ctx.config);
                if (verbs[i].needs_config) {
                        _cleanup_free_ char *err = NULL;
                        r = config_load(&ctx.config, ctx.root, ctx.config_path, &err);
                        if (r < 0) {
                                if (err)
                                        log_error("%s", err);
                                else
                                        log_error_errno(r, "Cannot load the configuration: %m");
                                config_done(&ctx.config);
                                return EXIT_USAGE;
                        }
                }
                r = verbs[i].func(&ctx, &a);
                config_done(&ctx.config);
                /* verbs return an exit code, or a negative errno after logging it */
                return r < 0 ? EXIT_PROBLEM : r;
        }
        log_error("Unknown verb '%s' (see --help)", a.words[0]);
        return EXIT_USAGE;
}

int cli_run(int argc, char **argv)
{
        log_setup();
        bool json = false;
        int r = parse_and_run(argc, argv, &json);
        /* fleet tools parse stdout: a failed --json command still prints one JSON object */
        if (json && r != EXIT_OK && !json_printed) {
                const char *e = log_last_error();
                _cleanup_(json_decrefp) json_t *j = json_pack("{s:s, s:i}", "error", e ? e : "failed", "exit", r);
                (void) cli_print_json(j);
        }
        return r;
}

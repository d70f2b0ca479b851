/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/chase.h"
#include "common/fileio.h"
#include "common/macro.h"
#include "daemon/cli.h"
#include "daemon/kernel-install.h"
#include "daemon/log.h"
#include "daemon/module-swap.h"
#include "daemon/pin.h"
#include "daemon/state.h"
#include "daemon/userdata.h"
#include "metadata/imds.h"

static void imds_log(int priority, const char *message, void *userdata)
{
        log_full_errno(priority, 0, "%s", message);
}

/* One runner at a time: a second one would take the first one's "started" markers for crashes. The
 * lock lives in /run, so a reboot clears it; flock() is released when a runner dies. */
static int take_lock(const Context *ctx, int *ret_fd)
{
        _cleanup_free_ char *dir = NULL, *path = NULL;
        int r = mkdir_in_root(ctx->root, "/run/kernelkeeper", 0700, &dir);
        if (r < 0) {
                _cleanup_free_ char *joined = path_join_root(ctx->root, "/run/kernelkeeper");
                return log_error_errno(r, "Cannot create %s: %m", joined ? joined : "/run/kernelkeeper");
        }
        if (asprintf(&path, "%s/userdata.lock", dir) < 0)
                return log_oom();
        _cleanup_close_ int fd =
                open_in_root(ctx->root, "/run/kernelkeeper/userdata.lock", CHASE_NOFOLLOW_LAST, O_RDWR | O_CREAT,
                             0600, NULL);
        if (fd < 0)
                return log_file_error(fd, "open", path);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno == EWOULDBLOCK)
                        return log_error_errno(EBUSY, "Another 'kernelkeeper userdata run' is in progress");
                return log_error_errno(errno, "Cannot lock %s: %m", path);
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static bool exists_in_tree(const Context *ctx, const char *path)
{
        _cleanup_free_ char *p = NULL;
        return chase_in_root(ctx->root, path, 0, &p) >= 0;
}

/* cloud-init counts as enabled when its binary is there and neither of its documented switches
 * (/etc/cloud/cloud-init.disabled, cloud-init=disabled on the kernel command line) turns it off. */
static bool cloud_init_enabled(const Context *ctx)
{
        if (!exists_in_tree(ctx, "/usr/bin/cloud-init") || exists_in_tree(ctx, "/etc/cloud/cloud-init.disabled"))
                return false;
        _cleanup_free_ char *cmdline = NULL;
        if (read_full_file_in_root(ctx->root, "/proc/cmdline", 0, 64 * 1024, &cmdline, NULL) >= 0 &&
            strstr(cmdline, "cloud-init=disabled"))
                return false;
        return true;
}

static void short_hash(const UserDataPart *p, char ret[13])
{
        memcpy(ret, p->sha256, 12);
        ret[12] = 0;
}

static void event(const UserDataPart *p, const char *instance_id, const char *status, const ScriptOutcome *o,
                  const char *fmt_summary)
{
        _cleanup_free_ char *f_part = NULL, *f_hash = NULL, *f_freq = NULL, *f_status = NULL, *f_iid = NULL,
                            *f_exit = NULL;
        const char *fields[8] = {};
        size_t n = 0;
        if (asprintf(&f_part, "KK_USERDATA_PART=%u", p->index) >= 0)
                fields[n++] = f_part;
        if (asprintf(&f_hash, "KK_USERDATA_SHA256=%s", p->sha256) >= 0)
                fields[n++] = f_hash;
        if (asprintf(&f_freq, "KK_USERDATA_FREQUENCY=%s", userdata_frequency_to_string(p->frequency)) >= 0)
                fields[n++] = f_freq;
        if (asprintf(&f_status, "KK_USERDATA_STATUS=%s", status) >= 0)
                fields[n++] = f_status;
        if (asprintf(&f_iid, "KK_INSTANCE_ID=%s", instance_id) >= 0)
                fields[n++] = f_iid;
        if (o && !o->signal && asprintf(&f_exit, "KK_EXIT_STATUS=%d", o->exit_status) >= 0)
                fields[n++] = f_exit;
        char h[13];
        short_hash(p, h);
        log_event(strcmp(status, "success") == 0 ? LOG_INFO : LOG_WARNING, KK_MESSAGE_USERDATA_RAN, fields,
                  "User-data part %u (%s, %s, sha256 %s) %s", p->index, p->content_type,
                  userdata_frequency_to_string(p->frequency), h, fmt_summary);
}

static int run_script(const Context *ctx, const UserDataPart *p, const char *instance_id, const char *scope,
                      unsigned attempt, const char **ret_status)
{
        _cleanup_close_ int log_fd = -EBADF;
        _cleanup_free_ char *log_path = NULL, *shown_log = NULL;
        int r = userdata_log_open(ctx, instance_id, p->index, &log_fd, &log_path);
        if (r < 0)
                return log_error_errno(r, "Cannot open the log of user-data part %u under %s: %s", p->index,
                                       ctx->config.log_dir,
                                       r == -EINVAL ? "not a regular file" : strerror(-r));
        if (asprintf(&shown_log, "%s/userdata-%s-%u.log", ctx->config.log_dir, instance_id, p->index) < 0)
                return log_oom();
        if ((r = userdata_record_started(ctx, p, scope, attempt, shown_log)) < 0)
                return r;

        _cleanup_free_ char *now = now_iso8601();
        dprintf(log_fd, "== kernelkeeper: part %u (%s, %s, sha256 %s), attempt %u, started %s\n", p->index,
                p->content_type, userdata_frequency_to_string(p->frequency), p->sha256, attempt, now ? now : "");
        _cleanup_free_ char *script_path = NULL;
        r = userdata_script_copy(ctx, instance_id, p, &script_path);
        if (r < 0) {
                log_error_errno(r, "Cannot write user-data part %u to %s/%s: %m", p->index, USERDATA_SCRIPT_DIR,
                                instance_id);
                *ret_status = "failed";
                (void) userdata_record_finished(ctx, p, scope, "failed", NULL, "could not be started");
                return 0;
        }
        ScriptRun run = {
                .part = p,
                .script_path = script_path,
                .instance_id = instance_id,
                .cwd = ctx->root,
                .timeout_sec = ctx->config.script_timeout_sec,
                .log_fd = log_fd,
                .to_journal = log_to_journal(), /* where our own messages go */
        };
        ScriptOutcome o;
        r = userdata_script_exec(&run, &o);
        (void) unlink(script_path);
        if (r < 0) {
                log_error_errno(r, "Cannot run user-data part %u: %m", p->index);
                *ret_status = "failed";
                (void) userdata_record_finished(ctx, p, scope, "failed", NULL, "could not be started");
                return 0;
        }
        const char *status = o.timed_out ? "timeout" : (!o.signal && o.exit_status == 0) ? "success" : "failed";
        _cleanup_free_ char *summary = NULL;
        if (o.timed_out)
                r = asprintf(&summary, "timed out after %u s (process group killed)", run.timeout_sec);
        else if (o.signal)
                r = asprintf(&summary, "was killed by signal %d after %lld ms", o.signal, o.duration_msec);
        else
                r = asprintf(&summary, "exited with status %d after %lld ms", o.exit_status, o.duration_msec);
        if (r < 0)
                return log_oom();
        dprintf(log_fd, "== kernelkeeper: part %u %s\n", p->index, summary);
        if ((r = userdata_record_finished(ctx, p, scope, status, &o, NULL)) < 0)
                return r;
        _cleanup_free_ char *with_log = NULL;
        if (asprintf(&with_log, "%s; output in %s", summary, shown_log) < 0)
                return log_oom();
        event(p, instance_id, status, &o, with_log);
        *ret_status = status;
        return 0;
}

static int apply_directive(const Context *ctx, const UserDataPart *p, const char *instance_id, const char *scope,
                           unsigned attempt, const char **ret_status)
{
        int r = userdata_record_started(ctx, p, scope, attempt, NULL);
        if (r < 0)
                return r;
        const Directive *d = p->directive;
        Pin pin = { .default_sel = d->pin_default, .fallback_sels = d->pin_fallback };
        PinOutcome outcome = PIN_HELD;
        _cleanup_free_ char *summary = NULL, *problem = NULL, *kernel_done = NULL;
        /* the selectors are user data: problems with them come back unlogged and unquoted, and are
         * reported below under the part's name; other errors (menu.lst, state) are logged there */
        r = d->pin_default ? pin_set(ctx, &pin, &outcome, &summary, &problem) : 0;
        _cleanup_json_ json_t *modules = NULL;
        if (r >= 0 && d->n_module_swaps > 0 &&
            (r = module_swap_directive(ctx, d->module_swaps, d->n_module_swaps, &modules, &problem)) > 0)
                r = -EIO; /* a swap failed: said in problem */
        /* "kernel": install (and trial) after the pin, which names the known-good kernel */
        if (r >= 0 && d->kernel && (r = kernel_directive_apply(ctx, d->kernel, &kernel_done)) < 0 && !problem)
                problem = strdup("its kernel install or trial failed (see the error above)");
        const char *status = r < 0 ? "failed" : "success";
        _cleanup_free_ char *msg = NULL, *note = NULL;
        int k;
        if (r >= 0)
                k = asprintf(&msg, "applied its %s%s%s%s%s%s%s", d->pin_default ? "pin (" : "",
                             !d->pin_default                      ? ""
                             : outcome == PIN_RESTORED && summary ? summary
                                                                  : "menu.lst already boots the pinned entries",
                             d->pin_default ? ")" : "", d->pin_default && (modules || kernel_done) ? " and " : "",
                             modules ? "module swaps (every module swapped)" : "", modules && kernel_done ? " and " : "",
                             kernel_done ?: "");
        else {
                const char *why = problem ? problem : "it could not be applied (see the error above)";
                char h[13];
                short_hash(p, h);
                k = asprintf(&msg, "failed: %s", why);
                if (k >= 0)
                        k = asprintf(&note, "part %u (%s, sha256 %s): %s", p->index, p->content_type, h, why);
        }
        if (k < 0)
                return log_oom();
        if ((r = userdata_record_finished(ctx, p, scope, status, NULL, note)) < 0 ||
            (modules && (r = userdata_record_attach(ctx, p, "modules", TAKE_PTR(modules))) < 0))
                return r;
        event(p, instance_id, status, NULL, msg);
        *ret_status = status;
        /* recorded first: the trial's boot does not run this part again */
        if (r >= 0 && d->kernel && d->kernel->reboot)
                kernel_directive_reboot(ctx);
        return 0;
}

static void skip_unrunnable(const Context *ctx, const UserDataPart *p, bool cloud_init)
{
        if (p->kind == USERDATA_CLOUD_CONFIG && ctx->config.handoff_cloud_config && cloud_init)
                log_info("User-data part %u (%s, %zu bytes) left to cloud-init, which reads the user data itself",
                         p->index, p->content_type, p->size);
        else if (p->kind == USERDATA_CLOUD_CONFIG)
                log_info("User-data part %u (%s, %zu bytes) skipped: %s", p->index, p->content_type, p->size,
                         ctx->config.handoff_cloud_config ? "cloud-init is not installed or is disabled"
                                                          : "HandOffCloudConfig=no");
        else
                log_info("User-data part %u (%s, %zu bytes) skipped: not a type kernelkeeper runs", p->index,
                         p->content_type, p->size);
}

/* Runs the parts in order. Returns the number of parts that failed. */
static int run_parts(const Context *ctx, const UserData *u, const char *instance_id, const char *boot_id)
{
        _cleanup_json_ json_t *state = NULL;
        int r = state_load(ctx, &state);
        if (r < 0)
                return r;
        bool cloud_init = cloud_init_enabled(ctx), warned = false;
        int failed = 0;
        for (size_t i = 0; i < u->n_parts; i++) {
                const UserDataPart *p = &u->parts[i];
                if (p->kind != USERDATA_SCRIPT && p->kind != USERDATA_DIRECTIVE) {
                        skip_unrunnable(ctx, p, cloud_init);
                        continue;
                }
                if (p->kind == USERDATA_SCRIPT && cloud_init && !warned) {
                        log_warning("cloud-init is enabled here and runs user-data scripts as well; disable one of "
                                    "the two (/etc/cloud/cloud-init.disabled) or scripts run twice");
                        warned = true;
                }
                const char *scope = userdata_scope(p->frequency, instance_id, boot_id);
                unsigned attempt;
                RunDecision d = userdata_decide(state, p, scope, &attempt);
                if (d == RUN_SKIP) {
                        log_debug("User-data part %u already ran (%s, scope %s)", p->index,
                                  userdata_frequency_to_string(p->frequency), scope);
                        continue;
                }
                if (d == RUN_GIVE_UP) {
                        log_error("User-data part %u was cut off %u times by a crash or reboot; marked failed, not "
                                  "run again",
                                  p->index, attempt);
                        if ((r = userdata_record_finished(ctx, p, scope, "failed", NULL,
                                                          "cut off twice by a crash or reboot")) < 0)
                                return r;
                        event(p, instance_id, "failed", NULL, "was cut off twice and is not run again");
                        failed++;
                        continue;
                }
                if (failed > 0 && ctx->config.stop_on_failure) {
                        log_notice("User-data part %u not run: an earlier part failed and StopOnFailure=yes", p->index);
                        if ((r = userdata_record_finished(ctx, p, scope, "skipped", NULL,
                                                          "an earlier part failed and StopOnFailure=yes")) < 0)
                                return r;
                        continue;
                }
                if (d == RUN_AGAIN)
                        log_notice("User-data part %u was cut off by a crash or reboot; running it once more (attempt "
                                   "%u)",
                                   p->index, attempt);
                const char *status = NULL;
                r = p->kind == USERDATA_SCRIPT ? run_script(ctx, p, instance_id, scope, attempt, &status)
                                               : apply_directive(ctx, p, instance_id, scope, attempt, &status);
                if (r < 0)
                        return r;
                if (!streq(status, "success"))
                        failed++;
        }
        return failed;
}

static int userdata_run(Context *ctx, CliArgs *args)
{
        const char *url = args->metadata_url ? args->metadata_url : ctx->config.metadata_url;
        if (imds_url_check(url) < 0) {
                log_error("Metadata URL '%s' is not http:// with a literal IP address (and optional port)", url);
                return EXIT_USAGE;
        }
        _cleanup_close_ int lock_fd = -EBADF;
        int r = take_lock(ctx, &lock_fd);
        if (r < 0)
                return r;
        /* a closed journal stream must not kill the runner mid-record */
        signal(SIGPIPE, SIG_IGN);

        _cleanup_free_ char *boot_id = NULL;
        if ((r = userdata_boot_id(ctx, &boot_id)) < 0)
                return log_error_errno(r, "Cannot read the boot id: %m");

        ImdsOptions o = {
                .url = url,
                .token_ttl_sec = ctx->config.token_ttl_sec,
                .timeout_sec = ctx->config.metadata_timeout_sec,
                .request_timeout_msec = ctx->config.metadata_request_timeout_msec,
                .allow_v1 = ctx->config.allow_imdsv1,
                .log_fn = imds_log,
        };
        _cleanup_(imds_freep) ImdsClient *imds = NULL;
        r = imds_new(&o, &imds);
        if (r == -ENOENT || r == -ELIBBAD)
                return log_error_errno(r, "Cannot load libcurl.so.4 (install libcurl4): the metadata service is out of reach");
        if (r < 0)
                return log_error_errno(r, "Cannot set up the metadata client (TokenTTLSec= must be 1..21600): %m");

        _cleanup_free_ char *instance_id = NULL, *data = NULL, *error = NULL;
        if ((r = imds_instance_id(imds, &instance_id)) < 0)
                return log_error_errno(r, "Cannot read the instance id from %s: %s", url, imds_last_error(imds));
        _cleanup_json_ json_t *identity = NULL;
        if ((r = imds_identity_document(imds, &identity)) < 0)
                log_warning_errno(r, "No instance-identity document from %s (%s); going on without it", url,
                                  imds_last_error(imds));
        size_t size;
        r = imds_user_data(imds, &data, &size);
        if (r == -EFBIG) {
                log_error("The user data is larger than %u bytes; refusing it", IMDS_USER_DATA_MAX);
                (void) userdata_record_fetch(ctx, instance_id, boot_id, identity, NULL, "user data too large");
                return EXIT_PROBLEM;
        }
        if (r < 0)
                return log_error_errno(r, "Cannot read the user data from %s: %s", url, imds_last_error(imds));
        log_debug("Metadata read with %u requests", imds_requests(imds));
        if (!data) {
                log_info("No user data for instance %s", instance_id);
                return userdata_record_fetch(ctx, instance_id, boot_id, identity, NULL, NULL) < 0 ? EXIT_PROBLEM
                                                                                                 : EXIT_OK;
        }

        _cleanup_(userdata_freep) UserData *u = NULL;
        r = userdata_decode(data, size, &u, &error);
        explicit_bzero(data, size);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                log_error("Refusing the user data (%zu bytes), nothing of it is run: %s", size,
                          error ? error : "cannot decode it");
                (void) userdata_record_fetch(ctx, instance_id, boot_id, identity, NULL, error);
                return EXIT_PROBLEM;
        }
        if ((r = userdata_record_fetch(ctx, instance_id, boot_id, identity, u, NULL)) < 0)
                return r;
        if (u->n_parts == 0) {
                log_info("The user data is empty");
                return EXIT_OK;
        }
        int failed = run_parts(ctx, u, instance_id, boot_id);
        if (failed < 0)
                return failed;
        if (failed > 0) {
                log_error("%d user-data part(s) failed; see 'kernelkeeper userdata show'", failed);
                return EXIT_PROBLEM;
        }
        return EXIT_OK;
}

static const char *run_summary(json_t *run, char *buf, size_t size)
{
        const char *status = json_string_value(json_object_get(run, "status"));
        if (!status)
                return "not run";
        json_t *exit_status = json_object_get(run, "exit_status"), *sig = json_object_get(run, "signal");
        const char *when = json_string_value(json_object_get(run, "ended"));
        if (!when)
                when = json_string_value(json_object_get(run, "started"));
        char detail[48] = "";
        if (json_is_integer(exit_status))
                snprintf(detail, sizeof detail, " (exit %lld)", (long long) json_integer_value(exit_status));
        else if (json_is_integer(sig))
                snprintf(detail, sizeof detail, " (signal %lld)", (long long) json_integer_value(sig));
        snprintf(buf, size, "%s%s at %s, attempt %lld, scope %s", status, detail, when ? when : "?",
                 (long long) json_integer_value(json_object_get(run, "attempts")),
                 json_string_value(json_object_get(run, "scope")) ?: "?");
        return buf;
}

static int userdata_show(Context *ctx)
{
        _cleanup_json_ json_t *state = NULL;
        int r = state_load(ctx, &state);
        if (r < 0)
                return r;
        json_t *ud = json_object_get(state, "userdata"), *runs = json_object_get(ud, "runs"),
               *parts = json_object_get(ud, "parts");
        if (ctx->json) {
                _cleanup_json_ json_t *out = json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?, s:[]}", "instance_id",
                                                       json_object_get(ud, "instance_id"), "boot_id",
                                                       json_object_get(ud, "boot_id"), "fetched_at",
                                                       json_object_get(ud, "fetched_at"), "identity",
                                                       json_object_get(ud, "identity"), "error",
                                                       json_object_get(ud, "error"), "parts");
                if (!out)
                        return log_oom();
                json_t *list = json_object_get(out, "parts"), *p;
                size_t i;
                json_array_foreach(parts, i, p) {
                        json_t *copy = json_deep_copy(p);
                        json_t *run = json_object_get(runs, json_string_value(json_object_get(p, "sha256")));
                        if (!copy || (run && json_object_set(copy, "run", run) < 0) ||
                            json_array_append_new(list, copy) < 0)
                                return log_oom();
                }
                return cli_print_json(out);
        }
        if (!ud) {
                printf("No user data fetched yet (run 'kernelkeeper userdata run').\n");
                return EXIT_OK;
        }
        json_t *identity = json_object_get(ud, "identity");
        printf("instance:  %s", json_string_value(json_object_get(ud, "instance_id")) ?: "?");
        const char *region = json_string_value(json_object_get(identity, "region")),
                   *image = json_string_value(json_object_get(identity, "imageId"));
        if (region || image)
                printf(" (region %s, image %s)", region ?: "?", image ?: "?");
        printf("\nboot:      %s\nfetched:   %s\n", json_string_value(json_object_get(ud, "boot_id")) ?: "?",
               json_string_value(json_object_get(ud, "fetched_at")) ?: "?");
        const char *error = json_string_value(json_object_get(ud, "error"));
        if (error)
                printf("refused:   %s\n", error);
        if (json_array_size(parts) == 0) {
                printf("parts:     none\n");
                return EXIT_OK;
        }
        json_t *p;
        size_t i;
        json_array_foreach(parts, i, p) {
                const char *hash = json_string_value(json_object_get(p, "sha256"));
                char buf[256];
                json_t *run = json_object_get(runs, hash ?: "");
                printf("part %lld:   %s %s, %s, %lld bytes, sha256 %.12s\n           %s\n",
                       (long long) json_integer_value(json_object_get(p, "index")),
                       json_string_value(json_object_get(p, "kind")) ?: "?",
                       json_string_value(json_object_get(p, "type")) ?: "?",
                       json_string_value(json_object_get(p, "frequency")) ?: "?",
                       (long long) json_integer_value(json_object_get(p, "size")), hash ?: "?",
                       run_summary(run, buf, sizeof buf));
                const char *note = json_string_value(json_object_get(run, "note"));
                if (note)
                        printf("           %s\n", note);
        }
        return EXIT_OK;
}

int verb_userdata(Context *ctx, CliArgs *args)
{
        const char *what = args->words[1];
        if (what && streq(what, "run") && !args->words[2]) {
                if (cli_check_options(args, OPT_METADATA_URL, "userdata run") < 0)
                        return EXIT_USAGE;
                return userdata_run(ctx, args);
        }
        if (what && streq(what, "show") && !args->words[2]) {
                if (cli_check_options(args, 0, "userdata show") < 0)
                        return EXIT_USAGE;
                return userdata_show(ctx);
        }
        log_error("Usage: kernelkeeper userdata run [--metadata-url URL] | userdata show [--json]");
        return EXIT_USAGE;
}

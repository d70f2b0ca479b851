/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `module check FILE [--kernel RELEASE] [--json]`: the findings of modules/module-check.h, one line
 * each, exit 0 only if the module would be safe to load. */
#include <jansson.h>
#include <string.h>
#include <sys/utsname.h>

#include "common/chase.h"
#include "common/fileio.h"
#include "common/macro.h"
#include "daemon/cli.h"
#include "daemon/log.h"
#include "daemon/module-swap.h"
#include "daemon/state.h"
#include "modules/module-check.h"

int log_module_error(int r, const char *path)
{
        switch (-r) {
        case ENOEXEC:
                return log_error_errno(
                    r, "%s is not a kernel module: not an ELF file (nor an xz or zstd compressed one)",
                    path);
        case EBADMSG:
                return log_error_errno(
                    r, "%s is truncated or corrupt: its ELF structure or signature trailer is damaged",
                    path);
        case EMEDIUMTYPE:
                return log_error_errno(
                    r, "%s is an ELF file but not a kernel module (not relocatable, or no .modinfo)", path);
        case EFBIG:
                return log_error_errno(r, "%s is too large for a kernel module", path);
        default:
                return log_error_errno(r, "Cannot read module %s: %m", path);
        }
}

static json_t *strv_to_json(char *const *l)
{
        json_t *a = json_array();
        for (char *const *i = l; a && i && *i; i++)
                json_array_append_new(a, json_string(*i));
        return a;
}

static json_t *finding_details(const ModuleFinding *f, const ModuleInfo *m, const ModuleTarget *t,
                               const ModuleReport *rep)
{
        json_t *o = json_pack("{s:s, s:s, s:s}", "name", f->name, "verdict", verdict_to_string(f->verdict),
                              "message", f->message);
        if (!o)
                return NULL;
        if (streq(f->name, "elf")) {
                json_object_set_new(o, "class", json_integer(m->elf.elf_class == 2 ? 64 : 32));
                const char *mach = module_elf_machine_to_string(m->elf.machine);
                json_object_set_new(o, "machine", mach ? json_string(mach) : json_integer(m->elf.machine));
                json_object_set_new(o, "compression",
                                    json_string(module_compression_to_string(m->compression)));
        } else if (streq(f->name, "name")) {
                json_object_set_new(o, "module", m->name ? json_string(m->name) : json_null());
        } else if (streq(f->name, "vermagic")) {
                json_object_set_new(o, "module", m->vermagic ? json_string(m->vermagic) : json_null());
                json_object_set_new(o, "target", json_string(t->vermagic));
                json_object_set_new(o, "target_from", json_string(t->vermagic_from));
                json_object_set_new(o, "release_differs", json_boolean(rep->vermagic.release_differs));
                json_object_set_new(o, "flags_missing", strv_to_json(rep->vermagic.flags_missing));
                json_object_set_new(o, "flags_extra", strv_to_json(rep->vermagic.flags_extra));
        } else if (streq(f->name, "crcs")) {
                json_t *mis = json_array(), *unv = json_array(), *src = json_object();
                for (size_t i = 0; i < rep->n_mismatches; i++) {
                        const CrcMismatch *x = &rep->mismatches[i];
                        char a[16], b[16];
                        snprintf(a, sizeof a, "0x%08x", x->module_crc);
                        snprintf(b, sizeof b, "0x%08x", x->target_crc);
                        json_array_append_new(mis, json_pack("{s:s, s:s, s:s, s:s, s:s}", "symbol",
                                                             x->symbol, "module", a, "target", b, "source",
                                                             crc_source_to_string(x->target->source), "from",
                                                             x->target->from));
                }
                for (size_t i = 0; i < rep->n_unverified; i++)
                        json_array_append_new(unv, json_string(rep->unverified[i]));
                for (CrcSource s = CRC_SOURCE_MODULES; s <= CRC_SOURCE_MODULE_SYMVERS; s++)
                        json_object_set_new(src, crc_source_to_string(s),
                                            json_integer((json_int_t) rep->n_by_source[s]));
                json_object_set_new(o, "symbols", json_integer((json_int_t) m->n_versions));
                json_object_set_new(o, "mismatches", mis);
                json_object_set_new(o, "unverified", unv);
                json_object_set_new(o, "sources", src);
        } else if (streq(f->name, "depends")) {
                json_object_set_new(o, "required", strv_to_json(m->depends));
                json_object_set_new(o, "missing", strv_to_json(rep->depends_missing));
        } else if (streq(f->name, "signature")) {
                json_object_set_new(o, "signed", json_boolean(m->signed_));
                json_object_set_new(o, "signer", m->signer ? json_string(m->signer) : json_null());
                json_object_set_new(o, "hash_algorithm",
                                    m->sig_hashalgo ? json_string(m->sig_hashalgo) : json_null());
                json_object_set_new(o, "key", m->sig_key ? json_string(m->sig_key) : json_null());
                json_object_set_new(o, "key_foreign", json_boolean(rep->sig_key_foreign));
                static const char *const verification[] = { "not checked", "good", "bad", "no matching certificate" };
                json_object_set_new(o, "verified", json_boolean(rep->sig_verdict == MODULE_SIG_GOOD));
                json_object_set_new(o, "verification", json_string(verification[rep->sig_verdict]));
                json_object_set_new(o, "verified_by",
                                    rep->sig_verified_by ? json_string(rep->sig_verified_by) : json_null());
                json_object_set_new(o, "enforced", json_boolean(rep->sig_enforced));
                json_object_set_new(o, "enforced_by",
                                    rep->sig_enforced_by ? json_string(rep->sig_enforced_by) : json_null());
        }
        return o;
}

static int print_json(const char *path, const ModuleInfo *m, const ModuleTarget *t, const ModuleReport *rep)
{
        _cleanup_json_ json_t *findings = json_array();
        for (size_t i = 0; findings && i < rep->n_findings; i++)
                if (json_array_append_new(findings, finding_details(&rep->findings[i], m, t, rep)) < 0)
                        return log_oom();
        _cleanup_json_ json_t *out =
            findings ? json_pack("{s:s, s:s?, s:s, s:b, s:O}", "file", path, "module", m->name, "release",
                                 t->release, "safe", rep->safe, "findings", findings)
                     : NULL;
        return cli_print_json(out); /* NULL: out of memory */
}

void module_findings_print(const ModuleReport *rep)
{
        for (size_t i = 0; i < rep->n_findings; i++) {
                const ModuleFinding *f = &rep->findings[i];
                printf("%-10s %-9s %s\n",
                       f->verdict == VERDICT_PASS   ? "pass"
                       : f->verdict == VERDICT_FAIL ? "FAIL"
                                                    : "UNVERIFIED",
                       f->name, f->message);
        }
}

int module_certs_load(const Context *ctx, const char *cert, const char *release, ModuleTarget *t)
{
        if (!cert)
                return 0;
        _cleanup_free_ char *data = NULL, *host = NULL, *rel = NULL;
        size_t size;
        bool image = streq(cert, "auto");
        if (image) {
                if (asprintf(&rel, "/boot/vmlinuz-%s", release) < 0)
                        return log_oom();
                int r = chase_in_root(ctx->root, rel, 0, &host);
                if (r < 0)
                        return log_error_errno(r, "--cert auto: no kernel image %s to read the certificates from: %m", rel);
        }
        const char *path = image ? host : cert;
        int r = read_full_file(path, 64 * 1024 * 1024, &data, &size);
        if (r < 0)
                return log_file_error(r, "read", path);
        r = image ? module_certs_from_kernel_image((uint8_t *) data, size, &t->certs)
                  : module_certs_parse((uint8_t *) data, size, &t->certs);
        if (r == -ELIBACC || r == -ELIBBAD)
                return log_error_errno(r, "--cert needs libcrypto (libcrypto.so.3) to verify signatures");
        if (r == -ENOKEY)
                return log_error_errno(r, "%s holds no built-in certificate", path);
        if (r < 0)
                return log_error_errno(r, "%s holds no X.509 certificate (PEM or DER)%s", path,
                                       image ? ", or its payload cannot be decompressed" : "");
        return 0;
}

static int module_check_verb(Context *ctx, const char *path, const char *release_opt, const char *cert)
{
        struct utsname u;
        const char *release = release_opt;
        if (!release) {
                if (!root_is_host(ctx->root)) {
                        log_error("'module check' with --root needs --kernel RELEASE (the running kernel is "
                                  "not the tree's)");
                        return EXIT_USAGE;
                }
                if (uname(&u) < 0)
                        return log_error_errno(errno, "Cannot read the running kernel's release: %m");
                release = u.release;
        }
        _cleanup_(module_info_freep) ModuleInfo *m = NULL;
        int r = module_info_load(path, &m);
        if (r < 0)
                return log_module_error(r, path);
        _cleanup_(module_target_freep) ModuleTarget *t = NULL;
        r = module_target_load(ctx->root, release, m->name, &t);
        if (r == -ENOENT || r == -ENOTDIR || r == -EINVAL)
                return log_error_errno(r, "Unknown kernel release '%s': no %s/lib/modules/%s directory",
                                       release, root_is_host(ctx->root) ? "" : ctx->root, release);
        if (r == -EBADMSG)
                return log_error_errno(r, "%s/lib/modules/%s/modules.dep is corrupt (a line without ':')",
                                       root_is_host(ctx->root) ? "" : ctx->root, release);
        if (r == -ENOMEDIUM)
                return log_error_errno(r, "No installed module of %s could be read to learn its vermagic",
                                       release);
        if (r < 0)
                return log_error_errno(r, "Cannot read the modules of %s: %m", release);
        r = module_certs_load(ctx, cert, release, t);
        if (r < 0)
                return r;
        _cleanup_(module_report_freep) ModuleReport *rep = NULL;
        r = module_check(m, t, &rep);
        if (r == -EBADMSG)
                return log_error_errno(r, "A symvers file of %s is corrupt (%s or %s)", release, t->symvers,
                                       t->module_symvers);
        if (r < 0)
                return log_error_errno(r, "Cannot check %s: %m", path);

        if (ctx->json) {
                r = print_json(path, m, t, rep);
                if (r < 0)
                        return r;
        } else {
                module_findings_print(rep);
                printf("%s: %s %s\n", path, rep->safe ? "safe to load on" : "NOT safe to load on", release);
        }
        return rep->safe ? EXIT_OK : EXIT_PROBLEM;
}

int verb_module(Context *ctx, CliArgs *args)
{
        const char *what = args->words[1];
        if (what && streq(what, "check")) {
                if (cli_check_options(args, OPT_KERNEL | OPT_CERT, "module check") < 0)
                        return EXIT_USAGE;
                if (!args->words[2] || args->words[3]) {
                        log_error("'module check' takes one module file (.ko, .ko.xz or .ko.zst)");
                        return EXIT_USAGE;
                }
                return module_check_verb(ctx, args->words[2], args->kernel, args->cert);
        }
        if (what && streq(what, "swap"))
                return module_swap_verb(ctx, args);
        if (what && streq(what, "status"))
                return module_status_verb(ctx, args);
        if (what && streq(what, "verify-persisted"))
                return module_verify_persisted_verb(ctx, args);
        if (!what)
                log_error("'module' needs a command: check, swap or status");
        else
                log_error("Unknown 'module' command '%s' (check, swap, status or verify-persisted)", what);
        return EXIT_USAGE;
}

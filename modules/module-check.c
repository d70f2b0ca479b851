/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/strv.h"
#include "modules/module-check.h"

/* symbols named in a one-line message; --json lists them all */
#define MESSAGE_LIST_MAX 10

const char *verdict_to_string(Verdict v)
{
        return v == VERDICT_PASS ? "pass" : v == VERDICT_FAIL ? "fail" : "unverified";
}

static int split_words(const char *s, char **ret_first, char ***ret_rest)
{
        _cleanup_free_ char *first = NULL;
        _cleanup_strv_free_ char **rest = NULL;
        for (const char *p = s; *p;) {
                p += strspn(p, " \t");
                size_t n = strcspn(p, " \t");
                if (n == 0)
                        break;
                _cleanup_free_ char *w = strndup(p, n);
                if (!w)
                        return -ENOMEM;
                if (!first)
                        first = TAKE_PTR(w);
                else if (strv_push(&rest, w) < 0)
                        return -ENOMEM;
                p += n;
        }
        if (!first && !(first = strdup("")))
                return -ENOMEM;
        *ret_first = TAKE_PTR(first);
        *ret_rest = TAKE_PTR(rest);
        return 0;
}

void vermagic_diff_done(VermagicDiff *d)
{
        free(d->module_release);
        free(d->target_release);
        strv_free(d->flags_missing);
        strv_free(d->flags_extra);
        *d = (VermagicDiff){};
}

int vermagic_compare(const char *module, const char *target, VermagicDiff *ret)
{
        VermagicDiff d = {.equal = streq(module, target)};
        _cleanup_strv_free_ char **mflags = NULL, **tflags = NULL;
        int r = split_words(module, &d.module_release, &mflags);
        if (r >= 0)
                r = split_words(target, &d.target_release, &tflags);
        for (char **i = tflags; r >= 0 && i && *i; i++)
                if (!strv_contains(mflags, *i) && !strv_contains(d.flags_missing, *i))
                        r = strv_push(&d.flags_missing, *i);
        for (char **i = mflags; r >= 0 && i && *i; i++)
                if (!strv_contains(tflags, *i) && !strv_contains(d.flags_extra, *i))
                        r = strv_push(&d.flags_extra, *i);
        if (r < 0) {
                vermagic_diff_done(&d);
                return r;
        }
        d.release_differs = !streq(d.module_release, d.target_release);
        d.order_differs = !d.equal && !d.release_differs && !d.flags_missing && !d.flags_extra;
        *ret = d;
        return 0;
}

bool vermagic_has_flag(const char *vermagic, const char *flag)
{
        size_t k = strlen(flag);
        const char *p = vermagic ? vermagic + strcspn(vermagic, " \t") : "";
        while (*p) {
                p += strspn(p, " \t");
                size_t n = strcspn(p, " \t");
                if (n == k && strneq(p, flag, k))
                        return true;
                p += n;
        }
        return false;
}

ModuleReport *module_report_free(ModuleReport *r)
{
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_findings; i++)
                free(r->findings[i].message);
        vermagic_diff_done(&r->vermagic);
        free(r->crcs);
        free(r->mismatches);
        free(r->unverified);
        strv_free(r->depends_missing);
        free(r->sig_enforced_by);
        free(r->sig_verified_by);
        free(r);
        return NULL;
}

/* A finding whose message is built with fprintf into a memstream. */
typedef struct Msg {
        FILE *f;
        char *buf;
        size_t size;
} Msg;

static int msg_open(Msg *m)
{
        *m = (Msg){};
        m->f = open_memstream(&m->buf, &m->size);
        return m->f ? 0 : -ENOMEM;
}

static int msg_abort(Msg *m, int r)
{
        fclose(m->f);
        free(m->buf);
        return r;
}

static int add_finding(ModuleReport *report, const char *name, Verdict v, Msg *m)
{
        if (fclose(m->f) != 0) {
                free(m->buf);
                return -ENOMEM;
        }
        if (report->n_findings >= MODULE_FINDING_MAX) {
                free(m->buf);
                return -E2BIG;
        }
        report->findings[report->n_findings++] =
            (ModuleFinding){.name = name, .verdict = v, .message = m->buf};
        return 0;
}

static const char *class_string(unsigned c)
{
        return c == ELFCLASS64 ? "ELF64" : c == ELFCLASS32 ? "ELF32" : "ELF?";
}

static void put_machine(FILE *f, unsigned machine)
{
        const char *s = module_elf_machine_to_string(machine);
        if (s)
                fputs(s, f);
        else
                fprintf(f, "machine %u", machine);
}

int module_check_elf(const ModuleInfo *m, const ModuleTarget *t, ModuleReport *report)
{
        Msg msg;
        if (msg_open(&msg) < 0)
                return -ENOMEM;
        unsigned want_class = module_elf_native_class(), want_machine = module_elf_native_machine();
        /* a --root tree of another architecture: its own modules say what it runs */
        if (t && t->reference_elf.machine) {
                want_class = t->reference_elf.elf_class;
                want_machine = t->reference_elf.machine;
        }
        bool ok = m->elf.elf_class == want_class && m->elf.machine == want_machine &&
                  m->elf.big_endian ==
                      (t ? t->reference_elf.big_endian : (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__));
        fprintf(msg.f, "%s %s-endian ", class_string(m->elf.elf_class),
                m->elf.big_endian ? "big" : "little");
        put_machine(msg.f, m->elf.machine);
        fprintf(msg.f, " relocatable%s", m->compression != MODULE_COMPRESSION_NONE ? " (" : "");
        if (m->compression != MODULE_COMPRESSION_NONE)
                fprintf(msg.f, "%s-compressed)", module_compression_to_string(m->compression));
        if (ok)
                fprintf(msg.f, ", as the target's modules");
        else {
                fprintf(msg.f, ", but the target's modules are %s ", class_string(want_class));
                put_machine(msg.f, want_machine);
        }
        return add_finding(report, "elf", ok ? VERDICT_PASS : VERDICT_FAIL, &msg);
}

int module_check_name(const ModuleInfo *m, ModuleReport *report)
{
        Msg msg;
        if (msg_open(&msg) < 0)
                return -ENOMEM;
        Verdict v = VERDICT_PASS;
        if (isempty(m->name)) {
                v = VERDICT_FAIL;
                fprintf(msg.f, "no name= in .modinfo");
        } else if (!module_name_valid(m->name)) {
                v = VERDICT_FAIL;
                fprintf(msg.f, "'%s' is not a valid module name", m->name);
        } else {
                _cleanup_free_ char *from_file = module_name_from_path(m->path),
                                    *norm = module_name_normalize(m->name);
                if (!from_file || !norm)
                        return msg_abort(&msg, -ENOMEM);
                fprintf(msg.f, "%s", norm);
                if (!streq(from_file, norm))
                        fprintf(msg.f, " (the file name says %s: the kernel goes by %s)", from_file, norm);
        }
        return add_finding(report, "name", v, &msg);
}

static void put_list(FILE *f, char *const *l)
{
        for (char *const *i = l; i && *i; i++)
                fprintf(f, "%s'%s'", i == l ? "" : ", ", *i);
}

int module_check_vermagic(const ModuleInfo *m, const ModuleTarget *t, ModuleReport *report)
{
        Msg msg;
        if (msg_open(&msg) < 0)
                return -ENOMEM;
        if (isempty(m->vermagic)) {
                fprintf(msg.f, "no vermagic= in .modinfo; %s's is '%s'", t->release, t->vermagic);
                return add_finding(report, "vermagic", VERDICT_FAIL, &msg);
        }
        VermagicDiff *d = &report->vermagic;
        int r = vermagic_compare(m->vermagic, t->vermagic, d);
        if (r < 0)
                return msg_abort(&msg, r);
        if (d->equal) {
                fprintf(msg.f, "'%s' as %s's own modules (%s)", m->vermagic, t->release, t->vermagic_from);
                return add_finding(report, "vermagic", VERDICT_PASS, &msg);
        }
        const char *sep = "";
        if (d->release_differs) {
                fprintf(
                    msg.f,
                    "built for release %s, not %s (the kernel itself skips the release under modversions; "
                    "a module of another build is not safe)",
                    d->module_release, d->target_release);
                sep = "; ";
        }
        if (d->flags_missing) {
                fprintf(msg.f, "%sflags of %s missing: ", sep, t->release);
                put_list(msg.f, d->flags_missing);
                sep = "; ";
        }
        if (d->flags_extra) {
                fprintf(msg.f, "%sflags %s does not have: ", sep, t->release);
                put_list(msg.f, d->flags_extra);
                sep = "; ";
        }
        if (d->order_differs)
                fprintf(msg.f, "same release and flags, spelled differently");
        fprintf(msg.f, " (module '%s', target '%s')", m->vermagic, t->vermagic);
        return add_finding(report, "vermagic", VERDICT_FAIL, &msg);
}

int module_check_crcs(const ModuleInfo *m, ModuleTarget *t, ModuleReport *report)
{
        Msg msg;
        if (msg_open(&msg) < 0)
                return -ENOMEM;
        bool target_modversions = vermagic_has_flag(t->vermagic, "modversions");
        if (m->n_versions == 0) {
                if (target_modversions) {
                        fprintf(msg.f, "the module has no __versions, but %s uses modversions", t->release);
                        return add_finding(report, "crcs", VERDICT_FAIL, &msg);
                }
                fprintf(msg.f, "no __versions, and %s does not use modversions", t->release);
                return add_finding(report, "crcs", VERDICT_PASS, &msg);
        }
        int r = module_target_resolve_crcs(t, m->versions, m->n_versions, &report->crcs);
        if (r < 0)
                return msg_abort(&msg, r);
        report->mismatches = calloc(m->n_versions, sizeof(CrcMismatch));
        report->unverified = calloc(m->n_versions, sizeof(char *));
        if (!report->mismatches || !report->unverified)
                return msg_abort(&msg, -ENOMEM);
        for (size_t i = 0; i < m->n_versions; i++) {
                const TargetCrc *c = &report->crcs[i];
                report->n_by_source[c->source]++;
                if (c->source == CRC_SOURCE_NONE)
                        report->unverified[report->n_unverified++] = m->versions[i].symbol;
                else if (c->crc != m->versions[i].crc)
                        report->mismatches[report->n_mismatches++] = (CrcMismatch){
                            .symbol = m->versions[i].symbol,
                            .module_crc = m->versions[i].crc,
                            .target_crc = c->crc,
                            .target = c,
                        };
        }
        Verdict v = VERDICT_PASS;
        if (report->n_mismatches > 0) {
                v = VERDICT_FAIL;
                fprintf(msg.f, "%zu of %zu symbol CRCs differ from %s's:", report->n_mismatches,
                        m->n_versions, t->release);
                for (size_t i = 0; i < MIN(report->n_mismatches, MESSAGE_LIST_MAX); i++) {
                        const CrcMismatch *x = &report->mismatches[i];
                        fprintf(msg.f, "%s %s (module 0x%08x, %s 0x%08x)", i ? "," : "", x->symbol,
                                x->module_crc, t->release, x->target_crc);
                }
                if (report->n_mismatches > MESSAGE_LIST_MAX)
                        fprintf(msg.f, " and %zu more (--json lists all)",
                                report->n_mismatches - MESSAGE_LIST_MAX);
        }
        if (report->n_unverified > 0) {
                if (v == VERDICT_PASS)
                        v = VERDICT_UNVERIFIED;
                fprintf(msg.f,
                        "%s%zu of %zu symbols unverified (imported by no installed module of %s, not in %s "
                        "or %s):",
                        report->n_mismatches ? "; " : "", report->n_unverified, m->n_versions, t->release,
                        t->symvers, t->module_symvers);
                for (size_t i = 0; i < MIN(report->n_unverified, MESSAGE_LIST_MAX); i++)
                        fprintf(msg.f, "%s %s", i ? "," : "", report->unverified[i]);
                if (report->n_unverified > MESSAGE_LIST_MAX)
                        fprintf(msg.f, " and %zu more (--json lists all)",
                                report->n_unverified - MESSAGE_LIST_MAX);
        }
        if (v == VERDICT_PASS)
                fprintf(msg.f,
                        "all %zu symbol CRCs equal %s's (%zu from installed modules, %zu from symvers, "
                        "%zu from Module.symvers)",
                        m->n_versions, t->release, report->n_by_source[CRC_SOURCE_MODULES],
                        report->n_by_source[CRC_SOURCE_SYMVERS],
                        report->n_by_source[CRC_SOURCE_MODULE_SYMVERS]);
        return add_finding(report, "crcs", v, &msg);
}

int module_check_depends(const ModuleInfo *m, const ModuleTarget *t, ModuleReport *report)
{
        Msg msg;
        if (msg_open(&msg) < 0)
                return -ENOMEM;
        for (char **d = m->depends; d && *d; d++)
                if (!module_target_find(t, *d) && strv_push(&report->depends_missing, *d) < 0)
                        return msg_abort(&msg, -ENOMEM);
        if (report->depends_missing) {
                fprintf(msg.f, "not installed for %s: ", t->release);
                put_list(msg.f, report->depends_missing);
                return add_finding(report, "depends", VERDICT_FAIL, &msg);
        }
        if (!m->depends)
                fprintf(msg.f, "none");
        else {
                put_list(msg.f, m->depends);
                fprintf(msg.f, " installed for %s", t->release);
        }
        return add_finding(report, "depends", VERDICT_PASS, &msg);
}

/* The signature against the kernel's certificates, when they are known: the module's bytes are
 * read again (the ModuleInfo keeps none). */
static int signature_verify(const ModuleInfo *m, const ModuleTarget *t, ModuleReport *report)
{
        report->sig_verdict = MODULE_SIG_NOT_CHECKED;
        if (!t->certs || !m->signed_)
                return 0;
        _cleanup_free_ uint8_t *data = NULL;
        size_t size;
        int r = module_file_read(m->path, &data, &size, NULL);
        if (r < 0)
                return r;
        r = module_sig_verify(data, size, &m->elf, t->certs, &report->sig_verified_by);
        if (r < 0)
                return r;
        report->sig_verdict = r;
        return 0;
}

int module_check_signature(const ModuleInfo *m, const ModuleTarget *t, ModuleReport *report)
{
        Msg msg;
        if (msg_open(&msg) < 0)
                return -ENOMEM;
        int r = module_sig_enforced(t->root, &report->sig_enforced_by);
        if (r < 0)
                return msg_abort(&msg, r);
        report->sig_enforced = r;
        Verdict v = VERDICT_PASS;
        if (!m->signed_) {
                if (report->sig_enforced) {
                        v = VERDICT_FAIL;
                        fprintf(msg.f, "unsigned, and the target enforces signatures (%s)",
                                report->sig_enforced_by);
                } else
                        fprintf(msg.f,
                                "unsigned (signatures are not enforced; loading it taints the kernel)");
                return add_finding(report, "signature", v, &msg);
        }
        report->sig_key_foreign =
            t->reference_sig_key && m->sig_key && !streq(t->reference_sig_key, m->sig_key);
        fprintf(msg.f, "signed");
        if (m->sig_id)
                fprintf(msg.f, " (%s)", m->sig_id);
        fprintf(msg.f, " by '%s', hash %s", m->signer ? m->signer : "unknown signer",
                m->sig_hashalgo ? m->sig_hashalgo : "unknown");
        if (m->sig_key)
                fprintf(msg.f, ", key %s", m->sig_key);
        if (report->sig_key_foreign) {
                fprintf(msg.f, "; not the key %s's modules are signed with", t->release);
                if (report->sig_enforced) {
                        v = VERDICT_FAIL;
                        fprintf(msg.f, ", and the target enforces signatures (%s)", report->sig_enforced_by);
                }
        }
        r = signature_verify(m, t, report);
        if (r < 0 && r != -EBADMSG && r != -ELIBACC && r != -ELIBBAD)
                return msg_abort(&msg, r);
        switch (r < 0 ? MODULE_SIG_NOT_CHECKED : report->sig_verdict) {
        case MODULE_SIG_GOOD:
                fprintf(msg.f, "; signature verified (%s)", report->sig_verified_by ? report->sig_verified_by : "?");
                break;
        case MODULE_SIG_BAD:
                v = VERDICT_FAIL;
                fprintf(msg.f, "; the signature does NOT match the module's bytes: the kernel refuses it "
                               "(EKEYREJECTED)");
                break;
        case MODULE_SIG_NO_KEY:
                fprintf(msg.f, "; signed by none of the %zu certificates given", module_certs_count(t->certs));
                if (report->sig_enforced) {
                        v = VERDICT_FAIL;
                        fprintf(msg.f, ", and the target enforces signatures (%s)", report->sig_enforced_by);
                }
                break;
        default:
                fprintf(msg.f, "; signature not verified%s",
                        r == -EBADMSG   ? " (a malformed PKCS#7 signature)"
                        : r < 0         ? " (no libcrypto)"
                        : t->certs      ? ""
                                        : " (no kernel certificate given: --cert)");
        }
        return add_finding(report, "signature", v, &msg);
}

int module_check(const ModuleInfo *m, ModuleTarget *t, ModuleReport **ret)
{
        _cleanup_(module_report_freep) ModuleReport *report = calloc(1, sizeof(ModuleReport));
        if (!report)
                return -ENOMEM;
        int r = module_check_elf(m, t, report);
        if (r >= 0)
                r = module_check_name(m, report);
        if (r >= 0)
                r = module_check_vermagic(m, t, report);
        if (r >= 0)
                r = module_check_crcs(m, t, report);
        if (r >= 0)
                r = module_check_depends(m, t, report);
        if (r >= 0)
                r = module_check_signature(m, t, report);
        if (r < 0)
                return r;
        report->safe = true;
        for (size_t i = 0; i < report->n_findings; i++)
                if (report->findings[i].verdict != VERDICT_PASS)
                        report->safe = false;
        *ret = TAKE_PTR(report);
        return 0;
}

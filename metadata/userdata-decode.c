/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "common/macro.h"
#include "metadata/decode-error.h"
#include "metadata/gunzip.h"
#include "metadata/mime.h"
#include "metadata/userdata.h"

typedef struct Decoder {
        UserData *u;
        size_t inflated; /* all inflated bytes so far: one budget, so nesting cannot multiply it */
        char **error;
} Decoder;

static const char *const kind_names[] = {
        [USERDATA_SCRIPT] = "script",
        [USERDATA_DIRECTIVE] = "directive",
        [USERDATA_CLOUD_CONFIG] = "cloud-config",
        [USERDATA_OTHER] = "other",
};
static const char *const frequency_names[] = {
        [USERDATA_PER_INSTANCE] = "per-instance",
        [USERDATA_PER_BOOT] = "per-boot",
        [USERDATA_ONCE] = "once",
};

const char *userdata_kind_to_string(UserDataKind k)
{
        return (unsigned) k < ELEMENTSOF(kind_names) ? kind_names[k] : "?";
}

const char *userdata_frequency_to_string(UserDataFrequency f)
{
        return (unsigned) f < ELEMENTSOF(frequency_names) ? frequency_names[f] : "?";
}

int userdata_frequency_from_string(const char *s, UserDataFrequency *ret)
{
        for (size_t i = 0; i < ELEMENTSOF(frequency_names); i++)
                if (s && streq(s, frequency_names[i])) {
                        *ret = (UserDataFrequency) i;
                        return 0;
                }
        return -EINVAL;
}

UserData *userdata_free(UserData *u)
{
        if (!u)
                return NULL;
        for (size_t i = 0; i < u->n_parts; i++) {
                UserDataPart *p = &u->parts[i];
                free(p->content_type);
                free(p->filename);
                if (p->data)
                        explicit_bzero(p->data, p->size);
                free(p->data);
                directive_free(p->directive);
        }
        free(u->parts);
        free(u);
        return NULL;
}

static bool starts_with(const char *data, size_t size, const char *prefix)
{
        size_t n = strlen(prefix);
        return size >= n && memcmp(data, prefix, n) == 0;
}

static bool all_space(const char *data, size_t size)
{
        for (size_t i = 0; i < size; i++)
                if (!strchr(" \t\r\n", data[i]) || data[i] == 0)
                        return false;
        return true;
}

static bool is_gzip_type(const char *t)
{
        return t && (streq(t, "application/x-gzip") || streq(t, "application/gzip") ||
                     streq(t, "application/x-gzip-compressed"));
}

static int add_part(Decoder *d, UserDataKind kind, UserDataFrequency freq, const char *content_type,
                    const char *filename, const char *data, size_t size, Directive *directive)
{
        _cleanup_(directive_freep) Directive *dir = directive;
        UserData *u = d->u;
        if (u->n_parts >= MIME_PARTS_MAX)
                return decode_error(d->error, -E2BIG, "more than %u parts in the user data", MIME_PARTS_MAX);
        UserDataPart *np = realloc(u->parts, (u->n_parts + 1) * sizeof *np);
        if (!np)
                return -ENOMEM;
        u->parts = np;
        char hash[SHA256_HEX_SIZE];
        int r = sha256_hex(data, size, hash);
        if (r < 0)
                return decode_error(d->error, r, "cannot hash a part: libcrypto.so.3 %s",
                                    r == -ENOENT ? "is not installed" : "failed");
        UserDataPart p = {
                .index = (unsigned) u->n_parts + 1,
                .kind = kind,
                .frequency = freq,
                .content_type = strdup(content_type),
                .filename = filename ? strdup(filename) : NULL,
                .data = malloc(size + 1),
                .size = size,
                .directive = TAKE_PTR(dir),
        };
        if (!p.content_type || (filename && !p.filename) || !p.data) {
                free(p.content_type);
                free(p.filename);
                free(p.data);
                directive_free(p.directive);
                return -ENOMEM;
        }
        memcpy(p.data, data, size);
        p.data[size] = 0;
        memcpy(p.sha256, hash, sizeof hash);
        u->parts[u->n_parts++] = p;
        return 0;
}

static int add_directive(Decoder *d, const char *where, const char *filename, const char *data, size_t size)
{
        _cleanup_free_ char *err = NULL;
        Directive *dir = NULL;
        int r = directive_parse(data, size, &dir, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return decode_error(d->error, r, "%s: %s", where, err ? err : "invalid directive");
        return add_part(d, USERDATA_DIRECTIVE, USERDATA_PER_INSTANCE, "text/x-kernelkeeper-directive", filename, data,
                        size, dir);
}

/* What the first line says, for data with no (or a generic) declared type, as cloud-init does. */
static int classify_content(Decoder *d, const char *where, const char *declared, const char *filename,
                            const char *data, size_t size)
{
        static const struct {
                const char *prefix, *type;
        } others[] = {
                { "#include", "text/x-include-url" },
                { "#cloud-boothook", "text/cloud-boothook" },
                { "#part-handler", "text/part-handler" },
                { "#upstart-job", "text/upstart-job" },
                { "#cloud-config-archive", "text/cloud-config-archive" },
                { "#cloud-config-jsonp", "text/cloud-config-jsonp" },
        };
        if (directive_detect(data, size))
                return add_directive(d, where, filename, data, size);
        if (starts_with(data, size, "#!"))
                return add_part(d, USERDATA_SCRIPT, USERDATA_PER_INSTANCE, "text/x-shellscript", filename, data, size,
                                NULL);
        for (size_t i = 0; i < ELEMENTSOF(others); i++)
                if (starts_with(data, size, others[i].prefix))
                        return add_part(d, USERDATA_OTHER, USERDATA_PER_INSTANCE, others[i].type, filename, data, size,
                                        NULL);
        if (starts_with(data, size, "#cloud-config"))
                return add_part(d, USERDATA_CLOUD_CONFIG, USERDATA_PER_INSTANCE, "text/cloud-config", filename, data,
                                size, NULL);
        return add_part(d, USERDATA_OTHER, USERDATA_PER_INSTANCE, declared ? declared : "text/plain", filename, data,
                        size, NULL);
}

static int decode_mime(Decoder *d, const char *data, size_t size, const char *where, unsigned depth);

/* declared: the MIME type the data came with, NULL at the top or after inflating generic gzip */
static int decode_blob(Decoder *d, const char *data, size_t size, const char *declared, const char *filename,
                       const char *where, unsigned depth)
{
        if (depth > USERDATA_DEPTH_MAX)
                return decode_error(d->error, -ELOOP, "%s: nested more than %u levels deep", where, USERDATA_DEPTH_MAX);

        if (gzip_magic(data, size)) {
                _cleanup_free_ char *out = NULL;
                size_t n;
                int r = gunzip(data, size, USERDATA_INFLATED_MAX - d->inflated, &out, &n);
                if (r == -EFBIG)
                        return decode_error(d->error, r, "%s: gzip data inflates to more than %u bytes", where,
                                            USERDATA_INFLATED_MAX);
                if (r == -EBADMSG)
                        return decode_error(d->error, r, "%s: corrupt or truncated gzip data", where);
                if (r < 0)
                        return r;
                d->inflated += n;
                d->u->gzip = true;
                return decode_blob(d, out, n, is_gzip_type(declared) ? NULL : declared, filename, where, depth + 1);
        }
        if (is_gzip_type(declared))
                return decode_error(d->error, -EBADMSG, "%s: declared %s but is not gzip data", where, declared);
        if (all_space(data, size))
                return 0; /* nothing to do, not an error */
        if (!declared && mime_looks_like(data, size))
                return decode_mime(d, data, size, where, depth + 1);

        if (!declared || streq(declared, "text/plain") || streq(declared, "application/octet-stream"))
                return classify_content(d, where, declared, filename, data, size);
        if (directive_detect(data, size))
                return add_directive(d, where, filename, data, size);
        if (strneq(declared, "text/x-shellscript", 18)) {
                static const struct {
                        const char *suffix;
                        UserDataFrequency f;
                } freqs[] = {
                        { "", USERDATA_PER_INSTANCE },
                        { "-per-instance", USERDATA_PER_INSTANCE },
                        { "-per-boot", USERDATA_PER_BOOT },
                        { "-per-once", USERDATA_ONCE },
                };
                for (size_t i = 0; i < ELEMENTSOF(freqs); i++)
                        if (streq(declared + 18, freqs[i].suffix)) {
                                if (!starts_with(data, size, "#!"))
                                        return decode_error(d->error, -EBADMSG,
                                                            "%s: a %s part must start with #! (an interpreter line)",
                                                            where, declared);
                                return add_part(d, USERDATA_SCRIPT, freqs[i].f, declared, filename, data, size, NULL);
                        }
        }
        if (streq(declared, "text/cloud-config"))
                return add_part(d, USERDATA_CLOUD_CONFIG, USERDATA_PER_INSTANCE, declared, filename, data, size, NULL);
        return add_part(d, USERDATA_OTHER, USERDATA_PER_INSTANCE, declared, filename, data, size, NULL);
}

static int decode_mime(Decoder *d, const char *data, size_t size, const char *where, unsigned depth)
{
        _cleanup_(mime_entity_done) MimeEntity e = {};
        _cleanup_free_ char *err = NULL;
        int r = mime_parse_entity(data, size, &e, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return decode_error(d->error, r, "%s: %s", where, err);
        d->u->mime = true;

        if (!strneq(e.content_type, "multipart/", 10)) {
                _cleanup_free_ char *body = NULL;
                size_t n;
                if ((r = mime_decode_body(&e, &body, &n, &err)) < 0)
                        return r == -ENOMEM ? r : decode_error(d->error, r, "%s: %s", where, err);
                return decode_blob(d, body, n, e.content_type, e.filename, where, depth);
        }
        if (!e.boundary)
                return decode_error(d->error, -EBADMSG, "%s: multipart without a boundary parameter", where);
        _cleanup_free_ MimeSpan *spans = NULL;
        size_t n_spans;
        if ((r = mime_split(e.body, e.body_size, e.boundary, &spans, &n_spans, &err)) < 0)
                return r == -ENOMEM ? r : decode_error(d->error, r, "%s: %s", where, err);
        for (size_t i = 0; i < n_spans; i++) {
                _cleanup_free_ char *sub = NULL;
                /* "MIME part 2", nested "MIME part 2.1" */
                if ((streq(where, "user data") ? asprintf(&sub, "MIME part %zu", i + 1)
                                               : asprintf(&sub, "%s.%zu", where, i + 1)) < 0)
                        return -ENOMEM;
                if ((r = decode_mime(d, spans[i].data, spans[i].size, sub, depth + 1)) < 0)
                        return r;
        }
        return 0;
}

int userdata_decode(const void *data, size_t size, UserData **ret, char **ret_error)
{
        _cleanup_(userdata_freep) UserData *u = calloc(1, sizeof *u);
        if (!u)
                return -ENOMEM;
        char *err = NULL;
        Decoder d = { .u = u, .error = &err };
        int r = decode_blob(&d, data, size, NULL, NULL, "user data", 0);
        if (r < 0) {
                if (ret_error)
                        *ret_error = err;
                else
                        free(err);
                return r;
        }
        free(err);
        *ret = TAKE_PTR(u);
        return 0;
}

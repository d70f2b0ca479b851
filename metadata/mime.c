/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "common/macro.h"
#include "metadata/decode-error.h"
#include "metadata/mime.h"

#define HEADER_LINE_MAX 4096u
#define HEADER_LINES_MAX 100u
#define BOUNDARY_MAX 200u
#define FILENAME_MAX_SHOWN 64u

void mime_entity_done(MimeEntity *e)
{
        free(e->content_type);
        free(e->boundary);
        free(e->filename);
        free(e->transfer_encoding);
        *e = (MimeEntity){};
}

static bool starts_with_header(const char *data, size_t size, const char *name)
{
        size_t n = strlen(name);
        return size > n && strncasecmp(data, name, n) == 0 && data[n] == ':';
}

bool mime_looks_like(const char *data, size_t size)
{
        return starts_with_header(data, size, "Content-Type") || starts_with_header(data, size, "MIME-Version");
}

static bool is_token_char(char c)
{
        return c > ' ' && c < 127 && !strchr("()<>@,;:\\\"/[]?=", c);
}

static char *lower_dup(const char *s, size_t n)
{
        char *d = strndup(s, n);
        for (char *p = d; p && *p; p++)
                *p = (char) tolower((unsigned char) *p);
        return d;
}

/* Value of parameter `name` in a "value; a=b; c="d"" header, or NULL (*ret untouched). */
static int header_param(const char *v, const char *name, char **ret)
{
        size_t nlen = strlen(name);
        const char *p = strchr(v, ';');
        while (p) {
                p++;
                while (*p == ' ' || *p == '\t')
                        p++;
                const char *eq = p;
                while (is_token_char(*eq))
                        eq++;
                bool match = (size_t) (eq - p) == nlen && strncasecmp(p, name, nlen) == 0 && *eq == '=';
                const char *val = *eq == '=' ? eq + 1 : eq;
                char *out = NULL;
                size_t n = 0;
                if (*val == '"') {
                        /* quoted-string with backslash escapes */
                        out = malloc(strlen(val) + 1);
                        if (!out)
                                return -ENOMEM;
                        for (val++; *val && *val != '"'; val++) {
                                if (*val == '\\' && val[1])
                                        val++;
                                out[n++] = *val;
                        }
                        out[n] = 0;
                        if (*val == '"')
                                val++;
                } else {
                        const char *e = val;
                        while (*e && *e != ';' && *e != ' ' && *e != '\t')
                                e++;
                        out = strndup(val, (size_t) (e - val));
                        if (!out)
                                return -ENOMEM;
                        val = e;
                }
                if (match) {
                        free(*ret);
                        *ret = out;
                        return 1;
                }
                free(out);
                p = strchr(val, ';');
        }
        return 0;
}

/* A file name is for display only: printable ASCII, shortened. */
static void sanitize_filename(char *s)
{
        size_t n = 0;
        for (char *p = s; *p && n < FILENAME_MAX_SHOWN; p++)
                s[n++] = (*p >= ' ' && *p < 127) ? *p : '?';
        s[n] = 0;
}

static int parse_content_type(const char *v, MimeEntity *e, unsigned line, char **ret_error)
{
        while (*v == ' ' || *v == '\t')
                v++;
        size_t n = 0;
        while (is_token_char(v[n]) || v[n] == '/')
                n++;
        const char *slash = memchr(v, '/', n);
        if (!slash || slash == v || slash == v + n - 1)
                return decode_error(ret_error, -EBADMSG, "line %u: malformed Content-Type (expected type/subtype)",
                                    line);
        free(e->content_type);
        if (!(e->content_type = lower_dup(v, n)))
                return -ENOMEM;
        int r = header_param(v, "boundary", &e->boundary);
        if (r < 0)
                return r;
        if (r > 0 && (isempty(e->boundary) || strlen(e->boundary) > BOUNDARY_MAX))
                return decode_error(ret_error, -EBADMSG, "line %u: the multipart boundary is empty or too long", line);
        if (!e->filename && (r = header_param(v, "name", &e->filename)) < 0)
                return r;
        return 0;
}

int mime_parse_entity(const char *data, size_t size, MimeEntity *ret, char **ret_error)
{
        _cleanup_(mime_entity_done) MimeEntity e = {};
        /* headers are collected unfolded, then interpreted */
        _cleanup_free_ char *ct = NULL, *cte = NULL, *cd = NULL;
        char **current = NULL;
        bool in_header = false;
        const char *p = data, *end = data + size, *body = end;
        unsigned line = 0, ct_line = 0;
        int r;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *next = nl ? nl + 1 : end;
                size_t len = (size_t) ((nl ? nl : end) - p);
                if (len > 0 && p[len - 1] == '\r')
                        len--;
                if (++line > HEADER_LINES_MAX)
                        return decode_error(ret_error, -EBADMSG, "line %u: too many MIME header lines", line);
                if (len > HEADER_LINE_MAX)
                        return decode_error(ret_error, -EBADMSG, "line %u: MIME header line too long", line);
                if (len == 0) {
                        body = next;
                        break;
                }
                if (memchr(p, 0, len))
                        return decode_error(ret_error, -EBADMSG, "line %u: NUL byte in a MIME header", line);
                if (p[0] == ' ' || p[0] == '\t') {
                        if (!in_header)
                                return decode_error(ret_error, -EBADMSG,
                                                    "line %u: MIME header continuation without a header", line);
                        if (current) {
                                char *joined;
                                if (asprintf(&joined, "%s %.*s", *current, (int) len, p) < 0)
                                        return -ENOMEM;
                                free(*current);
                                *current = joined;
                        }
                        p = next;
                        continue;
                }
                const char *colon = memchr(p, ':', len);
                bool good = colon && colon > p;
                for (const char *q = p; good && q < colon; q++)
                        good = is_token_char(*q);
                if (!good)
                        return decode_error(ret_error, -EBADMSG, "line %u: not a MIME header line", line);
                size_t nlen = (size_t) (colon - p);
                current = NULL;
                if (nlen == 12 && strncasecmp(p, "Content-Type", nlen) == 0) {
                        current = &ct;
                        ct_line = line;
                } else if (nlen == 25 && strncasecmp(p, "Content-Transfer-Encoding", nlen) == 0)
                        current = &cte;
                else if (nlen == 19 && strncasecmp(p, "Content-Disposition", nlen) == 0)
                        current = &cd;
                if (current) {
                        if (*current)
                                return decode_error(ret_error, -EBADMSG, "line %u: duplicate %s header", line,
                                                    current == &ct    ? "Content-Type"
                                                    : current == &cte ? "Content-Transfer-Encoding"
                                                                      : "Content-Disposition");
                        const char *v = colon + 1;
                        while (v < p + len && (*v == ' ' || *v == '\t'))
                                v++;
                        if (!(*current = strndup(v, (size_t) (p + len - v))))
                                return -ENOMEM;
                }
                in_header = true;
                p = next;
        }

        if (ct) {
                if ((r = parse_content_type(ct, &e, ct_line, ret_error)) < 0)
                        return r;
        } else if (!(e.content_type = strdup("text/plain")))
                return -ENOMEM;
        if (cte) {
                size_t n = strcspn(cte, " \t;");
                if (!(e.transfer_encoding = lower_dup(cte, n)))
                        return -ENOMEM;
        }
        if (cd && header_param(cd, "filename", &e.filename) < 0)
                return -ENOMEM;
        if (e.filename)
                sanitize_filename(e.filename);
        e.body = body;
        e.body_size = (size_t) (end - body);
        *ret = e;
        e = (MimeEntity){};
        return 0;
}

/* If the line [p, p+len) is a delimiter for boundary, returns 1 (2 for the close delimiter). Trailing
 * whitespace is allowed (RFC 2046 transport padding). */
static int delimiter(const char *p, size_t len, const char *boundary, size_t blen)
{
        if (len < 2 + blen || p[0] != '-' || p[1] != '-' || memcmp(p + 2, boundary, blen) != 0)
                return 0;
        const char *rest = p + 2 + blen, *end = p + len;
        int kind = 1;
        if (end - rest >= 2 && rest[0] == '-' && rest[1] == '-') {
                kind = 2;
                rest += 2;
        }
        for (; rest < end; rest++)
                if (*rest != ' ' && *rest != '\t')
                        return 0;
        return kind;
}

int mime_split(const char *body, size_t size, const char *boundary, MimeSpan **ret_parts, size_t *ret_n,
               char **ret_error)
{
        size_t blen = strlen(boundary), n = 0;
        _cleanup_free_ MimeSpan *parts = NULL;
        const char *p = body, *end = body + size, *part_start = NULL;
        bool closed = false, seen = false;

        while (p < end && !closed) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *next = nl ? nl + 1 : end;
                size_t len = (size_t) ((nl ? nl : end) - p);
                if (len > 0 && p[len - 1] == '\r')
                        len--;
                int kind = delimiter(p, len, boundary, blen);
                if (kind > 0) {
                        if (part_start) {
                                /* the line break before a delimiter belongs to the delimiter */
                                const char *e = p;
                                if (e > part_start && e[-1] == '\n')
                                        e--;
                                if (e > part_start && e[-1] == '\r')
                                        e--;
                                if (n >= MIME_PARTS_MAX)
                                        return decode_error(ret_error, -E2BIG, "more than %u MIME parts",
                                                            MIME_PARTS_MAX);
                                MimeSpan *np = realloc(parts, (n + 1) * sizeof *parts);
                                if (!np)
                                        return -ENOMEM;
                                parts = np;
                                parts[n++] = (MimeSpan){ part_start, (size_t) (e - part_start) };
                        }
                        seen = true;
                        closed = kind == 2;
                        part_start = next;
                }
                p = next;
        }
        if (!seen)
                return decode_error(ret_error, -EBADMSG, "multipart user data without any boundary line");
        if (!closed)
                return decode_error(ret_error, -EBADMSG,
                                    "the closing MIME boundary is missing (truncated or malformed user data)");
        *ret_parts = TAKE_PTR(parts);
        *ret_n = n;
        return 0;
}

static int b64_value(unsigned char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

static int decode_base64(const char *s, size_t size, char *out, size_t *ret_n)
{
        uint32_t acc = 0;
        unsigned bits = 0;
        size_t n = 0;
        bool padding = false;
        for (size_t i = 0; i < size; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
                        continue;
                if (c == '=') {
                        padding = true;
                        continue;
                }
                int v = b64_value(c);
                if (v < 0 || padding)
                        return -EBADMSG;
                acc = (acc << 6) | (uint32_t) v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[n++] = (char) (acc >> bits);
                        acc &= (1u << bits) - 1;
                }
        }
        if (bits >= 6)
                return -EBADMSG; /* a lone sextet cannot make a byte */
        *ret_n = n;
        return 0;
}

static int hex_value(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

static int decode_qp(const char *s, size_t size, char *out, size_t *ret_n)
{
        size_t n = 0;
        for (size_t i = 0; i < size; i++) {
                if (s[i] != '=') {
                        out[n++] = s[i];
                        continue;
                }
                /* soft line break: "=" then optional padding then the line end */
                size_t j = i + 1;
                while (j < size && (s[j] == ' ' || s[j] == '\t'))
                        j++;
                if (j < size && s[j] == '\r')
                        j++;
                if (j >= size || s[j] == '\n') {
                        i = j;
                        continue;
                }
                int hi = i + 2 < size ? hex_value(s[i + 1]) : -1, lo = hi >= 0 ? hex_value(s[i + 2]) : -1;
                if (lo < 0)
                        return -EBADMSG;
                out[n++] = (char) (hi << 4 | lo);
                i += 2;
        }
        *ret_n = n;
        return 0;
}

int mime_decode_body(const MimeEntity *e, char **ret, size_t *ret_size, char **ret_error)
{
        const char *te = e->transfer_encoding;
        _cleanup_free_ char *out = malloc(e->body_size + 1);
        if (!out)
                return -ENOMEM;
        size_t n;
        if (!te || streq(te, "7bit") || streq(te, "8bit") || streq(te, "binary")) {
                memcpy(out, e->body, e->body_size);
                n = e->body_size;
        } else if (streq(te, "base64")) {
                if (decode_base64(e->body, e->body_size, out, &n) < 0)
                        return decode_error(ret_error, -EBADMSG, "invalid base64 in the body");
        } else if (streq(te, "quoted-printable")) {
                if (decode_qp(e->body, e->body_size, out, &n) < 0)
                        return decode_error(ret_error, -EBADMSG, "invalid quoted-printable in the body");
        } else
                return decode_error(ret_error, -EOPNOTSUPP,
                                    "unsupported Content-Transfer-Encoding (known: 7bit, 8bit, binary, base64, "
                                    "quoted-printable)");
        out[n] = 0;
        *ret = TAKE_PTR(out);
        *ret_size = n;
        return 0;
}

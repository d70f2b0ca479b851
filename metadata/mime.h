/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The little of MIME (RFC 2045/2046) that user data uses: a header block, multipart bodies split on
 * their boundary, base64 and quoted-printable transfer encodings. Line ends may be LF or CRLF. */

typedef struct MimeEntity {
        char *content_type;      /* "type/subtype", lower case; "text/plain" when absent */
        char *boundary;          /* multipart boundary parameter, or NULL */
        char *filename;          /* Content-Disposition filename= (or Content-Type name=), or NULL */
        char *transfer_encoding; /* lower case, or NULL */
        const char *body;        /* points into the parsed data */
        size_t body_size;
} MimeEntity;

typedef struct MimeSpan {
        const char *data;
        size_t size;
} MimeSpan;

#define MIME_PARTS_MAX 64u

void mime_entity_done(MimeEntity *e);

/* True if data starts with a MIME header (Content-Type: or MIME-Version:), the way cloud-init
 * recognises MIME user data. */
bool mime_looks_like(const char *data, size_t size);

/* Parses the header block up to the empty line. Unknown headers are ignored; a line that is not a
 * header is an error. */
int mime_parse_entity(const char *data, size_t size, MimeEntity *ret, char **ret_error);

/* Splits a multipart body into its parts (the preamble and epilogue are dropped). Errors: no
 * delimiter, a missing close delimiter (truncated user data), more than MIME_PARTS_MAX parts. */
int mime_split(const char *body, size_t size, const char *boundary, MimeSpan **ret_parts, size_t *ret_n,
               char **ret_error);

/* Undoes the entity's Content-Transfer-Encoding (7bit, 8bit, binary, base64, quoted-printable).
 * The result is NUL-terminated (not counted). */
int mime_decode_body(const MimeEntity *e, char **ret, size_t *ret_size, char **ret_error);

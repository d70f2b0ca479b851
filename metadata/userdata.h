/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "metadata/directive.h"
#include "common/sha256.h"

/* User data as EC2 serves it (already base64-decoded), turned into an ordered list of parts:
 *  - gzip (magic 1f 8b) is inflated first, to at most USERDATA_INFLATED_MAX bytes in all;
 *  - MIME (a Content-Type:/MIME-Version: header first) is split; multipart nests up to
 *    USERDATA_DEPTH_MAX levels; base64 and quoted-printable parts are decoded;
 *  - text/x-shellscript[-per-boot|-per-instance|-per-once] parts and plain "#!" user data are
 *    scripts (plain "#!" and text/x-shellscript are per-instance, as in cloud-init);
 *  - "#kernelkeeper" + JSON, as all of the user data or as a part, is a directive (validated here);
 *  - text/cloud-config and "#cloud-config" are cloud-config; other types are kept as OTHER so the
 *    caller can say what it skipped.
 * Any malformed piece fails the whole decode: nothing of half-understood user data is run. */

#define USERDATA_INFLATED_MAX (1024u * 1024u)
#define USERDATA_DEPTH_MAX 4u

typedef enum UserDataKind {
        USERDATA_SCRIPT,
        USERDATA_DIRECTIVE,
        USERDATA_CLOUD_CONFIG,
        USERDATA_OTHER,
} UserDataKind;

typedef enum UserDataFrequency {
        USERDATA_PER_INSTANCE,
        USERDATA_PER_BOOT,
        USERDATA_ONCE,
} UserDataFrequency;

typedef struct UserDataPart {
        unsigned index;              /* 1-based, in order of appearance */
        UserDataKind kind;
        UserDataFrequency frequency; /* scripts and directives */
        char *content_type;          /* declared, or what the content showed ("text/x-shellscript") */
        char *filename;              /* display only, or NULL */
        char *data;                  /* the decoded body, NUL-terminated (not counted) */
        size_t size;
        char sha256[SHA256_HEX_SIZE];/* of data: names the part in state */
        Directive *directive;        /* USERDATA_DIRECTIVE */
} UserDataPart;

typedef struct UserData {
        UserDataPart *parts;
        size_t n_parts;
        bool gzip;  /* the user data (or a part of it) was gzip-compressed */
        bool mime;
} UserData;

/* Empty (or all white space) user data decodes to no parts. On failure *ret_error (if not NULL)
 * holds one sentence that quotes no user data. */
int userdata_decode(const void *data, size_t size, UserData **ret, char **ret_error);
UserData *userdata_free(UserData *u);
static inline void userdata_freep(UserData **u)
{
        userdata_free(*u);
}

const char *userdata_kind_to_string(UserDataKind k);
const char *userdata_frequency_to_string(UserDataFrequency f);
/* -EINVAL for an unknown name */
int userdata_frequency_from_string(const char *s, UserDataFrequency *ret);

/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* A client of the EC2 instance metadata service (IMDS), shaped by what the service does in the field
 * (as measured on EC2):
 *  - IMDSv2: one PUT /latest/api/token, the token sent with every GET; a 401 re-fetches it once;
 *  - one CURL handle for the client's life, so every request rides one kept-alive connection
 *    (link-local traffic is rate limited per interface);
 *  - 503/429/5xx and "not reachable yet" are retried with bounded exponential backoff, honouring
 *    Retry-After, until one overall deadline (IMDS can take minutes to come up after launch);
 *  - a literal address only, no redirects, no proxy from the environment, capped replies;
 *  - every descriptor it (or libcurl) holds is close-on-exec: the kept-alive connection stays open
 *    while user-data scripts run, and is not theirs. (libcurl's own wakeup socketpair has no hook,
 *    so after each transfer every descriptor >= 3 of the process is marked close-on-exec.)
 * The library never prints: errors are negative errnos, the last failure is described by
 * imds_last_error(), progress goes to the optional log callback. */

typedef void (*ImdsLogFunc)(int priority, const char *message, void *userdata);

typedef struct ImdsOptions {
        const char *url;                /* http://IPV4[:PORT] or http://[IPV6][:PORT] */
        unsigned token_ttl_sec;         /* 1..21600 */
        unsigned timeout_sec;           /* overall deadline for everything this client does */
        unsigned request_timeout_msec;  /* one try (connect + reply); 0 means 3000 */
        bool allow_v1;                  /* serve without a token when the token cannot be had */
        ImdsLogFunc log_fn;             /* syslog priorities; may be NULL */
        void *log_userdata;
} ImdsOptions;

typedef struct ImdsClient ImdsClient;

/* Reply caps. EC2 serves at most 16 KiB of user data; other metadata services (OpenStack) allow
 * 64 KiB, which is the most accepted here. */
#define IMDS_USER_DATA_MAX (64u * 1024u)
#define IMDS_DOCUMENT_MAX (16u * 1024u)
#define IMDS_SMALL_MAX 1024u

/* 0 if url is http:// with a literal IPv4 or bracketed IPv6 address, an optional port and at most a
 * trailing "/"; -EINVAL otherwise (hostnames are refused: DNS/DHCP spoofing). */
int imds_url_check(const char *url);

int imds_new(const ImdsOptions *o, ImdsClient **ret);
ImdsClient *imds_free(ImdsClient *c);
static inline void imds_freep(ImdsClient **c)
{
        imds_free(*c);
}

/* GET path (absolute, e.g. "/latest/meta-data/instance-id"). The reply is NUL-terminated (not
 * counted). Errors: -ENOENT (404), -EFBIG (reply over max_size), -EACCES (403: IMDS disabled, or
 * 401 after a fresh token), -ETIMEDOUT (deadline passed while retrying), -EPROTO (redirect or an
 * unexpected reply), -EPROTONOSUPPORT (no token service and IMDSv1 not allowed), -EINVAL (the
 * service refused the token TTL). */
int imds_get(ImdsClient *c, const char *path, size_t max_size, char **ret_data, size_t *ret_size);

/* The instance id, checked to be a plain name ([A-Za-z0-9._-], at most 64 bytes): it becomes part
 * of file names. -EBADMSG otherwise. */
int imds_instance_id(ImdsClient *c, char **ret);
/* The instance-identity document (a JSON object); -EBADMSG if it is not one. */
int imds_identity_document(ImdsClient *c, json_t **ret);
/* The user data: 0 and *ret_data = NULL, *ret_size = 0 when there is none (404, not retried);
 * -EFBIG over IMDS_USER_DATA_MAX. */
int imds_user_data(ImdsClient *c, char **ret_data, size_t *ret_size);

/* The last failure in words ("HTTP 503", "Connection refused"...), for the caller's error line. */
const char *imds_last_error(const ImdsClient *c);
/* Requests sent so far (tries included) */
unsigned imds_requests(const ImdsClient *c);

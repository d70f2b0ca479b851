/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include "metadata/curl-loader.h"
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "metadata/imds.h"

#define TOKEN_PATH "/latest/api/token"
#define TOKEN_MAX 256u
#define BACKOFF_FIRST_MSEC 100u
#define BACKOFF_MAX_MSEC 5000u
/* with no route to the service yet, a try costs nothing (no packet leaves): wait for the next
 * address or route change, but try again at least this often */
#define NO_ROUTE_POLL_MSEC 1000u
/* a Retry-After beyond this is treated as this: the deadline bounds the wait anyway */
#define RETRY_AFTER_MAX_SEC 60u

static inline void curl_easy_cleanupp(CURL **c)
{
        if (*c)
                kk_curl.easy_cleanup(*c);
}
static inline void curl_slist_free_allp(struct curl_slist **l)
{
        kk_curl.slist_free_all(*l);
}
#define _cleanup_curl_ _cleanup_(curl_easy_cleanupp)
#define _cleanup_slist_ _cleanup_(curl_slist_free_allp)

struct ImdsClient {
        CURL *curl;
        char *base;             /* the checked URL without a trailing slash */
        char *token;            /* NULL until fetched, or in IMDSv1 mode */
        bool v1;                /* the token service is unavailable and IMDSv1 is allowed */
        unsigned token_ttl_sec;
        unsigned request_timeout_msec;
        bool allow_v1;
        long long deadline_msec;     /* CLOCK_MONOTONIC */
        long long token_refresh_msec; /* renew the token before it expires on a long run */
        unsigned n_requests;
        int route_fd;                /* rtnetlink, opened the first time there is no route */
        char error[256];
        ImdsLogFunc log_fn;
        void *log_userdata;
};

static long long now_msec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say(ImdsClient *c, int priority, const char *fmt, ...) _printf_(3, 4);
static void say(ImdsClient *c, int priority, const char *fmt, ...)
{
        if (!c->log_fn)
                return;
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        c->log_fn(priority, buf, c->log_userdata);
}

static void set_error(ImdsClient *c, const char *fmt, ...) _printf_(2, 3);
static void set_error(ImdsClient *c, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->error, sizeof c->error, fmt, ap);
        va_end(ap);
}

int imds_url_check(const char *url)
{
        if (!url || strncmp(url, "http://", 7) != 0)
                return -EINVAL;
        const char *host = url + 7, *after;
        char addr[INET6_ADDRSTRLEN + 1];
        unsigned char bin[16];
        if (*host == '[') {
                const char *close = strchr(host, ']');
                if (!close || (size_t) (close - host - 1) >= sizeof addr)
                        return -EINVAL;
                memcpy(addr, host + 1, (size_t) (close - host - 1));
                addr[close - host - 1] = 0;
                if (inet_pton(AF_INET6, addr, bin) != 1)
                        return -EINVAL;
                after = close + 1;
        } else {
                size_t n = strcspn(host, ":/");
                if (n == 0 || n >= sizeof addr)
                        return -EINVAL;
                memcpy(addr, host, n);
                addr[n] = 0;
                /* inet_pton accepts only the dotted quad, not "1" or "0x7f.1" */
                if (inet_pton(AF_INET, addr, bin) != 1)
                        return -EINVAL;
                after = host + n;
        }
        if (*after == ':') {
                unsigned long port = 0;
                const char *p = after + 1;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                for (; *p >= '0' && *p <= '9'; p++)
                        if ((port = port * 10 + (unsigned long) (*p - '0')) > 65535)
                                return -EINVAL;
                if (port == 0)
                        return -EINVAL;
                after = p;
        }
        if (after[0] == '/' && after[1] == 0)
                return 0;
        return *after ? -EINVAL : 0;
}

int imds_new(const ImdsOptions *o, ImdsClient **ret)
{
        if (imds_url_check(o->url) < 0 || o->token_ttl_sec < 1 || o->token_ttl_sec > 21600)
                return -EINVAL;
        int r = curl_load();
        if (r < 0)
                return r;
        ImdsClient *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->route_fd = -EBADF;
        c->base = strdup(o->url);
        c->curl = kk_curl.easy_init();
        if (!c->base || !c->curl) {
                imds_free(c);
                return -ENOMEM;
        }
        size_t n = strlen(c->base);
        if (n > 0 && c->base[n - 1] == '/')
                c->base[n - 1] = 0;
        c->token_ttl_sec = o->token_ttl_sec;
        c->request_timeout_msec = o->request_timeout_msec ? o->request_timeout_msec : 3000;
        c->allow_v1 = o->allow_v1;
        c->deadline_msec = now_msec() + (long long) o->timeout_sec * 1000;
        c->log_fn = o->log_fn;
        c->log_userdata = o->log_userdata;
        *ret = c;
        return 0;
}

ImdsClient *imds_free(ImdsClient *c)
{
        if (!c)
                return NULL;
        if (c->curl)
                kk_curl.easy_cleanup(c->curl);
        free(c->base);
        if (c->route_fd >= 0)
                close(c->route_fd);
        if (c->token)
                explicit_bzero(c->token, strlen(c->token));
        free(c->token);
        free(c);
        return NULL;
}

const char *imds_last_error(const ImdsClient *c)
{
        return c->error[0] ? c->error : "no error";
}

unsigned imds_requests(const ImdsClient *c)
{
        return c->n_requests;
}

typedef struct Reply {
        char *data;
        size_t size, max;
        bool too_big;
} Reply;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        Reply *b = userdata;
        size_t n = size * nmemb;
        if (n > b->max - b->size) {
                b->too_big = true;
                return 0; /* aborts the transfer */
        }
        char *d = realloc(b->data, b->size + n + 1);
        if (!d)
                return 0;
        memcpy(d + b->size, ptr, n);
        b->size += n;
        d[b->size] = 0;
        b->data = d;
        return n;
}

static size_t on_upload(char *buffer, size_t size, size_t nitems, void *userdata)
{
        return 0; /* the token PUT has no body */
}

/* libcurl's sockets, made close-on-exec from the start: the kept-alive connection to the metadata
 * service stays open while user-data scripts run, and must not be theirs. */
static curl_socket_t open_socket(void *userdata, curlsocktype purpose, struct curl_sockaddr *a)
{
        return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

typedef enum TryResult {
        TRY_REPLY,     /* an HTTP status arrived (in *ret_status) */
        TRY_TRANSIENT, /* nothing arrived: refused, reset, timed out; worth retrying */
        TRY_TIMEOUT,   /* as TRY_TRANSIENT, but the try ran out of time (a dropped packet) */
        TRY_NO_ROUTE,  /* nothing left the machine: no address or route towards the service yet */
} TryResult;

/* One request on the kept-alive handle. The handle is reset (connections survive a reset) so no
 * option of a previous request leaks into this one. */
static int try_once(ImdsClient *c, bool put, const char *path, size_t max_size, Reply *reply, long *ret_status,
                    long *ret_retry_after, TryResult *ret_result)
{
        _cleanup_free_ char *url = NULL, *token_header = NULL, *ttl_header = NULL;
        _cleanup_slist_ struct curl_slist *headers = NULL;
        if (asprintf(&url, "%s%s", c->base, path) < 0)
                return -ENOMEM;

        long long left = c->deadline_msec - now_msec();
        if (left <= 0)
                return -ETIMEDOUT;
        long timeout = (long) MIN((long long) c->request_timeout_msec, left);

        struct curl_slist *h;
        if (put) {
                if (asprintf(&ttl_header, "X-aws-ec2-metadata-token-ttl-seconds: %u", c->token_ttl_sec) < 0)
                        return -ENOMEM;
                if (!(h = kk_curl.slist_append(headers, ttl_header)))
                        return -ENOMEM;
                headers = h;
        } else if (c->token) {
                if (asprintf(&token_header, "X-aws-ec2-metadata-token: %s", c->token) < 0)
                        return -ENOMEM;
                if (!(h = kk_curl.slist_append(headers, token_header)))
                        return -ENOMEM;
                headers = h;
        }
        /* no "Expect: 100-continue" round trip, no "Accept: *" noise */
        if (!(h = kk_curl.slist_append(headers, "Expect:")))
                return -ENOMEM;
        headers = h;

        CURL *e = c->curl;
        kk_curl.easy_reset(e);
        bool ok = kk_curl.easy_setopt(e, CURLOPT_URL, url) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http") == CURLE_OK &&
                  /* a proxy from the environment would see the token and could answer for IMDS */
                  kk_curl.easy_setopt(e, CURLOPT_PROXY, "") == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_NOPROXY, "*") == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) max_size) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_HTTPHEADER, headers) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_WRITEDATA, reply) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_USERAGENT, "kernelkeeper/" PACKAGE_VERSION) == CURLE_OK;
        if (ok && put)
                ok = kk_curl.easy_setopt(e, CURLOPT_UPLOAD, 1L) == CURLE_OK &&
                     kk_curl.easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t) 0) == CURLE_OK &&
                     kk_curl.easy_setopt(e, CURLOPT_READFUNCTION, on_upload) == CURLE_OK;
        if (!ok) {
                set_error(c, "cannot set up the HTTP request");
                return -EIO;
        }

        *reply = (Reply){ .max = max_size };
        c->n_requests++;
        CURLcode cc = kk_curl.easy_perform(e);
        /* libcurl (7.88) creates its transfer loop's wakeup socketpair without SOCK_CLOEXEC, and
         * offers no hook for it: mark it, and whatever else it opened, once it is there */
        (void) fd_cloexec_from(3);
        if (cc != CURLE_OK) {
                free(reply->data);
                bool too_big = reply->too_big || cc == CURLE_FILESIZE_EXCEEDED;
                *reply = (Reply){};
                if (too_big) {
                        set_error(c, "%s: reply larger than %zu bytes", path, max_size);
                        return -EFBIG;
                }
                set_error(c, "%s", kk_curl.easy_strerror(cc));
                long os_errno = 0;
                (void) kk_curl.easy_getinfo(e, CURLINFO_OS_ERRNO, &os_errno);
                *ret_result = cc == CURLE_OPERATION_TIMEDOUT ? TRY_TIMEOUT
                              : cc == CURLE_COULDNT_CONNECT && (os_errno == ENETUNREACH || os_errno == EADDRNOTAVAIL)
                                      ? TRY_NO_ROUTE
                                      : TRY_TRANSIENT;
                return 0;
        }
        long status = 0;
        curl_off_t retry_after = 0;
        (void) kk_curl.easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        if (kk_curl.easy_getinfo(e, CURLINFO_RETRY_AFTER, &retry_after) != CURLE_OK || retry_after < 0)
                retry_after = 0;
        *ret_status = status;
        *ret_retry_after = (long) MIN(retry_after, (curl_off_t) RETRY_AFTER_MAX_SEC);
        *ret_result = TRY_REPLY;
        return 0;
}

/* Sleeps before the next try: Retry-After if the service gave one, else the backoff step. Fails with
 * -ETIMEDOUT when the wait would pass the deadline (no point sleeping into a failure). */
static int wait_retry(ImdsClient *c, unsigned *backoff_msec, long retry_after_sec)
{
        long long wait = retry_after_sec > 0 ? (long long) retry_after_sec * 1000 : *backoff_msec;
        *backoff_msec = MIN(*backoff_msec * 2, BACKOFF_MAX_MSEC);
        long long left = c->deadline_msec - now_msec();
        if (wait >= left) {
                say(c, LOG_DEBUG, "IMDS: giving up, the deadline is %lld ms away (%s)", left, c->error);
                return -ETIMEDOUT;
        }
        struct timespec ts = { .tv_sec = wait / 1000, .tv_nsec = (wait % 1000) * 1000000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
        return 0;
}

static bool status_transient(long status)
{
        return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

static bool token_ok(const char *t, size_t n)
{
        if (n == 0 || n > TOKEN_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (t[i] <= ' ' || t[i] > '~')
                        return false; /* it goes into a header line */
        return true;
}

/* No route to the service yet (the interface has no lease): the first time, subscribe to address
 * and route changes and try again at once (a change between the failed try and the subscription is
 * not lost); then wait for the next change, at most NO_ROUTE_POLL_MSEC. So the first request leaves
 * as soon as the lease is configured, without a backoff step in between. -ETIMEDOUT at the
 * deadline. */
static int wait_route(ImdsClient *c)
{
        long long left = c->deadline_msec - now_msec();
        if (left <= 0)
                return -ETIMEDOUT;
        if (c->route_fd == -EBADF) {
                int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
                struct sockaddr_nl a = { .nl_family = AF_NETLINK,
                                         .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE };
                if (fd >= 0 && bind(fd, (struct sockaddr *) &a, sizeof a) < 0) {
                        close(fd);
                        fd = -1;
                }
                /* without netlink: a try every NO_ROUTE_POLL_MSEC */
                c->route_fd = fd >= 0 ? fd : -EAFNOSUPPORT;
                if (fd >= 0)
                        return 0;
        }
        struct pollfd p = { .fd = c->route_fd >= 0 ? c->route_fd : -1, .events = POLLIN };
        if (poll(&p, 1, (int) MIN(left, (long long) NO_ROUTE_POLL_MSEC)) > 0 && c->route_fd >= 0) {
                char buf[8192];
                while (recv(c->route_fd, buf, sizeof buf, 0) > 0)
                        ;
        }
        return 0;
}

/* PUT /latest/api/token until a token arrives, the service says it has none (IMDSv1 fallback when
 * allowed) or the deadline passes. */
static int fetch_token(ImdsClient *c)
{
        unsigned backoff = BACKOFF_FIRST_MSEC;
        for (;;) {
                Reply reply;
                long status = 0, retry_after = 0;
                TryResult res;
                int r = try_once(c, true, TOKEN_PATH, TOKEN_MAX, &reply, &status, &retry_after, &res);
                if (r < 0)
                        return r;
                _cleanup_free_ char *body = reply.data;
                if (res == TRY_TIMEOUT && c->allow_v1) {
                        /* the PUT reply is the one held back by the hop limit; plain GETs may work */
                        say(c, LOG_NOTICE, "IMDS: no reply to the token request (%s), using IMDSv1", c->error);
                        c->v1 = true;
                        return 0;
                }
                if (res == TRY_NO_ROUTE) {
                        if (c->route_fd == -EBADF)
                                say(c, LOG_INFO, "IMDS: no route yet (%s), waiting for the network", c->error);
                        if ((r = wait_route(c)) < 0)
                                return r;
                        continue;
                }
                if (res != TRY_REPLY) {
                        say(c, LOG_INFO, "IMDS: not reachable yet (%s), retrying", c->error);
                        if ((r = wait_retry(c, &backoff, 0)) < 0)
                                return r;
                        continue;
                }
                if (status == 200) {
                        if (!body || !token_ok(body, reply.size)) {
                                set_error(c, "the token service sent a malformed token");
                                return -EPROTO;
                        }
                        free(c->token);
                        c->token = TAKE_PTR(body);
                        c->v1 = false;
                        /* renew early on a long run: the service counts from its own clock */
                        c->token_refresh_msec = now_msec() + (long long) c->token_ttl_sec * 1000 * 9 / 10;
                        say(c, LOG_DEBUG, "IMDS: token fetched (TTL %u s)", c->token_ttl_sec);
                        return 0;
                }
                set_error(c, "HTTP %ld on PUT %s", status, TOKEN_PATH);
                if (status_transient(status)) {
                        say(c, LOG_INFO, "IMDS: busy (%s), retrying", c->error);
                        if ((r = wait_retry(c, &backoff, retry_after)) < 0)
                                return r;
                        continue;
                }
                if ((status == 404 || status == 405) && c->allow_v1) {
                        say(c, LOG_NOTICE, "IMDS: no token service (HTTP %ld), using IMDSv1", status);
                        c->v1 = true;
                        return 0;
                }
                if (status == 404 || status == 405)
                        return -EPROTONOSUPPORT;
                if (status == 400)
                        return -EINVAL;
                if (status == 403)
                        return -EACCES;
                return -EPROTO;
        }
}

int imds_get(ImdsClient *c, const char *path, size_t max_size, char **ret_data, size_t *ret_size)
{
        if (!path || path[0] != '/')
                return -EINVAL;
        unsigned backoff = BACKOFF_FIRST_MSEC;
        bool refetched = false;
        int r;
        for (;;) {
                if (c->token && now_msec() >= c->token_refresh_msec) {
                        free(c->token);
                        c->token = NULL;
                }
                if (!c->token && !c->v1 && (r = fetch_token(c)) < 0)
                        return r;

                Reply reply;
                long status = 0, retry_after = 0;
                TryResult res;
                r = try_once(c, false, path, max_size, &reply, &status, &retry_after, &res);
                if (r < 0)
                        return r;
                _cleanup_free_ char *body = reply.data;
                if (res == TRY_NO_ROUTE) {
                        if ((r = wait_route(c)) < 0)
                                return r;
                        continue;
                }
                if (res != TRY_REPLY) {
                        say(c, LOG_INFO, "IMDS: GET %s failed (%s), retrying", path, c->error);
                        if ((r = wait_retry(c, &backoff, 0)) < 0)
                                return r;
                        continue;
                }
                switch (status) {
                case 200:
                        if (!body && !(body = strdup("")))
                                return -ENOMEM;
                        *ret_size = reply.size;
                        *ret_data = TAKE_PTR(body);
                        return 0;
                case 404:
                        set_error(c, "HTTP 404 on GET %s", path);
                        return -ENOENT;
                case 401:
                        set_error(c, "HTTP 401 on GET %s", path);
                        if (refetched)
                                return -EACCES;
                        /* expired or revoked, or IMDSv2 became required: one fresh token, one retry */
                        say(c, LOG_DEBUG, "IMDS: token refused on %s, fetching a new one", path);
                        refetched = true;
                        free(c->token);
                        c->token = NULL;
                        c->v1 = false;
                        continue;
                case 403:
                        set_error(c, "HTTP 403 on GET %s (the metadata service is disabled or not allowed)", path);
                        return -EACCES;
                default:
                        set_error(c, "HTTP %ld on GET %s", status, path);
                        if (status_transient(status)) {
                                say(c, LOG_INFO, "IMDS: busy (%s), retrying", c->error);
                                if ((r = wait_retry(c, &backoff, retry_after)) < 0)
                                        return r;
                                continue;
                        }
                        /* a 3xx lands here too: redirects are never followed */
                        return -EPROTO;
                }
        }
}

int imds_instance_id(ImdsClient *c, char **ret)
{
        _cleanup_free_ char *id = NULL;
        size_t n;
        int r = imds_get(c, "/latest/meta-data/instance-id", IMDS_SMALL_MAX, &id, &n);
        if (r < 0)
                return r;
        while (n > 0 && (id[n - 1] == '\n' || id[n - 1] == '\r'))
                id[--n] = 0;
        bool good = n > 0 && n <= 64 && id[0] != '.';
        for (size_t i = 0; good && i < n; i++)
                good = (id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
                       (id[i] >= '0' && id[i] <= '9') || id[i] == '-' || id[i] == '_' || id[i] == '.';
        if (!good) {
                set_error(c, "the instance id is not a plain name");
                return -EBADMSG;
        }
        *ret = TAKE_PTR(id);
        return 0;
}

int imds_identity_document(ImdsClient *c, json_t **ret)
{
        _cleanup_free_ char *doc = NULL;
        size_t n;
        int r = imds_get(c, "/latest/dynamic/instance-identity/document", IMDS_DOCUMENT_MAX, &doc, &n);
        if (r < 0)
                return r;
        json_error_t err;
        json_t *j = json_loadb(doc, n, JSON_REJECT_DUPLICATES, &err);
        if (!j || !json_is_object(j)) {
                json_decref(j);
                set_error(c, "the instance-identity document is not a JSON object");
                return -EBADMSG;
        }
        *ret = j;
        return 0;
}

int imds_user_data(ImdsClient *c, char **ret_data, size_t *ret_size)
{
        char *d = NULL;
        size_t n = 0;
        int r = imds_get(c, "/latest/user-data", IMDS_USER_DATA_MAX, &d, &n);
        if (r == -ENOENT) {
                *ret_data = NULL;
                *ret_size = 0;
                return 0;
        }
        if (r < 0)
                return r;
        *ret_data = d;
        *ret_size = n;
        return 0;
}

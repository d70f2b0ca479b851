/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fd-util.h"
#include "common/fileio.h"
#include "common/macro.h"
#include "metadata/curl-loader.h"
#include "metadata/decode-error.h"
#include "metadata/download.h"

typedef struct Sink {
        int fd;
        Sha256 *hash;
        uint64_t size, max;
        int error;
} Sink;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        Sink *s = userdata;
        size_t n = size * nmemb;
        if (n > s->max - s->size) {
                s->error = -EFBIG;
                return 0;
        }
        int r = loop_write(s->fd, ptr, n);
        if (r >= 0)
                r = sha256_update(s->hash, ptr, n);
        if (r < 0) {
                s->error = r;
                return 0;
        }
        s->size += n;
        return n;
}

int download_to_fd(const char *url, int fd, uint64_t max_size, char ret_sha256[SHA256_HEX_SIZE], uint64_t *ret_size,
                   char **ret_error)
{
        int r = curl_load();
        if (r < 0)
                return decode_error(ret_error, r, "libcurl.so.4 %s", r == -ENOENT ? "is not installed" : "cannot be used");
        _cleanup_(sha256_freep) Sha256 *h = NULL;
        if ((r = sha256_new(&h)) < 0)
                return decode_error(ret_error, r, "libcrypto.so.3 %s", r == -ENOENT ? "is not installed" : "cannot be used");
        CURL *e = kk_curl.easy_init();
        if (!e)
                return -ENOMEM;
        Sink sink = { .fd = fd, .hash = h, .max = max_size };
        bool ok = kk_curl.easy_setopt(e, CURLOPT_URL, url) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_MAXREDIRS, 5L) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_FAILONERROR, 1L) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 30L) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1024L) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 60L) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) max_size) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_WRITEDATA, &sink) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_USERAGENT, "kernelkeeper/" PACKAGE_VERSION) == CURLE_OK;
        if (!ok) {
                kk_curl.easy_cleanup(e);
                return decode_error(ret_error, -EIO, "cannot set up the HTTP request");
        }
        CURLcode cc = kk_curl.easy_perform(e);
        long status = 0;
        (void) kk_curl.easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        kk_curl.easy_cleanup(e);
        (void) fd_cloexec_from(3);
        if (sink.error == -EFBIG || cc == CURLE_FILESIZE_EXCEEDED)
                return decode_error(ret_error, -EFBIG, "larger than %" PRIu64 " MiB", max_size >> 20);
        if (sink.error < 0)
                return decode_error(ret_error, sink.error, "cannot store it: %s", strerror(-sink.error));
        if (cc == CURLE_HTTP_RETURNED_ERROR)
                return decode_error(ret_error, -EPROTO, "HTTP status %ld", status);
        if (cc != CURLE_OK)
                return decode_error(ret_error, -EIO, "%s after %" PRIu64 " bytes", kk_curl.easy_strerror(cc), sink.size);
        if ((r = sha256_final_hex(h, ret_sha256)) < 0)
                return decode_error(ret_error, r, "libcrypto failed");
        *ret_size = sink.size;
        return 0;
}

char *download_url_shown(const char *url)
{
        return strndup(url, strcspn(url, "?#"));
}

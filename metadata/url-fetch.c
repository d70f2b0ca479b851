/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "common/fileio.h"
#include "common/macro.h"
#include "metadata/curl-loader.h"
#include "metadata/url-fetch.h"

typedef struct Sink {
        int fd;
        size_t size, max;
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
        if (r < 0) {
                s->error = r;
                return 0;
        }
        s->size += n;
        return n;
}

static void easy_cleanupp(CURL **e)
{
        if (*e)
                kk_curl.easy_cleanup(*e);
}

int url_fetch_to_fd(const char *url, int fd, size_t max_size, long *ret_status, char **ret_error)
{
        int r = curl_load();
        if (r < 0)
                return r;
        _cleanup_(easy_cleanupp) CURL *e = kk_curl.easy_init();
        if (!e)
                return -ENOMEM;
        Sink s = { .fd = fd, .max = max_size };
        bool ok = kk_curl.easy_setopt(e, CURLOPT_URL, url) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_MAXREDIRS, 5L) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_TIMEOUT_MS, 300000L) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 30000L) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) max_size) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_WRITEDATA, &s) == CURLE_OK &&
                  kk_curl.easy_setopt(e, CURLOPT_USERAGENT, "kernelkeeper/" PACKAGE_VERSION) == CURLE_OK;
        if (!ok)
                return -EIO;
        CURLcode c = kk_curl.easy_perform(e);
        if (s.error)
                return s.error;
        if (c == CURLE_FILESIZE_EXCEEDED)
                return -EFBIG;
        if (c != CURLE_OK) {
                if (ret_error)
                        *ret_error = strdup(kk_curl.easy_strerror(c));
                return -EIO;
        }
        long status = 0;
        kk_curl.easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        if (ret_status)
                *ret_status = status;
        return status == 200 ? 0 : -EPROTO;
}

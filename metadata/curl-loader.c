/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdbool.h>

#include "common/dlopen-util.h"
#include "common/macro.h"
#include "metadata/curl-loader.h"

CurlFunctions kk_curl;

int curl_load(void)
{
        static int state = 1; /* 1: not tried, 0: loaded, <0: the error */
        if (state <= 0)
                return state;

        const DlSym syms[] = {
                { (void **) &kk_curl.global_init, "curl_global_init" },
                { (void **) &kk_curl.easy_init, "curl_easy_init" },
                { (void **) &kk_curl.easy_cleanup, "curl_easy_cleanup" },
                { (void **) &kk_curl.easy_reset, "curl_easy_reset" },
                { (void **) &kk_curl.easy_setopt, "curl_easy_setopt" },
                { (void **) &kk_curl.easy_getinfo, "curl_easy_getinfo" },
                { (void **) &kk_curl.easy_perform, "curl_easy_perform" },
                { (void **) &kk_curl.easy_strerror, "curl_easy_strerror" },
                { (void **) &kk_curl.slist_append, "curl_slist_append" },
                { (void **) &kk_curl.slist_free_all, "curl_slist_free_all" },
        };
        int r = dlopen_symbols("libcurl.so.4", syms, ELEMENTSOF(syms));
        if (r < 0)
                return state = r;
        /* the handle stays open for the life of the process, as libcurl expects */
        if (kk_curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return state = -EIO;
        return state = 0;
}

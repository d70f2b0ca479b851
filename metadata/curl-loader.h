/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <curl/curl.h>

/* libcurl is loaded on first use, so the guardian daemon, which never talks to the metadata
 * service, maps none of libcurl's thirty-odd shared libraries (its idle RSS is a target). */
typedef struct CurlFunctions {
        CURLcode (*global_init)(long flags);
        CURL *(*easy_init)(void);
        void (*easy_cleanup)(CURL *curl);
        void (*easy_reset)(CURL *curl);
        CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
        CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
        CURLcode (*easy_perform)(CURL *curl);
        const char *(*easy_strerror)(CURLcode code);
        struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
        void (*slist_free_all)(struct curl_slist *list);
} CurlFunctions;

extern CurlFunctions kk_curl;

/* Loads libcurl.so.4 and curl_global_init()s it once. -ENOENT if the library is not installed,
 * -ELIBBAD if a symbol is missing, -EIO if libcurl fails to initialise. */
int curl_load(void);

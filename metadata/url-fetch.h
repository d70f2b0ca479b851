/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

/* Downloads an http:// or https:// URL into fd (libcurl, loaded on first use): at most max_size
 * bytes, redirects only to http(s), a 5-minute limit. Errors: -ENOENT no libcurl, -EFBIG over
 * max_size, -EPROTO an HTTP status other than 200 (*ret_status), -EIO any other transfer failure
 * (*ret_error: curl's text, which names no part of the URL's query). */
int url_fetch_to_fd(const char *url, int fd, size_t max_size, long *ret_status, char **ret_error);

/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>

#include "common/sha256.h"

/* Downloads url (http:// or https://, at most 5 redirects between them) into fd with libcurl (loaded
 * on first use), hashing every byte with SHA-256 as it arrives. A reply larger than max_size is cut
 * off (-EFBIG); a transfer shorter than its Content-Length or a stalled one (under 1 KiB/s for
 * 60 s) fails. Errors: -ENOENT libcurl is not installed, -EFBIG, -EPROTO an HTTP error status,
 * -EIO a transfer error; *ret_error (may be NULL) the problem in words. The hash is of what was
 * written, for the caller to compare before it uses a byte of it. */
int download_to_fd(const char *url, int fd, uint64_t max_size, char ret_sha256[SHA256_HEX_SIZE], uint64_t *ret_size,
                   char **ret_error);

/* The URL as it may be shown, logged and kept: without its query or fragment (a presigned URL's
 * token). NULL on ENOMEM. */
char *download_url_shown(const char *url);

/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SHA-256 from libcrypto (OpenSSL's EVP interface), loaded with dlopen() on first use like libcurl
 * (metadata/curl-loader.c): the guardian daemon never hashes, so it maps none of libcrypto.
 * Errors: -ENOENT libcrypto.so.3 is not installed, -ELIBBAD a symbol is missing, -ENOMEM,
 * -EIO libcrypto failed. */
#define SHA256_DIGEST_SIZE 32
#define SHA256_HEX_SIZE (SHA256_DIGEST_SIZE * 2 + 1)

typedef struct Sha256 Sha256;

int sha256_new(Sha256 **ret);
int sha256_update(Sha256 *h, const void *data, size_t size);
/* lower-case hex, NUL-terminated; the context may then be freed only */
int sha256_final_hex(Sha256 *h, char ret_hex[SHA256_HEX_SIZE]);
Sha256 *sha256_free(Sha256 *h);
static inline void sha256_freep(Sha256 **h)
{
        sha256_free(*h);
}

/* One-shot hash of a buffer. */
int sha256_hex(const void *data, size_t size, char ret_hex[SHA256_HEX_SIZE]);
/* True if s is 64 hex digits (either case). */
bool sha256_hex_valid(const char *s);

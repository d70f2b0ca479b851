/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* SHA-256 (FIPS 180-4), enough to name user-data parts; written here so the library needs no crypto
 * dependency for a content hash. */
#define SHA256_DIGEST_SIZE 32
#define SHA256_HEX_SIZE (SHA256_DIGEST_SIZE * 2 + 1)

void sha256(const void *data, size_t size, uint8_t ret_digest[SHA256_DIGEST_SIZE]);
/* lower-case hex, NUL-terminated */
void sha256_hex(const void *data, size_t size, char ret_hex[SHA256_HEX_SIZE]);

/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto-loader.h"
#include "common/macro.h"
#include "common/sha256.h"

struct Sha256 {
        EVP_MD_CTX *ctx;
};

int sha256_new(Sha256 **ret)
{
        int r = crypto_load();
        if (r < 0)
                return r;
        _cleanup_(sha256_freep) Sha256 *h = calloc(1, sizeof *h);
        if (!h || !(h->ctx = kk_crypto.EVP_MD_CTX_new()))
                return -ENOMEM;
        if (kk_crypto.EVP_DigestInit_ex(h->ctx, kk_crypto.EVP_sha256(), NULL) != 1)
                return -EIO;
        *ret = TAKE_PTR(h);
        return 0;
}

int sha256_update(Sha256 *h, const void *data, size_t size)
{
        return kk_crypto.EVP_DigestUpdate(h->ctx, data, size) == 1 ? 0 : -EIO;
}

int sha256_final_hex(Sha256 *h, char ret_hex[SHA256_HEX_SIZE])
{
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        if (kk_crypto.EVP_DigestFinal_ex(h->ctx, d, &n) != 1 || n != SHA256_DIGEST_SIZE)
                return -EIO;
        for (unsigned i = 0; i < n; i++)
                snprintf(ret_hex + 2 * i, 3, "%02x", d[i]);
        return 0;
}

Sha256 *sha256_free(Sha256 *h)
{
        if (!h)
                return NULL;
        if (h->ctx)
                kk_crypto.EVP_MD_CTX_free(h->ctx);
        free(h);
        return NULL;
}

int sha256_hex(const void *data, size_t size, char ret_hex[SHA256_HEX_SIZE])
{
        _cleanup_(sha256_freep) Sha256 *h = NULL;
        int r = sha256_new(&h);
        if (r >= 0)
                r = sha256_update(h, data, size);
        if (r >= 0)
                r = sha256_final_hex(h, ret_hex);
        return r;
}

bool sha256_hex_valid(const char *s)
{
        size_t n = 0;
        for (; s && s[n]; n++)
                if (!strchr("0123456789abcdefABCDEF", s[n]))
                        return false;
        return n == 64;
}

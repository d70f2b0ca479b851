/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <openssl/evp.h>

/* libcrypto (libcrypto.so.3), loaded on first use: the digest functions SHA-256 needs
 * (common/sha256.c) and the X.509/PKCS#7 ones module signatures need (modules/module-sig.c), one
 * open and one table. The X.509/PKCS#7 objects are opaque pointers here (no more OpenSSL headers). */
typedef struct CryptoFunctions {
        EVP_MD_CTX *(*EVP_MD_CTX_new)(void);
        void (*EVP_MD_CTX_free)(EVP_MD_CTX *ctx);
        const EVP_MD *(*EVP_sha256)(void);
        int (*EVP_DigestInit_ex)(EVP_MD_CTX *ctx, const EVP_MD *type, ENGINE *impl);
        int (*EVP_DigestUpdate)(EVP_MD_CTX *ctx, const void *d, size_t cnt);
        int (*EVP_DigestFinal_ex)(EVP_MD_CTX *ctx, unsigned char *md, unsigned int *s);

        void *(*d2i_X509)(void **a, const unsigned char **in, long len);
        void (*X509_free)(void *x);
        void *(*X509_get_subject_name)(const void *x);
        char *(*X509_NAME_oneline)(const void *name, char *buf, int size);
        void *(*d2i_PKCS7)(void **a, const unsigned char **in, long len);
        void (*PKCS7_free)(void *p7);
        int (*PKCS7_verify)(void *p7, void *certs, void *store, void *indata, void *out, int flags);
        void *(*PKCS7_get0_signers)(void *p7, void *certs, int flags);
        void *(*BIO_new_mem_buf)(const void *buf, int len);
        int (*BIO_free)(void *b);
        void *(*PEM_read_bio_X509)(void *bp, void **x, void *cb, void *u);
        void *(*X509_STORE_new)(void);
        void (*X509_STORE_free)(void *s);
        void *(*OPENSSL_sk_new_null)(void);
        int (*OPENSSL_sk_push)(void *sk, const void *data);
        void (*OPENSSL_sk_free)(void *sk);
        void (*ERR_clear_error)(void);
        void (*CRYPTO_free)(void *p, const char *file, int line);
} CryptoFunctions;

extern CryptoFunctions kk_crypto;

/* Loads libcrypto.so.3 once per process (later calls return the first result): 0, -ENOENT the
 * library is not installed, -ELIBBAD a symbol is missing. */
int crypto_load(void);

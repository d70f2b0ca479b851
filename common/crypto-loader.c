/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "common/crypto-loader.h"
#include "common/dlopen-util.h"
#include "common/macro.h"

CryptoFunctions kk_crypto;

int crypto_load(void)
{
        static int state = 1; /* 1: not tried, 0: loaded, <0: the error */
        if (state <= 0)
                return state;
        static const DlSym syms[] = {
#define SYM(n) { (void **) &kk_crypto.n, #n }
                SYM(EVP_MD_CTX_new), SYM(EVP_MD_CTX_free), SYM(EVP_sha256), SYM(EVP_DigestInit_ex),
                SYM(EVP_DigestUpdate), SYM(EVP_DigestFinal_ex),
                SYM(d2i_X509), SYM(X509_free), SYM(X509_get_subject_name), SYM(X509_NAME_oneline),
                SYM(d2i_PKCS7), SYM(PKCS7_free), SYM(PKCS7_verify), SYM(PKCS7_get0_signers),
                SYM(BIO_new_mem_buf), SYM(BIO_free), SYM(PEM_read_bio_X509), SYM(X509_STORE_new),
                SYM(X509_STORE_free), SYM(OPENSSL_sk_new_null), SYM(OPENSSL_sk_push), SYM(OPENSSL_sk_free),
                SYM(ERR_clear_error), SYM(CRYPTO_free),
#undef SYM
        };
        return state = dlopen_symbols("libcrypto.so.3", syms, ELEMENTSOF(syms));
}

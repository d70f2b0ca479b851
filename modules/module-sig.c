/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libcrypto through common/crypto-loader.h, its X.509/PKCS#7 objects as opaque pointers. */
#include <errno.h>
#include <lzma.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/crypto-loader.h"
#include "common/macro.h"
#include "common/unaligned.h"
#include "modules/module-sig.h"

#define CERTS_MAX 32
#define VMLINUX_MAX (512u * 1024 * 1024)

/* from <openssl/pkcs7.h> */
#define PKCS7_NOINTERN 0x10
#define PKCS7_NOVERIFY 0x20
#define PKCS7_BINARY 0x80

static int crypto_load_sig(void)
{
        int r = crypto_load();
        return r == -ENOENT ? -ELIBACC : r;
}

struct ModuleCerts {
        void *x509[CERTS_MAX];
        size_t n;
};

ModuleCerts *module_certs_free(ModuleCerts *m)
{
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n; i++)
                kk_crypto.X509_free(m->x509[i]);
        free(m);
        return NULL;
}

size_t module_certs_count(const ModuleCerts *m)
{
        return m ? m->n : 0;
}

char *module_certs_subject(const ModuleCerts *m, size_t i)
{
        if (!m || i >= m->n)
                return NULL;
        char *s = kk_crypto.X509_NAME_oneline(kk_crypto.X509_get_subject_name(m->x509[i]), NULL, 0);
        char *r = s ? strdup(s) : NULL;
        if (s)
                kk_crypto.CRYPTO_free(s, __FILE__, __LINE__);
        return r;
}

/* DER certificates where a SEQUENCE { SEQUENCE ...} starts: 30 82 LL LL 30 82 */
static void scan_der(ModuleCerts *m, const uint8_t *data, size_t size)
{
        for (size_t i = 0; i + 8 < size && m->n < CERTS_MAX; i++) {
                if (data[i] != 0x30 || data[i + 1] != 0x82 || data[i + 4] != 0x30 || data[i + 5] != 0x82)
                        continue;
                size_t len = 4 + (size_t) unaligned_read_be16(data + i + 2);
                if (len > size - i)
                        continue;
                const unsigned char *p = data + i;
                void *x = kk_crypto.d2i_X509(NULL, &p, (long) len);
                if (!x)
                        continue;
                m->x509[m->n++] = x;
                i += len - 1;
        }
        kk_crypto.ERR_clear_error();
}

int module_certs_parse(const uint8_t *data, size_t size, ModuleCerts **ret)
{
        int r = crypto_load_sig();
        if (r < 0)
                return r;
        ModuleCerts *m = calloc(1, sizeof(ModuleCerts));
        if (!m)
                return -ENOMEM;
        if (size > 11 && memmem(data, size, "-----BEGIN", 10)) {
                void *bio = kk_crypto.BIO_new_mem_buf(data, (int) MIN(size, (size_t) 0x7fffffff));
                void *x;
                while (bio && m->n < CERTS_MAX && (x = kk_crypto.PEM_read_bio_X509(bio, NULL, NULL, NULL)))
                        m->x509[m->n++] = x;
                if (bio)
                        kk_crypto.BIO_free(bio);
                kk_crypto.ERR_clear_error();
        } else
                scan_der(m, data, size);
        if (m->n == 0) {
                module_certs_free(m);
                return -EBADMSG;
        }
        *ret = m;
        return 0;
}

/* doubles the output buffer when it is full, up to VMLINUX_MAX */
static int grow(uint8_t **out, size_t *alloc, size_t n)
{
        if (n < *alloc)
                return 0;
        uint8_t *g = *alloc * 2 <= VMLINUX_MAX ? realloc(*out, *alloc * 2) : NULL;
        if (!g)
                return -EFBIG;
        *out = g;
        *alloc *= 2;
        return 0;
}

/* The first xz or zstd stream found in the image, decompressed (a bzImage's payload). */
static int kernel_payload(const uint8_t *data, size_t size, uint8_t **ret, size_t *ret_size)
{
        static const uint8_t xz[] = { 0xfd, '7', 'z', 'X', 'Z', 0 }, zs[] = { 0x28, 0xb5, 0x2f, 0xfd };
        const uint8_t *x = memmem(data, size, xz, sizeof xz), *z = memmem(data, size, zs, sizeof zs);
        if (!x && !z)
                return -ENOMSG;
        size_t alloc = 64u * 1024 * 1024, n = 0;
        uint8_t *out = malloc(alloc);
        if (!out)
                return -ENOMEM;
        int r = 0;
        if (x && (!z || x < z)) {
                lzma_stream s = LZMA_STREAM_INIT;
                if (lzma_stream_decoder(&s, UINT64_MAX, 0) != LZMA_OK) {
                        free(out);
                        return -ENOMEM;
                }
                s.next_in = x;
                s.avail_in = size - (size_t) (x - data);
                for (;;) {
                        if ((r = grow(&out, &alloc, n)) < 0)
                                break;
                        s.next_out = out + n;
                        s.avail_out = alloc - n;
                        lzma_ret k = lzma_code(&s, LZMA_FINISH);
                        n = alloc - s.avail_out;
                        if (k == LZMA_STREAM_END)
                                break;
                        if (k != LZMA_OK && k != LZMA_BUF_ERROR) {
                                r = -EBADMSG;
                                break;
                        }
                        if (k == LZMA_BUF_ERROR && s.avail_out > 0) {
                                r = -EBADMSG;
                                break;
                        }
                }
                lzma_end(&s);
        } else {
                ZSTD_DStream *d = ZSTD_createDStream();
                if (!d) {
                        free(out);
                        return -ENOMEM;
                }
                ZSTD_inBuffer in = { z, size - (size_t) (z - data), 0 };
                for (;;) {
                        if ((r = grow(&out, &alloc, n)) < 0)
                                break;
                        ZSTD_outBuffer o = { out, alloc, n };
                        size_t k = ZSTD_decompressStream(d, &o, &in);
                        n = o.pos;
                        if (ZSTD_isError(k)) {
                                r = -EBADMSG;
                                break;
                        }
                        if (k == 0)
                                break;
                        if (in.pos == in.size && o.pos < o.size) {
                                r = -EBADMSG;
                                break;
                        }
                }
                ZSTD_freeDStream(d);
        }
        if (r < 0) {
                free(out);
                return r;
        }
        *ret = out;
        *ret_size = n;
        return 0;
}

int module_certs_from_kernel_image(const uint8_t *data, size_t size, ModuleCerts **ret)
{
        int r = crypto_load_sig();
        if (r < 0)
                return r;
        _cleanup_free_ uint8_t *vmlinux = NULL;
        size_t n = 0;
        r = kernel_payload(data, size, &vmlinux, &n);
        if (r == -ENOMSG) /* not a compressed image: a vmlinux itself */
                r = 0;
        else if (r < 0)
                return r;
        ModuleCerts *m = calloc(1, sizeof(ModuleCerts));
        if (!m)
                return -ENOMEM;
        scan_der(m, vmlinux ? vmlinux : data, vmlinux ? n : size);
        if (m->n == 0) {
                module_certs_free(m);
                return -ENOKEY;
        }
        *ret = m;
        return 0;
}

int module_sig_verify(const uint8_t *data, size_t size, const ModuleElf *elf, const ModuleCerts *certs,
                      char **ret_signer)
{
        if (!elf->signature || elf->sig_id_type != 2 || !certs || certs->n == 0)
                return MODULE_SIG_NOT_CHECKED;
        int r = crypto_load_sig();
        if (r < 0)
                return r;
        /* image | PKCS#7 DER | struct module_signature (12 bytes, sig_len big-endian last) | marker */
        size_t tail = strlen(MODULE_SIG_MARKER) + 12;
        if (elf->signature_size > size || elf->signature_size < tail)
                return -EBADMSG;
        size_t content = size - elf->signature_size, sig_len = elf->signature_size - tail;
        const unsigned char *p = data + content;
        void *p7 = kk_crypto.d2i_PKCS7(NULL, &p, (long) sig_len);
        if (!p7) {
                kk_crypto.ERR_clear_error();
                return -EBADMSG;
        }
        void *stack = kk_crypto.OPENSSL_sk_new_null(), *store = kk_crypto.X509_STORE_new(),
             *bio = kk_crypto.BIO_new_mem_buf(data, (int) MIN(content, (size_t) 0x7fffffff));
        int verdict = -ENOMEM;
        if (stack && store && bio && content <= 0x7fffffff) {
                for (size_t i = 0; i < certs->n; i++)
                        kk_crypto.OPENSSL_sk_push(stack, certs->x509[i]);
                void *signers = kk_crypto.PKCS7_get0_signers(p7, stack, PKCS7_NOINTERN);
                if (!signers)
                        verdict = MODULE_SIG_NO_KEY;
                else {
                        kk_crypto.OPENSSL_sk_free(signers);
                        verdict = kk_crypto.PKCS7_verify(p7, stack, store, bio, NULL,
                                                 PKCS7_NOINTERN | PKCS7_NOVERIFY | PKCS7_BINARY) == 1
                                          ? MODULE_SIG_GOOD
                                          : MODULE_SIG_BAD;
                }
        }
        if (verdict == MODULE_SIG_GOOD && ret_signer) {
                /* the one certificate that verifies it, named */
                for (size_t i = 0; i < certs->n && !*ret_signer; i++) {
                        void *one = kk_crypto.OPENSSL_sk_new_null();
                        if (!one)
                                break;
                        kk_crypto.OPENSSL_sk_push(one, certs->x509[i]);
                        void *s = kk_crypto.PKCS7_get0_signers(p7, one, PKCS7_NOINTERN);
                        if (s) {
                                kk_crypto.OPENSSL_sk_free(s);
                                *ret_signer = module_certs_subject(certs, i);
                        }
                        kk_crypto.OPENSSL_sk_free(one);
                }
        }
        kk_crypto.ERR_clear_error();
        if (bio)
                kk_crypto.BIO_free(bio);
        if (store)
                kk_crypto.X509_STORE_free(store);
        if (stack)
                kk_crypto.OPENSSL_sk_free(stack);
        kk_crypto.PKCS7_free(p7);
        return verdict;
}

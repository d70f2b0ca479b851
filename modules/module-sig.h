/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "modules/module-elf.h"

/* Module signature verification with libcrypto (loaded with dlopen on first use, like libcurl and
 * libkmod): the PKCS#7 signature the kernel's sign-file appends, checked against the kernel's own
 * certificates, which come from a file (--cert) or from the kernel image itself (its built-in
 * system certificate list, found in the decompressed vmlinux). */

typedef struct ModuleCerts ModuleCerts;

/* One or more X.509 certificates, PEM or DER (concatenated). -EBADMSG if none could be read,
 * -ELIBACC without libcrypto. */
int module_certs_parse(const uint8_t *data, size_t size, ModuleCerts **ret);
/* The certificates built into a kernel image (bzImage with an xz or zstd payload, or a vmlinux):
 * -ENOKEY if it holds none, -EBADMSG if its payload cannot be decompressed. */
int module_certs_from_kernel_image(const uint8_t *data, size_t size, ModuleCerts **ret);
size_t module_certs_count(const ModuleCerts *c);
/* "CN=..." of certificate i, newly allocated */
char *module_certs_subject(const ModuleCerts *c, size_t i);
ModuleCerts *module_certs_free(ModuleCerts *c);
static inline void module_certs_freep(ModuleCerts **c)
{
        module_certs_free(*c);
}

typedef enum ModuleSigVerdict {
        MODULE_SIG_NOT_CHECKED, /* no certificates given, unsigned, or not PKCS#7 */
        MODULE_SIG_GOOD,        /* verifies against one of the certificates */
        MODULE_SIG_BAD,         /* the signer is one of them but the bytes do not match: EKEYREJECTED */
        MODULE_SIG_NO_KEY,      /* signed by none of them */
} ModuleSigVerdict;

/* Verifies the signature appended to a (decompressed) module image that module_elf_parse() read
 * into elf. Returns a ModuleSigVerdict, *ret_signer (may be NULL) the verifying certificate's
 * subject; -EBADMSG a malformed PKCS#7 blob, -ELIBACC without libcrypto. */
int module_sig_verify(const uint8_t *data, size_t size, const ModuleElf *elf, const ModuleCerts *certs,
                      char **ret_signer);

/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* What a kernel image says about itself, read defensively (every offset checked against the size):
 *  - an x86 bzImage: the setup header ("HdrS", boot protocol version), xloadflags (64-bit entry),
 *    the kernel_version string (release), the payload (gzip, xz or zstd) decompressed as a stream;
 *  - an ELF vmlinux (plain or gzip-compressed): class and machine;
 *  - an arm64 Image (magic "ARM\x64" at 56, plain or gzip): so a wrong-arch image is named.
 * For bzImage and ELF the decompressed vmlinux's PT_NOTE segments are scanned for the Xen notes:
 * XEN_ELFNOTE_ENTRY (type 1) in a "Xen" note is what makes a kernel bootable as a Xen PV guest
 * (Linux emits it only with CONFIG_XEN_PV; a PVH-only kernel has XEN_ELFNOTE_PHYS32_ENTRY alone).
 * Only a bounded window of the decompressed stream is kept: a 66 MB vmlinux is never in memory. */

#define KERNEL_IMAGE_MAX (256u * 1024u * 1024u) /* decompressed vmlinux cap */

typedef enum KernelFormat {
        KERNEL_BZIMAGE,
        KERNEL_ELF,
        KERNEL_ARM64_IMAGE,
} KernelFormat;

typedef enum Tristate {
        TRI_NO = 0,
        TRI_YES = 1,
        TRI_UNKNOWN = -1,
} Tristate;

typedef struct KernelImage {
        KernelFormat format;
        bool gzip;                /* the whole file was gzip (vmlinux.gz, Image.gz) */
        char arch[24];            /* "x86_64", "i386", "aarch64", or "elf-machine-N" */
        unsigned boot_protocol;   /* bzImage: 0x20f for 2.15 */
        char release[65];         /* from kernel_version ("6.1.0-57-amd64"), "" if unknown */
        Tristate xen_pv;          /* Xen ENTRY note present; UNKNOWN if the payload could not be read */
        Tristate pvh;             /* XEN_ELFNOTE_PHYS32_ENTRY present */
} KernelImage;

/* 0, or -EMEDIUMTYPE for a file that is not a Linux kernel image, -EBADMSG for one that is damaged
 * (header offsets out of range, a corrupt payload), -EFBIG over KERNEL_IMAGE_MAX, -ENOMEM.
 * *ret_why (may be NULL) gets a static phrase for the error. */
int kernel_image_inspect(const void *data, size_t size, KernelImage *ret, const char **ret_why);

const char *kernel_format_to_string(KernelFormat f);
/* The arch name of the machine this was built for ("x86_64" on amd64) */
const char *kernel_native_arch(void);

/* A kernel config text (/boot/config-REL): TRI_YES for "NAME=y", TRI_NO for "# NAME is not set" or
 * absent, TRI_UNKNOWN if text is NULL. */
Tristate kconfig_get(const char *text, const char *name);

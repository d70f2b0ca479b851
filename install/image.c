/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/unaligned.h"
#include "install/image.h"
#include "install/stream.h"

#define XEN_ELFNOTE_ENTRY 1
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define NOTES_MAX (64u * 1024u)

const char *kernel_format_to_string(KernelFormat f)
{
        switch (f) {
        case KERNEL_BZIMAGE:
                return "bzImage";
        case KERNEL_ELF:
                return "ELF vmlinux";
        case KERNEL_ARM64_IMAGE:
                return "arm64 Image";
        }
        return "?";
}

const char *kernel_native_arch(void)
{
#if defined(__x86_64__)
        return "x86_64";
#elif defined(__i386__)
        return "i386";
#elif defined(__aarch64__)
        return "aarch64";
#else
        return "unknown";
#endif
}

static void elf_machine_name(unsigned m, bool is64, char buf[24])
{
        const char *n = m == EM_X86_64 ? "x86_64" : m == EM_386 ? "i386" : m == EM_AARCH64 ? "aarch64" : m == EM_ARM ? "arm" : NULL;
        if (n)
                snprintf(buf, 24, "%s", n);
        else
                snprintf(buf, 24, "elf-machine-%u%s", m, is64 ? "" : "-32");
}

/* Scans one PT_NOTE segment's bytes for Xen notes */
static void scan_notes(const uint8_t *n, size_t size, KernelImage *k)
{
        size_t p = 0;
        while (p + 12 <= size) {
                uint32_t namesz = unaligned_read_le32(n + p), descsz = unaligned_read_le32(n + p + 4),
                         type = unaligned_read_le32(n + p + 8);
                size_t name_end = p + 12 + (((size_t) namesz + 3) & ~(size_t) 3);
                if (namesz > size || descsz > size || name_end > size)
                        return;
                if (namesz == 4 && memcmp(n + p + 12, "Xen", 4) == 0) {
                        if (type == XEN_ELFNOTE_ENTRY)
                                k->xen_pv = TRI_YES;
                        if (type == XEN_ELFNOTE_PHYS32_ENTRY)
                                k->pvh = TRI_YES;
                }
                p = name_end + (((size_t) descsz + 3) & ~(size_t) 3);
        }
}

typedef struct Note {
        uint64_t offset, size;
} Note;

static int cmp_note(const void *a, const void *b)
{
        const Note *x = a, *y = b;
        return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* The ELF vmlinux on a stream: header and program headers first, then the notes, read as the stream
 * passes their offsets (in file order). */
static int inspect_elf_stream(Stream *s, KernelImage *k, bool arch_from_elf, const char **why)
{
        uint8_t eh[64];
        int r = stream_read_full(s, eh, 16);
        if (r < 0) {
                *why = "the image is too short for an ELF header";
                return r == -EBADMSG ? -EMEDIUMTYPE : r;
        }
        if (memcmp(eh, ELFMAG, SELFMAG) != 0) {
                *why = "the payload is not an ELF file";
                return -EMEDIUMTYPE;
        }
        bool is64 = eh[EI_CLASS] == ELFCLASS64;
        if ((eh[EI_CLASS] != ELFCLASS64 && eh[EI_CLASS] != ELFCLASS32) || eh[EI_DATA] != ELFDATA2LSB) {
                *why = "an ELF file of an unsupported class or byte order";
                return -EMEDIUMTYPE;
        }
        size_t ehsize = is64 ? 64 : 52;
        if ((r = stream_read_full(s, eh + 16, ehsize - 16)) < 0) {
                *why = "a truncated ELF header";
                return r == -EBADMSG ? -EBADMSG : r;
        }
        if (unaligned_read_le16(eh + 16) != ET_EXEC && unaligned_read_le16(eh + 16) != ET_DYN) {
                *why = "an ELF file that is not an executable";
                return -EMEDIUMTYPE;
        }
        if (arch_from_elf)
                elf_machine_name(unaligned_read_le16(eh + 18), is64, k->arch);
        uint64_t phoff = is64 ? unaligned_read_le64(eh + 32) : unaligned_read_le32(eh + 28);
        unsigned phentsize = unaligned_read_le16(eh + (is64 ? 54 : 42)),
                 phnum = unaligned_read_le16(eh + (is64 ? 56 : 44));
        if (phnum == 0 || phnum > 64 || phentsize != (is64 ? 56u : 32u) || phoff < ehsize) {
                *why = "an ELF kernel without sane program headers";
                return -EBADMSG;
        }
        if ((r = stream_skip(s, phoff - ehsize)) < 0) {
                *why = "a truncated ELF file";
                return r;
        }
        uint8_t ph[64 * 56];
        if ((r = stream_read_full(s, ph, (size_t) phnum * phentsize)) < 0) {
                *why = "a truncated ELF file";
                return r;
        }
        Note notes[64];
        size_t n_notes = 0;
        for (unsigned i = 0; i < phnum; i++) {
                const uint8_t *p = ph + (size_t) i * phentsize;
                if (unaligned_read_le32(p) != PT_NOTE)
                        continue;
                uint64_t off = is64 ? unaligned_read_le64(p + 8) : unaligned_read_le32(p + 4),
                         sz = is64 ? unaligned_read_le64(p + 32) : unaligned_read_le32(p + 16);
                if (sz > NOTES_MAX || off < phoff + (uint64_t) phnum * phentsize) {
                        *why = "an ELF kernel with a bad note segment";
                        return -EBADMSG;
                }
                notes[n_notes++] = (Note) { off, sz };
        }
        qsort(notes, n_notes, sizeof *notes, cmp_note);
        k->xen_pv = k->pvh = TRI_NO;
        _cleanup_free_ uint8_t *buf = malloc(NOTES_MAX);
        if (!buf)
                return -ENOMEM;
        for (size_t i = 0; i < n_notes; i++) {
                uint64_t at = stream_offset(s);
                if (notes[i].offset < at)
                        continue; /* overlapping segments: read once */
                if ((r = stream_skip(s, notes[i].offset - at)) < 0 ||
                    (r = stream_read_full(s, buf, (size_t) notes[i].size)) < 0) {
                        *why = r == -EFBIG ? "the decompressed kernel is too large" : "a truncated or corrupt kernel";
                        return r;
                }
                scan_notes(buf, (size_t) notes[i].size, k);
        }
        return 0;
}

static int inspect_bzimage(const uint8_t *d, size_t size, KernelImage *k, const char **why)
{
        k->format = KERNEL_BZIMAGE;
        k->boot_protocol = unaligned_read_le16(d + 0x206);
        unsigned setup_sects = d[0x1f1] ? d[0x1f1] : 4;
        size_t setup_size = ((size_t) setup_sects + 1) * 512;
        if (k->boot_protocol < 0x200 || setup_size >= size) {
                *why = "a bzImage whose setup header is damaged";
                return -EBADMSG;
        }
        /* 64-bit: XLF_KERNEL_64 in xloadflags (protocol 2.12+); older bzImages are taken as i386 */
        uint16_t xloadflags = k->boot_protocol >= 0x20c ? unaligned_read_le16(d + 0x236) : 0;
        snprintf(k->arch, sizeof k->arch, "%s", xloadflags & 1 ? "x86_64" : "i386");
        /* kernel_version: offset + 0x200 of "6.1.0-57-amd64 (debian-kernel@...) #1 SMP ..." */
        uint16_t kv = unaligned_read_le16(d + 0x20e);
        if (kv && (size_t) kv + 0x200 < size && (size_t) kv + 0x200 < setup_size) {
                const char *v = (const char *) d + kv + 0x200;
                size_t max = MIN(setup_size - kv - 0x200, sizeof k->release - 1), n = 0;
                while (n < max && v[n] > ' ' && v[n] < 127)
                        n++;
                memcpy(k->release, v, n);
                k->release[n] = 0;
        }
        /* the payload (protocol 2.08+): the compressed vmlinux ELF */
        if (k->boot_protocol < 0x208)
                return 0;
        uint32_t po = unaligned_read_le32(d + 0x248), pl = unaligned_read_le32(d + 0x24c);
        if (pl == 0 || (uint64_t) setup_size + po + pl > size) {
                *why = "a bzImage whose payload lies outside the file";
                return -EBADMSG;
        }
        const uint8_t *payload = d + setup_size + po;
        Compression c = compression_detect(payload, pl);
        if (c == COMPRESSION_NONE && !(pl >= 4 && memcmp(payload, ELFMAG, SELFMAG) == 0))
                return 0; /* lz4, lzo, bzip2, lzma: the arch is known, the notes are not */
        _cleanup_(stream_freep) Stream *s = NULL;
        int r = stream_open_mem(payload, pl, c, KERNEL_IMAGE_MAX, &s);
        if (r < 0)
                return r;
        r = inspect_elf_stream(s, k, false, why);
        if (r == -EMEDIUMTYPE) {
                *why = "a bzImage whose payload is not an ELF vmlinux";
                return -EBADMSG;
        }
        return r;
}

int kernel_image_inspect(const void *data, size_t size, KernelImage *ret, const char **ret_why)
{
        const uint8_t *d = data;
        const char *why_dummy = NULL, **why = ret_why ? ret_why : &why_dummy;
        *why = NULL;
        KernelImage k = { .xen_pv = TRI_UNKNOWN, .pvh = TRI_UNKNOWN };
        int r;
        if (size >= 0x250 && memcmp(d + 0x202, "HdrS", 4) == 0 && unaligned_read_le16(d + 0x1fe) == 0xaa55) {
                if ((r = inspect_bzimage(d, size, &k, why)) < 0)
                        return r;
                *ret = k;
                return 0;
        }
        Compression c = compression_detect(d, size);
        if (c != COMPRESSION_NONE && c != COMPRESSION_GZIP) {
                *why = "not a Linux kernel image (a compressed file that is not gzip)";
                return -EMEDIUMTYPE;
        }
        k.gzip = c == COMPRESSION_GZIP;
        _cleanup_(stream_freep) Stream *s = NULL;
        if ((r = stream_open_mem(d, size, c, KERNEL_IMAGE_MAX, &s)) < 0)
                return r;
        uint8_t head[64];
        ssize_t n = 0;
        while (n < (ssize_t) sizeof head) {
                ssize_t m = stream_read(s, head + n, sizeof head - (size_t) n);
                if (m < 0) {
                        *why = "a corrupt gzip file";
                        return m == -EFBIG ? -EFBIG : -EBADMSG;
                }
                if (m == 0)
                        break;
                n += m;
        }
        if (n == sizeof head && memcmp(head + 56, "ARM\x64", 4) == 0) {
                k.format = KERNEL_ARM64_IMAGE;
                snprintf(k.arch, sizeof k.arch, "aarch64");
                *ret = k;
                return 0;
        }
        if (n < 4 || memcmp(head, ELFMAG, SELFMAG) != 0) {
                *why = "not a Linux kernel image (no bzImage header, ELF header or arm64 Image magic)";
                return -EMEDIUMTYPE;
        }
        /* start over: the ELF reader wants the stream from byte 0 */
        stream_free(TAKE_PTR(s));
        if ((r = stream_open_mem(d, size, c, KERNEL_IMAGE_MAX, &s)) < 0)
                return r;
        k.format = KERNEL_ELF;
        if ((r = inspect_elf_stream(s, &k, true, why)) < 0)
                return r;
        *ret = k;
        return 0;
}

Tristate kconfig_get(const char *text, const char *name)
{
        if (!text)
                return TRI_UNKNOWN;
        size_t n = strlen(name);
        for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
                if (strncmp(l, name, n) == 0 && l[n] == '=')
                        return l[n + 1] == 'y' ? TRI_YES : TRI_NO;
        }
        return TRI_NO;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once
/* Builds small fake kernels for tests: an ELF vmlinux with chosen Xen notes, a bzImage around it
 * (xz or gzip payload), and ustar archives. Only the bytes the readers look at are real. */
#include <elf.h>
#include <lzma.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct KBuf {
        uint8_t *data;
        size_t size;
} KBuf;

static inline void kb_put32(uint8_t *p, uint32_t v)
{
        memcpy(p, &v, 4);
}

/* machine EM_X86_64 etc.; notes: Xen note types to include (0-terminated); pad: bytes of filler
 * before the notes (so the reader has to stream past them) */
static inline KBuf kb_elf(uint16_t machine, const uint32_t *xen_notes, size_t pad)
{
        uint8_t notes[512];
        size_t nsz = 0;
        for (const uint32_t *t = xen_notes; t && *t; t++) {
                kb_put32(notes + nsz, 4);
                kb_put32(notes + nsz + 4, 8);
                kb_put32(notes + nsz + 8, *t);
                memcpy(notes + nsz + 12, "Xen", 4);
                memset(notes + nsz + 16, 0xab, 8);
                nsz += 24;
        }
        /* a GNU build-id note too, as real kernels have */
        kb_put32(notes + nsz, 4);
        kb_put32(notes + nsz + 4, 4);
        kb_put32(notes + nsz + 8, 3);
        memcpy(notes + nsz + 12, "GNU", 4);
        memset(notes + nsz + 16, 1, 4);
        nsz += 20;
        size_t off = 64 + 56 + pad, size = off + nsz;
        uint8_t *d = calloc(1, size);
        Elf64_Ehdr *e = (Elf64_Ehdr *) d;
        memcpy(e->e_ident, ELFMAG, SELFMAG);
        e->e_ident[EI_CLASS] = ELFCLASS64;
        e->e_ident[EI_DATA] = ELFDATA2LSB;
        e->e_ident[EI_VERSION] = EV_CURRENT;
        e->e_type = ET_EXEC;
        e->e_machine = machine;
        e->e_phoff = 64;
        e->e_phentsize = 56;
        e->e_phnum = 1;
        e->e_ehsize = 64;
        Elf64_Phdr *ph = (Elf64_Phdr *) (d + 64);
        ph->p_type = PT_NOTE;
        ph->p_offset = off;
        ph->p_filesz = nsz;
        memset(d + 120, 0, pad); /* zeros compress well */
        memcpy(d + off, notes, nsz);
        return (KBuf) { d, size };
}

static inline KBuf kb_xz(KBuf in)
{
        size_t cap = lzma_stream_buffer_bound(in.size), pos = 0;
        uint8_t *out = malloc(cap);
        lzma_easy_buffer_encode(1, LZMA_CHECK_CRC32, NULL, in.data, in.size, out, &pos, cap);
        return (KBuf) { out, pos };
}

static inline KBuf kb_gzip(KBuf in)
{
        z_stream z = {};
        deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
        size_t cap = deflateBound(&z, in.size) + 64;
        uint8_t *out = malloc(cap);
        z.next_in = in.data;
        z.avail_in = (uInt) in.size;
        z.next_out = out;
        z.avail_out = (uInt) cap;
        deflate(&z, Z_FINISH);
        size_t n = cap - z.avail_out;
        deflateEnd(&z);
        return (KBuf) { out, n };
}

/* a bzImage: 4 setup sectors + 1, header 2.15, 64-bit, release string, the payload */
static inline KBuf kb_bzimage(const char *release, KBuf payload, bool x86_64)
{
        size_t setup = 5 * 512, size = setup + payload.size;
        uint8_t *d = calloc(1, size);
        d[0x1f1] = 4;
        d[0x1fe] = 0x55;
        d[0x1ff] = 0xaa;
        memcpy(d + 0x202, "HdrS", 4);
        d[0x206] = 0x0f;
        d[0x207] = 0x02;
        uint16_t kv = 0x400; /* string at 0x600 */
        memcpy(d + 0x20e, &kv, 2);
        snprintf((char *) d + 0x600, 200, "%s (test@example) #1 SMP", release);
        uint16_t xl = x86_64 ? 1 : 0;
        memcpy(d + 0x236, &xl, 2);
        kb_put32(d + 0x248, 0);
        kb_put32(d + 0x24c, (uint32_t) payload.size);
        memcpy(d + setup, payload.data, payload.size);
        return (KBuf) { d, size };
}

/* appends one ustar member; type '0', '2', '5' etc. */
static inline void kb_tar_add(KBuf *t, const char *name, char type, const char *link, const void *data, size_t size)
{
        size_t padded = (size + 511) / 512 * 512;
        t->data = realloc(t->data, t->size + 512 + padded);
        uint8_t *h = t->data + t->size;
        memset(h, 0, 512 + padded);
        snprintf((char *) h, 100, "%s", name);
        snprintf((char *) h + 100, 8, "%07o", 0644);
        snprintf((char *) h + 108, 8, "%07o", 0);
        snprintf((char *) h + 116, 8, "%07o", 0);
        snprintf((char *) h + 124, 12, "%011zo", size);
        snprintf((char *) h + 136, 12, "%011o", 0);
        h[156] = (uint8_t) type;
        if (link)
                snprintf((char *) h + 157, 100, "%s", link);
        memcpy(h + 257, "ustar\0" "00", 8);
        memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (int i = 0; i < 512; i++)
                sum += h[i];
        snprintf((char *) h + 148, 8, "%06o", sum);
        if (size)
                memcpy(h + 512, data, size);
        t->size += 512 + padded;
}

static inline void kb_tar_end(KBuf *t)
{
        t->data = realloc(t->data, t->size + 1024);
        memset(t->data + t->size, 0, 1024);
        t->size += 1024;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Builds small kernel-module-shaped ELF files in memory for the unit tests: .shstrtab, .modinfo,
 * .gnu.linkonce.this_module and __versions, little- or big-endian, ELF32 or ELF64, optionally with
 * a PKCS#7-style signature trailer. */
#include <elf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct TestVersion {
        const char *symbol;
        uint32_t crc;
} TestVersion;

typedef struct TestModule {
        bool elf32, big_endian;
        uint16_t type, machine;
        const char *modinfo; /* "key=value\0key=value\0" with its length */
        size_t modinfo_size;
        const TestVersion *versions;
        size_t n_versions;
        bool no_this_module;
        size_t sig_len; /* 0: unsigned */
} TestModule;

typedef struct Buf {
        uint8_t *data;
        size_t size;
} Buf;

static inline void buf_put(Buf *b, size_t off, uint64_t v, unsigned n, bool be)
{
        for (unsigned i = 0; i < n; i++)
                b->data[off + i] = (uint8_t) (v >> (8 * (be ? n - 1 - i : i)));
}

static inline void buf_append(Buf *b, const void *p, size_t n)
{
        b->data = realloc(b->data, b->size + n + 1);
        memcpy(b->data + b->size, p, n);
        b->size += n;
}

static inline Buf test_module_build(const TestModule *t)
{
        static const char shstrtab[] = "\0.shstrtab\0.modinfo\0.gnu.linkonce.this_module\0__versions\0.bss";
        enum { N_SHSTRTAB = 1, N_MODINFO = 11, N_THIS = 20, N_VERSIONS = 46, N_BSS = 57 };
        bool is64 = !t->elf32, be = t->big_endian;
        size_t ehsize = is64 ? 64 : 52, shentsize = is64 ? 64 : 40;
        Buf b = {calloc(1, ehsize + 1), ehsize};

        size_t off_str = b.size;
        buf_append(&b, shstrtab, sizeof(shstrtab));
        size_t off_info = b.size;
        buf_append(&b, t->modinfo, t->modinfo_size);
        size_t off_this = b.size;
        static const uint8_t zeros[64];
        buf_append(&b, zeros, 64);
        size_t off_vers = b.size;
        for (size_t i = 0; i < t->n_versions; i++) {
                uint8_t e[64] = {};
                Buf eb = {e, 64};
                buf_put(&eb, 0, t->versions[i].crc, is64 ? 8 : 4, be);
                strncpy((char *) e + (is64 ? 8 : 4), t->versions[i].symbol, 64 - (is64 ? 8 : 4) - 1);
                buf_append(&b, e, 64);
        }
        struct {
                uint32_t name, type;
                size_t off, size;
        } sh[] = {
            {0, SHT_NULL, 0, 0},
            {N_SHSTRTAB, SHT_STRTAB, off_str, sizeof(shstrtab)},
            {N_MODINFO, SHT_PROGBITS, off_info, t->modinfo_size},
            {t->no_this_module ? N_BSS : N_THIS, SHT_PROGBITS, off_this, 64},
            {N_VERSIONS, SHT_PROGBITS, off_vers, t->n_versions * 64},
            {N_BSS, SHT_NOBITS, 0, 4096},
        };
        size_t shnum = sizeof(sh) / sizeof(sh[0]);
        while (b.size % 8)
                buf_append(&b, zeros, 1);
        size_t shoff = b.size;
        uint8_t *tab = calloc(shnum, shentsize);
        buf_append(&b, tab, shnum * shentsize);
        free(tab);
        for (size_t i = 0; i < shnum; i++) {
                size_t o = shoff + i * shentsize;
                buf_put(&b, o + 0, sh[i].name, 4, be);
                buf_put(&b, o + 4, sh[i].type, 4, be);
                if (is64) {
                        buf_put(&b, o + 24, sh[i].off, 8, be);
                        buf_put(&b, o + 32, sh[i].size, 8, be);
                } else {
                        buf_put(&b, o + 16, sh[i].off, 4, be);
                        buf_put(&b, o + 20, sh[i].size, 4, be);
                }
        }
        memcpy(b.data, ELFMAG, SELFMAG);
        b.data[EI_CLASS] = is64 ? ELFCLASS64 : ELFCLASS32;
        b.data[EI_DATA] = be ? ELFDATA2MSB : ELFDATA2LSB;
        b.data[EI_VERSION] = EV_CURRENT;
        buf_put(&b, 16, t->type ? t->type : ET_REL, 2, be);
        buf_put(&b, 18, t->machine ? t->machine : EM_X86_64, 2, be);
        buf_put(&b, 20, EV_CURRENT, 4, be);
        if (is64) {
                buf_put(&b, 0x28, shoff, 8, be);
                buf_put(&b, 0x34, ehsize, 2, be);
                buf_put(&b, 0x3a, shentsize, 2, be);
                buf_put(&b, 0x3c, shnum, 2, be);
                buf_put(&b, 0x3e, 1, 2, be);
        } else {
                buf_put(&b, 0x20, shoff, 4, be);
                buf_put(&b, 0x28, ehsize, 2, be);
                buf_put(&b, 0x2e, shentsize, 2, be);
                buf_put(&b, 0x30, shnum, 2, be);
                buf_put(&b, 0x32, 1, 2, be);
        }
        if (t->sig_len) {
                uint8_t *sig = calloc(1, t->sig_len);
                memset(sig, 0xa5, t->sig_len);
                buf_append(&b, sig, t->sig_len);
                free(sig);
                uint8_t d[12] = {0, 0, 2 /* PKEY_ID_PKCS7 */};
                d[8] = (uint8_t) (t->sig_len >> 24);
                d[9] = (uint8_t) (t->sig_len >> 16);
                d[10] = (uint8_t) (t->sig_len >> 8);
                d[11] = (uint8_t) t->sig_len;
                buf_append(&b, d, sizeof(d));
                buf_append(&b, "~Module signature appended~\n", 28);
        }
        return b;
}

#define TEST_MODINFO                                                                                        \
        "name=kktest\0vermagic=6.1.0-57-amd64 SMP preempt mod_unload modversions "                          \
        "\0depends=dm-mod,dm-bufio\0license=GPL\0"

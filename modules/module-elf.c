/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <elf.h>
#include <errno.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/fileio.h"
#include "common/macro.h"
#include "common/unaligned.h"
#include "modules/module-elf.h"

typedef struct Reader {
        const uint8_t *data;
        uint64_t size;
        bool big_endian;
} Reader;

/* All reads go through these: false when [off, off+n) is not inside the buffer. */
static bool in_bounds(const Reader *r, uint64_t off, uint64_t n)
{
        return off <= r->size && n <= r->size - off;
}

/* n is 2, 4 or 8 (the callers name ELF fields) */
static uint64_t get_uint(const Reader *r, uint64_t off, unsigned n)
{
        const uint8_t *p = r->data + off;
        if (n == 2)
                return r->big_endian ? unaligned_read_be16(p) : unaligned_read_le16(p);
        if (n == 4)
                return r->big_endian ? unaligned_read_be32(p) : unaligned_read_le32(p);
        return r->big_endian ? unaligned_read_be64(p) : unaligned_read_le64(p);
}

typedef struct Section {
        uint32_t name;
        uint32_t type;
        uint64_t offset, size;
        uint32_t link;
} Section;

static int read_section(const Reader *r, uint64_t shoff, uint64_t entsize, uint64_t i, bool is64,
                        Section *ret)
{
        uint64_t off = shoff + i * entsize;
        if (!in_bounds(r, off, entsize))
                return -EBADMSG;
        if (is64)
                *ret = (Section){
                    .name = get_uint(r, off + offsetof(Elf64_Shdr, sh_name), 4),
                    .type = get_uint(r, off + offsetof(Elf64_Shdr, sh_type), 4),
                    .offset = get_uint(r, off + offsetof(Elf64_Shdr, sh_offset), 8),
                    .size = get_uint(r, off + offsetof(Elf64_Shdr, sh_size), 8),
                    .link = get_uint(r, off + offsetof(Elf64_Shdr, sh_link), 4),
                };
        else
                *ret = (Section){
                    .name = get_uint(r, off + offsetof(Elf32_Shdr, sh_name), 4),
                    .type = get_uint(r, off + offsetof(Elf32_Shdr, sh_type), 4),
                    .offset = get_uint(r, off + offsetof(Elf32_Shdr, sh_offset), 4),
                    .size = get_uint(r, off + offsetof(Elf32_Shdr, sh_size), 4),
                    .link = get_uint(r, off + offsetof(Elf32_Shdr, sh_link), 4),
                };
        return 0;
}

/* The trailer the kernel strips (module_sig_check): image, signature, struct module_signature
 * (12 bytes, sig_len big-endian at its end), marker. Returns the image size, or -EBADMSG. */
static int64_t strip_signature(const uint8_t *data, uint64_t size, ModuleElf *e)
{
        const size_t mlen = strlen(MODULE_SIG_MARKER), dlen = 12;
        if (size < mlen || memcmp(data + size - mlen, MODULE_SIG_MARKER, mlen) != 0)
                return (int64_t) size;
        if (size - mlen < dlen)
                return -EBADMSG;
        const uint8_t *d = data + size - mlen - dlen;
        uint64_t sig_len = unaligned_read_be32(d + 8);
        uint64_t extra = sig_len + d[3] /* signer_len */ + d[4] /* key_id_len */;
        if (sig_len == 0 || extra > size - mlen - dlen)
                return -EBADMSG;
        e->signature = true;
        e->sig_id_type = d[2];
        e->signature_size = extra + dlen + mlen;
        return (int64_t) (size - e->signature_size);
}

int module_elf_parse(const uint8_t *data, size_t size, ModuleElf *ret)
{
        ModuleElf e = {};
        if (size < EI_NIDENT || memcmp(data, ELFMAG, SELFMAG) != 0)
                return -ENOEXEC;
        if (data[EI_CLASS] != ELFCLASS32 && data[EI_CLASS] != ELFCLASS64)
                return -EBADMSG;
        if (data[EI_DATA] != ELFDATA2LSB && data[EI_DATA] != ELFDATA2MSB)
                return -EBADMSG;
        int64_t image = strip_signature(data, size, &e);
        if (image < 0)
                return (int) image;

        bool is64 = data[EI_CLASS] == ELFCLASS64;
        Reader r = {.data = data, .size = (uint64_t) image, .big_endian = data[EI_DATA] == ELFDATA2MSB};
        e.elf_class = data[EI_CLASS];
        e.big_endian = r.big_endian;
        uint64_t ehsize = is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
        if (!in_bounds(&r, 0, ehsize))
                return -EBADMSG;
        uint64_t shoff, shentsize, shnum, shstrndx;
        if (is64) {
                e.type = get_uint(&r, offsetof(Elf64_Ehdr, e_type), 2);
                e.machine = get_uint(&r, offsetof(Elf64_Ehdr, e_machine), 2);
                shoff = get_uint(&r, offsetof(Elf64_Ehdr, e_shoff), 8);
                shentsize = get_uint(&r, offsetof(Elf64_Ehdr, e_shentsize), 2);
                shnum = get_uint(&r, offsetof(Elf64_Ehdr, e_shnum), 2);
                shstrndx = get_uint(&r, offsetof(Elf64_Ehdr, e_shstrndx), 2);
        } else {
                e.type = get_uint(&r, offsetof(Elf32_Ehdr, e_type), 2);
                e.machine = get_uint(&r, offsetof(Elf32_Ehdr, e_machine), 2);
                shoff = get_uint(&r, offsetof(Elf32_Ehdr, e_shoff), 4);
                shentsize = get_uint(&r, offsetof(Elf32_Ehdr, e_shentsize), 2);
                shnum = get_uint(&r, offsetof(Elf32_Ehdr, e_shnum), 2);
                shstrndx = get_uint(&r, offsetof(Elf32_Ehdr, e_shstrndx), 2);
        }
        if (shentsize != (is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr)) || shoff == 0)
                return -EBADMSG;
        /* extended numbering: the real counts live in section 0 */
        Section s0;
        int k = read_section(&r, shoff, shentsize, 0, is64, &s0);
        if (k < 0)
                return k;
        if (shnum == 0)
                shnum = s0.size;
        if (shstrndx == SHN_XINDEX)
                shstrndx = s0.link;
        if (shnum == 0 || shnum > r.size / shentsize || !in_bounds(&r, shoff, shnum * shentsize))
                return -EBADMSG;
        if (shstrndx == 0 || shstrndx >= shnum)
                return -EBADMSG;
        e.elf_size = MAX(ehsize, shoff + shnum * shentsize);

        Section strtab;
        k = read_section(&r, shoff, shentsize, shstrndx, is64, &strtab);
        if (k < 0)
                return k;
        if (strtab.type != SHT_STRTAB || !in_bounds(&r, strtab.offset, strtab.size) || strtab.size == 0 ||
            data[strtab.offset + strtab.size - 1] != 0)
                return -EBADMSG;
        const char *names = (const char *) data + strtab.offset;

        for (uint64_t i = 1; i < shnum; i++) {
                Section s;
                k = read_section(&r, shoff, shentsize, i, is64, &s);
                if (k < 0)
                        return k;
                if (s.name >= strtab.size)
                        return -EBADMSG;
                if (s.type == SHT_NOBITS || s.type == SHT_NULL)
                        continue;
                if (!in_bounds(&r, s.offset, s.size))
                        return -EBADMSG;
                e.elf_size = MAX(e.elf_size, s.offset + s.size);
                const char *name = names + s.name; /* NUL-terminated: the table ends in NUL */
                if (streq(name, ".modinfo"))
                        e.has_modinfo = s.size > 0;
                else if (streq(name, ".gnu.linkonce.this_module"))
                        e.has_this_module = true;
                else if (streq(name, "__versions")) {
                        if (s.size % MODULE_VERSION_ENTRY_SIZE != 0)
                                return -EBADMSG;
                        e.n_versions = s.size / MODULE_VERSION_ENTRY_SIZE;
                        /* every name must end inside its entry */
                        unsigned crc_size = is64 ? 8 : 4;
                        for (size_t v = 0; v < e.n_versions; v++) {
                                const uint8_t *n =
                                    data + s.offset + v * MODULE_VERSION_ENTRY_SIZE + crc_size;
                                if (!memchr(n, 0, MODULE_VERSION_ENTRY_SIZE - crc_size) || n[0] == 0)
                                        return -EBADMSG;
                        }
                }
        }
        /* bytes after the image that are not a well-formed signature are a cut-off or damaged
         * trailer (a PKCS#7 signature starts with a DER sequence); zero padding is tolerated */
        for (uint64_t i = e.elf_size; i < r.size; i++)
                if (data[i] != 0)
                        return -EBADMSG;
        if (e.type != ET_REL || !e.has_modinfo || !e.has_this_module)
                return -EMEDIUMTYPE;
        *ret = e;
        return 0;
}

static int grow(uint8_t **buf, size_t *alloc, size_t need)
{
        if (need <= *alloc)
                return 0;
        if (need > MODULE_DECOMPRESSED_MAX)
                return -EFBIG;
        size_t n = MAX(need, MIN((size_t) MODULE_DECOMPRESSED_MAX, *alloc * 2));
        uint8_t *p = realloc(*buf, n + 1);
        if (!p)
                return -ENOMEM;
        *buf = p;
        *alloc = n;
        return 0;
}

static int decompress_xz(const uint8_t *in, size_t in_size, uint8_t **ret, size_t *ret_size)
{
        lzma_stream s = LZMA_STREAM_INIT;
        if (lzma_stream_decoder(&s, 256u * 1024 * 1024, LZMA_CONCATENATED) != LZMA_OK)
                return -ENOMEM;
        _cleanup_free_ uint8_t *out = NULL;
        size_t alloc = 0, used = 0;
        int r = 0;
        s.next_in = in;
        s.avail_in = in_size;
        for (;;) {
                r = grow(&out, &alloc, MAX(used + 1, in_size * 4));
                if (r < 0)
                        break;
                s.next_out = out + used;
                s.avail_out = alloc - used;
                lzma_ret lr = lzma_code(&s, LZMA_FINISH);
                used = alloc - s.avail_out;
                if (lr == LZMA_STREAM_END)
                        break;
                if (lr == LZMA_MEM_ERROR || lr == LZMA_MEMLIMIT_ERROR) {
                        r = -EFBIG;
                        break;
                }
                if (lr != LZMA_OK || (s.avail_in == 0 && s.avail_out != 0)) {
                        r = -EBADMSG;
                        break;
                }
                r = grow(&out, &alloc, used + used / 2 + 4096);
                if (r < 0)
                        break;
        }
        lzma_end(&s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(out);
        *ret_size = used;
        return 0;
}

static int decompress_zstd(const uint8_t *in, size_t in_size, uint8_t **ret, size_t *ret_size)
{
        ZSTD_DStream *z = ZSTD_createDStream();
        if (!z)
                return -ENOMEM;
        ZSTD_DCtx_setParameter(z, ZSTD_d_windowLogMax, 27);
        _cleanup_free_ uint8_t *out = NULL;
        size_t alloc = 0, used = 0, left = 1;
        int r = 0;
        ZSTD_inBuffer ib = {in, in_size, 0};
        while (left != 0) {
                r = grow(&out, &alloc, MAX(used + 4096, in_size * 4));
                if (r < 0)
                        break;
                ZSTD_outBuffer ob = {out, alloc, used};
                left = ZSTD_decompressStream(z, &ob, &ib);
                used = ob.pos;
                if (ZSTD_isError(left)) {
                        r = -EBADMSG;
                        break;
                }
                if (left != 0 && ib.pos == ib.size && ob.pos < ob.size) {
                        r = -EBADMSG; /* truncated: the frame wants input that is not there */
                        break;
                }
                if (left == 0 && ib.pos < ib.size) {
                        left = 1; /* another frame follows */
                        continue;
                }
                if (left != 0)
                        r = grow(&out, &alloc, used + used / 2 + 4096);
                if (r < 0)
                        break;
        }
        ZSTD_freeDStream(z);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(out);
        *ret_size = used;
        return 0;
}

int module_decompress(const uint8_t *data, size_t size, uint8_t **ret_data, size_t *ret_size,
                      ModuleCompression *ret_compression)
{
        static const uint8_t xz_magic[] = {0xfd, '7', 'z', 'X', 'Z', 0},
                             zstd_magic[] = {0x28, 0xb5, 0x2f, 0xfd};
        ModuleCompression c = MODULE_COMPRESSION_NONE;
        if (size >= sizeof(xz_magic) && memcmp(data, xz_magic, sizeof(xz_magic)) == 0)
                c = MODULE_COMPRESSION_XZ;
        else if (size >= sizeof(zstd_magic) && memcmp(data, zstd_magic, sizeof(zstd_magic)) == 0)
                c = MODULE_COMPRESSION_ZSTD;
        uint8_t *out = NULL;
        size_t n = 0;
        int r = 0;
        switch (c) {
        case MODULE_COMPRESSION_XZ:
                r = decompress_xz(data, size, &out, &n);
                break;
        case MODULE_COMPRESSION_ZSTD:
                r = decompress_zstd(data, size, &out, &n);
                break;
        case MODULE_COMPRESSION_NONE:
                out = malloc(size + 1);
                if (!out)
                        return -ENOMEM;
                memcpy(out, data, size);
                n = size;
                break;
        }
        if (r < 0)
                return r;
        out[n] = 0;
        *ret_data = out;
        *ret_size = n;
        if (ret_compression)
                *ret_compression = c;
        return 0;
}

int module_file_read(const char *path, uint8_t **ret_data, size_t *ret_size,
                     ModuleCompression *ret_compression)
{
        _cleanup_free_ char *raw = NULL;
        size_t size;
        int r = read_full_file(path, MODULE_FILE_MAX, &raw, &size);
        if (r < 0)
                return r;
        if ((size >= 6 && memcmp(raw,
                                 "\xfd"
                                 "7zXZ",
                                 6) == 0) ||
            (size >= 4 && memcmp(raw, "\x28\xb5\x2f\xfd", 4) == 0))
                return module_decompress((const uint8_t *) raw, size, ret_data, ret_size, ret_compression);
        /* uncompressed: hand over the buffer as it is (NUL-terminated by read_full_file) */
        *ret_data = (uint8_t *) TAKE_PTR(raw);
        *ret_size = size;
        if (ret_compression)
                *ret_compression = MODULE_COMPRESSION_NONE;
        return 0;
}

const char *module_compression_to_string(ModuleCompression c)
{
        return c == MODULE_COMPRESSION_XZ ? "xz" : c == MODULE_COMPRESSION_ZSTD ? "zstd" : "none";
}

unsigned module_elf_native_class(void)
{
        return sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32;
}

unsigned module_elf_native_machine(void)
{
#if defined(__x86_64__)
        return EM_X86_64;
#elif defined(__i386__)
        return EM_386;
#elif defined(__aarch64__)
        return EM_AARCH64;
#elif defined(__arm__)
        return EM_ARM;
#elif defined(__powerpc64__)
        return EM_PPC64;
#elif defined(__s390x__)
        return EM_S390;
#elif defined(__riscv)
        return EM_RISCV;
#else
        return 0;
#endif
}

const char *module_elf_machine_to_string(unsigned machine)
{
        switch (machine) {
        case EM_X86_64:
                return "x86-64";
        case EM_386:
                return "i386";
        case EM_AARCH64:
                return "aarch64";
        case EM_ARM:
                return "arm";
        case EM_PPC64:
                return "ppc64";
        case EM_S390:
                return "s390";
        case EM_RISCV:
                return "riscv";
        default:
                return NULL;
        }
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The defensive module reader: ELF identity, sections, __versions entries, the signature trailer,
 * every truncation, and .xz/.zst decompression. */
#include <errno.h>
#include <lzma.h>
#include <zstd.h>

#include "modules/module-elf.h"
#include "tests/tap.h"
#include "tests/unit/module-elf-builder.h"

static const TestVersion versions[] = {{"module_layout", 0x9060323f}, {"printk", 0x92997ed8}};

static TestModule base(void)
{
        return (TestModule){.modinfo = TEST_MODINFO,
                            .modinfo_size = sizeof(TEST_MODINFO) - 1,
                            .versions = versions,
                            .n_versions = 2};
}

static int parse(Buf b, ModuleElf *e)
{
        int r = module_elf_parse(b.data, b.size, e);
        free(b.data);
        return r;
}

static void test_valid(void)
{
        ModuleElf e;
        TestModule t = base();
        is_int(parse(test_module_build(&t), &e), 0, "a module-shaped ELF64 parses");
        is_int(e.elf_class, ELFCLASS64, "class 64");
        is_int(e.machine, EM_X86_64, "machine x86-64");
        is_int(e.n_versions, 2, "two __versions entries");
        ok(e.has_modinfo && e.has_this_module && !e.signature, "sections found, unsigned");

        t.sig_len = 300;
        is_int(parse(test_module_build(&t), &e), 0, "with a signature trailer");
        ok(e.signature && e.sig_id_type == 2 && e.signature_size == 300 + 12 + 28, "trailer recognised");

        t = base();
        t.elf32 = true;
        t.big_endian = true;
        t.machine = EM_PPC;
        is_int(parse(test_module_build(&t), &e), 0, "ELF32 big-endian parses");
        ok(e.elf_class == ELFCLASS32 && e.big_endian && e.machine == EM_PPC, "its identity");
}

static void test_refused(void)
{
        ModuleElf e;
        TestModule t = base();
        t.type = ET_EXEC;
        is_int(parse(test_module_build(&t), &e), -EMEDIUMTYPE, "not relocatable: not a module");
        t = base();
        t.modinfo_size = 0;
        is_int(parse(test_module_build(&t), &e), -EMEDIUMTYPE, "no .modinfo: not a module");
        t = base();
        t.no_this_module = true;
        is_int(parse(test_module_build(&t), &e), -EMEDIUMTYPE, "no .gnu.linkonce.this_module: not a module");
        is_int(module_elf_parse((const uint8_t *) "#!/bin/sh\n", 10, &e), -ENOEXEC, "text: not an ELF");
        is_int(module_elf_parse((const uint8_t *) "", 0, &e), -ENOEXEC, "empty: not an ELF");

        t = base();
        Buf b = test_module_build(&t);
        /* a version name filling its whole entry without a NUL */
        Buf c = {malloc(b.size + 1), b.size};
        memcpy(c.data, b.data, b.size);
        uint8_t *name = memmem(c.data, c.size, "printk", 6);
        memset(name, 'x', 56);
        is_int(parse(c, &e), -EBADMSG, "an unterminated __versions name is corrupt");

        /* bytes after the image that are not a signature */
        Buf g = {malloc(b.size + 5), b.size + 4};
        memcpy(g.data, b.data, b.size);
        memcpy(g.data + b.size, "junk", 4);
        is_int(parse(g, &e), -EBADMSG, "trailing bytes are a damaged trailer");
        Buf z = { calloc(1, b.size + 9), b.size + 8 };
        memcpy(z.data, b.data, b.size);
        is_int(parse(z, &e), 0, "trailing zero padding is not");

        /* a trailer whose length points before the file */
        t.sig_len = 64;
        Buf s = test_module_build(&t);
        s.data[s.size - 28 - 4] = 0x7f;
        is_int(parse(s, &e), -EBADMSG, "a signature longer than the file is corrupt");

        /* every truncation fails cleanly (and ASan sees no read past the end) */
        t.sig_len = 64;
        Buf full = test_module_build(&t);
        bool all = true;
        for (size_t n = 0; n < full.size; n++) {
                uint8_t *copy = malloc(n ? n : 1);
                memcpy(copy, full.data, n);
                int r = module_elf_parse(copy, n, &e);
                /* cut exactly at the image's end, the file is that module unsigned: valid */
                bool image = n == full.size - (64 + 12 + 28);
                if (image ? r != 0 || e.signature : r != -EBADMSG && r != -ENOEXEC) {
                        printf("# truncated to %zu: %d\n", n, r);
                        all = false;
                }
                free(copy);
        }
        ok(all, "all %zu truncations are refused as corrupt or not ELF (but the unsigned image)", full.size);
        free(full.data);
        free(b.data);
}

static void test_decompress(void)
{
        TestModule t = base();
        Buf b = test_module_build(&t);
        ModuleElf e;

        uint8_t xz[8192];
        size_t xz_size = 0;
        ok(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL, b.data, b.size, xz, &xz_size, sizeof(xz)) ==
               LZMA_OK,
           "xz-compress the module");
        uint8_t *out = NULL;
        size_t n = 0;
        ModuleCompression c;
        is_int(module_decompress(xz, xz_size, &out, &n, &c), 0, "xz decompresses");
        ok(c == MODULE_COMPRESSION_XZ && n == b.size && memcmp(out, b.data, n) == 0, "to the same bytes");
        is_int(module_elf_parse(out, n, &e), 0, "and parses");
        free(out);
        is_int(module_decompress(xz, xz_size / 2, &out, &n, &c), -EBADMSG, "truncated xz is corrupt");

        uint8_t zs[8192];
        size_t zs_size = ZSTD_compress(zs, sizeof(zs), b.data, b.size, 3);
        ok(!ZSTD_isError(zs_size), "zstd-compress the module");
        is_int(module_decompress(zs, zs_size, &out, &n, &c), 0, "zstd decompresses");
        ok(c == MODULE_COMPRESSION_ZSTD && n == b.size && memcmp(out, b.data, n) == 0, "to the same bytes");
        free(out);
        is_int(module_decompress(zs, zs_size - 3, &out, &n, &c), -EBADMSG, "truncated zstd is corrupt");

        is_int(module_decompress(b.data, b.size, &out, &n, &c), 0, "plain bytes pass through");
        ok(c == MODULE_COMPRESSION_NONE && n == b.size, "uncompressed");
        free(out);
        free(b.data);
}

int main(void)
{
        test_valid();
        test_refused();
        test_decompress();
        return tap_done();
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A kernel module's bytes, checked defensively (every offset bounds-checked, nothing trusted): the
 * ELF header, the section table, the sections a module needs, and the signature trailer the kernel
 * strips before it reads the ELF. libkmod reads .modinfo and __versions; this covers what libkmod
 * does not expose (class, machine, type, the trailer) and refuses damaged files first. */

#define MODULE_SIG_MARKER "~Module signature appended~\n"
#define MODULE_VERSION_ENTRY_SIZE 64        /* struct modversion_info: crc (unsigned long), name */
#define MODULE_FILE_MAX (64u * 1024 * 1024) /* compressed or not, as read from disk */
#define MODULE_DECOMPRESSED_MAX (256u * 1024 * 1024)

typedef enum ModuleCompression {
        MODULE_COMPRESSION_NONE,
        MODULE_COMPRESSION_XZ,
        MODULE_COMPRESSION_ZSTD,
} ModuleCompression;

typedef struct ModuleElf {
        unsigned elf_class; /* ELFCLASS32 or ELFCLASS64 */
        bool big_endian;
        unsigned type;           /* e_type: a module is ET_REL */
        unsigned machine;        /* e_machine */
        uint64_t elf_size;       /* bytes the ELF image covers (header, sections, section table);
                                  * zero padding may follow it */
        bool has_modinfo;        /* .modinfo */
        bool has_this_module;    /* .gnu.linkonce.this_module */
        size_t n_versions;       /* entries in __versions (0: none, or no modversions) */
        bool signature;          /* a well-formed signature trailer follows the image */
        uint64_t signature_size; /* trailer bytes: signature, descriptor, marker */
        unsigned sig_id_type;    /* descriptor id_type: 2 = PKCS#7 */
} ModuleElf;

/* Parses a whole (decompressed) module file. Errors: -ENOEXEC not an ELF file, -EBADMSG truncated
 * or corrupt (anything out of bounds, a damaged trailer, nonzero bytes after the image that are
 * not a signature), -EMEDIUMTYPE an ELF file that is not a kernel module (not relocatable, no .modinfo
 * or .gnu.linkonce.this_module). */
int module_elf_parse(const uint8_t *data, size_t size, ModuleElf *ret);

/* Reads a module file, decompressing .xz and .zst (recognised by their magic, not the name) with
 * the limits above. Errors: those of reading the file, -EFBIG over a limit, -EBADMSG a corrupt
 * compressed stream. */
int module_file_read(const char *path, uint8_t **ret_data, size_t *ret_size,
                     ModuleCompression *ret_compression);

/* Decompresses a buffer as module_file_read() does (exposed for tests and fuzzing). */
int module_decompress(const uint8_t *data, size_t size, uint8_t **ret_data, size_t *ret_size,
                      ModuleCompression *ret_compression);

const char *module_compression_to_string(ModuleCompression c);

/* The ELF class and machine of the architecture kernelkeeper was built for (0 if unknown). */
unsigned module_elf_native_class(void);
unsigned module_elf_native_machine(void);
const char *module_elf_machine_to_string(unsigned machine);

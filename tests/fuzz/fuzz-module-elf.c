/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The module file reader on arbitrary bytes (xz/zstd decompression, then the ELF/trailer parser):
 * - it fails with -ENOEXEC, -EBADMSG, -EMEDIUMTYPE, -EFBIG or -ENOMEM, or
 * - it succeeds and everything it reports lies inside the buffer. */
#include <stdint.h>
#include <stdlib.h>

#include "common/macro.h"
#include "modules/module-elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint8_t *buf = NULL;
        size_t n = 0;
        int r = module_decompress(data, size, &buf, &n, NULL);
        if (r < 0) {
                if (r != -EBADMSG && r != -EFBIG && r != -ENOMEM)
                        abort();
                return 0;
        }
        ModuleElf e;
        r = module_elf_parse(buf, n, &e);
        if (r < 0) {
                if (r != -ENOEXEC && r != -EBADMSG && r != -EMEDIUMTYPE)
                        abort();
        } else if (e.elf_size > n || e.signature_size > n || e.elf_size + e.signature_size > n ||
                   e.n_versions * MODULE_VERSION_ENTRY_SIZE > n || !e.has_modinfo || !e.has_this_module ||
                   e.signature != (e.signature_size > 0))
                abort();
        free(buf);
        return 0;
}

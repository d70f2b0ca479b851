/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kernel image reader on arbitrary bytes (bzImage header, payload decompression, ELF notes):
 * - it fails with -EMEDIUMTYPE, -EBADMSG, -EFBIG or -ENOMEM and a reason, or
 * - it succeeds with a printable release and a known format. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "install/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        KernelImage k;
        const char *why = NULL;
        int r = kernel_image_inspect(data, size, &k, &why);
        if (r < 0) {
                if (r != -EMEDIUMTYPE && r != -EBADMSG && r != -EFBIG && r != -ENOMEM)
                        abort();
                if (r != -ENOMEM && r != -EFBIG && !why)
                        abort();
                return 0;
        }
        if (strlen(k.release) >= sizeof k.release || strlen(k.arch) == 0 || k.format > KERNEL_ARM64_IMAGE)
                abort();
        for (const char *p = k.release; *p; p++)
                if (*p <= ' ' || *p >= 127)
                        abort();
        return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "install/stream.h"

/* A tar reader (ustar, GNU long names, pax path/linkpath/size) that extracts selected members below
 * a directory and refuses, before the member is written, anything that could reach outside it or is
 * not a plain file: absolute names, ".." components, symbolic links whose target is absolute or
 * climbs out of the tree, hard links, devices, FIFOs, GNU sparse files. Names are normalised
 * ("./boot/x" -> "boot/x"). Every component is opened with O_NOFOLLOW below dest, so a link the
 * archive made earlier is never followed. Files are written with real bytes (never sparse). */

typedef enum TarType {
        TAR_FILE,
        TAR_DIR,
        TAR_SYMLINK,
} TarType;

/* true: extract this member (and create its parent directories); false: skip it */
typedef bool (*TarFilter)(const char *name, TarType type, void *userdata);

typedef struct TarLimits {
        uint64_t max_total;   /* sum of the sizes of the extracted files */
        uint64_t max_members;
} TarLimits;

/* -EBADMSG a damaged archive, -EPERM a member that is refused (see above), -EFBIG over a limit,
 * -EEXIST a member already present in dest, or an errno of the writes. *ret_error (may be NULL)
 * gets a sentence naming the member. *ret_total (may be NULL) the bytes extracted. */
int tar_extract(Stream *s, int dest_fd, TarFilter filter, void *userdata, const TarLimits *limits,
                uint64_t *ret_total, char **ret_error);

/* True if block (the first bytes of a stream) starts with a ustar (POSIX or GNU) tar header. */
bool tar_magic(const void *block, size_t size);

/* A Debian package: the offset, size and compression of its data.tar member (an "ar" archive with
 * debian-binary first). -EMEDIUMTYPE if fd is not a .deb, -EBADMSG if it is damaged. Reads from the
 * current offset of fd, which must be 0. */
int deb_find_data(int fd, uint64_t *ret_offset, uint64_t *ret_size, Compression *ret_compression);

/* True if the path is a safe relative name: not empty, not absolute, no "." or ".." components,
 * no empty components, no control characters. */
bool tar_name_safe(const char *name);

/* A symbolic link at name (relative to the tree's top) pointing to target stays inside the tree:
 * target is relative and never climbs above the top when resolved from the link's directory. */
bool tar_link_safe(const char *name, const char *target);

/* What a kernel package (a .deb's data.tar, or a tar of boot/ + lib/modules/REL/) holds: the
 * members kernel install takes are boot/FILE (one level, regular files) and lib/modules/REL/...;
 * everything else (a .deb's docs) is skipped. The TarFilter for tar_extract() with a KernelMembers
 * as userdata, which collects the kernel names and the releases seen (the caller frees both). */
typedef struct KernelMembers {
        char **kernels;  /* boot/vmlinu[xz]-* names */
        char **releases; /* lib/modules/<first component> */
} KernelMembers;
bool kernel_member_wanted(const char *name, TarType type, void *userdata);

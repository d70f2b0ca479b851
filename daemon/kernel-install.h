/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

#include "daemon/context.h"
#include "metadata/directive.h"

/* `kernel install`: one source (package, deb, url+sha256, image), checks before anything is
 * written (the checksum before anything is unpacked; a Linux kernel of this architecture; PV
 * capability on a Xen PV guest; free space on /boot; no collision unless reinstall), then the files
 * (modules, config, System.map, initrd, vmlinuz last, each atomic and never sparse), then the
 * menu.lst entry. The pin does not move. Logs its errors (one line each). */
typedef struct InstallRequest {
        const char *package;   /* apt-get download NAME, then as a .deb */
        const char *deb;       /* a .deb file (host path) */
        const char *url;       /* a .deb or a tar of boot/ + lib/modules/REL, with sha256 */
        const char *sha256;
        const char *image;     /* a kernel image (host path) */
        const char *initrd;    /* with image */
        const char *modules;   /* with image: a directory (lib/modules/REL) or a tar of one */
        bool reinstall;
} InstallRequest;

/* Checks the request's shape (exactly one source, what goes with what): -EINVAL logged. */
int kernel_install_check_request(const InstallRequest *req);

/* *ret_release (may be NULL) gets the installed release. */
int kernel_install(const Context *ctx, const InstallRequest *req, char **ret_release);

/* A user-data "kernel" directive: kernel_install() of its source, then (trial) `kernel trial
 * release=REL`. *ret_done: what was done, in words ("installed kernel X and armed its trial").
 * Logs its errors. */
int kernel_directive_apply(const Context *ctx, const DirectiveKernel *k, char **ret_done);
/* After the part is recorded: reboot into the trial (systemctl reboot; never for a --root tree). */
void kernel_directive_reboot(const Context *ctx);

/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* One boot as each bootloader performs it, on a menu.lst and the state files next to it: which entry it
 * hands the CPU to, and how it leaves the state files behind (savedefault writes them before the
 * kernel starts, so what it writes holds even if that kernel then panics).
 *
 * This is what makes a one-shot trial provable before anything is written: simulate the boot of the
 * trial and the boot after it on both loaders. The rules are the loaders' own, as measured in
 * shared/notes/boot-trial.md and read from their sources:
 * - GRUB 0.97 (stage2.c cmain, builtins.c savedefault_func): the default (or `default saved` from the
 *   `default` file), then the fallback list on an error before hand-off. `savedefault` saves the
 *   booting entry, `savedefault N` saves N, `savedefault fallback` the member of the fallback list after
 *   the booting entry (error, and the entry fails, if there is none). The save overwrites the first 10
 *   bytes of the file with the number, a NUL and newlines; a file shorter than 10 bytes or missing
 *   makes the entry fail.
 * - PV-GRUB2 (GRUB 2's legacy_configfile, lib/legacy_parse.c + normal/menu.c): `default saved` takes
 *   saved_entry from grubenv; the value is an index if it starts with a digit (strtoul, the rest
 *   ignored), else an exact title, else entry 0, as is any index out of range. `fallback` covers load
 *   errors only. `savedefault` with any argument saves the FIRST WORD of the booting entry's title to
 *   grubenv; a grubenv that is missing or not a 1024-byte block is not written (the entry still boots).
 *   Entries are numbered as GRUB 0.97 numbers them (titles without a known command are dropped by
 *   both in every file of the corpus).
 * Pure: no I/O; which entries' files load is the caller's answer. */

#include <stdbool.h>
#include <stddef.h>

#include "menulst/menulst.h"

typedef enum BootLoader {
        BOOT_LOADER_GRUB097, /* GNU GRUB 0.97 (Debian grub-legacy), native or as Xen's PV-GRUB */
        BOOT_LOADER_PVGRUB2, /* GRUB 2 for Xen (grub-xen-bin) reading menu.lst with legacy_configfile */
} BootLoader;

/* The state files next to menu.lst; NULL data means the file is missing. */
typedef struct BootFiles {
        char *default_file;
        size_t default_size;
        char *grubenv;
        size_t grubenv_size;
} BootFiles;

void boot_files_done(BootFiles *f);
int boot_files_copy(const BootFiles *f, BootFiles *ret);

/* Whether entry `index` of info loads (its kernel, initrd and modules are readable for the loader). */
typedef bool (*BootLoadsFunc)(const MenuInfo *info, int index, void *userdata);

typedef struct BootOutcome {
        int entry;       /* the entry handed off to; -1: none (the loader stays at its menu/prompt) */
        BootFiles after; /* the state files as the loader leaves them */
} BootOutcome;

void boot_outcome_done(BootOutcome *o);

/* Simulates one boot. loads may be NULL (every entry with a kernel loads). */
int boot_simulate(BootLoader loader, const MenuLst *m, const BootFiles *files, BootLoadsFunc loads,
                  void *userdata, BootOutcome *ret);

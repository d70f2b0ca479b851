/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "common/fileio.h"
#include "daemon/context.h"
#include "menulst/menulst.h"

/* Writes under /boot that take more than one rename, and the lock that serialises kernelkeeper's
 * own writers (commands, kernel hooks, the daemon).
 *
 * A multi-file write (menu.lst and the 'default' file under `default saved`; later the trial's
 * grubenv) is a list of steps, each one write_file_atomic() of one file. Before the first rename
 * the steps are recorded in STATE_DIR/menu-txn.json (every step's bytes, and a hash of the first
 * file as it was). Whoever takes the writers' lock next finishes the job: when the first file
 * holds the bytes of one of its steps, the later steps are written; when it is still the original
 * or something else (a foreign rewrite), the record is dropped. Every stage on disk is checked to
 * boot the intended entry before anything is written (menu_plan_stages()). */

#define MENU_TXN_MAX_STEPS 4

typedef struct MenuTxnStep {
        const char *path; /* host path, resolved inside the root */
        const char *data;
        size_t size;
} MenuTxnStep;

/* How every file under /boot is written: PATH.kk-prev kept, mode/owner kept, synced for GRUB. */
WriteFlags boot_write_flags(const Context *ctx);

/* Takes the writers' lock: flock() on the directory of the configured menu.lst (no file is created,
 * so a refused command changes nothing; without that directory there is nothing under /boot to
 * protect and *ret_fd is -EBADF). wait: retry for ~10 s, then fail with one error line; !wait:
 * -EBUSY at once when another writer holds it (not logged). *ret_fd holds the lock until closed. */
int writers_lock(const Context *ctx, bool wait, int *ret_fd);

/* What every mutating operation does first: writers_lock(), removes our stale temp files (menu.lst's
 * directory and the state directory) and finishes or drops an interrupted write. Logs its errors. */
int writers_begin(const Context *ctx, bool wait, int *ret_fd);

/* Records the steps, writes them in order and removes the record. orig: the first step's file as
 * it is now (to tell "nothing happened yet" from a foreign rewrite). Logs its errors. */
int menu_txn_run(const Context *ctx, const char *orig, size_t orig_size, const MenuTxnStep *steps, size_t n_steps,
                 WriteFlags flags);

/* Finishes or drops a recorded write (caller holds the writers' lock). Logs. */
int menu_txn_recover(const Context *ctx);

/* True if a record of an interrupted write is there (read-only verbs warn about it). */
bool menu_txn_pending(const Context *ctx);

/* Staging of a menu.lst (m1) + default file (d1) change so that every state on disk between the
 * renames boots entry `intended`:
 *   m1 not `default saved`:  menu.lst = m1, then default = d1
 *   m1 under `default saved`: menu.lst = m1 with `default <intended>` instead of `default saved`
 *                             (GRUB ignores the default file then), default = d1, menu.lst = m1.
 * Each intermediate pair is evaluated the GRUB way and must give `intended` (-EPROTO otherwise).
 * ret_stages[i].is_menu tells which file a stage writes; data is allocated. Returns the count. */
typedef struct MenuStage {
        bool is_menu;
        char *data;
        size_t size;
} MenuStage;
int menu_plan_stages(MenuDialect dialect, const MenuLst *m1, const char *d0, size_t d0_size, const char *d1,
                     size_t d1_size, int intended, MenuStage ret_stages[3]);
void menu_stages_done(MenuStage *stages, size_t n);

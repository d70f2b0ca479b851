/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

/* The daemon's inotify view of menu.lst. Tools replace the file by rename (grubby, sed -i), write it
 * in place (update-grub's `cat new > menu.lst`) or go through menu.lst~ / menu.lst-, so the
 * DIRECTORY is watched and events are filtered by name. A RHEL menu.lst -> grub.conf link adds the
 * link target's directory. Every directory from the root down is watched too, so a missing,
 * deleted or recreated /boot/grub is noticed and the watches re-armed. */

typedef enum WatchVerdict {
        WATCH_NOTHING = 0,
        WATCH_WRITING,  /* the menu is being written in place: give the writer time to finish */
        WATCH_CHANGED,  /* the menu or GRUB's default file was replaced, written or removed */
        WATCH_REARM,    /* a directory on the way to the menu appeared or went away */
        WATCH_OVERFLOW, /* the kernel dropped events: everything must be looked at again */
} WatchVerdict;

typedef struct WatchSet WatchSet;

int watch_set_new(WatchSet **ret);
WatchSet *watch_set_free(WatchSet *w);
static inline void watch_set_freep(WatchSet **w)
{
        watch_set_free(*w);
}
int watch_set_fd(const WatchSet *w);

/* Drops the old watches and watches what now leads to menu_path (inside root). Succeeds also when
 * directories are missing: then their nearest existing parent is watched for them to appear. */
int watch_set_arm(WatchSet *w, const char *root, const char *menu_path);
/* True when the menu's directory exists and is watched. */
bool watch_set_complete(const WatchSet *w);
/* True when what menu_path resolves to now differs from what was armed (a link was changed). */
bool watch_set_stale(const WatchSet *w, const char *root, const char *menu_path);

/* Reads every queued event; *ret is the strongest verdict among them. Our own renames (the atomic
 * writer's NAME.kk-XXXXXX -> NAME) and its NAME.kk-* files are recognised and give nothing. */
int watch_set_read(WatchSet *w, WatchVerdict *ret);

/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The GRUB Legacy menu.lst model.
 *
 * A file is held as a list of items. An item is the exact bytes of one or more physical lines that
 * GRUB 0.97's get_line_from_config() reads as one logical line (backslash-newline joins lines, even
 * inside a comment), so concatenating the items gives back the file byte for byte. Each item also
 * carries GRUB's "cooked" view of it (CR dropped, tabs made blanks, leading blanks skipped, comments
 * and blank lines gone, cut at 1500 bytes), which is what the semantic pass reads.
 *
 * The semantic pass (menulst_evaluate) replays stage2.c:cmain() and the menu builtins of builtins.c:
 * which titles become entries, the entry numbers, default/fallback/timeout as GRUB resolves them.
 * Edits work on entry identity and on the items, never on stale indexes, and keep every byte they
 * are not asked to change. Nothing here prints or touches the filesystem except menulst_check_files(). */

#include <stdbool.h>
#include <stddef.h>

#define MENULST_MAX_SIZE (1024 * 1024)   /* larger files are refused */
#define MENULST_LINE_MAX 1500            /* GRUB's NEW_HEAPSIZE cut */
#define MENULST_MAX_FALLBACK 8           /* MAX_FALLBACK_ENTRIES */

typedef enum MenuDialect {
        MENU_DIALECT_GRUB,   /* GNU GRUB 0.97 stage2 (default configure: serial, hercules, md5) */
        MENU_DIALECT_PVGRUB, /* Xen's stubdom PV-GRUB: no serial, setkey, setup, install, uppermem */
} MenuDialect;

typedef struct MenuItem {
        char *raw;      /* exact bytes, line terminator(s) included */
        size_t raw_len;
        char *cooked;   /* GRUB's logical line, or NULL for blank lines and comments */
        unsigned line;  /* 1-based number of the first physical line */
} MenuItem;

typedef struct MenuLst {
        MenuItem *items;
        size_t n_items;
        bool crlf; /* the file's own line ending, used for lines we add */
} MenuLst;

/* Parsing never fails on content (GRUB accepts anything); it fails on binary data (-EBADMSG),
 * on size (-EFBIG) and on memory. */
int menulst_parse(const char *data, size_t size, MenuLst **ret);
MenuLst *menulst_free(MenuLst *m);
static inline void menulst_freep(MenuLst **m)
{
        menulst_free(*m);
}
int menulst_serialize(const MenuLst *m, char **ret_data, size_t *ret_size);
MenuLst *menulst_copy(const MenuLst *m);

/* Command table look-up, as find_command() does it. */
typedef enum BuiltinFlags {
        BUILTIN_CMDLINE = 1 << 0, /* may run inside an entry */
        BUILTIN_MENU = 1 << 1,    /* may run in the global section */
        BUILTIN_TITLE = 1 << 2,
} BuiltinFlags;
/* Returns the flags of the command named by the cooked line, 0 if GRUB does not know it. Sets
 * *ret_arg (may be NULL) to the argument as skip_to(1, ...) finds it. */
int menulst_find_command(MenuDialect d, const char *cooked, char *ret_name, size_t name_size,
                         const char **ret_arg);

/* GRUB's safe_parse_maxint(): decimal or 0x hex, no sign, stops at the first non-digit. */
bool menulst_parse_int(const char **p, int *ret);

typedef struct MenuEntry {
        int index;          /* GRUB's entry number */
        size_t title_item;  /* item index of the title line */
        size_t last_item;   /* item index of the last command of the entry */
        char *title;
        char *root;         /* last root/rootnoverify argument in the entry, NULL if none */
        char *kernel;       /* file argument of `kernel` as written (device prefix kept), NULL if none */
        char *args;         /* kernel command line after the file ("" if none) */
        char *initrd;
        char **modules;     /* file arguments of module/modulenounzip lines (Xen multiboot) */
        char *release;      /* kernel release guessed from the Linux image name, NULL if unknown */
        bool chainloader;
        bool savedefault;   /* has a savedefault line */
        char *savedefault_arg;
        bool password;      /* entry-level password: prompts at boot (hangs a headless guest) */
        bool lock;
        char *fail_reason;  /* set when GRUB fails this entry before loading anything */
} MenuEntry;

typedef struct MenuInfo {
        MenuEntry *entries;
        size_t n_entries;
        int default_entry;     /* what GRUB boots first, -1 with no entries */
        bool default_saved;    /* `default saved` took effect */
        int saved_entry;       /* from the default file, when default_saved */
        int fallback[MENULST_MAX_FALLBACK]; /* what GRUB tries after the default fails, in order */
        size_t n_fallback;
        int fallback_list[MENULST_MAX_FALLBACK]; /* the whole list as GRUB keeps it after pruning: what
                                                  * `savedefault fallback` searches */
        size_t n_fallback_list;
        bool fallback_hang;    /* the pruning loop of 0.97 never ends with this list */
        int timeout;           /* -1: none, the menu waits for a key */
        bool hiddenmenu;
        bool global_password;
        char **warnings;       /* NULL-terminated, human-readable hazards found without the filesystem */
} MenuInfo;

typedef struct MenuEvalOptions {
        MenuDialect dialect;
        /* contents of <menu dir>/default, NULL if the file is missing */
        const char *default_file;
        size_t default_file_size;
} MenuEvalOptions;

int menulst_evaluate(const MenuLst *m, const MenuEvalOptions *o, MenuInfo **ret);
MenuInfo *menu_info_free(MenuInfo *i);
static inline void menu_info_freep(MenuInfo **i)
{
        menu_info_free(*i);
}

/* /boot/grub/default as Debian's GRUB reads it: a number from the first 10 bytes, optionally
 * "A:B" (boot B once, savedefault writes back A). Returns false if no number is there. */
bool menulst_parse_default_file(const char *data, size_t size, int *ret_entry, int *ret_once_restore);
/* The grub-set-default format: "N\n" padded with comment lines so GRUB can overwrite 10 bytes. */
int menulst_format_default_file(int entry, char **ret_data, size_t *ret_size);

/* PV-GRUB2's state file <menu dir>/grubenv (GRUB 2's environment block): exactly 1024 bytes,
 * "# GRUB Environment Block\n", "name=value\n" lines with backslash escapes, '#' padding.
 * _get: -EBADMSG if data is not such a block, -ENOENT if name is not set.
 * _set: data NULL makes a new block (a block holding a NUL byte is damaged); the result is always MENULST_GRUBENV_SIZE bytes (plus a NUL),
 * other variables kept, -E2BIG if it does not fit. */
#define MENULST_GRUBENV_SIZE 1024
int menulst_grubenv_get(const char *data, size_t size, const char *name, char **ret_value);
int menulst_grubenv_set(const char *data, size_t size, const char *name, const char *value, char **ret_data);

/* Filesystem view used to check that kernels exist. */
typedef struct MenuFs {
        const char *root;       /* the tree, "/" for the running system */
        bool separate_boot;     /* /boot is its own partition: GRUB paths are relative to it */
        const char *boot_device; /* if set, e.g. "(hd0,0)": files on other devices can't be checked */
} MenuFs;

typedef enum FileState {
        FILE_OK,
        FILE_MISSING,
        FILE_SPARSE,        /* holes in an extent-mapped file: GRUB 0.97 cannot read it */
        FILE_UNVERIFIABLE,  /* on another device or written as a block list */
} FileState;

/* Maps a GRUB path (optionally "(hdX,Y)/path") of an entry whose root is root_dev to a host path
 * and says whether it is there. *ret_host may be NULL. */
FileState menulst_resolve_file(const MenuFs *fs, const char *root_dev, const char *grub_path, char **ret_host);

/* Appends filesystem hazards (missing or sparse kernel/initrd/modules) of every entry to the
 * info's warnings. */
int menulst_check_files(MenuInfo *info, const MenuFs *fs);

/* Problems that stop the default or a fallback from loading a kernel: one string each, the array
 * NULL-terminated and empty when GRUB would load a kernel that exists for every one of them. */
int menulst_boot_problems(const MenuInfo *info, const MenuFs *fs, char ***ret);
/* Appends the problems of one entry to *l. */
int menulst_entry_problems(const MenuInfo *info, const MenuFs *fs, int index, char ***l);

/* Entry identity. A selector is "title=TEXT", "kernel=PATH", "release=VERSION" or a bare string
 * matched against all three. A kernel/release selector that matches a normal entry and its
 * recovery twin (same kernel, `single` on the command line) picks the normal one. */
typedef enum MenuSelectError {
        MENU_SELECT_OK = 0,
        MENU_SELECT_NONE,
        MENU_SELECT_AMBIGUOUS,
} MenuSelectError;
int menulst_select(const MenuInfo *info, const char *selector, MenuSelectError *ret_error, int *ret_index);

/* Edits. All keep every item they do not change. */
/* Sets every global `name` line (before the first title) to value, or adds one after the last
 * global command (before the first title). value NULL removes the global lines. */
int menulst_set_global(MenuLst *m, MenuDialect d, const char *name, const char *value);
/* Values that become part of a menu.lst line, checked in one place before anything is written,
 * so that a value can never add a line, join the next one (a trailing backslash) or be cut by
 * GRUB. No value may hold a control character (tab, CR and newline included). */
typedef enum MenuValueKind {
        MENU_VALUE_TITLE,       /* `title` text: not empty, not starting with a blank or '=' */
        MENU_VALUE_PATH,        /* kernel, initrd or module file: "/path" or "(hdN[,M])/path", no blanks */
        MENU_VALUE_ROOT_DEVICE, /* `root` device: "(hdN)" or "(hdN,M)" */
        MENU_VALUE_ARGS,        /* kernel or module command line: any printable text */
        MENU_VALUE_LINE,        /* a whole command line as written ("kernel PATH ARGS") */
} MenuValueKind;
/* Returns 0, or -EINVAL with *ret_reason (a static string: "must ...", "contains ...") saying what
 * is wrong. Every kind must fit in GRUB's line of MENULST_LINE_MAX bytes with its command name;
 * check the assembled kernel line (path and arguments) as MENU_VALUE_LINE. */
int menulst_check_value(MenuValueKind kind, const char *value, const char **ret_reason);
/* Inserts an entry made of text lines ("title X", "kernel ...", ...). position: index of the
 * entry it goes before, -1 to append after the last entry (outside any Debian automagic block), or
 * MENULST_ENTRY_TOP to become entry 0 outside any automagic block (update-grub never rewrites it).
 * Lines that fail menulst_check_value(MENU_VALUE_LINE) are refused with -EINVAL. */
#define MENULST_ENTRY_TOP (-2)
int menulst_add_entry(MenuLst *m, const MenuInfo *info, const char *const *lines, int position);
/* Removes the entry's title and commands (comments and markers around it stay). */
int menulst_remove_entry(MenuLst *m, const MenuInfo *info, int index);

/* Removes item `item` if it is a blank line (not a comment); true if it did. */
bool menulst_remove_blank_line(MenuLst *m, size_t item);

/* Who probably wrote the file: "update-grub", "update-grub-legacy-ec2", "grubby", or NULL. */
const char *menulst_guess_writer(const MenuLst *m);

/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>

#include "boot/history.h"
#include "common/macro.h"

static json_t *string_or_null(const char *s)
{
        return s ? json_string(s) : json_null();
}

int boot_history_add(json_t *history, const BootRecord *r)
{
        if (!json_is_array(history))
                return -EINVAL;
        if (r->boot_id) {
                size_t i;
                json_t *v;
                json_array_foreach(history, i, v) {
                        const char *id = json_string_value(json_object_get(v, "boot_id"));
                        if (id && streq(id, r->boot_id))
                                return 0;
                }
        }
        json_t *j = json_pack("{s:o, s:o, s:o, s:o, s:o, s:b, s:s, s:o}", "boot_id", string_or_null(r->boot_id),
                              "time", string_or_null(r->time), "release", string_or_null(r->release), "entry",
                              r->entry >= 0 ? json_integer(r->entry) : json_null(), "title", string_or_null(r->title),
                              "trial", r->trial, "outcome", r->outcome ? r->outcome : "unknown", "reason",
                              string_or_null(r->reason));
        if (!j || json_array_append_new(history, j) < 0)
                return -ENOMEM;
        while (json_array_size(history) > BOOT_HISTORY_MAX)
                json_array_remove(history, 0);
        return 1;
}

int boot_history_set_outcome(json_t *history, const char *boot_id, const char *outcome, const char *reason)
{
        size_t i;
        json_t *v;
        json_array_foreach(history, i, v) {
                const char *id = json_string_value(json_object_get(v, "boot_id"));
                if (!id || !boot_id || !streq(id, boot_id))
                        continue;
                if (json_object_set_new(v, "outcome", json_string(outcome)) < 0 ||
                    json_object_set_new(v, "reason", string_or_null(reason)) < 0)
                        return -ENOMEM;
                return 0;
        }
        return -ENOENT;
}

bool boot_history_trial_failed(json_t *history, const char *release)
{
        size_t i;
        json_t *v;
        json_array_foreach(history, i, v) {
                const char *rel = json_string_value(json_object_get(v, "release"));
                const char *outcome = json_string_value(json_object_get(v, "outcome"));
                if (json_is_true(json_object_get(v, "trial")) && rel && release && streq(rel, release) && outcome &&
                    streq(outcome, "failed"))
                        return true;
        }
        return false;
}

/* compares two command lines word by word: blanks between words do not matter */
static bool same_words(const char *a, const char *b)
{
        for (;;) {
                while (*a == ' ' || *a == '\t' || *a == '\n')
                        a++;
                while (*b == ' ' || *b == '\t' || *b == '\n')
                        b++;
                if (!*a || !*b)
                        return !*a && !*b;
                size_t la = strcspn(a, " \t\n"), lb = strcspn(b, " \t\n");
                if (la != lb || memcmp(a, b, la) != 0)
                        return false;
                a += la;
                b += lb;
        }
}

int boot_match_entry(const MenuInfo *info, const char *cmdline, const char *release)
{
        for (size_t i = 0; i < info->n_entries; i++) {
                const MenuEntry *e = &info->entries[i];
                if (!e->kernel || !e->args)
                        continue;
                if (release && e->release && !streq(release, e->release))
                        continue;
                /* what the loader passed: GRUB 0.97 stops copying at 255 bytes */
                char args[256];
                snprintf(args, sizeof args, "%s", e->args);
                if (same_words(args, cmdline))
                        return (int) i;
        }
        return -1;
}

bool boot_cmdline_has(const char *cmdline, const char *word)
{
        size_t l = strlen(word);
        for (const char *p = cmdline; *p;) {
                while (*p == ' ' || *p == '\t' || *p == '\n')
                        p++;
                size_t n = strcspn(p, " \t\n");
                if (n == l && memcmp(p, word, l) == 0)
                        return true;
                p += n;
        }
        return false;
}

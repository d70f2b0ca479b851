/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/chase.h"
#include "common/fileio.h"
#include "common/macro.h"
#include "common/strv.h"
#include "daemon/log.h"
#include "daemon/menu-load.h"
#include "daemon/pin.h"
#include "daemon/protect.h"
#include "daemon/state.h"

#define APT_DIR "/etc/apt/apt.conf.d"
#define APT_FILE APT_DIR "/50kernelkeeper"

static int add_release(char ***l, const char *release, const char *why)
{
        if (!release)
                return 0;
        for (char **s = *l; s && *s; s += 2)
                if (streq(*s, release))
                        return 0;
        return strv_push(l, release) < 0 || strv_push(l, why) < 0 ? -ENOMEM : 0;
}

static int add_selector(char ***l, const MenuInfo *info, const char *sel, const char *why)
{
        MenuSelectError e;
        int idx;
        if (!sel || menulst_select(info, sel, &e, &idx) < 0)
                return 0; /* an entry that is gone protects nothing */
        return add_release(l, info->entries[idx].release, why);
}

/* release, reason, release, reason, ... */
static int protected_releases(const Context *ctx, char ***ret)
{
        _cleanup_json_ json_t *state = NULL;
        int r = state_load(ctx, &state);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **l = NULL;
        json_t *trial = json_object_get(state, "trial");
        if (trial_in_flight(state)) {
                json_t *g = json_object_get(trial, "good"), *t = json_object_get(trial, "trial");
                if ((r = add_release(&l, json_string_value(json_object_get(g, "release")),
                                     "the known-good kernel of a kernel trial")) < 0 ||
                    (r = add_release(&l, json_string_value(json_object_get(t, "release")),
                                     "the kernel on trial")) < 0)
                        return r;
        }
        _cleanup_(pin_done) Pin pin = {};
        if (pin_from_state(state, &pin) >= 0) {
                _cleanup_(loaded_menu_freep) LoadedMenu *lm = NULL;
                if ((r = menu_load(ctx, &lm)) < 0)
                        return r;
                if ((r = add_selector(&l, lm->info, pin.default_sel, "the pinned default kernel")) < 0)
                        return r;
                for (char **s = pin.fallback_sels; s && *s; s++)
                        if ((r = add_selector(&l, lm->info, *s, "a pinned fallback kernel")) < 0)
                                return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* apt's regular expressions: a release is matched literally */
static int push_regex_quoted(char **buf, size_t *len, const char *s)
{
        FILE *f = open_memstream(buf, len);
        if (!f)
                return -ENOMEM;
        fputs("   \"^linux-image-", f);
        for (; *s; s++) {
                if (strchr(".+*?()[]{}|^$\\", *s))
                        fputc('\\', f);
                fputc(*s, f);
        }
        fputs("$\";\n", f);
        return fclose(f) == 0 ? 0 : -ENOMEM;
}

void protect_update(const Context *ctx)
{
        _cleanup_free_ char *dir = NULL, *text = NULL;
        if (chase_in_root(ctx->root, APT_DIR, 0, &dir) < 0)
                return; /* not an apt system */
        _cleanup_strv_free_ char **l = NULL;
        int r = protected_releases(ctx, &l);
        if (r < 0) {
                log_warning_errno(r, "Cannot work out which kernels to keep from apt autoremove: %m");
                return;
        }
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/50kernelkeeper", dir) < 0)
                return;
        if (!l || !l[0]) {
                if (unlink(path) < 0 && errno != ENOENT)
                        log_warning_errno(errno, "Cannot remove %s: %m", path);
                return;
        }
        size_t n = 0;
        FILE *f = open_memstream(&text, &n);
        if (!f)
                return;
        fputs("// Written by kernelkeeper: the pinned and known-good kernels are never auto-removed.\n"
              "// `kernelkeeper pin`, `unpin` and kernel trials keep this list current.\n"
              "APT::NeverAutoRemove\n{\n", f);
        for (char **s = l; *s; s += 2) {
                _cleanup_free_ char *line = NULL;
                size_t ln;
                if (push_regex_quoted(&line, &ln, s[0]) >= 0)
                        fputs(line, f);
        }
        fputs("};\n", f);
        if (fclose(f) != 0)
                return;
        /* every boot's `boots record` gets here: an unchanged list is not written again */
        _cleanup_free_ char *old = NULL;
        size_t old_size;
        if (read_full_file(path, 64 * 1024, &old, &old_size) >= 0 && old_size == n && memcmp(old, text, n) == 0)
                return;
        r = write_file_atomic(path, text, n, 0644, 0);
        if (r < 0)
                log_warning_errno(r, "Cannot write %s: %m", path);
}

int protect_check_removal(const Context *ctx, const char *release)
{
        _cleanup_strv_free_ char **l = NULL;
        int r = protected_releases(ctx, &l);
        if (r < 0)
                return r;
        for (char **s = l; s && *s; s += 2) {
                if (!streq(*s, release))
                        continue;
                const char *allow = getenv("KERNELKEEPER_ALLOW_REMOVE");
                if (allow && streq(allow, "1")) {
                        log_warning("Removing kernel %s, %s, because KERNELKEEPER_ALLOW_REMOVE=1", release, s[1]);
                        return 0;
                }
                return log_error_errno(EBUSY,
                                       "Refusing to remove kernel %s: it is %s (pin another kernel first, or set KERNELKEEPER_ALLOW_REMOVE=1)",
                                       release, s[1]);
        }
        return 0;
}

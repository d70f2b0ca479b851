/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <sys/stat.h>

#include "common/fileio.h"
#include "common/macro.h"
#include "tests/tap.h"

int main(void)
{
        char tmpl[] = "/tmp/kk-fileio-XXXXXX";
        char *dir = mkdtemp(tmpl);
        char path[256], prev[280], cmd[300];
        snprintf(path, sizeof path, "%s/menu.lst", dir);
        snprintf(prev, sizeof prev, "%s.kk-prev", path);

        ok(write_file_atomic(path, "one\n", 4, 0600, WRITE_KEEP_PREV | WRITE_MODE_FROM_OLD) == 0, "create");
        struct stat st;
        ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "mode of a new file");
        ok(access(prev, F_OK) < 0, "no previous copy of a new file");

        chmod(path, 0640);
        ok(write_file_atomic(path, "two\n", 4, 0600, WRITE_KEEP_PREV | WRITE_MODE_FROM_OLD | WRITE_SYNCFS) == 0,
           "replace");
        char *data = NULL;
        size_t n;
        ok(read_full_file(path, 100, &data, &n) == 0 && n == 4 && streq(data, "two\n"), "new contents");
        free(data);
        ok(read_full_file(prev, 100, &data, &n) == 0 && streq(data, "one\n"), "previous contents kept");
        free(data);
        ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640, "mode of the old file kept");

        is_int(read_full_file(path, 3, &data, &n), -EFBIG, "size cap");
        is_int(read_full_file(dir, 100, &data, &n), -EINVAL, "not a regular file");

        snprintf(cmd, sizeof cmd, "ln -s menu.lst %s/link", dir);
        (void) system(cmd);
        char link[256];
        snprintf(link, sizeof link, "%s/link", dir);
        is_int(write_file_atomic(link, "x", 1, 0600, 0), -EINVAL, "never replaces a symlink");

        snprintf(cmd, sizeof cmd, "ls %s | grep -c kk- | grep -qx 1", dir);
        ok(system(cmd) == 0, "no temp files left behind");
        /* stale temps of a killed writer: ours go, everything else stays */
        const char *stale[] = { "menu.lst.kk-a1B2c3", "default.kk-ZZZZZZ", "state.json.kk-000000" };
        const char *keep[] = { "menu.lst.kk-prev", "menu.lst.kk-abc", "menu.lst.kk-abcdefg", "other.kk-a1B2c3",
                               "menu.lst.kk-a.b-c3", "xmenu.lst.kk-a1B2c3" };
        for (size_t i = 0; i < ELEMENTSOF(stale); i++) {
                snprintf(cmd, sizeof cmd, "touch %s/%s", dir, stale[i]);
                (void) system(cmd);
        }
        for (size_t i = 0; i < ELEMENTSOF(keep); i++) {
                snprintf(cmd, sizeof cmd, "touch %s/%s", dir, keep[i]);
                (void) system(cmd);
        }
        snprintf(cmd, sizeof cmd, "mkdir %s/default.kk-Dir123 && ln -s menu.lst %s/menu.lst.kk-Lnk123", dir, dir);
        (void) system(cmd);
        const char *names[] = { "menu.lst", "default", "state.json", NULL };
        is_int(remove_stale_temps(dir, names), 3, "three stale temps removed");
        for (size_t i = 0; i < ELEMENTSOF(stale); i++) {
                snprintf(path, sizeof path, "%s/%s", dir, stale[i]);
                ok(access(path, F_OK) < 0, "removed %s", stale[i]);
        }
        for (size_t i = 0; i < ELEMENTSOF(keep); i++) {
                snprintf(path, sizeof path, "%s/%s", dir, keep[i]);
                ok(access(path, F_OK) == 0, "kept %s", keep[i]);
        }
        snprintf(path, sizeof path, "%s/default.kk-Dir123", dir);
        ok(access(path, F_OK) == 0, "a directory is not a temp file");
        snprintf(path, sizeof path, "%s/menu.lst.kk-Lnk123", dir);
        ok(access(path, F_OK) == 0, "a symlink is not a temp file");
        snprintf(path, sizeof path, "%s/nonexistent", dir);
        is_int(remove_stale_temps(path, names), 0, "missing directory: nothing to do");

        ok(looks_binary("\x7f" "ELF\x02\x01\x01\0\0", 9), "ELF is binary");
        ok(!looks_binary("pause \x07 beep\n", 13), "a BEL in text is still text");
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        (void) system(cmd);
        return tap_done();
}

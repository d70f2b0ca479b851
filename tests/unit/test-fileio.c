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
        ok(looks_binary("\x7f" "ELF\x02\x01\x01\0\0", 9), "ELF is binary");
        ok(!looks_binary("pause \x07 beep\n", 13), "a BEL in text is still text");
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        (void) system(cmd);
        return tap_done();
}

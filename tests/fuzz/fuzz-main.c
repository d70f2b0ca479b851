/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Replays files or directories of inputs through a libFuzzer target, so every fuzzer's seed corpus
 * runs as an ordinary test in builds without -fsanitize=fuzzer. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fileio.h"
#include "common/macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned n_run;

static int run_file(const char *path)
{
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r = read_full_file(path, 64 * 1024 * 1024, &data, &size);
        if (r < 0) {
                fprintf(stderr, "cannot read %s: %s\n", path, strerror(-r));
                return r;
        }
        /* an exact-size copy so ASan sees reads past the end */
        _cleanup_free_ uint8_t *copy = malloc(size ? size : 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, data, size);
        LLVMFuzzerTestOneInput(copy, size);
        n_run++;
        printf("ok %u - %s\n", n_run, path);
        return 0;
}

static int run_path(const char *path)
{
        struct stat st;
        if (stat(path, &st) < 0) {
                fprintf(stderr, "cannot stat %s\n", path);
                return -errno;
        }
        if (!S_ISDIR(st.st_mode))
                return run_file(path);
        struct dirent **names;
        int n = scandir(path, &names, NULL, alphasort), r = 0;
        if (n < 0)
                return -errno;
        for (int i = 0; i < n; i++) {
                if (names[i]->d_name[0] != '.' && r >= 0) {
                        _cleanup_free_ char *p = NULL;
                        if (asprintf(&p, "%s/%s", path, names[i]->d_name) < 0)
                                r = -ENOMEM;
                        else
                                r = run_path(p);
                }
                free(names[i]);
        }
        free(names);
        return r;
}

int main(int argc, char **argv)
{
        for (int i = 1; i < argc; i++)
                if (run_path(argv[i]) < 0)
                        return 1;
        printf("1..%u\n", n_run);
        return n_run > 0 ? 0 : 1;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <stdlib.h>

#include "common/fileio.h"
#include "common/macro.h"
#include "menulst/menulst.h"
#include "tests/tap.h"

static MenuLst *parse(const char *s)
{
        MenuLst *m = NULL;
        if (menulst_parse(s, strlen(s), &m) < 0)
                return NULL;
        return m;
}

static void test_cooking(void)
{
        _cleanup_(menulst_freep) MenuLst *m = parse("  # comment\n\n\ttitle\tA  \r\nkernel=/x \\\n  ro\n#c \\\nswallowed\n");
        ok(m, "parses");
        if (!m)
                return;
        is_int(m->n_items, 5, "items: comment, blank, title, joined kernel, comment+swallowed");
        is_str(m->items[0].cooked, NULL, "comment has no command");
        is_str(m->items[2].cooked, "title A  ", "tabs become blanks, CR dropped, trailing blanks kept");
        is_str(m->items[3].cooked, "kernel=/x    ro", "backslash-newline joins lines");
        is_int(m->items[3].line, 4, "line number of a joined line");
        is_str(m->items[4].cooked, NULL, "a comment ending in a backslash swallows the next line");
}

static void test_long_line(void)
{
        char *s = malloc(3100);
        strcpy(s, "kernel ");
        memset(s + 7, 'a', 3000);
        strcpy(s + 3007, "\ntitle x\n");
        _cleanup_(menulst_freep) MenuLst *m = parse(s);
        free(s);
        ok(m && m->n_items == 2, "long line is one item");
        if (m)
                is_int(strlen(m->items[0].cooked), MENULST_LINE_MAX, "GRUB cuts a line at 1500 bytes");
}

static void test_refusals(void)
{
        MenuLst *m = NULL;
        is_int(menulst_parse("title a\0kernel", 14, &m), -EBADMSG, "NUL bytes are binary");
        char *big = calloc(1, MENULST_MAX_SIZE + 2);
        memset(big, '#', MENULST_MAX_SIZE + 1);
        is_int(menulst_parse(big, MENULST_MAX_SIZE + 1, &m), -EFBIG, "over 1 MiB is refused");
        free(big);
        ok(!m, "nothing returned on failure");
}

static void test_corpus_roundtrip(void)
{
        const char *dir = getenv("KK_CORPUS");
        struct dirent **names;
        int n = dir ? scandir(dir, &names, NULL, alphasort) : -1;
        ok(n > 0, "corpus directory readable");
        unsigned count = 0;
        for (int i = 0; i < n; i++) {
                const char *name = names[i]->d_name;
                size_t l = strlen(name);
                if (l > 4 && streq(name + l - 4, ".lst")) {
                        _cleanup_free_ char *path = NULL, *data = NULL, *out = NULL;
                        size_t size, osize;
                        _cleanup_(menulst_freep) MenuLst *m = NULL;
                        if (asprintf(&path, "%s/%s", dir, name) < 0)
                                abort();
                        ok(read_full_file(path, MENULST_MAX_SIZE, &data, &size) == 0 &&
                                   menulst_parse(data, size, &m) == 0 && menulst_serialize(m, &out, &osize) == 0 &&
                                   osize == size && memcmp(out, data, size) == 0,
                           "%s serializes back byte for byte", name);
                        count++;
                }
                free(names[i]);
        }
        if (n > 0)
                free(names);
        is_int(count, 29, "all 29 corpus files tried");
}

int main(void)
{
        test_cooking();
        test_long_line();
        test_refusals();
        test_corpus_roundtrip();
        return tap_done();
}

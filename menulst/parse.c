/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "common/fileio.h"
#include "common/macro.h"
#include "menulst/menulst.h"

/* The reader state of stage2.c:get_line_from_config(), one byte at a time. */
typedef struct LineReader {
        char buf[MENULST_LINE_MAX + 1];
        int pos;
        bool literal, comment;
} LineReader;

/* Feeds one byte; returns true when GRUB would return a complete logical line (the '\n' ending a
 * line that has content). */
static bool reader_feed(LineReader *r, char c)
{
        if (c == '\r')
                return false;
        if (c == '\t')
                c = ' ';
        if (r->literal) {
                if (c == '\n') {
                        c = ' ';
                        if (r->pos > 0)
                                r->pos--;
                }
                r->literal = false;
        }
        if (c == '\\' && !r->literal)
                r->literal = true;

        if (r->comment) {
                if (c == '\n')
                        r->comment = false;
        } else if (!r->pos) {
                if (c == '#')
                        r->comment = true;
                else if (c != ' ' && c != '\n')
                        r->buf[r->pos++] = c;
        } else {
                if (c == '\n')
                        return true;
                if (r->pos < MENULST_LINE_MAX)
                        r->buf[r->pos++] = c;
        }
        return false;
}

static bool reader_fresh(const LineReader *r)
{
        return r->pos == 0 && !r->comment && !r->literal;
}

static int push_item(MenuLst *m, size_t *cap, const char *start, size_t len, const LineReader *r,
                     unsigned line)
{
        if (m->n_items == *cap) {
                size_t ncap = *cap ? *cap * 2 : 64;
                MenuItem *n = realloc(m->items, ncap * sizeof *n);
                if (!n)
                        return -ENOMEM;
                m->items = n;
                *cap = ncap;
        }
        MenuItem *it = &m->items[m->n_items];
        *it = (MenuItem){ .line = line };
        it->raw = malloc(len + 1);
        if (!it->raw)
                return -ENOMEM;
        memcpy(it->raw, start, len);
        it->raw[len] = 0;
        it->raw_len = len;
        if (r && r->pos > 0) {
                /* GRUB treats the line as a C string: an embedded NUL ends it */
                it->cooked = strndup(r->buf, (size_t) r->pos);
                if (!it->cooked) {
                        free(it->raw);
                        return -ENOMEM;
                }
        }
        m->n_items++;
        return 0;
}

int menulst_parse(const char *data, size_t size, MenuLst **ret)
{
        if (size > MENULST_MAX_SIZE)
                return -EFBIG;
        if (looks_binary(data, size))
                return -EBADMSG;

        _cleanup_(menulst_freep) MenuLst *m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;

        size_t cap = 0, start = 0, crlf = 0, lf = 0;
        unsigned line = 1, start_line = 1;
        LineReader r = {};
        for (size_t i = 0; i < size; i++) {
                char c = data[i];
                bool done = reader_feed(&r, c);
                if (c != '\n')
                        continue;
                line++;
                if (i > 0 && data[i - 1] == '\r')
                        crlf++;
                else
                        lf++;
                if (!done && !reader_fresh(&r))
                        continue; /* a joined line, or a comment swallowing the next line */
                int k = push_item(m, &cap, data + start, i + 1 - start, done ? &r : NULL, start_line);
                if (k < 0)
                        return k;
                r = (LineReader){};
                start = i + 1;
                start_line = line;
        }
        if (start < size) {
                int k = push_item(m, &cap, data + start, size - start, &r, start_line);
                if (k < 0)
                        return k;
        }
        m->crlf = crlf > lf;
        *ret = TAKE_PTR(m);
        return 0;
}

MenuLst *menulst_free(MenuLst *m)
{
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_items; i++) {
                free(m->items[i].raw);
                free(m->items[i].cooked);
        }
        free(m->items);
        free(m);
        return NULL;
}

MenuLst *menulst_copy(const MenuLst *m)
{
        _cleanup_(menulst_freep) MenuLst *c = calloc(1, sizeof *c);
        if (!c)
                return NULL;
        c->crlf = m->crlf;
        c->items = calloc(m->n_items ? m->n_items : 1, sizeof *c->items);
        if (!c->items)
                return NULL;
        for (size_t i = 0; i < m->n_items; i++) {
                MenuItem *d = &c->items[i];
                const MenuItem *s = &m->items[i];
                *d = (MenuItem){ .raw_len = s->raw_len, .line = s->line };
                c->n_items = i + 1;
                d->raw = malloc(s->raw_len + 1);
                if (!d->raw)
                        return NULL;
                memcpy(d->raw, s->raw, s->raw_len + 1);
                if (s->cooked && !(d->cooked = strdup(s->cooked)))
                        return NULL;
        }
        return TAKE_PTR(c);
}

int menulst_serialize(const MenuLst *m, char **ret_data, size_t *ret_size)
{
        size_t n = 0;
        for (size_t i = 0; i < m->n_items; i++)
                n += m->items[i].raw_len;
        char *buf = malloc(n + 1);
        if (!buf)
                return -ENOMEM;
        char *p = buf;
        for (size_t i = 0; i < m->n_items; i++) {
                memcpy(p, m->items[i].raw, m->items[i].raw_len);
                p += m->items[i].raw_len;
        }
        *p = 0;
        *ret_data = buf;
        *ret_size = n;
        return 0;
}

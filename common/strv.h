/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* NULL-terminated string arrays (strv_free() is in macro.h). */
int strv_push(char ***l, const char *s);
/* takes ownership of s, also on failure */
int strv_consume(char ***l, char *s);
size_t strv_length(char *const *l);
/* s is one of the strings of l (l may be NULL) */
bool strv_contains(char *const *l, const char *s);
/* appends a formatted string */
int strv_pushf(char ***l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for a list built in a loop, in amortized O(1): the caller keeps its length in *n (0 for a
 * NULL list) and adds to it only through these two, which grow it by doubling. */
int strv_consume_n(char ***l, size_t *n, char *s);
int strv_pushf_n(char ***l, size_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

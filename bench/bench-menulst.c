/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Parse+serialize (and evaluate) throughput on a generated 1,000-entry menu.lst, Debian style.
 * Prints one line per measurement; run via `./dev bench` on a release build. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/macro.h"
#include "menulst/menulst.h"

#include "bench-util.h"

static char *make_menu(unsigned entries, size_t *ret_size)
{
        size_t cap = 256 + (size_t) entries * 256, n = 0;
        char *buf = malloc(cap);
        if (!buf)
                abort();
        n += (size_t) snprintf(buf + n, cap - n, "default\t\t0\ntimeout\t\t0\nhiddenmenu\n\n"
                                                 "### BEGIN AUTOMAGIC KERNELS LIST\n## ## End Default Options ##\n\n");
        for (unsigned i = 0; i < entries; i++)
                n += (size_t) snprintf(buf + n, cap - n,
                                       "title\t\tDebian GNU/Linux, kernel 6.1.0-%u-amd64\nroot\t\t(hd0,0)\n"
                                       "kernel\t\t/boot/vmlinuz-6.1.0-%u-amd64 root=/dev/xvda1 ro console=hvc0\n"
                                       "initrd\t\t/boot/initrd.img-6.1.0-%u-amd64\n\n",
                                       i, i, i);
        n += (size_t) snprintf(buf + n, cap - n, "### END DEBIAN AUTOMAGIC KERNELS LIST\n");
        *ret_size = n;
        return buf;
}

int main(int argc, char **argv)
{
        unsigned entries = argc > 1 ? (unsigned) atoi(argv[1]) : 1000;
        unsigned rounds = argc > 2 ? (unsigned) atoi(argv[2]) : 200;
        size_t size;
        _cleanup_free_ char *text = make_menu(entries, &size);

        double t0 = bench_now();
        for (unsigned r = 0; r < rounds; r++) {
                _cleanup_(menulst_freep) MenuLst *m = NULL;
                _cleanup_free_ char *out = NULL;
                size_t n;
                if (menulst_parse(text, size, &m) < 0 || menulst_serialize(m, &out, &n) < 0 || n != size)
                        abort();
        }
        double t1 = bench_now();
        for (unsigned r = 0; r < rounds; r++) {
                _cleanup_(menulst_freep) MenuLst *m = NULL;
                _cleanup_(menu_info_freep) MenuInfo *info = NULL;
                MenuEvalOptions o = {};
                if (menulst_parse(text, size, &m) < 0 || menulst_evaluate(m, &o, &info) < 0 ||
                    info->n_entries != entries)
                        abort();
        }
        double t2 = bench_now();
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double per_rt = (t1 - t0) / rounds, per_ev = (t2 - t1) / rounds;
        printf("bench-menulst: %u entries, %zu bytes, %u rounds\n", entries, size, rounds);
        printf("  parse+serialize: %.3f ms/file, %.1f MiB/s\n", per_rt * 1e3, (double) size / per_rt / 1048576.0);
        printf("  parse+evaluate:  %.3f ms/file, %.1f MiB/s\n", per_ev * 1e3, (double) size / per_ev / 1048576.0);
        printf("  peak RSS: %ld KiB\n", ru.ru_maxrss);
        return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* An LD_PRELOAD stand-in for the kernel's module calls (as kmod's testsuite does it): init_module,
 * finit_module (through syscall()) and delete_module act on the fake tree KK_FAKE_KERNEL names, its
 * proc/modules and sys/module/NAME/{refcnt,srcversion,holders/}, and log each call to
 * KK_FAKE_KERNEL/fake-kernel.log. KK_FAKE_FAIL="insert:TEXT:ERRNO,remove:NAME:ERRNO" makes the calls
 * whose "PATH NAME SRCVERSION" contains TEXT (or whose module is NAME) fail with that errno;
 * "kill-insert:TEXT:1" kills the calling process there (SIGKILL), as a crash between two steps. The
 * kernel's own acceptance rules (signatures, CRCs) are not imitated: only loading, dependencies,
 * references and unloading. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#pragma GCC diagnostic ignored "-Wformat-truncation"
#pragma GCC diagnostic ignored "-Wunused-result"

int init_module(void *mem, unsigned long len, const char *params);
int delete_module(const char *name, unsigned flags);

static const char *root(void)
{
        return getenv("KK_FAKE_KERNEL");
}

static void logf_(const char *fmt, ...)
{
        char p[4096];
        snprintf(p, sizeof p, "%s/fake-kernel.log", root());
        FILE *f = fopen(p, "ae");
        if (!f)
                return;
        va_list ap;
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        fputc('\n', f);
        fclose(f);
}

static int injected(const char *op, const char *subject)
{
        const char *spec = getenv("KK_FAKE_FAIL");
        if (!spec)
                return 0;
        char *copy = strdup(spec), *save = NULL;
        int err = 0;
        for (char *e = strtok_r(copy, ",", &save); e && !err; e = strtok_r(NULL, ",", &save)) {
                char *a = strchr(e, ':'), *b = a ? strrchr(e, ':') : NULL;
                if (!a || a == b)
                        continue;
                *a = *b = 0;
                if (strcmp(e, op) == 0 && strstr(subject, a + 1))
                        err = atoi(b + 1);
        }
        free(copy);
        return err;
}

static char *read_text(const char *rel)
{
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", root(), rel);
        FILE *f = fopen(p, "re");
        if (!f)
                return NULL;
        char *buf = NULL;
        size_t n = 0;
        if (getdelim(&buf, &n, 0, f) < 0) {
                free(buf);
                buf = strdup("");
        }
        fclose(f);
        return buf;
}

static void write_text(const char *rel, const char *text)
{
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", root(), rel);
        FILE *f = fopen(p, "we");
        if (f) {
                fputs(text, f);
                fclose(f);
        }
}

static long refcnt_get(const char *name)
{
        char rel[512];
        snprintf(rel, sizeof rel, "sys/module/%s/refcnt", name);
        char *t = read_text(rel);
        long v = t ? atol(t) : 0;
        free(t);
        return v;
}

static void refcnt_set(const char *name, long v)
{
        char rel[512], val[32];
        snprintf(rel, sizeof rel, "sys/module/%s/refcnt", name);
        snprintf(val, sizeof val, "%ld\n", v);
        write_text(rel, val);
}

static int loaded(const char *name)
{
        char *t = read_text("proc/modules");
        int found = 0;
        size_t n = strlen(name);
        for (char *l = t; l && *l && !found;) {
                found = strncmp(l, name, n) == 0 && l[n] == ' ';
                char *nl = strchr(l, '\n');
                l = nl ? nl + 1 : l + strlen(l);
        }
        free(t);
        return found;
}

static void proc_remove(const char *name)
{
        char *t = read_text("proc/modules");
        if (!t)
                return;
        size_t n = strlen(name), o = 0;
        char *out = calloc(1, strlen(t) + 1);
        for (char *l = t; *l;) {
                char *nl = strchr(l, '\n');
                size_t len = nl ? (size_t) (nl - l + 1) : strlen(l);
                if (!(strncmp(l, name, n) == 0 && l[n] == ' ')) {
                        memcpy(out + o, l, len);
                        o += len;
                }
                l += len;
        }
        write_text("proc/modules", out);
        free(out);
        free(t);
}

static void rm_rf(const char *path)
{
        DIR *d = opendir(path);
        if (d) {
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                                continue;
                        char p[4096];
                        snprintf(p, sizeof p, "%s/%s", path, de->d_name);
                        struct stat st;
                        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                                rm_rf(p);
                        else
                                unlink(p);
                }
                closedir(d);
        }
        rmdir(path);
}

/* "key=value" strings of the .modinfo section (ELF64 little-endian, as the test modules are) */
static char *modinfo(const char *img, size_t total, const char *key)
{
        const Elf64_Ehdr *eh = (const Elf64_Ehdr *) img;
        if (total < sizeof *eh || memcmp(img, ELFMAG, SELFMAG) != 0 || eh->e_shoff + (uint64_t) eh->e_shnum * sizeof(Elf64_Shdr) > total ||
            eh->e_shstrndx >= eh->e_shnum)
                return NULL;
        const Elf64_Shdr *sh = (const Elf64_Shdr *) (img + eh->e_shoff);
        const char *mem = NULL;
        size_t len = 0;
        for (unsigned i = 0; i < eh->e_shnum; i++) {
                const char *nm = img + sh[eh->e_shstrndx].sh_offset + sh[i].sh_name;
                if (strcmp(nm, ".modinfo") == 0 && sh[i].sh_offset + sh[i].sh_size <= total) {
                        mem = img + sh[i].sh_offset;
                        len = sh[i].sh_size;
                }
        }
        if (!mem || len < 2)
                return NULL;
        size_t k = strlen(key);
        if (memcmp(mem, key, k) == 0 && mem[k] == '=')
                return strndup(mem + k + 1, strnlen(mem + k + 1, len - k - 1));
        for (size_t i = 1; i + k + 1 < len; i++)
                if (mem[i - 1] == 0 && memcmp(mem + i, key, k) == 0 && mem[i + k] == '=')
                        {
                        char *v = strndup(mem + i + k + 1, strnlen(mem + i + k + 1, len - i - k - 1));
                        for (char *c = v; c && *c; c++)
                                if (*c == '-' && strcmp(key, "srcversion") != 0)
                                        *c = '_';
                        return v;
                }
        return NULL;
}

static int fake_insert(const char *mem, size_t len, const char *path)
{
        char *name = modinfo(mem, len, "name"), *src = modinfo(mem, len, "srcversion"),
             *deps = modinfo(mem, len, "depends");
        int err = 0;
        char subject[4096];
        snprintf(subject, sizeof subject, "%s %s %s", path ? path : "-", name ? name : "-", src ? src : "-");
        if (injected("kill-insert", subject))
                kill(getpid(), SIGKILL); /* the caller dies between its steps */
        if (!name)
                err = ENOEXEC;
        else if ((err = injected("insert", subject)))
                ;
        else if (loaded(name))
                err = EEXIST;
        else
                for (char *d = deps ? strtok(deps, ",") : NULL; d && !err; d = strtok(NULL, ","))
                        if (!loaded(d))
                                err = ENOENT; /* "Unknown symbol" */
        if (!err) {
                if (deps) { /* strtok ate it: read again */
                        free(deps);
                        deps = modinfo(mem, len, "depends");
                }
                char p[4096];
                snprintf(p, sizeof p, "%s/sys/module/%s/holders", root(), name);
                char dir[4096];
                snprintf(dir, sizeof dir, "%s/sys/module/%s", root(), name);
                mkdir(dir, 0755);
                mkdir(p, 0755);
                char rel[512];
                refcnt_set(name, 0);
                snprintf(rel, sizeof rel, "sys/module/%s/srcversion", name);
                char sv[128];
                snprintf(sv, sizeof sv, "%s\n", src ? src : "");
                if (src)
                        write_text(rel, sv);
                for (char *d = deps ? strtok(deps, ",") : NULL; d; d = strtok(NULL, ",")) {
                        char h[4096], target[600];
                        snprintf(h, sizeof h, "%s/sys/module/%s/holders/%s", root(), d, name);
                        snprintf(target, sizeof target, "../../%s", name);
                        symlink(target, h);
                        refcnt_set(d, refcnt_get(d) + 1);
                }
                char *t = read_text("proc/modules");
                char *line = NULL;
                if (asprintf(&line, "%s%s %zu 0 - Live 0x0000000000000000\n", t ? t : "", name, len) > 0)
                        write_text("proc/modules", line);
                free(line);
                free(t);
        }
        logf_("insert %s %s: %s", name ? name : "?", src ? src : "-", err ? strerror(err) : "ok");
        free(name);
        free(src);
        free(deps);
        if (err) {
                errno = err;
                return -1;
        }
        return 0;
}

int init_module(void *mem, unsigned long len, const char *params)
{
        if (!root()) {
                int (*real)(void *, unsigned long, const char *) = dlsym(RTLD_NEXT, "init_module");
                return real(mem, len, params);
        }
        return fake_insert(mem, len, NULL);
}

static long fake_finit(int fd)
{
        char link[64], path[4096] = "";
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t k = readlink(link, path, sizeof path - 1);
        if (k > 0)
                path[k] = 0;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -1;
        char *mem = malloc((size_t) st.st_size + 1);
        ssize_t got = pread(fd, mem, (size_t) st.st_size, 0);
        long r = got == st.st_size ? fake_insert(mem, (size_t) got, path) : (errno = EIO, -1);
        free(mem);
        return r;
}

int delete_module(const char *name, unsigned flags)
{
        if (!root()) {
                int (*real)(const char *, unsigned) = dlsym(RTLD_NEXT, "delete_module");
                return real(name, flags);
        }
        int err = 0;
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/sys/module/%s", root(), name);
        if (!loaded(name))
                err = ENOENT;
        else if ((err = injected("remove", name)))
                ;
        else if (refcnt_get(name) > 0)
                err = EWOULDBLOCK;
        if (!err) {
                rm_rf(dir);
                proc_remove(name);
                char sys[4096];
                snprintf(sys, sizeof sys, "%s/sys/module", root());
                DIR *d = opendir(sys);
                struct dirent *de;
                while (d && (de = readdir(d))) {
                        char h[4096];
                        snprintf(h, sizeof h, "%s/%s/holders/%s", sys, de->d_name, name);
                        struct stat st;
                        if (de->d_name[0] != '.' && lstat(h, &st) == 0) {
                                unlink(h);
                                refcnt_set(de->d_name, refcnt_get(de->d_name) - 1);
                        }
                }
                if (d)
                        closedir(d);
        }
        logf_("remove %s: %s", name, err ? strerror(err) : "ok");
        if (err) {
                errno = err;
                return -1;
        }
        return 0;
}

long syscall(long nr, ...)
{
        va_list ap;
        va_start(ap, nr);
        long a[6];
        for (int i = 0; i < 6; i++)
                a[i] = va_arg(ap, long);
        va_end(ap);
        if (nr == SYS_finit_module && root())
                return fake_finit((int) a[0]);
        if (nr == SYS_delete_module && root())
                return delete_module((const char *) a[0], (unsigned) a[1]);
        if (nr == SYS_init_module && root())
                return init_module((void *) a[0], (unsigned long) a[1], (const char *) a[2]);
        static long (*real)(long, ...);
        if (!real)
                real = (long (*)(long, ...)) dlsym(RTLD_NEXT, "syscall");
        return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

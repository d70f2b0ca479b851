/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/macro.h"
#include "common/strv.h"
#include "metadata/decode-error.h"
#include "install/tar.h"

#define NAME_MAX_LEN 4096u
#define PAX_MAX (64u * 1024u)

bool tar_name_safe(const char *name)
{
        if (!name || !*name || *name == '/')
                return false;
        for (const char *p = name; *p; p++)
                if ((unsigned char) *p < ' ' || *p == 127)
                        return false;
        const char *c = name;
        for (;;) {
                size_t n = strcspn(c, "/");
                if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                if (!c[n])
                        return true;
                c += n + 1;
                if (!*c)
                        return true; /* a trailing slash (directories) */
        }
}

/* A link at `name` pointing to `target` stays inside the tree: relative, and never above the top
 * when resolved lexically from the link's directory. */
bool tar_link_safe(const char *name, const char *target)
{
        if (!*target || *target == '/')
                return false;
        int depth = 0;
        for (const char *p = name; *p; p++)
                if (*p == '/' && p[1])
                        depth++;
        const char *c = target;
        while (*c) {
                size_t n = strcspn(c, "/");
                if (n == 2 && c[0] == '.' && c[1] == '.') {
                        if (--depth < 0)
                                return false;
                } else if (n > 0 && !(n == 1 && c[0] == '.'))
                        depth++;
                c += n;
                if (*c == '/')
                        c++;
        }
        return true;
}

bool tar_magic(const void *block, size_t size)
{
        return size >= 512 && memcmp((const uint8_t *) block + 257, "ustar", 5) == 0;
}

static bool parse_octal(const char *f, size_t n, uint64_t *ret)
{
        /* base-256 (GNU) for sizes beyond 8 GiB: refused, nothing kernel-sized needs it */
        uint64_t v = 0;
        size_t i = 0;
        while (i < n && f[i] == ' ')
                i++;
        bool any = false;
        for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
                if (v >> 60)
                        return false;
                v = v * 8 + (uint64_t) (f[i] - '0');
                any = true;
        }
        for (; i < n; i++)
                if (f[i] != ' ' && f[i] != 0)
                        return false;
        if (!any)
                return false;
        *ret = v;
        return true;
}

static bool checksum_ok(const uint8_t *h)
{
        uint64_t want;
        if (!parse_octal((const char *) h + 148, 8, &want))
                return false;
        uint64_t sum = 0;
        for (size_t i = 0; i < 512; i++)
                sum += (i >= 148 && i < 156) ? ' ' : h[i];
        return sum == want;
}

/* Reads a member's data (a long name or pax header) into a NUL-terminated buffer */
static int read_text(Stream *s, uint64_t size, uint64_t max, char **ret)
{
        if (size > max)
                return -EBADMSG;
        _cleanup_free_ char *b = malloc((size_t) size + 1);
        if (!b)
                return -ENOMEM;
        int r = stream_read_full(s, b, (size_t) size);
        if (r < 0)
                return r;
        b[size] = 0;
        uint64_t pad = (512 - size % 512) % 512;
        if ((r = stream_skip(s, pad)) < 0)
                return r;
        *ret = TAKE_PTR(b);
        return 0;
}

/* pax records "LEN key=value\n": path, linkpath and size are honoured; others ignored */
static int parse_pax(const char *p, size_t n, char **path, char **linkpath, uint64_t *size, bool *have_size)
{
        size_t i = 0;
        while (i < n) {
                char *end;
                unsigned long len = strtoul(p + i, &end, 10);
                if (end == p + i || *end != ' ' || len == 0 || len > n - i || p[i + len - 1] != '\n')
                        return -EBADMSG;
                const char *kv = end + 1, *eq = memchr(kv, '=', (size_t) (p + i + len - 1 - kv));
                if (!eq)
                        return -EBADMSG;
                size_t klen = (size_t) (eq - kv), vlen = (size_t) (p + i + len - 1 - eq - 1);
                char **slot = klen == 4 && !memcmp(kv, "path", 4) ? path
                              : klen == 8 && !memcmp(kv, "linkpath", 8) ? linkpath : NULL;
                if (slot) {
                        free(*slot);
                        if (!(*slot = strndup(eq + 1, vlen)))
                                return -ENOMEM;
                        if (strlen(*slot) != vlen)
                                return -EBADMSG;
                } else if (klen == 4 && !memcmp(kv, "size", 4)) {
                        _cleanup_free_ char *v = strndup(eq + 1, vlen);
                        if (!v)
                                return -ENOMEM;
                        char *e;
                        errno = 0;
                        unsigned long long s = strtoull(v, &e, 10);
                        if (errno || *e || !*v)
                                return -EBADMSG;
                        *size = s;
                        *have_size = true;
                }
                i += len;
        }
        return 0;
}

/* Opens (creating when missing) the directory `path` below dest_fd, one component at a time with
 * O_NOFOLLOW. */
static int open_dir_below(int dest_fd, const char *path, size_t len)
{
        int fd = fcntl(dest_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        size_t i = 0;
        while (i < len) {
                size_t n = strcspn(path + i, "/");
                if (n > len - i)
                        n = len - i;
                char comp[256];
                if (n == 0 || n >= sizeof comp) {
                        close(fd);
                        return -ENAMETOOLONG;
                }
                memcpy(comp, path + i, n);
                comp[n] = 0;
                if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST) {
                        int e = -errno;
                        close(fd);
                        return e;
                }
                int nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int e = -errno;
                close(fd);
                if (nfd < 0)
                        return e == -ELOOP ? -EPERM : e;
                fd = nfd;
                i += n;
                while (i < len && path[i] == '/')
                        i++;
        }
        return fd;
}

static int write_member(Stream *s, int dir_fd, const char *base, uint64_t size)
{
        _cleanup_close_ int fd = openat(dir_fd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        _cleanup_free_ uint8_t *buf = malloc(1 << 16);
        if (!buf)
                return -ENOMEM;
        while (size > 0) {
                size_t k = size < (1 << 16) ? (size_t) size : (1 << 16);
                int r = stream_read_full(s, buf, k);
                if (r < 0)
                        return r;
                /* write(): every block is allocated, zeros included */
                if ((r = loop_write(fd, buf, k)) < 0)
                        return r;
                size -= k;
        }
        return 0;
}

int tar_extract(Stream *s, int dest_fd, TarFilter filter, void *userdata, const TarLimits *limits,
                uint64_t *ret_total, char **ret_error)
{
        uint64_t total = 0, members = 0;
        _cleanup_free_ char *long_name = NULL, *long_link = NULL, *pax_path = NULL, *pax_link = NULL;
        uint64_t pax_size = 0;
        bool have_pax_size = false;
        unsigned zero_blocks = 0;
        uint8_t h[512];
        int r;
        for (;;) {
                r = stream_read_full(s, h, sizeof h);
                if (r == -EBADMSG && zero_blocks == 1)
                        break; /* one end block only: accepted, as GNU tar does */
                if (r < 0)
                        return decode_error(ret_error, r, "the archive %s", r == -EBADMSG ? "is truncated or corrupt"
                                                                   : r == -EFBIG ? "is too large" : "cannot be read");
                bool zero = true;
                for (size_t i = 0; i < sizeof h && zero; i++)
                        zero = h[i] == 0;
                if (zero) {
                        if (++zero_blocks == 2)
                                break;
                        continue;
                }
                if (zero_blocks)
                        return decode_error(ret_error, -EBADMSG, "the archive has data after an end block");
                if (!checksum_ok(h))
                        return decode_error(ret_error, -EBADMSG, "the archive is not a tar file or is corrupt (header %" PRIu64 ")",
                                    members + 1);
                if (++members > limits->max_members)
                        return decode_error(ret_error, -EFBIG, "the archive has more than %" PRIu64 " members",
                                    limits->max_members);
                uint64_t size;
                if (!parse_octal((const char *) h + 124, 12, &size))
                        return decode_error(ret_error, -EBADMSG, "a tar header has a bad size field");
                char type = (char) h[156];
                if (type == 'L' || type == 'K') {
                        char **slot = type == 'L' ? &long_name : &long_link;
                        free(*slot);
                        *slot = NULL;
                        if ((r = read_text(s, size, NAME_MAX_LEN, slot)) < 0)
                                return decode_error(ret_error, r, "a GNU long name is damaged or too long");
                        continue;
                }
                if (type == 'x' || type == 'g') {
                        _cleanup_free_ char *pax = NULL;
                        if ((r = read_text(s, size, PAX_MAX, &pax)) < 0)
                                return decode_error(ret_error, r, "a pax header is damaged or too long");
                        if (type == 'x' && parse_pax(pax, (size_t) size, &pax_path, &pax_link, &pax_size, &have_pax_size) < 0)
                                return decode_error(ret_error, -EBADMSG, "a pax header is damaged");
                        continue;
                }
                if (have_pax_size)
                        size = pax_size;

                /* the member's name: pax, GNU long name, or ustar prefix + name */
                _cleanup_free_ char *name = NULL, *link = NULL;
                if (pax_path)
                        name = TAKE_PTR(pax_path);
                else if (long_name)
                        name = TAKE_PTR(long_name);
                else {
                        char n[100 + 1 + 155 + 1];
                        bool prefix = memcmp(h + 257, "ustar", 5) == 0 && h[345];
                        snprintf(n, sizeof n, "%.155s%s%.100s", prefix ? (const char *) h + 345 : "", prefix ? "/" : "",
                                 (const char *) h);
                        name = strdup(n);
                }
                if (pax_link)
                        link = TAKE_PTR(pax_link);
                else if (long_link)
                        link = TAKE_PTR(long_link);
                else
                        link = strndup((const char *) h + 157, 100);
                have_pax_size = false;
                if (!name || !link)
                        return -ENOMEM;

                const char *nm = name;
                while (nm[0] == '.' && nm[1] == '/')
                        nm += 2;
                if (streq(nm, ".") || streq(nm, "./") || !*nm) { /* the top directory itself */
                        if ((r = stream_skip(s, size + (512 - size % 512) % 512)) < 0)
                                return decode_error(ret_error, r, "the archive is truncated");
                        continue;
                }
                if (!tar_name_safe(nm))
                        return decode_error(ret_error, -EPERM, "the archive member '%s' has an unsafe name (absolute, '..' or control characters)",
                                    nm);
                uint64_t padded = size + (512 - size % 512) % 512;
                TarType tt = type == '5' ? TAR_DIR : type == '2' ? TAR_SYMLINK : TAR_FILE;
                /* a member that is not wanted is skipped whatever it is (a .deb's /usr/share links) */
                if (!filter(nm, tt, userdata)) {
                        if ((r = stream_skip(s, padded)) < 0)
                                return decode_error(ret_error, r, "the archive is truncated");
                        continue;
                }
                switch (type) {
                case '0':
                case '\0':
                case '7':
                case '5':
                        break;
                case '2':
                        if (!tar_link_safe(nm, link))
                                return decode_error(ret_error, -EPERM, "the archive member '%s' is a link that leads out of the tree", nm);
                        break;
                case '1':
                        return decode_error(ret_error, -EPERM, "the archive member '%s' is a hard link (refused)", nm);
                case '3':
                case '4':
                case '6':
                        return decode_error(ret_error, -EPERM, "the archive member '%s' is a device or FIFO (refused)", nm);
                default:
                        return decode_error(ret_error, -EPERM, "the archive member '%s' has an unsupported type '%c' (sparse or unknown)",
                                    nm, type);
                }
                if (tt != TAR_FILE && size > 0)
                        return decode_error(ret_error, -EBADMSG, "the archive member '%s' has data but is not a file", nm);
                if (tt == TAR_FILE && size > limits->max_total - total)
                        return decode_error(ret_error, -EFBIG, "the archive's files exceed %" PRIu64 " bytes",
                                    limits->max_total);

                size_t len = strlen(nm);
                while (len > 0 && nm[len - 1] == '/')
                        len--;
                const char *slash = memrchr(nm, '/', len);
                size_t dir_len = slash ? (size_t) (slash - nm) : 0;
                _cleanup_close_ int dfd = open_dir_below(dest_fd, nm, tt == TAR_DIR ? len : dir_len);
                if (dfd < 0)
                        return decode_error(ret_error, dfd, "cannot create the directory of '%s': %s", nm, strerror(-dfd));
                if (tt == TAR_DIR)
                        continue;
                _cleanup_free_ char *base = strndup(slash ? slash + 1 : nm, len - (slash ? dir_len + 1 : 0));
                if (!base)
                        return -ENOMEM;
                if (tt == TAR_SYMLINK) {
                        if (symlinkat(link, dfd, base) < 0)
                                return decode_error(ret_error, -errno, "cannot create the link '%s': %m", nm);
                        continue;
                }
                r = write_member(s, dfd, base, size);
                if (r < 0)
                        return decode_error(ret_error, r, "cannot extract '%s': %s", nm,
                                    r == -EBADMSG ? "the archive is truncated" : strerror(-r));
                total += size;
                if ((r = stream_skip(s, padded - size)) < 0)
                        return decode_error(ret_error, r, "the archive is truncated");
        }
        if (ret_total)
                *ret_total = total;
        return 0;
}

int deb_find_data(int fd, uint64_t *ret_offset, uint64_t *ret_size, Compression *ret_compression)
{
        char magic[8];
        ssize_t n = pread(fd, magic, 8, 0);
        if (n < 0)
                return -errno;
        if (n != 8 || memcmp(magic, "!<arch>\n", 8) != 0)
                return -EMEDIUMTYPE;
        uint64_t off = 8;
        for (unsigned i = 0; i < 16; i++) {
                char h[61];
                n = pread(fd, h, 60, (off_t) off);
                if (n < 0)
                        return -errno;
                if (n != 60 || h[58] != '`' || h[59] != '\n')
                        return -EBADMSG;
                h[60] = 0;
                char sz[11];
                memcpy(sz, h + 48, 10);
                sz[10] = 0;
                char *e;
                errno = 0;
                unsigned long long size = strtoull(sz, &e, 10);
                if (errno || e == sz || (*e && *e != ' '))
                        return -EBADMSG;
                if (i == 0 && strncmp(h, "debian-binary", 13) != 0)
                        return -EMEDIUMTYPE;
                if (strncmp(h, "data.tar", 8) == 0) {
                        uint8_t m[6];
                        if (pread(fd, m, sizeof m, (off_t) (off + 60)) != (ssize_t) sizeof m)
                                return -EBADMSG;
                        *ret_offset = off + 60;
                        *ret_size = size;
                        *ret_compression = compression_detect(m, sizeof m);
                        return 0;
                }
                off += 60 + size + (size & 1);
        }
        return -EBADMSG;
}

bool kernel_member_wanted(const char *name, TarType type, void *userdata)
{
        KernelMembers *s = userdata;
        if (streq(name, "boot") || streq(name, "boot/") || streq(name, "lib") || streq(name, "lib/") ||
            streq(name, "lib/modules") || streq(name, "lib/modules/"))
                return type == TAR_DIR;
        if (strncmp(name, "boot/", 5) == 0) {
                const char *f = name + 5;
                if (strchr(f, '/') || type != TAR_FILE)
                        return false;
                if (strncmp(f, "vmlinuz-", 8) == 0 || strncmp(f, "vmlinux-", 8) == 0)
                        (void) strv_push(&s->kernels, f);
                return true;
        }
        if (strncmp(name, "lib/modules/", 12) == 0) {
                const char *rel = name + 12;
                _cleanup_free_ char *first = strndup(rel, strcspn(rel, "/"));
                if (first && !strv_contains(s->releases, first))
                        (void) strv_push(&s->releases, first);
                return true;
        }
        return false;
}

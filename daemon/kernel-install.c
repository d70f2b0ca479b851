/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "boot/history.h"
#include "common/chase.h"
#include "common/fileio.h"
#include "common/macro.h"
#include "common/sha256.h"
#include "common/spawn.h"
#include "common/strv.h"
#include "daemon/kernel-install.h"
#include "daemon/kernel-trial.h"
#include "daemon/log.h"
#include "daemon/menu-edit.h"
#include "daemon/menu-load.h"
#include "daemon/menu-txn.h"
#include "daemon/protect.h"
#include "daemon/state.h"
#include "install/files.h"
#include "install/image.h"
#include "install/layout.h"
#include "install/tar.h"
#include "metadata/download.h"


static void *mfree(void *p)
{
        free(p);
        return NULL;
}

#define DOWNLOAD_MAX ((uint64_t) 1 << 30)     /* a Debian kernel .deb is 70 MB */
#define UNPACKED_MAX ((uint64_t) 2 << 30)     /* its modules 400 MB */
#define MEMBERS_MAX 100000u
#define IMAGE_FILE_MAX (128u << 20)
#define INITRD_FILE_MAX (512u << 20)
#define STAGING "install-staging"

/* What a source gives: host paths of the files to place */
typedef struct Payload {
        char *staging;        /* the state directory's staging dir (removed at the end) */
        char *release;
        char *image, *initrd, *config, *sysmap; /* host paths, NULL if absent */
        char *modules;        /* a directory holding the release's modules, NULL if none */
        bool modules_staged;  /* in staging: may be renamed into place */
        char *deb;            /* the .deb, for dpkg on the running system */
} Payload;

static void payload_done(Payload *p)
{
        if (p->staging) {
                _cleanup_free_ char *parent = strdup(p->staging);
                char *slash = parent ? strrchr(parent, '/') : NULL;
                if (slash) {
                        *slash = 0;
                        _cleanup_close_ int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (fd >= 0)
                                (void) rm_rf_at(fd, slash + 1);
                }
        }
        free(p->staging);
        free(p->release);
        free(p->image);
        free(p->initrd);
        free(p->config);
        free(p->sysmap);
        free(p->modules);
        free(p->deb);
}

int kernel_install_check_request(const InstallRequest *q)
{
        int n = !!q->package + !!q->deb + !!q->url + !!q->image;
        if (n != 1)
                return log_error_errno(EINVAL, "'kernel install' takes one source: --package NAME, --deb FILE, --url URL --sha256 HEX or --image FILE");
        if (q->url && !q->sha256)
                return log_error_errno(EINVAL, "--url needs --sha256: a download is used only once its checksum matches");
        if (q->sha256 && !q->url)
                return log_error_errno(EINVAL, "--sha256 goes with --url");
        if (q->sha256 && !sha256_hex_valid(q->sha256))
                return log_error_errno(EINVAL, "--sha256 must be 64 hexadecimal digits");
        if (q->url && strncmp(q->url, "http://", 7) != 0 && strncmp(q->url, "https://", 8) != 0)
                return log_error_errno(EINVAL, "--url must be http:// or https://");
        if ((q->initrd || q->modules) && !q->image)
                return log_error_errno(EINVAL, "--initrd and --modules go with --image");
        if (q->package && (!*q->package || q->package[0] == '-' || strpbrk(q->package, " /\t\n")))
                return log_error_errno(EINVAL, "--package takes a Debian package name");
        return 0;
}

/* the tools' output goes to our stderr */
static const SpawnOptions tool = { .stdout_to = SPAWN_STDOUT_TO_STDERR };

/* Extracts an archive (fd at offset, length bytes, compression c) into staging/tree. */
static int unpack(Payload *p, int fd, uint64_t length, Compression c, const char *what)
{
        _cleanup_free_ char *tree = NULL;
        if (asprintf(&tree, "%s/tree", p->staging) < 0)
                return log_oom();
        if (mkdir(tree, 0700) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Cannot create %s: %m", tree);
        _cleanup_close_ int tfd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (tfd < 0)
                return log_error_errno(errno, "Cannot open %s: %m", tree);
        _cleanup_(stream_freep) Stream *s = NULL;
        int r = stream_open_fd(fd, length, c, UNPACKED_MAX + (uint64_t) MEMBERS_MAX * 1024, &s);
        if (r < 0)
                return log_oom();
        KernelMembers seen = {};
        TarLimits lim = { .max_total = UNPACKED_MAX, .max_members = MEMBERS_MAX };
        _cleanup_free_ char *err = NULL;
        r = tar_extract(s, tfd, kernel_member_wanted, &seen, &lim, NULL, &err);
        _cleanup_strv_free_ char **kernels = seen.kernels, **releases = seen.releases;
        if (r < 0)
                return log_error_errno(r, "Cannot unpack %s: %s", what, err ? err : "unreadable");
        if (strv_length(kernels) != 1)
                return log_error_errno(EMEDIUMTYPE, "Found %zu kernel images (boot/vmlinuz-RELEASE) in %s; one is needed",
                                       strv_length(kernels), what);
        const char *release = kernels[0] + 8;
        if (!install_release_valid(release))
                return log_error_errno(EINVAL, "The kernel release of boot/%s in %s is not a valid file name", kernels[0], what);
        for (char **x = releases; x && *x; x++)
                if (!streq(*x, release))
                        return log_error_errno(EINVAL, "Found modules for release %s in %s, not for its kernel %s", *x, what, release);
        if (!(p->release = strdup(release)))
                return log_oom();
        char **slots[] = { &p->image, &p->initrd, &p->config, &p->sysmap, &p->modules };
        const char *dirs[] = { "boot/", "boot/initrd.img-", "boot/config-", "boot/System.map-", "lib/modules/" };
        for (size_t i = 0; i < ELEMENTSOF(slots); i++) {
                if (asprintf(slots[i], "%s/%s%s", tree, dirs[i], i == 0 ? kernels[0] : release) < 0)
                        return log_oom();
                if (access(*slots[i], F_OK) < 0)
                        *slots[i] = mfree(*slots[i]);
        }
        p->modules_staged = true;
        return 0;
}

static int unpack_file(Payload *p, const char *path, const char *what)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        struct stat st;
        if (fd < 0)
                return log_error_errno(errno, "Cannot open %s: %m", path);
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return log_error_errno(EINVAL, "%s is not a regular file", path);
        uint64_t off = 0, size = UINT64_MAX;
        Compression c;
        int r = deb_find_data(fd, &off, &size, &c);
        if (r == -EBADMSG)
                return log_error_errno(r, "%s is a damaged Debian package", what);
        if (r == -EMEDIUMTYPE) {
                /* a tar, compressed or not */
                uint8_t magic[6] = {};
                if (pread(fd, magic, sizeof magic, 0) < 0)
                        return log_error_errno(errno, "Cannot read %s: %m", path);
                c = compression_detect(magic, sizeof magic);
                off = 0;
                size = (uint64_t) st.st_size;
        } else if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m", path);
        else if (!(p->deb = strdup(path)))
                return log_oom();
        if (lseek(fd, (off_t) off, SEEK_SET) < 0)
                return log_error_errno(errno, "Cannot read %s: %m", path);
        return unpack(p, fd, size, c, what);
}

static int acquire_url(Payload *p, const InstallRequest *q)
{
        _cleanup_free_ char *path = NULL, *err = NULL;
        if (asprintf(&path, "%s/download", p->staging) < 0)
                return log_oom();
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return log_error_errno(errno, "Cannot create %s: %m", path);
        char hex[SHA256_HEX_SIZE];
        uint64_t size = 0;
        /* a presigned URL's query is a secret: never in a message */
        _cleanup_free_ char *shown = download_url_shown(q->url);
        if (!shown)
                return log_oom();
        int r = download_to_fd(q->url, fd, DOWNLOAD_MAX, hex, &size, &err);
        if (r < 0)
                return log_error_errno(r, "Cannot download %s: %s; nothing was installed", shown, err ? err : "failed");
        if (strcasecmp(hex, q->sha256) != 0)
                return log_error_errno(EBADMSG, "The download of %s has sha256 %s, not the %s given; nothing was unpacked or installed",
                                       shown, hex, q->sha256);
        log_debug("Downloaded %s (%" PRIu64 " bytes, sha256 matches)", shown, size);
        _cleanup_free_ char *what = NULL;
        if (asprintf(&what, "the download of %s", shown) < 0)
                return log_oom();
        return unpack_file(p, path, what);
}

static int acquire_package(Payload *p, const InstallRequest *q)
{
        char *argv[] = { (char *) "apt-get", (char *) "download", (char *) q->package, NULL };
        int r = spawn_run(argv, &(const SpawnOptions) { .stdout_to = SPAWN_STDOUT_TO_STDERR, .cwd = p->staging }, NULL);
        if (r < 0)
                return log_error_errno(r, "apt-get download %s failed (see above); nothing was installed", q->package);
        DIR *d = opendir(p->staging);
        struct dirent *de;
        _cleanup_free_ char *deb = NULL;
        while (d && (de = readdir(d))) {
                size_t n = strlen(de->d_name);
                if (n > 4 && streq(de->d_name + n - 4, ".deb")) {
                        free(deb);
                        if (asprintf(&deb, "%s/%s", p->staging, de->d_name) < 0) {
                                closedir(d);
                                return log_oom();
                        }
                }
        }
        if (d)
                closedir(d);
        if (!deb)
                return log_error_errno(ENOENT, "apt-get download %s left no .deb; nothing was installed", q->package);
        _cleanup_free_ char *what = NULL;
        if (asprintf(&what, "package %s", q->package) < 0)
                return log_oom();
        return unpack_file(p, deb, what);
}

static int acquire_image(Payload *p, const InstallRequest *q, const KernelImage *k)
{
        const char *base = strrchr(q->image, '/') ? strrchr(q->image, '/') + 1 : q->image;
        const char *rel = *k->release ? k->release
                          : strncmp(base, "vmlinuz-", 8) == 0 || strncmp(base, "vmlinux-", 8) == 0 ? base + 8 : NULL;
        if (!rel || !install_release_valid(rel))
                return log_error_errno(EINVAL, "Cannot tell the kernel release of %s: its header names none and the file is not named vmlinuz-RELEASE",
                                       q->image);
        if (!(p->release = strdup(rel)) || !(p->image = strdup(q->image)))
                return log_oom();
        if (q->initrd && !(p->initrd = strdup(q->initrd)))
                return log_oom();
        if (!q->modules)
                return 0;
        struct stat st;
        if (stat(q->modules, &st) < 0)
                return log_error_errno(errno, "Cannot read %s: %m", q->modules);
        if (S_ISDIR(st.st_mode))
                return (p->modules = strdup(q->modules)) ? 0 : log_oom();
        /* a tar of lib/modules/REL (or of REL's contents): staged, then renamed into place */
        _cleanup_close_ int fd = open(q->modules, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        uint8_t magic[6] = {};
        if (fd < 0 || !S_ISREG(st.st_mode) || pread(fd, magic, sizeof magic, 0) < 0)
                return log_error_errno(EINVAL, "--modules %s is neither a directory nor a tar file", q->modules);
        _cleanup_free_ char *dir = NULL;
        if (asprintf(&dir, "%s/modules", p->staging) < 0)
                return log_oom();
        if (mkdir(dir, 0755) < 0)
                return log_error_errno(errno, "Cannot create %s: %m", dir);
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_(stream_freep) Stream *s = NULL;
        if (dfd < 0 || stream_open_fd(fd, UINT64_MAX, compression_detect(magic, sizeof magic), UNPACKED_MAX * 2, &s) < 0)
                return log_oom();
        _cleanup_free_ char *err = NULL;
        TarLimits lim = { .max_total = UNPACKED_MAX, .max_members = MEMBERS_MAX };
        KernelMembers seen = {};
        int r = tar_extract(s, dfd, kernel_member_wanted, &seen, &lim, NULL, &err);
        strv_free(seen.kernels);
        strv_free(seen.releases);
        if (r < 0)
                return log_error_errno(r, "Cannot unpack --modules %s: %s", q->modules, err ? err : "unreadable");
        if (asprintf(&p->modules, "%s/lib/modules/%s", dir, p->release) < 0)
                return log_oom();
        if (access(p->modules, F_OK) < 0)
                return log_error_errno(ENOENT, "--modules %s holds no lib/modules/%s", q->modules, p->release);
        p->modules_staged = true;
        return 0;
}

static int read_in_root(const Context *ctx, const char *path, char **ret)
{
        size_t n;
        return read_full_file_in_root(ctx->root, path, 0, 4096, ret, &n);
}

static int check_xen(const Context *ctx, const Payload *p, const KernelImage *k)
{
        _cleanup_free_ char *type = NULL, *guest = NULL, *proc_xen = NULL, *config = NULL;
        (void) read_in_root(ctx, "/sys/hypervisor/type", &type);
        (void) read_in_root(ctx, "/sys/hypervisor/guest_type", &guest);
        bool have_proc_xen = chase_in_root(ctx->root, "/proc/xen", 0, &proc_xen) >= 0;
        if (!xen_pv_guest(type, guest, have_proc_xen))
                return 0;
        size_t n;
        if (p->config && read_full_file(p->config, 8 << 20, &config, &n) < 0)
                config = NULL;
        Tristate t = install_xen_pv_capable(k, config);
        if (t == TRI_YES)
                return 0;
        return log_error_errno(ENOEXEC, "Kernel %s cannot boot as a Xen PV guest (%s), and this is a PV guest: not installed",
                               p->release,
                               t == TRI_NO ? (config ? "its config says CONFIG_XEN_PV is not set" : "it has no Xen PV entry note")
                                           : "neither a config nor Xen notes say it can");
}

static uint64_t file_size(const char *path)
{
        struct stat st;
        return path && stat(path, &st) >= 0 ? (uint64_t) st.st_size : 0;
}

static int check_space(const Context *ctx, const Payload *p, const char *boot)
{
        uint64_t need = file_size(p->image) + file_size(p->initrd) + file_size(p->config) + file_size(p->sysmap);
        struct statvfs sv;
        if (statvfs(boot, &sv) < 0)
                return log_error_errno(errno, "Cannot read the free space of %s: %m", boot);
        uint64_t avail = (uint64_t) sv.f_bavail * sv.f_frsize, want = install_space_needed(need);
        if (avail < want)
                return log_error_errno(ENOSPC, "Not enough space on /boot for kernel %s: %" PRIu64 " KiB free, %" PRIu64
                                               " KiB needed (its files %" PRIu64 " KiB plus a margin); not installed",
                                       p->release, avail >> 10, want >> 10, need >> 10);
        return 0;
}

/* The record of an install in progress ("install": {"release", "sha256"}), so a re-run after a
 * crash finishes it instead of calling it a collision. */
static int pending_matches(const Context *ctx, const char *release, const char *sha)
{
        _cleanup_json_ json_t *state = NULL;
        int r = state_load(ctx, &state);
        if (r < 0)
                return r;
        json_t *i = json_object_get(state, "install");
        return json_is_object(i) && streq(json_string_value(json_object_get(i, "release")) ?: "", release) &&
               streq(json_string_value(json_object_get(i, "sha256")) ?: "", sha);
}

/* The installed image has exactly the bytes of the new one: installing it again is a re-run */
static bool same_image(const Context *ctx, const char *path, const char *sha)
{
        _cleanup_free_ char *data = NULL;
        size_t n;
        char h[SHA256_HEX_SIZE];
        return read_full_file_in_root(ctx->root, path, CHASE_NOFOLLOW_LAST, IMAGE_FILE_MAX, &data, &n) >= 0 &&
               sha256_hex(data, n, h) >= 0 && streq(h, sha);
}

static int pending_set(const Context *ctx, const char *release, const char *sha)
{
        _cleanup_json_ json_t *state = NULL;
        int r = state_load(ctx, &state);
        if (r < 0)
                return r;
        if (release)
                r = json_object_set_new(state, "install", json_pack("{s:s, s:s}", "release", release, "sha256", sha));
        else
                r = json_object_del(state, "install");
        (void) r;
        return state_save(ctx, state);
}

/* Places one file under ROOT/boot: atomic (temp, fsync, rename, dir fsync, syncfs), checked whole. */
static int place_boot_file(const Context *ctx, const char *src, const char *name, size_t max)
{
        _cleanup_free_ char *data = NULL, *dst = NULL, *rel = NULL;
        size_t size;
        int r = read_full_file(src, max, &data, &size);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m", src);
        if (asprintf(&rel, "/boot/%s", name) < 0)
                return log_oom();
        if ((r = chase_in_root(ctx->root, rel, CHASE_NONEXISTENT | CHASE_NOFOLLOW_LAST, &dst)) < 0)
                return log_error_errno(r, "Cannot resolve %s: %m", rel);
        r = write_file_atomic(dst, data, size, 0644,
                              WRITE_SYNCFS | (ctx->config.freeze_boot ? WRITE_FREEZE : 0));
        if (r < 0)
                return log_error_errno(r, "Cannot write %s: %m", dst);
        _cleanup_close_ int fd = open(dst, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || (uint64_t) st.st_size != size)
                return log_error_errno(EIO, "%s is not whole after writing it", dst);
        if (fd_is_sparse(fd))
                return log_error_errno(EIO, "%s is sparse after writing it (GRUB 0.97 cannot read holes on ext4)", dst);
        return 0;
}

/* ROOT/lib/modules/REL: renamed (or copied, then renamed) into place; an old one is exchanged out
 * atomically, then removed. */
static int place_modules(const Context *ctx, const Payload *p)
{
        _cleanup_free_ char *dir = NULL, *tmp = NULL, *old = NULL;
        int r = mkdir_in_root(ctx->root, "/lib/modules", 0755, &dir);
        if (r < 0)
                return log_error_errno(r, "Cannot create /lib/modules: %m");
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return log_error_errno(errno, "Cannot open %s: %m", dir);
        if (asprintf(&tmp, ".%s.kk-new", p->release) < 0 || asprintf(&old, ".%s.kk-old", p->release) < 0)
                return log_oom();
        (void) rm_rf_at(dfd, tmp);
        (void) rm_rf_at(dfd, old);
        _cleanup_free_ char *tmp_path = NULL;
        if (asprintf(&tmp_path, "%s/%s", dir, tmp) < 0)
                return log_oom();
        if (!p->modules_staged || rename(p->modules, tmp_path) < 0) {
                if (p->modules_staged && errno != EXDEV)
                        return log_error_errno(errno, "Cannot move the modules into %s: %m", dir);
                if ((r = copy_tree(p->modules, dfd, tmp, NULL)) < 0)
                        return log_error_errno(r, "Cannot copy the modules from %s into %s: %m", p->modules, dir);
        }
        if (syncfs(dfd) < 0)
                return log_error_errno(errno, "Cannot sync %s: %m", dir);
        struct stat st;
        bool exists = fstatat(dfd, p->release, &st, AT_SYMLINK_NOFOLLOW) >= 0;
        if (exists && renameat2(dfd, tmp, dfd, p->release, RENAME_EXCHANGE) >= 0)
                (void) rm_rf_at(dfd, tmp); /* the old modules, exchanged out */
        else if (exists)
                return log_error_errno(errno, "Cannot replace %s/%s: %m", dir, p->release);
        else if (renameat(dfd, tmp, dfd, p->release) < 0)
                return log_error_errno(errno, "Cannot move the modules to %s/%s: %m", dir, p->release);
        if (fsync(dfd) < 0)
                return log_error_errno(errno, "Cannot sync %s: %m", dir);
        if (spawn_in_path("depmod")) {
                char *argv[] = { (char *) "depmod", (char *) "-b", (char *) (root_is_host(ctx->root) ? "/" : ctx->root),
                                 p->release, NULL };
                if (spawn_run(argv, &tool, NULL) < 0)
                        log_warning("depmod %s failed; run it before loading the new kernel's modules", p->release);
        }
        return 0;
}

/* The new entry: the default entry's command line and root, the new kernel's paths */
static int add_entry(const Context *ctx, const char *release)
{
        _cleanup_(loaded_menu_freep) LoadedMenu *lm = NULL;
        int r = menu_load(ctx, &lm);
        if (r < 0)
                return r;
        _cleanup_free_ char *sel = NULL;
        if (asprintf(&sel, "release=%s", release) < 0)
                return log_oom();
        MenuSelectError e;
        int idx;
        if (menulst_select(lm->info, sel, &e, &idx) >= 0 || e == MENU_SELECT_AMBIGUOUS) {
                log_info("menu.lst has an entry for %s already", release);
                return 0;
        }
        const MenuEntry *def = lm->info->default_entry >= 0 ? &lm->info->entries[lm->info->default_entry] : NULL;
        int partno = 0;
        if (!def || !def->root) {
                _cleanup_free_ char *mi = NULL;
                size_t n;
                dev_t dev;
                if (root_is_host(ctx->root) && read_full_file("/proc/self/mountinfo", 4 << 20, &mi, &n) >= 0 &&
                    mountinfo_device(mi, lm->fs.separate_boot ? "/boot" : "/", &dev) >= 0)
                        (void) block_partition_number(dev, &partno);
        }
        _cleanup_free_ char *title = NULL, *kernel = NULL, *initrd = NULL, *initrd_name = NULL, *root_dev = NULL,
                            *kname = NULL, *initrd_rel = NULL, *initrd_host = NULL;
        const char *old_rel = def ? def->release : NULL;
        const char *at = def && old_rel ? strstr(def->title, old_rel) : NULL;
        if (at)
                r = asprintf(&title, "%.*s%s%s", (int) (at - def->title), def->title, release, at + strlen(old_rel));
        else
                r = asprintf(&title, "Linux %s", release);
        if (r < 0 || asprintf(&kname, "vmlinuz-%s", release) < 0 || asprintf(&initrd_name, "initrd.img-%s", release) < 0 ||
            asprintf(&initrd_rel, "/boot/%s", initrd_name) < 0)
                return log_oom();
        if (!(kernel = install_grub_path(lm->fs.separate_boot, kname)))
                return log_oom();
        if (chase_in_root(ctx->root, initrd_rel, 0, &initrd_host) >= 0 &&
            !(initrd = install_grub_path(lm->fs.separate_boot, initrd_name)))
                return log_oom();
        root_dev = install_root_device(def ? def->root : ctx->config.boot_device, partno);
        NewEntry ne = { .title = title, .kernel = kernel, .initrd = initrd, .args = def ? def->args : NULL,
                        .root_device = root_dev };
        if (ne.args && !*ne.args)
                ne.args = NULL;
        return menu_add_entry(ctx, &ne);
}

/* On the running system, the distro's kernel hooks (initramfs-tools makes the initrd, update-grub
 * the entry, kernelkeeper's own keeps the pin), as Debian's installkernel runs them */
static void run_postinst_hooks(const Context *ctx, const char *release)
{
        if (!root_is_host(ctx->root) || access("/etc/kernel/postinst.d", F_OK) < 0 || !spawn_in_path("run-parts"))
                return;
        _cleanup_free_ char *a1 = NULL, *a2 = NULL;
        if (asprintf(&a1, "--arg=%s", release) < 0 || asprintf(&a2, "--arg=/boot/vmlinuz-%s", release) < 0)
                return;
        char *argv[] = { (char *) "run-parts", (char *) "--report", (char *) "--exit-on-error", a1, a2,
                         (char *) "/etc/kernel/postinst.d", NULL };
        if (spawn_run(argv, &tool, NULL) < 0)
                log_warning("A hook in /etc/kernel/postinst.d failed for %s (see above)", release);
}

int kernel_install(const Context *ctx, const InstallRequest *q, char **ret_release)
{
        int r = kernel_install_check_request(q);
        if (r < 0)
                return r;
        _cleanup_(payload_done) Payload p = {};
        _cleanup_free_ char *sd = NULL;
        if ((r = state_dir_create(ctx, &sd)) < 0)
                return log_error_errno(r, "Cannot create the state directory: %m");
        if (asprintf(&p.staging, "%s/" STAGING, sd) < 0)
                return log_oom();
        {
                _cleanup_close_ int sfd = open(sd, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (sfd < 0 || rm_rf_at(sfd, STAGING) < 0)
                        return log_error_errno(errno, "Cannot clear %s: %m", p.staging);
        }
        if (mkdir(p.staging, 0700) < 0)
                return log_error_errno(errno, "Cannot create %s: %m", p.staging);

        /* the image first, for --image: its header may name the release */
        KernelImage k = {};
        const char *why = NULL;
        _cleanup_free_ char *img = NULL;
        size_t img_size = 0;
        if (q->image) {
                if ((r = read_full_file(q->image, IMAGE_FILE_MAX, &img, &img_size)) < 0)
                        return log_error_errno(r, "Cannot read %s: %s", q->image,
                                               r == -EFBIG ? "larger than 128 MiB" : r == -EINVAL ? "not a regular file" : strerror(-r));
                if ((r = kernel_image_inspect(img, img_size, &k, &why)) < 0)
                        return log_error_errno(r, "%s is not a usable Linux kernel: %s", q->image, why ? why : strerror(-r));
                r = acquire_image(&p, q, &k);
        } else if (q->url)
                r = acquire_url(&p, q);
        else if (q->deb) {
                _cleanup_free_ char *what = NULL;
                if (asprintf(&what, "package file %s", q->deb) < 0)
                        return log_oom();
                r = unpack_file(&p, q->deb, what);
        } else
                r = acquire_package(&p, q);
        if (r < 0)
                return r;
        if (!q->image) {
                if ((r = read_full_file(p.image, IMAGE_FILE_MAX, &img, &img_size)) < 0)
                        return log_error_errno(r, "Cannot read the kernel image of %s: %m", p.release);
                if ((r = kernel_image_inspect(img, img_size, &k, &why)) < 0)
                        return log_error_errno(r, "boot/vmlinuz-%s is not a usable Linux kernel: %s", p.release,
                                               why ? why : strerror(-r));
        }
        if (!streq(k.arch, kernel_native_arch()))
                return log_error_errno(ENOEXEC, "Kernel %s is built for %s (%s), not for this %s machine: not installed",
                                       p.release, k.arch, kernel_format_to_string(k.format), kernel_native_arch());
        if ((r = check_xen(ctx, &p, &k)) < 0)
                return r;
        char sha[SHA256_HEX_SIZE];
        if ((r = sha256_hex(img, img_size, sha)) < 0)
                return log_error_errno(r, "Cannot hash the kernel image (libcrypto.so.3): %m");
        img = mfree(img);

        /* from here on, the writers take turns */
        _cleanup_close_ int lock = -EBADF;
        if ((r = writers_begin(ctx, true, &lock)) < 0)
                return r;
        _cleanup_free_ char *boot = NULL, *vmlinuz = NULL, *vmlinuz_rel = NULL, *mods = NULL, *mods_rel = NULL;
        if ((r = mkdir_in_root(ctx->root, "/boot", 0755, &boot)) < 0)
                return log_error_errno(r, "Cannot find /boot: %m");
        if (asprintf(&vmlinuz_rel, "/boot/vmlinuz-%s", p.release) < 0 || asprintf(&mods_rel, "/lib/modules/%s", p.release) < 0)
                return log_oom();
        bool have_image = chase_in_root(ctx->root, vmlinuz_rel, CHASE_NOFOLLOW_LAST, &vmlinuz) >= 0;
        bool have_mods = chase_in_root(ctx->root, mods_rel, CHASE_NOFOLLOW_LAST, &mods) >= 0;
        if ((have_image || have_mods) && !q->reinstall) {
                r = pending_matches(ctx, p.release, sha);
                if (r < 0)
                        return r;
                if (r == 0 && have_image && same_image(ctx, vmlinuz_rel, sha)) {
                        log_info("Kernel %s is installed with these very bytes; checking its files and entry", p.release);
                        r = 1;
                } else if (r == 0)
                        return log_error_errno(EEXIST, "Kernel %s is already installed (%s); --reinstall replaces it",
                                               p.release, have_image ? vmlinuz_rel : mods_rel);
                else
                        log_notice("Finishing the install of %s that was cut off", p.release);
        }
        if ((r = check_space(ctx, &p, boot)) < 0)
                return r;

        /* nothing above changed the tree; now record, then place: modules, then the files GRUB
         * reads, the image last, then the entry */
        if ((r = pending_set(ctx, p.release, sha)) < 0)
                return r;
        if (p.deb && root_is_host(ctx->root) && spawn_in_path("dpkg") && access("/var/lib/dpkg/status", F_OK) >= 0) {
                /* dpkg on the running system: its hooks make the initrd and the entry (a system
                 * without dpkg and its database gets the files placed as from a tar, below) */
                char *argv[] = { (char *) "dpkg", (char *) "-i", p.deb, NULL };
                if ((r = spawn_run(argv, &tool, NULL)) < 0)
                        return log_error_errno(r, "dpkg -i %s failed (see above)", p.deb);
        } else {
                if (p.modules && (r = place_modules(ctx, &p)) < 0)
                        return r;
                const char *names[] = { "config-", "System.map-", "initrd.img-", "vmlinuz-" };
                const char *srcs[] = { p.config, p.sysmap, p.initrd, p.image };
                _cleanup_strv_free_ char **files = NULL;
                for (size_t i = 0; i < 4; i++)
                        if (strv_pushf(&files, "%s%s", names[i], p.release) < 0)
                                return log_oom();
                (void) remove_stale_temps(boot, (const char *const *) files);
                for (size_t i = 0; i < 4; i++)
                        if (srcs[i] && (r = place_boot_file(ctx, srcs[i], files[i], i == 2 ? INITRD_FILE_MAX : IMAGE_FILE_MAX)) < 0)
                                return r;
                if (!p.initrd && root_is_host(ctx->root) && !access("/etc/kernel/postinst.d", F_OK))
                        log_info("No initrd given: the kernel hooks (initramfs-tools) make one");
                run_postinst_hooks(ctx, p.release);
        }
        if ((r = add_entry(ctx, p.release)) < 0)
                return r;
        if ((r = pending_set(ctx, NULL, NULL)) < 0)
                return r;
        log_info("Installed kernel %s (%s, %s%s); the pin did not move", p.release, kernel_format_to_string(k.format), k.arch,
                 k.xen_pv == TRI_YES ? ", Xen PV capable" : "");
        if (ret_release && !(*ret_release = strdup(p.release)))
                return log_oom();
        return 0;
}

int kernel_directive_apply(const Context *ctx, const DirectiveKernel *k, char **ret_done)
{
        InstallRequest q = { .package = k->package, .deb = k->deb, .url = k->url, .sha256 = k->sha256 };
        _cleanup_free_ char *release = NULL, *sel = NULL, *done = NULL;
        int r = kernel_install(ctx, &q, &release);
        if (r < 0)
                return r;
        protect_update(ctx);
        if (k->trial) {
                /* even if this part's run record were lost: a kernel that failed its trial is not
                 * tried again from user data (the issue: never automatically) */
                _cleanup_json_ json_t *state = NULL;
                if ((r = state_load(ctx, &state)) < 0)
                        return r;
                json_t *t = json_object_get(state, "trial");
                const char *t_phase = json_string_value(json_object_get(t, "phase"));
                const char *t_release = json_string_value(json_object_get(json_object_get(t, "trial"), "release"));
                if (boot_history_trial_failed(json_object_get(state, "boots"), release) ||
                    (t_phase && streq(t_phase, "failed") && t_release && streq(t_release, release)))
                        return log_error_errno(EALREADY, "Kernel %s failed its trial before; user data does not try it "
                                               "again (`kernelkeeper kernel trial` by hand does)", release);
                if (asprintf(&sel, "release=%s", release) < 0)
                        return log_oom();
                if ((r = kernel_trial_arm(ctx, sel)) < 0)
                        return r;
                protect_update(ctx);
        }
        if (asprintf(&done, "installed kernel %s%s", release,
                     k->trial ? k->reboot ? ", armed its trial and rebooted into it" : " and armed its trial" : "") < 0)
                return log_oom();
        *ret_done = TAKE_PTR(done);
        return 0;
}

void kernel_directive_reboot(const Context *ctx)
{
        if (!root_is_host(ctx->root)) {
                log_info("Not rebooting a --root tree: reboot it to start the trial");
                return;
        }
        char *argv[] = { (char *) "systemctl", (char *) "reboot", NULL };
        if (spawn_run(argv, &tool, NULL) < 0) {
                /* the busybox test guest and other systems without systemd */
                char *argv2[] = { (char *) "reboot", NULL };
                if (spawn_run(argv2, &tool, NULL) < 0)
                        log_error("Cannot reboot into the kernel trial (systemctl reboot and reboot failed); reboot by hand");
        }
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* install/: kernel image inspection (bzImage, ELF, gzip, arm64, Xen notes, damage), the tar reader's
 * refusals, the .deb reader, and the layout decisions. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/macro.h"
#include "common/spawn.h"
#include "common/strv.h"
#include "install/image.h"
#include "install/layout.h"
#include "install/tar.h"
#include "tests/tap.h"
#include "tests/unit/kernel-image-builder.h"

static const uint32_t pv_notes[] = { 6, 1, 18, 0 }, pvh_only[] = { 6, 18, 0 };

static void test_image(void)
{
        KernelImage k;
        const char *why;
        KBuf elf = kb_elf(EM_X86_64, pv_notes, 300000);
        KBuf xz = kb_xz(elf);
        KBuf bz = kb_bzimage("6.1.0-99-amd64", xz, true);
        ok(kernel_image_inspect(bz.data, bz.size, &k, &why) == 0, "bzImage with an xz payload");
        is_int(k.format, KERNEL_BZIMAGE, "format bzImage");
        is_str(k.arch, "x86_64", "64-bit from xloadflags");
        is_str(k.release, "6.1.0-99-amd64", "release from kernel_version");
        is_int(k.xen_pv, TRI_YES, "Xen ENTRY note found past 300 KB of payload");
        is_int(k.boot_protocol, 0x20f, "boot protocol 2.15");

        KBuf elf2 = kb_elf(EM_X86_64, pvh_only, 10);
        KBuf gz = kb_gzip(elf2);
        KBuf bz2 = kb_bzimage("6.1.0-pvh", gz, true);
        ok(kernel_image_inspect(bz2.data, bz2.size, &k, &why) == 0, "bzImage with a gzip payload");
        is_int(k.xen_pv, TRI_NO, "PVH-only kernel is not PV");
        is_int(k.pvh, TRI_YES, "PVH note seen");

        KBuf bz3 = kb_bzimage("5.10.0-i386", gz, false);
        ok(kernel_image_inspect(bz3.data, bz3.size, &k, &why) == 0 && streq(k.arch, "i386"), "32-bit bzImage");

        ok(kernel_image_inspect(elf.data, elf.size, &k, &why) == 0 && k.format == KERNEL_ELF && streq(k.arch, "x86_64") &&
                   k.xen_pv == TRI_YES && !k.gzip,
           "plain ELF vmlinux");
        KBuf arm = kb_elf(EM_AARCH64, NULL, 0);
        KBuf armgz = kb_gzip(arm);
        ok(kernel_image_inspect(armgz.data, armgz.size, &k, &why) == 0 && k.gzip && streq(k.arch, "aarch64"),
           "gzip ELF of another arch is named");
        uint8_t img[128] = {};
        memcpy(img + 56, "ARM\x64", 4);
        ok(kernel_image_inspect(img, sizeof img, &k, &why) == 0 && k.format == KERNEL_ARM64_IMAGE, "arm64 Image");

        const char *text = "#!/bin/sh\necho this is not a kernel\n";
        is_int(kernel_image_inspect(text, strlen(text), &k, &why), -EMEDIUMTYPE, "a script is not a kernel");
        ok(why != NULL, "with a reason");
        is_int(kernel_image_inspect(xz.data, xz.size, &k, &why), -EMEDIUMTYPE, "a bare xz file is not a kernel");

        /* damage: truncated payload, payload length beyond the file, corrupt xz */
        is_int(kernel_image_inspect(bz.data, bz.size - 100, &k, &why), -EBADMSG, "truncated bzImage");
        uint8_t *c = malloc(bz.size);
        memcpy(c, bz.data, bz.size);
        memset(c + 5 * 512 + 60, 0x55, 64);
        is_int(kernel_image_inspect(c, bz.size, &k, &why), -EBADMSG, "corrupt payload");
        memcpy(c, bz.data, bz.size);
        kb_put32(c + 0x24c, 0x7fffffff);
        is_int(kernel_image_inspect(c, bz.size, &k, &why), -EBADMSG, "payload length out of range");
        for (size_t cut = 0x250; cut < 5 * 512 + 64; cut += 97)
                (void) kernel_image_inspect(bz.data, cut, &k, &why); /* no crash at any length (ASan) */
        ok(true, "every short prefix read safely");
        free(c);

        /* the real Debian kernel of the VM cache, when there is one */
        const char *home = getenv("HOME");
        char p[512];
        snprintf(p, sizeof p, "%s/.cache/kernelkeeper-vm/pkg/linux-image-6.1.0-57-amd64_6.1.192-3/boot/vmlinuz-6.1.0-57-amd64",
                 home ? home : "/nonexistent");
        _cleanup_free_ char *real = NULL;
        size_t real_size;
        if (read_full_file(p, 64 << 20, &real, &real_size) >= 0) {
                ok(kernel_image_inspect(real, real_size, &k, &why) == 0 && k.xen_pv == TRI_YES &&
                           streq(k.release, "6.1.0-57-amd64") && streq(k.arch, "x86_64"),
                   "Debian 6.1.0-57 vmlinuz: x86_64, Xen PV notes, release");
        } else
                ok(true, "# SKIP no Debian kernel in the VM cache");

        free(elf.data), free(xz.data), free(bz.data), free(elf2.data), free(gz.data), free(bz2.data), free(bz3.data);
        free(arm.data), free(armgz.data);
}

static void test_kconfig(void)
{
        const char *cfg = "CONFIG_X=y\n# CONFIG_XEN_PVH is not set\nCONFIG_XEN_PV=y\n";
        is_int(kconfig_get(cfg, "CONFIG_XEN_PV"), TRI_YES, "CONFIG_XEN_PV=y");
        is_int(kconfig_get(cfg, "CONFIG_XEN_PVH"), TRI_NO, "not set");
        is_int(kconfig_get(cfg, "CONFIG_XEN"), TRI_NO, "a prefix of another name is not it");
        is_int(kconfig_get(NULL, "CONFIG_XEN_PV"), TRI_UNKNOWN, "no config");
        KernelImage k = { .xen_pv = TRI_YES };
        is_int(install_xen_pv_capable(&k, "# CONFIG_XEN_PV is not set\n"), TRI_NO, "config wins over notes");
        is_int(install_xen_pv_capable(&k, NULL), TRI_YES, "notes without a config");
}

static void test_layout(void)
{
        _cleanup_free_ char *a = install_grub_path(true, "vmlinuz-1"), *b = install_grub_path(false, "vmlinuz-1");
        is_str(a, "/vmlinuz-1", "separate /boot");
        is_str(b, "/boot/vmlinuz-1", "/boot on the root fs");
        _cleanup_free_ char *r1 = install_root_device("(hd0,1)", 1), *r2 = install_root_device(NULL, 2),
                            *r3 = install_root_device(NULL, -1), *r4 = install_root_device(NULL, 0);
        is_str(r1, "(hd0,1)", "the default entry's root wins");
        is_str(r2, "(hd0,1)", "partition 2 -> (hd0,1)");
        is_str(r3, "(hd0)", "whole disk -> (hd0)");
        ok(r4 == NULL, "unknown -> no root line");
        ok(install_release_valid("6.1.0-57-amd64") && !install_release_valid("../x") && !install_release_valid("a b") &&
                   !install_release_valid("") && !install_release_valid("-x"),
           "release names");
        is_int(install_space_needed(10 << 20), (10 << 20) + (4 << 20), "margin at least 4 MiB");
        is_int(install_space_needed(100 << 20), (110 << 20), "margin a tenth");
        ok(xen_pv_guest("xen\n", "PV\n", false), "guest_type PV");
        ok(!xen_pv_guest("xen\n", "HVM\n", true), "HVM");
        ok(!xen_pv_guest("xen\n", "PVH\n", true), "PVH");
        ok(xen_pv_guest("xen", NULL, true), "old kernel: /proc/xen");
        ok(!xen_pv_guest(NULL, NULL, true) && !xen_pv_guest("kvm", NULL, true), "not Xen");
        const char *mi = "22 1 254:1 / / rw - ext4 /dev/vda1 rw\n"
                         "30 22 254:2 / /boot rw - ext2 /dev/vda2 rw\n"
                         "31 22 0:5 / /mnt/a\\040b rw - tmpfs tmpfs rw\n";
        dev_t d = 0;
        ok(mountinfo_device(mi, "/boot", &d) == 0 && major(d) == 254 && minor(d) == 2, "mountinfo /boot");
        ok(mountinfo_device(mi, "/mnt/a b", &d) == 0 && major(d) == 0, "escaped blank");
        is_int(mountinfo_device(mi, "/srv", &d), -ENOENT, "not mounted");
}

static bool take_all(const char *name, TarType t, void *u)
{
        return true;
}
static bool take_boot(const char *name, TarType t, void *u)
{
        return strncmp(name, "boot", 4) == 0;
}

static int extract(KBuf t, const char *dir, TarFilter f, char **err)
{
        _cleanup_(stream_freep) Stream *s = NULL;
        stream_open_mem(t.data, t.size, COMPRESSION_NONE, 1 << 30, &s);
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        TarLimits l = { .max_total = 1 << 20, .max_members = 100 };
        free(*err);
        *err = NULL;
        int r = tar_extract(s, fd, f, NULL, &l, NULL, err);
        close(fd);
        return r;
}

static void test_kernel_members(void)
{
        KernelMembers m = {};
        ok(kernel_member_wanted("boot/", TAR_DIR, &m) && !kernel_member_wanted("boot", TAR_FILE, &m), "boot/ a dir only");
        ok(kernel_member_wanted("boot/vmlinuz-6.1.0-9", TAR_FILE, &m), "a kernel");
        ok(kernel_member_wanted("boot/config-6.1.0-9", TAR_FILE, &m), "its config");
        ok(!kernel_member_wanted("boot/grub/menu.lst", TAR_FILE, &m), "not below boot/'s first level");
        ok(!kernel_member_wanted("boot/vmlinuz-x", TAR_SYMLINK, &m), "no link in boot/");
        ok(kernel_member_wanted("lib/modules/6.1.0-9/kernel/a.ko", TAR_FILE, &m), "modules");
        ok(kernel_member_wanted("lib/modules/6.1.0-9/build", TAR_SYMLINK, &m), "a link below lib/modules/REL");
        ok(!kernel_member_wanted("usr/share/doc/x", TAR_FILE, &m), "docs skipped");
        is_int((int) strv_length(m.kernels), 1, "one kernel seen");
        ok(m.releases && streq(m.releases[0], "6.1.0-9") && !m.releases[1], "one release seen");
        strv_free(m.kernels);
        strv_free(m.releases);
        ok(spawn_in_path("sh") && !spawn_in_path("kk-no-such-tool"), "spawn_in_path");
}

static void test_tar(void)
{
        char dir[] = "/tmp/kk-test-tar-XXXXXX";
        ok(mkdtemp(dir) != NULL, "temp dir");
        _cleanup_free_ char *err = NULL;
        KBuf t = {};
        kb_tar_add(&t, "./", '5', NULL, NULL, 0);
        kb_tar_add(&t, "./boot/", '5', NULL, NULL, 0);
        char zeros[3000] = {};
        kb_tar_add(&t, "./boot/vmlinuz-1", '0', NULL, zeros, sizeof zeros);
        kb_tar_add(&t, "./lib/modules/1/build", '2', NULL, NULL, 0);
        kb_tar_add(&t, "./lib/modules/1/kernel/x.ko", '0', NULL, "ko", 2);
        kb_tar_add(&t, "./lib/modules/1/source", '2', "build", NULL, 0);
        kb_tar_add(&t, "./usr/share/doc/x", '0', NULL, "doc", 3);
        kb_tar_end(&t);
        ok(tar_magic(t.data, t.size), "ustar magic");
        ok(!tar_magic(t.data, 511) && !tar_magic(zeros, sizeof zeros), "no magic: short, or zeros");
        is_int(extract(t, dir, take_boot, &err), 0, "only boot/ extracted");
        char p[256];
        struct stat st;
        snprintf(p, sizeof p, "%s/boot/vmlinuz-1", dir);
        ok(stat(p, &st) == 0 && st.st_size == 3000 && st.st_blocks * 512 >= 3000, "file written whole, not sparse");
        snprintf(p, sizeof p, "%s/usr", dir);
        ok(stat(p, &st) < 0, "usr/ skipped");
        is_int(extract(t, dir, take_all, &err), -EEXIST, "a member already there is refused");

        struct {
                const char *name;
                char type;
                const char *link;
                int error;
        } bad[] = {
                { "/etc/passwd", '0', NULL, -EPERM },
                { "boot/../../x", '0', NULL, -EPERM },
                { "boot/x", '2', "/etc/shadow", -EPERM },
                { "boot/x", '2', "../../etc", -EPERM },
                { "boot/x", '1', "boot/y", -EPERM },
                { "boot/dev", '3', NULL, -EPERM },
                { "boot/fifo", '6', NULL, -EPERM },
                { "boot/sparse", 'S', NULL, -EPERM },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                KBuf b = {};
                kb_tar_add(&b, bad[i].name, bad[i].type, bad[i].link, NULL, 0);
                kb_tar_end(&b);
                char sub[300];
                snprintf(sub, sizeof sub, "%s/bad%zu", dir, i);
                mkdir(sub, 0755);
                is_int(extract(b, sub, take_all, &err), bad[i].error, bad[i].name);
                ok(err && strlen(err) > 10, "  with a sentence");
                free(b.data);
        }
        /* a link that stays inside, then a member written through it: refused (never followed) */
        KBuf l = {};
        kb_tar_add(&l, "lib/modules/1/d", '5', NULL, NULL, 0);
        kb_tar_add(&l, "lib/modules/1/link", '2', "d", NULL, 0);
        kb_tar_add(&l, "lib/modules/1/link/f", '0', NULL, "x", 1);
        kb_tar_end(&l);
        snprintf(p, sizeof p, "%s/links", dir);
        mkdir(p, 0755);
        ok(extract(l, p, take_all, &err) < 0, "a member below a link is refused");
        /* truncation and size cap */
        KBuf big = {};
        char *mb = calloc(1, 2 << 20);
        kb_tar_add(&big, "boot/big", '0', NULL, mb, 2 << 20);
        kb_tar_end(&big);
        snprintf(p, sizeof p, "%s/big", dir);
        mkdir(p, 0755);
        is_int(extract(big, p, take_all, &err), -EFBIG, "over the size cap");
        KBuf cut = { t.data, 512 * 4 + 1000 };
        snprintf(p, sizeof p, "%s/cut", dir);
        mkdir(p, 0755);
        is_int(extract(cut, p, take_all, &err), -EBADMSG, "truncated archive");
        t.data[200] ^= 1;
        snprintf(p, sizeof p, "%s/sum", dir);
        mkdir(p, 0755);
        is_int(extract(t, p, take_all, &err), -EBADMSG, "bad header checksum");
        free(mb), free(big.data), free(t.data), free(l.data);

        /* a .deb around an xz data.tar */
        KBuf d = {};
        kb_tar_add(&d, "./boot/vmlinuz-2", '0', NULL, "k", 1);
        kb_tar_end(&d);
        KBuf dx = kb_xz(d);
        snprintf(p, sizeof p, "%s/x.deb", dir);
        FILE *f = fopen(p, "w");
        fprintf(f, "!<arch>\n%-16s%-12s%-6s%-6s%-8s%-10s`\n2.0\n", "debian-binary", "0", "0", "0", "100644", "4");
        fprintf(f, "%-16s%-12s%-6s%-6s%-8s%-10zu`\n", "data.tar.xz", "0", "0", "0", "100644", dx.size);
        fwrite(dx.data, 1, dx.size, f);
        fclose(f);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        uint64_t off = 0, size = 0;
        Compression c;
        ok(deb_find_data(fd, &off, &size, &c) == 0 && c == COMPRESSION_XZ && size == dx.size, "data.tar.xz found in the .deb");
        close(fd);
        snprintf(p, sizeof p, "%s/boot/vmlinuz-1", dir);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        is_int(deb_find_data(fd, &off, &size, &c), -EMEDIUMTYPE, "not a .deb");
        close(fd);
        free(d.data), free(dx.data);
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        ok(system(cmd) == 0, "cleanup");
}

int main(void)
{
        test_image();
        test_kconfig();
        test_layout();
        test_tar();
        test_kernel_members();
        return tap_done();
}

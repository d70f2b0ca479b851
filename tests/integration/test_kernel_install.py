#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""`kernel install` on --root trees: every source (--image, --deb, --url + --sha256, --package with a
stand-in apt-get), the entry it adds (the default's command line and root, /boot-relative or
partition-relative paths), the pin that does not move, files that are whole and not sparse, and
every check failing with one error line and nothing changed: bad checksum, truncated download,
not a kernel, wrong arch, non-PV kernel on a PV guest, collision (and --reinstall), no space on
/boot, archives with escaping members."""
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.environ.get("KK_SOURCE_ROOT", ""), "tests", "imds"))
import kernelfiles as kf  # noqa: E402
import kktest  # noqa: E402
from imds_server import ImdsServer  # noqa: E402
from kktest import Tree, run, show  # noqa: E402
from udtest import UserDataCase  # noqa: E402

G, N = "6.1.0-50-amd64", "6.1.0-57-amd64"
ARGS = "root=/dev/xvda1 ro console=hvc0"
MENU = f"""timeout 5
default 0
fallback 1

title Debian GNU/Linux, kernel {G}
root (hd0,0)
kernel /boot/vmlinuz-{G} {ARGS}
initrd /boot/initrd.img-{G}

title Debian GNU/Linux, kernel {G} (recovery mode)
root (hd0,0)
kernel /boot/vmlinuz-{G} {ARGS} single
initrd /boot/initrd.img-{G}
"""


def snapshot(root):
    """Every path of the tree with its type and content (the state directory's lock and temp files
    aside), to prove that a refused install changed nothing."""
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if rel.startswith("var/lib/kernelkeeper") and not rel.endswith("state.json"):
                continue
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir",)
            else:
                out[rel] = ("file", hashlib.sha256(open(p, "rb").read()).hexdigest())
    return out


class Install(unittest.TestCase):
    def setUp(self):
        self.t = Tree()
        self.t.menu(MENU)
        self.t.kernels(f"/boot/vmlinuz-{G}", f"/boot/initrd.img-{G}")
        run(self.t, "pin", "--default", f"release={G}", check=0)
        self.files = tempfile.mkdtemp(prefix="kk-kfiles-")
        self.srv = None

    def tearDown(self):
        if self.srv:
            self.srv.stop()
        self.t.cleanup()
        shutil.rmtree(self.files, ignore_errors=True)

    def file(self, name, data):
        p = os.path.join(self.files, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def install(self, *args, check=0, env=None):
        return run(self.t, "kernel", "install", *args, check=check, env=env)

    def refused(self, *args, message, env=None):
        """The install fails with one error line naming the problem and the tree is unchanged."""
        before = snapshot(self.t.root)
        p = self.install(*args, check=1, env=env)
        lines = [line for line in p.stderr.splitlines() if line.strip()]
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn(message, lines[0])
        self.assertEqual(snapshot(self.t.root), before, "nothing changed")
        self.assertFalse(os.path.exists(self.t.path("/var/lib/kernelkeeper/install-staging")), "staging removed")
        return p

    def serve(self, files):
        self.srv = ImdsServer(files=files)
        self.srv.start()
        return self.srv.url

    def entry(self, release):
        m = show(self.t)
        return [e for e in m["entries"] if e.get("release") == release]

    def assert_whole(self, path, size=None):
        st = os.stat(self.t.path(path))
        if size is not None:
            self.assertEqual(st.st_size, size)
        self.assertGreaterEqual(st.st_blocks * 512, st.st_size - 4095, f"{path} is not sparse")

    def assert_pin_kept(self):
        m = show(self.t)
        self.assertEqual(m["entries"][m["default"]]["release"], G, "GRUB still boots the pinned kernel")
        st = json.loads(self.t.read("/var/lib/kernelkeeper/state.json"))
        self.assertNotIn("install", st, "no install left in progress")

    # --- sources ---
    def test_image_adds_entry_from_default(self):
        img = self.file(f"vmlinuz-{N}", kf.bzimage(N))
        initrd = self.file("initrd", b"initrd" + b"\0" * 10000)
        p = self.install("--image", img, "--initrd", initrd)
        self.assertIn(f"Installed kernel {N}", p.stderr)
        self.assertEqual(self.t.read(f"/boot/vmlinuz-{N}"), open(img, "rb").read())
        self.assert_whole(f"/boot/vmlinuz-{N}")
        self.assert_whole(f"/boot/initrd.img-{N}", 10006)
        [e] = self.entry(N)
        self.assertEqual(e["title"], f"Debian GNU/Linux, kernel {N}")
        self.assertEqual(e["kernel"], f"/boot/vmlinuz-{N}")
        self.assertEqual(e["initrd"], f"/boot/initrd.img-{N}")
        self.assertEqual(e["args"], ARGS)
        self.assertEqual(e["root"], "(hd0,0)")
        self.assert_pin_kept()
        self.assertEqual(run(self.t, "menu", "check").returncode, 0)

    def test_image_release_from_file_name_and_modules_dir(self):
        # an ELF vmlinux names no release: the file name does
        img = self.file(f"vmlinux-{N}", kf.elf())
        mods = os.path.join(self.files, "mods")
        os.makedirs(os.path.join(mods, "kernel"))
        self.file("mods/kernel/a.ko", b"\x7fELF")
        os.symlink("kernel/a.ko", os.path.join(mods, "alias.ko"))
        self.install("--image", img, "--modules", mods)
        self.assertEqual(self.t.read(f"/lib/modules/{N}/kernel/a.ko"), b"\x7fELF")
        self.assertEqual(os.readlink(self.t.path(f"/lib/modules/{N}/alias.ko")), "kernel/a.ko")
        [e] = self.entry(N)
        self.assertIsNone(e.get("initrd"))

    def test_separate_boot_paths(self):
        self.t.write("/etc/kernelkeeper.conf", "[Menu]\nBootPartition=yes\n")
        self.t.menu(MENU.replace("/boot/", "/"))
        self.t.kernels(f"/boot/vmlinuz-{G}", f"/boot/initrd.img-{G}")
        self.install("--image", self.file(f"vmlinuz-{N}", kf.bzimage(N)))
        [e] = self.entry(N)
        self.assertEqual(e["kernel"], f"/vmlinuz-{N}", "paths relative to the /boot partition")

    def test_deb(self):
        deb = self.file(f"linux-image-{N}.deb", kf.deb(N))
        self.install("--deb", deb)
        for f in (f"vmlinuz-{N}", f"initrd.img-{N}", f"config-{N}", f"System.map-{N}"):
            self.assert_whole(f"/boot/{f}")
        self.assertTrue(os.path.exists(self.t.path(f"/lib/modules/{N}/kernel/drivers/md/dm-mod.ko")))
        self.assertFalse(os.path.exists(self.t.path("/usr/share/doc")), "only boot/ and lib/modules/ are taken")
        [e] = self.entry(N)
        self.assertEqual(e["initrd"], f"/boot/initrd.img-{N}")
        self.assert_pin_kept()

    def test_package_through_apt_get_download(self):
        bindir = os.path.join(self.files, "bin")
        os.makedirs(bindir)
        self.file(f"linux-image-{N}_1_amd64.deb", kf.deb(N))
        apt = self.file("bin/apt-get", f"#!/bin/sh\n[ \"$1\" = download ] || exit 9\n"
                        f"cp {self.files}/linux-image-{N}_1_amd64.deb .\n".encode())
        os.chmod(apt, 0o755)
        env = {"PATH": bindir + ":" + os.environ["PATH"]}
        self.install("--package", f"linux-image-{N}", env=env)
        self.assertEqual(len(self.entry(N)), 1)

    def test_url_tar_and_deb(self):
        body = kf.tar(kf.kernel_members(N), compress="gz")
        d = kf.deb("6.1.0-58-amd64")
        url = self.serve({"/k.tar.gz": body, "/k.deb": d})
        self.install("--url", url + "/k.tar.gz", "--sha256", hashlib.sha256(body).hexdigest())
        self.assertEqual(len(self.entry(N)), 1)
        self.install("--url", url + "/k.deb", "--sha256", hashlib.sha256(d).hexdigest().upper())
        self.assertEqual(len(self.entry("6.1.0-58-amd64")), 1)
        self.assert_pin_kept()

    def test_reinstall(self):
        img = self.file(f"vmlinuz-{N}", kf.bzimage(N))
        self.install("--image", img)
        img2 = self.file(f"vmlinuz2-{N}", kf.bzimage(N, size=70000))
        self.refused("--image", img2, message=f"Kernel {N} is already installed")
        # the very same bytes again: a re-run (after a crash, or by a script), not a collision
        p = self.install("--image", img)
        self.assertIn("installed with these very bytes", p.stderr)
        self.install("--image", img2, "--reinstall")
        self.assertEqual(self.t.read(f"/boot/vmlinuz-{N}"), open(img2, "rb").read())
        self.assertEqual(len(self.entry(N)), 1, "one entry")

    # --- refusals: one line, nothing changed ---
    def test_bad_checksum_changes_nothing(self):
        body = kf.tar(kf.kernel_members(N))
        url = self.serve({"/k.tar": body})
        self.refused("--url", url + "/k.tar", "--sha256", "0" * 64, message="not the " + "0" * 64)

    def test_url_query_never_shown(self):
        # a presigned URL's query is a credential: the refusal names the URL without it
        body = kf.tar(kf.kernel_members(N))
        url = self.serve({"/k.tar?X-Amz-Signature=s3cr3t": body})
        p = self.refused("--url", url + "/k.tar?X-Amz-Signature=s3cr3t", "--sha256", "0" * 64,
                         message=url + "/k.tar has sha256")
        self.assertNotIn("s3cr3t", p.stderr)

    def test_truncated_download(self):
        body = kf.tar(kf.kernel_members(N))
        url = self.serve({"/k.tar": {"data": body, "cut_at": len(body) // 2}})
        self.refused("--url", url + "/k.tar", "--sha256", hashlib.sha256(body).hexdigest(), message="Cannot download")

    def test_http_error(self):
        url = self.serve({})
        # the IMDS answers 401 without a token for anything it does not serve as a file
        self.refused("--url", url + "/missing.tar", "--sha256", "a" * 64, message="HTTP status")

    def test_not_a_kernel(self):
        self.refused("--image", self.file(f"vmlinuz-{N}", b"#!/bin/sh\necho hi\n" * 100),
                     message="is not a usable Linux kernel")
        body = kf.tar([("./boot", None), (f"./boot/vmlinuz-{N}", b"MZ not a kernel" * 100)])
        url = self.serve({"/k.tar": body})
        self.refused("--url", url + "/k.tar", "--sha256", hashlib.sha256(body).hexdigest(),
                     message="is not a usable Linux kernel")

    def test_wrong_arch(self):
        self.refused("--image", self.file(f"vmlinuz-{N}", kf.arm64_image()), message="built for aarch64")
        self.refused("--image", self.file(f"vmlinuz-{N}", kf.bzimage(N, x86_64=False)), message="built for i386")

    def test_pv_guest_refuses_non_pv_kernel(self):
        self.t.write("/sys/hypervisor/type", "xen\n")
        self.t.write("/sys/hypervisor/guest_type", "PV\n")
        self.refused("--image", self.file(f"vmlinuz-{N}", kf.bzimage(N, pv=False)),
                     message="cannot boot as a Xen PV guest")
        # its config says so as well (a .deb ships config-REL)
        self.refused("--deb", self.file("np.deb", kf.deb(N, pv=False)), message="CONFIG_XEN_PV is not set")
        # the same kernel on an HVM guest is fine, and a PV one on the PV guest
        self.install("--image", self.file(f"vmlinuz-{N}", kf.bzimage(N)))
        self.t.write("/sys/hypervisor/guest_type", "HVM\n")
        self.install("--image", self.file("vmlinuz-6.1.0-99-amd64", kf.bzimage("6.1.0-99-amd64", pv=False)))

    def test_escaping_archives(self):
        for i, members in enumerate([
                kf.kernel_members(N) + [("../../etc/evil", b"x")],
                kf.kernel_members(N) + [(f"./lib/modules/{N}/build", ("link", "/usr/src/linux"))],
                kf.kernel_members(N) + [(f"./lib/modules/{N}/up", ("link", "../../../../etc"))],
                kf.kernel_members(N) + [(f"./lib/modules/{N}/hard", ("hard", f"boot/vmlinuz-{N}"))],
                kf.kernel_members(N) + [(f"./boot/fifo-{N}", ("fifo",))]]):
            body = kf.tar(members)
            url = self.serve({f"/k{i}.tar": body}) if not self.srv else self.srv.url
            self.srv.configure(files={f"/k{i}.tar": body})
            self.refused("--url", f"{url}/k{i}.tar", "--sha256", hashlib.sha256(body).hexdigest(),
                         message="Cannot unpack")

    def test_two_kernels_or_foreign_modules(self):
        body = kf.tar(kf.kernel_members(N) + [("./boot/vmlinuz-9.9", kf.bzimage("9.9"))])
        url = self.serve({"/k.tar": body})
        self.refused("--url", url + "/k.tar", "--sha256", hashlib.sha256(body).hexdigest(), message="Found 2 kernel images")
        body = kf.tar(kf.kernel_members(N) + [("./lib/modules/9.9/x.ko", b"x")])
        self.srv.configure(files={"/k.tar": body})
        self.refused("--url", url + "/k.tar", "--sha256", hashlib.sha256(body).hexdigest(),
                     message="modules for release 9.9")

    def test_usage_errors(self):
        for args, msg in [((), "takes one source"),
                          (("--url", "http://127.0.0.1/x"), "--url needs --sha256"),
                          (("--url", "file:///etc/passwd", "--sha256", "a" * 64), "http:// or https://"),
                          (("--url", "http://127.0.0.1/x", "--sha256", "xyz"), "64 hexadecimal digits"),
                          (("--deb", "/x.deb", "--initrd", "/i"), "go with --image"),
                          (("--deb", "/x.deb", "--image", "/y"), "takes one source")]:
            p = self.install(*args, check=2)
            self.assertIn(msg, p.stderr)
        p = run(self.t, "kernel", "trial", "x", "--reinstall", check=2)
        self.assertIn("does not take", p.stderr)

    def test_no_space_on_boot(self):
        """/boot a 1 MiB tmpfs in a private mount namespace (as root, or as a user namespace's root)."""
        if not shutil.which("unshare"):
            self.skipTest("no unshare")
        img = self.file(f"vmlinuz-{N}", kf.bzimage(N, size=900 * 1024))
        # the tmpfs is its own mount, but this menu names /boot/... (as if /boot were on /)
        self.t.write("/etc/kernelkeeper.conf", "[Menu]\nBootPartition=no\n")
        boot = self.t.path("/boot")
        shutil.copytree(boot, os.path.join(self.files, "bootcopy"), symlinks=True)
        script = (f"mount -t tmpfs -o size=2m tmpfs {boot} && cp -a {self.files}/bootcopy/. {boot}/ && "
                  f"{kktest.BINARY} --root {self.t.root} kernel install --image {img}; echo rc=$?; "
                  f"ls {boot}")
        for pre in (["unshare", "-m"], ["unshare", "-rm"]):
            p = subprocess.run(pre + ["sh", "-c", script], capture_output=True, text=True)
            if "rc=" in p.stdout:
                break
        else:
            self.skipTest("cannot mount a tmpfs here: " + p.stderr.strip())
        self.assertIn("rc=1", p.stdout)
        self.assertIn("Not enough space on /boot", p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertNotIn(f"vmlinuz-{N}", p.stdout, "nothing written to /boot")
        # with room (8 MiB) the same install goes through
        p = subprocess.run(pre + ["sh", "-c", script.replace("size=2m", "size=8m")], capture_output=True, text=True)
        self.assertIn("rc=0", p.stdout, p.stderr)
        self.assertIn(f"vmlinuz-{N}", p.stdout)


class Directive(UserDataCase):
    """{"kernel": {"install": ..., "trial": true, "reboot": true}} from the metadata service: installs,
    arms the trial, and is not run again on the trial's boot (nor after a failed trial)."""

    def setUp(self):
        super().setUp()
        self.t.menu(MENU)
        self.t.kernels(f"/boot/vmlinuz-{G}", f"/boot/initrd.img-{G}")
        self.t.write("/proc/cmdline", ARGS + "\n")
        self.t.write("/proc/sys/kernel/osrelease", G + "\n")

    def directive(self, kernel):
        return ("#kernelkeeper\n" + json.dumps({"pin": {"default": f"release={G}"}, "kernel": kernel})).encode()

    def test_install_trial_once_per_instance(self):
        body = kf.tar(kf.kernel_members(N))
        self.serve(None, files={"/k.tar": body})
        ud = self.directive({"install": {"url": self.srv.url + "/k.tar", "sha256": hashlib.sha256(body).hexdigest()},
                             "trial": True, "reboot": True})
        self.srv.configure(user_data=ud)
        p = self.run_ok()
        self.assertIn(f"installed kernel {N}, armed its trial and rebooted into it", p.stderr)
        self.assertIn("Not rebooting a --root tree", p.stderr)
        st = self.state()
        self.assertEqual(st["trial"]["phase"], "armed")
        self.assertEqual(st["pin"]["default"], f"release={G}")
        files = self.srv.requests(path="/k.tar")
        # the trial's boot (a new boot id): the part is not run again, nothing downloaded again
        self.set_boot_id("6f1b6a6e-0d0c-4f3e-9a53-000000000002")
        self.run_ok()
        self.assertEqual(len(self.srv.requests(path="/k.tar")), len(files), "not downloaded again")
        self.assertEqual(self.state()["trial"]["phase"], "armed", "not armed again")

    def test_kernel_that_failed_its_trial_is_not_tried_again(self):
        # even when the part's once-per-instance record is lost, the release's failed trial in the
        # boot history keeps user data from arming it again
        body = kf.tar(kf.kernel_members(N))
        self.serve(None, files={"/k.tar": body})
        self.srv.configure(user_data=self.directive(
            {"install": {"url": self.srv.url + "/k.tar", "sha256": hashlib.sha256(body).hexdigest()}, "trial": True}))
        self.run_ok()
        self.assertEqual(self.state()["trial"]["phase"], "armed")
        kktest.run(self.t, "kernel", "rollback")
        st = self.state()
        self.assertEqual(st["trial"]["phase"], "failed")
        st.pop("userdata", None)
        self.t.write("/var/lib/kernelkeeper/state.json", json.dumps(st))
        self.set_boot_id("6f1b6a6e-0d0c-4f3e-9a53-000000000004")
        p = self.userdata("run", check=1)
        self.assertIn(f"Kernel {N} failed its trial before; user data does not try it again", p.stderr)
        self.assertEqual(self.state()["trial"]["phase"], "failed", "not armed again")

    def test_failed_install_is_not_retried(self):
        body = kf.tar(kf.kernel_members(N))
        ud = self.directive({"install": {"url": "http://127.0.0.1:1/none", "sha256": "0" * 64}, "trial": True})
        self.serve(ud, files={"/k.tar": body})
        p = self.userdata("run", check=1)
        self.assertIn("Cannot download", p.stderr)
        self.assertIn("kernel install or trial failed", p.stderr)
        self.assertNotIn("trial", self.state())
        self.set_boot_id("6f1b6a6e-0d0c-4f3e-9a53-000000000003")
        p = self.userdata("run", check=0)
        self.assertNotIn("Cannot download", p.stderr, "a failed directive does not loop")


if __name__ == "__main__":
    kktest.main()

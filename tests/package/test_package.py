#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The Debian package: built from this checkout (tests/package/build-deb, as `./dev package` does),
its file list and Depends, lintian, and its maintainer scripts run by dpkg in a throw-away root
(`dpkg --root --force-script-chrootless`): install, upgrade, remove, purge.

systemd is not PID 1 here, so dpkg runs in a private mount namespace with /run/systemd/system
present (what the maintainer scripts test for) and fake `systemctl`/`deb-systemd-invoke` that
record their calls; the real deb-systemd-helper enables the units inside the root (DPKG_ROOT)."""
import atexit
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

SOURCE_ROOT = os.environ.get("KK_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "integration"))
import kktest  # noqa: E402

WORK = tempfile.mkdtemp(prefix="kk-package-")
atexit.register(shutil.rmtree, WORK, ignore_errors=True)
_deb = None


def deb():
    """Builds the .deb once for all tests (about 10-30 s) and returns its path."""
    global _deb
    if _deb is None:
        out = os.path.join(WORK, "out")
        p = subprocess.run([os.path.join(SOURCE_ROOT, "tests", "package", "build-deb"), out],
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise AssertionError("the package did not build:\n" + p.stdout + p.stderr)
        print("# " + p.stdout.strip(), flush=True)
        debs = glob.glob(os.path.join(out, "kernelkeeper_*.deb"))
        assert len(debs) == 1, debs
        _deb = debs[0]
    return _deb


def out(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


SHIPPED = {  # path: mode
    "./usr/sbin/kernelkeeper": 0o755,
    "./lib/systemd/system/kernelkeeper.service": 0o644,
    "./lib/systemd/system/kernelkeeper-userdata.service": 0o644,
    "./lib/systemd/system/kernelkeeper-boot.service": 0o644,
    "./lib/systemd/system/kernelkeeper-health.service": 0o644,
    "./lib/systemd/system/kernelkeeper-modules.service": 0o644,
    "./lib/systemd/system-generators/kernelkeeper-trial-generator": 0o755,
    "./etc/kernel/postinst.d/zzz-kernelkeeper": 0o755,
    "./etc/kernel/postrm.d/zzz-kernelkeeper": 0o755,
    "./etc/kernel/prerm.d/kernelkeeper": 0o755,
    "./usr/lib/kernel/install.d/90-kernelkeeper.install": 0o755,
    "./etc/kernelkeeper.conf": 0o644,
    "./usr/share/man/man8/kernelkeeper.8.gz": 0o644,
    # the directory Debian 12's systemd watches with a dpkg trigger (journalctl --update-catalog)
    "./usr/lib/systemd/catalog/kernelkeeper.catalog": 0o644,
    "./usr/share/doc/kernelkeeper/copyright": 0o644,
    "./usr/share/doc/kernelkeeper/changelog.gz": 0o644,
    "./usr/share/lintian/overrides/kernelkeeper": 0o644,
}
MODES = {"-rwxr-xr-x": 0o755, "-rw-r--r--": 0o644}

MENU = """default\t\t0
timeout\t\t5

title\t\tDebian GNU/Linux, kernel 6.1.0-26-amd64
root\t\t(hd0,0)
kernel\t\t/boot/vmlinuz-6.1.0-26-amd64 root=/dev/xvda1 ro

title\t\tDebian GNU/Linux, kernel 6.1.0-25-amd64
root\t\t(hd0,0)
kernel\t\t/boot/vmlinuz-6.1.0-25-amd64 root=/dev/xvda1 ro
"""

# a private mount namespace (as root; otherwise in a user namespace mapped to root)
UNSHARE = ["unshare", "--mount"] + ([] if os.geteuid() == 0 else ["--map-root-user"])

FAKE = """#!/bin/sh
echo "$(basename "$0") $*" >> "{log}"
"""


class Contents(unittest.TestCase):
    def test_file_list_and_modes(self):
        listing = {}
        for line in out("dpkg-deb", "--contents", deb()).splitlines():
            f = line.split()
            listing[f[5]] = f[0]
        for path, mode in SHIPPED.items():
            self.assertIn(path, listing, f"{path} is not in the package")
            self.assertEqual(MODES.get(listing[path]), mode, f"{path} is {listing[path]}")
        others = [p for p, m in listing.items() if not m.startswith("d") and p not in SHIPPED]
        self.assertEqual(others, [], "files nobody asked for")

    def test_conffiles(self):
        d = os.path.join(WORK, "control")
        subprocess.run(["dpkg-deb", "--control", deb(), d], check=True)
        conffiles = open(os.path.join(d, "conffiles")).read().split()
        self.assertIn("/etc/kernelkeeper.conf", conffiles)
        self.assertIn("/etc/kernel/postinst.d/zzz-kernelkeeper", conffiles)

    def test_depends_has_libcurl4_and_shlibs(self):
        depends = out("dpkg-deb", "--field", deb(), "Depends")
        names = [d.strip().split()[0] for d in depends.split(",")]
        self.assertIn("libcurl4", names, depends)  # dlopen()ed: shlibs cannot see it
        for lib in ("libc6", "libjansson4", "libsystemd0"):
            self.assertIn(lib, names, depends)
        self.assertEqual(out("dpkg-deb", "--field", deb(), "Architecture").strip(),
                         out("dpkg", "--print-architecture").strip())

    def test_catalog_dir_is_watched_by_systemd(self):
        # journalctl --update-catalog comes from systemd's own file trigger on this directory
        triggers = "/var/lib/dpkg/info/systemd.triggers"
        if not os.path.exists(triggers):
            self.skipTest("systemd is not installed here")
        self.assertIn("interest-noawait /usr/lib/systemd/catalog", open(triggers).read())

    def test_lintian_clean(self):
        p = subprocess.run(["lintian", "--display-info", deb()], capture_output=True, text=True, timeout=300)
        tags = [ln for ln in (p.stdout + p.stderr).splitlines() if ln[:2] in ("E:", "W:", "I:", "X:")]
        for t in tags:
            print("# lintian: " + t, flush=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual([t for t in tags if t[:2] in ("E:", "W:")], [],
                         "fix each warning or override it with a reason in debian/kernelkeeper.lintian-overrides")


class Lifecycle(unittest.TestCase):
    """install -> pin -> upgrade -> remove -> purge, dpkg running the real maintainer scripts."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="lifecycle-", dir=WORK)
        self.root = os.path.join(self.dir, "root")
        for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "var/log", "etc"):
            os.makedirs(os.path.join(self.root, d))
        open(os.path.join(self.root, "var/lib/dpkg/status"), "w").close()
        self.log = os.path.join(self.dir, "calls.log")
        open(self.log, "w").close()
        self.bin = os.path.join(self.dir, "bin")
        os.makedirs(self.bin)
        for name in ("systemctl", "deb-systemd-invoke"):
            with open(os.path.join(self.bin, name), "w") as f:
                f.write(FAKE.format(log=self.log))
            os.chmod(os.path.join(self.bin, name), 0o755)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def p(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def calls(self):
        """The systemctl/deb-systemd-invoke calls since the last look."""
        with open(self.log) as f:
            lines = f.read().splitlines()
        open(self.log, "w").close()
        return lines

    def dpkg(self, *args):
        env = dict(os.environ, PATH=self.bin + ":/usr/sbin:/usr/bin:/sbin:/bin")
        script = ('mount -t tmpfs kk-run /run && mkdir -p /run/systemd/system && exec dpkg "$@"')
        cmd = UNSHARE + ["sh", "-c", script, "dpkg", f"--root={self.root}", "--force-not-root",
               "--force-script-chrootless", "--force-depends", "--force-unsafe-io", *args]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(p.returncode, 0, f"dpkg {' '.join(args)}:\n{p.stdout}{p.stderr}")
        return p

    def status(self):
        p = subprocess.run(["dpkg-query", f"--admindir={self.p('/var/lib/dpkg')}", "-W",
                            "-f=${Status} ${Version}", "kernelkeeper"], capture_output=True, text=True)
        return p.stdout.strip()

    def kk(self, *args):
        """The kernelkeeper the package installed, acting on the root."""
        return subprocess.run([self.p("/usr/sbin/kernelkeeper"), "--root", self.root, *args],
                              capture_output=True, text=True, timeout=60)

    def upgrade_deb(self):
        """The same package as version 0.1.0+kktest1 (repacked, so an upgrade changes the version)."""
        d = os.path.join(self.dir, "v2")
        subprocess.run(["dpkg-deb", "-R", deb(), d], check=True)
        control = os.path.join(d, "DEBIAN", "control")
        text = open(control).read()
        version = out("dpkg-deb", "--field", deb(), "Version").strip()
        with open(control, "w") as f:
            f.write(text.replace(f"Version: {version}\n", f"Version: {version}+kktest1\n"))
        v2 = os.path.join(self.dir, "kernelkeeper_v2.deb")
        subprocess.run(["dpkg-deb", "--root-owner-group", "-b", d, v2], check=True, capture_output=True)
        return v2, version + "+kktest1"

    def test_install_upgrade_remove_purge(self):
        v2, v2_version = self.upgrade_deb()
        wants = self.p("/etc/systemd/system/multi-user.target.wants")

        # install: both units enabled, only the guardian started
        self.dpkg("-i", deb())
        self.assertTrue(self.status().startswith("install ok installed"), self.status())
        for unit in ("kernelkeeper.service", "kernelkeeper-userdata.service"):
            self.assertTrue(os.path.islink(os.path.join(wants, unit)), f"{unit} not enabled")
        self.assertTrue(os.path.islink(self.p("/etc/systemd/system/sysinit.target.wants/kernelkeeper-boot.service")),
                        "kernelkeeper-boot.service not enabled")
        calls = self.calls()
        self.assertIn("deb-systemd-invoke start kernelkeeper.service", calls)
        self.assertFalse([c for c in calls if "userdata" in c and "invoke" in c],
                         f"a package operation must never start or stop the user-data unit: {calls}")
        self.assertTrue(os.path.isfile(self.p("/etc/kernelkeeper.conf")))

        # the installed binary pins a kernel; the admin edits the configuration; user-data logs exist
        os.makedirs(self.p("/boot/grub"))
        with open(self.p("/boot/grub/menu.lst"), "w") as f:
            f.write(MENU)
        for k in ("/boot/vmlinuz-6.1.0-26-amd64", "/boot/vmlinuz-6.1.0-25-amd64"):
            with open(self.p(k), "wb") as f:
                f.write(b"\x7fkernel image")
        r = self.kk("pin", "--default", "release=6.1.0-25-amd64")
        self.assertEqual(r.returncode, 0, r.stderr)
        state = open(self.p("/var/lib/kernelkeeper/state.json"), "rb").read()
        with open(self.p("/etc/kernelkeeper.conf"), "a") as f:
            f.write("# edited by the administrator\n")
        conf = open(self.p("/etc/kernelkeeper.conf")).read()
        os.makedirs(self.p("/var/log/kernelkeeper"), mode=0o700)
        open(self.p("/var/log/kernelkeeper/userdata-i-1-1.log"), "w").close()

        # upgrade: the pin (state) untouched, the guardian restarted, the conffile edit kept
        self.dpkg("-i", v2)
        self.assertEqual(self.status(), f"install ok installed {v2_version}")
        calls = self.calls()
        self.assertIn("deb-systemd-invoke restart kernelkeeper.service", calls)
        self.assertFalse([c for c in calls if "userdata" in c and "invoke" in c],
                         f"a package operation must never start or stop the user-data unit: {calls}")
        self.assertEqual(open(self.p("/var/lib/kernelkeeper/state.json"), "rb").read(), state)
        self.assertEqual(open(self.p("/etc/kernelkeeper.conf")).read(), conf)
        r = self.kk("status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("6.1.0-25-amd64", r.stdout)

        # remove: program gone, configuration, state and logs kept
        self.dpkg("-r", "kernelkeeper")
        self.assertTrue(self.status().startswith("deinstall ok config-files"), self.status())
        self.assertFalse(os.path.exists(self.p("/usr/sbin/kernelkeeper")))
        self.assertEqual(open(self.p("/var/lib/kernelkeeper/state.json"), "rb").read(), state)
        self.assertTrue(os.path.exists(self.p("/var/log/kernelkeeper/userdata-i-1-1.log")))
        self.assertEqual(open(self.p("/etc/kernelkeeper.conf")).read(), conf)

        # purge: configuration, state, logs and the units' enablement gone
        self.dpkg("-P", "kernelkeeper")
        self.assertEqual(self.status(), "")
        for gone in ("/var/lib/kernelkeeper", "/var/log/kernelkeeper", "/etc/kernelkeeper.conf",
                     "/etc/systemd/system/multi-user.target.wants/kernelkeeper.service",
                     "/etc/systemd/system/multi-user.target.wants/kernelkeeper-userdata.service"):
            self.assertFalse(os.path.lexists(self.p(gone)), f"{gone} is still there after purge")
        self.assertTrue(os.path.exists(self.p("/boot/grub/menu.lst")), "purge must not touch /boot")

    def test_scripts_on_a_systemd_host(self):
        """dpkg --root skips the scripts' stop calls (they test DPKG_ROOT), so here the scripts run
        the way dpkg runs them on a booted system, in dpkg's order, with every systemd helper faked
        (nothing on this machine is touched; the purge branch of postrm is not run)."""
        d = os.path.join(self.dir, "control")
        subprocess.run(["dpkg-deb", "--control", deb(), d], check=True)
        with open(os.path.join(self.bin, "deb-systemd-helper"), "w") as f:
            f.write(FAKE.format(log=self.log))
        os.chmod(os.path.join(self.bin, "deb-systemd-helper"), 0o755)
        version = out("dpkg-deb", "--field", deb(), "Version").strip()
        env = {k: v for k, v in os.environ.items() if k != "DPKG_ROOT"}
        env["PATH"] = self.bin + ":/usr/sbin:/usr/bin:/sbin:/bin"

        def script(name, *args):
            if not os.path.exists(os.path.join(d, name)):
                return []  # dpkg skips a script the package does not have
            cmd = UNSHARE + ["sh", "-c",
                   'mount -t tmpfs kk-run /run && mkdir -p /run/systemd/system && exec sh "$@"',
                   "sh", os.path.join(d, name), *args]
            p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
            self.assertEqual(p.returncode, 0, f"{name} {' '.join(args)}: {p.stdout}{p.stderr}")
            return [c for c in self.calls() if not c.startswith("deb-systemd-helper")]

        # fresh install: the guardian starts, the user-data unit does not run from apt
        self.assertEqual(script("preinst", "install") + script("postinst", "configure", ""),
                         ["systemctl --system daemon-reload", "deb-systemd-invoke start kernelkeeper.service"])
        # upgrade (old prerm, new preinst, new postinst): the guardian restarted, not stopped first;
        # the user-data unit neither stopped nor started (user data often runs apt-get upgrade itself:
        # stopping its unit would kill that very apt)
        calls = (script("prerm", "upgrade", version) + script("preinst", "upgrade", version)
                 + script("postinst", "configure", version))
        self.assertEqual(calls, ["systemctl --system daemon-reload",
                                 "deb-systemd-invoke restart kernelkeeper.service"])
        # remove: the guardian stopped, the user-data unit left alone
        # (postrm reloads once per unit it knows: the guardian, the user-data, the boot and the
        # modules unit)
        self.assertEqual(script("prerm", "remove") + script("postrm", "remove"),
                         ["deb-systemd-invoke stop kernelkeeper.service"] + ["systemctl --system daemon-reload"] * 4)


if __name__ == "__main__":
    kktest.main()

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""`module swap` and `module status` over a fake tree: the Debian release's real dm modules under
ROOT/lib/modules/REL, and the kernel's module calls (init_module, finit_module, delete_module)
replaced by tests/integration/fake-kernel.c (LD_PRELOAD), which keeps ROOT/proc/modules and
ROOT/sys/module/NAME the way the kernel does and fails the calls KK_FAKE_FAIL names. The real
insert/remove is proven in the VM (tests/vm/scenario-module-swap)."""
import gzip
import hashlib
import io
import json
import os
import pathlib
import shutil
import subprocess
import tarfile
import tempfile
import unittest

import http.server
import sys
import threading

import kktest
from kktest import run

# by this file's place: tests/vm/vmlib/modswap.py imports this module outside meson too
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "imds"))
from imds_server import ImdsServer  # noqa: E402
from udtest import BOOT_ID, CONFIG  # noqa: E402
from test_module_check import fixture, strip_signature, sections

SO = os.environ.get("KK_FAKE_KERNEL_SO", "")
MD = "kernel/drivers/md"
EKEYREJECTED = 129


def modinfo(data, key):
    off, size = sections(data)[".modinfo"]
    for s in data[off:off + size].split(b"\0"):
        if s.startswith(key.encode() + b"="):
            return s[len(key) + 1:].decode()
    raise KeyError(key)


def set_srcversion(data, letter):
    """An unsigned copy with a srcversion of its own (Debian's dm modules have none: their author=
    string of .modinfo becomes srcversion=LETTERS, same length): another build of the same source."""
    data = strip_signature(data)
    old = "author=" + modinfo(data, "author")
    new = "srcversion=" + letter * (len(old) - len("srcversion="))
    return data.replace(b"\0" + old.encode() + b"\0", b"\0" + new.encode() + b"\0", 1)


class ModuleSwap(unittest.TestCase):
    def setUp(self):
        (self.old, old_tree), (self.rel, tree) = fixture()
        self.src = pathlib.Path(tree) / "lib" / "modules" / self.rel
        self.old_src = pathlib.Path(old_tree) / "lib" / "modules" / self.old
        self.tmp = tempfile.mkdtemp(prefix="kk-modswap-")
        self.root = pathlib.Path(self.tmp) / "root"
        dst = self.root / "lib" / "modules" / self.rel
        dst.mkdir(parents=True)
        shutil.copy2(self.src / "modules.dep", dst / "modules.dep")
        shutil.copytree(self.src / MD, dst / MD)
        (self.root / "proc" / "sys" / "kernel").mkdir(parents=True)
        (self.root / "proc" / "sys" / "kernel" / "osrelease").write_text(self.rel + "\n")
        (self.root / "proc" / "modules").write_text("")
        (self.root / "sys" / "module").mkdir(parents=True)
        (self.root / "etc").mkdir()
        for name in ("dm-mod", "dm-bufio", "dm-snapshot"):
            self.insmod(dst / MD / f"{name}.ko")
        self.log().unlink()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def env(self, fail=None):
        e = {"LD_PRELOAD": SO, "KK_FAKE_KERNEL": str(self.root),
             "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
        if fail:
            e["KK_FAKE_FAIL"] = fail
        return e

    def insmod(self, path):
        # kmod's own insmod over the same fake kernel
        e = dict(os.environ, **self.env())
        subprocess.run(["insmod", str(path)], check=True, env=e)

    def log(self):
        return self.root / "fake-kernel.log"

    def calls(self):
        return self.log().read_text().splitlines() if self.log().exists() else []

    def loaded(self):
        """{name: srcversion} of the fake kernel's modules."""
        out = {}
        for line in (self.root / "proc" / "modules").read_text().splitlines():
            name = line.split()[0]
            sv = self.root / "sys" / "module" / name / "srcversion"
            out[name] = sv.read_text().strip() if sv.exists() else None
        return out

    def file(self, name, data):
        p = os.path.join(self.tmp, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def stock(self, name="dm-mod"):
        return (self.src / MD / f"{name}.ko").read_bytes()

    def swap(self, *args, code=0, fail=None):
        p = run(str(self.root), "module", "swap", *args, env=self.env(fail))
        self.assertEqual(p.returncode, code, p.stdout + p.stderr)
        return p

    def state(self):
        p = self.root / "var/lib/kernelkeeper/state.json"
        return json.loads(p.read_text()) if p.exists() else {}

    def test_swap_with_dependents(self):
        before = self.loaded()
        new = set_srcversion(self.stock(), "A")
        p = self.swap("dm_mod", "--from", self.file("dm-mod.ko", new))
        self.assertIn("remove dm_snapshot", p.stdout)
        self.assertIn("swapped live", p.stderr)
        # users out first, in dependency order, and back in reverse
        self.assertEqual([c.split(":")[0].rsplit(" ", 1)[0] if c.startswith("insert") else c.split(":")[0]
                          for c in self.calls()],
                         ["remove dm_snapshot", "remove dm_bufio", "remove dm_mod",
                          "insert dm_mod", "insert dm_bufio", "insert dm_snapshot"])
        after = self.loaded()
        self.assertEqual(set(after), set(before))
        self.assertEqual(after["dm_mod"], modinfo(new, "srcversion"))
        self.assertEqual(after["dm_snapshot"], before["dm_snapshot"])
        rec = self.state()["modules"]["active"]["dm_mod"]
        self.assertEqual(rec["outcome"], "swapped")
        self.assertEqual(rec["sha256"], hashlib.sha256(new).hexdigest())
        self.assertTrue(rec["verified"])
        self.assertTrue((self.root / rec["file"].lstrip("/")).is_file())
        st = run(str(self.root), "module", "status", check=0)
        self.assertIn(f"dm_mod: srcversion {modinfo(new, 'srcversion')}", st.stdout)
        self.assertIn("; loaded", st.stdout)
        j = json.loads(run(str(self.root), "--json", "module", "status", check=0).stdout)
        self.assertEqual(j["modules"][0]["name"], "dm_mod")
        self.assertEqual(j["modules"][0]["now"], "loaded")
        # no staging directory is left behind
        self.assertEqual([d for d in os.listdir(self.root / "var/lib/kernelkeeper/modules") if "staging" in d], [])

        # and back to the stock module: the loaded one is kernelkeeper's copy, put back from there if needed
        self.log().unlink()
        self.swap("dm_mod", "--from", str(self.src / MD / "dm-mod.ko"))
        self.assertEqual(self.loaded(), before)

    def test_insert_rejected_restored(self):
        # the kernel's EKEYREJECTED for the new file: the originals go back, the set is as it was
        before = self.loaded()
        new = self.file("dm-mod.ko", self.stock())
        p = self.swap("dm_mod", "--from", new, code=1, fail=f"insert:staging.:{EKEYREJECTED}")
        self.assertIn("the original modules are back", p.stderr)
        self.assertIn("Key was rejected", p.stderr)
        self.assertEqual(self.loaded(), before)
        calls = self.calls()
        self.assertTrue(calls[3].startswith("insert dm_mod"), calls)
        self.assertIn("Key was rejected", calls[3])
        self.assertEqual([c.split()[1] for c in calls[4:]], ["dm_mod", "dm_bufio", "dm_snapshot"])
        rec = self.state()["modules"]["swaps"][-1]
        self.assertEqual(rec["outcome"], "restored")
        self.assertNotIn("dm_mod", self.state()["modules"]["active"])

    def test_dependent_replacement_fails_restored(self):
        # a directory of new modules: dm_mod and dm_snapshot replaced; the new dm_snapshot fails
        before = self.loaded()
        d = os.path.join(self.tmp, "new")
        os.makedirs(d + "/sub")
        self.file("new/dm-mod.ko", self.stock())
        self.file("new/sub/dm-snapshot.ko", self.stock("dm-snapshot"))
        self.file("new/README", b"not a module")
        p = self.swap("dm_mod", "--from", d, code=1, fail="insert:staging.:5")
        self.assertIn("the original modules are back", p.stderr)
        self.assertEqual(self.loaded(), before)

    def test_remove_fails_restored(self):
        before = self.loaded()
        p = self.swap("dm_mod", "--from", self.file("dm-mod.ko", self.stock()), code=1, fail="remove:dm_mod:16")
        self.assertIn("remove dm_mod", p.stderr)
        self.assertIn("the original modules are back", p.stderr)
        self.assertEqual(self.loaded(), before)
        self.assertEqual([c.split(":")[0] for c in self.calls()][:3],
                         ["remove dm_snapshot", "remove dm_bufio", "remove dm_mod"])

    def test_restore_failure_said(self):
        p = self.swap("dm_mod", "--from", self.file("dm-mod.ko", self.stock()), code=1, fail="insert:dm_mod:5")
        self.assertIn("RESTORING THE ORIGINAL MODULES FAILED", p.stderr)
        self.assertEqual(self.state()["modules"]["swaps"][-1]["outcome"], "restore-failed")

    def test_killed_mid_swap_recovered(self):
        # killed after the old modules are out, before the new one is in: the record written before
        # the first step lets the next command put the originals back
        before = self.loaded()
        p = run(str(self.root), "module", "swap", "dm_mod", "--from", self.file("dm-mod.ko", self.stock()),
                env=self.env("kill-insert:staging.:1"))
        self.assertEqual(p.returncode, -9, p.stderr)
        self.assertEqual(self.loaded(), {})
        self.assertEqual(self.state()["modules"]["in_flight"]["name"], "dm_mod")
        st = run(str(self.root), "module", "status", env=self.env())
        self.assertIn("A swap of dm_mod was cut off (dm_snapshot is not loaded)", st.stderr)
        self.log().unlink()
        p = self.swap("dm_mod", "--from", self.file("dm-mod.ko", set_srcversion(self.stock(), "E")))
        self.assertIn("the original modules are back", p.stderr)
        calls = [c.split(":")[0] for c in self.calls()]
        self.assertEqual(calls[:3], ["insert dm_mod -", "insert dm_bufio -", "insert dm_snapshot -"])
        self.assertEqual(set(self.loaded()), set(before))
        self.assertNotIn("in_flight", self.state()["modules"])
        self.assertEqual([s["outcome"] for s in self.state()["modules"]["swaps"]], ["recovered", "swapped"])

    def test_in_use_refused(self):
        before = self.loaded()
        (self.root / "sys/module/dm_mod/refcnt").write_text("4\n")  # 2 users: dm_snapshot, dm_bufio + 2 more
        (self.root / "sys/block/dm-0/dm").mkdir(parents=True)
        (self.root / "sys/block/dm-0/dm/name").write_text("vg-snap\n")
        (self.root / "proc/4242/fd").mkdir(parents=True)
        os.symlink("/dev/mapper/control", self.root / "proc/4242/fd/3")
        (self.root / "proc/4242/comm").write_text("lvm\n")
        p = self.swap("dm_mod", "--from", self.file("dm-mod.ko", self.stock()), code=1)
        self.assertIn("dm_mod is in use, not swapped (nothing changed)", p.stderr)
        self.assertIn("device-mapper device dm-0 (vg-snap)", p.stderr)
        self.assertIn("process 4242 (lvm) has /dev/mapper/control open", p.stderr)
        self.assertIn("dm_mod has 2 references besides the modules using it", p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertEqual(self.calls(), [])
        self.assertEqual(self.loaded(), before)
        self.assertEqual(self.state().get("modules", {}).get("active", {}), {})

    def test_check_refused(self):
        # the other release's dm-mod: the kernel might take it, module check does not
        other = (self.old_src / MD / "dm-mod.ko").read_bytes()
        p = self.swap("dm_mod", "--from", self.file("dm-mod.ko", other), code=1)
        self.assertIn("FAIL       vermagic", p.stdout)
        self.assertIn("NOT safe to load", p.stderr)
        self.assertEqual(self.calls(), [])

    def test_dry_run(self):
        p = self.swap("dm_mod", "--from", self.file("dm-mod.ko", self.stock()), "--dry-run")
        self.assertIn("remove dm_snapshot", p.stdout)
        self.assertRegex(p.stdout, rf"insert dm_snapshot +original /lib/modules/{self.rel}/{MD}/dm-snapshot.ko")
        self.assertEqual(self.calls(), [])
        self.assertEqual(self.state(), {})
        j = json.loads(self.swap("--json", "dm_mod", "--from", self.file("dm-mod.ko", self.stock()),
                                 "--dry-run").stdout)
        self.assertEqual([m["name"] for m in j["modules"]], ["dm_snapshot", "dm_bufio", "dm_mod"])

    def test_tar_and_sha256(self):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as t:
            data = self.stock()
            info = tarfile.TarInfo(f"lib/modules/{self.rel}/{MD}/dm-mod.ko")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
            link = tarfile.TarInfo("evil.ko")
            link.type = tarfile.SYMTYPE
            link.linkname = "/etc/shadow"
            t.addfile(link)
        tgz = self.file("modules.tgz", buf.getvalue())
        p = self.swap("dm_mod", "--from", tgz, "--sha256", "0" * 64, code=1)
        self.assertIn("has sha256", p.stderr)
        self.assertEqual(self.calls(), [])
        self.swap("dm_mod", "--from", tgz, "--sha256", hashlib.sha256(buf.getvalue()).hexdigest())
        self.assertEqual(self.state()["modules"]["active"]["dm_mod"]["outcome"], "swapped")
        # a damaged archive: one line, nothing changed
        self.log().unlink()
        p = self.swap("dm_mod", "--from", self.file("bad.tgz", gzip.compress(b"x" * 512 + b"\1" * 600)), code=1)
        self.assertIn("not a tar archive", p.stderr)
        self.assertEqual(self.calls(), [])
        # the one safe tar reader: a member climbing out is refused, not skipped
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:xz") as t:
            info = tarfile.TarInfo("../dm-mod.ko")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        p = self.swap("dm_mod", "--from", self.file("up.tar.xz", buf.getvalue()), code=1)
        self.assertIn("unsafe name", p.stderr)
        self.assertEqual(self.calls(), [])

    def test_not_loaded_is_loaded(self):
        # nothing loaded (the fake kernel's tables emptied)
        (self.root / "proc/modules").write_text("")
        shutil.rmtree(self.root / "sys/module")
        (self.root / "sys/module").mkdir()
        self.swap("dm_mod", "--from", self.file("dm-mod.ko", self.stock()))
        self.assertEqual(list(self.loaded()), ["dm_mod"])

    def test_stale_loaded_refused(self):
        (self.root / "sys/module/dm_mod/srcversion").write_text("0123456789ABCDEF0123456\n")
        p = self.swap("dm_mod", "--from", self.file("dm-mod.ko", self.stock()), code=1)
        self.assertIn("The loaded dm_mod is not the installed file", p.stderr)
        self.assertEqual(self.calls(), [])

    def test_persist(self):
        new = set_srcversion(self.stock(), "B")
        self.swap("dm_mod", "--from", self.file("dm-mod.ko", new), "--persist")
        upd = self.root / "lib/modules" / self.rel / "updates/dm-mod.ko"
        self.assertEqual(upd.read_bytes(), new)
        dep = (self.root / "lib/modules" / self.rel / "modules.dep").read_text()
        self.assertIn("updates/dm-mod.ko:", dep)
        rec = self.state()["modules"]["persisted"]["dm_mod"]
        self.assertEqual(rec["persisted"]["file"], f"/lib/modules/{self.rel}/updates/dm-mod.ko")
        st = run(str(self.root), "module", "status", check=0)
        self.assertIn("persisted as", st.stdout)

    def test_persist_tool_stdout(self):
        # the tools kernelkeeper runs may write to stdout (update-initramfs echoes, under set -e):
        # their stdout is /dev/null opened for writing. A depmod that says something first:
        bindir = pathlib.Path(self.tmp) / "bin"
        bindir.mkdir()
        real = shutil.which("depmod") or "/sbin/depmod"
        (bindir / "depmod").write_text(f"#!/bin/sh\nset -e\necho depmod: chatty\nexec {real} \"$@\"\n")
        (bindir / "depmod").chmod(0o755)
        env = self.env()
        env["PATH"] = f"{bindir}:{os.environ['PATH']}"
        new = set_srcversion(self.stock(), "G")
        p = run(str(self.root), "module", "swap", "dm_mod", "--from", self.file("dm-mod.ko", new), "--persist", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("depmod for", p.stderr)
        self.assertIn("updates/dm-mod.ko:", (self.root / "lib/modules" / self.rel / "modules.dep").read_text())

    def test_persist_initramfs(self):
        # the release's initramfs carries dm-mod (lsinitramfs says so): under --root kernelkeeper cannot
        # rebuild another system's initramfs and says what to run; a missing lsinitramfs is a warning
        (self.root / "boot").mkdir()
        (self.root / "boot" / f"initrd.img-{self.rel}").write_bytes(b"initrd")
        bindir = pathlib.Path(self.tmp) / "bin"
        bindir.mkdir()
        (bindir / "lsinitramfs").write_text(
            f"#!/bin/sh\necho usr/lib/modules/{self.rel}/kernel/drivers/md/dm-mod.ko.xz\n")
        (bindir / "lsinitramfs").chmod(0o755)
        env = self.env()
        env["PATH"] = f"{bindir}:{os.environ['PATH']}"
        new = set_srcversion(self.stock(), "F")
        p = run(str(self.root), "module", "swap", "dm_mod", "--from", self.file("dm-mod.ko", new), "--persist", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(f"carries dm_mod: run update-initramfs -u -k {self.rel}", p.stderr)
        self.assertTrue(self.state()["modules"]["persisted"]["dm_mod"]["persisted"]["initramfs"])

    def test_verify_persisted(self):
        new = set_srcversion(self.stock(), "C")
        self.swap("dm_mod", "--from", self.file("dm-mod.ko", new), "--persist")
        moddir = self.root / "lib/modules" / self.rel
        p = run(str(self.root), "module", "verify-persisted", check=0)
        self.assertIn("passes module check on " + self.rel, p.stderr)
        # booted the other release: the swap was persisted for one release only
        (self.root / "proc/sys/kernel/osrelease").write_text(self.old + "\n")
        p = run(str(self.root), "module", "verify-persisted", check=0)
        self.assertIn(f"is for {self.rel}; the booted kernel is {self.old}: not used", p.stderr)
        # the same release rebuilt: the persisted file no longer matches (here: another build's module)
        (self.root / "proc/sys/kernel/osrelease").write_text(self.rel + "\n")
        shutil.copy2(self.old_src / MD / "dm-mod.ko", moddir / "updates/dm-mod.ko")
        p = run(str(self.root), "module", "verify-persisted", check=0)
        self.assertIn("fails module check on " + self.rel, p.stderr)
        self.assertIn("vermagic", p.stderr)
        self.assertIn("moved aside", p.stderr)
        self.assertFalse((moddir / "updates/dm-mod.ko").exists())
        self.assertTrue((moddir / "updates/dm-mod.ko.kk-stale").exists())
        self.assertNotIn("updates/dm-mod.ko", (moddir / "modules.dep").read_text())
        self.assertIn("stale", self.state()["modules"]["persisted"]["dm_mod"])
        p = run(str(self.root), "module", "verify-persisted", check=0)
        self.assertEqual(p.stderr, "")

    def test_verify_persisted_stale_initramfs(self):
        # a kernel package's postinst rebuilt the initramfs with the persisted copy in it: when that
        # copy turns out stale it is moved aside and the initramfs must be refreshed too (under
        # --root: what to run is said)
        new = set_srcversion(self.stock(), "E")
        self.swap("dm_mod", "--from", self.file("dm-mod.ko", new), "--persist")
        moddir = self.root / "lib/modules" / self.rel
        (self.root / "boot").mkdir()
        (self.root / "boot" / f"initrd.img-{self.rel}").write_bytes(b"initrd")
        bindir = pathlib.Path(self.tmp) / "bin"
        bindir.mkdir()
        (bindir / "lsinitramfs").write_text(f"#!/bin/sh\necho usr/lib/modules/{self.rel}/updates/dm-mod.ko\n")
        (bindir / "lsinitramfs").chmod(0o755)
        env = self.env()
        env["PATH"] = f"{bindir}:{os.environ['PATH']}"
        p = run(str(self.root), "module", "verify-persisted", check=0, env=env)
        self.assertIn("passes module check", p.stderr)
        self.assertNotIn("update-initramfs", p.stderr)
        shutil.copy2(self.old_src / MD / "dm-mod.ko", moddir / "updates/dm-mod.ko")
        p = run(str(self.root), "module", "verify-persisted", check=0, env=env)
        self.assertIn("moved aside", p.stderr)
        self.assertIn(f"carries dm_mod: run update-initramfs -u -k {self.rel}", p.stderr)

    def serve_files(self, files):
        """An http server on 127.0.0.1 with {path: bytes}; returns its base URL."""
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(h):
                data = files.get(h.path.split("?")[0])
                h.send_response(200 if data is not None else 404)
                h.send_header("Content-Length", str(len(data or b"")))
                h.end_headers()
                h.wfile.write(data or b"")

            def log_message(h, *a):
                pass
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.shutdown)
        return f"http://127.0.0.1:{srv.server_address[1]}"

    def test_directive(self):
        new = set_srcversion(self.stock(), "D")
        files = {"/m/dm-mod.ko": new}
        base = self.serve_files(files)
        (self.root / "etc/kernelkeeper.conf").write_text(CONFIG.format(
            timeout=20, request_timeout=1000, script_timeout=30, metadata_extra="", userdata_extra=""))
        (self.root / "proc/sys/kernel/random").mkdir(parents=True)
        (self.root / "proc/sys/kernel/random/boot_id").write_text(BOOT_ID + "\n")
        directive = {"modules": {"swap": [
            {"name": "dm_mod", "url": base + "/m/dm-mod.ko?X-Amz-Signature=secret",
             "sha256": hashlib.sha256(new).hexdigest()},
            {"name": "dm_mod", "url": base + "/m/missing.ko", "sha256": "0" * 64}]}}
        imds = ImdsServer()
        imds.configure(user_data=("#kernelkeeper\n" + json.dumps(directive)).encode())
        imds.start()
        self.addCleanup(imds.stop)
        p = run(str(self.root), "userdata", "run", "--metadata-url", imds.url, env=self.env())
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertEqual(self.loaded()["dm_mod"], "D" * len(self.loaded()["dm_mod"]))
        rec = next(iter(self.state()["userdata"]["runs"].values()))
        self.assertEqual(rec["status"], "failed")
        self.assertIn("modules.swap[1] (dm_mod)", rec["note"])
        self.assertIn("HTTP status 404", rec["note"])
        self.assertEqual([m["outcome"] for m in rec["modules"]], ["swapped", "refused"])
        self.assertEqual(rec["modules"][0]["from"], base + "/m/dm-mod.ko")
        self.assertNotIn("secret", json.dumps(self.state()) + p.stderr)
        # once per instance: a second run does not swap again
        self.log().unlink()
        run(str(self.root), "userdata", "run", "--metadata-url", imds.url, env=self.env())
        self.assertEqual(self.calls(), [])
        # and nothing downloaded is left behind
        self.assertEqual([f for f in os.listdir(self.root / "var/lib/kernelkeeper/modules")
                          if f.startswith(("download", "staging"))], [])

    def test_signature_verified(self):
        # the kernel's own certificates, from its image (--cert auto) or a file
        (self.root / "boot").mkdir()
        shutil.copy2(self.src.parent.parent.parent / "boot" / f"vmlinuz-{self.rel}", self.root / "boot")
        good = self.file("dm-mod.ko", self.stock())
        p = run(str(self.root), "module", "check", good, "--kernel", self.rel, "--cert", "auto", check=0)
        self.assertIn("signature verified (/CN=", p.stdout)
        bad = bytearray(self.stock())
        off, size = sections(self.stock())[".text"]
        bad[off + size // 2] ^= 1
        os.makedirs(os.path.join(self.tmp, "bad"))
        badf = self.file("bad/dm-mod.ko", bytes(bad))
        p = run(str(self.root), "module", "check", badf, "--kernel", self.rel, "--cert", "auto", check=1)
        self.assertIn("FAIL       signature", p.stdout)
        self.assertIn("does NOT match the module's bytes", p.stdout)
        j = json.loads(run(str(self.root), "--json", "module", "check", badf, "--kernel", self.rel, "--cert", "auto",
                           check=1).stdout)
        sig = [f for f in j["findings"] if f["name"] == "signature"][0]
        self.assertEqual((sig["verified"], sig["verification"]), (False, "bad"))
        # without the certificate: not verified, and it says so (swap then meets the kernel's refusal)
        p = run(str(self.root), "module", "check", badf, "--kernel", self.rel, check=0)
        self.assertIn("signature not verified", p.stdout)
        # swap refuses it before anything is unloaded
        p = self.swap("dm_mod", "--from", badf, "--cert", "auto", code=1)
        self.assertIn("NOT safe to load", p.stderr)
        self.assertEqual(self.calls(), [])
        # a certificate that signed nothing here; a file with no certificate
        if shutil.which("openssl"):
            key = os.path.join(self.tmp, "other.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", key,
                            "-subj", "/CN=other", "-days", "1"], check=True, capture_output=True)
            p = run(str(self.root), "module", "check", good, "--kernel", self.rel, "--cert", key, check=0)
            self.assertIn("signed by none of the 1 certificates given", p.stdout)
        p = run(str(self.root), "module", "check", good, "--kernel", self.rel, "--cert", self.file("junk", b"x" * 99),
                check=1)
        self.assertIn("holds no X.509 certificate", p.stderr)
        self.assertEqual(len(p.stderr.splitlines()), 1)

    def test_libraries_loaded_on_first_use(self):
        # the guardian daemon never reads a module: libkmod and libcrypto are dlopen()ed, not linked
        out = subprocess.run(["ldd", kktest.BINARY], capture_output=True, text=True, check=True).stdout
        for lib in ("libkmod", "libcrypto", "libcurl"):
            self.assertNotIn(lib, out)

    def test_usage(self):
        for args in (["dm_mod"], ["dm_mod", "--from"], ["bad/name", "--from", "/x"],
                     ["dm_mod", "--from", "/x", "--sha256", "zz"]):
            p = run(str(self.root), "module", "swap", *args, env=self.env())
            self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        p = run(str(self.root), "module", "check", "/x", "--persist")
        self.assertEqual(p.returncode, 2)


if __name__ == "__main__":
    kktest.main()

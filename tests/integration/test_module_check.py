#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""`module check` against real Debian kernel modules: two releases' trees from the VM harness's
package cache (tests/modules/fixture.py), put under a temporary --root as ROOT/lib/modules/REL.
Without the fixture these tests fail; KK_SKIP_MODULE_FIXTURE=1 skips them explicitly."""
import gzip
import json
import os
import pathlib
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

import kktest
from kktest import run

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "modules"))

MARKER = b"~Module signature appended~\n"
DM_MOD = "kernel/drivers/md/dm-mod.ko"

_trees = None
_error = None


def fixture():
    """[(release, tree)] older first, fetched once per run."""
    global _trees, _error
    if _trees is None and _error is None:
        try:
            import fixture as fx
            _trees = fx.trees()
            if len(_trees) != 2:
                raise RuntimeError(f"need two releases, got {_trees}")
        except Exception as e:
            _error = f"{type(e).__name__}: {e}"
    if _error:
        if os.environ.get("KK_SKIP_MODULE_FIXTURE") == "1":
            raise unittest.SkipTest(f"KK_SKIP_MODULE_FIXTURE=1 and no module fixture ({_error})")
        raise AssertionError(f"the Debian kernel module fixture cannot be had: {_error} "
                             "(set KK_SKIP_MODULE_FIXTURE=1 to skip these tests explicitly)")
    return _trees


def sections(data):
    """{name: (offset, size)} of an ELF64 little-endian file (a signed module's image)."""
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
    hdrs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    stroff = hdrs[shstrndx][4]
    out = {}
    for h in hdrs:
        end = data.index(b"\0", stroff + h[0])
        out[data[stroff + h[0]:end].decode()] = (h[4], h[5])
    return out


def strip_signature(data):
    """The module without its trailing signature block (what an unsigned build looks like)."""
    assert data.endswith(MARKER)
    desc = data[-len(MARKER) - 12:-len(MARKER)]
    sig_len, = struct.unpack(">I", desc[8:12])
    return data[:len(data) - len(MARKER) - 12 - sig_len - desc[3] - desc[4]]


def set_vermagic(data, new):
    """Replaces the vermagic= string in .modinfo by `new`, padded with NULs to the same length."""
    off, size = sections(data)[".modinfo"]
    info = data[off:off + size]
    start = info.index(b"vermagic=")
    end = info.index(b"\0", start)
    repl = b"vermagic=" + new.encode()
    assert len(repl) <= end - start
    info = info[:start] + repl + b"\0" * (end - start - len(repl)) + info[end:]
    return data[:off] + info + data[off + size:]


def versions(data):
    off, size = sections(data)["__versions"]
    out = []
    for i in range(size // 64):
        crc, = struct.unpack_from("<Q", data, off + 64 * i)
        name = data[off + 64 * i + 8:off + 64 * i + 64].split(b"\0")[0].decode()
        out.append((name, crc, off + 64 * i))
    return out


def set_crc(data, symbol, crc):
    for name, _, at in versions(data):
        if name == symbol:
            return data[:at] + struct.pack("<Q", crc) + data[at + 8:]
    raise KeyError(symbol)


def findings(stdout):
    """{finding: (VERDICT, message)} from the text output."""
    out = {}
    for line in stdout.splitlines():
        words = line.split(None, 2)
        if len(words) == 3 and words[0] in ("pass", "FAIL", "UNVERIFIED"):
            out[words[1]] = (words[0], words[2])
    return out


class ModuleCheck(unittest.TestCase):
    def setUp(self):
        (self.old, old_tree), (self.new, new_tree) = fixture()
        self.trees = {self.old: old_tree, self.new: new_tree}
        self.tmp = tempfile.mkdtemp(prefix="kk-modcheck-")
        self.root = os.path.join(self.tmp, "root")
        for rel, tree in self.trees.items():
            self.install(rel, tree)

    def install(self, rel, tree, root=None, dirs=("kernel/drivers/md",)):
        src = pathlib.Path(tree) / "lib" / "modules" / rel
        dst = pathlib.Path(root or self.root) / "lib" / "modules" / rel
        dst.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / "modules.dep", dst / "modules.dep")
        for d in dirs:
            shutil.copytree(src / d, dst / d, dirs_exist_ok=True)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def module(self, rel, path=DM_MOD):
        return (pathlib.Path(self.trees[rel]) / "lib" / "modules" / rel / path).read_bytes()

    def write(self, name, data):
        p = os.path.join(self.tmp, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def check(self, path, rel, code, root=None, *extra):
        p = run(root or self.root, "module", "check", path, "--kernel", rel, *extra)
        self.assertEqual(p.returncode, code, p.stdout + p.stderr)
        return p

    def test_same_release_passes(self):
        for rel in (self.old, self.new):
            p = self.check(self.write(f"dm-mod-{rel}.ko", self.module(rel)), rel, 0)
            f = findings(p.stdout)
            self.assertEqual(sorted(f), ["crcs", "depends", "elf", "name", "signature", "vermagic"])
            self.assertTrue(all(v == "pass" for v, _ in f.values()), p.stdout)
            self.assertIn("signature not verified", f["signature"][1])
            self.assertIn("sha256", f["signature"][1])
            self.assertEqual(p.stderr, "")

    def test_other_release_refused(self):
        # The real dm-mod.ko of the other release: refused, naming both releases. (Its CRCs differ
        # too, 6.1.0-50 and later ABIs being different builds, so the kernel would refuse it on
        # module_layout as well; for the release part alone see test_release_only_refused.)
        p = self.check(self.write("dm-mod-other.ko", self.module(self.old)), self.new, 1)
        f = findings(p.stdout)
        self.assertEqual(f["vermagic"][0], "FAIL")
        self.assertIn(f"built for release {self.old}, not {self.new}", f["vermagic"][1])
        self.assertEqual(f["crcs"][0], "FAIL")
        self.assertIn("NOT safe to load", p.stdout)

    def test_release_only_refused(self):
        # The new release's own dm-mod, unsigned, with only the release in its vermagic changed
        # (same length). The kernel ACCEPTS this module: same_magic() skips the release when the
        # module carries CRCs (measured in a Debian 6.1 guest, shared/notes/modules.md). Stricter
        # than the kernel, module check refuses it, and every other finding passes.
        data = strip_signature(self.module(self.new))
        # 6.1.0-57-amd64 -> 6.1.0-99-amd64: same length, so the file keeps its size
        fake = re.sub(r"^(\d+\.\d+\.\d+-)(\d+)", lambda m: m.group(1) + "9" * len(m.group(2)), self.new)
        if fake == self.new:
            fake = fake.replace("9", "8")
        magic = self.vermagic(data).replace(self.new, fake, 1)
        p = self.check(self.write("dm-mod-relabel.ko", set_vermagic(data, magic)), self.new, 1)
        f = findings(p.stdout)
        self.assertEqual(f["vermagic"][0], "FAIL")
        self.assertIn(f"built for release {fake}, not {self.new}", f["vermagic"][1])
        self.assertIn("the kernel itself skips the release", f["vermagic"][1])
        for name in ("elf", "name", "crcs", "depends", "signature"):
            self.assertEqual(f[name][0], "pass", p.stdout)

    def vermagic(self, data):
        off, size = sections(data)[".modinfo"]
        for s in data[off:off + size].split(b"\0"):
            if s.startswith(b"vermagic="):
                return s[len("vermagic="):].decode()
        raise KeyError("vermagic")

    def test_flag_changed_refused(self):
        # A build of the same release without CONFIG_PREEMPT(_DYNAMIC) has no "preempt" flag: the
        # kernel refuses that too ("version magic ... should be ...").
        data = self.module(self.new)
        magic = self.vermagic(data)
        self.assertIn(" preempt ", magic)
        path = self.write("dm-mod-nopreempt.ko", set_vermagic(data, magic.replace("preempt ", "")))
        p = self.check(path, self.new, 1)
        f = findings(p.stdout)
        self.assertEqual(f["vermagic"][0], "FAIL")
        self.assertIn(f"flags of {self.new} missing: 'preempt'", f["vermagic"][1])
        self.assertNotIn("built for release", f["vermagic"][1])
        j = json.loads(self.check(path, self.new, 1, None, "--json").stdout)
        vm = next(x for x in j["findings"] if x["name"] == "vermagic")
        self.assertEqual(vm["flags_missing"], ["preempt"])
        self.assertFalse(vm["release_differs"])

    def test_crc_changed_refused(self):
        data = self.module(self.new)
        syms = [n for n, _, _ in versions(data)]
        self.assertIn("module_layout", syms)
        other = next(s for s in syms if s != "module_layout")
        for sym in ("module_layout", other):
            crc = next(c for n, c, _ in versions(data) if n == sym)
            p = self.check(self.write(f"dm-mod-crc-{sym}.ko", set_crc(data, sym, crc ^ 0x1)), self.new, 1)
            f = findings(p.stdout)
            self.assertEqual(f["crcs"][0], "FAIL", p.stdout)
            self.assertIn(f"1 of {len(syms)} symbol CRCs differ", f["crcs"][1])
            self.assertIn(f" {sym} (module 0x{crc ^ 1:08x}, {self.new} 0x{crc:08x})", f["crcs"][1])
            self.assertEqual(f["vermagic"][0], "pass")

    def test_unsigned_and_enforcement(self):
        path = self.write("dm-mod-unsigned.ko", strip_signature(self.module(self.new)))
        p = self.check(path, self.new, 0)
        self.assertIn("unsigned (signatures are not enforced", findings(p.stdout)["signature"][1])
        enforce = pathlib.Path(self.root, "sys/module/module/parameters/sig_enforce")
        enforce.parent.mkdir(parents=True)
        enforce.write_text("N\n")
        self.check(path, self.new, 0)
        enforce.write_text("Y\n")
        p = self.check(path, self.new, 1)
        verdict, msg = findings(p.stdout)["signature"]
        self.assertEqual(verdict, "FAIL")
        self.assertIn("unsigned, and the target enforces signatures (/sys/module/module/parameters/sig_enforce is Y)", msg)
        # the signed original still passes under enforcement (signature not verified)
        self.check(self.write("dm-mod.ko", self.module(self.new)), self.new, 0)
        # a module signed with another build's key is refused under enforcement
        p = self.check(self.write("dm-mod-old.ko", self.module(self.old)), self.new, 1)
        self.assertIn(f"not the key {self.new}'s modules are signed with, and the target enforces",
                      findings(p.stdout)["signature"][1])
        enforce.write_text("N\n")
        lockdown = pathlib.Path(self.root, "sys/kernel/security/lockdown")
        lockdown.parent.mkdir(parents=True)
        lockdown.write_text("none [integrity] confidentiality\n")
        p = self.check(path, self.new, 1)
        self.assertIn("kernel lockdown (integrity)", findings(p.stdout)["signature"][1])
        lockdown.write_text("[none] integrity confidentiality\n")
        self.check(path, self.new, 0)

    def one_error(self, p, expect):
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn(expect, lines[0])
        self.assertEqual(p.stdout, "")

    def test_bad_input_one_line(self):
        data = self.module(self.new)
        image = strip_signature(data)
        cases = {
            "half.ko": (data[:len(data) // 2], "is truncated or corrupt"),
            "cut-signature.ko": (data[:-5], "is truncated or corrupt"),
            "cut-image.ko": (image[:-100], "is truncated or corrupt"),
            "empty.ko": (b"", "not an ELF file"),
            "text.ko": (b"#!/bin/sh\necho not a module\n", "not an ELF file"),
            "bad.ko.xz": (subprocess.run(["xz", "-c"], input=data, capture_output=True, check=True).stdout[:4000],
                          "is truncated or corrupt"),
        }
        for name, (content, expect) in cases.items():
            with self.subTest(name):
                self.one_error(run(self.root, "module", "check", self.write(name, content), "--kernel", self.new),
                               expect)
        self.one_error(run(self.root, "module", "check", os.path.join(self.tmp, "missing.ko"), "--kernel", self.new),
                       "No such file or directory")
        self.one_error(run(self.root, "module", "check", self.write("ok.ko", data), "--kernel", "9.9.9-nope"),
                       "Unknown kernel release '9.9.9-nope'")
        # with --json, a failed check prints its error as the one JSON object (cli_print_json)
        p = run(self.root, "module", "check", self.write("text.ko", b"text"), "--kernel", self.new, "--json")
        self.assertEqual(p.returncode, 1)
        self.assertIn("not an ELF file", json.loads(p.stdout)["error"])
        # a relocatable ELF object that is not a module
        obj = self.write("x.c", b"int x;\n")
        if shutil.which("cc"):
            subprocess.run(["cc", "-c", obj, "-o", obj + ".o"], check=True)
            self.one_error(run(self.root, "module", "check", obj + ".o", "--kernel", self.new), "not a kernel module")
        p = run(self.root, "module", "check", self.write("ok.ko", data))
        self.assertEqual(p.returncode, 2)
        self.assertIn("needs --kernel RELEASE", p.stderr)
        for args in (["module"], ["module", "swap"], ["module", "check"], ["module", "check", "a", "b"],
                     ["module", "check", "a", "--title", "x"]):
            p = run(self.root, *args)
            self.assertEqual(p.returncode, 2, args)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)

    def test_compressed(self):
        data = self.module(self.new)
        for tool, suffix in (("xz", ".ko.xz"), ("zstd", ".ko.zst")):
            packed = subprocess.run([tool, "-c"], input=data, capture_output=True, check=True).stdout
            p = self.check(self.write("dm-mod" + suffix, packed), self.new, 0)
            self.assertIn(f"({tool}-compressed)", findings(p.stdout)["elf"][1])
        packed = subprocess.run(["xz", "-c"], input=self.module(self.old), capture_output=True, check=True).stdout
        p = self.check(self.write("dm-mod-old.ko.xz", packed), self.new, 1)
        self.assertEqual(findings(p.stdout)["vermagic"][0], "FAIL")

    def test_json(self):
        p = self.check(self.write("dm-mod-old.ko", self.module(self.old)), self.new, 1, None, "--json")
        j = json.loads(p.stdout)
        self.assertEqual(j["module"], "dm_mod")
        self.assertEqual(j["release"], self.new)
        self.assertFalse(j["safe"])
        by = {f["name"]: f for f in j["findings"]}
        self.assertEqual(list(by), ["elf", "name", "vermagic", "crcs", "depends", "signature"])
        self.assertTrue(by["vermagic"]["release_differs"])
        crcs = by["crcs"]
        self.assertEqual(crcs["verdict"], "fail")
        self.assertGreater(len(crcs["mismatches"]), 10)  # all of them, not the text's first ten
        self.assertEqual(crcs["mismatches"][0]["source"], "installed modules")
        self.assertEqual(crcs["mismatches"][0]["from"], DM_MOD)
        sig = by["signature"]
        self.assertTrue(sig["signed"])
        self.assertFalse(sig["verified"])
        self.assertEqual(sig["hash_algorithm"], "sha256")
        self.assertEqual(by["elf"]["machine"], "x86-64")

    def test_depends(self):
        snap = self.module(self.new, "kernel/drivers/md/dm-snapshot.ko")
        p = self.check(self.write("dm-snapshot.ko", snap), self.new, 0)
        self.assertIn("'dm-mod', 'dm-bufio' installed", findings(p.stdout)["depends"][1])
        dep = pathlib.Path(self.root, "lib/modules", self.new, "modules.dep")
        dep.write_text("".join(l for l in dep.read_text().splitlines(True) if not l.startswith("kernel/drivers/md/dm-bufio.ko:")))
        p = self.check(self.write("dm-snapshot.ko", snap), self.new, 1)
        verdict, msg = findings(p.stdout)["depends"]
        self.assertEqual(verdict, "FAIL")
        self.assertIn(f"not installed for {self.new}: 'dm-bufio'", msg)
        # without modules.dep (or before depmod ran: empty), the module files themselves count
        for content in (None, ""):
            if content is None:
                dep.unlink()
            else:
                dep.write_text(content)
            p = self.check(self.write("dm-snapshot.ko", snap), self.new, 0)
            self.assertIn("'dm-mod', 'dm-bufio' installed", findings(p.stdout)["depends"][1])
            self.assertIn(f"/lib/modules/{self.new}/kernel/drivers/md/", findings(p.stdout)["vermagic"][1])
        os.unlink(os.path.join(self.root, "lib/modules", self.new, "kernel/drivers/md/dm-bufio.ko"))
        p = self.check(self.write("dm-snapshot.ko", snap), self.new, 1)
        self.assertEqual(findings(p.stdout)["depends"][0], "FAIL")
        dep.write_text("kernel/drivers/md/dm-mod.ko\n")
        self.one_error(run(self.root, "module", "check", self.write("dm-snapshot.ko", snap), "--kernel", self.new),
                       "modules.dep is corrupt")

    def test_crc_sources_in_order(self):
        # A release whose installed modules (here only dm-zero) import few of dm-mod's symbols:
        # the rest come from /boot/symvers-REL.gz, then Module.symvers; what no source covers is
        # "unverified" (not a pass).
        data = self.module(self.new)
        vers = versions(data)
        root = os.path.join(self.tmp, "sparse")
        dst = pathlib.Path(root, "lib/modules", self.new)
        (dst / "kernel/drivers/md").mkdir(parents=True)
        shutil.copy2(pathlib.Path(self.trees[self.new], "lib/modules", self.new, "kernel/drivers/md/dm-zero.ko"),
                     dst / "kernel/drivers/md/dm-zero.ko")
        (dst / "modules.dep").write_text("kernel/drivers/md/dm-zero.ko:\n")
        path = self.write("dm-mod.ko", data)
        p = self.check(path, self.new, 1, root)
        verdict, msg = findings(p.stdout)["crcs"]
        self.assertEqual(verdict, "UNVERIFIED", p.stdout)
        self.assertIn(f"symbols unverified (imported by no installed module of {self.new}, not in", msg)
        self.assertEqual(findings(p.stdout)["vermagic"][0], "pass")  # read from dm-zero

        half = len(vers) // 2
        line = lambda n, c: f"0x{c:08x}\t{n}\tvmlinux\tEXPORT_SYMBOL\t\n"
        pathlib.Path(root, "boot").mkdir()
        with gzip.open(pathlib.Path(root, "boot", f"symvers-{self.new}.gz"), "wt") as f:
            f.write("".join(line(n, c) for n, c, _ in vers[:half]))
        p = self.check(path, self.new, 1, root, "--json")
        crcs = next(x for x in json.loads(p.stdout)["findings"] if x["name"] == "crcs")
        self.assertEqual(crcs["verdict"], "unverified")
        self.assertGreaterEqual(crcs["sources"]["symvers"], 1)
        self.assertEqual(crcs["sources"]["Module.symvers"], 0)

        hdr = pathlib.Path(root, "usr/src", f"linux-headers-{self.new}")
        hdr.mkdir(parents=True)
        # Module.symvers disagrees on one symbol the symvers.gz already covers: the earlier source wins
        first = vers[0][0]
        (hdr / "Module.symvers").write_text("".join(line(n, c ^ (n == first)) for n, c, _ in vers))
        p = self.check(path, self.new, 0, root, "--json")
        crcs = next(x for x in json.loads(p.stdout)["findings"] if x["name"] == "crcs")
        self.assertEqual(crcs["verdict"], "pass")
        s = crcs["sources"]
        self.assertEqual(s["installed modules"] + s["symvers"] + s["Module.symvers"], len(vers))
        self.assertGreater(s["Module.symvers"], 0)
        # a corrupt symvers is one error line
        (hdr / "Module.symvers").write_text("garbage\n")
        self.one_error(run(root, "module", "check", path, "--kernel", self.new), "symvers file")


if __name__ == "__main__":
    kktest.main()

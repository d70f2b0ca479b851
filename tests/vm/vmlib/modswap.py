"""What the module-swap scenario adds to the guest: the dm modules of both kernel releases under
/lib/modules (with depmod's indexes), kmod's tools (insmod/rmmod/modprobe/depmod: busybox's do not
read .bin indexes nor updates/ first), dmsetup with libdevmapper from Debian packages (fetched into
the cache like the others), and the module files the scenario swaps in: variants of the release's
own dm-mod.ko made on the host."""

import os
import pathlib
import shutil
import subprocess
import sys

from . import cache, guest, testmodule

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "integration"))
from test_module_check import sections, set_crc, set_vermagic, strip_signature, versions  # noqa: E402
from test_module_swap import modinfo, set_srcversion  # noqa: E402

MD = "kernel/drivers/md"
LOOP = "kernel/drivers/block/loop.ko"
KMOD_TOOLS = ("insmod", "rmmod", "modprobe", "depmod", "lsmod", "modinfo")


def install_modules(stage, k):
    """ROOT/lib/modules/REL with the md modules and loop, and depmod's files for them."""
    src = k.tree / "lib" / "modules" / k.release
    dst = pathlib.Path(stage) / "lib" / "modules" / k.release
    shutil.copytree(src / MD, dst / MD)
    (dst / LOOP).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / LOOP, dst / LOOP)
    for f in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
        if (src / f).exists():
            shutil.copy2(src / f, dst / f)
    cache.run(["depmod", "-b", str(stage), k.release], stderr=subprocess.DEVNULL)


def install_tools(stage):
    stage = pathlib.Path(stage)
    guest.install_binary(stage, "/usr/bin/kmod", "bin/kmod")
    for tool in KMOD_TOOLS:
        for d in ("sbin", "bin", "usr/sbin", "usr/bin"):
            link = stage / d / tool
            if link.is_symlink() or link.exists():
                link.unlink()
        (stage / "sbin" / tool).symlink_to("/bin/kmod")
    dmsetup = cache.unpacked("dmsetup") / "sbin" / "dmsetup"
    libdm = cache.unpacked("libdevmapper1.02.1") / "lib" / "x86_64-linux-gnu"
    guest.install_binary(stage, str(dmsetup), "sbin/dmsetup", ld_library_path=str(libdm))


def variants(k, other):
    """{name: bytes} of the dm-mod.ko files the scenario uses."""
    stock = (k.tree / "lib" / "modules" / k.release / MD / "dm-mod.ko").read_bytes()
    theirs = (other.tree / "lib" / "modules" / other.release / MD / "dm-mod.ko").read_bytes()
    unsigned = strip_signature(stock)
    magic = modinfo(unsigned, "vermagic")
    fake = k.release.replace(k.release.split("-")[1], "9" * len(k.release.split("-")[1]), 1)
    off, size = sections(stock)[".text"]
    bad = bytearray(stock)
    bad[off + size // 2] ^= 0x01
    return {
        "other": theirs,                                            # the other release, signed
        "relabel": set_vermagic(unsigned, magic.replace(k.release, fake, 1)),  # only the release differs
        "new": set_srcversion(stock, "A"),                          # same release, another build
        "bad": bytes(bad),                                          # signed, one byte changed
        "persist": set_srcversion(stock, "B"),
    }


def install_variants(stage, k, other):
    out = {}
    for name, data in variants(k, other).items():
        p = pathlib.Path(stage) / "kk" / name / "dm-mod.ko"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        try:
            out[name] = modinfo(data, "srcversion")
        except KeyError:
            out[name] = ""
    return out


def install_test_modules(stage, k):
    """The modules built against k's headers, and the variants check must refuse."""
    built = testmodule.build(k)
    ok = built["kktest"].read_bytes()
    magic = modinfo(ok, "vermagic")
    crc = dict((n, c) for n, c, _ in versions(ok))["module_layout"]
    files = {
        "testmod/kktest.ko": ok,
        "testmod-flag/kktest.ko": set_vermagic(ok, magic.replace("preempt ", "")),
        "testmod-crc/kktest.ko": set_crc(ok, "module_layout", crc ^ 0x5a5a),
        "testmod-fail/dm-mod.ko": built["failing"].read_bytes(),
    }
    for rel, data in files.items():
        p = pathlib.Path(stage) / "kk" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return files

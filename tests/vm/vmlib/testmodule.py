"""Test modules built on the host against the Debian headers of a guest kernel (linux-headers-REL-amd64,
-common and linux-kbuild, fetched with apt-get download into the cache, merged with hard links into a
tree of their own, built with the host's gcc-12 like Debian's kernels). Two builds, cached by the
release, the package versions and the sources: kktest.ko (loads and prints) and a dm-mod.ko whose
module_init returns -EIO (a replacement for dm_mod that the kernel refuses only at init)."""

import hashlib
import os
import pathlib
import shutil
import subprocess

from . import cache

KKTEST = r"""
#include <linux/init.h>
#include <linux/module.h>
static int __init kktest_init(void)
{
	pr_info("kktest: loaded\n");
	return 0;
}
static void __exit kktest_exit(void)
{
}
module_init(kktest_init);
module_exit(kktest_exit);
MODULE_LICENSE("GPL");
MODULE_VERSION("1.0");
MODULE_DESCRIPTION("kernelkeeper test module");
"""

FAILING = r"""
#include <linux/init.h>
#include <linux/module.h>
static int __init failing_init(void)
{
	pr_info("kernelkeeper failing test module: -EIO\n");
	return -EIO;
}
module_init(failing_init);
MODULE_LICENSE("GPL");
MODULE_VERSION("0.1");
MODULE_DESCRIPTION("kernelkeeper test module whose init fails");
"""

BUILDS = {"kktest": ("kktest", KKTEST), "failing": ("dm-mod", FAILING)}


def _headers(k):
    abi = k.release.rsplit("-", 1)[0]          # 6.1.0-57
    series = ".".join(abi.split(".")[:2])        # 6.1
    return [f"linux-headers-{k.release}", f"linux-headers-{abi}-common", f"linux-kbuild-{series}"]


def build(k):
    """{build name: path of the .ko} for kernel k, built once."""
    pkgs = _headers(k)
    key = hashlib.sha256()
    for part in [k.release] + [f"{p}={cache.candidate_version(p)}" for p in pkgs] + \
            [f"{n}:{f}:{s}" for n, (f, s) in BUILDS.items()]:
        key.update(part.encode() + b"\0")
    out = cache.cache_dir() / "testmod" / f"{k.release}-{key.hexdigest()[:12]}"
    result = {n: out / f"{f}.ko" for n, (f, _) in BUILDS.items()}
    if (out / ".complete").exists():
        return result
    cache.log(f"building the test modules against linux-headers-{k.release}")
    work = out.parent / (out.name + ".work")
    shutil.rmtree(work, ignore_errors=True)
    tree = work / "tree"
    tree.mkdir(parents=True)
    for p in pkgs:   # one tree, so the packages' relative links (scripts -> ../../lib/...) resolve
        subprocess.run(["cp", "-al", str(cache.unpacked(p) / "usr"), str(tree)], check=True)
    objdir = tree / "usr" / "src" / f"linux-headers-{k.release}"
    common = tree / "usr" / "src" / f"linux-headers-{pkgs[1][len('linux-headers-'):]}"
    mk = objdir / "Makefile"
    mk.unlink()      # a hard link into the cache's package: replaced, never written through
    mk.write_text(f"include {common}/Makefile\n")
    for n, (fname, src) in BUILDS.items():
        d = work / n
        d.mkdir()
        (d / f"{fname}.c").write_text(src)
        (d / "Kbuild").write_text(f"obj-m := {fname}.o\n")
        cache.run(["make", "-s", "-C", str(objdir), f"M={d}", "CC=gcc-12", "modules"],
                  stdout=subprocess.DEVNULL)
    tmp = out.parent / (out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for n, (fname, _) in BUILDS.items():
        shutil.copy2(work / n / f"{fname}.ko", tmp / f"{fname}.ko")
    (tmp / ".complete").touch()
    os.rename(tmp, out)
    shutil.rmtree(work, ignore_errors=True)
    return result

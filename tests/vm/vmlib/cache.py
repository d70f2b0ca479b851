"""Download cache for the guest's Debian packages.

Guest packages are fetched with `apt-get download` and unpacked with
`dpkg -x`; nothing is installed on the host, so the host's own bootloader
and kernels are never touched. Everything lives outside the source tree,
keyed by package name and version, so a warm run only checks versions."""

import os
import pathlib
import shutil
import subprocess
import sys


def cache_dir():
    base = os.environ.get("KK_VM_CACHE")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "kernelkeeper-vm")
    path = pathlib.Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def log(msg):
    print(f"[vm] {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw):
    kw.setdefault("check", True)
    return subprocess.run(cmd, **kw)


_versions = {}
# Asked for in one apt-cache call (each call costs ~0.7 s of index loading).
COMMON = ["busybox-static", "grub-legacy", "grub-common", "grub-xen-bin",
          "xen-hypervisor-4.17-amd64", "xen-utils-4.17", "xenstore-utils", "libxencall1",
          "libxendevicemodel1", "libxenevtchn1", "libxenforeignmemory1", "libxengnttab1",
          "libxenhypfs1", "libxenstore4", "libxentoollog1", "libxentoolcore1",
          "libxenmisc4.17", "libyajl2"]


def candidate_version(package):
    """The version apt would download (local index lookup, no network)."""
    if package not in _versions:
        names = [package] + [p for p in COMMON if p not in _versions and p != package]
        out = run(["apt-cache", "policy"] + names, capture_output=True, text=True).stdout
        current = None
        for line in out.splitlines():
            if line and not line[0].isspace() and line.endswith(":"):
                current = line[:-1]
            elif line.strip().startswith("Candidate:") and current:
                version = line.split(None, 1)[1]
                _versions[current] = None if version == "(none)" else version
    if not _versions.get(package):
        raise RuntimeError(f"apt has no candidate for {package}: run `apt-get update` "
                           f"(bookworm and bookworm-security must be in sources)")
    return _versions[package]


def unpacked(package, version=None):
    """Return the directory holding `dpkg -x` of package=version, fetching it once."""
    version = version or candidate_version(package)
    safe = version.replace(":", "%3a")
    root = cache_dir()
    dest = root / "pkg" / f"{package}_{safe}"
    if (dest / ".complete").exists():
        return dest
    debs = root / "debs"
    debs.mkdir(exist_ok=True)
    deb = debs / f"{package}_{safe}_amd64.deb"
    if not deb.exists():
        log(f"downloading {package}={version}")
        tmp = debs / ".partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        # as root, apt's _apt sandbox user cannot write into root's cache: say
        # so up front instead of letting apt warn on every download
        sandbox = ["-o", "APT::Sandbox::User=root"] if os.geteuid() == 0 else []
        run(["apt-get", "download", "-q"] + sandbox + [f"{package}={version}"], cwd=tmp,
            stdout=subprocess.DEVNULL)
        got = list(tmp.glob("*.deb"))
        if len(got) != 1:
            raise RuntimeError(f"apt-get download {package}={version} gave {got}")
        got[0].rename(deb)
        tmp.rmdir()
    log(f"unpacking {deb.name}")
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    run(["dpkg", "-x", str(deb), str(dest)])
    (dest / ".complete").touch()
    return dest


def kernel_packages():
    """Two distinct Debian kernel image packages, older first.

    The two versions of the linux-image-amd64 metapackage that bookworm and
    bookworm-security carry point at two ABIs that are both downloadable;
    the cloud flavour is the fallback for a second release. KK_VM_KERNELS
    ("6.1.0-50-amd64 6.1.0-56-amd64") overrides the choice."""
    forced = os.environ.get("KK_VM_KERNELS")
    if forced:
        names = [f"linux-image-{r}" for r in forced.split()]
    else:
        names = []
        out = run(["apt-cache", "show", "linux-image-amd64", "linux-image-cloud-amd64"],
                  capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Depends:"):
                for dep in line.split(":", 1)[1].split(","):
                    name = dep.split()[0]
                    if name.startswith("linux-image-6") and name not in names:
                        names.append(name)
    if len(names) < 2:
        raise RuntimeError(f"need two Debian kernel releases, apt offers {names}; "
                           "set KK_VM_KERNELS")
    names = sorted(names[:2], key=_abi_key)
    COMMON.extend(n for n in names if n not in COMMON)
    return names


def _abi_key(name):
    # linux-image-6.1.0-50-amd64 -> (6, 1, 0, 50, flavour)
    rel = name[len("linux-image-"):]
    parts = rel.replace("-", ".").split(".")
    return [int(p) if p.isdigit() else 0 for p in parts[:4]] + [rel]

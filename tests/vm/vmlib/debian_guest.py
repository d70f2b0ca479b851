"""A real Debian 12 guest: systemd, udev, ifupdown + isc-dhcp-client, grub-legacy (Debian's
update-grub and its kernel hooks), a Debian kernel with initramfs-tools, cloud-init (disabled
unless a boot enables it) and kernelkeeper installed from its .deb.

mmdebstrap builds the root from the Debian archive; kernelkeeper's .deb is installed in the
mmdebstrap chroot with `dpkg -i` (a customize hook): that is dpkg's own install path (unpack,
conffiles, maintainer scripts: deb-systemd-helper enables the units, the catalog is compiled), done
once per cached image instead of costing every boot a first-boot install under TCG. The root goes
on a 3 GiB MBR disk (ext4, 4 KiB blocks) with GRUB Legacy 0.97 installed by disk.py; GRUB boots it
through the menu.lst that Debian's update-grub wrote in the chroot.

The image is cached under <cache>/debian-guest/<key>/disk.img, keyed by the candidate versions of
the included packages, the .deb's sha256 and this builder's own files. Every boot works on a sparse
copy (`cp --sparse=always`), never on the cached image.

In the guest, kk-vmtest.service (After=multi-user.target) runs /kk/step when it exists, prints
`KK:STEP-BEGIN` ... `KK:STEP-RC=N` on /dev/console and powers the machine off (or reboots it when
the step leaves /kk/reboot), so every boot ends with QEMU exiting (-no-reboot)."""

import atexit
import fcntl
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

from . import cache, disk, metadata, qemu

HERE = pathlib.Path(__file__).resolve().parent
TOP = HERE.parent.parent.parent
DISK_SIZE = 3 * 1024 * 1024 * 1024
LAYOUT = disk.LAYOUTS["ext4"]
KOPT = "root=/dev/vda1 ro console=ttyS0,115200 net.ifnames=0 panic=1"
# the Xen PV variant (xen=True, its own cache key): a PV domU's disk is xvda, its console hvc0
XEN_KOPT = "root=/dev/xvda1 ro console=hvc0 net.ifnames=0 panic=1"
# what the notes' lab image had, plus grub-legacy and the packages kernelkeeper's .deb depends on
BASE = ["systemd-sysv", "udev", "dbus", "initramfs-tools", "zstd", "kmod", "ifupdown",
        "isc-dhcp-client", "iproute2", "procps", "cloud-init", "python3", "grub-legacy", "curl",
        "strace"]
EC2_SMBIOS = ("type=1,manufacturer=Amazon EC2,product=t3.micro,"
              "serial=ec2e1916-9099-7caf-fd21-012345abcdef,uuid=ec2e1916-9099-7caf-fd21-012345abcdef")


def log(msg):
    cache.log(f"debian-guest: {msg}")


def kernelkeeper_deb():
    """The .deb: $KK_DEB, else built from this checkout by tests/package/build-deb (12 s)."""
    forced = os.environ.get("KK_DEB")
    if forced:
        return pathlib.Path(forced)
    logdir = os.environ.get("KK_VM_LOGDIR")
    out = pathlib.Path(logdir).parent / "deb" if logdir else cache.cache_dir() / "deb-build"
    # two scenarios building images at once share `out`: build-deb empties it first, so one build
    # at a time, and each process keeps its own copy of the result
    out.mkdir(parents=True, exist_ok=True)
    with open(out.parent / ".deb-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        log(f"building kernelkeeper's .deb into {out}")
        cache.run([str(TOP / "tests" / "package" / "build-deb"), str(out)], stdout=subprocess.DEVNULL)
        built = sorted(out.glob("kernelkeeper_*.deb"))[-1]
        mine = pathlib.Path(tempfile.mkdtemp(prefix=".deb-", dir=out.parent)) / built.name
        atexit.register(shutil.rmtree, mine.parent, True)
        shutil.copy2(built, mine)
    return mine


def deb_depends(deb):
    out = cache.run(["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True, text=True).stdout
    return [d.split()[0] for d in out.replace("|", ",").split(",") if d.strip()]


def _versions(names):
    out = cache.run(["apt-cache", "policy"] + names, capture_output=True, text=True).stdout
    got, current = {}, None
    for line in out.splitlines():
        if line and not line[0].isspace() and line.endswith(":"):
            current = line[:-1]
        elif line.strip().startswith("Candidate:") and current:
            got[current] = line.split(None, 1)[1]
    missing = [n for n in names if got.get(n, "(none)") == "(none)"]
    if missing:
        raise RuntimeError(f"apt has no candidate for {missing}: run `apt-get update`")
    return got


def packages():
    """(the guest's kernel package, the second kernel's package): the older one is installed,
    the newer one is what a scenario installs with dpkg -i (it sorts first in update-grub's list)."""
    old, new = cache.kernel_packages()
    return old, new


def second_kernel_deb():
    """The second kernel's Debian package for `dpkg -i` in the guest: the archive's .deb with its
    data.tar recompressed as none (dpkg-deb -R, then -b -Znone; contents and maintainer scripts
    unchanged), since xz-decompressing 400 MB of modules costs minutes under TCG. Cached."""
    _, new = packages()
    version = cache.candidate_version(new)
    safe = version.replace(":", "%3a")
    deb = cache.cache_dir() / "debs" / f"{new}_{safe}_amd64.deb"
    if not deb.exists():
        cache.unpacked(new, version)    # downloads it into debs/
    out = cache.cache_dir() / "debian-guest" / f"{new}_{safe}_amd64.uncompressed.deb"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".repack-") as tmp:
        tree = pathlib.Path(tmp) / "tree"
        cache.run(["dpkg-deb", "-R", str(deb), str(tree)])
        cache.run(["dpkg-deb", "--root-owner-group", "-Znone", "-b", str(tree), str(pathlib.Path(tmp) / "k.deb")],
                  stdout=subprocess.DEVNULL)
        os.rename(pathlib.Path(tmp) / "k.deb", out)
    return out


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _overlay(root, xen=False):
    """Files of the guest besides the packages (the customize hook copies them in)."""
    root = pathlib.Path(root)

    def put(path, text, mode=0o644):
        p = root / path.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        os.chmod(p, mode)

    put("/etc/hostname", "debian\n")
    put("/etc/hosts", "127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n")
    put("/etc/fstab", f"/dev/{'xvda1' if xen else 'vda1'} / ext4 rw,errors=remount-ro 0 1\n")
    # what cloud-init renders for this NIC; the cloud-init boots remove it (see enable_cloud_init)
    if not xen:    # the test domU has no vif
        put("/etc/network/interfaces.d/50-vm-eth0", "auto eth0\niface eth0 inet dhcp\n")
    put("/etc/cloud/cloud-init.disabled", "")
    put("/etc/cloud/cloud.cfg.d/99-vm-ec2.cfg",
        "datasource_list: [ Ec2 ]\n"
        "datasource:\n  Ec2:\n    strict_id: false\n    metadata_urls: ['http://169.254.169.254']\n")
    put("/etc/systemd/system/kk-vmtest.service", """[Unit]
Description=kernelkeeper VM test step (/kk/step)
After=multi-user.target kernelkeeper-userdata.service kernelkeeper.service kernelkeeper-health.service cloud-final.service
ConditionPathExists=/kk/step

[Service]
Type=simple
ExecStart=/usr/local/sbin/kk-vmtest

[Install]
WantedBy=multi-user.target
""")
    # the console, not ttyS0: serial-getty's vhangup() cuts every other ttyS0 descriptor
    put("/usr/local/sbin/kk-vmtest", """#!/bin/sh
exec >/dev/console 2>&1
echo KK:STEP-BEGIN
sh /kk/step
echo "KK:STEP-RC=$?"
sync
if [ -e /kk/reboot ]; then rm -f /kk/reboot; systemctl reboot; else systemctl poweroff; fi
""", 0o755)
    (root / "kk").mkdir(exist_ok=True)


def _essential_overlay(root, xen=False):
    """Before the kernel and grub-legacy are installed: a small initramfs (virtio + ext4 only,
    the image boots on one machine type; + xen-blkfront for the PV variant) and the menu.lst
    update-grub fills in (the PV variant's without GRUB 0.97's serial lines: its console is hvc0)."""
    root = pathlib.Path(root)
    (root / "etc/initramfs-tools/conf.d").mkdir(parents=True)
    (root / "etc/initramfs-tools/conf.d/kk-vm").write_text("MODULES=list\nCOMPRESS=zstd\n")
    (root / "usr/share/initramfs-tools/modules.d").mkdir(parents=True)
    (root / "usr/share/initramfs-tools/modules.d/kk-vm").write_text(
        "virtio_pci\nvirtio_blk\next4\ncrc32c_generic\n" + ("xen_blkfront\n" if xen else ""))
    grub = root / "boot/grub"
    grub.mkdir(parents=True)
    from . import guest
    menu = guest.automagic_menu(LAYOUT).replace(f"# kopt={guest.kernel_args(LAYOUT, 'kk.menu=automagic')}",
                                                f"# kopt={XEN_KOPT if xen else KOPT}")
    if xen:
        menu = menu.replace(guest.menu_header(default=0), guest.menu_header(default=0, serial=False), 1)
    (grub / "menu.lst").write_text(menu)
    (grub / "default").write_text(guest.default_file())
    (grub / "device.map").write_text("(hd0)\t/dev/vda\n")
    src = disk.grub_legacy() / "usr" / "lib" / "grub" / "x86_64-pc"
    for name in ("stage1", "stage2", "e2fs_stage1_5"):
        shutil.copy2(src / name, grub / name)
    # in the chroot grub-probe would describe the host's disk: until the customize hook removes
    # it (dpkg-divert), this one answers for the guest's (the guest then runs the real grub-probe)
    shim = root / "usr/sbin/grub-probe"
    shim.parent.mkdir(parents=True)
    shim.write_text((HERE / "grub-probe").read_text().replace(
        "target= dev= path=", ': "${KK_PROBE_ROOT:=/dev/vda1}"\ntarget= dev= path=', 1))
    os.chmod(shim, 0o755)


# the PV variant: getty-generator would start a getty on the hvc0 console (cut like ttyS0's);
# no metadata service without a NIC, so the user-data unit stays off
XEN_HOOK = """chroot "$1" systemctl mask serial-getty@hvc0.service
chroot "$1" systemctl disable kernelkeeper-userdata.service
"""

_image = {}


def image(xen=False):
    """Path of the cached pristine disk image, built when missing (once per process).
    xen=True: the Xen PV variant (XEN_KOPT, xen-blkfront in the initramfs, both kernels
    installed, no NIC stanza, kernelkeeper-userdata disabled, serial-getty@hvc0 masked)."""
    if xen not in _image:
        _image[xen] = _build_image(xen)
    return _image[xen]


def _build_image(xen=False):
    deb = kernelkeeper_deb()
    old, new = packages()
    include = sorted(set(BASE + [old] + ([new] if xen else []) + deb_depends(deb)))
    versions = _versions(include)
    h = hashlib.sha256()
    for name in include:
        h.update(f"{name}={versions[name]}\n".encode())
    h.update(_sha256(deb).encode())
    for f in (HERE / "debian_guest.py", HERE / "disk.py", HERE / "guest.py"):
        h.update(f.read_bytes())
    key = ("xen-" if xen else "") + h.hexdigest()[:16]
    base = cache.cache_dir() / "debian-guest"
    dest = base / key
    if (dest / "disk.img").exists():
        return dest / "disk.img"
    base.mkdir(exist_ok=True)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(dir=base, prefix=".build-") as tmp:
        tmp = pathlib.Path(tmp)
        ess, over = tmp / "essential", tmp / "overlay"
        _essential_overlay(ess, xen)
        _overlay(over, xen)
        shutil.copy2(deb, tmp / "kernelkeeper.deb")
        rootfs = tmp / "root"
        hook = f"""set -eu
cp -a {over}/. "$1/"
cp {tmp}/kernelkeeper.deb "$1/tmp/kernelkeeper.deb"
chroot "$1" dpkg -i /tmp/kernelkeeper.deb
rm "$1/tmp/kernelkeeper.deb"
chroot "$1" systemctl enable kk-vmtest.service
# no login prompt on the console: agetty would write into the middle of the test's KK: lines
chroot "$1" systemctl mask serial-getty@ttyS0.service
{XEN_HOOK if xen else ""}chroot "$1" update-grub -y
rm "$1/usr/sbin/grub-probe"
chroot "$1" dpkg-divert --quiet --local --rename --remove /usr/sbin/grub-probe
rm -f "$1/etc/machine-id"; touch "$1/etc/machine-id"
rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*_Packages
"""
        log(f"mmdebstrap bookworm ({len(include)} packages, kernel {old}{' + ' + new if xen else ''}) -> {key}")
        out = tempfile.TemporaryFile()
        res = cache.run(["mmdebstrap", "--variant=minbase", "--mode=root",
                   "--aptopt=APT::Install-Recommends \"false\"",
                   "--include=" + ",".join(include),
                   "--essential-hook=chroot \"$1\" dpkg-divert --quiet --local --rename "
                   "--divert /usr/sbin/grub-probe.real --add /usr/sbin/grub-probe",
                   f"--essential-hook=cp -a {ess}/. \"$1/\"",
                   f"--customize-hook={hook}",
                   "bookworm", str(rootfs),
                   "deb http://deb.debian.org/debian bookworm main",
                   "deb http://deb.debian.org/debian bookworm-updates main",
                   "deb http://deb.debian.org/debian-security bookworm-security main"],
                  stdout=out, stderr=subprocess.STDOUT, check=False)
        if res.returncode:
            out.seek(0)
            tail = out.read().decode("utf-8", "replace").splitlines()[-40:]
            raise RuntimeError("mmdebstrap failed:\n" + "\n".join(tail))
        t1 = time.monotonic()
        d = disk.Disk(tmp / "disk.img", LAYOUT, size=DISK_SIZE)
        d.create(rootfs)
        (tmp / "versions.txt").write_text("".join(f"{n}={versions[n]}\n" for n in include)
                                          + f"kernelkeeper.deb sha256={_sha256(deb)}\n")
        shutil.rmtree(rootfs)
        os.unlink(tmp / "kernelkeeper.deb")
        shutil.rmtree(ess)
        shutil.rmtree(over)
        try:
            os.rename(tmp, dest)
            tmp.mkdir()    # for TemporaryDirectory's cleanup
        except OSError:
            if not (dest / "disk.img").exists():    # else another run built the same key meanwhile
                raise
    log(f"image {key}: mmdebstrap {t1 - t0:.0f} s, disk {time.monotonic() - t1:.0f} s")
    _prune(dest)
    return dest / "disk.img"


KEEP_IMAGES = 3


def _prune(newest):
    """Each change to the .deb makes a new image (0.8-1.3 GB): keep the KEEP_IMAGES most recently
    built of this flavour (another checkout may still use an older one), drop the rest."""
    xen = newest.name.startswith("xen-")
    same = [d for d in newest.parent.iterdir()
            if d.is_dir() and d.name.startswith("xen-") == xen and (d / "disk.img").exists()]
    same.sort(key=lambda d: (d / "disk.img").stat().st_mtime, reverse=True)
    for d in same[KEEP_IMAGES:]:
        if d != newest:
            shutil.rmtree(d, ignore_errors=True)


class Guest:
    """One instance: a sparse copy of the pristine image, booted as often as a scenario needs."""

    def __init__(self, workdir, name="disk.img", xen=False):
        self.workdir = pathlib.Path(workdir)
        self.path = self.workdir / name
        cache.run(["cp", "--sparse=always", str(image(xen)), str(self.path)])
        self.disk = disk.Disk(self.path, LAYOUT, size=DISK_SIZE)
        self.boots = 0

    def set_step(self, script, reboot=False):
        self.disk.write("/kk/step", "export PATH=/usr/sbin:/usr/bin:/sbin:/bin\n" + script, 0o755)
        if reboot:
            self.disk.write("/kk/reboot", "")

    def boot(self, label, server=None, timeout=300, echo=False, smbios=None, max_kernel_starts=1):
        self.boots += 1
        log_path = self.workdir / f"boot{self.boots}-{label}.log"
        cmd = [qemu.QEMU, "-accel", "tcg", "-cpu", "max", "-m", "1024", "-smp", "1",
               "-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none",
               "-serial", "stdio",
               "-drive", f"file={self.path},format=raw,if=virtio,cache=unsafe"]
        if max_kernel_starts == 1:
            cmd.append("-no-reboot")
        if smbios:
            cmd += ["-smbios", smbios]
        if server is not None:
            port = server.port
            cmd += ["-netdev", "user,id=n0,net=169.254.0.0/16,guestfwd=tcp:169.254.169.254:80-"
                    f"cmd:{sys.executable} {metadata.RELAY} 127.0.0.1 {port}",
                    "-device", "virtio-net-pci,netdev=n0,romfile="]
        return qemu.run(cmd, log_path, timeout, echo, max_kernel_starts)


def imds_server(**kw):
    """tests/imds's IMDSv2 test server (token, instance-id, identity document, user-data)."""
    sys.path.insert(0, str(TOP / "tests" / "imds"))
    import imds_server
    return imds_server.ImdsServer(**kw).start()

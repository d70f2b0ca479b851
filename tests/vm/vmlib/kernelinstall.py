"""What `kernel install` gets in the VM scenario: the newer Debian kernel as a tar of boot/ +
lib/modules/REL (the busybox guest has no dpkg), made on the host from the cached package, with
the harness's busybox initramfs as its initrd and dm-mod as its one module; and the test IMDS
(tests/imds/imds_server.py: IMDSv2 tokens, user data, plain files) reachable from the guest as
169.254.169.254."""

import hashlib
import io
import os
import pathlib
import sys
import tarfile

from . import metadata

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "imds"))
from imds_server import ImdsServer  # noqa: E402


def payload_tar(k, initrd=None):
    """bytes of a tar: boot/{vmlinuz,initrd.img,config}-REL and lib/modules/REL/.../dm-mod.ko; with
    initrd (a path), that file is the kernel's initrd.img"""
    b = io.BytesIO()
    rel = k.release
    mod = next(p for p in (k.tree / "lib" / "modules" / rel).rglob("dm-mod.ko"))
    files = [(f"boot/vmlinuz-{rel}", k.vmlinuz), (f"boot/initrd.img-{rel}", initrd or k.initrd),
             (f"boot/config-{rel}", k.config),
             (str(mod.relative_to(k.tree)), mod)]
    with tarfile.open(fileobj=b, mode="w", format=tarfile.GNU_FORMAT) as t:
        for d in ("boot", "lib", "lib/modules", f"lib/modules/{rel}"):
            i = tarfile.TarInfo(d)
            i.type, i.mode = tarfile.DIRTYPE, 0o755
            t.addfile(i)
        for name, path in files:
            t.add(str(path), arcname=name, recursive=False)
    return b.getvalue()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class TestImds:
    """The test IMDS on 127.0.0.1 with a guestfwd target for qemu.boot(net=...)."""

    def __init__(self, **kw):
        self.srv = ImdsServer(**kw)

    def __enter__(self):
        self.srv.start()
        return self

    def __exit__(self, *exc):
        self.srv.stop()

    def guestfwd(self):
        return f"cmd:{sys.executable} {metadata.RELAY} 127.0.0.1 {self.srv.port}"


def initrd_without_init(path):
    """Write a gzip newc initramfs holding only an empty /etc to path: the kernel finds no /init
    and, without virtio_blk (a module in Debian's kernels), cannot mount root=: it panics before
    any userspace runs."""
    import gzip
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        os.mkdir(os.path.join(d, "etc"))
        cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet", "-R", "0:0"], cwd=d, input=b"etc\n",
                              capture_output=True, check=True).stdout
    pathlib.Path(path).write_bytes(gzip.compress(cpio, 1))
    return path


def deb(tar_bytes, release, config_text=None):
    """A .deb (ar: debian-binary, control.tar.gz, data.tar.gz) around the payload tar; with
    config_text, boot/config-REL replaced by it."""
    import gzip
    data = tar_bytes
    if config_text is not None:
        src = tarfile.open(fileobj=io.BytesIO(tar_bytes))
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as t:
            for m in src.getmembers():
                if m.name == f"boot/config-{release}":
                    body = config_text.encode()
                    m.size = len(body)
                    t.addfile(m, io.BytesIO(body))
                else:
                    t.addfile(m, src.extractfile(m) if m.isfile() else None)
        data = out.getvalue()
    ctl = io.BytesIO()
    with tarfile.open(fileobj=ctl, mode="w:gz") as t:
        body = f"Package: linux-image-{release}\nVersion: 1\nArchitecture: amd64\n".encode()
        i = tarfile.TarInfo("./control")
        i.size = len(body)
        t.addfile(i, io.BytesIO(body))

    def member(name, b):
        h = f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(b):<10}`\n".encode()
        return h + b + (b"\n" if len(b) % 2 else b"")
    return (b"!<arch>\n" + member("debian-binary", b"2.0\n") + member("control.tar.gz", ctl.getvalue())
            + member("data.tar.gz", gzip.compress(data, compresslevel=1)))

# SPDX-License-Identifier: GPL-2.0-or-later
"""Small fake kernels and packages for the `kernel install` tests: a bzImage whose xz payload is an
ELF vmlinux with chosen Xen notes (what kernelkeeper reads of a real one), tars of boot/ +
lib/modules/REL, and .deb files (ar + data.tar.xz) built without dpkg."""
import gzip
import io
import lzma
import struct
import tarfile

XEN_ENTRY, XEN_PHYS32_ENTRY, XEN_GUEST_OS = 1, 18, 6
EM_X86_64, EM_AARCH64 = 62, 183


def elf(machine=EM_X86_64, notes=(XEN_GUEST_OS, XEN_ENTRY, XEN_PHYS32_ENTRY), pad=4096):
    n = b"".join(struct.pack("<III", 4, 8, t) + b"Xen\0" + b"\xab" * 8 for t in notes)
    off = 64 + 56 + pad
    eh = (b"\x7fELF" + bytes([2, 1, 1]) + b"\0" * 9 +
          struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, 0, 64, 0, 0, 64, 56, 1, 0, 0, 0))
    ph = struct.pack("<IIQQQQQQ", 4, 0, off, 0, 0, len(n), len(n), 4)
    return eh + ph + b"\0" * pad + n


def bzimage(release, pv=True, x86_64=True, size=64 * 1024):
    """A bzImage of about `size` bytes (random-ish filler after the payload is not read)."""
    notes = (XEN_GUEST_OS, XEN_ENTRY, XEN_PHYS32_ENTRY) if pv else (XEN_GUEST_OS, XEN_PHYS32_ENTRY)
    payload = lzma.compress(elf(notes=notes), format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32)
    d = bytearray(5 * 512)
    d[0x1f1] = 4
    d[0x1fe:0x200] = b"\x55\xaa"
    d[0x202:0x206] = b"HdrS"
    d[0x206:0x208] = struct.pack("<H", 0x20F)
    d[0x20E:0x210] = struct.pack("<H", 0x400)
    s = f"{release} (test@kernelkeeper) #1 SMP".encode()
    d[0x600:0x600 + len(s)] = s
    d[0x236:0x238] = struct.pack("<H", 1 if x86_64 else 0)
    d[0x248:0x250] = struct.pack("<II", 0, len(payload))
    out = bytes(d) + payload
    # zeros inside: a writer that leaves holes would show here
    return out + b"\0" * max(0, size - len(out))


def arm64_image():
    a = bytearray(4096)
    a[56:60] = b"ARM\x64"
    return gzip.compress(bytes(a))


def tar(members, compress=None):
    """members: (name, bytes) for files, (name, None) for directories, (name, ('link', target)) for
    symbolic links, (name, ('hard', target)), (name, ('fifo',))."""
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, data in members:
            i = tarfile.TarInfo(name)
            i.mode = 0o644
            if data is None:
                i.type, i.mode = tarfile.DIRTYPE, 0o755
                t.addfile(i)
            elif isinstance(data, tuple):
                i.type = {"link": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE}[data[0]]
                if len(data) > 1:
                    i.linkname = data[1]
                t.addfile(i)
            else:
                i.size = len(data)
                t.addfile(i, io.BytesIO(data))
    raw = b.getvalue()
    if compress == "xz":
        return lzma.compress(raw)
    if compress == "gz":
        return gzip.compress(raw)
    return raw


def kernel_members(release, pv=True, initrd=True, config=True, modules=True, prefix="./"):
    m = [(f"{prefix}boot", None), (f"{prefix}boot/vmlinuz-{release}", bzimage(release, pv=pv))]
    if initrd:
        m.append((f"{prefix}boot/initrd.img-{release}", b"\x1f\x8binitrd" + b"\0" * 8192))
    if config:
        m.append((f"{prefix}boot/config-{release}",
                  b"CONFIG_X86_64=y\n" + (b"CONFIG_XEN_PV=y\n" if pv else b"# CONFIG_XEN_PV is not set\n")))
    m.append((f"{prefix}boot/System.map-{release}", b"ffffffff81000000 T _text\n"))
    if modules:
        m += [(f"{prefix}lib", None), (f"{prefix}lib/modules", None), (f"{prefix}lib/modules/{release}", None),
              (f"{prefix}lib/modules/{release}/kernel/drivers/md/dm-mod.ko", b"\x7fELF module"),
              (f"{prefix}lib/modules/{release}/modules.order", b"kernel/drivers/md/dm-mod.ko\n")]
    return m


def deb(release, **kw):
    data = tar(kernel_members(release, **kw) + [("./usr/share/doc/linux-image-" + release + "/copyright", b"GPL")],
               compress="xz")
    control = tar([("./control", f"Package: linux-image-{release}\nVersion: 1\nArchitecture: amd64\n".encode())],
                  compress="xz")

    def member(name, body):
        h = f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(body):<10}`\n".encode()
        return h + body + (b"\n" if len(body) % 2 else b"")
    return (b"!<arch>\n" + member("debian-binary", b"2.0\n") + member("control.tar.xz", control) +
            member("data.tar.xz", data))

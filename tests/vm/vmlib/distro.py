"""What the distribution does to a guest's /boot between boots, done from the
host on the disk image: install another kernel package's files, then let the
kernel postinst hook's update-grub regenerate menu.lst."""

import tempfile

from . import updategrub


def install_kernel(disk, k):
    """The files linux-image-X's dpkg unpack puts in /boot (plus our initramfs,
    which initramfs-tools' postinst hook would have generated)."""
    disk.write(f"/boot/vmlinuz-{k.release}", k.vmlinuz)
    disk.write(f"/boot/config-{k.release}", k.config)
    disk.write(f"/boot/initrd.img-{k.release}", k.initrd)


def update_grub(disk, workdir):
    """Debian's real update-grub on the disk's current /boot; returns its output."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        disk.rdump("/boot", tmp)
        tree = f"{tmp}/boot"
        out = updategrub.run(tree, disk.layout)
        disk.write("/boot/grub/menu.lst", open(f"{tree}/grub/menu.lst", "rb").read())
    return out

"""Helpers for kernelkeeper's real-boot suite: cached Debian parts, disk
images with GRUB Legacy 0.97, and QEMU boots judged from the serial console."""

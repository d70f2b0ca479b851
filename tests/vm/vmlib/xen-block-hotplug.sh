#!/bin/sh
# Minimal /etc/xen/scripts/block for the test dom0 (the stock script waited
# 40 s on udev/locking here). libxl runs it with "add"/"remove" and
# XENBUS_PATH; blkback only needs the backing device's major:minor (hex).
case "$1" in
add)
	dev=$(xenstore-read "$XENBUS_PATH/params")
	dev=$(readlink -f "$dev")
	xenstore-write "$XENBUS_PATH/physical-device" "$(stat -L -c '%t:%T' "$dev")"
	xenstore-write "$XENBUS_PATH/physical-device-path" "$dev"
	xenstore-write "$XENBUS_PATH/hotplug-status" connected
	;;
esac
exit 0

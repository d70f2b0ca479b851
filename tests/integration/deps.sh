#!/bin/sh
# Debian packages the integration tests need beyond the build (run by ./dev deps; idempotent).
# test_update_grub.py runs Debian's real update-grub: it downloads grub-legacy and grub-common itself
# (cached in ${XDG_CACHE_HOME:-$HOME/.cache}/kernelkeeper-test) and unpacks them with dpkg -x, so only
# what those unpacked programs and the test harness run with is installed here.
set -eu
pkgs="python3 util-linux mount sed grep coreutils debianutils dpkg apt libdevmapper1.02.1 gettext-base"
missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
$sudo apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null

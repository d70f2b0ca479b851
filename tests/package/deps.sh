#!/bin/sh
# Debian packages the package suite and `./dev package` need beyond the build (run by ./dev deps;
# idempotent): debhelper and dpkg-dev to build the .deb, lintian to check it, systemd for
# systemd.pc (the unit directory) and deb-systemd-helper, util-linux for unshare.
set -eu
pkgs="debhelper dpkg-dev lintian systemd init-system-helpers util-linux"
missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
$sudo apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null

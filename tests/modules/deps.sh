#!/bin/sh
# The real kernel module trees for `module check` (run by ./dev deps; idempotent): two Debian
# linux-image packages fetched with apt-get download and unpacked with dpkg -x into the VM
# harness's cache (see fixture.py). Failing here only warns: the tests that need the trees fail
# on their own and say why (KK_SKIP_MODULE_FIXTURE=1 skips them explicitly).
set -eu
cd "$(dirname "$0")"
missing=
for p in kmod dpkg apt python3 xz-utils zstd; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
if [ -n "$missing" ]; then
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# the kernel package versions come from the local apt lists
apt-cache policy linux-image-amd64 2>/dev/null | grep -q 'Candidate: [0-9]' || $sudo apt-get update -qq || true
./fixture.py >/dev/null || echo "tests/modules/deps.sh: warning: no module fixture, test_module_check will fail" >&2
exit 0

#!/usr/bin/env bash
# The demo of `./dev demo`: a distro-style rewrite of menu.lst is shown, explained and pinned, on an
# embedded tree. The rewrite is a real one: avar/linode-etc's menu.lst before and after
# `sudo update-grub` (tests/data/menulst/02 and 03), which put two new kernels on top of the
# automagic block while `default` stayed a bare index.
set -euo pipefail
kk=${1:?usage: pin-demo.sh PATH-TO-kernelkeeper}
here=$(cd "$(dirname "$0")" && pwd)
corpus=$here/../data/menulst
root=$(mktemp -d "${TMPDIR:-/tmp}/kk-demo-XXXXXX")
trap 'rm -rf "$root"' EXIT

b=$(tput bold 2>/dev/null || true); n=$(tput sgr0 2>/dev/null || true)
step() { printf '\n%s### %s%s\n' "$b" "$*" "$n"; }
run() { printf '%s$ %s%s\n' "$b" "kernelkeeper --root \$ROOT ${*}" "$n"; "$kk" --root "$root" "$@"; }
boots() {
    "$kk" --root "$root" --json menu show | python3 -c '
import json, sys
j = json.load(sys.stdin); e = j["entries"][j["default"]]
print("    GRUB boots entry %d: %s  (%s)" % (j["default"], e["title"], e["kernel"]))'
}

mkdir -p "$root/boot/grub" "$root/etc/boot"
cp "$corpus/02-avar-linode-etc-before-update-grub.lst" "$root/boot/grub/menu.lst"
for rel in 2.6.36-rc6-Avar-Akbar+ 2.6.36-rc4-Avar-Akbar+ 2.6.36-rc1-Avar-Akbar 2.6.35-rc5-Avar-Akbar+; do
    printf 'kernel image %s\n' "$rel" > "$root/etc/boot/vmlinuz-$rel"
done
echo "ROOT=$root  (a Linode Xen guest's tree; menu.lst is the real file from avar/linode-etc)"

step "1. What GRUB will boot today"
run menu show | sed -n '1,12p'

step "2. The administrator wants kernel 2.6.36-rc4 and pins it by identity, not by index"
run pin --default release=2.6.36-rc4-Avar-Akbar+
boots

rewrite() {
    # update-grub writes in place (cat new > menu.lst), keeping `default` as it was
    local pinned; pinned=$(grep -m1 '^default' "$root/boot/grub/menu.lst")
    sed "0,/^default.*/s//$pinned/" "$corpus/03-avar-linode-etc-after-update-grub.lst" > "$root/update-grub.out"
    cat "$root/update-grub.out" > "$root/boot/grub/menu.lst"
    echo "    '$pinned' now points two entries higher in the file update-grub wrote."
}

step "3. Without the daemon: a kernel upgrade runs update-grub (the real rewrite of commit 42410e4)"
echo "    update-grub regenerates the AUTOMAGIC block, newest kernel first, and leaves 'default' alone:"
rewrite
boots
echo "    -> the next reboot would start a kernel nobody chose."

step "4. The kernel package's hook runs after update-grub: kernelkeeper pin --reapply"
cp "$root/boot/grub/menu.lst" "$root/rewritten.lst"
run pin --reapply
boots
echo "    Only the default line changed; the distro's new entries stay:"
diff -u "$root/rewritten.lst" "$root/boot/grub/menu.lst" | sed -n '3,$p' | grep '^[-+]' || true

step "5. With the daemon: the same rewrite is undone at once"
cp "$corpus/02-avar-linode-etc-before-update-grub.lst" "$root/boot/grub/menu.lst"
"$kk" --root "$root" pin --reapply 2>/dev/null
printf '%s$ %s%s\n' "$b" "kernelkeeper --root \$ROOT daemon &" "$n"
"$kk" --root "$root" daemon --foreground 2> "$root/daemon.log" &
daemon=$!
# the daemon may already be gone (killed below): the trap must not make the script's status
trap 'kill "$daemon" 2>/dev/null || true; rm -rf "$root"' EXIT
for _ in $(seq 50); do grep -q . "$root/run/kernelkeeper/daemon.json" 2>/dev/null && break; sleep 0.1; done
rewrite
start=$(date +%s%N)
until "$kk" --root "$root" --json menu show | grep -q '"default": 3'; do sleep 0.01; done
echo "    restored $(( ($(date +%s%N) - start) / 1000000 )) ms after update-grub's write:"
boots
sed 's/^/    daemon: /' "$root/daemon.log" | grep -i "restored" || true
run status
kill $daemon; wait $daemon 2>/dev/null || true

step "6. Every entry is still checked the way GRUB will read it"
run menu check && echo "    default and fallbacks load kernels that exist."

"""`module swap --persist` and kernelkeeper-modules.service in the real Debian 12 guest
(scenario-debian-guest modules): kernelkeeper from its .deb, real initramfs-tools, real systemd 252.

boot 1  Debian's initramfs carries dm-mod.ko (lsinitramfs) and dm_mod is loaded at boot;
        `module swap dm_mod --from <the booted release's dm-mod.ko, unsigned, srcversion BBB...>
        --persist`: live swap, updates/dm-mod.ko, depmod, and (lsinitramfs says the initramfs carries
        dm-mod) update-initramfs -u, so the initramfs now holds updates/dm-mod.ko.
boot 2  the persisted build is loaded (its srcversion, unsigned: taint E), by systemd's
        modprobe@dm_mod.service after kernelkeeper-modules.service checked it; the unit finished
        before systemd-udev-trigger, systemd-modules-load and modprobe@dm_mod started; its journal
        event (MESSAGE_ID, verdict pass). Then a kernel upgrade under the same release is simulated the cheap way: the persisted
        file is replaced by a copy whose module_layout CRC no longer matches (what an ABI-compatible
        rebuild of the kernel does to a module built for the old one) and the initramfs rebuilt, as
        the kernel package's postinst does.
boot 3  the initramfs carries the stale copy (it does not load dm_mod itself here: no dm root);
        kernelkeeper-modules.service, before modprobe@dm_mod, finds it
        stale, moves it aside, runs depmod and refreshes the initramfs; the journal says why
        (verdict stale, the failed finding); `modprobe dm_mod` loads the stock, signed module."""

import os

from . import cache, modswap, scenario

MID = "9a3c1f0e5b7d4c2a8e6f1d3b5a7c9e22"

COMMON = r"""
M=/lib/modules/$(uname -r)
I=/boot/initrd.img-$(uname -r)
srcv() { cat /sys/module/dm_mod/srcversion 2>/dev/null || echo none; }
initrd_dm() { lsinitramfs $I | grep 'dm-mod\.ko' | tr '\n' ' '; }
# when a unit (or the manager: no unit) left/entered a state, in monotonic us
ts() { systemctl show -P $2 $1; }
unit() { kv "UNIT-$1" "$(systemctl show -P Result $2)/$(systemctl show -P ActiveState $2) start=$(ts $2 InactiveExitTimestampMonotonic) done=$(ts $2 ActiveEnterTimestampMonotonic)"; }
units() {
  unit KK kernelkeeper-modules.service
  unit TRIGGER systemd-udev-trigger.service
  unit MODLOAD systemd-modules-load.service
  unit MODPROBE modprobe@dm_mod.service
  kv CYCLES "$(journalctl -b -o cat | grep -c 'ordering cycle')"
  kv LVM "$(systemctl show -P LoadState lvm2-activation.service lvm2-monitor.service | tr '\n' ' ')"
  kv USERSPACE "$(systemctl show -P UserspaceTimestampMonotonic)"
  kv DM-LOADED-AT "$(dmesg | sed -n 's/^\[ *\([0-9.]*\)\] device-mapper: ioctl:.*/\1/p' | head -n1)"
  kv DM "$(grep -c '^dm_mod ' /proc/modules) srcversion=$(srcv) taint=$(cat /sys/module/dm_mod/taint 2>/dev/null)"
  kv EVENT "$(journalctl -b MESSAGE_ID=""" + MID + r""" -o cat | head -n1)"
  kv VERDICT "$(journalctl -b MESSAGE_ID=""" + MID + r""" -o export | sed -n 's/^KK_MODULE_VERDICT=//p' | head -n1)"
  kv CATALOG "$(journalctl -b -x MESSAGE_ID=""" + MID + r""" --no-pager | grep -c 'KK_MODULE_VERDICT=pass')"
  kv INITRD-DM "$(initrd_dm)"
}
"""

BOOT1 = COMMON + r"""
kv DM-BEFORE "$(grep -c '^dm_mod ' /proc/modules) srcversion=$(srcv) taint=$(cat /sys/module/dm_mod/taint 2>/dev/null)"
kv INITRD-DM-STOCK "$(initrd_dm)"
t0=$(cut -d' ' -f1 /proc/uptime)
kernelkeeper module swap dm_mod --from /kk/dm-mod.ko --persist > /var/tmp/swap.log 2>&1; kv PERSIST-RC $?
kv PERSIST-SECONDS "$(awk -v t0=$t0 '{printf "%.1f", $1 - t0}' /proc/uptime)"
sed 's/^/swap: /' /var/tmp/swap.log
kv SRCV "$(srcv)"
kv DEP "$(grep -c '^updates/dm-mod.ko:' $M/modules.dep)"
kv INITRD-DM "$(initrd_dm)"
kv STATE "$(kernelkeeper --json module status | tr -d '\n ')"
"""

BOOT2 = COMMON + r"""
units
# a kernel upgrade under the same release, the cheap way: the persisted module no longer matches
# the kernel's CRCs, and the kernel package's postinst rebuilds the initramfs (with updates/)
cp /kk/dm-stale.ko $M/updates/dm-mod.ko && depmod $(uname -r) && update-initramfs -u -k $(uname -r) > /var/tmp/ui.log 2>&1
kv STALE-RC $?
kv INITRD-DM-STALE "$(initrd_dm)"
"""

BOOT3 = COMMON + r"""
units
kv STALE-REFUSED "$(dmesg | grep -c 'dm_mod: disagrees about version of symbol module_layout')"
kv ASIDE "$(ls $M/updates/ | tr '\n' ' ')"
kv DEP "$(grep -c '^updates/dm-mod.ko:' $M/modules.dep)"
modprobe dm_mod; kv MODPROBE-RC $?
kv DM-NOW "$(grep -c '^dm_mod ' /proc/modules) srcversion=$(srcv) taint=$(cat /sys/module/dm_mod/taint 2>/dev/null)"
kv STATUS "$(kernelkeeper module status | tr '\n' ' ')"
"""


def module_files(release_pkg):
    """(persisted, stale): the booted release's own dm-mod.ko without its signature and with a
    srcversion of its own (another build of the same source, which module check passes), and the
    same with the module_layout CRC changed (a module the kernel and module check both refuse)."""
    tree = cache.unpacked(release_pkg)
    release = release_pkg[len("linux-image-"):]
    stock = (tree / "lib" / "modules" / release / modswap.MD / "dm-mod.ko").read_bytes()
    persist = modswap.set_srcversion(stock, "B")
    crc = dict((n, c) for n, c, _ in modswap.versions(persist))["module_layout"]
    return persist, modswap.set_crc(persist, "module_layout", crc ^ 0x5a5a), modswap.modinfo(persist, "srcversion")


def _before(sc, b, m, first, then):
    """The unit `first` was active before `then` started (monotonic us; 0: never ran)."""
    def field(name, key):
        for w in m.get(f"UNIT-{name}", "").split():
            if w.startswith(key + "="):
                return int(w.split("=", 1)[1] or 0)
        return 0
    done, start = field(first, "done"), field(then, "start")
    return done > 0 and start > 0 and done <= start, done, start


class _KeepGoing:
    """KK_VM_KEEP_GOING=1: a failed check is reported and the boots go on (to see every finding of
    one run, e.g. when showing the scenario fails on a broken unit); the run still fails at the end."""

    def __init__(self, sc):
        self.sc, self.failed = sc, []

    def __getattr__(self, name):
        return getattr(self.sc, name)

    def check(self, cond, msg, b=None):
        if cond or os.environ.get("KK_VM_KEEP_GOING") != "1":
            return self.sc.check(cond, msg, b)
        self.failed.append(msg)
        self.sc.say(f"NOT OK: {msg}")


def modules_persist(sc, g, srv, old, step, boot):
    sc = _KeepGoing(sc)
    _modules_persist(sc, g, srv, old, step, boot)
    if sc.failed:
        raise scenario.Failed(f"{len(sc.failed)} check(s) failed: " + " | ".join(sc.failed))


def _modules_persist(sc, g, srv, old, step, boot):
    persist, stale, sv = module_files(f"linux-image-{old}")
    g.disk.write("/kk/dm-mod.ko", persist)
    g.disk.write("/kk/dm-stale.ko", stale)

    # ---- boot 1: swap --persist, the initramfs refreshed -----------------------------------
    step(sc, g, BOOT1)
    b = boot(sc, g, "persist", srv)
    m = b.markers
    sc.check(b.releases == [old], f"booted {old}", b)
    sc.check("/kernel/drivers/md/dm-mod.ko" in m.get("INITRD-DM-STOCK", "") and "updates" not in m.get("INITRD-DM-STOCK", ""),
             f"Debian's initramfs carries the stock dm-mod.ko ({m.get('INITRD-DM-STOCK')}); dm_mod loaded at boot: "
             f"{m.get('DM-BEFORE')}", b)
    sc.check(m.get("PERSIST-RC") == "0" and m.get("SRCV") == sv and m.get("DEP") == "1",
             f"swap --persist: dm_mod live is srcversion {m.get('SRCV')}, updates/dm-mod.ko in modules.dep "
             f"({m.get('PERSIST-SECONDS')} s in the guest)", b)
    sc.check(f"lib/modules/{old}/updates/dm-mod.ko" in m.get("INITRD-DM", "")
             and '"initramfs":true' in m.get("STATE", ""),
             f"lsinitramfs showed dm-mod.ko, so update-initramfs -u ran: the initramfs holds "
             f"{m.get('INITRD-DM')}", b)

    # ---- boot 2: the persisted build loads, the unit ran first -----------------------------
    step(sc, g, BOOT2)
    b = boot(sc, g, "persisted", srv)
    m = b.markers
    sc.check(m.get("DM", "").startswith("1 ") and f"srcversion={sv}" in m["DM"] and "E" in m["DM"].split("taint=")[1],
             f"the persisted build is the one loaded: {m.get('DM')}", b)
    loaded, userspace = float(m.get("DM-LOADED-AT") or 1e9) * 1e6, int(m.get("USERSPACE") or 0)
    kk_done = _before(sc, b, m, "KK", "KK")[1]
    sc.check(0 < loaded < userspace or loaded >= kk_done > 0,
             f"loaded at {loaded / 1e6:.2f} s: " + ("by the initramfs, before systemd started in the root "
             f"({userspace / 1e6:.2f} s)" if loaded < userspace else
             f"after kernelkeeper-modules.service finished ({kk_done / 1e6:.2f} s)"), b)
    _unit_checks(sc, b, m, "pass")
    sc.check(f"srcversion {sv}" in m.get("EVENT", "") and m.get("CATALOG", "0") != "0",
             f"journal: {m.get('EVENT')} (MESSAGE_ID, catalog text)", b)
    sc.check(m.get("STALE-RC") == "0" and f"updates/dm-mod.ko" in m.get("INITRD-DM-STALE", ""),
             "simulated kernel upgrade: the persisted file no longer matches module_layout, initramfs rebuilt with it", b)

    # ---- boot 3: stale -> not loaded, moved aside, the stock one loads -----------------------
    step(sc, g, BOOT3)
    b = boot(sc, g, "stale", srv)
    m = b.markers
    sc.say(f"the kernel's 'disagrees about version of symbol module_layout' (a stale copy offered to it): "
           f"{m.get('STALE-REFUSED')} message(s)")
    _unit_checks(sc, b, m, "stale")
    sc.check("fails module check" in m.get("EVENT", "") and "module_layout" in m.get("EVENT", ""),
             f"journal says why: {m.get('EVENT')}", b)
    sc.check("dm-mod.ko.kk-stale" in m.get("ASIDE", "") and m.get("DEP") == "0"
             and "updates" not in m.get("INITRD-DM", ""),
             f"moved aside ({m.get('ASIDE')}), not in modules.dep, not in the initramfs ({m.get('INITRD-DM')})", b)
    sc.check(m.get("MODPROBE-RC") == "0" and m.get("DM-NOW", "").startswith("1 ")
             and f"srcversion={sv}" not in m["DM-NOW"] and "E" not in m["DM-NOW"].split("taint=")[1],
             f"modprobe dm_mod loads the stock, signed module: {m.get('DM-NOW')}", b)


def _unit_checks(sc, b, m, verdict):
    sc.check(m.get("UNIT-KK", "").startswith("success/active"), f"kernelkeeper-modules.service: {m.get('UNIT-KK')}", b)
    for other, label in (("TRIGGER", "systemd-udev-trigger"), ("MODLOAD", "systemd-modules-load"),
                         ("MODPROBE", "modprobe@dm_mod (pulled in by systemd-repart)")):
        ok, done, start = _before(sc, b, m, "KK", other)
        if other != "TRIGGER" and start == 0 and done > 0:
            sc.say(f"systemd-modules-load did not run ({m.get('UNIT-MODLOAD')})")
            continue
        sc.check(ok, f"kernelkeeper-modules finished ({done / 1e6:.2f} s) before {label} started ({start / 1e6:.2f} s)", b)
    sc.check(m.get("CYCLES") == "0", "no ordering cycle in the journal", b)
    sc.say(f"lvm2 units: {m.get('LVM')} (lvm2 is not in the image)")
    sc.check(m.get("VERDICT") == verdict, f"journal event KK_MODULE_VERDICT={m.get('VERDICT')}", b)

#!/usr/bin/env bash
# Boot time of an appliance with mgr as PID 1 (qemu TCG, Debian's kernel, the VM test's
# initramfs and units): kernel start -> PID 1's boot done, and -> every unit running, from
# the guest's own clock (/proc/uptime); plus PID 1's and the supervisor's RSS at that point.
# Peer: the same kernel with a one-line busybox init (mount /proc, print the uptime), i.e. the
# floor any init pays for the kernel's own start under this emulation.
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
RUNS=${BOOT_RUNS:-5}
KERNEL=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
KVER=${KERNEL#/boot/vmlinuz-}
echo "## Boot (PID 1 in a VM)"
echo
if [ -z "$KERNEL" ] || ! command -v qemu-system-x86_64 >/dev/null || [ ! -x "$B/mgr" ]; then
    echo "skipped: needs qemu-system-x86_64, a kernel in /boot and $B/mgr"
    exit 0
fi
# lib.sh gives a scratch dir ($T_TMP) removed at exit, and make_busybox_rootfs.
source tests/integration/lib.sh >/dev/null 2>&1 || { echo "skipped: tests/integration/lib.sh"; exit 0; }
T=$T_TMP
mkdir -p "$T/rootfs"
make_busybox_rootfs "$T/rootfs" >/dev/null 2>&1
bash tests/vm/mkinitramfs.sh --mgr "$B/mgr" --kver "$KVER" --busybox --modules "overlay veth bridge" \
    --hostname mgrt-bench --units examples/appliance --rootfs "$T/rootfs:/srv/busybox" \
    --add tests/vm/guest/vmtest.sh:/usr/libexec/mgr-vmtest "$T/mgr.cpio" 2>/dev/null

# The floor: busybox as init, mount /proc, print the uptime, power off.
mkdir -p "$T/base/bin" "$T/base/proc" "$T/base/dev"
cp /bin/busybox "$T/base/bin/busybox"
printf '#!/bin/busybox sh\n/bin/busybox mount -t proc proc /proc\necho "BASE $(/bin/busybox cut -d" " -f1 /proc/uptime)"\n/bin/busybox poweroff -f\n' >"$T/base/init"
chmod +x "$T/base/init"
mknod -m 600 "$T/base/dev/console" c 5 1
(cd "$T/base" && find . | cpio -o -H newc -R 0:0 --quiet) >"$T/base.cpio"

qemu() { # INITRD APPEND -> console on stdout
    timeout -k 5 120 qemu-system-x86_64 -accel tcg,thread=multi -cpu max -m 512M -nographic \
        -no-reboot -nic none -kernel "$KERNEL" -initrd "$1" \
        -append "console=ttyS0 panic=-1 quiet $2" </dev/null 2>&1 | tr -d '\r'
}
median() { sort -n | awk '{a[NR] = $1} END {if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

: >"$T/helpers.txt" >"$T/nh.txt" >"$T/start.txt" >"$T/base.txt" >"$T/done.txt" >"$T/up.txt" >"$T/sup.txt" >"$T/pid1.txt" >"$T/wall.txt"
for i in $(seq "$RUNS"); do
    qemu "$T/base.cpio" "rdinit=/init" | sed -n 's/.*BASE \([0-9.]*\).*/\1/p' >>"$T/base.txt"
    t0=$(date +%s.%N)
    out=$(qemu "$T/mgr.cpio" "rdinit=/sbin/init mgr.run=/usr/libexec/mgr-vmtest mgrtest.mode=bench")
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}' >>"$T/wall.txt"
    echo "$out" | sed -n 's/.*mgr: starting as PID 1 .* at \([0-9.]*\)s,.*/\1/p' >>"$T/start.txt"
    echo "$out" | sed -n 's/.*mgr: boot done in \([0-9.]*\)s$/\1/p' >>"$T/done.txt"
    line=$(echo "$out" | grep '^VMBENCH units_up_s=' | tail -n 1)
    [ -n "$line" ] || { echo "$out" | tail -n 20 >&2; continue; }
    echo "$line" | sed -n 's/.*units_up_s=\([0-9.]*\).*/\1/p' >>"$T/up.txt"
    echo "$line" | sed -n 's/.*supervisor_rss_kb=\([0-9]*\).*/\1/p' >>"$T/sup.txt"
    echo "$line" | sed -n 's/.*pid1_rss_kb=\([0-9]*\).*/\1/p' >>"$T/pid1.txt"
    echo "$line" | sed -n 's/.*helpers_rss_kb=\([0-9]*\).*/\1/p' >>"$T/helpers.txt"
    echo "$line" | sed -n 's/.* helpers=\([0-9]*\).*/\1/p' >>"$T/nh.txt"
done
base=$(median <"$T/base.txt")
done_s=$(median <"$T/done.txt")
up=$(median <"$T/up.txt")
echo "qemu TCG (no KVM), 512 MiB, Debian kernel $KVER, median of $RUNS boots; times from the"
echo "guest's /proc/uptime (kernel start = 0). Units: examples/appliance (a bridge network"
echo "and two busybox containers, one depending on the other). The initramfs is $(du -h "$T/mgr.cpio" | cut -f1)."
echo
echo "| what | median | vs busybox init floor |"
echo "|---|---|---|"
echo "| busybox init: kernel start -> first userspace line (floor) | ${base}s | 1.00 |"
start=$(median <"$T/start.txt")
echo "| mgr PID 1: kernel start -> PID 1 running (kernel, unpacking the initramfs) | ${start}s | $(awk -v a="$start" -v b="$base" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}') |"
echo "| mgr PID 1: kernel start -> boot done (mounts, modules, lo) | ${done_s}s | $(awk -v a="$done_s" -v b="$base" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}') |"
echo "| mgr: kernel start -> all units running | ${up}s | $(awk -v a="$up" -v b="$base" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}') |"
echo "| PID 1 RSS at that point | $(median <"$T/pid1.txt") KiB | |"
echo "| supervisor RSS at that point | $(median <"$T/sup.txt") KiB | |"
echo "| its helper processes (mgr-*, $(median <"$T/nh.txt") of them), RSS together | $(median <"$T/helpers.txt") KiB | |"
echo "| wall time per boot, host side | $(median <"$T/wall.txt")s | |"
echo
echo "Successful boots: $(wc -l <"$T/up.txt") of $RUNS."

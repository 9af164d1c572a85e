#!/usr/bin/env bash
# Cgroup benchmark (as root): the cost of creating a container's group, configuring five
# controllers (memory, cpu, cpuset, pids, devices) and removing it, through core/cgroup.h,
# per backend available on this host; against the same files written by a shell loop
# (mkdir, echo, rmdir: the floor any tool pays). crun/runc cannot run on this hybrid host.
# Groups live under mgrt-cgbench-PID and are removed. Prints a markdown section; exits 0.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
N=${CG_BENCH_N:-300}
NSH=${CG_BENCH_NSH:-60}
CG=/sys/fs/cgroup
P=mgrt-cgbench-$$

echo "## Cgroups"
echo
if [ "$(id -u)" != 0 ]; then echo "skipped: needs root"; exit 0; fi
command -v cc >/dev/null || { echo "skipped: needs cc"; exit 0; }
TMP=$(mktemp -d /tmp/mgrt-cgbench.XXXXXX)
V2=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
cleanup() {
    local d
    for d in "$CG"/*/"$P" "$V2/$P"; do
        [ -d "$d" ] || continue
        find "$d" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
        rmdir "$d" 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

cc -std=gnu11 -D_GNU_SOURCE -O2 -I"$TOP/core" -o "$TMP/cgdrv" "$TOP/tests/integration/cgdrv.c" \
    "$TOP"/core/cgroup.c "$TOP"/core/cgroup_v1.c "$TOP"/core/cgroup_v2.c "$TOP"/core/cgroup_dev.c \
    "$TOP"/core/util.c "$TOP"/core/err.c "$TOP"/core/sys.c "$TOP"/core/unit.c ||
    { echo "skipped: cannot build the driver"; exit 0; }

LIMITS=(--mem-max 64M --cpu-max 500 --weight 200 --cpus 0 --pids-max 100 --dev /dev/null:rw)
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else printf "%.0f\n", (a[NR/2]+a[NR/2+1])/2}'; }
field() { awk -v k="$1" '$1 == k {print $2}'; }

echo "Median of $N create+configure+remove cycles of one group with memory.max, cpu max and"
echo "weight, cpuset.cpus, pids.max and the device allow-list (+ one rule); the shell row writes"
echo "the same v1 files with bash builtins plus mkdir/rmdir processes (median of $NSH)."
echo
echo "| backend | create + configure (µs) | remove (µs) | total (µs) | shell time / this |"
echo "|---|---|---|---|---|"

# shell floor first (its median is the ratio base)
sh_us="nan"
if [ -d $CG/memory ] && [ -d $CG/devices ]; then
    ts=()
    for i in $(seq "$NSH"); do
        t0=$(date +%s%N)
        for h in memory cpu cpuset pids devices; do mkdir -p "$CG/$h/$P/sh"; done
        echo 67108864 >"$CG/memory/$P/sh/memory.limit_in_bytes"
        echo 2048 >"$CG/cpu/$P/sh/cpu.shares"
        echo 100000 >"$CG/cpu/$P/sh/cpu.cfs_period_us"
        echo 50000 >"$CG/cpu/$P/sh/cpu.cfs_quota_us"
        cat "$CG/cpuset/cpuset.mems" >"$CG/cpuset/$P/cpuset.mems" 2>/dev/null
        cat "$CG/cpuset/cpuset.cpus" >"$CG/cpuset/$P/cpuset.cpus" 2>/dev/null
        echo 0 >"$CG/cpuset/$P/sh/cpuset.cpus"
        cat "$CG/cpuset/cpuset.mems" >"$CG/cpuset/$P/sh/cpuset.mems"
        echo 100 >"$CG/pids/$P/sh/pids.max"
        echo a >"$CG/devices/$P/sh/devices.deny"
        for r in "c *:* m" "b *:* m" "c 1:3 rwm" "c 1:5 rwm" "c 1:7 rwm" "c 1:8 rwm" "c 1:9 rwm" \
            "c 5:0 rwm" "c 5:1 rwm" "c 5:2 rwm" "c 136:* rwm" "c 1:3 rw"; do
            echo "$r" >"$CG/devices/$P/sh/devices.allow"
        done
        for h in memory cpu cpuset pids devices; do rmdir "$CG/$h/$P/sh"; done
        t1=$(date +%s%N)
        ts+=($(((t1 - t0) / 1000)))
    done
    sh_us=$(printf '%s\n' "${ts[@]}" | median)
fi

row() { # row LABEL DRIVER-FLAGS...
    local label=$1; shift
    local out
    if ! out=$("$TMP/cgdrv" -p "$P" "$@" bench b "$N" "${LIMITS[@]}" 2>&1); then
        echo "| $label | skipped: ${out//|/} | | | |"
        return
    fi
    local c d t ratio="n/a"
    c=$(field create_us <<<"$out"); d=$(field destroy_us <<<"$out"); t=$(field total_us <<<"$out")
    [ "$sh_us" != nan ] && ratio=$(awk -v a="$t" -v b="$sh_us" 'BEGIN {printf "%.0fx", b / a}')
    echo "| $label | $c | $d | $t | $ratio |"
}

if [ -d $CG/memory ]; then
    if [ -n "$V2" ]; then
        row "hybrid: v1 controllers + v2 group (default here)"
        row "v1 + v2 group, devices by BPF on v2" -x devices
    fi
    row "v1 only" -1
else
    echo "| v1 | skipped: no cgroup v1 hierarchies | | | |"
fi
if [ -f $CG/cgroup.controllers ] && grep -qw memory $CG/cgroup.controllers; then
    row "v2 (unified)"
else
    echo "| v2 (unified, all controllers) | skipped: no v2 hierarchy with controllers on this host | | | |"
fi
echo "| shell (mkdir + echo + rmdir, v1) | | | $sh_us | 1x |"
exit 0

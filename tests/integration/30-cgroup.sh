#!/bin/bash
# Cgroups through the core/cgroup API (tests/integration/cgdrv.c drives it), checked from
# outside: values in the cgroup files, enforcement (OOM kill, pids.max, cpu.max, cpuset,
# device EPERM), freeze/thaw, kill, events, cleanup. Every group lives under mgrt-PID.
source "$(dirname "$0")/lib.sh"
requires root cmd:cc

CG=/sys/fs/cgroup
P=mgrt-$$
DRV="$T_TMP/cgdrv"
# v2 side: the cgroup2 mount (pure v2 host: /sys/fs/cgroup itself; hybrid: .../unified)
V2=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)

cc -std=gnu11 -D_GNU_SOURCE -O1 -g -I"$TOP/core" -o "$DRV" "$TOP/tests/integration/cgdrv.c" \
    "$TOP"/core/cgroup.c "$TOP"/core/cgroup_v1.c "$TOP"/core/cgroup_v2.c "$TOP"/core/cgroup_dev.c \
    "$TOP"/core/util.c "$TOP"/core/err.c "$TOP"/core/sys.c "$TOP"/core/unit.c || {
    echo "  cannot build the cgroup driver"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }

# Kills whatever runs in our groups and removes them (deepest first), in every hierarchy.
cleanup_groups() {
    local d
    for d in "$CG"/*/"$P" "$CG"/*/"$P"-out "$V2/$P" "$V2/$P-out"; do
        [ -d "$d" ] || continue
        find "$d" -mindepth 1 -depth -type d | while read -r g; do
            [ -f "$g/cgroup.freeze" ] && echo 0 >"$g/cgroup.freeze"
            [ -f "$g/freezer.state" ] && echo THAWED >"$g/freezer.state"
            xargs -r kill -9 <"$g/cgroup.procs" 2>/dev/null
            for _ in 1 2 3 4 5 6 7 8 9 10; do rmdir "$g" 2>/dev/null && break; sleep 0.05; done
        done
        rmdir "$d" 2>/dev/null
    done
    return 0
}
on_exit cleanup_groups

drv() { "$DRV" -p "$P" "$@"; }
# HAVE_V1: v1 controller hierarchies (this dev host); else a pure v2 host, where the
# v1-only cases skip and the rest read the v2 group.
HAVE_V1=0; [ -d $CG/memory ] && [ -d $CG/pids ] && HAVE_V1=1
# gpath CTRL NAME [PARENT]: the group directory serving controller CTRL (v1 name)
gpath() { if [ $HAVE_V1 = 1 ]; then echo "$CG/$1/${3:-$P}/$2"; else echo "$V2/${3:-$P}/$2"; fi; }
usage_ns() {
    if [ $HAVE_V1 = 1 ] && [ -d $CG/cpuacct ]; then cat "$(gpath cpuacct "$1")/cpuacct.usage"
    else echo $(($(awk '$1 == "usage_usec" {print $2}' "$V2/$P/$1/cpu.stat") * 1000)); fi
}
need_v1() { [ $HAVE_V1 = 1 ] || skip "checks the cgroup v1 files (this host is pure v2)"; }
v1() { cat "$CG/$1/$P/$2/$3"; }
# nprocs_ge GROUPDIR N: at least N processes in the group (cgroup files have size 0: read them)
nprocs_ge() { [ "$(wc -l <"$1/cgroup.procs")" -ge "$2" ]; }
has_v2() { [ -n "$V2" ] && [ -d "$V2" ]; }
ncpu=$(nproc)
last_cpu=$((ncpu - 1))

t_layout() {
    local out; out=$("$DRV" layout)
    [ -d $CG/memory ] && { assert_contains "$out" "memory v1" || return 1; }
    if has_v2 && grep -qw hugetlb "$V2/cgroup.controllers" && [ ! -d $CG/hugetlb ]; then
        assert_contains "$out" "hugetlb v2" || return 1
    fi
    return 0
}

t_limits_land() {
    need_v1
    local huge=()
    grep -q hugetlb <("$DRV" layout | grep -v none) && [ -d /sys/kernel/mm/hugepages/hugepages-2048kB ] &&
        huge=(--hugetlb 2MB=4M)
    drv create lim --mem-max 64M --swap 0 --mem-low 16M --cpu-max 200 --weight 200 --cpus "$last_cpu" \
        --pids-max 20 --dev /dev/kmsg:r "${huge[@]}" || return 1
    assert_eq "$(v1 memory lim memory.limit_in_bytes)" 67108864 memory.limit_in_bytes || return 1
    if [ -f "$CG/memory/$P/lim/memory.memsw.limit_in_bytes" ]; then
        assert_eq "$(v1 memory lim memory.memsw.limit_in_bytes)" 67108864 memsw || return 1
    fi
    assert_eq "$(v1 memory lim memory.soft_limit_in_bytes)" 16777216 soft_limit || return 1
    assert_eq "$(v1 cpu lim cpu.cfs_quota_us)" 20000 cfs_quota_us || return 1
    assert_eq "$(v1 cpu lim cpu.cfs_period_us)" 100000 cfs_period_us || return 1
    assert_eq "$(v1 cpu lim cpu.shares)" 2048 cpu.shares || return 1
    assert_eq "$(v1 cpuset lim cpuset.cpus)" "$last_cpu" cpuset.cpus || return 1
    assert_eq "$(v1 cpuset lim cpuset.mems)" "$(cat $CG/cpuset/cpuset.mems)" "cpuset.mems (inherited)" || return 1
    assert_eq "$(v1 pids lim pids.max)" 20 pids.max || return 1
    local devs; devs=$(v1 devices lim devices.list)
    assert_contains "$devs" "c 1:3 rwm" devices.list || return 1
    assert_contains "$devs" "c 136:* rwm" devices.list || return 1
    assert_contains "$devs" "c 1:11 r" devices.list || return 1
    assert_not_contains "$devs" "a *:*" devices.list || return 1
    if [ ${#huge[@]} -gt 0 ]; then
        local hf; hf=$(ls "$V2/$P/lim/hugetlb.2MB.max" "$CG/hugetlb/$P/lim/hugetlb.2MB.limit_in_bytes" 2>/dev/null | head -1)
        assert_eq "$(cat "$hf")" 4194304 hugetlb || return 1
    fi
    # live update
    drv update lim --mem-max 32M --pids-max 5 || return 1
    assert_eq "$(v1 memory lim memory.limit_in_bytes)" 33554432 "updated memory.limit_in_bytes" || return 1
    assert_eq "$(v1 pids lim pids.max)" 5 "updated pids.max" || return 1
    drv destroy lim || return 1
    [ ! -d "$CG/memory/$P/lim" ] || fail "group left after destroy"
}

t_refused() {
    need_v1
    local out
    out=$(drv create ref --mem-max 64M --mem-min 1M 2>&1) && { fail "mem-min accepted on v1"; return 1; }
    assert_contains "$out" "resources.memory.min" || return 1
    [ ! -d "$CG/memory/$P/ref" ] || { fail "refused group was created"; return 1; }
    out=$(drv check --mem-high 1M --mem-min 1M --oom-group 1 --swap 1M)
    assert_contains "$out" "resources.memory.high: cgroup v1" || return 1
    assert_contains "$out" "resources.memory.oom_group: cgroup v1" || return 1
    assert_contains "$out" "resources.memory.swap_max:" || return 1
    # no bfq scheduler anywhere: io weight is refused, not silently ignored
    if ! grep -q '\[bfq\]' /sys/block/*/queue/scheduler 2>/dev/null; then
        out=$(drv check --io-weight 100)
        assert_contains "$out" "resources.io.weight: no block device uses the bfq scheduler" || return 1
    fi
    out=$(drv check --cpus 4000)
    assert_contains "$out" "resources.cpu.cpus" || return 1
}

t_oom() {
    drv create oom --mem-max 32M --swap 0 || return 1
    local rc=0
    drv exec oom -- tail /dev/zero 2>/dev/null || rc=$?
    assert_eq "$rc" 137 "exit status of the allocating process" || return 1
    local st; st=$(drv stats oom)
    assert_contains "$st" "oom_kills=1" stats || return 1
    assert_match "$st" "mem_peak=3[0-9]{7}" stats || return 1
    drv destroy oom
}

t_pids() {
    drv create pb --pids-max 10 || return 1
    drv exec pb -- sh -c 'for i in $(seq 40); do sleep 2 & done 2>/dev/null; wait' 2>/dev/null &
    local pid=$! max=0 n
    for _ in $(seq 30); do
        n=$(cat "$(gpath pids pb)/pids.current"); [ "$n" -gt "$max" ] && max=$n
        sleep 0.03
    done
    # the shell stops at its first failed fork: 10 = the shell + 9 sleeps, sampled around it
    [ "$max" -le 10 ] && [ "$max" -ge 9 ] || { fail "peak pids.current $max, expected 9-10"; return 1; }
    assert_match "$(cat "$(gpath pids pb)/pids.events")" "max [1-9]" pids.events || return 1
    drv kill pb 9 || return 1
    wait $pid
    wait_for 3 drv empty pb || return 1
    drv destroy pb
}

t_cpu_max() {
    drv create busy --cpu-max 200 || return 1
    drv exec busy -- sh -c 'while :; do :; done' &
    local pid=$!
    sleep 0.3
    local u1 t1 u2 t2
    u1=$(usage_ns busy); t1=$(date +%s%N)
    sleep 2
    u2=$(usage_ns busy); t2=$(date +%s%N)
    local permille=$(((u2 - u1) * 1000 / (t2 - t1)))
    drv kill busy 9; wait $pid 2>/dev/null
    echo "  cpu.max 0.2: measured $permille/1000 of a CPU"
    [ $permille -ge 150 ] && [ $permille -le 250 ] || fail "cpu use $permille/1000, expected ~200"
    wait_for 3 drv empty busy && drv destroy busy
}

t_cpuset() {
    drv create pin --cpus "$last_cpu" || return 1
    local out; out=$(drv exec pin -- grep Cpus_allowed_list /proc/self/status)
    assert_match "$out" "Cpus_allowed_list:[[:space:]]+$last_cpu\$" || return 1
    drv destroy pin
}

# $1: extra driver flags; checks EPERM for a node without a rule, read-only rule for kmsg.
dev_checks() {
    local flags=$1
    "$DRV" -p "$P" $flags create dev --dev /dev/kmsg:r || return 1
    local out
    out=$("$DRV" -p "$P" $flags exec dev -- sh -c '
        n='"$T_TMP"'/mgrt-node; rm -f $n
        mknod $n c 1 1 && echo mknod=ok
        head -c1 $n >/dev/null 2>$n.err; echo mem=$?; cat $n.err; rm -f $n $n.err
        head -c1 /dev/null; echo null=$?
        : </dev/kmsg && echo kmsg_read=ok
        ( echo >/dev/kmsg ) 2>/dev/null || echo kmsg_write=denied' 2>&1)
    assert_contains "$out" "mknod=ok" || return 1
    assert_contains "$out" "mem=1" || return 1
    assert_contains "$out" "Operation not permitted" || return 1
    assert_contains "$out" "null=0" || return 1
    assert_contains "$out" "kmsg_read=ok" || return 1
    assert_contains "$out" "kmsg_write=denied" || return 1
    "$DRV" -p "$P" $flags destroy dev
}
t_devices_v1() { need_v1; dev_checks ""; }
t_devices_v2_bpf() {
    has_v2 || skip "no cgroup2 mount"
    # without the v1 devices hierarchy, the v2 group gets the BPF device program
    dev_checks "-x devices"
}

freeze_checks() {
    local flags=$1
    "$DRV" -p "$P" $flags create frz || return 1
    "$DRV" -p "$P" $flags exec frz -- sh -c 'while :; do :; done' &
    local pid=$! a b c
    sleep 0.2
    "$DRV" -p "$P" $flags freeze frz 1 || return 1
    a=$(usage_ns frz); sleep 0.4; b=$(usage_ns frz)
    assert_eq "$((b - a))" 0 "cpu use while frozen (ns)" || return 1
    "$DRV" -p "$P" $flags freeze frz 0 || return 1
    sleep 0.3; c=$(usage_ns frz)
    [ $((c - b)) -gt 50000000 ] || { fail "no cpu use after thaw: $((c - b)) ns"; return 1; }
    "$DRV" -p "$P" $flags kill frz 9; wait $pid 2>/dev/null
    wait_for 3 "$DRV" -p "$P" $flags empty frz && "$DRV" -p "$P" $flags destroy frz
}
t_freeze_v1() { need_v1; freeze_checks ""; }
t_freeze_v2() {
    has_v2 || skip "no cgroup2 mount"
    freeze_checks "-x freezer"
}

kill_checks() {
    local flags=$1
    "$DRV" -p "$P" $flags create kil || return 1
    "$DRV" -p "$P" $flags exec kil -- sh -c 'sleep 60 & sleep 60 & (sleep 60 &); trap "" TERM; sleep 60' &
    local pid=$!
    wait_for 3 nprocs_ge "$(gpath pids kil)" 4 || return 1
    "$DRV" -p "$P" $flags empty kil && { fail "reported empty while running"; return 1; }
    "$DRV" -p "$P" $flags kill kil 9 || return 1
    wait $pid 2>/dev/null
    wait_for 3 "$DRV" -p "$P" $flags empty kil || return 1
    assert_eq "$(cat "$(gpath pids kil)/cgroup.procs")" "" "cgroup.procs after kill" || return 1
    "$DRV" -p "$P" $flags destroy kil
}
t_kill_v1_iterate() { need_v1; kill_checks "-1"; }
t_kill_v2() {
    has_v2 && [ -e "$V2/cgroup.procs" ] || skip "no cgroup2 mount"
    kill_checks ""
}

t_events() {
    has_v2 || skip "no cgroup2 mount: no cgroup.events"
    drv create ev || return 1
    drv exec ev -- sleep 0.5 &
    local pid=$!
    wait_for 2 nprocs_ge "$V2/$P/ev" 1 || return 1
    local out; out=$(drv evwait ev 5)
    assert_eq "$out" event "poll on cgroup.events" || return 1
    wait $pid
    assert_eq "$(drv empty ev)" empty || return 1
    drv destroy ev
}

t_cycles() {
    local start end
    start=$(date +%s%N)
    drv cycle cyc 100 --mem-max 64M --cpu-max 500 --pids-max 50 --cpus 0 --dev /dev/kmsg:r || return 1
    end=$(date +%s%N)
    echo "  100 create/attach/kill/destroy cycles: $(((end - start) / 1000000)) ms"
    local left; left=$(ls -d "$CG"/*/"$P"/cyc "$V2/$P/cyc" 2>/dev/null)
    assert_eq "$left" "" "groups left after 100 cycles" || return 1
}

t_reclaim() {
    drv create keep || return 1
    drv create old || return 1
    drv exec old -- sleep 60 &
    local pid=$!
    wait_for 2 nprocs_ge "$(gpath pids old)" 1 || return 1
    # a group next to ours (not below our parent) must survive
    "$DRV" -p "$P-out" create other || return 1
    local n; n=$(drv reclaim keep) || return 1
    assert_eq "$n" 1 "groups reclaimed" || return 1
    wait $pid 2>/dev/null
    kill -0 $pid 2>/dev/null && { fail "process of the reclaimed group survived"; return 1; }
    [ ! -d "$(gpath memory old)" ] || { fail "old group still there"; return 1; }
    [ -d "$(gpath memory keep)" ] || { fail "kept group removed"; return 1; }
    [ -d "$(gpath memory other "$P-out")" ] || { fail "group outside the parent removed"; return 1; }
    drv destroy keep && "$DRV" -p "$P-out" destroy other
}

t_leftovers() {
    # an empty half-made leftover (only in some hierarchies) is reused
    mkdir -p "$(gpath memory left)" || return 1
    drv create left --pids-max 7 || return 1
    assert_eq "$(cat "$(gpath pids left)/pids.max")" 7 pids.max || return 1
    # a group that still has processes is refused, and left alone
    "$DRV" -p "$P" exec left -- sleep 30 &
    local pid=$!
    wait_for 2 nprocs_ge "$(gpath pids left)" 1 || return 1
    local out; out=$(drv create left 2>&1) && { fail "live group re-created"; return 1; }
    assert_contains "$out" "exists and has processes" || return 1
    grep -qx "$pid" "$(gpath memory left)/cgroup.procs" || { fail "process moved out"; return 1; }
    drv kill left 9; wait $pid 2>/dev/null
    wait_for 3 drv empty left && drv destroy left
}

t_v2_controllers() {
    [ -f $CG/cgroup.controllers ] && grep -qw memory $CG/cgroup.controllers ||
        skip "no cgroup v2 hierarchy with controllers on this host (v2 limits run in the VM test)"
    drv create v2 --mem-max 64M --cpu-max 200 --pids-max 20 || return 1
    assert_eq "$(cat $CG/$P/v2/memory.max)" 67108864 memory.max || return 1
    assert_eq "$(cat $CG/$P/v2/cpu.max)" "20000 100000" cpu.max || return 1
    assert_eq "$(cat $CG/$P/v2/pids.max)" 20 pids.max || return 1
    drv destroy v2
}

[ $HAVE_V1 = 1 ] || [ -n "$V2" ] || { echo "  skipped: no cgroup hierarchy"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
tcase layout t_layout
tcase limits-land-in-files t_limits_land
tcase refused-keys t_refused
tcase oom-kill-reported t_oom
tcase fork-bomb-stops-at-pids-max t_pids
tcase cpu-max-0.2 t_cpu_max
tcase cpuset-pins t_cpuset
tcase devices-v1 t_devices_v1
tcase devices-v2-bpf t_devices_v2_bpf
tcase freeze-v1 t_freeze_v1
tcase freeze-v2 t_freeze_v2
tcase kill-v1-iterate t_kill_v1_iterate
tcase kill-v2 t_kill_v2
tcase events-v2 t_events
tcase 100-cycles-leave-nothing t_cycles
tcase reclaim-only-ours t_reclaim
tcase leftovers t_leftovers
tcase v2-controllers t_v2_controllers
finish

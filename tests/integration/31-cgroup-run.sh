#!/bin/bash
# Cgroup limits of real containers (`mgr run`), checked from outside: the container's init is
# in its group in every hierarchy, each limit is in the right file with the right value and
# is enforced (OOM kill counted, pids.max, cpu.max, cpuset, device EPERM), refused keys stop
# the start, and nothing is left behind. Container names start with mgrtcg; their groups live
# below the test's own parent (--cgroup-parent through MGR_CGROUP_PARENT). Runs on a v1 (or
# hybrid) host and on a pure v2 host, reading each version's files.
source "$(dirname "$0")/lib.sh"
requires root file:/bin/busybox

CG=/sys/fs/cgroup
V2=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
if [ -d $CG/memory ] && [ -d $CG/pids ]; then
    MODE=v1
elif [ -f $CG/cgroup.controllers ] && grep -qw memory $CG/cgroup.controllers &&
    grep -qw pids $CG/cgroup.controllers; then
    MODE=v2
else
    echo "  skipped: neither cgroup v1 memory/pids hierarchies nor a v2 hierarchy with them"
    echo "0 passed, 0 failed, 1 skipped"; exit 0
fi
ROOTFS="$T_TMP/rootfs"
make_busybox_rootfs "$ROOTFS"
last_cpu=$(($(nproc) - 1))
export MGR_CGROUP_PARENT=mgrt-run-$$
drop_parent() {
    local d
    for d in "$CG"/*/"$MGR_CGROUP_PARENT" "$V2/$MGR_CGROUP_PARENT"; do
        [ -d "$d" ] || continue
        find "$d" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
        rmdir "$d"
    done
    return 0
}
on_exit drop_parent

mk() {
    { echo "name: $1"; echo "image: dir:$ROOTFS"; cat; } | unit "$T_TMP/$1.yaml"
}
# grp CTRL NAME: the container's group directory serving controller CTRL (v1 name)
grp() { if [ $MODE = v1 ]; then echo "$CG/$1/$MGR_CGROUP_PARENT/$2"; else echo "$CG/$MGR_CGROUP_PARENT/$2"; fi; }
# file V1FILE V2FILE: the file name for this host's version
file() { if [ $MODE = v1 ]; then echo "$1"; else echo "$2"; fi; }
# cpu_ns NAME: CPU time of the group in ns
cpu_ns() {
    if [ $MODE = v1 ]; then cat "$(grp cpuacct "$1")/cpuacct.usage"
    else echo $(($(awk '$1 == "usage_usec" {print $2}' "$(grp cpu "$1")/cpu.stat") * 1000)); fi
}
init_pid() { head -1 "$(grp pids "$1")/cgroup.procs" 2>/dev/null; }
started() { [ -n "$(init_pid "$1")" ]; }
# start NAME: mgr run in the background; waits until the container's init is in its group.
start() {
    "$MGR" run "$T_TMP/$1.yaml" >"$T_TMP/$1.out" 2>&1 &
    echo $! >"$T_TMP/$1.mgrpid"
    on_exit "kill -9 $! 2>/dev/null"
    wait_for 5 started "$1"
}
# stop NAME: SIGTERM through mgr run; an init that ignores it (sh as PID 1) is SIGKILLed
# from outside, and mgr run then tears the container down.
stop() {
    local p i; p=$(cat "$T_TMP/$1.mgrpid")
    kill -TERM "$p" 2>/dev/null
    wait_for 2 not_running "$p" || { i=$(init_pid "$1"); [ -n "$i" ] && kill -9 "$i"; }
    wait "$p" 2>/dev/null
    return 0
}
not_running() { ! kill -0 "$1" 2>/dev/null; }
gone() {
    local d
    for d in "$CG"/*/"$MGR_CGROUP_PARENT/$1" "$V2/$MGR_CGROUP_PARENT/$1"; do [ -e "$d" ] && return 1; done
    return 0
}

t_limits_in_files() {
    mk mgrtcg-lim <<EOF
command: ["/bin/sleep", "30"]
resources:
  memory: {max: 64M, low: 8M}
  cpu: {weight: 50, max: 0.2, cpus: "$last_cpu"}
  pids: {max: 16}
  devices: [{path: /dev/kmsg, access: r}]
EOF
    start mgrtcg-lim || { cat "$T_TMP/mgrtcg-lim.out"; return 1; }
    local pid h; pid=$(init_pid mgrtcg-lim)
    for h in memory cpu cpuacct cpuset pids devices freezer blkio; do
        [ $MODE = v1 ] && [ -d $CG/$h ] || continue
        grep -qx "$pid" "$(grp $h mgrtcg-lim)/cgroup.procs" || { fail "init not in $h group"; return 1; }
    done
    if [ -n "$V2" ]; then
        grep -qx "$pid" "$V2/$MGR_CGROUP_PARENT/mgrtcg-lim/cgroup.procs" || { fail "init not in the v2 group"; return 1; }
    fi
    local f
    f=$(file memory.limit_in_bytes memory.max)
    assert_eq "$(cat "$(grp memory mgrtcg-lim)/$f")" 67108864 "$f" || return 1
    f=$(file memory.soft_limit_in_bytes memory.low)
    assert_eq "$(cat "$(grp memory mgrtcg-lim)/$f")" 8388608 "$f" || return 1
    if [ $MODE = v1 ]; then
        assert_eq "$(cat "$(grp cpu mgrtcg-lim)/cpu.cfs_quota_us")" 20000 cfs_quota_us || return 1
        assert_eq "$(cat "$(grp cpu mgrtcg-lim)/cpu.shares")" 512 "cpu.shares (weight 50)" || return 1
    else
        assert_eq "$(cat "$(grp cpu mgrtcg-lim)/cpu.max")" "20000 100000" cpu.max || return 1
        assert_eq "$(cat "$(grp cpu mgrtcg-lim)/cpu.weight")" 50 cpu.weight || return 1
    fi
    assert_eq "$(cat "$(grp cpuset mgrtcg-lim)/cpuset.cpus")" "$last_cpu" cpuset.cpus || return 1
    assert_match "$(grep Cpus_allowed_list /proc/$pid/status)" "[[:space:]]$last_cpu\$" "init's affinity" || return 1
    assert_eq "$(cat "$(grp pids mgrtcg-lim)/pids.max")" 16 pids.max || return 1
    if [ $MODE = v1 ]; then # on v2 the BPF program is checked by its effect (t_devices)
        local devs; devs=$(cat "$(grp devices mgrtcg-lim)/devices.list")
        assert_contains "$devs" "c 1:11 r" devices.list || return 1
        assert_not_contains "$devs" "a *:* rwm" devices.list || return 1
    fi
    stop mgrtcg-lim
    wait_for 3 gone mgrtcg-lim || { fail "groups left after the container exited"; return 1; }
}

t_oom_kill() {
    # a child allocates past memory.max and is OOM-killed; init survives and reports it
    mk mgrtcg-oom <<'EOF'
command: ["/bin/sh", "-c", "sh -c 'x=$(head -c 200000000 /dev/zero | tr \"\\0\" a)'; echo child=$?; sleep 30"]
resources:
  memory: {max: 32M, swap_max: 0}
EOF
    start mgrtcg-oom || return 1
    local f
    wait_for 10 grep -q child= "$T_TMP/mgrtcg-oom.out" || return 1
    assert_contains "$(cat "$T_TMP/mgrtcg-oom.out")" "child=137" || return 1
    f=$(file memory.oom_control memory.events)
    assert_match "$(cat "$(grp memory mgrtcg-oom)/$f")" "oom_kill [1-9]" "$f" || return 1
    stop mgrtcg-oom
}

t_fork_bomb() {
    mk mgrtcg-pids <<'EOF'
command: ["/bin/sh", "-c", "(for i in $(seq 100); do sleep 30 & done) 2>/dev/null; echo bombed; sleep 30"]
resources:
  pids: {max: 12}
EOF
    start mgrtcg-pids || return 1
    wait_for 5 grep -q bombed "$T_TMP/mgrtcg-pids.out" || return 1
    local n; n=$(cat "$(grp pids mgrtcg-pids)/pids.current")
    [ "$n" -le 12 ] && [ "$n" -ge 10 ] || { fail "pids.current $n, expected at most 12 and near it"; return 1; }
    assert_match "$(cat "$(grp pids mgrtcg-pids)/pids.events")" "max [1-9]" pids.events || return 1
    stop mgrtcg-pids
    wait_for 3 gone mgrtcg-pids || { fail "groups left"; return 1; }
}

t_cpu_max() {
    mk mgrtcg-cpu <<'EOF'
command: ["/bin/sh", "-c", "while :; do :; done"]
resources:
  cpu: {max: 0.2}
EOF
    start mgrtcg-cpu || return 1
    sleep 0.3
    local u1 t1 u2 t2
    u1=$(cpu_ns mgrtcg-cpu); t1=$(date +%s%N); sleep 2; u2=$(cpu_ns mgrtcg-cpu); t2=$(date +%s%N)
    local pm=$(((u2 - u1) * 1000 / (t2 - t1)))
    echo "  container under cpu.max 0.2: $pm/1000 of a CPU"
    stop mgrtcg-cpu
    [ $pm -ge 150 ] && [ $pm -le 250 ] || fail "cpu use $pm/1000, expected ~200"
}

t_devices() {
    # loop-control bind-mounted with a read-only rule; hwrng bind-mounted without a rule
    # (both open without capabilities, unlike kmsg, which needs CAP_SYSLOG)
    [ -c /dev/loop-control ] && [ -c /dev/hwrng ] || skip "needs /dev/loop-control and /dev/hwrng"
    mk mgrtcg-dev <<'EOF'
command: ["/bin/sh", "-c", ": </dev/loop-control && echo lc_read=ok; (: >/dev/loop-control) 2>&1; (: </dev/hwrng) 2>&1; : </dev/null && echo null=ok"]
mounts:
  - {type: bind, source: /dev/loop-control, target: /dev/loop-control}
  - {type: bind, source: /dev/hwrng, target: /dev/hwrng}
resources:
  devices: [{path: /dev/loop-control, access: r}]
EOF
    local out; out=$("$MGR" run "$T_TMP/mgrtcg-dev.yaml" 2>&1)
    assert_contains "$out" "lc_read=ok" "read of the device with an r rule" || return 1
    assert_contains "$out" "null=ok" || return 1
    assert_match "$out" "loop-control: [Oo]peration not permitted" "write to the read-only device" || return 1
    assert_match "$out" "hwrng: [Oo]peration not permitted" "device without a rule" || return 1
}

t_refused() {
    # v1 cannot do memory.min; no host has CPU 1000
    local key=resources.memory.min res="memory: {max: 32M, min: 1M}"
    [ $MODE = v2 ] && key=resources.cpu.cpus res='cpu: {cpus: "1000"}'
    mk mgrtcg-ref <<EOF
command: ["/bin/true"]
resources:
  $res
EOF
    local out rc=0
    out=$("$MGR" run "$T_TMP/mgrtcg-ref.yaml" 2>&1) || rc=$?
    assert_eq "$rc" 125 "exit status of a refused start" || return 1
    assert_contains "$out" "$key" || return 1
    gone mgrtcg-ref || fail "refused container left a group"
}

t_cycles() {
    mk mgrtcg-cyc <<'EOF'
command: ["/bin/true"]
resources:
  memory: {max: 32M}
  cpu: {max: 0.5}
  pids: {max: 20}
EOF
    local i start end
    start=$(date +%s%N)
    for i in $(seq 100); do
        "$MGR" run "$T_TMP/mgrtcg-cyc.yaml" >/dev/null 2>&1 || { fail "run $i failed"; return 1; }
    done
    end=$(date +%s%N)
    echo "  100 container start/stop cycles: $(((end - start) / 1000000)) ms"
    gone mgrtcg-cyc || fail "groups left after 100 cycles"
}

# A v1 host without any cgroup2 mount (older distributions): the child moves itself into its
# v1 groups and nothing else has to; it runs in its groups in every hierarchy.
t_pure_v1() {
    [ $MODE = v1 ] || skip "not a cgroup v1 host"
    mk mgrtcg-purev1 <<EOF
command: ["/bin/sleep", "30"]
resources: {pids: {max: 16}}
EOF
    local v2m
    v2m=$(awk '$9 == "cgroup2" {print $5}' /proc/self/mountinfo | tr '\n' ' ')
    unshare -m --propagation private sh -c 'for m in $1; do umount "$m" || exit 1; done; shift; exec "$@"' \
        sh "$v2m" "$MGR" run "$T_TMP/mgrtcg-purev1.yaml" >"$T_TMP/mgrtcg-purev1.out" 2>&1 &
    local mp=$!
    on_exit "kill -9 $mp 2>/dev/null"
    wait_for 5 started mgrtcg-purev1 || { cat "$T_TMP/mgrtcg-purev1.out"; return 1; }
    local pid h n=0
    pid=$(init_pid mgrtcg-purev1)
    for h in memory cpu cpuacct cpuset pids devices freezer blkio; do
        [ -d $CG/$h ] || continue
        grep -qx "$pid" "$(grp $h mgrtcg-purev1)/cgroup.procs" || { fail "init not in $h group"; return 1; }
        n=$((n + 1))
    done
    [ $n -ge 2 ] || { fail "checked only $n hierarchies"; return 1; }
    kill -9 "$pid"
    wait_for 5 bash -c "! kill -0 $mp 2>/dev/null" || { fail "mgr run did not end"; return 1; }
    [ ! -d "$(grp pids mgrtcg-purev1)" ] || { fail "group left"; return 1; }
}

tcase limits-in-files t_limits_in_files
tcase oom-kill t_oom_kill
tcase fork-bomb t_fork_bomb
tcase cpu-max t_cpu_max
tcase devices t_devices
tcase refused-key t_refused
tcase pure-v1 t_pure_v1
tcase 100-cycles t_cycles
finish

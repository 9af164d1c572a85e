# Sourced by vmtest.sh (busybox sh) in the main boot: cgroup v2 limits of `mgr run`
# containers that the v1 development host cannot show (tests/integration/31-cgroup-run.sh is
# the v1 twin): every v2 memory key lands in its file, cpu.max 0.2 holds a busy loop near 20%
# of a CPU (measured from cpu.stat), a fork bomb stops at pids.max, and the group is gone
# after the container. Owned by the cgroup module (doc/cgroups.md).

CGV2_DIR=/tmp/mgrt-cgv2
mkdir -p $CGV2_DIR
cgv2_unit() { # cgv2_unit NAME < YAML-BODY
    { echo "name: $1"; echo "image: dir:/srv/busybox"; cat; } >$CGV2_DIR/$1.yaml
    chmod 644 $CGV2_DIR/$1.yaml
}
cgv2_pid() { sed -n 's/^pid=//p' $CGV2_DIR/run/containers/$1/state 2>/dev/null; }
cgv2_started() { p=$(cgv2_pid "$1"); [ -n "$p" ] && [ "$p" != 0 ] && [ -e /proc/$p ]; }
cgv2_start() { # background mgr run; waits for the container's init
    MGR_ROOT=$CGV2_DIR/root MGR_RUN=$CGV2_DIR/run timeout 60 mgr run $CGV2_DIR/$1.yaml \
        >$CGV2_DIR/$1.out 2>&1 &
    echo $! >$CGV2_DIR/$1.mgr
    wait_for 15 cgv2_started "$1"
}
cgv2_stop() { # SIGKILL the init from outside (sh as PID 1 ignores SIGTERM); mgr run tears down
    p=$(cgv2_pid "$1"); [ -n "$p" ] && kill -KILL "$p" 2>/dev/null
    wait "$(cat $CGV2_DIR/$1.mgr)" 2>/dev/null
    return 0
}

t_cgv2_memory_keys() {
    cgv2_unit mgrtv2mem <<'EOF'
command: ["/bin/sleep", "60"]
resources:
  memory: {max: 64M, high: 48M, low: 8M, min: 4M, oom_group: true}
  pids: {max: 40}
EOF
    cgv2_start mgrtv2mem || { cat $CGV2_DIR/mgrtv2mem.out; return 1; }
    d=$(cg_dir "$(cgv2_pid mgrtv2mem)")
    [ "$d" != /sys/fs/cgroup ] || { echo "container in the root cgroup"; cgv2_stop mgrtv2mem; return 1; }
    rc=0
    for kv in memory.max=67108864 memory.high=50331648 memory.low=8388608 memory.min=4194304 \
        memory.oom.group=1 pids.max=40; do
        f=${kv%%=*} want=${kv#*=}
        got=$(cat "$d/$f" 2>&1)
        [ "$got" = "$want" ] || { echo "$f=$got, expected $want"; rc=1; }
    done
    cgv2_stop mgrtv2mem
    wait_for 5 test ! -d "$d" || { echo "group $d left behind"; rc=1; }
    return $rc
}

t_cgv2_cpu_max() {
    cgv2_unit mgrtv2cpu <<'EOF'
command: ["/bin/sh", "-c", "while :; do :; done"]
resources:
  cpu: {max: 0.2}
EOF
    cgv2_start mgrtv2cpu || { cat $CGV2_DIR/mgrtv2cpu.out; return 1; }
    d=$(cg_dir "$(cgv2_pid mgrtv2cpu)")
    [ "$(cat "$d/cpu.max")" = "20000 100000" ] || { echo "cpu.max=$(cat "$d/cpu.max")"; cgv2_stop mgrtv2cpu; return 1; }
    usleep 300000
    u1=$(awk '$1 == "usage_usec" {print $2}' "$d/cpu.stat"); t1=$(uptime_ms)
    sleep 2
    u2=$(awk '$1 == "usage_usec" {print $2}' "$d/cpu.stat"); t2=$(uptime_ms)
    cgv2_stop mgrtv2cpu
    pm=$(((u2 - u1) / (t2 - t1)))
    echo "cpu.max 0.2: $pm/1000 of a CPU"
    [ "$pm" -ge 130 ] && [ "$pm" -le 270 ] || { echo "cpu use $pm/1000, expected ~200"; return 1; }
}

t_cgv2_fork_bomb() {
    cgv2_unit mgrtv2pids <<'EOF'
command: ["/bin/sh", "-c", "(for i in $(seq 100); do sleep 30 & done) 2>/dev/null; echo bombed; sleep 30"]
resources:
  pids: {max: 12}
EOF
    cgv2_start mgrtv2pids || { cat $CGV2_DIR/mgrtv2pids.out; return 1; }
    d=$(cg_dir "$(cgv2_pid mgrtv2pids)")
    wait_for 10 grep -q bombed $CGV2_DIR/mgrtv2pids.out || { cgv2_stop mgrtv2pids; return 1; }
    n=$(cat "$d/pids.current"); ev=$(cat "$d/pids.events")
    cgv2_stop mgrtv2pids
    [ "$n" -le 12 ] && [ "$n" -ge 10 ] || { echo "pids.current $n, expected at most 12 and near it"; return 1; }
    case $ev in *"max 0"*) echo "pids.events: $ev"; return 1 ;; esac
    wait_for 5 test ! -d "$d" || { echo "group $d left behind"; return 1; }
}

# mgr doctor on a v2 host: memory is served by v2, and v2-only keys (refused on a v1 host)
# are enforceable, so a unit using them is not listed.
t_cgv2_doctor() {
    out=$(mgr doctor 2>&1) || { echo "$out"; return 1; }
    case $out in *memory:v2*) ;; *) echo "$out"; return 1 ;; esac
    mkdir -p $CGV2_DIR/units
    cgv2_unit mgrtv2doc <<'EOF'
command: ["/bin/true"]
resources:
  memory: {max: 64M, high: 48M, min: 4M, oom_group: true}
EOF
    cp $CGV2_DIR/mgrtv2doc.yaml $CGV2_DIR/units/
    out=$(mgr doctor $CGV2_DIR/units 2>&1) || { echo "$out"; return 1; }
    case $out in *"0 key(s) this host cannot enforce"*) ;; *) echo "$out"; return 1 ;; esac
}

if grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    check cgv2_doctor t_cgv2_doctor
    check cgv2_memory_keys t_cgv2_memory_keys
    check cgv2_cpu_max t_cgv2_cpu_max
    check cgv2_fork_bomb t_cgv2_fork_bomb
else
    for n in cgv2_doctor cgv2_memory_keys cgv2_cpu_max cgv2_fork_bomb; do skip $n "no cgroup v2 controllers"; done
fi

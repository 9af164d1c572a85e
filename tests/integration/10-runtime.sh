#!/bin/bash
# Runtime core and `mgr run`: namespaces, process setup, rootfs, teardown, exit statuses.
# Everything is checked from outside the container where possible (/proc/PID/ns inodes,
# the image directory, mount counts, cgroup dirs, state dirs).
source "$(dirname "$0")/lib.sh"
requires root file:/bin/busybox
[ -x "$PAYLOAD" ] || { echo "  skipped: payload not built ($PAYLOAD)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }

ROOTFS="$T_TMP/rootfs"
make_busybox_rootfs "$ROOTFS"
SHARED="$T_TMP/shared"
mkdir -p "$SHARED"
# Snapshot of the image layer, to prove it is never written.
( cd "$ROOTFS" && find . -printf '%p %s %T@\n' | sort ) >"$T_TMP/layer.before"

# mk NAME <<YAML...: unit file NAME.yaml using the busybox rootfs.
mk() {
    { echo "name: $1"; echo "image: dir:$ROOTFS"; cat; } | unit "$T_TMP/$1.yaml"
}
run() { "$MGR" run "$T_TMP/$1.yaml"; }
# bg NAME: starts `mgr run` in the background; $! is mgr's own pid (not a subshell's).
bg() { "$MGR" run "$T_TMP/$1.yaml" & }

# state_pid NAME: pid recorded in the container's state file.
state_pid() { sed -n 's/^pid=//p' "$MGR_RUN/containers/$1/state" 2>/dev/null; }
# running NAME: the container's init has exec'd the payload.
running() {
    local p; p=$(state_pid "$1") && [ -n "$p" ] && [ "$p" != 0 ] &&
        [[ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" == /payload* ]]
}

t_exit_status() {
    mk mgrt-exit <<<'command: ["/payload", "exit", "3"]'
    run mgrt-exit; assert_eq "$?" 3 "exit status" || return 1
    mk mgrt-exit0 <<<'command: ["/payload", "exit", "0"]'
    run mgrt-exit0; assert_eq "$?" 0 "exit status"
}

t_pid1_and_process() {
    mk mgrt-pid <<<'command: ["/payload", "pid"]'
    assert_eq "$(run mgrt-pid)" 1 "pid inside" || return 1
    mk mgrt-proc <<'EOF2'
command: ["/payload", "id"]
hostname: mgrt-host
workdir: /var/www
user: "www"
env: {FOO: bar}
EOF2
    assert_eq "$(run mgrt-proc)" "uid=101 gid=101 groups=" "id by name from the image's passwd" || return 1
    mk mgrt-proc2 <<'EOF2'
command: ["/payload", "env"]
hostname: mgrt-host
env: {FOO: bar}
EOF2
    local env; env=$(run mgrt-proc2)
    assert_contains "$env" "FOO=bar" "env" || return 1
    assert_contains "$env" "PATH=" "env" || return 1
    mk mgrt-proc3 <<'EOF2'
command: ["/payload", "pwd"]
workdir: /var/www
EOF2
    assert_eq "$(run mgrt-proc3)" /var/www "workdir" || return 1
    mk mgrt-proc4 <<'EOF2'
command: ["/payload", "hostname"]
hostname: mgrt-host
EOF2
    assert_eq "$(run mgrt-proc4)" mgrt-host "hostname" || return 1
    mk mgrt-proc5 <<'EOF2'
command: ["/payload", "id"]
user: "1234:4321"
EOF2
    assert_eq "$(run mgrt-proc5)" "uid=1234 gid=4321 groups=" "numeric user" || return 1
    mk mgrt-fds <<<'command: ["/payload", "fds"]'
    assert_eq "$(run mgrt-fds 3>/dev/null 7>/dev/null | tr '\n' ' ')" "0 1 2 " "fds inside"
}

t_namespaces() {
    mk mgrt-ns1 <<<'command: ["/payload", "sleep", "20"]'
    bg mgrt-ns1; local m1=$!
    wait_for 5 running mgrt-ns1 || { kill $m1; return 1; }
    local p1; p1=$(state_pid mgrt-ns1)
    local t rc=0
    for t in pid net ipc uts mnt cgroup; do
        [ "$(stat -L -c %i /proc/$p1/ns/$t)" != "$(stat -L -c %i /proc/self/ns/$t)" ] ||
            { fail "$t namespace is the host's"; rc=1; }
    done
    for t in user time; do
        [ "$(stat -L -c %i /proc/$p1/ns/$t)" == "$(stat -L -c %i /proc/self/ns/$t)" ] ||
            { fail "$t namespace is not the host's"; rc=1; }
    done
    # host and container:NAME modes.
    mk mgrt-ns2 <<'EOF2'
command: ["/payload", "sleep", "20"]
namespaces: {net: host, uts: host, ipc: "container:mgrt-ns1", pid: "container:mgrt-ns1"}
EOF2
    bg mgrt-ns2; local m2=$!
    wait_for 5 running mgrt-ns2 || rc=1
    local p2; p2=$(state_pid mgrt-ns2)
    assert_eq "$(stat -L -c %i /proc/$p2/ns/net)" "$(stat -L -c %i /proc/self/ns/net)" "net: host" || rc=1
    assert_eq "$(stat -L -c %i /proc/$p2/ns/uts)" "$(stat -L -c %i /proc/self/ns/uts)" "uts: host" || rc=1
    assert_eq "$(stat -L -c %i /proc/$p2/ns/ipc)" "$(stat -L -c %i /proc/$p1/ns/ipc)" "ipc: container" || rc=1
    assert_eq "$(stat -L -c %i /proc/$p2/ns/pid)" "$(stat -L -c %i /proc/$p1/ns/pid)" "pid: container" || rc=1
    assert_ne "$(stat -L -c %i /proc/$p2/ns/mnt)" "$(stat -L -c %i /proc/$p1/ns/mnt)" "own mnt" || rc=1
    # The other way round: time private, cgroup host.
    mk mgrt-ns3 <<'EOF2'
command: ["/payload", "sleep", "20"]
namespaces: {time: private, cgroup: host}
EOF2
    bg mgrt-ns3; local m3=$!
    wait_for 5 running mgrt-ns3 || rc=1
    local p3; p3=$(state_pid mgrt-ns3)
    assert_ne "$(stat -L -c %i /proc/$p3/ns/time)" "$(stat -L -c %i /proc/self/ns/time)" "time: private" || rc=1
    assert_eq "$(stat -L -c %i /proc/$p3/ns/cgroup)" "$(stat -L -c %i /proc/self/ns/cgroup)" "cgroup: host" || rc=1
    kill -TERM $m1 $m2 $m3; wait $m1 $m2 $m3
    return $rc
}

t_rootfs() {
    mk mgrt-mi <<EOF2
command: ["/payload", "cat", "/proc/self/mountinfo"]
mounts:
  - {type: tmpfs, target: /data}
  - {type: bind, source: $SHARED, target: /shared, readonly: true}
EOF2
    local mi; mi=$(run mgrt-mi) || { fail "run failed"; return 1; }
    local rc=0
    assert_match "$(echo "$mi" | head -1)" "^[0-9]+ [0-9]+ [0-9:]+ / / .* - overlay " "root mount" || rc=1
    # No host mount leaked: every mount point is one of ours.
    local bad
    bad=$(echo "$mi" | awk '{print $5}' | grep -vE '^/$|^/proc(/|$)|^/sys(/|$)|^/dev(/|$)|^/data$|^/shared$')
    assert_eq "$bad" "" "unexpected mount points" || rc=1
    assert_contains "$mi" " /data " "tmpfs mount" || rc=1
    assert_match "$(echo "$mi" | grep ' /shared ')" " ro[, ]" "read-only bind" || rc=1
    assert_match "$(echo "$mi" | grep ' /sys ')" " ro[, ]" "/sys read-only" || rc=1
    assert_match "$(echo "$mi" | grep ' /proc/sys ')" " ro[, ]" "/proc/sys read-only" || rc=1
    # Masked paths: /proc/keys and /proc/timer_list read as /dev/null (the host's are not
    # empty), /sys/firmware is empty.
    local f
    for f in /proc/keys /proc/timer_list; do
        [ -s "$f" ] || [ "$(wc -c <"$f")" -gt 0 ] || continue
        mk mgrt-mask <<<"command: [\"/payload\", \"cat\", \"$f\"]"
        assert_eq "$(run mgrt-mask | wc -c)" 0 "$f masked" || rc=1
        assert_contains "$mi" " $f " "$f in mountinfo" || rc=1
    done
    mk mgrt-mask2 <<<'command: ["/payload", "ls", "/sys/firmware"]'
    assert_eq "$(run mgrt-mask2)" "" "/sys/firmware masked" || rc=1
    mk mgrt-ro <<EOF2
command: ["/payload", "write", "/shared/x", "hi"]
mounts: [{type: bind, source: $SHARED, target: /shared, readonly: true}]
EOF2
    run mgrt-ro 2>/dev/null && { fail "write to a read-only bind succeeded"; rc=1; }
    [ -e "$SHARED/x" ] && { fail "file appeared on the host"; rc=1; }
    mk mgrt-rorootfs <<'EOF2'
command: ["/payload", "write", "/etc/x", "hi"]
security: {readonly_rootfs: true}
EOF2
    run mgrt-rorootfs 2>/dev/null && { fail "write to a read-only rootfs succeeded"; rc=1; }
    return $rc
}

t_lower_untouched() {
    mk mgrt-w <<<'command: ["/payload", "write", "/etc/passwd", "owned"]'
    run mgrt-w || { fail "write failed"; return 1; }
    mk mgrt-w2 <<<'command: ["/payload", "mkdir", "/newdir"]'
    run mgrt-w2 || { fail "mkdir failed"; return 1; }
    ( cd "$ROOTFS" && find . -printf '%p %s %T@\n' | sort ) >"$T_TMP/layer.after"
    diff "$T_TMP/layer.before" "$T_TMP/layer.after" >&2 || { fail "the layer dir changed"; return 1; }
    # Writes are per container: a second run sees the image's file again.
    mk mgrt-w3 <<<'command: ["/payload", "cat", "/etc/passwd"]'
    assert_contains "$(run mgrt-w3)" "root:x:0:0" "fresh upper per run"
}

t_symlink_escape() {
    local victim="$T_TMP/victim"
    mkdir -p "$victim"
    local r2="$T_TMP/rootfs-evil"
    cp -a "$ROOTFS" "$r2"
    # Relative and absolute escapes planted in the image.
    ln -s "../../../../../../../../$victim" "$r2/evil"
    ln -s "$victim" "$r2/evil2"
    local rc=0 t out
    for t in /evil/x /evil2/x; do
        unit "$T_TMP/mgrt-esc.yaml" <<EOF2
name: mgrt-esc
image: dir:$r2
command: ["/payload", "exit", "0"]
mounts: [{type: bind, source: $SHARED, target: $t}]
EOF2
        out=$("$MGR" run "$T_TMP/mgrt-esc.yaml" 2>&1); local st=$?
        assert_eq "$st" 125 "status for $t" || rc=1
        assert_contains "$out" "outside the container root" "error for $t" || rc=1
        [ -z "$(ls -A "$victim")" ] || { fail "something was created in the victim dir"; rc=1; }
    done
    return $rc
}

t_exec_error() {
    mk mgrt-noexec <<<'command: ["/nonexistent", "x"]'
    local out; out=$(run mgrt-noexec 2>&1); local st=$?
    assert_eq "$st" 125 "status" || return 1
    assert_contains "$out" "unit 'mgrt-noexec'" "message names the unit" || return 1
    assert_contains "$out" "exec '/nonexistent'" "message names the step" || return 1
    assert_contains "$out" "No such file or directory" "message has errno"
    mk mgrt-nowd <<<$'command: ["/payload", "pwd"]\nworkdir: /nope'
    out=$(run mgrt-nowd 2>&1)
    assert_contains "$out" "workdir '/nope': No such file or directory" "bad workdir" || return 1
    unit "$T_TMP/mgrt-nolayer.yaml" <<EOF2
name: mgrt-nolayer
image: dir:$T_TMP/no-such-dir
command: ["/payload", "exit", "0"]
EOF2
    out=$("$MGR" run "$T_TMP/mgrt-nolayer.yaml" 2>&1)
    assert_contains "$out" "image layer '$T_TMP/no-such-dir': No such file or directory" "missing layer" || return 1
    mk mgrt-nouser <<<$'command: ["/payload", "id"]\nuser: nosuchuser'
    out=$(run mgrt-nouser 2>&1)
    assert_contains "$out" "user 'nosuchuser': no such user in the container's /etc/passwd" "unknown user"
}

t_signals() {
    local rc=0
    mk mgrt-kill <<<'command: ["/payload", "sleep", "30"]'
    bg mgrt-kill; local m=$!
    wait_for 5 running mgrt-kill || { kill $m; return 1; }
    kill -KILL "$(state_pid mgrt-kill)"
    wait $m; assert_eq "$?" 137 "SIGKILL status" || rc=1
    mk mgrt-int <<EOF2
command: ["/payload", "wait-signal", "/shared/ready"]
mounts: [{type: bind, source: $SHARED, target: /shared}]
EOF2
    rm -f "$SHARED/ready"
    "$MGR" run "$T_TMP/mgrt-int.yaml" >"$T_TMP/int.out" & m=$!
    wait_for 5 test -e "$SHARED/ready" || { kill $m; return 1; }
    kill -INT $m
    wait $m; assert_eq "$?" 12 "status after SIGINT (10 + 2)" || rc=1
    assert_eq "$(cat "$T_TMP/int.out")" "got INT" "container saw SIGINT" || rc=1
    return $rc
}

# Mounts that could be ours: anything naming this test's scratch dir (the rootfs dir under
# MGR_RUN, the image dir as overlay lowerdir). The machine's other mounts come and go.
our_mounts() { grep -c "$T_TMP" /proc/self/mountinfo; }
cg_count() { find /sys/fs/cgroup/ -maxdepth 4 -type d -name 'mgrt-cyc*' 2>/dev/null | wc -l; }
t_cycles() {
    mk mgrt-cyc <<<'command: ["/payload", "exit", "0"]'
    local m0 c0 s0 i
    m0=$(our_mounts); c0=$(cg_count); s0=$(ls -A "$MGR_RUN/containers" 2>/dev/null | wc -l)
    for i in $(seq 200); do
        run mgrt-cyc || { fail "run $i failed"; return 1; }
    done
    assert_eq "$(our_mounts)" "$m0" "mounts after 200 runs" || return 1
    assert_eq "$(cg_count)" "$c0" "cgroups after 200 runs" || return 1
    assert_eq "$(ls -A "$MGR_RUN/containers" 2>/dev/null | wc -l)" "$s0" "state dirs after 200 runs"
}

t_reclaim_after_sigkill() {
    mk mgrt-rec <<<'command: ["/payload", "sleep", "30"]'
    bg mgrt-rec; local m=$!
    wait_for 5 running mgrt-rec || { kill $m; return 1; }
    local p; p=$(state_pid mgrt-rec)
    kill -KILL $m; wait $m 2>/dev/null
    [ -d "$MGR_RUN/containers/mgrt-rec" ] || { fail "expected a leftover state dir"; return 1; }
    # The next start of the same unit kills a surviving orphan, reclaims its leftovers
    # (state dir, cgroup) and runs.
    mk mgrt-rec <<<'command: ["/payload", "exit", "0"]'
    run mgrt-rec || { fail "second start failed"; return 1; }
    wait_for 5 test ! -e /proc/$p || { fail "the orphan container is still alive"; return 1; }
    [ ! -e "$MGR_RUN/containers/mgrt-rec" ] || { fail "state dir left after the second run"; return 1; }
    assert_eq "$(find /sys/fs/cgroup/ -maxdepth 4 -type d -name mgrt-rec | wc -l)" 0 "cgroups left"
}

# The library driver (tests/integration/rtexec.c), built once.
RTEXEC="$T_TMP/rtexec"
build_rtexec() {
    [ -x "$RTEXEC" ] && return 0
    local PKGS="yaml-0.1 libarchive libnl-3.0 libnl-route-3.0 libcap libseccomp jansson libcrypto libkmod"
    cc -std=gnu11 -D_GNU_SOURCE -O2 -I"$TOP/core" $(pkg-config --cflags $PKGS) -o "$RTEXEC" \
        "$TOP/tests/integration/rtexec.c" "$B/libmgrcore.a" $(pkg-config --libs $PKGS) ||
        { fail "cannot build rtexec"; return 1; }
}

# rt_adopt + rt_exec (what `mgr exec` and command health checks use), through the driver.
t_exec() {
    build_rtexec || return 1
    local drv="$RTEXEC"
    mk mgrt-ex <<'EOF2'
command: ["/payload", "sleep", "20"]
hostname: mgrt-exhost
user: "www"
EOF2
    bg mgrt-ex; local m=$! rc=0
    wait_for 5 running mgrt-ex || { kill $m; return 1; }
    local p; p=$(state_pid mgrt-ex)
    assert_eq "$("$drv" "$MGR_RUN" mgrt-ex "$T_TMP/mgrt-ex.yaml" /payload hostname)" mgrt-exhost "hostname via exec" || rc=1
    assert_eq "$("$drv" "$MGR_RUN" mgrt-ex "$T_TMP/mgrt-ex.yaml" /payload id)" "uid=101 gid=101 groups=" "user via exec" || rc=1
    # The exec'd process is in the container's pid namespace (pid 1 is the init, so not 1).
    local inner; inner=$("$drv" "$MGR_RUN" mgrt-ex "$T_TMP/mgrt-ex.yaml" /payload pid)
    [ -n "$inner" ] && [ "$inner" -gt 1 ] && [ "$inner" -lt 100 ] || { fail "pid via exec: $inner"; rc=1; }
    local t ns; ns=$("$drv" "$MGR_RUN" mgrt-ex "$T_TMP/mgrt-ex.yaml" /payload ns)
    for t in pid net ipc uts mnt; do
        assert_contains "$ns" "$t $(stat -L -c %i /proc/$p/ns/$t)" "$t namespace of the exec'd process" || rc=1
    done
    # In the container's cgroup: seen from its cgroup namespace, every path is "/" (a process
    # outside the group would see "/.." paths).
    local cg; cg=$("$drv" "$MGR_RUN" mgrt-ex "$T_TMP/mgrt-ex.yaml" /payload cat /proc/self/cgroup)
    assert_contains "$cg" ":/" "cgroup via exec" || rc=1
    assert_not_contains "$cg" ".." "cgroup via exec" || rc=1
    "$drv" "$MGR_RUN" mgrt-ex "$T_TMP/mgrt-ex.yaml" /payload exit 7; assert_eq "$?" 7 "exec status" || rc=1
    local out; out=$("$drv" "$MGR_RUN" mgrt-ex "$T_TMP/mgrt-ex.yaml" /nope 2>&1); local st=$?
    assert_eq "$st" 125 "exec of a missing binary" || rc=1
    assert_contains "$out" "exec '/nope'" "error names the step" || rc=1
    kill -TERM $m; wait $m
    return $rc
}

# An unprivileged user is told what is missing, and nothing is left behind.
t_unprivileged() {
    command -v setpriv >/dev/null || skip "needs setpriv"
    local pub="$T_TMP/pub"
    mkdir -p "$pub"; chmod 1777 "$pub"; chmod o+rx "$T_TMP"
    mk mgrt-unpriv <<<'command: ["/payload", "exit", "0"]'
    local out; out=$(setpriv --reuid 65534 --regid 65534 --clear-groups \
        "$MGR" --root "$pub" --run "$pub" run --no-cgroup "$T_TMP/mgrt-unpriv.yaml" 2>&1)
    local st=$?
    assert_eq "$st" 125 "status" || return 1
    assert_contains "$out" "create namespaces (creating namespaces needs CAP_SYS_ADMIN: run as root): Operation not permitted" "message" || return 1
    assert_eq "$(ls -A "$pub/containers" 2>/dev/null)" "" "state left behind"
}

# A long-lived process (the supervisor's case) starting and destroying containers through the
# library keeps no fd, mount, cgroup or state dir per container.
t_library_cycles() {
    build_rtexec || return 1
    mk mgrt-lib <<<'command: ["/payload", "exit", "0"]'
    local m0 c0; m0=$(our_mounts); c0=$(find /sys/fs/cgroup/ -maxdepth 4 -type d -name mgrt-lib | wc -l)
    local out; out=$("$RTEXEC" --cycles 100 "$MGR_RUN" "$MGR_ROOT" "$T_TMP/mgrt-lib.yaml") ||
        { fail "cycles failed: $out"; return 1; }
    local a b; read -r _ a b <<<"$out"
    assert_match "$a $b" "^[0-9]+ [0-9]+$" "driver output" || return 1
    assert_eq "$b" "$a" "open fds after 100 cycles in one process" || return 1
    assert_eq "$(our_mounts)" "$m0" "mounts" || return 1
    assert_eq "$(find /sys/fs/cgroup/ -maxdepth 4 -type d -name mgrt-lib | wc -l)" "$c0" "cgroups" || return 1
    assert_eq "$(ls -A "$MGR_RUN/containers" 2>/dev/null | grep -c mgrt-lib)" 0 "state dirs"
}

tcase exit_status t_exit_status
tcase pid1_and_process t_pid1_and_process
tcase namespaces t_namespaces
tcase rootfs t_rootfs
tcase lower_untouched t_lower_untouched
tcase symlink_escape t_symlink_escape
tcase exec_error t_exec_error
tcase signals t_signals
tcase reclaim_after_sigkill t_reclaim_after_sigkill
tcase exec t_exec
tcase unprivileged t_unprivileged
tcase cycles t_cycles
tcase library_cycles t_library_cycles
finish

#!/bin/bash
# Supervisor against the host: limits this host cannot enforce are refused at apply time
# (apply, --dry-run, run, doctor agree; nothing starts), health is reset when a container goes
# down, the health log line, cgroup leftovers reclaimed at start only under a dedicated parent,
# a host without any cgroup filesystem.
source "$(dirname "$0")/lib.sh"
requires root cmd:jq cmd:python3
source "$(dirname "$0")/sv_lib.sh"

SLEEPER="command: [\"/bin/sh\", \"-c\", \"$TERMOK sleep 1000 & wait\"]"

case_unenforceable_refused() {
    [ -d /sys/fs/cgroup/memory ] && ! grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null ||
        skip "memory controller is not cgroup v1 here: memory.min can be enforced"
    sv_setup unenforceable
    u mgrtsv-ok "$SLEEPER"
    u mgrtsv-min "$SLEEPER
resources:
  memory: {max: 64M, min: 16M}"
    start_daemon || return 1
    local out rc
    # The daemon's own start-up apply was refused as a whole: nothing runs.
    grep -q "resources.memory.min" "$CASE_DIR/daemon.log" ||
        { fail "daemon log does not name the key"; cat "$CASE_DIR/daemon.log"; return 1; }
    [ -z "$(pid_of mgrtsv-ok)" ] || fail "mgrtsv-ok was started" || return 1
    out=$("$MGR" apply --dry-run 2>&1); rc=$?
    assert_eq "$rc" 1 "dry-run exit status" || return 1
    assert_match "$out" "mgrtsv-min.yaml:[0-9]+:[0-9]+: error: unit 'mgrtsv-min': resources.memory.min: this host cannot enforce it: " "dry-run" || return 1
    out=$("$MGR" apply 2>&1); rc=$?
    assert_eq "$rc" 1 "apply exit status" || return 1
    assert_contains "$out" "resources.memory.min" "apply" || return 1
    assert_contains "$out" "nothing was changed" "apply" || return 1
    [ -z "$(pid_of mgrtsv-ok)" ] || fail "mgrtsv-ok was started" || return 1
    [ -z "$(pid_of mgrtsv-min)" ] || fail "mgrtsv-min was started" || return 1
    ls -d /sys/fs/cgroup/*/mgr/mgrtsv-min /sys/fs/cgroup/*/mgr/mgrtsv-ok 2>/dev/null &&
        { fail "a cgroup was created"; return 1; }
    ! grep -q "exit 127\|start failed\|start_failed" "$CASE_DIR/daemon.log" ||
        { fail "the unit was started and failed"; return 1; }
    # mgr run refuses before creating anything; doctor names the same key.
    out=$("$MGR" run "$MGR_UNITS/mgrtsv-min.yaml" 2>&1); rc=$?
    assert_ne "$rc" 0 "run exit status" || return 1
    assert_contains "$out" "resources.memory.min" "run" || return 1
    [ ! -e "$MGR_RUN/containers/mgrtsv-min" ] || fail "run left a container record" || return 1
    ls -d /sys/fs/cgroup/*/mgr/mgrtsv-min 2>/dev/null && { fail "run created a cgroup"; return 1; }
    out=$("$MGR" doctor "$MGR_UNITS" 2>&1)
    assert_contains "$out" "resources.memory.min" "doctor" || return 1
    # Without the key the same directory applies and both start.
    u mgrtsv-min "$SLEEPER
resources:
  memory: {max: 64M}"
    out=$("$MGR" apply 2>&1) || { fail "apply after the fix: $out"; return 1; }
    wait_for 5 running mgrtsv-min || return 1
    wait_for 5 running mgrtsv-ok
}

case_health_reset_and_log() {
    sv_setup health
    # mgrtsv-hc: healthy, then its server goes away; mgrtsv-up: stays healthy until stopped.
    u mgrtsv-hc "command: [\"/bin/sh\", \"-c\", \"$TERMOK nc -ll -p 9000 -e /bin/true & sleep 1.2; kill \$!; sleep 1000 & wait\"]
health: {tcp: {port: 9000}, interval: 200ms, timeout: 500ms, retries: 1, on_unhealthy: none}"
    u mgrtsv-up "command: [\"/bin/sh\", \"-c\", \"$TERMOK nc -ll -p 9000 -e /bin/true & wait\"]
health: {tcp: {port: 9000}, interval: 200ms, timeout: 500ms, retries: 1, on_unhealthy: none}"
    start_daemon || return 1
    wait_for 5 bash -c "[ \"\$('$MGR' status mgrtsv-up --json | jq -r .health)\" = healthy ]" || return 1
    wait_for 8 bash -c "[ \"\$('$MGR' status mgrtsv-hc --json | jq -r .health)\" = unhealthy ]" || return 1
    # The log's health line is complete: "mgr health: unhealthy (REASON)".
    local line
    line=$("$MGR" logs mgrtsv-hc | grep "health: unhealthy" | head -1)
    assert_match "$line" "health: unhealthy \(.+\)$" "health log line" || return 1
    # A stopped container has no health: not a stale "healthy".
    "$MGR" stop mgrtsv-up || return 1
    wait_for 5 state_is mgrtsv-up stopped || return 1
    assert_eq "$(field mgrtsv-up .health)" none "health after stop" || return 1
    local row
    row=$("$MGR" status | awk '$1 == "mgrtsv-up"')
    assert_eq "$(awk '{print $3}' <<<"$row")" "-" "HEALTH column after stop: $row"
}

# Containers started by the daemon are in a session of their own: a signal to the daemon's
# process group (a Ctrl-C on its terminal, timeout(1)) does not reach them.
case_own_session() {
    sv_setup session
    u mgrtsv-sess "$SLEEPER"
    start_daemon || return 1
    wait_for 5 running mgrtsv-sess || return 1
    local cpid dpid
    cpid=$(pid_of mgrtsv-sess)
    dpid=$(cat "$CASE_DIR/daemon.pid")
    # Fields after the ")" of /proc/PID/stat: state ppid pgrp session.
    local c_pg c_sid d_pg d_sid
    read -r c_pg c_sid < <(sed 's/.*) //' "/proc/$cpid/stat" | awk '{print $3, $4}')
    read -r d_pg d_sid < <(sed 's/.*) //' "/proc/$dpid/stat" | awk '{print $3, $4}')
    assert_ne "$c_sid" "$d_sid" "container session vs daemon's" || return 1
    assert_ne "$c_pg" "$d_pg" "container process group vs daemon's" || return 1
    assert_eq "$c_sid" "$cpid" "container leads its own session"
}

# Leftover groups: removed at start under a dedicated parent (--cgroup-parent), never under the
# shared default parent "mgr" where other daemons (other --run dirs) have live containers.
rp_cleanup() {
    [ -n "${OTHER_PID:-}" ] && kill -9 "$OTHER_PID" 2>/dev/null
    wait_for 3 bash -c "! kill -0 ${OTHER_PID:-0} 2>/dev/null" >/dev/null 2>&1
    rmdir /sys/fs/cgroup/*/mgr/mgrtother 2>/dev/null
    rmdir /sys/fs/cgroup/*/"$RP"/* /sys/fs/cgroup/*/"$RP" 2>/dev/null
}
case_reclaim_dedicated_parent() {
    [ -d /sys/fs/cgroup/pids ] && [ -d /sys/fs/cgroup/memory ] ||
        skip "no cgroup v1 pids/memory hierarchies (this case checks the v1 layout)"
    sv_setup reclaim
    RP=mgrt-reclaim-$$ OTHER_PID=
    trap 'sv_teardown; rp_cleanup' EXIT
    # Another instance's live container under the shared default parent.
    mkdir -p /sys/fs/cgroup/pids/mgr/mgrtother || return 1
    sleep 1000 &
    OTHER_PID=$!
    echo "$OTHER_PID" >/sys/fs/cgroup/pids/mgr/mgrtother/cgroup.procs || return 1
    # A leftover of a crashed daemon below the dedicated parent: no processes, no record.
    mkdir -p "/sys/fs/cgroup/pids/$RP/mgrtleft" "/sys/fs/cgroup/memory/$RP/mgrtleft" || return 1
    # Default parent: nothing is reclaimed (the leftover below RP is not ours to judge either).
    start_daemon || return 1
    stop_daemon
    [ -d /sys/fs/cgroup/pids/mgr/mgrtother ] || fail "default parent: live group removed" || return 1
    [ -d "/sys/fs/cgroup/pids/$RP/mgrtleft" ] || fail "default parent: $RP touched" || return 1
    # Dedicated parent: the leftover goes, a container of this daemon stays (kill -9 + adopt).
    export MGR_CGROUP_PARENT=$RP
    u mgrtsv-keep "$SLEEPER"
    start_daemon || return 1
    wait_for 5 running mgrtsv-keep || return 1
    [ ! -d "/sys/fs/cgroup/pids/$RP/mgrtleft" ] || fail "leftover pids group not removed" || return 1
    [ ! -d "/sys/fs/cgroup/memory/$RP/mgrtleft" ] || fail "leftover memory group not removed" || return 1
    grep -q "removed 1 leftover cgroup" "$CASE_DIR/daemon.log" || fail "no log line" || return 1
    local pid
    pid=$(pid_of mgrtsv-keep)
    grep -qx "$pid" "/sys/fs/cgroup/pids/$RP/mgrtsv-keep/cgroup.procs" ||
        fail "container not in $RP/mgrtsv-keep" || return 1
    disown "$DPID" 2>/dev/null; kill -9 "$DPID"
    wait_for 5 bash -c "! kill -0 $DPID 2>/dev/null" || return 1
    start_daemon || return 1
    assert_eq "$(pid_of mgrtsv-keep)" "$pid" "adopted pid" || return 1
    grep -qx "$pid" "/sys/fs/cgroup/pids/$RP/mgrtsv-keep/cgroup.procs" ||
        fail "adopted container's group was touched" || return 1
    kill -0 "$OTHER_PID" && [ -d /sys/fs/cgroup/pids/mgr/mgrtother ] ||
        fail "the other instance's group or process was touched"
}

# systemd Type=notify: the daemon sends READY=1 (and MAINPID) to $NOTIFY_SOCKET once it serves.
case_daemon_sd_notify() {
    sv_setup sdnotify
    u mgrtsv-n "$SLEEPER"
    local sock="$CASE_DIR/sd.sock" got="$CASE_DIR/sd.msg" rpid
    python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(10)
while True:
    d = s.recv(4096)
    if b"READY=1" in d.split(b"\n"):
        break
open(sys.argv[2] + ".tmp", "wb").write(d)
import os; os.rename(sys.argv[2] + ".tmp", sys.argv[2])
' "$sock" "$got" &
    rpid=$!
    trap 'sv_teardown; kill '"$rpid"' 2>/dev/null' EXIT
    wait_for 5 test -S "$sock" || return 1
    NOTIFY_SOCKET="$sock" start_daemon || return 1
    wait_for 5 test -f "$got" || { fail "no READY=1 on NOTIFY_SOCKET"; return 1; }
    local msg
    msg=$(cat "$got")
    assert_contains "$msg" "MAINPID=$DPID" "notify message" || return 1
    # READY=1 comes after the initial apply (the unit is known) and the socket answers.
    assert_contains "$msg" "STATUS=supervising 1 units" "notify message" || return 1
    "$MGR" status >/dev/null || fail "status after READY=1" || return 1
    wait_for 5 running mgrtsv-n
}

# A host without any cgroup filesystem (here: a private mount namespace without
# /sys/fs/cgroup): the daemon says so and runs containers without cgroups; a container whose
# init ignores SIGTERM is still stopped (SIGKILL through its pidfd), and the daemon exits.
case_no_cgroup_host() {
    sv_setup nocg
    u mgrtsv-nocg "command: [\"/bin/sleep\", \"100000\"]"
    unshare -m --propagation private bash -c 'umount -l /sys/fs/cgroup && exec "$0" daemon --stop-on-exit' \
        "$MGR" >>"$CASE_DIR/daemon.log" 2>&1 &
    DPID=$!
    echo "$DPID" >"$CASE_DIR/daemon.pid"
    wait_for 5 running mgrtsv-nocg || { cat "$CASE_DIR/daemon.log"; return 1; }
    grep -q "cgroups unavailable, containers get no cgroup: no cgroup hierarchy is mounted" \
        "$CASE_DIR/daemon.log" || { fail "no warning about cgroups"; cat "$CASE_DIR/daemon.log"; return 1; }
    local p
    p=$(pid_of mgrtsv-nocg)
    "$MGR" stop mgrtsv-nocg >/dev/null || return 1
    wait_for 6 bash -c "! kill -0 $p 2>/dev/null" || { fail "container not stopped"; return 1; }
    assert_eq "$(field mgrtsv-nocg .state)" stopped || return 1
    kill -TERM "$DPID"
    wait_for 5 bash -c "! kill -0 $DPID 2>/dev/null" || { fail "daemon did not exit"; return 1; }
}

tcase "a limit the host cannot enforce refuses apply, dry-run, run (doctor agrees)" case_unenforceable_refused
tcase "health: complete log line, reset to none when the container stops" case_health_reset_and_log
tcase "cgroup leftovers reclaimed at start only under a dedicated parent" case_reclaim_dedicated_parent
tcase "daemon-started containers have their own session and process group" case_own_session
tcase "daemon sends READY=1 to \$NOTIFY_SOCKET (systemd Type=notify)" case_daemon_sd_notify
tcase "no cgroup filesystem: containers run without cgroups and still stop" case_no_cgroup_host
finish

#!/bin/bash
# The supervisor end to end: a real `mgr daemon` in an isolated --root/--run/--units per case,
# real containers (busybox rootfs), checked from outside (pids, cgroup files, state dirs).
source "$(dirname "$0")/lib.sh"
requires root cmd:jq

source "$(dirname "$0")/sv_lib.sh"

case_stack_order() {
    sv_setup stack
    u mgrtsv-db "command: [\"/bin/sh\", \"-c\", \"$TERMOK sleep 0.5; touch /tmp/ready; sleep 1000 & wait\"]
health: {command: [\"/bin/test\", \"-f\", \"/tmp/ready\"], interval: 200ms, retries: 1, start_period: 5s}"
    u mgrtsv-app "command: [\"/bin/sh\", \"-c\", \"$TERMOK sleep 1000 & wait\"]
depends_on: {mgrtsv-db: {condition: healthy}}"
    u mgrtsv-web "command: [\"/bin/sh\", \"-c\", \"$TERMOK sleep 1000 & wait\"]
depends_on: [mgrtsv-app]"
    start_daemon || return 1
    wait_for 10 running mgrtsv-web || return 1
    local log order
    log=$(cat "$CASE_DIR/daemon.log")
    order=$(grep -oE "unit 'mgrtsv-(db|app|web)': (started|healthy)" <<<"$log" | tr '\n' ' ')
    assert_eq "$order" "unit 'mgrtsv-db': started unit 'mgrtsv-db': healthy unit 'mgrtsv-app': started unit 'mgrtsv-web': started " "start order" || return 1
    # A second apply changes nothing.
    local before after out
    before=$("$MGR" status --json | jq -c '[.[] | .pid]')
    out=$("$MGR" apply) || return 1
    assert_contains "$out" "0 changes, 3 unchanged" || return 1
    after=$("$MGR" status --json | jq -c '[.[] | .pid]')
    assert_eq "$after" "$before" "pids after no-op apply" || return 1
    # Comments, key order and a spelled-out default change no hash: nothing restarts.
    { echo "# a comment"; grep -v '^stop:' "$MGR_UNITS/mgrtsv-web.yaml"; echo "stop: {timeout: 2s, signal: SIGTERM}"; } >"$CASE_DIR/web.yaml"
    cat "$CASE_DIR/web.yaml" >"$MGR_UNITS/mgrtsv-web.yaml"
    out=$("$MGR" apply) || return 1
    assert_contains "$out" "0 changes, 3 unchanged" "after a cosmetic edit" || return 1
    # Changing one unit replaces only it.
    local dbpid webpid apppid
    dbpid=$(pid_of mgrtsv-db); webpid=$(pid_of mgrtsv-web); apppid=$(pid_of mgrtsv-app)
    sed -i 's/sleep 1000 & wait"\]$/sleep 1001 \& wait"]/' "$MGR_UNITS/mgrtsv-app.yaml"
    out=$("$MGR" apply) || { echo "$out"; return 1; }
    if [[ $out == *"0 changes"* ]]; then
        # The directory watch applied the edit first (a slow daemon, e.g. under ASan, lets
        # its short debounce run out): then the daemon says what it replaced and why.
        wait_for 5 grep -q "unit 'mgrtsv-app': replacing (command changed)" "$CASE_DIR/daemon.log" ||
            { fail "edit not applied: $out"; return 1; }
    else
        assert_contains "$out" "replace  mgrtsv-app" || return 1
        assert_contains "$out" "command:" || return 1
    fi
    wait_for 5 running mgrtsv-app || return 1
    assert_ne "$(pid_of mgrtsv-app)" "$apppid" "app pid" || return 1
    assert_eq "$(pid_of mgrtsv-db)" "$dbpid" "db pid" || return 1
    assert_eq "$(pid_of mgrtsv-web)" "$webpid" "web pid" || return 1
    # Deleting a file removes its container: process, state dir and cgroup gone.
    rm "$MGR_UNITS/mgrtsv-web.yaml"
    out=$("$MGR" apply) || return 1
    if [[ $out == *"0 changes"* ]]; then # the directory watch was first, as above
        wait_for 5 grep -q "unit 'mgrtsv-web': removed" "$CASE_DIR/daemon.log" ||
            { fail "file removal not applied: $out"; return 1; }
    else
        assert_contains "$out" "remove   mgrtsv-web" || return 1
    fi
    [ -z "$(pid_of mgrtsv-web)" ] || fail "web still listed" || return 1
    kill -0 "$webpid" 2>/dev/null && { fail "web process $webpid still alive"; return 1; }
    [ ! -e "$MGR_RUN/containers/mgrtsv-web" ] || fail "web state dir left" || return 1
    ls -d /sys/fs/cgroup/*/mgr/mgrtsv-web 2>/dev/null && { fail "web cgroup left"; return 1; }
    return 0
}

case_broken_unit_changes_nothing() {
    sv_setup broken
    u mgrtsv-ok "command: [\"/bin/sh\", \"-c\", \"$TERMOK sleep 1000 & wait\"]"
    start_daemon || return 1
    wait_for 5 running mgrtsv-ok || return 1
    local pid out rc
    pid=$(pid_of mgrtsv-ok)
    u mgrtsv-new "command: [\"/bin/sh\"]"
    printf 'name: mgrtsv-bad1\nimage: dir:/x\nrestart: {policy: sometimes}\n' >"$MGR_UNITS/bad1.yaml"
    printf 'name: mgrtsv-bad2\nimage: dir:/x\nresources: {memory: {max: lots}}\n' >"$MGR_UNITS/bad2.yaml"
    chmod 644 "$MGR_UNITS"/*.yaml
    out=$("$MGR" apply 2>&1); rc=$?
    assert_eq "$rc" 1 "exit status" || return 1
    assert_match "$out" "bad1.yaml:3:[0-9]+: error:" || return 1
    assert_match "$out" "bad2.yaml:3:[0-9]+: error:" || return 1
    [ -z "$(pid_of mgrtsv-new)" ] || fail "new unit was created" || return 1
    assert_eq "$(pid_of mgrtsv-ok)" "$pid" "untouched pid"
}

case_restart_policies() {
    sv_setup policies
    u mgrtsv-onf "command: [\"/bin/sh\", \"-c\", \"$TERMOK sleep 1000 & wait\"]
restart: {policy: on-failure, delay: 300ms}"
    u mgrtsv-alw "command: [\"/bin/sh\", \"-c\", \"$TERMOK sleep 1000 & wait\"]
restart: {policy: always, delay: 300ms}"
    u mgrtsv-no "command: [\"/bin/sh\", \"-c\", \"$TERMOK sleep 1000 & wait\"]
restart: {policy: \"no\"}"
    u mgrtsv-zero "command: [\"/bin/sh\", \"-c\", \"sleep 0.3; exit 0\"]
restart: {policy: on-failure, delay: 100ms}"
    start_daemon || return 1
    wait_for 5 running mgrtsv-onf || return 1
    wait_for 5 running mgrtsv-alw || return 1
    wait_for 5 running mgrtsv-no || return 1
    local n p t0 t1
    for n in mgrtsv-onf mgrtsv-alw; do
        p=$(pid_of $n)
        t0=$(date +%s%N)
        kill -9 "$p"
        wait_for 3 bash -c "[ \"\$('$MGR' status --json | jq -r '.[] | select(.name==\"$n\") | .pid')\" -gt 0 ] && [ \"\$('$MGR' status --json | jq -r '.[] | select(.name==\"$n\") | .pid')\" != $p ]" || return 1
        t1=$(date +%s%N)
        # Restarted after the delay (300 ms), within a margin.
        [ $(((t1 - t0) / 1000000)) -ge 250 ] || fail "$n restarted before its delay" || return 1
        [ $(((t1 - t0) / 1000000)) -lt 2500 ] || fail "$n restarted too late" || return 1
        assert_eq "$(field $n .restarts)" 1 "$n restarts" || return 1
        assert_eq "$(field $n .last_exit.reason)" "killed by SIGKILL" "$n reason" || return 1
    done
    p=$(pid_of mgrtsv-no)
    kill -9 "$p"
    wait_for 3 state_is mgrtsv-no exited || return 1
    sleep 0.5
    assert_eq "$(field mgrtsv-no .state)" exited "policy no" || return 1
    wait_for 3 state_is mgrtsv-zero exited || return 1
    sleep 0.3
    assert_eq "$(field mgrtsv-zero .restarts)" 0 "exit 0 under on-failure" || return 1
    assert_eq "$(field mgrtsv-zero .last_exit.code)" 0
}

case_crash_loop_fails() {
    sv_setup crash
    u mgrtsv-crash "command: [\"/bin/sh\", \"-c\", \"exit 3\"]
restart: {policy: on-failure, delay: 50ms, max_delay: 400ms, burst: 4, interval: 30s}"
    start_daemon || return 1
    wait_for 10 state_is mgrtsv-crash failed || return 1
    assert_eq "$(field mgrtsv-crash .restarts)" 3 "restarts before giving up" || return 1
    assert_eq "$(field mgrtsv-crash .last_exit.reason)" "exit 3" || return 1
    # Exponential: delays 50, 100, 200 ms between the 4 starts.
    local times
    times=$(grep -o "restarting in [0-9]*ms" "$CASE_DIR/daemon.log" | tr '\n' ' ')
    assert_eq "$times" "restarting in 50ms restarting in 100ms restarting in 200ms " || return 1
    # History holds every death with its reason; reset-failed + start runs it again.
    assert_eq "$(field mgrtsv-crash '.history | length')" 4 "history" || return 1
    "$MGR" reset-failed mgrtsv-crash || return 1
    assert_eq "$(field mgrtsv-crash .state)" exited || return 1
}

case_prevent_exit_codes() {
    sv_setup prevent
    u mgrtsv-prev "command: [\"/bin/sh\", \"-c\", \"sleep 0.2; exit 78\"]
restart: {policy: always, delay: 50ms, prevent_exit_codes: [78]}"
    start_daemon || return 1
    wait_for 5 state_is mgrtsv-prev exited || return 1
    sleep 0.4
    assert_eq "$(field mgrtsv-prev .state)" exited || return 1
    assert_eq "$(field mgrtsv-prev .restarts)" 0
}

case_oom_reason() {
    sv_setup oom
    u mgrtsv-oom "command: [\"/bin/sh\", \"-c\", \"sleep 0.2; x=\$(yes | head -c 200000000); sleep 1000\"]
resources: {memory: {max: 16M, swap_max: 0}}
restart: {policy: on-failure, delay: 5s}"
    start_daemon || return 1
    wait_for 10 state_is mgrtsv-oom backoff || { "$MGR" status mgrtsv-oom; return 1; }
    assert_eq "$(field mgrtsv-oom .last_exit.oom)" true "oom flag" || return 1
    assert_contains "$(field mgrtsv-oom .last_exit.reason)" "OOM" || return 1
    assert_contains "$("$MGR" status mgrtsv-oom)" "OOM killed"
}

case_user_stop_survives_restart() {
    sv_setup stop
    u mgrtsv-stop "command: [\"/bin/sh\", \"-c\", \"$TERMOK sleep 1000 & wait\"]
restart: {policy: always, delay: 50ms}"
    start_daemon || return 1
    wait_for 5 running mgrtsv-stop || return 1
    local p
    p=$(pid_of mgrtsv-stop)
    "$MGR" stop mgrtsv-stop || return 1
    assert_eq "$(field mgrtsv-stop .state)" stopped || return 1
    kill -0 "$p" 2>/dev/null && { fail "process still alive after stop"; return 1; }
    stop_daemon
    start_daemon || return 1
    sleep 0.3
    assert_eq "$(field mgrtsv-stop .state)" stopped "after daemon restart" || return 1
    "$MGR" start mgrtsv-stop || return 1
    wait_for 5 running mgrtsv-stop || return 1
    # A reboot (fresh --run, the intent persists under --root): `always` starts anyway (as
    # docker does), `unless-stopped` keeps the stop.
    u mgrtsv-us "command: [\"/bin/sh\", \"-c\", \"$TERMOK sleep 1000 & wait\"]
restart: {policy: unless-stopped}"
    "$MGR" apply >/dev/null || return 1
    "$MGR" stop mgrtsv-stop || return 1
    "$MGR" stop mgrtsv-us || return 1
    stop_daemon
    rm -rf "${MGR_RUN:?}"/*
    start_daemon || return 1
    wait_for 5 running mgrtsv-stop || { fail "always: not started at boot"; return 1; }
    assert_eq "$(field mgrtsv-us .state)" stopped "unless-stopped at boot"
}

case_live_update_memory() {
    sv_setup update
    # Units in a directory of their own, applied explicitly: the watched units directory
    # would otherwise apply the edit by itself before the dry run looks at it.
    export MGR_UNITS_REAL=$MGR_UNITS MGR_UNITS="$CASE_DIR/explicit"
    mkdir -p "$MGR_UNITS"
    u mgrtsv-mem "command: [\"/bin/sh\", \"-c\", \"$TERMOK sleep 1000 & wait\"]
resources: {memory: {max: 64M}}"
    local explicit=$MGR_UNITS
    MGR_UNITS=$MGR_UNITS_REAL start_daemon || return 1
    "$MGR" apply "$explicit" >/dev/null || return 1
    wait_for 5 running mgrtsv-mem || return 1
    local p cg out
    p=$(pid_of mgrtsv-mem)
    cg=$(awk -F: '$2 == "memory" {print $3}' /proc/$p/cgroup)
    assert_eq "$(cat /sys/fs/cgroup/memory$cg/memory.limit_in_bytes)" 67108864 || return 1
    sed -i 's/max: 64M/max: 128M/' "$MGR_UNITS/mgrtsv-mem.yaml"
    out=$("$MGR" apply --dry-run --json "$explicit") || return 1
    assert_eq "$(jq -r '.plan[] | select(.name=="mgrtsv-mem") | .action' <<<"$out")" update || return 1
    assert_eq "$(jq -r '.plan[0].changes[0] | "\(.path): \(.old) -> \(.new)"' <<<"$out")" \
        "resources.memory.max: 64M -> 128M" || return 1
    assert_eq "$(cat /sys/fs/cgroup/memory$cg/memory.limit_in_bytes)" 67108864 "after dry run" || return 1
    "$MGR" apply "$explicit" >/dev/null || return 1
    assert_eq "$(cat /sys/fs/cgroup/memory$cg/memory.limit_in_bytes)" 134217728 "after apply" || return 1
    assert_eq "$(pid_of mgrtsv-mem)" "$p" "same pid" || return 1
    # Without the key the running group keeps 128M; its restart (on-failure, the default) must
    # not: a group updated in place is not kept for the next run.
    sed -i '/^resources:/d' "$MGR_UNITS/mgrtsv-mem.yaml"
    "$MGR" apply "$explicit" >/dev/null || return 1
    assert_eq "$(pid_of mgrtsv-mem)" "$p" "same pid after removing the limit" || return 1
    kill -9 "$p"
    wait_for 5 bash -c "q=\$('$MGR' status mgrtsv-mem --json | jq -r .pid); [ \"\$q\" -gt 0 ] && [ \"\$q\" != $p ]" || return 1
    p=$(pid_of mgrtsv-mem)
    cg=$(awk -F: '$2 == "memory" {print $3}' /proc/$p/cgroup)
    [ "$(cat /sys/fs/cgroup/memory$cg/memory.limit_in_bytes)" -gt 134217728 ] ||
        { fail "restarted with the removed limit: $(cat /sys/fs/cgroup/memory$cg/memory.limit_in_bytes)"; return 1; }
}

case_adopt_after_kill9() {
    sv_setup adopt
    # The writer is not the container's init (which ignores SIGPIPE): without the holder it
    # would die of EPIPE while no daemon runs.
    u mgrtsv-a1 "command: [\"/bin/sh\", \"-c\", \"$TERMOK (while :; do echo tick; sleep 0.1; done) & wait\"]"
    u mgrtsv-a2 "command: [\"/bin/sh\", \"-c\", \"$TERMOK sleep 1000 & wait\"]
restart: {policy: on-failure, delay: 50ms}"
    start_daemon || return 1
    wait_for 5 running mgrtsv-a1 || return 1
    wait_for 5 running mgrtsv-a2 || return 1
    local p1 p2
    p1=$(pid_of mgrtsv-a1); p2=$(pid_of mgrtsv-a2)
    kill -9 "$(cat "$CASE_DIR/daemon.pid")"
    sleep 0.5
    # While no daemon runs: a2 dies, a1 keeps writing (it must not be killed by EPIPE).
    kill -9 "$p2"
    sleep 0.3
    kill -0 "$p1" || { fail "a1 died while no daemon ran"; return 1; }
    local writer
    writer=$(pgrep -P "$p1" sh | head -1)
    [ -n "$writer" ] || { fail "a1's writer died while no daemon ran"; return 1; }
    "$MGR" status >/dev/null 2>&1; assert_eq "$?" 3 "status without daemon" || return 1
    start_daemon || return 1
    assert_eq "$(pid_of mgrtsv-a1)" "$p1" "a1 adopted with the same pid" || return 1
    wait_for 5 running mgrtsv-a2 || { fail "a2 not running again"; return 1; }
    assert_ne "$(pid_of mgrtsv-a2)" "$p2" "a2 restarted" || return 1
    assert_eq "$(field mgrtsv-a2 .restarts)" 1 || return 1
    # One process per container: no duplicate started.
    local n
    n=$(ls "$MGR_RUN/containers" | wc -l)
    assert_eq "$n" 2 "containers" || return 1
    # Output keeps flowing into the log after adoption.
    local c0
    c0=$("$MGR" logs mgrtsv-a1 | grep -c tick)
    wait_for 3 bash -c "[ \$('$MGR' logs mgrtsv-a1 | grep -c tick) -gt $((c0 + 2)) ]" ||
        { fail "a1 output not captured after adoption"; "$MGR" logs mgrtsv-a1 | tail -5; return 1; }
    kill -0 "$writer" || { fail "a1's writer died"; return 1; }
    "$MGR" logs mgrtsv-a1 | grep -q "daemon gone: output kept by the holder" || { fail "no gap note"; return 1; }
}

case_daemon_reexec() {
    sv_setup reexec
    u mgrtsv-r1 "command: [\"/bin/sh\", \"-c\", \"$TERMOK while :; do echo tick; sleep 0.1; done\"]"
    u mgrtsv-job "command: [\"/bin/sh\", \"-c\", \"echo done\"]
restart: {policy: on-failure}"
    start_daemon || return 1
    wait_for 5 running mgrtsv-r1 || return 1
    wait_for 5 state_is mgrtsv-job exited || return 1
    local p dp c0
    p=$(pid_of mgrtsv-r1)
    dp=$(cat "$CASE_DIR/daemon.pid")
    "$MGR" daemon-reexec || return 1
    wait_for 5 "$MGR" status >/dev/null || return 1
    assert_eq "$("$MGR" status --json >/dev/null; echo ok)" ok || return 1
    assert_eq "$(pid_of mgrtsv-r1)" "$p" "same container pid" || return 1
    kill -0 "$dp" || { fail "daemon pid changed"; return 1; }
    grep -q "daemon-reexec: executing" "$CASE_DIR/daemon.log" || { fail "no re-exec logged"; return 1; }
    c0=$("$MGR" logs mgrtsv-r1 | grep -c tick)
    wait_for 3 bash -c "[ \$('$MGR' logs mgrtsv-r1 | grep -c tick) -gt $((c0 + 3)) ]" || return 1
    # A completed job stays completed: not run again by the new image.
    assert_eq "$(field mgrtsv-job .state)" exited "job after re-exec" || return 1
    assert_eq "$("$MGR" logs mgrtsv-job | grep -c 'container started')" 1 "job runs" || return 1
    # Still our child: a kill is seen with its real status.
    kill -9 "$p"
    wait_for 3 bash -c "'$MGR' status mgrtsv-r1 --json | jq -e '.last_exit.reason == \"killed by SIGKILL\"'"
}

# One apply starts its containers together (one batch): each is placed in its own cgroup by
# itself, a start that fails does not hold back the others, and exec lands in the cgroup too.
case_batch_start() {
    sv_setup batch
    start_daemon || return 1
    local i
    for i in 1 2 3 4 5; do
        u mgrtsv-b$i "command: [\"/bin/sh\", \"-c\", \"$TERMOK sleep 1000 & wait\"]"
    done
    u mgrtsv-bbad "command: [\"/bin/nope\"]
restart: {policy: \"no\"}"
    local out rc
    out=$("$MGR" apply 2>&1); rc=$?
    for i in 1 2 3 4 5; do wait_for 5 running mgrtsv-b$i || return 1; done
    assert_ne "$rc" 0 "apply exit status with a failed start" || return 1
    assert_contains "$out" "failed   mgrtsv-bbad: unit 'mgrtsv-bbad': exec '/bin/nope': No such file" || return 1
    local pid h seen=""
    for i in 1 2 3 4 5; do
        pid=$(pid_of mgrtsv-b$i)
        for h in memory pids cpu freezer; do
            [ -d /sys/fs/cgroup/$h/mgr ] || continue
            grep -qx "$pid" /sys/fs/cgroup/$h/mgr/mgrtsv-b$i/cgroup.procs ||
                { fail "mgrtsv-b$i (pid $pid) not in its $h group"; return 1; }
        done
        case " $seen " in *" $(stat -L -c %i /proc/$pid/ns/net) "*) fail "shared net ns"; return 1 ;; esac
        seen="$seen $(stat -L -c %i /proc/$pid/ns/net)"
    done
    # Inside its cgroup namespace, a process in the container's own group sees "/".
    out=$("$MGR" exec mgrtsv-b1 -- cat /proc/self/cgroup) || return 1
    assert_eq "$(grep -vc ':/$' <<<"$out")" 0 "exec'd process outside the container's groups: $out"
}

# Replacements are born in the daemon's spare network namespace (core/manager.c): each must
# still get a fresh one of its own, wired as before (lo up; eth0 with its address, reaching
# the bridge), and the daemon must be back in the host's after every clone.
case_spare_netns() {
    sv_setup sparens
    unit "$MGR_UNITS/net.yaml" <<EOT
kind: network
name: mgrtsvnet
bridge: mgrtsvbr0
subnet: 10.199.8.0/24
gateway: 10.199.8.1
EOT
    u mgrtsv-sa "command: [\"/bin/sh\", \"-c\", \"$TERMOK sleep 1000 & wait\"]
restart: {policy: always, delay: 0}"
    u mgrtsv-sb "command: [\"/bin/sh\", \"-c\", \"$TERMOK sleep 1000 & wait\"]
networks: [{name: mgrtsvnet, address: 10.199.8.10}]
restart: {policy: always, delay: 0}"
    start_daemon || return 1
    wait_for 5 running mgrtsv-sa || return 1
    wait_for 5 running mgrtsv-sb || return 1
    local host n p q i ino other spare
    host=$(stat -L -c %i /proc/self/ns/net)
    for i in 1 2 3; do
        for n in mgrtsv-sa mgrtsv-sb; do
            other=mgrtsv-sa; [ $n = mgrtsv-sa ] && other=mgrtsv-sb
            p=$(pid_of $n)
            # the spare: the one network namespace the daemon holds an fd of, not the host's
            spare=$(for f in /proc/$DPID/fd/*; do readlink "$f"; done 2>/dev/null |
                sed -n 's/^net:\[\([0-9]*\)\]$/\1/p' | grep -vx "$host" | head -n 1)
            [ -n "$spare" ] || { fail "the daemon holds no spare network namespace"; return 1; }
            kill -9 "$p"
            wait_for 5 bash -c "q=\$('$MGR' status --json | jq -r '.[] | select(.name==\"$n\") | .pid'); [ \"\$q\" -gt 0 ] && [ \"\$q\" != $p ]" ||
                { fail "$n not replaced"; return 1; }
            wait_for 5 running $n || return 1
            q=$(pid_of $n)
            ino=$(stat -L -c %i /proc/$q/ns/net)
            [ "$ino" != "$host" ] || { fail "$n (pid $q) in the host's network namespace"; return 1; }
            assert_eq "$ino" "$spare" "$n's replacement born in the spare" || return 1
            [ "$ino" != "$(stat -L -c %i /proc/$(pid_of "$other")/ns/net)" ] ||
                { fail "$n shares $other's network namespace"; return 1; }
            assert_eq "$(stat -L -c %i /proc/$DPID/ns/net)" "$host" "daemon's network namespace" || return 1
            nsenter -t "$q" -n ip -o link show lo | grep -q "UP" || { fail "$n: lo not up"; return 1; }
        done
        nsenter -t "$(pid_of mgrtsv-sb)" -n ip -o -4 addr show eth0 | grep -q "10.199.8.10/24" ||
            { fail "mgrtsv-sb: no address on eth0"; return 1; }
        nsenter -t "$(pid_of mgrtsv-sb)" -n ping -c 1 -W 2 10.199.8.1 >/dev/null ||
            { fail "mgrtsv-sb cannot reach the bridge"; return 1; }
    done
    assert_eq "$(field mgrtsv-sa .restarts)" 3 "restarts"
}

# An automatic restart keeps the container's emptied cgroup (core/manager.c, as systemd keeps a
# service's): the same group directories, status counting this run's CPU only; a stop removes
# it; after `mgr kill` (cgroup.kill where there is a v2 group, after which the kernel kills
# whatever is cloned into that group) the next run gets a new group and starts.
case_restart_keeps_cgroup() {
    sv_setup keepcg
    u mgrtsv-kc "command: [\"/bin/sh\", \"-c\", \"$TERMOK i=0; while [ \$i -lt 300000 ]; do i=\$((i+1)); done; touch /tmp/burnt; sleep 1000 & wait\"]
restart: {policy: always, delay: 0}"
    start_daemon || return 1
    wait_for 5 running mgrtsv-kc || return 1
    local g=/sys/fs/cgroup/memory/mgr/mgrtsv-kc c=/sys/fs/cgroup/cpuacct/mgr/mgrtsv-kc
    [ -d "$g" ] || { skip "no v1 memory hierarchy here"; return 0; }
    wait_for 20 "$MGR" exec mgrtsv-kc -- /bin/test -e /tmp/burnt || return 1
    local ino p q raw st
    ino=$(stat -c %i "$g")
    p=$(pid_of mgrtsv-kc)
    kill -9 "$p"
    wait_for 5 bash -c "q=\$('$MGR' status mgrtsv-kc --json | jq -r .pid); [ \"\$q\" -gt 0 ] && [ \"\$q\" != $p ]" || return 1
    q=$(pid_of mgrtsv-kc)
    assert_eq "$(stat -c %i "$g")" "$ino" "memory group kept over the restart" || return 1
    grep -qx "$q" "$g/cgroup.procs" || { fail "new init $q not in the kept group"; return 1; }
    wait_for 20 "$MGR" exec mgrtsv-kc -- /bin/test -e /tmp/burnt || return 1
    raw=$(cat "$c/cpuacct.usage" 2>/dev/null || cat /sys/fs/cgroup/cpu,cpuacct/mgr/mgrtsv-kc/cpuacct.usage)
    st=$(field mgrtsv-kc .cpu_ns)
    [ "$st" -gt 0 ] && [ "$st" -lt "$raw" ] && [ $((raw - st)) -gt 50000000 ] ||
        { fail "status cpu_ns $st should be this run's part of the group's $raw"; return 1; }
    "$MGR" stop mgrtsv-kc >/dev/null || return 1
    wait_for 5 state_is mgrtsv-kc stopped || return 1
    wait_for 3 bash -c "[ ! -d $g ]" || { fail "group left after stop"; return 1; }
    "$MGR" start mgrtsv-kc >/dev/null || return 1
    wait_for 5 running mgrtsv-kc || return 1
    p=$(pid_of mgrtsv-kc)
    "$MGR" kill -s KILL mgrtsv-kc || return 1
    wait_for 5 bash -c "q=\$('$MGR' status mgrtsv-kc --json | jq -r .pid); [ \"\$q\" -gt 0 ] && [ \"\$q\" != $p ]" || return 1
    wait_for 5 running mgrtsv-kc || return 1
    assert_eq "$(field mgrtsv-kc .last_exit.reason)" "killed by SIGKILL" "after mgr kill" || return 1
    assert_eq "$(field mgrtsv-kc .restarts)" 2 "restarts (no failed start)"
}

tcase "3-unit stack in dependency order; no-op apply; replace one; remove" case_stack_order
tcase "a broken unit changes nothing and every error is printed" case_broken_unit_changes_nothing
tcase "restart policies: on-failure/always restart after delay, no and exit 0 do not" case_restart_policies
tcase "crash loop backs off exponentially and ends failed after burst" case_crash_loop_fails
tcase "prevent_exit_codes" case_prevent_exit_codes
tcase "OOM kill shows in status" case_oom_reason
tcase "user stop survives a daemon restart" case_user_stop_survives_restart
tcase "resources.memory.max update in place (dry-run names it, same pid)" case_live_update_memory
tcase "kill -9 of the daemon: containers adopted, no duplicates, deaths noticed" case_adopt_after_kill9
tcase "daemon-reexec keeps containers and logs" case_daemon_reexec
tcase "one apply starts a batch: own cgroups, a failed start holds back none, exec in the cgroup" case_batch_start
tcase "replacements born in the spare network namespace: fresh each, wired, daemon stays home" case_spare_netns
tcase "an automatic restart keeps the emptied cgroup; stop removes it; mgr kill gets a new one" case_restart_keeps_cgroup
finish

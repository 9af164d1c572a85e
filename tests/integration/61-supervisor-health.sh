#!/bin/bash
# Supervisor: health probes (http against busybox httpd, tcp against nc, an image without a
# shell), depends_on.restart, backoff reset after a stable run, events, exec.
source "$(dirname "$0")/lib.sh"
requires root cmd:jq
source "$(dirname "$0")/sv_lib.sh"

# Serves for 1.5 s, then the server goes away: healthy first, then unhealthy -> restarted.
case_http_unhealthy_restart() {
    sv_setup http
    u mgrtsv-http "command: [\"/bin/sh\", \"-c\", \"$TERMOK httpd -f -p 8080 -h /www & sleep 1.5; kill \$!; sleep 1000 & wait\"]
health: {http: {port: 8080, path: /index.html}, interval: 200ms, timeout: 500ms, retries: 2}
restart: {policy: on-failure, delay: 100ms}"
    start_daemon || return 1
    wait_for 5 bash -c "[ \"\$('$MGR' status mgrtsv-http --json | jq -r .health)\" = healthy ]" || return 1
    local p
    p=$(pid_of mgrtsv-http)
    wait_for 8 bash -c "[ \"\$('$MGR' status mgrtsv-http --json | jq -r .restarts)\" -ge 1 ]" || return 1
    assert_eq "$(field mgrtsv-http '.history[0].reason')" unhealthy "death reason" || return 1
    assert_ne "$(pid_of mgrtsv-http)" "$p" "restarted" || return 1
    grep -q "unit 'mgrtsv-http': unhealthy: http\|unit 'mgrtsv-http': unhealthy: connect" "$CASE_DIR/daemon.log" ||
        { fail "no unhealthy reason logged"; return 1; }
}

case_tcp_unhealthy_restart() {
    sv_setup tcp
    u mgrtsv-tcp "command: [\"/bin/sh\", \"-c\", \"$TERMOK nc -ll -p 9000 -e /bin/true & sleep 1.5; kill \$!; sleep 1000 & wait\"]
health: {tcp: {port: 9000}, interval: 200ms, timeout: 500ms, retries: 2}
restart: {policy: on-failure, delay: 100ms}"
    start_daemon || return 1
    wait_for 5 bash -c "[ \"\$('$MGR' status mgrtsv-tcp --json | jq -r .health)\" = healthy ]" || return 1
    wait_for 8 bash -c "[ \"\$('$MGR' status mgrtsv-tcp --json | jq -r .restarts)\" -ge 1 ]" || return 1
    assert_eq "$(field mgrtsv-tcp '.history[0].reason')" unhealthy "death reason"
}

# An image with no shell and no curl: only an httpd binary. The probe is the daemon's own.
case_http_no_shell() {
    sv_setup noshell
    local img="$CASE_DIR/img"
    mkdir -p "$img/www" "$img/proc" "$img/dev" "$img/sys" "$img/tmp" "$img/etc"
    cp /bin/busybox "$img/httpd"
    echo ok >"$img/www/index.html"
    unit "$MGR_UNITS/mgrtsv-noshell.yaml" <<EOT
name: mgrtsv-noshell
image: dir:$img
command: ["/httpd", "-f", "-p", "8081", "-h", "/www"]
stop: {timeout: 1s}
health: {http: {port: 8081}, interval: 200ms, retries: 2}
EOT
    [ ! -e "$img/bin/sh" ] || return 1
    start_daemon || return 1
    wait_for 5 bash -c "[ \"\$('$MGR' status mgrtsv-noshell --json | jq -r .health)\" = healthy ]"
}

case_depends_on_restart() {
    sv_setup deprestart
    u mgrtsv-base "command: [\"/bin/sh\", \"-c\", \"$TERMOK sleep 1000 & wait\"]
restart: {policy: always, delay: 100ms}"
    u mgrtsv-follow "command: [\"/bin/sh\", \"-c\", \"$TERMOK sleep 1000 & wait\"]
depends_on: {mgrtsv-base: {restart: true}}"
    u mgrtsv-indep "command: [\"/bin/sh\", \"-c\", \"$TERMOK sleep 1000 & wait\"]
depends_on: [mgrtsv-base]"
    start_daemon || return 1
    wait_for 5 running mgrtsv-follow || return 1
    wait_for 5 running mgrtsv-indep || return 1
    local pb pf pi
    pb=$(pid_of mgrtsv-base); pf=$(pid_of mgrtsv-follow); pi=$(pid_of mgrtsv-indep)
    kill -9 "$pb"
    wait_for 5 bash -c "p=\$('$MGR' status mgrtsv-follow --json | jq -r .pid); [ \"\$p\" -gt 0 ] && [ \"\$p\" != $pf ]" || return 1
    assert_eq "$(pid_of mgrtsv-indep)" "$pi" "dependent without restart: untouched" || return 1
    wait_for 3 running mgrtsv-base
}

# Fast crashes back off 100, 200, 400 ms...; after a run longer than reset_after, the next
# delay is back at 100 ms.
case_backoff_reset() {
    sv_setup reset
    local ctl="$CASE_DIR/ctl"
    mkdir -p "$ctl"
    u mgrtsv-flaky "command: [\"/bin/sh\", \"-c\", \"if [ -f /ctl/stable ]; then rm /ctl/stable; sleep 1.2; fi; exit 1\"]
mounts: [{type: bind, source: $ctl, target: /ctl}]
restart: {policy: on-failure, delay: 100ms, max_delay: 5s, reset_after: 1s, burst: 100, interval: 60s}"
    start_daemon || return 1
    wait_for 5 grep -q "restarting in 400ms" "$CASE_DIR/daemon.log" || return 1
    touch "$ctl/stable"
    wait_for 8 bash -c "grep -o 'restarting in [0-9]*ms' '$CASE_DIR/daemon.log' | sed -n '4,\$p' | grep -q 'in 100ms'" || {
        grep -o 'restarting in [0-9]*ms' "$CASE_DIR/daemon.log"; return 1; }
}

case_events_stream() {
    sv_setup events
    u mgrtsv-ev "command: [\"/bin/sh\", \"-c\", \"$TERMOK sleep 1000 & wait\"]
restart: {policy: on-failure, delay: 100ms}"
    start_daemon || return 1
    wait_for 5 running mgrtsv-ev || return 1
    "$MGR" events >"$CASE_DIR/events" &
    local ep=$!
    sleep 0.2
    kill -9 "$(pid_of mgrtsv-ev)"
    wait_for 5 bash -c "grep -c '\"unit\":\"mgrtsv-ev\"' '$CASE_DIR/events' | grep -q '[3-9]'"
    local rc=$?
    kill "$ep"; wait "$ep" 2>/dev/null
    [ $rc -eq 0 ] || { cat "$CASE_DIR/events"; return 1; }
    jq -s -e 'any(.[]; .event == "exited" and .state == "backoff") and
        any(.[]; .event == "spawned" and .state == "running")' "$CASE_DIR/events" >/dev/null ||
        { cat "$CASE_DIR/events"; return 1; }
}

case_exec() {
    sv_setup exec
    u mgrtsv-ex "command: [\"/bin/sh\", \"-c\", \"$TERMOK sleep 1000 & wait\"]"
    start_daemon || return 1
    wait_for 5 running mgrtsv-ex || return 1
    local out rc p
    out=$("$MGR" exec mgrtsv-ex -- /bin/cat /proc/1/cmdline | tr '\0' ' ') || return 1
    assert_contains "$out" "/bin/sh -c" "pid 1 seen from exec" || return 1
    "$MGR" exec mgrtsv-ex -- /bin/sh -c 'exit 7'; rc=$?
    assert_eq "$rc" 7 "exit status" || return 1
    # Same namespaces as the container's init, from outside.
    p=$(pid_of mgrtsv-ex)
    out=$("$MGR" exec mgrtsv-ex -- /bin/readlink /proc/self/ns/mnt) || return 1
    assert_eq "$out" "$(readlink /proc/$p/ns/mnt)" "mount ns" || return 1
    out=$(echo hi | "$MGR" exec mgrtsv-ex -i -- /bin/cat) || return 1
    assert_eq "$out" hi "stdin with -i" || return 1
    # mgr kill signals the container; the policy (on-failure) restarts it.
    "$MGR" kill -s KILL mgrtsv-ex || return 1
    wait_for 5 bash -c "p=\$('$MGR' status mgrtsv-ex --json | jq -r .pid); [ \"\$p\" -gt 0 ] && [ \"\$p\" != $p ]" || return 1
    assert_eq "$(field mgrtsv-ex .last_exit.reason)" "killed by SIGKILL"
}

# A network unit and two containers on it: the bridge comes up first, b waits for a to be
# healthy, b reaches a by name; removing the files removes the containers, then the bridge.
case_network_stack() {
    sv_setup net
    unit "$MGR_UNITS/net.yaml" <<EOT
kind: network
name: mgrtsvnet
bridge: mgrtsvbr0
subnet: 10.199.7.0/24
gateway: 10.199.7.1
EOT
    u mgrtsv-na "command: [\"/bin/httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]
networks: [{name: mgrtsvnet, address: 10.199.7.10}]
health: {http: {port: 80}, interval: 200ms}"
    u mgrtsv-nb "command: [\"/bin/sh\", \"-c\", \"$TERMOK sleep 1000 & wait\"]
networks: [mgrtsvnet]
depends_on: {mgrtsv-na: {condition: healthy}}"
    start_daemon || return 1
    wait_for 5 running mgrtsv-nb || return 1
    assert_eq "$(field mgrtsv-na '.addresses[0]')" 10.199.7.10 || return 1
    ip -br addr show mgrtsvbr0 | grep -q 10.199.7.1/24 || { fail "bridge address"; return 1; }
    assert_eq "$("$MGR" exec mgrtsv-nb -- /bin/wget -q -O- http://mgrtsv-na/index.html)" hello || return 1
    rm "$MGR_UNITS"/*.yaml
    "$MGR" apply >/dev/null || return 1
    wait_for 3 bash -c "! ip link show mgrtsvbr0" >/dev/null 2>&1 || { fail "bridge left"; return 1; }
    assert_eq "$("$MGR" status --json | jq length)" 0 "units left"
}

# A static helper that sends READY=1 to $NOTIFY_SOCKET, built into the rootfs.
build_notify() {
    cat >"$T_TMP/notify.c" <<'EOC'
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
int main(void)
{
    const char *p = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (!p || fd < 0)
        return 2;
    strncpy(sa.sun_path, p, sizeof(sa.sun_path) - 1);
    return sendto(fd, "READY=1", 7, 0, (struct sockaddr *)&sa, sizeof(sa)) == 7 ? 0 : 1;
}
EOC
    cc -static -O2 -o "$ROOTFS/notify" "$T_TMP/notify.c"
}

# sd_notify: a static helper sends READY=1 to $NOTIFY_SOCKET after a while; the dependent
# (condition: healthy) starts only then. READY=1 counts as a passing health check (a unit
# without any health check is healthy as soon as it runs).
case_sd_notify_ready() {
    command -v cc >/dev/null || skip "needs cc"
    sv_setup notify
    build_notify || skip "cannot build a static helper"
    # Its own probe cannot pass (nothing listens): only READY=1 can make it healthy.
    u mgrtsv-ready "command: [\"/bin/sh\", \"-c\", \"$TERMOK sleep 1.5; /notify || echo NOTIFY FAILED; sleep 1000 & wait\"]
health: {tcp: {port: 9999}, interval: 10s, start_period: 60s}"
    u mgrtsv-after "command: [\"/bin/sh\", \"-c\", \"$TERMOK sleep 1000 & wait\"]
depends_on: {mgrtsv-ready: {condition: healthy}}"
    start_daemon || return 1
    wait_for 5 running mgrtsv-ready || return 1
    assert_eq "$(field mgrtsv-after .state)" waiting "before READY=1" || return 1
    wait_for 5 running mgrtsv-after || { "$MGR" logs mgrtsv-ready; return 1; }
    assert_eq "$(field mgrtsv-ready .health)" healthy
}

# After a daemon restart the adopted container's health checks go on, its $NOTIFY_SOCKET works
# again (the new daemon binds a new socket in the directory the container has mounted), and a
# health it had is kept.
case_sd_notify_after_restart() {
    command -v cc >/dev/null || skip "needs cc"
    sv_setup notify2
    build_notify || skip "cannot build a static helper"
    u mgrtsv-ready2 "command: [\"/bin/sh\", \"-c\", \"$TERMOK while [ ! -e /tmp/go ]; do sleep 0.1; done; /notify || echo NOTIFY FAILED; sleep 1000 & wait\"]
health: {tcp: {port: 9999}, interval: 10s, start_period: 60s}"
    start_daemon || return 1
    wait_for 5 running mgrtsv-ready2 || return 1
    local p dp
    p=$(pid_of mgrtsv-ready2)
    dp=$(cat "$CASE_DIR/daemon.pid")
    kill -9 "$dp"
    wait_for 5 bash -c "! kill -0 $dp 2>/dev/null" || return 1
    start_daemon || return 1
    assert_eq "$(pid_of mgrtsv-ready2)" "$p" "adopted, same pid" || return 1
    assert_eq "$(field mgrtsv-ready2 .health)" starting "before READY=1" || return 1
    "$MGR" exec mgrtsv-ready2 -- touch /tmp/go || return 1
    wait_for 5 bash -c "[ \"\$('$MGR' status mgrtsv-ready2 --json | jq -r .health)\" = healthy ]" ||
        { "$MGR" logs mgrtsv-ready2; return 1; }
    "$MGR" logs mgrtsv-ready2 | grep -q "NOTIFY FAILED" && { fail "READY=1 not delivered"; return 1; }
    # Once ready, a unit stays healthy across another daemon restart (READY=1 is not resent).
    dp=$(cat "$CASE_DIR/daemon.pid")
    kill -9 "$dp"
    wait_for 5 bash -c "! kill -0 $dp 2>/dev/null" || return 1
    start_daemon || return 1
    assert_eq "$(field mgrtsv-ready2 .health)" healthy "after the second restart"
}

tcase "sd_notify READY=1 makes a unit healthy for depends_on" case_sd_notify_ready
tcase "sd_notify works again for a container adopted by a new daemon" case_sd_notify_after_restart
tcase "network unit: bridge, addresses, health across it, removal order" case_network_stack
tcase "http probe: healthy, then unhealthy -> restarted" case_http_unhealthy_restart
tcase "tcp probe (nc -l): healthy, then unhealthy -> restarted" case_tcp_unhealthy_restart
tcase "image without a shell becomes healthy through an http probe" case_http_no_shell
tcase "depends_on.restart restarts the dependent only" case_depends_on_restart
tcase "backoff resets after a stable run" case_backoff_reset
tcase "events stream state changes as JSON lines" case_events_stream
tcase "exec runs inside the container with its exit status" case_exec
finish

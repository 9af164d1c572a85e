#!/bin/bash
# Every example under examples/ validates; the hello and web-cache stacks are applied as they
# are (only the image path points at this test's own copy and the bridge gets the mgrt
# prefix) through a real daemon, and checked from outside: the page over the bridge, logs,
# exec, redis PONG from another container by unit name, and teardown leaving nothing.
source "$(dirname "$0")/lib.sh"
requires root cmd:jq cmd:curl cmd:umoci

# One daemon for the file (cases run in subshells), started and torn down by sv_lib.sh's
# helpers: stopped by its pid (--stop-on-exit stops its containers), then anything a crash
# left is killed by the pids in the state directory and its cgroups removed.
source "$(dirname "$0")/sv_lib.sh"
CASE_DIR=$T_TMP
on_exit "sv_teardown; ip link del mgrt-hello-net; ip link del mgrt-web-cache"
start_daemon || exit 1

# stage EXAMPLE IMAGE_DIR: copies an example's units into MGR_UNITS with the image path
# rewritten to IMAGE_DIR and the network's bridge named mgrt-<network>.
stage() {
    local ex=$1 img=$2 f base
    for f in "$TOP/examples/$ex"/*.yaml; do
        base=$(basename "$f")
        sed -e "s#oci:/var/lib/mgr/examples/[a-z-]*-oci#oci:$img#" "$f" >"$MGR_UNITS/$ex-$base"
        if grep -q '^kind: network' "$f"; then
            echo "bridge: mgrt-$(sed -n 's/^name: //p' "$f" | cut -c1-9)" >>"$MGR_UNITS/$ex-$base"
        fi
        chmod 0644 "$MGR_UNITS/$ex-$base"
    done
}
on_fail() { echo "  daemon log:"; tail -n 25 "$T_TMP/daemon.log" 2>/dev/null | sed 's/^/    /'; }
state_of() { "$MGR" status --json | jq -r --arg n "$1" '.[] | select(.name == $n and .kind == "container") | .state'; }
is_healthy() { [ "$(health_of "$1")" = healthy ]; }
health_of() { "$MGR" status --json | jq -r --arg n "$1" '.[] | select(.name == $n and .kind == "container") | .health'; }

case_validate_all() {
    local d out
    for d in "$TOP"/examples/*/; do
        ls "$d"/*.yaml >/dev/null 2>&1 || continue
        out=$("$MGR" validate "$d" 2>&1) || fail "examples/$(basename "$d"): $out" || return 1
    done
    out=$("$MGR" validate "$TOP/units" 2>&1) || fail "units/: $out"
}

case_hello() {
    local img="$T_TMP/busybox-oci"
    # The example's own image recipe (setup.sh), pointed at this test's directory.
    HELLO_IMAGE="$img" "$TOP/examples/hello/setup.sh" --image-only >"$T_TMP/hello.log" 2>&1 ||
        { tail "$T_TMP/hello.log"; fail "building the image"; return 1; }
    stage hello "$img"
    "$MGR" apply >"$T_TMP/apply.out" 2>&1 || { cat "$T_TMP/apply.out"; return 1; }
    wait_for 20 curl -fsS --max-time 1 http://10.89.0.10/ || fail "page not served" || return 1
    local page
    page=$(curl -fsS --max-time 2 http://10.89.0.10/)
    assert_contains "$page" "Hello from mgr" || return 1
    assert_eq "$(state_of hello)" running "hello state" || return 1
    wait_for 20 is_healthy hello || fail "hello never healthy" || return 1
    wait_for 5 bash -c "'$MGR' logs hello | grep -q 'response:200'" || fail "no access log: $("$MGR" logs hello 2>&1)" || return 1
    assert_eq "$("$MGR" exec hello -- /bin/hostname)" hello "hostname via exec" || return 1
    # A change to a unit is picked up without a restart when it is a live value.
    local pid1 pid2
    pid1=$("$MGR" status --json | jq -r '.[] | select(.name == "hello" and .kind == "container") | .pid')
    sed -i 's/max: 32M/max: 48M/' "$MGR_UNITS/hello-hello.yaml"
    "$MGR" apply >/dev/null 2>&1 || return 1
    pid2=$("$MGR" status --json | jq -r '.[] | select(.name == "hello" and .kind == "container") | .pid')
    assert_eq "$pid2" "$pid1" "pid after a memory change" || return 1
    # A broken unit is refused whole with FILE:LINE:COLUMN, and changes nothing.
    printf 'name: broken\nimage: dir:/\ncomand: [/bin/true]\n' >"$MGR_UNITS/broken.yaml"
    chmod 0644 "$MGR_UNITS/broken.yaml"
    local out
    out=$("$MGR" apply 2>&1) && fail "apply of a broken unit succeeded" && return 1
    assert_match "$out" "broken.yaml:3:1: error: .*did you mean 'command'" || return 1
    rm -f "$MGR_UNITS/broken.yaml"
    assert_eq "$(state_of hello)" running "hello after a refused apply" || return 1
    # Removing the files removes the stack.
    rm -f "$MGR_UNITS"/hello-*.yaml
    "$MGR" apply >/dev/null 2>&1 || return 1
    wait_for 10 bash -c "! ip link show mgrt-hello-net >/dev/null 2>&1" || fail "bridge left behind" || return 1
    # The daemon answers and lists neither unit (an empty answer from a failed status would
    # not tell), and the container's cgroup is gone.
    local st
    st=$("$MGR" status --json) || fail "status after removal failed" || return 1
    assert_eq "$(jq '[.[] | select(.name == "hello" or .name == "hello-net")] | length' <<<"$st")" 0 \
        "units listed after removal" || return 1
    wait_for 10 bash -c "! ls -d /sys/fs/cgroup/*/mgr/hello 2>/dev/null | grep -q ." ||
        fail "cgroup of hello left behind"
}

case_web_cache() {
    local img="$T_TMP/debian-web-oci"
    WEBCACHE_IMAGE="$img" "$TOP/examples/web-cache/setup.sh" --image-only >"$T_TMP/wc.log" 2>&1 ||
        { tail "$T_TMP/wc.log"; return 1; }
    stage web-cache "$img"
    "$MGR" apply >"$T_TMP/apply.out" 2>&1 || { cat "$T_TMP/apply.out"; return 1; }
    wait_for 60 curl -fsS --max-time 1 http://10.90.0.10/ || fail "nginx page not served" || return 1
    assert_contains "$(curl -fsS --max-time 2 http://10.90.0.10/)" "web-cache" || return 1
    local pong
    pong=$("$MGR" exec nginx -- /usr/bin/redis-cli -h redis ping 2>&1)
    assert_eq "$pong" PONG "redis-cli ping from the nginx container" || return 1
    assert_eq "$(health_of redis)" healthy "redis health" || return 1
    rm -f "$MGR_UNITS"/web-cache-*.yaml
    "$MGR" apply >/dev/null 2>&1 || return 1
    wait_for 15 bash -c "! ip link show mgrt-web-cache >/dev/null 2>&1" || fail "bridge left behind"
}

tcase "every example and shipped unit validates" case_validate_all
tcase "examples/hello: page, health, logs, exec, live change, broken unit, removal" case_hello
tcase "examples/web-cache: nginx after redis healthy, redis PONG by name, removal" case_web_cache
finish

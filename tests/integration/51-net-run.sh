#!/usr/bin/env bash
# Networking with real containers through `mgr run` (busybox rootfs, networks from
# $MGR_UNITS): reachability by address and by unit name on one network, isolation between
# networks, net: none, net: container:NAME, what is inside as seen from outside (nsenter),
# static address refusals, and 100 start/stop cycles leaving nothing behind.
# Traffic only between containers this test starts; the host forwards nothing.
source "$(dirname "$0")/lib.sh"
requires root file:/bin/busybox cmd:nsenter cmd:ip
[ -x "$MGR" ] || { echo "  skipped: mgr not built ($MGR)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }

ROOTFS="$T_TMP/rootfs"
make_busybox_rootfs "$ROOTFS"
P=mgrt$(($$ % 100000)) # short enough for bridge names (IFNAMSIZ)
NET1=${P}n1 NET2=${P}n2
BR1=mgr-$NET1 BR2=mgr-$NET2
[ ${#BR1} -lt 16 ] || { echo "  skipped: pid too long for bridge names"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
unit "$MGR_UNITS/$NET1.yaml" <<EOF
kind: network
name: $NET1
subnet: 10.241.0.0/24
EOF
unit "$MGR_UNITS/$NET2.yaml" <<EOF
kind: network
name: $NET2
subnet: 10.242.0.0/24
EOF
# mgr run leaves bridges (they belong to the declared networks); this test's go at exit
on_exit ip link del "$BR1"
on_exit ip link del "$BR2"

# mk NAME <<YAML: container unit NAME (in the test dir, not in $MGR_UNITS) on the busybox rootfs
mk() { { echo "name: $1"; echo "image: dir:$ROOTFS"; cat; } | unit "$T_TMP/$1.yaml"; }
state_pid() { sed -n 's/^pid=//p' "$MGR_RUN/containers/$1/state" 2>/dev/null; }
running() { local p; p=$(state_pid "$1") && [ -n "$p" ] && [ "$p" != 0 ] && [ -e "/proc/$p" ]; }
# bg NAME: mgr run NAME in the background (a sleeping container); its pid in BG_PID
bg() {
    "$MGR" run "$T_TMP/$1.yaml" >"$T_TMP/$1.out" 2>&1 &
    BG_PID=$!
    wait_for 10 running "$1" || { kill $BG_PID; fail "container $1 did not start: $(cat "$T_TMP/$1.out")"; return 1; }
}
stop_bg() { kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null; return 0; }
netx() { nsenter -t "$(state_pid "$1")" -n "${@:2}"; }
# interface names and MTU as seen inside (sysfs under nsenter is the host's: use netlink)
ifnames() { netx "$1" ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort | tr '\n' ' '; }
mtu_of() { netx "$1" ip -o link show dev "$2" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p'; }
# a sleeping container that exits on SIGTERM (an init without a handler would ignore it)
SLEEPER='command: ["/bin/sh", "-c", "trap \"exit 0\" TERM; sleep 60 & wait"]'
# ping needs a raw socket: the default capability set has no NET_RAW
PING_CAPS='security: {capabilities: {add: [NET_RAW]}}'

t_same_network() {
    mk ${P}a <<EOF
command: ["/bin/sh", "-c", "trap 'exit 0' TERM; (while :; do echo hello-from-a | nc -l -p 8080; done) & wait"]
networks: [$NET1]
EOF
    mk ${P}b <<EOF
command: ["/bin/sh", "-c", "ping -c1 -W2 10.241.0.2 && ping -c1 -W2 ${P}a && nc -w2 ${P}a 8080 </dev/null"]
networks: [$NET1]
$PING_CAPS
EOF
    bg ${P}a || return 1
    local a=$BG_PID rc=0 out
    # from outside: address, route, MTU, interface names, host end
    assert_contains "$(netx ${P}a ip -o -4 addr show dev eth0)" "inet 10.241.0.2/24" || rc=1
    assert_eq "$(netx ${P}a ip route show default)" "default via 10.241.0.1 dev eth0 proto static " || rc=1
    assert_eq "$(mtu_of ${P}a eth0)" "$(cat /sys/class/net/$BR1/mtu)" "mtu" || rc=1
    assert_eq "$(ifnames ${P}a)" "eth0 lo " "interfaces" || rc=1
    assert_match "$(ip -o link show master "$BR1")" "vm${P:0:8}-[0-9a-f]{4}@" "host end" || rc=1
    # b reaches a by address and by unit name (its /etc/hosts)
    out=$("$MGR" run "$T_TMP/${P}b.yaml" 2>&1) || { fail "b could not reach a: $out"; rc=1; }
    assert_contains "$out" "1 packets received" || rc=1
    assert_contains "$out" "PING ${P}a (10.241.0.2)" "ping by name" || rc=1
    assert_contains "$out" "hello-from-a" "TCP by name" || rc=1
    # a's /etc/hosts (inside) was rewritten when b joined and again when it left
    local hosts
    hosts=$(nsenter -t "$(state_pid ${P}a)" -m cat /etc/hosts)
    assert_contains "$hosts" "10.241.0.2	${P}a" || rc=1
    assert_not_contains "$hosts" "${P}b" "hosts after b left" || rc=1
    stop_bg $a
    return $rc
}

t_isolation() {
    [ "$(cat /proc/sys/net/ipv4/ip_forward)" = 0 ] ||
        skip "ip_forward is on on this host: it would route between bridges (mgr never turns it on)"
    mk ${P}c <<EOF
$SLEEPER
networks: [$NET1]
EOF
    mk ${P}d <<EOF
command: ["/bin/sh", "-c", "ping -c1 -W2 10.242.0.1 || exit 3; ping -c1 -W1 10.241.0.2 && exit 4; grep -q ${P}c /etc/hosts && exit 5; exit 0"]
networks: [$NET2]
$PING_CAPS
EOF
    bg ${P}c || return 1
    local c=$BG_PID rc=0 out
    out=$("$MGR" run "$T_TMP/${P}d.yaml" 2>&1)
    case $? in
    0) ;;
    3) fail "d cannot reach its own gateway: $out"; rc=1 ;;
    4) fail "d reached c across networks"; rc=1 ;;
    5) fail "c is in d's hosts file"; rc=1 ;;
    *) fail "d failed: $out"; rc=1 ;;
    esac
    stop_bg $c
    return $rc
}

t_none_and_private_only_lo() {
    mk ${P}e <<EOF
$SLEEPER
namespaces: {net: none}
EOF
    bg ${P}e || return 1
    local e=$BG_PID rc=0
    assert_eq "$(ifnames ${P}e)" "lo " "net: none interfaces" || rc=1
    assert_contains "$(netx ${P}e ip -o link show lo)" ",UP," "lo up" || rc=1
    assert_ne "$(readlink /proc/$(state_pid ${P}e)/ns/net)" "$(readlink /proc/self/ns/net)" "own netns" || rc=1
    stop_bg $e
    return $rc
}

t_container_shares() {
    mk ${P}f <<EOF
$SLEEPER
networks: [$NET1]
EOF
    mk ${P}g <<EOF
$SLEEPER
namespaces: {net: "container:${P}f"}
EOF
    bg ${P}f || return 1
    local f=$BG_PID rc=0
    bg ${P}g || { stop_bg $f; return 1; }
    local g=$BG_PID
    assert_eq "$(readlink /proc/$(state_pid ${P}g)/ns/net)" "$(readlink /proc/$(state_pid ${P}f)/ns/net)" \
        "net ns of g" || rc=1
    assert_eq "$(netx ${P}g ip -o -4 addr show dev eth0 | awk '{print $4}')" \
        "$(netx ${P}f ip -o -4 addr show dev eth0 | awk '{print $4}')" "g's eth0 address" || rc=1
    assert_eq "$(ifnames ${P}g)" "eth0 lo " "g's interfaces" || rc=1
    stop_bg $g
    stop_bg $f
    return $rc
}

t_static_and_refusals() {
    mk ${P}h <<EOF
$SLEEPER
networks: [{name: $NET1, address: 10.241.0.77}]
EOF
    mk ${P}i <<EOF
command: ["/bin/true"]
networks: [{name: $NET1, address: 10.241.0.77}]
EOF
    mk ${P}j <<EOF
command: ["/bin/true"]
networks: [{name: $NET1, address: 10.99.0.5}]
EOF
    bg ${P}h || return 1
    local h=$BG_PID rc=0 out
    assert_contains "$(netx ${P}h ip -o -4 addr show dev eth0)" "inet 10.241.0.77/24" || rc=1
    out=$("$MGR" run "$T_TMP/${P}i.yaml" 2>&1) && { fail "conflicting static address accepted"; rc=1; }
    assert_contains "$out" "10.241.0.77" || rc=1
    assert_contains "$out" "${P}h" "conflict message" || rc=1
    out=$("$MGR" run "$T_TMP/${P}j.yaml" 2>&1) && { fail "out-of-subnet address accepted"; rc=1; }
    assert_contains "$out" "10.99.0.5" || rc=1
    # and at validate time, for a unit directory: both mistakes, with positions
    local vd="$T_TMP/validate"
    mkdir -p "$vd" && cp "$MGR_UNITS/$NET1.yaml" "$T_TMP/${P}h.yaml" "$T_TMP/${P}i.yaml" "$T_TMP/${P}j.yaml" "$vd/"
    chmod 0644 "$vd"/*.yaml
    out=$("$MGR" validate "$vd" 2>&1) && { fail "validate accepted the directory"; rc=1; }
    assert_contains "$out" "outside network '$NET1'" "validate: out of subnet" || rc=1
    assert_contains "$out" "10.241.0.77" "validate: conflict" || rc=1
    stop_bg $h
    [ ! -s "$MGR_ROOT/net/leases/$NET1" ] || { fail "leases left: $(cat "$MGR_ROOT/net/leases/$NET1")"; rc=1; }
    return $rc
}

t_cycles_leave_nothing() {
    mk ${P}k <<EOF
command: ["/bin/true"]
networks: [$NET1, $NET2]
EOF
    local links0 i
    links0=$(ip -o link show | grep -c "^[0-9]*: mgr-$P")
    for i in $(seq 1 100); do
        "$MGR" run "$T_TMP/${P}k.yaml" >/dev/null 2>&1 || { fail "run $i failed: $("$MGR" run "$T_TMP/${P}k.yaml" 2>&1)"; return 1; }
    done
    wait_for 10 sh -c "! ip -o link show | grep -q 'vm${P:0:8}-'" || { fail "veths left"; return 1; }
    assert_eq "$(ip -o link show | grep -c "^[0-9]*: mgr-$P")" "$links0" "bridges" || return 1
    assert_eq "$(find "$MGR_ROOT/net/leases" "$MGR_RUN/net/hosts" -mindepth 1 -not -type d | wc -l)" 0 \
        "lease and hosts files left" || return 1
    [ ! -e "$MGR_ROOT/net/hosts" ] || { fail "hosts files written under the state root"; return 1; }
    assert_eq "$(ls "$MGR_RUN/containers" 2>/dev/null | wc -l)" 0 "container state left" || return 1
}

# `bridge: lo` names an interface that exists and is not a bridge: refused with that reason
# (not "create veth: Invalid argument"), the unit named once, lo left as it was.
t_not_a_bridge() {
    unit "$MGR_UNITS/${P}n3.yaml" <<EOF
kind: network
name: ${P}n3
bridge: lo
subnet: 10.243.0.0/24
EOF
    mk ${P}l <<EOF
command: ["/bin/true"]
networks: [${P}n3]
EOF
    local out rc=0 lo0
    lo0=$(ip -o addr show dev lo)
    out=$("$MGR" run "$T_TMP/${P}l.yaml" 2>&1) && { fail "a network on lo accepted"; rc=1; }
    assert_contains "$out" "interface 'lo' exists and is not a bridge" || rc=1
    assert_eq "$(grep -o "unit '${P}l'" <<<"$out" | wc -l)" 1 "times the unit is named in: $out" || rc=1
    assert_eq "$(ip -o addr show dev lo)" "$lo0" "lo's addresses" || rc=1
    [ -z "$(ip -o link show master lo 2>/dev/null)" ] || { fail "something enslaved to lo"; rc=1; }
    [ ! -s "$MGR_ROOT/net/leases/${P}n3" ] || { fail "lease left: $(cat "$MGR_ROOT/net/leases/${P}n3")"; rc=1; }
    assert_eq "$(ls "$MGR_RUN/containers" 2>/dev/null | wc -l)" 0 "container state left" || rc=1
    rm -f "$MGR_UNITS/${P}n3.yaml"
    return $rc
}

tcase same-network-address-and-name t_same_network
tcase networks-isolated t_isolation
tcase net-none-only-lo t_none_and_private_only_lo
tcase container-net-shared t_container_shares
tcase static-address-and-refusals t_static_and_refusals
tcase hundred-cycles-leave-nothing t_cycles_leave_nothing
tcase bridge-not-a-bridge t_not_a_bridge
finish

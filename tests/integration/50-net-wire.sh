#!/usr/bin/env bash
# Networking through core/net.h, driven by tests/integration/netdrv.c in network namespaces
# this test creates (ip netns add mgrt-...): bridges, veth pairs created straight into the
# namespace, addresses, routes, MTU, names, leases, hosts files, teardown, leftovers.
# Traffic only between these namespaces and the test's own bridges; nothing is forwarded.
source "$(dirname "$0")/lib.sh"
requires root cmd:ip cmd:busybox cmd:cc cmd:pkg-config file:"$B/libmgrcore.a"

NETDRV="$T_TMP/netdrv"
PKGS="yaml-0.1 libarchive libnl-3.0 libnl-route-3.0 libcap libseccomp jansson libcrypto libkmod"
cc -std=gnu11 -D_GNU_SOURCE -O2 -g -I"$TOP/core" $(pkg-config --cflags $PKGS) -o "$NETDRV" \
    "$TOP/tests/integration/netdrv.c" "$B/libmgrcore.a" $(pkg-config --libs $PKGS) ||
    { echo "  cannot build netdrv"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }

ST="$T_TMP/state"
P=mgrt$(($$ % 100000))          # unique per run, short enough for bridge names (IFNAMSIZ)
N1="${P}a=10.231.0.0/24"      # network units given to netdrv as NAME=SUBNET
N2="${P}b=10.232.0.0/24"
BR1="mgr-${P}a"
BR2="mgr-${P}b"
drv() { "$NETDRV" -s "$ST" -n "$N1" -n "$N2" "$@"; }

# Each case runs in a subshell: its namespaces are deleted when it ends (pass or fail), and
# whatever is left at exit is deleted by the file's cleanup.
T_NS=()
# Containers (by name) a case wired are unwired at its end too, so that a failing case does
# not leave leases that shift the addresses later cases expect.
T_CTR=()
_delns() {
    local rc=$? n
    for n in "${T_CTR[@]}"; do "$NETDRV" -s "$ST" -n "$N1" -n "$N2" -c "$n" unwire 2>/dev/null; done
    for n in "${T_NS[@]}"; do ip netns del "$n" 2>/dev/null; done
    [ $rc -eq 0 ] || [ $rc -eq 77 ] || echo "  (case exited with status $rc)" >&2
}
mkns() {
    ip netns add "$P-$1" || { fail "ip netns add $P-$1 failed"; return 1; }
    T_NS+=("$P-$1")
    trap _delns EXIT
}
uses() { T_CTR+=("$@"); trap _delns EXIT; }
on_exit 'for n in $(ip netns list | awk "{print \$1}" | grep "^$P-"); do ip netns del $n; done'
nsx() { local n=$1; shift; ip netns exec "$P-$n" "$@"; }
on_exit "$NETDRV" -s "$ST" -n "$N1" -n "$N2" down
on_exit ip link del mgrtbr$$
on_exit ip link del "mgr-${P}c"

# two containers on one network: addresses, names, MTU, routes, hosts; they reach each other
t_same_network() {
    uses ${P}x ${P}y
    mkns a && mkns b || return 1
    local out
    out=$(drv -c ${P}x -a ${P}a wire /run/netns/$P-a) || fail "wire x: $out" || return 1
    assert_eq "$out" "${P}a 10.231.0.2" "lease of x" || return 1
    out=$(drv -c ${P}y -a ${P}a wire /run/netns/$P-b) || fail "wire y: $out" || return 1
    assert_eq "$out" "${P}a 10.231.0.3" "lease of y" || return 1
    # bridge: mgr's (alias), gateway address, up
    assert_contains "$(ip -d link show "$BR1")" "alias mgr:network:${P}a@$ST" || return 1
    assert_contains "$(ip -o -4 addr show dev "$BR1")" "10.231.0.1/24" || return 1
    # inside: eth0 with the address, lo up, default route via the gateway, MTU of the bridge
    assert_contains "$(nsx a ip -o -4 addr show dev eth0)" "inet 10.231.0.2/24" || return 1
    assert_contains "$(nsx a ip -o link show lo)" ",UP," "lo" || return 1
    assert_contains "$(nsx a ip -o link show eth0)" ",UP," "eth0" || return 1
    assert_eq "$(nsx a ip route show default)" "default via 10.231.0.1 dev eth0 proto static " \
        "default route" || return 1
    assert_eq "$(nsx a cat /sys/class/net/eth0/mtu)" "$(cat /sys/class/net/$BR1/mtu)" "mtu" || return 1
    assert_eq "$(nsx a ls /sys/class/net | sort | tr '\n' ' ')" "eth0 lo " "interfaces" || return 1
    # host end: named after the container, enslaved to the bridge, up
    local host
    host=$(ip -o link show master "$BR1" | awk -F': ' '{print $2}' | cut -d@ -f1 | sort | tr '\n' ' ')
    assert_match "$host" "^vm${P:0:8}-[0-9a-f]{4} vm${P:0:8}-[0-9a-f]{4} $" "host ends" || return 1
    # traffic both ways, and to the gateway
    nsx a busybox ping -c1 -W2 10.231.0.3 >/dev/null || fail "x cannot ping y" || return 1
    nsx b busybox ping -c1 -W2 10.231.0.2 >/dev/null || fail "y cannot ping x" || return 1
    nsx a busybox ping -c1 -W2 10.231.0.1 >/dev/null || fail "x cannot ping the gateway" || return 1
    # hosts files: both know both, by unit name, and x's was rewritten when y joined
    local hx hy
    hx=$(drv -c ${P}x hosts | head -1); hy=$(drv -c ${P}y hosts | head -1)
    assert_contains "$(cat "$hx")" "10.231.0.2	${P}x" || return 1
    assert_contains "$(cat "$hx")" "10.231.0.3	${P}y" || return 1
    assert_contains "$(cat "$hy")" "10.231.0.2	${P}x" || return 1
    # by name through the hosts file, as a container sees it (bind-mounted over /etc/hosts)
    local ip
    ip=$(nsx a unshare -m sh -c "mount --bind '$hx' /etc/hosts && getent hosts ${P}y" | awk '{print $1}')
    assert_eq "$ip" "10.231.0.3" "x resolves y" || return 1
    nsx a busybox ping -c1 -W2 "$ip" >/dev/null || return 1
    # y goes away: lease and hosts entry released, x's file forgets it
    drv -c ${P}y unwire || return 1
    assert_not_contains "$(cat "$hx")" "${P}y" || return 1
    [ ! -e "$hy" ] || fail "hosts file of y left" || return 1
    ! grep -qs "^${P}y " "$ST/net/leases/${P}a" || fail "lease of y left" || return 1
    drv -c ${P}x unwire
}

# two networks: a container on each cannot reach the other (the host does not forward)
t_isolation() {
    [ "$(cat /proc/sys/net/ipv4/ip_forward)" = 0 ] ||
        skip "ip_forward is on on this host: it would route between bridges (mgr never turns it on)"
    uses ${P}c ${P}d
    mkns c && mkns d || return 1
    drv -c ${P}c -a ${P}a wire /run/netns/$P-c >/dev/null || return 1
    drv -c ${P}d -a ${P}b wire /run/netns/$P-d >/dev/null || return 1
    assert_contains "$(nsx d ip -o -4 addr show dev eth0)" "10.232.0.2/24" || return 1
    nsx d busybox ping -c1 -W1 10.232.0.1 >/dev/null || fail "d cannot reach its gateway" || return 1
    if nsx c busybox ping -c1 -W1 10.232.0.2 >/dev/null 2>&1; then
        fail "c reached d across networks"; return 1
    fi
    # and d is not in c's hosts file
    assert_not_contains "$(cat "$(drv -c ${P}c hosts | head -1)")" "${P}d" || return 1
    drv -c ${P}c unwire && drv -c ${P}d unwire
}

# one container on two networks: eth0, eth1 in declared order; static address; one default route
t_two_networks_static() {
    uses ${P}e
    mkns e || return 1
    drv -c ${P}e -a ${P}b=10.232.0.77 -a ${P}a wire /run/netns/$P-e >/dev/null || return 1
    assert_contains "$(nsx e ip -o -4 addr show dev eth0)" "inet 10.232.0.77/24" || return 1
    assert_contains "$(nsx e ip -o -4 addr show dev eth1)" "inet 10.231.0.2/24" || return 1
    assert_eq "$(nsx e ip route show default)" "default via 10.232.0.1 dev eth0 proto static " || return 1
    assert_eq "$(nsx e ip route show default | wc -l)" 1 "default routes" || return 1
    drv -c ${P}e unwire
}

# static address conflicts and out-of-subnet addresses are refused at wire time, leaving nothing
t_static_rejected() {
    uses ${P}f ${P}g
    mkns f && mkns g || return 1
    drv -c ${P}f -a ${P}a=10.231.0.50 wire /run/netns/$P-f >/dev/null || return 1
    local out rc
    out=$(drv -c ${P}g -a ${P}a=10.231.0.50 wire /run/netns/$P-g 2>&1); rc=$?
    assert_ne "$rc" 0 "exit status of a conflicting address" || return 1
    assert_contains "$out" "10.231.0.50 of '${P}g' is already used by '${P}f'" || return 1
    out=$(drv -c ${P}g -a ${P}a=10.99.0.5 wire /run/netns/$P-g 2>&1); rc=$?
    assert_ne "$rc" 0 "exit status of an out-of-subnet address" || return 1
    assert_contains "$out" "outside the subnet 10.231.0.0/24" || return 1
    out=$(drv -c ${P}g -a ${P}a=10.231.0.1 wire /run/netns/$P-g 2>&1); rc=$?
    assert_ne "$rc" 0 "exit status for the gateway address" || return 1
    assert_contains "$out" "gateway" || return 1
    assert_eq "$(nsx g ls /sys/class/net | tr '\n' ' ')" "lo " "g's interfaces after refusals" || return 1
    ! grep -qs "^${P}g " "$ST/net/leases/${P}a" || fail "lease left after refusal" || return 1
    drv -c ${P}f unwire
}

# net: none (and private without networks): only lo, up
t_none_only_lo() {
    uses ${P}h
    mkns h || return 1
    drv -c ${P}h -m none wire /run/netns/$P-h >/dev/null || return 1
    assert_eq "$(nsx h ls /sys/class/net | tr '\n' ' ')" "lo " "interfaces" || return 1
    assert_contains "$(nsx h ip -o link show lo)" ",UP," "lo" || return 1
    nsx h busybox ping -c1 -W1 127.0.0.1 >/dev/null || return 1
    drv -c ${P}h unwire
}

# a bridge that mgr did not create is used as it is: no address added, never deleted
t_foreign_bridge() {
    ip link add mgrtbr$$ type bridge && ip link set mgrtbr$$ up || return 1
    mkns i || return 1
    "$NETDRV" -s "$ST" -n "${P}f=10.233.0.0/24,bridge=mgrtbr$$" -c ${P}i -a ${P}f \
        wire /run/netns/$P-i >/dev/null || return 1
    assert_contains "$(ip -o link show master mgrtbr$$)" "vm${P:0:8}-" || return 1
    assert_eq "$(ip -o -4 addr show dev mgrtbr$$)" "" "addresses on the foreign bridge" || return 1
    local out
    out=$("$NETDRV" -s "$ST" -n "${P}f=10.233.0.0/24,bridge=mgrtbr$$" down) || return 1
    assert_eq "$out" "${P}f kept" || return 1
    ip link show mgrtbr$$ >/dev/null || fail "foreign bridge deleted" || return 1
    "$NETDRV" -s "$ST" -n "${P}f=10.233.0.0/24,bridge=mgrtbr$$" -c ${P}i unwire
}

# a container restarted at once gets its veth even while the old namespace is still dying
t_quick_restart() {
    local k
    uses ${P}r
    for k in 1 2 3 4 5; do
        mkns r$k || return 1
        drv -c ${P}r -a ${P}a wire /run/netns/$P-r$k >/dev/null || return 1
        assert_contains "$(nsx r$k ip -o -4 addr show dev eth0)" "10.231.0." || return 1
        ip netns del $P-r$k
    done
    drv -c ${P}r unwire
}

# 100 create/remove cycles, then the network goes: no veth, bridge, lease or hosts file left
t_cycles_leave_nothing() {
    drv -c ${P}z -a ${P}a bench 100 >/dev/null || return 1
    drv down >/dev/null || return 1
    wait_for 10 sh -c "! ip -o link show | grep -q 'vm${P:0:8}-'" || fail "veths left" || return 1
    ip link show "$BR1" >/dev/null 2>&1 && { fail "bridge $BR1 left"; return 1; }
    ip link show "$BR2" >/dev/null 2>&1 && { fail "bridge $BR2 left"; return 1; }
    assert_eq "$(find "$ST/net/leases" "$ST/net/hosts" -mindepth 1 | wc -l)" 0 "leases/hosts left" ||
        return 1
}

# gc after a crash: a bridge of a network that no longer exists is deleted, but only one
# this instance (state dir) marked
t_gc() {
    local out
    "$NETDRV" -s "$T_TMP/other" -n "$N1" up || return 1
    out=$("$NETDRV" -s "$ST" -n "$N2" gc) || return 1
    assert_contains "$out" "bridges 0" "gc of another instance's bridge" || return 1
    ip link show "$BR1" >/dev/null || fail "another instance's bridge collected" || return 1
    assert_eq "$("$NETDRV" -s "$ST" -n "$N1" down)" "${P}a kept" "down of another's bridge" || return 1
    assert_eq "$("$NETDRV" -s "$T_TMP/other" -n "$N1" down)" "${P}a deleted" || return 1
    drv up || return 1
    ip link show "$BR1" >/dev/null || return 1
    out=$("$NETDRV" -s "$ST" -n "$N2" gc) || return 1
    assert_contains "$out" "bridges 1" || return 1
    ip link show "$BR1" >/dev/null 2>&1 && { fail "bridge $BR1 not collected"; return 1; }
    ip link show "$BR2" >/dev/null || fail "wanted bridge $BR2 collected" || return 1
    drv down >/dev/null
}

# a network whose subnet changed: mgr's bridge gets the new gateway and loses the old one
t_subnet_change() {
    local N3="${P}c=10.234.0.0/24" N3b="${P}c=10.235.0.0/24,gw=10.235.0.254"
    "$NETDRV" -s "$ST" -n "$N3" up || return 1
    assert_contains "$(ip -o -4 addr show dev "mgr-${P}c")" "10.234.0.1/24" || return 1
    "$NETDRV" -s "$ST" -n "$N3b" up || return 1
    local a
    a=$(ip -o -4 addr show dev "mgr-${P}c")
    assert_contains "$a" "10.235.0.254/24" "new gateway" || return 1
    assert_not_contains "$a" "10.234.0.1" "old gateway" || return 1
    assert_eq "$("$NETDRV" -s "$ST" -n "$N3b" down)" "${P}c deleted"
}

tcase same-network-ping-and-names t_same_network
tcase networks-isolated t_isolation
tcase two-networks-static-address t_two_networks_static
tcase static-conflict-and-range-rejected t_static_rejected
tcase net-none-only-lo t_none_only_lo
tcase foreign-bridge-untouched t_foreign_bridge
tcase quick-restart-same-name t_quick_restart
tcase cycles-leave-nothing t_cycles_leave_nothing
tcase gc-orphan-bridge t_gc
tcase subnet-change-readdresses-bridge t_subnet_change
finish

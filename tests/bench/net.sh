#!/usr/bin/env bash
# Networking benchmark (as root): the time to wire one container through core/net.h
# (netlink, in-process) against the same steps done with `ip` commands, and TCP throughput
# between two namespaces over an mgr bridge against two namespaces joined by one veth pair.
# Everything runs in namespaces and on a bridge this script creates (names mgrt*), and
# traffic stays between them. Prints a markdown section; exits 0.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B="$TOP/$B" ;; esac
N=${NET_BENCH_N:-200}      # containers on one bridge (large case)
NS=${NET_BENCH_NS:-20}     # containers on one bridge (small case)
NIP=${NET_BENCH_NIP:-50}   # ip(8) repetitions (each is 5 processes)
SECS=${NET_BENCH_SECS:-2}  # iperf3 duration per run
RUNS=${NET_BENCH_RUNS:-5}  # iperf3 runs per path

echo "## Networking"
echo
if [ "$(id -u)" != 0 ]; then echo "skipped: needs root"; exit 0; fi
for c in ip cc pkg-config; do
    command -v $c >/dev/null || { echo "skipped: needs $c"; exit 0; }
done
[ -f "$B/libmgrcore.a" ] || { echo "skipped: $B/libmgrcore.a not built"; exit 0; }

TMP=$(mktemp -d /tmp/mgrt-netbench.XXXXXX)
P=mgrtnb$(($$ % 100000))
cleanup() {
    local n
    for n in $(ip netns list | awk '{print $1}' | grep "^$P"); do ip netns del "$n"; done
    "$TMP/netdrv" -s "$TMP/st" -n "${P}=10.239.0.0/24" down >/dev/null 2>&1
    ip link del "${P}v0" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

PKGS="yaml-0.1 libarchive libnl-3.0 libnl-route-3.0 libcap libseccomp jansson libcrypto libkmod"
cc -std=gnu11 -D_GNU_SOURCE -O2 -I"$TOP/core" $(pkg-config --cflags $PKGS) -o "$TMP/netdrv" \
    "$TOP/tests/integration/netdrv.c" "$B/libmgrcore.a" $(pkg-config --libs $PKGS) ||
    { echo "skipped: cannot build the driver"; exit 0; }
drv() { "$TMP/netdrv" -s "$TMP/st" -n "${P}=10.239.0.0/24" "$@"; }
drv up || { echo "skipped: cannot create a bridge"; exit 0; }
BR="mgr-${P}"
[ ${#BR} -lt 16 ] || BR=$(ip -o link show | awk -F': ' '{print $2}' | grep "^mgr-${P:0:6}-" | head -1)

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }
now_us() { echo $(($(date +%s%N) / 1000)); }

# 1. netlink: net_wire() for a fresh namespace, median of N (the driver times it itself);
#    first with NS containers on the bridge, then with N (the kernel's cost grows with ports)
out=$(drv -c ${P}s -a "${P}" bench "$NS") || { echo "skipped: netdrv bench failed"; exit 0; }
wire_small_us=$(echo "$out" | awk '/^wire_us/ {print $2}')
hosts_small_us=$(echo "$out" | awk '/^hosts_us/ {print $2}')
lease_small_us=$(echo "$out" | awk '/^lease_us/ {print $2}')
out=$(drv -c ${P}c -a "${P}" bench "$N") || { echo "skipped: netdrv bench failed"; exit 0; }
wire_us=$(echo "$out" | awk '/^wire_us/ {print $2}')
lease_us=$(echo "$out" | awk '/^lease_us/ {print $2}')
hosts_us=$(echo "$out" | awk '/^hosts_us/ {print $2}')
hosts_last_us=$(echo "$out" | awk '/^hosts_last_us/ {print $2}')

# 2. the same with ip(8): veth with the peer created in the namespace, host end on the bridge,
#    then lo, eth0 up, address and default route inside (5 processes); namespace creation
#    is not timed, as for netlink
ipt=()
for i in $(seq 1 "$NIP"); do ip netns add ${P}i$i; done
sleep 0.2
for i in $(seq 1 "$NIP"); do
    t0=$(now_us)
    ip link add ${P}h$i mtu 1500 master "$BR" up type veth peer name eth0 mtu 1500 netns ${P}i$i &&
        ip -n ${P}i$i link set lo up &&
        ip -n ${P}i$i link set eth0 up &&
        ip -n ${P}i$i addr add 10.239.0.$((100 + i % 100))/24 brd + dev eth0 &&
        ip -n ${P}i$i route add default via 10.239.0.1
    t1=$(now_us)
    ipt+=($((t1 - t0)))
done
for i in $(seq 1 "$NIP"); do ip netns del ${P}i$i; done
ip_us=$(printf '%s\n' "${ipt[@]}" | median)

# 3. the slow way for reference: create the pair in the host namespace, then move the peer
#    (costs an RCU grace period); and an explicit delete of a veth (another one)
mvt=() delt=()
for i in $(seq 1 10); do
    ip netns add ${P}m$i
    ip link add ${P}a$i type veth peer name ${P}b$i
    t0=$(now_us); ip link set ${P}b$i netns ${P}m$i; t1=$(now_us)
    mvt+=($((t1 - t0)))
    t0=$(now_us); ip link del ${P}a$i; t1=$(now_us)
    delt+=($((t1 - t0)))
    ip netns del ${P}m$i
    sleep 0.1 # let the namespace's teardown finish outside the timed section
done
mv_us=$(printf '%s\n' "${mvt[@]}" | median)
del_us=$(printf '%s\n' "${delt[@]}" | median)

# 4. TCP throughput (iperf3, inside the namespaces): over the mgr bridge vs one veth pair
tcp_bridge="skipped: iperf3 not installed" tcp_veth="" ratio=""
if command -v iperf3 >/dev/null; then
    ip netns add ${P}s && ip netns add ${P}k
    drv -c ${P}s -a "${P}" wire /run/netns/${P}s >/dev/null
    drv -c ${P}k -a "${P}" wire /run/netns/${P}k >/dev/null
    ip netns add ${P}vs && ip netns add ${P}vk
    ip link add ${P}v0 netns ${P}vs type veth peer name ${P}v1 netns ${P}vk
    ip -n ${P}vs link set ${P}v0 up && ip -n ${P}vs addr add 10.238.0.1/24 dev ${P}v0
    ip -n ${P}vk link set ${P}v1 up && ip -n ${P}vk addr add 10.238.0.2/24 dev ${P}v1
    ip -n ${P}vs link set lo up && ip -n ${P}vk link set lo up
    gbps_once() { # SERVER_NS CLIENT_NS SERVER_ADDR: one iperf3 run, Gbit/s received
        # one-off server (bounded in time), used once it listens
        ip netns exec "$1" timeout $((SECS + 20)) iperf3 -s -1 -B "$3" -p 5299 >/dev/null 2>&1 &
        local spid=$!
        for _ in $(seq 1 250); do
            ip netns exec "$1" ss -ltnH "sport = :5299" | grep -q 5299 && break
            sleep 0.02
        done
        ip netns exec "$2" timeout $((SECS + 20)) iperf3 -c "$3" -p 5299 -t "$SECS" -J 2>/dev/null |
            awk -F'[:,]' '/"sum_received"/ {f=1} f && /"bits_per_second"/ {printf "%.2f\n", $2/1e9; exit}'
        wait $spid 2>/dev/null
    }
    # interleaved, so that load from elsewhere on the machine hits both paths alike
    rb=() rv=()
    for k in $(seq 1 "$RUNS"); do
        rb+=($(gbps_once ${P}s ${P}k 10.239.0.2))
        rv+=($(gbps_once ${P}vs ${P}vk 10.238.0.1))
    done
    tcp_bridge=$(printf '%s\n' "${rb[@]}" | median)
    tcp_veth=$(printf '%s\n' "${rv[@]}" | median)
    ratio=$(awk -v a="$tcp_bridge" -v b="$tcp_veth" 'BEGIN { if (b > 0) printf "%.1f%%", (b - a) / b * 100; else print "n/a" }')
fi

echo "Wiring one container: veth pair (peer created directly in the container's namespace),"
echo "host end on the bridge, lo and eth0 up, address and default route set inside. Medians"
echo "over $NS and over $N containers started one after the other on one bridge through mgr's"
echo "netlink code (core/net.c, one process), and $NIP runs of the same steps with ip(8)."
echo "TCP: iperf3 for ${SECS}s, median of $RUNS interleaved runs, inside the namespaces."
echo
echo "| what | median | note |"
echo "|---|---|---|"
echo "| wire one container, mgr (netlink), $NS on the bridge | ${wire_small_us} us | net_wire() |"
echo "| wire one container, mgr (netlink), $N on the bridge | ${wire_us} us | net_wire() |"
echo "| wire one container, ip(8) commands | ${ip_us} us | $(awk -v a="$ip_us" -v b="$wire_small_us" 'BEGIN {printf "%.1fx mgr", a/b}') |"
echo "| address lease, mgr ($NS / $N members) | ${lease_small_us} / ${lease_us} us | net_leases_acquire(), one file per network |"
echo "| hosts files of all members on a join ($NS / $N members) | ${hosts_small_us} / ${hosts_us} us | net_hosts_write(); ${hosts_last_us} us for member $N; a restart with the same address writes only its own |"
echo "| move a veth end into a namespace after creation (ip) | ${mv_us} us | what mgr avoids |"
echo "| delete a veth explicitly (ip) | ${del_us} us | what mgr avoids at teardown |"
if [ -n "$tcp_veth" ]; then
    echo "| TCP over mgr's bridge (two namespaces) | ${tcp_bridge} Gbit/s | |"
    echo "| TCP over one veth pair (two plain namespaces) | ${tcp_veth} Gbit/s | bridge path ${ratio} slower |"
else
    echo "| TCP throughput | ${tcp_bridge} | |"
fi
exit 0

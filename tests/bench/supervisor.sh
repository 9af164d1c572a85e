#!/usr/bin/env bash
# Supervisor benchmark (as root): one `mgr daemon` in a scratch --root/--run/--units with
# busybox containers (`sleep`, pid+mount+uts+ipc+net namespaces and a cgroup each).
# Measures: starting 100 and then 400 more containers through one `mgr apply` each; a no-op
# apply and `mgr status --json` with 500 units (medians); the daemon's RSS at 0/100/500
# running containers; death-to-replacement latency with `restart: {policy: always, delay: 0}`
# (from the daemon noticing the death to the new container running, event timestamps, median
# of 30 SIGKILLs) against a shell loop respawning `unshare` (the floor of any respawn).
# Peers measured in the same run: `crun run --detach` of the same containers one after the
# other, and a shell loop of `crun run` (create, start, wait, delete) as crun's respawn. crun
# refuses hybrid hosts whose cgroup2 mount has controllers, so the whole bench runs in a
# private mount namespace without that mount (as tests/bench/start.sh): mgr and crun both use
# the v1 controllers. --run is a tmpfs, as /run is on a normal host.
# RSS counts the clean, shared pages of the mgr binary (file-backed; the kernel maps them in
# 64 KiB fault-around windows; the default build has glibc linked in, a build with
# STATIC_LIBC=0 maps libc.so and ld.so too); PSS shares them out among the processes mapping them;
# anonymous memory (heap, stack, relocated data) is what the daemon itself costs. The output
# holder (one process per --run, core/holder.h) is reported too: it is part of the cost.
# Prints a markdown section; exits 0.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B="$TOP/$B" ;; esac
MGR="$B/mgr"
N1=${SV_BENCH_N1:-100}
N2=${SV_BENCH_N2:-500}
RUNS=${SV_BENCH_RUNS:-20}

if [ -z "${MGRT_BENCH_INNER:-}" ]; then
    echo "## Supervisor" # once: the rest runs in the private mount namespace below
    echo
    if [ "$(id -u)" != 0 ]; then echo "skipped: needs root"; exit 0; fi
    exec unshare -m --propagation private env MGRT_BENCH_INNER=1 bash "$0" "$@"
fi
HYBRID_NOTE=""
if [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]; then
    umount /sys/fs/cgroup/unified &&
        HYBRID_NOTE=" In a private mount namespace without the host's cgroup2 mount (crun refuses that hybrid layout): mgr and crun both use the v1 controllers."
fi
for c in jq busybox; do command -v $c >/dev/null || { echo "skipped: needs $c"; exit 0; }; done
[ -x "$MGR" ] || { echo "skipped: $MGR not built"; exit 0; }

T=$(mktemp -d /tmp/mgrt-svbench.XXXXXX)
export MGR_ROOT="$T/root" MGR_RUN="$T/run" MGR_UNITS="$T/units"
mkdir -p "$MGR_RUN" && mount -t tmpfs mgrt-svbench "$MGR_RUN"
mkdir -p "$MGR_ROOT" "$MGR_RUN" "$MGR_UNITS" "$T/rootfs/bin" "$T/rootfs/proc" "$T/rootfs/dev" \
    "$T/rootfs/sys" "$T/rootfs/tmp" "$T/rootfs/etc"
cp /bin/busybox "$T/rootfs/bin/busybox"
for a in sh sleep true; do ln -s busybox "$T/rootfs/bin/$a"; done
DPID=
cleanup() {
    if [ -n "$DPID" ]; then
        kill -TERM "$DPID" 2>/dev/null
        for _ in $(seq 600); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$DPID" 2>/dev/null
    fi
    [ -n "${EVP:-}" ] && kill "$EVP" 2>/dev/null
    local s p
    for s in "$MGR_RUN"/containers/*/state; do
        [ -f "$s" ] || continue
        p=$(sed -n 's/^pid=//p' "$s"); [ -n "$p" ] && [ "$p" != 0 ] && kill -9 "$p" 2>/dev/null
    done
    sleep 0.2
    for d in /sys/fs/cgroup/*/mgr/mgrtsvb-* /sys/fs/cgroup/unified/mgr.slice/mgrtsvb-*; do
        [ -d "$d" ] && rmdir "$d" 2>/dev/null
    done
    if [ -n "${CRUN_N:-}" ]; then
        for i in $(seq "$CRUN_N"); do crun delete -f "mgrtsvc-$i" >/dev/null 2>&1; done
    fi
    umount "$MGR_RUN" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

mkunit() { # NAME
    cat >"$MGR_UNITS/$1.yaml" <<EOT
name: $1
image: dir:$T/rootfs
command: ["/bin/sleep", "100000"]
stop: {timeout: 100ms}
EOT
    chmod 644 "$MGR_UNITS/$1.yaml"
}
ms() { echo "scale=2; $1 / 1000000" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print 0; else if (NR % 2) printf "%.0f\n", a[(NR+1)/2]; else printf "%.0f\n", (a[NR/2]+a[NR/2+1])/2}'; }
# mem PID: "RSS FILE ANON PSS" in KiB (RSS = file-backed + anonymous pages; PSS shares the
# file pages out among the processes mapping them).
mem() {
    [ -n "$1" ] && [ -r "/proc/$1/status" ] || { echo "0 0 0 0"; return; }
    local p
    p=$(awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup")
    awk -v pss="$p" '/^VmRSS/ {r = $2} /^RssFile/ {f = $2} /^RssShmem/ {f += $2} /^RssAnon/ {a = $2}
        END {print r, f, a, pss}' "/proc/$1/status"
}
# breakdown PID: RSS by mapping kind: the mgr binary, libc + ld.so (none for a static mgr),
# heap, stack, the rest.
breakdown() {
    awk -v bin="$(readlink -f "$MGR")" '
        /^[0-9a-f]+-[0-9a-f]+ / {k = "other"; if ($6 == bin) k = "binary";
            else if ($6 ~ /\/(libc\.so|ld-linux)/) k = "libc"; else if ($6 == "[heap]") k = "heap";
            else if ($6 == "[stack]") k = "stack"; next}
        /^Rss:/ {s[k] += $2}
        END {printf "binary %d, ", s["binary"]
            if (s["libc"] == "") printf "(static: libc in the binary), "
            else printf "libc+ld.so %d, ", s["libc"]
            printf "heap %d, stack %d, other %d", s["heap"], s["stack"], s["other"]}' "/proc/$1/smaps"
}
holder_pid() { cat "$MGR_RUN/holder.pid" 2>/dev/null; }
# rss_rows N: the daemon's and the output holder's rows with N containers running (MEM_LAST =
# "daemon RSS, daemon + holder RSS, daemon PSS" for the per-container figures).
rss_rows() {
    local d_rss d_file d_anon d_pss h_rss h_file h_anon h_pss
    read -r d_rss d_file d_anon d_pss <<<"$(mem "$DPID")"
    read -r h_rss h_file h_anon h_pss <<<"$(mem "$(holder_pid)")"
    ROWS+="| daemon RSS, $1 containers (file-backed + anonymous; PSS) | $d_rss KiB ($d_file + $d_anon; PSS $d_pss) |"$'\n'
    ROWS+="| - by mapping, $1 containers (KiB) | $(breakdown "$DPID") |"$'\n'
    ROWS+="| output holder (mgr-holder) RSS, $1 containers (file + anon; PSS) | $h_rss KiB ($h_file + $h_anon; PSS $h_pss) |"$'\n'
    ROWS+="| daemon + holder, $1 containers: RSS, PSS | $((d_rss + h_rss)) KiB, $((d_pss + h_pss)) KiB |"$'\n'
    MEM_LAST="$d_rss $((d_rss + h_rss)) $d_pss"
}
ROWS=
# time_ns CMD...: wall time of one run in ns
time_ns() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $((t1 - t0)); }

# The binary wholly in the page cache (as after a few CLI runs): the kernel maps cached pages
# around each fault (fault-around), so the RSS of its code depends on what is cached; this
# makes it the same from run to run, at its largest.
cat "$MGR" >/dev/null
"$MGR" daemon --stop-on-exit >"$T/daemon.log" 2>&1 &
DPID=$!
for _ in $(seq 100); do "$MGR" status >/dev/null 2>&1 && break; sleep 0.05; done
sleep 0.3
rss_rows 0

# respawn_latency: 30 SIGKILLs of the respawn unit (restart always, delay 0); sets LAT (from
# the daemon noticing the death to the new container running, event timestamps) and KLAT
# (from the SIGKILL sent here: also counts the kernel's exit of the old container), medians.
# The pid is read from the container's state file, not asked of the daemon: a status request
# of a daemon with 500 units would compete with the restart being measured.
state_pid() { sed -n 's/^pid=//p' "$MGR_RUN/containers/mgrtsvb-respawn/state" 2>/dev/null; }
respawn_latency() {
    : >"$T/kills"
    "$MGR" events >"$T/events" &
    EVP=$!
    sleep 0.2
    local p q
    for _ in $(seq 30); do
        p=$(state_pid)
        [ -n "$p" ] && [ "$p" -gt 0 ] 2>/dev/null || break
        echo "${EPOCHREALTIME/./}" >>"$T/kills"
        kill -9 "$p"
        for _ in $(seq 400); do
            q=$(state_pid)
            [ -n "$q" ] && [ "$q" -gt 0 ] 2>/dev/null && [ "$q" != "$p" ] && break
            sleep 0.005
        done
        sleep 0.05 # running (the event is written after the execve), and settled
    done
    sleep 0.2
    kill "$EVP" 2>/dev/null; wait "$EVP" 2>/dev/null; EVP=
    LAT=$(jq -r 'select(.unit == "mgrtsvb-respawn") | "\(.event) \(.time_us)"' "$T/events" |
        awk '$1 == "exited" {t = $2} $1 == "spawned" && t {print ($2 - t) * 1000; t = 0}' | median)
    KLAT=$(jq -r 'select(.unit == "mgrtsvb-respawn" and .event == "spawned") | .time_us' "$T/events" |
        awk -v kf="$T/kills" 'BEGIN {while ((getline k < kf) > 0) ks[++nk] = k}
            {sp[++ns] = $1} END {j = 1; for (i = 1; i <= nk; i++) {
                while (j <= ns && sp[j] <= ks[i]) j++; if (j <= ns) print (sp[j] - ks[i]) * 1000}}' | median)
}

# Peers of a replacement, measured right after it in the same state of the host (no other
# container, or all of them running: the kernel's mount and clone work grows with them):
# unshare_floor, a shell loop respawning an unshare'd true in the same namespaces (the floor
# of any respawn), and crun_respawn, crun's respawn (a shell loop of `crun run` of /bin/true:
# create, start, wait, delete; crun_respawn PREFIX names them PREFIX-N). Each prints a median
# of 30 in ns (crun_respawn: nothing without crun).
unshare_floor() {
    for _ in $(seq 30); do time_ns unshare --fork --pid --mount --uts --ipc --net \
        --mount-proc true; done | median
}
HAVE_CRUN=""
if command -v crun >/dev/null && command -v jq >/dev/null; then
    # rbundle runs /bin/true (the respawn loop), cbundle sleeps (crun run --detach).
    for b in rbundle cbundle; do
        mkdir -p "$T/$b" && (cd "$T/$b" && crun spec) &&
            jq --arg r "$T/rootfs" --arg cmd "$([ $b = rbundle ] && echo /bin/true || echo /bin/sleep)" \
                '.process.terminal=false | .process.args=(if $cmd == "/bin/true" then ["/bin/true"] else ["/bin/sleep","100000"] end)
                | .root.path=$r | .root.readonly=false
                | .linux.namespaces=[{"type":"pid"},{"type":"mount"},{"type":"uts"},{"type":"ipc"},{"type":"network"}]' \
                "$T/$b/config.json" >"$T/$b/c.json" && mv "$T/$b/c.json" "$T/$b/config.json" &&
            HAVE_CRUN=1
    done
fi
crun_respawn() {
    [ -n "$HAVE_CRUN" ] || return 0
    local i
    for i in $(seq 30); do time_ns crun run --bundle "$T/rbundle" "$1-$i"; done | median
}

add_respawn_unit() {
    cat >"$MGR_UNITS/mgrtsvb-respawn.yaml" <<EOT
name: mgrtsvb-respawn
image: dir:$T/rootfs
command: ["/bin/sleep", "100000"]
restart: {policy: always, delay: 0, burst: 1000000, interval: 1s}
EOT
    chmod 644 "$MGR_UNITS/mgrtsvb-respawn.yaml"
    "$MGR" apply "$MGR_UNITS" >/dev/null || { echo "skipped: respawn unit did not start"; exit 0; }
}
# Death to replacement, delay 0: first with this one container (removed again), at the end
# with all of them.
add_respawn_unit
respawn_latency
LAT1=$LAT KLAT1=$KLAT
UNS1=$(unshare_floor)
CRUN_RESP1=$(crun_respawn mgrtsvc-a)
rm "$MGR_UNITS/mgrtsvb-respawn.yaml"
"$MGR" apply "$MGR_UNITS" >/dev/null


# Start N1 containers through one apply (the directory watch is made idle by applying the
# directory explicitly: the inotify debounce would otherwise race with the timed apply).
for i in $(seq -w 1 "$N1"); do mkunit "mgrtsvb-$i"; done
T1=$(time_ns "$MGR" apply "$MGR_UNITS")
R1=$("$MGR" status --json | jq '[.[] | select(.state == "running")] | length')
sleep 0.5
rss_rows "$N1"; read -r RSS1 SUM1 PSS1 <<<"$MEM_LAST"
for i in $(seq -w $((N1 + 1)) "$N2"); do mkunit "mgrtsvb-$i"; done
T2=$(time_ns "$MGR" apply "$MGR_UNITS")
R2=$("$MGR" status --json | jq '[.[] | select(.state == "running")] | length')
sleep 0.5
rss_rows "$N2"; read -r RSS2 SUM2 PSS2 <<<"$MEM_LAST"

NOOP=$(for _ in $(seq "$RUNS"); do time_ns "$MGR" apply "$MGR_UNITS"; done | median)
STATUS=$(for _ in $(seq "$RUNS"); do time_ns "$MGR" status --json; done | median)
NOOP_CHANGES=$("$MGR" apply --json "$MGR_UNITS" | jq .changes)

# One more container from an OCI image: the daemon imports it itself (libarchive, the
# decompressors, sha256), and what that touches stays resident.
IMG_ROW="| daemon RSS after one OCI image import (to $((N2 + 1)) containers) | skipped: needs umoci |"
if command -v umoci >/dev/null; then
    (umoci init --layout "$T/oci" && umoci new --image "$T/oci:latest" &&
        umoci unpack --image "$T/oci:latest" "$T/bundle" &&
        mkdir -p "$T/bundle/rootfs/bin" && cp /bin/busybox "$T/bundle/rootfs/bin/" &&
        ln -s busybox "$T/bundle/rootfs/bin/sleep" &&
        umoci repack --image "$T/oci:latest" "$T/bundle") >/dev/null 2>&1
    cat >"$MGR_UNITS/mgrtsvb-oci.yaml" <<EOT
name: mgrtsvb-oci
image: oci:$T/oci:latest
command: ["/bin/sleep", "100000"]
stop: {timeout: 100ms}
EOT
    chmod 644 "$MGR_UNITS/mgrtsvb-oci.yaml"
    if "$MGR" apply "$MGR_UNITS" >/dev/null 2>&1; then
        "$MGR" status --json >/dev/null
        sleep 0.5
        read -r o_rss _ o_anon o_pss <<<"$(mem "$DPID")"
        IMG_ROW="| daemon RSS after one OCI image import (to $((N2 + 1)) containers; anon; PSS) | $o_rss KiB (+$((o_rss - RSS2)); anon $o_anon; PSS $o_pss) |"
    else
        IMG_ROW="| daemon RSS after one OCI image import | skipped: the OCI unit did not start |"
    fi
fi

add_respawn_unit
respawn_latency
UNS=$(unshare_floor)
CRUN_RESP=$(crun_respawn mgrtsvc-b)

# Peer of the starts: crun starting the same containers one after the other (run --detach:
# create, start; each gets a cgroup), while the daemon's other containers still run.
CRUN_START=""
if [ -n "$HAVE_CRUN" ]; then
    "$MGR" stop mgrtsvb-respawn >/dev/null 2>&1
    CRUN_N=$N1
    t0=$(date +%s%N)
    ok=1
    for i in $(seq "$CRUN_N"); do crun run -d --bundle "$T/cbundle" "mgrtsvc-$i" >/dev/null 2>&1 || ok=0; done
    t1=$(date +%s%N)
    [ $ok = 1 ] && CRUN_START=$(( (t1 - t0) / CRUN_N ))
    for i in $(seq "$CRUN_N"); do crun kill "mgrtsvc-$i" KILL >/dev/null 2>&1; done
    sleep 0.5
    for i in $(seq "$CRUN_N"); do crun delete -f "mgrtsvc-$i" >/dev/null 2>&1; done
fi
ratio() { [ -n "$2" ] && [ "$2" -gt 0 ] && echo "scale=2; $1 / $2" | bc | sed 's/^\./0./'; }

echo "One \`mgr daemon\`, busybox containers (\`sleep\`; pid, mount, uts, ipc, net namespaces;"
echo "a cgroup each), dir: rootfs. Wall times of the CLI round trip; medians of $RUNS runs.$HYBRID_NOTE"
echo
echo "| measure | value |"
echo "|---|---|"
echo "| start $N1 containers, one apply | $(ms "$T1") ms ($(echo "scale=2; $T1 / $N1 / 1000000" | bc) ms each; $R1 running)$([ -n "$CRUN_START" ] && echo "; $(ratio $((T1 / N1)) "$CRUN_START")x crun's") |"
echo "| start $((N2 - N1)) more (to $N2), one apply | $(ms "$T2") ms ($(echo "scale=2; $T2 / ($N2 - $N1) / 1000000" | bc) ms each; $R2 running) |"
echo "| no-op apply, $N2 units | $(ms "$NOOP") ms ($NOOP_CHANGES changes) |"
echo "| status --json, $N2 units | $(ms "$STATUS") ms |"
printf '%s' "$ROWS"
echo "| per added container, $N1 to $N2: daemon RSS, PSS; daemon + holder RSS | $(( (RSS2 - RSS1) * 1024 / (N2 - N1) )) B, $(( (PSS2 - PSS1) * 1024 / (N2 - N1) )) B; $(( (SUM2 - SUM1) * 1024 / (N2 - N1) )) B |"
echo "$IMG_ROW"
for w in 1 $((N2 + 2)); do
    if [ "$w" = 1 ]; then l=$LAT1 k=$KLAT1 un=$UNS1 cr=$CRUN_RESP1 what="1 container (no other)"
    else l=$LAT k=$KLAT un=$UNS cr=$CRUN_RESP what="$w containers"; fi
    echo "| death to replacement running, delay 0, $what (daemon side; from the SIGKILL) | $(ms "$l") ms; $(ms "$k") ms |"
    echo "| - peer at that moment: unshare --fork --pid --mount --uts --ipc --net true (respawn floor) | $(ms "$un") ms; mgr's replacement $(ratio "$l" "$un")x |"
    if [ -n "$cr" ]; then
        echo "| - peer at that moment: crun run of /bin/true in a shell loop (crun's respawn) | $(ms "$cr") ms; mgr's replacement (daemon side) $(ratio "$l" "$cr")x, from the SIGKILL $(ratio "$k" "$cr")x |"
    else
        echo "| - peer: crun's respawn | skipped: crun or jq not installed |"
    fi
done
if [ -n "$CRUN_START" ]; then
    echo "| peer: crun run --detach, $CRUN_N containers one after the other ($N2 of mgr's running) | $(ms "$CRUN_START") ms each |"
else
    echo "| peer: crun run --detach | skipped: crun or jq not installed, or crun failed |"
fi
echo
echo "Targets: no-op apply and status well under 100 ms; RSS at most 3 MiB at 100 containers and"
echo "under 64 KiB per added container (podman: ~2 MiB conmon per container); a replacement under"
echo "1.5 ms where crun's respawn loop takes ~3 ms, i.e. half of crun's; a start at half of crun's"
echo "~5 ms per container. The times are the issue's, from a machine three to four times faster"
echo "than this one: compare with the peers measured at the same moment in the same run."
echo
exit 0

#!/bin/bash
# Container start latency: `mgr run` of /bin/true in a busybox rootfs with private pid, mount,
# uts, ipc and net namespaces, against `unshare --fork --pid --mount --uts --ipc --net` +
# chroot into the same rootfs (the floor) and `crun run` of an equivalent OCI bundle (made
# with `crun spec`, edited with jq). Runs are interleaved round-robin (so load drift hits
# every peer alike) and timed in-process with $EPOCHREALTIME; medians of N runs.
# Also: why the writable layer lives on a tmpfs (overlay with its upper dir on the state
# root's filesystem vs on a tmpfs).
[ "$(id -u)" = 0 ] || { echo "## Container start"; echo; echo "skipped: needs root"; exit 0; }
# crun refuses hybrid hosts whose cgroup2 mount has controllers ("cgroups in hybrid mode not
# supported"): run the whole bench in a private mount namespace without that mount, so that
# every peer uses the v1 controllers alike.
if [ -z "${MGRT_BENCH_INNER:-}" ]; then
    exec unshare -m --propagation private env MGRT_BENCH_INNER=1 bash "$0" "$@"
fi
hybrid_note=""
if [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]; then
    umount /sys/fs/cgroup/unified && hybrid_note="The runs use a private mount namespace without the host's cgroup2 mount at /sys/fs/cgroup/unified (crun refuses a hybrid layout whose cgroup2 has controllers), so mgr and crun both use the v1 controllers."
fi
source "$(dirname "$0")/../integration/lib.sh"
N=${BENCH_RUNS:-30}
[ -x "$MGR" ] || { echo "## Container start"; echo; echo "skipped: $MGR not built"; exit 0; }

ROOTFS="$T_TMP/rootfs"
make_busybox_rootfs "$ROOTFS"
# MGR_RUN on a tmpfs, as /run is on a normal host (here the test dir is on ext4).
mkdir -p "$T_TMP/run"
mount -t tmpfs mgrt-bench "$T_TMP/run"
on_exit umount -l "$T_TMP/run"
export MGR_RUN="$T_TMP/run"

unit "$T_TMP/mgrt-bench.yaml" <<EOF2
name: mgrt-bench
image: dir:$ROOTFS
command: ["/bin/true"]
namespaces: {pid: private, uts: private, ipc: private, net: private}
EOF2
unit "$T_TMP/mgrt-bench2.yaml" <<EOF2
name: mgrt-bench2
image: dir:$ROOTFS
command: ["/bin/true"]
namespaces: {pid: private, uts: private, ipc: private, net: private}
security: {seccomp: unconfined}
EOF2

have_crun=0
if command -v crun >/dev/null && command -v jq >/dev/null; then
    mkdir -p "$T_TMP/bundle"
    (cd "$T_TMP/bundle" && crun spec) &&
        jq --arg r "$ROOTFS" '.process.terminal=false | .process.args=["/bin/true"]
            | .root.path=$r | .root.readonly=false
            | .linux.namespaces=[{"type":"pid"},{"type":"mount"},{"type":"uts"},{"type":"ipc"},{"type":"network"}]' \
            "$T_TMP/bundle/config.json" >"$T_TMP/bundle/c.json" &&
        mv "$T_TMP/bundle/c.json" "$T_TMP/bundle/config.json" && have_crun=1
fi

declare -A T
# one NAME CMD...: one timed run, appended to T[NAME] (microseconds).
one() {
    local name=$1; shift
    local s=$EPOCHREALTIME
    "$@" >/dev/null 2>"$T_TMP/err" || { echo "bench: '$name' failed: $(tail -3 "$T_TMP/err")" >&2; return 1; }
    local e=$EPOCHREALTIME
    T[$name]+="$(( (${e/./} - ${s/./}) )) "
}
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
ms() { awk -v u="$1" 'BEGIN {printf "%.2f", u/1000}'; }

for ((i = 0; i < N; i++)); do
    one mgr "$MGR" run "$T_TMP/mgrt-bench.yaml" || exit 1
    one mgr2 "$MGR" run "$T_TMP/mgrt-bench2.yaml" || exit 1
    one unshare unshare --fork --pid --mount --uts --ipc --net chroot "$ROOTFS" /bin/true || exit 1
    one mgr3 "$MGR" run --no-cgroup "$T_TMP/mgrt-bench2.yaml" || exit 1
    if [ $have_crun = 1 ]; then
        one crun crun run --bundle "$T_TMP/bundle" "mgrt-bench-$i" || exit 1
        one crun2 crun --cgroup-manager=disabled run --bundle "$T_TMP/bundle" "mgrt-bench-n$i" || exit 1
    fi
done

m_mgr=$(median "${T[mgr]}"); m_mgr2=$(median "${T[mgr2]}"); m_mgr3=$(median "${T[mgr3]}")
m_un=$(median "${T[unshare]}")
echo "## Container start (mgr run /bin/true)"
echo
echo "Median of $N interleaved runs each, wall clock per command, busybox rootfs, private pid,"
echo "mount, uts, ipc and net namespaces. \`mgr run\` includes parsing the unit, its own cgroup"
echo "(created, joined and removed), the overlay rootfs, /proc, /sys, /dev, masked paths, the"
echo "capability set, teardown and state files; crun run likewise creates and removes a cgroup"
echo "and mounts its rootfs, but its \`crun spec\` config has no seccomp profile; unshare does no"
echo "rootfs, /proc, /dev or cgroup work at all. $hybrid_note The rows without a cgroup"
echo "separate the runtime's own cost from the cgroup work: a pid written to a v1 cgroup.procs"
echo "from outside (crun) waits for an RCU grace period, several ms; mgr's child moves itself"
echo "into its v1 groups (no grace period), and on v2 is born in its group (CLONE_INTO_CGROUP)."
echo
echo "| command | median ms | vs crun | minus unshare (ms) |"
echo "|---|---:|---:|---:|"
if [ $have_crun = 1 ]; then
    m_crun=$(median "${T[crun]}")
    rat() { awk -v a="$1" -v b="$m_crun" 'BEGIN {printf "%.2f", a/b}'; }
else
    m_crun=""
    rat() { echo "skipped: crun not installed"; }
fi
dif() { awk -v a="$1" -v b="$m_un" 'BEGIN {printf "%+.2f", (a-b)/1000}'; }
echo "| mgr run (default confinement: caps, seccomp, cgroup) | $(ms $m_mgr) | $(rat $m_mgr) | $(dif $m_mgr) |"
echo "| mgr run (seccomp: unconfined, like crun spec) | $(ms $m_mgr2) | $(rat $m_mgr2) | $(dif $m_mgr2) |"
if [ $have_crun = 1 ]; then
    echo "| crun run | $(ms $m_crun) | 1.00 | $(dif $m_crun) |"
fi
echo "| mgr run --no-cgroup (seccomp: unconfined) | $(ms $m_mgr3) | $(rat $m_mgr3) | $(dif $m_mgr3) |"
if [ $have_crun = 1 ]; then
    m_crun2=$(median "${T[crun2]}")
    echo "| crun --cgroup-manager=disabled run | $(ms $m_crun2) | $(rat $m_crun2) | $(dif $m_crun2) |"
else
    echo "| crun run | skipped: crun or jq not installed | | |"
fi
echo "| unshare --fork --pid --mount --uts --ipc --net + chroot | $(ms $m_un) | $(rat $m_un) | +0.00 |"
echo

# Overlay: upper dir on the state root's filesystem vs on a tmpfs (mount + umount, in a
# private mount namespace; one process doing all iterations, so no fork cost is counted).
fs=$(stat -f -c %T "$T_TMP")
cat >"$T_TMP/ovl.sh" <<'EOF2'
set -e
d=$1; n=$2; up=$3
mkdir -p "$d/lower" "$d/m"
for ((i = 0; i < n; i++)); do
    mkdir -p "$up/u$i" "$up/w$i"
done
s=$EPOCHREALTIME
for ((i = 0; i < n; i++)); do
    mount -t overlay mgrt-ovl -o "lowerdir=$d/lower,upperdir=$up/u$i,workdir=$up/w$i" "$d/m"
    : >"$d/m/file"
    umount "$d/m"
done
e=$EPOCHREALTIME
echo $(( (${e/./} - ${s/./}) / n ))
EOF2
mkdir -p "$T_TMP/ovl" "$T_TMP/ovl-ext" "$T_TMP/ovl-tmp"
disk=$(unshare -m --propagation private bash "$T_TMP/ovl.sh" "$T_TMP/ovl" 10 "$T_TMP/ovl-ext" 2>/dev/null)
tmp=$(unshare -m --propagation private bash -c "mount -t tmpfs mgrt-t '$T_TMP/ovl-tmp' && bash '$T_TMP/ovl.sh' '$T_TMP/ovl' 10 '$T_TMP/ovl-tmp'" 2>/dev/null)
echo "### Overlay upper dir: $fs vs tmpfs"
echo
echo "Mean of 10 overlay mount + write one file + umount cycles in one shell (no fork per"
echo "cycle). On $fs the unmount syncs the upper filesystem (a journal commit) and the mount's"
echo "work-dir probes are journalled; mgr therefore puts the writable layer of containers"
echo "that do not keep it on a tmpfs private to the container's mount namespace."
echo
echo "| upper dir on | mean ms per cycle |"
echo "|---|---:|"
echo "| $fs | ${disk:+$(ms $disk)} |"
echo "| tmpfs | ${tmp:+$(ms $tmp)} |"
echo

#!/usr/bin/env bash
# Security benchmark (as root): what the default confinement costs. (1) `mgr run` of /bin/true
# in a busybox container: default confinement with the compiled seccomp filter cached (the
# normal case), with a cold cache (a fresh run dir: libseccomp compiles the default profile
# for x86_64 + x86 + x32), and unconfined. (2) The cost of one syscall (getppid) inside the
# container under our default filter, under podman's own profile (containers-common's
# seccomp.json loaded through our JSON path), and unconfined. Prints a markdown section.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B="$TOP/$B" ;; esac
MGR="$B/mgr"
SECTEST="$B/tests/sectest"
N=${SEC_BENCH_N:-21}
CALLS=${SEC_BENCH_CALLS:-1000000}
PODMAN_PROFILE=/usr/share/containers/seccomp.json

echo "## Security: cost of the default confinement"
echo
if [ "$(id -u)" != 0 ]; then echo "skipped: needs root"; exit 0; fi
[ -x "$MGR" ] && [ -x "$SECTEST" ] || { echo "skipped: needs $MGR and $SECTEST (make all $B/tests/sectest)"; exit 0; }
TMP=$(mktemp -d /tmp/mgrt-secbench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
R="$TMP/rootfs"
mkdir -p "$R"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$R/bin/busybox" && ln -s busybox "$R/bin/true" && ln -s busybox "$R/bin/sh"
cp "$SECTEST" "$R/sectest"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\n' >"$R/etc/group"

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
mkunit() { # NAME SECURITY-LINE COMMAND...
    local f="$TMP/$1.yaml"
    printf 'name: mgrt-secbench-%s\nimage: dir:%s\ncommand: %s\n%s\n' "$1" "$R" "$3" "$2" >"$f"
    chmod 0644 "$f"
    echo "$f"
}
# run_ms UNIT RUNDIR-MODE: wall time of one `mgr run` in ms
run_ms() {
    local u=$1 run=$2 t0 t1
    t0=$(date +%s%N)
    MGR_ROOT="$TMP/root" MGR_RUN="$run" "$MGR" run "$u" >/dev/null 2>&1 || { echo nan; return; }
    t1=$(date +%s%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f\n", (b - a) / 1e6}'
}

u_def=$(mkunit def 'security: {}' '[/bin/true]')
u_unc=$(mkunit unc 'security: {seccomp: unconfined}' '[/bin/true]')
warm="$TMP/run-warm"
mkdir -p "$warm"
run_ms "$u_def" "$warm" >/dev/null # fills the cache
declare -A med
for i in $(seq "$N"); do
    run_ms "$u_def" "$warm" >>"$TMP/t.def"
    run_ms "$u_def" "$TMP/run-cold-$i" >>"$TMP/t.cold"
    rm -rf "$TMP/run-cold-$i"
    run_ms "$u_unc" "$warm" >>"$TMP/t.unc"
done
for k in def cold unc; do med[$k]=$(median <"$TMP/t.$k"); done

echo "Median of $N \`mgr run\` of /bin/true (pid, mount, uts, ipc, net namespaces, cgroup), the"
echo "three variants interleaved; wall time in ms."
echo
echo "| variant | mgr run (ms) | vs unconfined |"
echo "|---|---|---|"
for k in unc def cold; do
    case $k in
    unc) name="seccomp unconfined" ;;
    def) name="default (filter cached: RUN/seccomp)" ;;
    cold) name="default, cold cache (compile)" ;;
    esac
    echo "| $name | ${med[$k]} | $(awk -v a="${med[$k]}" -v b="${med[unc]}" 'BEGIN {if (b > 0) printf "%.2fx", a / b; else print "-"}') |"
done
echo

# syscall cost
prof=("security: {seccomp: unconfined}" "security: {}")
names=("unconfined" "mgr default profile")
if [ -f "$PODMAN_PROFILE" ]; then
    prof+=("security: {seccomp: $PODMAN_PROFILE}")
    names+=("podman's profile ($PODMAN_PROFILE)")
fi
echo "Cost of one getppid() inside the container, median of 7 runs of $CALLS calls (ns per call;"
echo "the filter runs on every syscall)."
echo
echo "| filter | ns per syscall | vs unconfined |"
echo "|---|---|---|"
base=""
for i in "${!prof[@]}"; do
    u=$(mkunit "sc$i" "${prof[$i]}" "[/sectest, getppid, \"$CALLS\"]")
    : >"$TMP/sc$i"
    for j in 1 2 3 4 5 6 7; do
        MGR_ROOT="$TMP/root" MGR_RUN="$warm" "$MGR" run "$u" 2>/dev/null | awk '$1 == "ns_per_call" {print $2}' >>"$TMP/sc$i"
    done
    m=$(median <"$TMP/sc$i")
    [ -z "$base" ] && base=$m
    echo "| ${names[$i]} | $m | $(awk -v a="$m" -v b="$base" 'BEGIN {if (b > 0) printf "%.2fx", a / b; else print "-"}') |"
done
echo
exit 0

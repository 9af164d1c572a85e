#!/usr/bin/env bash
# Runs a suite and sums the closing "N passed, N failed, N skipped" line of every test
# program. Usage: tests/run.sh unit|integration|vm|all. Env: B (build dir), ASAN_B.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
what=${1:-all}
P=0 F=0 S=0
failed_list=()
logdir=${TEST_LOGDIR:-$B/test-logs}
mkdir -p "$logdir"

# run NAME CMD...: runs one test program, echoes its output to a log, adds its counts.
run() {
    local name=$1; shift
    local log="$logdir/$(echo "$name" | tr '/ ' '__').log"
    local t0=$(date +%s.%N)
    "$@" >"$log" 2>&1
    local rc=$?
    local t1=$(date +%s.%N)
    local line
    line=$(grep -E '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$log" | tail -n 1)
    local p=0 f=0 s=0
    if [ -n "$line" ]; then
        p=$(echo "$line" | grep -oE '[0-9]+ passed' | cut -d' ' -f1)
        f=$(echo "$line" | grep -oE '[0-9]+ failed' | cut -d' ' -f1)
        s=$(echo "$line" | grep -oE '[0-9]+ skipped' | cut -d' ' -f1); s=${s:-0}
    fi
    # A program that crashed or exited non-zero without reporting a failure still failed.
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    if [ -z "$line" ] && [ $rc -eq 0 ]; then f=1; echo "  (no summary line)" >>"$log"; fi
    P=$((P + p)); F=$((F + f)); S=$((S + s))
    printf '%-40s %3d passed, %d failed, %d skipped  (%.1fs)\n' "$name" "$p" "$f" "$s" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')"
    if [ "$f" -ne 0 ]; then
        failed_list+=("$name")
        sed 's/^/    | /' "$log" | grep -vE '^    \| ok ' | tail -n 40
    fi
    grep -E '^(skip|  skipped)' "$log" | sed 's/^/    /' | head -n 10
}

unit() {
    local bdir=$1 tag=$2
    for t in "$bdir"/tests/test_*; do
        [ -x "$t" ] || continue
        run "unit$tag/$(basename "$t")" "$t"
    done
}

integration() {
    if [ "$(id -u)" != 0 ]; then
        echo "integration: skipped (needs root)"; S=$((S + 1)); return
    fi
    for t in tests/integration/[0-9]*.sh; do
        [ -f "$t" ] || continue
        run "integration/$(basename "$t" .sh)" env B="$B" bash "$t"
    done
}

vm() {
    for t in tests/vm/[0-9]*.sh; do
        [ -f "$t" ] || continue
        run "vm/$(basename "$t" .sh)" env B="$B" bash "$t"
    done
}

# mgr's parent cgroups (mgr/ per v1 hierarchy, mgr.slice/ on v2) outlive the containers by
# design; the ones this run created are removed at the end (rmdir: only when empty).
parents() { ls -d /sys/fs/cgroup/*/mgr /sys/fs/cgroup/unified/mgr.slice /sys/fs/cgroup/mgr.slice 2>/dev/null; }
parents_before=$(parents)
remove_new_parents() {
    local p
    for p in $(parents); do
        grep -qxF "$p" <<<"$parents_before" || rmdir "$p" 2>/dev/null
    done
}

case $what in
unit) unit "$B" "" ;;
integration) integration ;;
vm) vm ;;
all)
    unit "$B" ""
    [ -n "${ASAN_B:-}" ] && ASAN_OPTIONS=detect_leaks=1 unit "$ASAN_B" "-asan"
    integration
    vm
    ;;
*) echo "usage: $0 unit|integration|vm|all" >&2; exit 2 ;;
esac

remove_new_parents
[ ${#failed_list[@]} -gt 0 ] && echo "failed: ${failed_list[*]}"
echo "$P passed, $F failed, $S skipped"
[ "$F" -eq 0 ]

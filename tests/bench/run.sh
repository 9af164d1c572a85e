#!/usr/bin/env bash
# `make bench`: runs every benchmark in tests/bench side by side with the peers present on
# this machine and writes doc/performance.md. Each tests/bench/<topic>.sh prints a markdown
# section (a "## Title" line, a sentence on method, a table with medians and ratios) and
# marks a peer row "skipped: <reason>" when the peer is missing.
set -u
cd "$(dirname "$0")/../.."
export B=${B:-build}
out=${BENCH_OUT:-doc/performance.md}
tmp=$(mktemp /tmp/mgrt-bench.XXXXXX)
trap 'rm -f "$tmp"' EXIT

{
    echo "# Performance"
    echo
    echo "Written by \`make bench\` (tests/bench/run.sh) on $(date -u +%Y-%m-%d). Medians of"
    echo "repeated runs; ratios are against peers measured in the same run on the same machine."
    echo
    echo "Machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))," \
        "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)," \
        "$(. /etc/os-release && echo "$PRETTY_NAME")."
    echo
    # ver CMD FIELD: the version word of `CMD --version`, or "not installed".
    ver() { command -v "$1" >/dev/null && "$1" --version 2>&1 | head -n 1 | awk -v f="$2" '{print $f}' || echo "not installed"; }
    echo "Peers: crun $(ver crun 3), runc $(ver runc 3), unshare $(ver unshare 4)," \
        "bsdtar $(ver bsdtar 2), umoci $(ver umoci 3), ip $(ip -V 2>/dev/null | awk '{print $NF}')."
    echo
} >"$tmp"

status=0
for b in tests/bench/*.sh; do
    [ "$(basename "$b")" = run.sh ] && continue
    echo "bench: $b" >&2
    sec=$(mktemp /tmp/mgrt-bench-sec.XXXXXX)
    if timeout 900 bash "$b" >"$sec" 2>"$sec.err"; then
        cat "$sec" >>"$tmp"
    else
        rc=$?
        { echo "## $(basename "$b" .sh)"; echo; echo "skipped: the benchmark failed (exit $rc):"; echo;
          echo '```'; tail -n 5 "$sec.err"; echo '```'; } >>"$tmp"
        status=1
    fi
    echo >>"$tmp"
    rm -f "$sec" "$sec.err"
done
cp "$tmp" "$out"
echo "wrote $out" >&2
exit $status

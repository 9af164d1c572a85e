#!/usr/bin/env bash
# Unit file parsing benchmark (no root needed): `mgr validate DIR` on 1,000 generated unit
# files (900 containers using most sections, 100 networks; all set checks run), against
# PyYAML's C loader reading the same files (parse only, no validation) and PyYAML +
# jsonschema with units/schema.json. Median of repeated runs (hyperfine if present).
# Prints a markdown section; exits 0.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B="$TOP/$B" ;; esac
RUNS=${PARSE_BENCH_RUNS:-15}
N_NET=100 N_CTR=900

echo "## Unit file parsing"
echo
[ -x "$B/mgr" ] || { echo "skipped: $B/mgr not built"; exit 0; }
D=$(mktemp -d /tmp/mgrt-parsebench.XXXXXX)
trap 'rm -rf "$D"' EXIT

for ((i = 0; i < N_NET; i++)); do
    printf 'kind: network\nname: net%d\nsubnet: 10.%d.%d.0/24\n' $i $((100 + i / 200)) $((i % 200)) >"$D/net$i.yaml"
done
for ((i = 0; i < N_CTR; i++)); do
    n=$((i % N_NET)); dep=""
    [ $i -gt 0 ] && dep="depends_on: {app$((i - 1)): {condition: started}}"
    cat >"$D/app$i.yaml" <<EOF2
# generated unit $i
name: app$i
image: oci:/srv/images/app:$i
command: ["/bin/app", "--port", "80$((i % 10))"]
env: {LANG: C.UTF-8, ID: "$i", MODE: production}
workdir: /srv
user: "1000:1000"
networks:
  - {name: net$n, address: 10.$((100 + n / 200)).$((n % 200)).$((10 + i / N_NET))}
mounts:
  - {type: bind, source: /srv/data/$i, target: /data, readonly: true}
  - {type: tmpfs, target: /tmp, size: 64M}
resources:
  memory: {max: 256M, high: 200M}
  cpu: {weight: 100, max: 0.5}
  pids: {max: 128}
security:
  capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
  rlimits: {nofile: "1024:4096"}
restart: {policy: always, delay: 100ms, max_delay: 30s}
stop: {signal: SIGTERM, timeout: 10s}
health:
  http: {port: 80, path: /healthz}
  interval: 10s
$dep
EOF2
done
chmod 644 "$D"/*.yaml
"$B/mgr" validate "$D" >/dev/null 2>"$D.err" || { echo "skipped: generated units invalid: $(head -3 "$D.err")"; rm -f "$D.err"; exit 0; }
rm -f "$D.err"

cat >"$D/pyparse.py" <<'PY'
import sys, glob, yaml
L = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
for f in glob.glob(sys.argv[1] + "/*.yaml"):
    yaml.load(open(f), Loader=L)
PY
cat >"$D/pyschema.py" <<'PY'
import sys, glob, json, yaml, jsonschema
L = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
v = jsonschema.Draft7Validator(json.load(open(sys.argv[2])))
for f in glob.glob(sys.argv[1] + "/*.yaml"):
    assert v.is_valid(yaml.load(open(f), Loader=L))
PY

# median_ms CMD...: median wall time in ms over RUNS runs.
median_ms() {
    if command -v hyperfine >/dev/null; then
        hyperfine -N -w 2 -r "$RUNS" --export-json "$D/h.json" "$*" >/dev/null 2>&1 &&
            python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$D/h.json"
        return
    fi
    local i t0 t1 ts=()
    for ((i = 0; i < RUNS; i++)); do
        t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); ts+=($(((t1 - t0) / 1000)))
    done
    printf '%s\n' "${ts[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}

mgr_ms=$(median_ms "$B/mgr" validate "$D")
echo "$N_CTR container and $N_NET network units (each container with networks, mounts, limits,"
echo "capabilities, restart, health and a dependency); median of $RUNS runs, whole process."
echo
echo "| What | Time (ms) | Per file (µs) | vs mgr |"
echo "|---|---:|---:|---:|"
row() { awk -v n="$1" -v t="$2" -v m="$mgr_ms" 'BEGIN {printf "| %s | %.1f | %.0f | %.2fx |\n", n, t, t*1000/1000, t/m}'; }
row "mgr validate (parse + all checks)" "$mgr_ms"
if python3 -c 'import yaml' 2>/dev/null; then
    row "PyYAML C loader, parse only" "$(median_ms python3 "$D/pyparse.py" "$D")"
else
    echo "| PyYAML | skipped: python3-yaml missing | | |"
fi
if python3 -c 'import yaml, jsonschema' 2>/dev/null; then
    row "PyYAML + jsonschema (units/schema.json)" "$(median_ms python3 "$D/pyschema.py" "$D" "$TOP/units/schema.json")"
else
    echo "| PyYAML + jsonschema | skipped: python3-jsonschema missing | | |"
fi
exit 0

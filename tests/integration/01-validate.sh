#!/usr/bin/env bash
# mgr validate on real files: good units pass, every broken unit in tests/units-bad yields
# exactly the FILE:LINE:COLUMN errors listed in tests/units-bad/expected-errors, hostile
# inputs fail fast with a clear message, file mode/owner checks, --json output. No root needed.
source "$(dirname "$0")/lib.sh"
cd "$TOP"
# A checkout made with a permissive umask would trip the StrictModes check on our fixtures.
chmod -R go-w tests/units-bad tests/units-good

# Runs validate on each bad file and each set-* directory separately, collecting the error
# lines in order (each must exit 1).
collect_bad() {
    local f rc
    for f in tests/units-bad/*.yaml tests/units-bad/set-*; do
        "$MGR" validate "$f" 2>&1 >/dev/null | grep ': error: '
        rc=${PIPESTATUS[0]}
        [ "$rc" = 1 ] || echo "UNEXPECTED EXIT $rc for $f"
    done
}

t_bad_units_exact() {
    local got
    got=$(collect_bad)
    diff -u tests/units-bad/expected-errors <(echo "$got") || fail "errors differ from tests/units-bad/expected-errors" || return 1
    local n
    n=$(ls tests/units-bad/*.yaml | wc -l)
    [ "$n" -ge 30 ] || fail "only $n bad unit files" || return 1
}

t_good_units() {
    local out
    out=$("$MGR" validate tests/units-good 2>&1) || fail "tests/units-good rejected: $out" || return 1
    assert_contains "$out" "6 units valid" || return 1
}

t_examples_and_shipped() {
    local d out
    for d in examples/*/; do
        out=$("$MGR" validate "$d" 2>&1) || fail "$d: $out" || return 1
    done
    out=$("$MGR" validate units 2>&1) || fail "units/: $out" || return 1
}

t_all_errors_at_once() {
    local out
    out=$("$MGR" validate tests/units-bad/many-errors.yaml 2>&1)
    assert_eq "$(echo "$out" | grep -c ': error: ')" 11 "error count" || return 1
    assert_contains "$out" "11 errors" || return 1
}

t_exit_codes() {
    "$MGR" validate tests/units-good/isolated.yaml >/dev/null 2>&1 || fail "good file: exit $?" || return 1
    "$MGR" validate tests/units-bad/bad-size.yaml >/dev/null 2>&1; assert_eq $? 1 "bad file exit" || return 1
    "$MGR" validate --bogus >/dev/null 2>&1; assert_eq $? 2 "usage exit" || return 1
    local h
    h=$("$MGR" validate --help) || fail "--help exit $?" || return 1
    assert_contains "$h" "Usage: mgr validate" || return 1
    "$MGR" validate "$T_TMP/nonexistent.yaml" >/dev/null 2>&1; assert_eq $? 1 "missing file exit" || return 1
}

t_json() {
    command -v jq >/dev/null || skip "needs jq"
    local j
    j=$("$MGR" validate --json tests/units-good) || fail "validate --json failed" || return 1
    assert_eq "$(echo "$j" | jq length)" 6 "units in JSON" || return 1
    assert_eq "$(echo "$j" | jq -r '.[] | select(.name=="full") | .resources.memory.max')" 268435456 "memory.max bytes" || return 1
    assert_eq "$(echo "$j" | jq -r '.[] | select(.name=="full") | .stop.timeout')" 90000 "stop.timeout ms" || return 1
    assert_eq "$(echo "$j" | jq -r '.[] | select(.name=="db") | .restart.policy')" always "restart shorthand" || return 1
    assert_eq "$(echo "$j" | jq -r '.[] | select(.name=="backend") | .gateway')" 10.66.0.1 "default gateway" || return 1
    assert_eq "$(echo "$j" | jq -r '.[] | select(.name=="db") | .security.no_new_privileges')" true "nnp default" || return 1
}

t_hostile_inputs() {
    local d=$T_TMP/hostile out t0 t1
    mkdir -p "$d"
    # alias bomb (billion laughs), 100k nesting, 1M unclosed brackets, 10 MB scalar
    python3 - "$d" <<'PY'
import sys
d = sys.argv[1]
lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
for i in range(1, 10):
    lines.append('a%d: &a%d [%s]' % (i, i, ','.join(['*a%d' % (i - 1)] * 10)))
open(d + '/bomb.yaml', 'w').write('\n'.join(lines) + '\n')
open(d + '/nest.yaml', 'w').write('image: ' + '[' * 100000 + ']' * 100000 + '\n')
open(d + '/brackets.yaml', 'w').write('[' * 1000000)
open(d + '/bigscalar.yaml', 'w').write('image: "' + 'x' * (10 * 1024 * 1024) + '"\n')
open(d + '/blocknest.yaml', 'w').write(''.join('  ' * i + 'k:\n' for i in range(200)))
PY
    chmod 644 "$d"/*.yaml
    t0=$(date +%s%N)
    out=$("$MGR" validate "$d/bomb.yaml" 2>&1); assert_contains "$out" "bomb.yaml:1:5: error: YAML anchors are not supported" || return 1
    out=$("$MGR" validate "$d/nest.yaml" 2>&1); assert_contains "$out" "nest.yaml:1:71: error: nesting too deep" || return 1
    out=$("$MGR" validate "$d/brackets.yaml" 2>&1); assert_contains "$out" "brackets.yaml:1:65: error: nesting too deep" || return 1
    out=$("$MGR" validate "$d/bigscalar.yaml" 2>&1); assert_contains "$out" "error: file too large" || return 1
    out=$("$MGR" validate "$d/blocknest.yaml" 2>&1); assert_contains "$out" "error: nesting too deep" || return 1
    t1=$(date +%s%N)
    # Generous bound (sanitizer builds are slower); without the depth check this takes >20 s.
    [ $(((t1 - t0) / 1000000)) -lt 5000 ] || fail "hostile inputs took $(((t1 - t0) / 1000000)) ms" || return 1
}

t_strict_modes() {
    local d=$T_TMP/modes out
    mkdir -p "$d"
    cp tests/units-good/isolated.yaml "$d/db.yaml"
    chmod 666 "$d/db.yaml"
    out=$("$MGR" validate "$d" 2>&1); assert_eq $? 1 "world-writable exit" || return 1
    assert_contains "$out" "db.yaml: error: refusing a group- or world-writable unit file (mode 0666; chmod go-w)" || return 1
    chmod 644 "$d/db.yaml"
    # A symlink to a file elsewhere is read (the target is checked).
    rm -f "$d/db.yaml"; ln -s "$TOP/tests/units-good/isolated.yaml" "$d/db.yaml"
    "$MGR" validate "$d" >/dev/null 2>&1 || fail "symlinked unit refused" || return 1
    if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
        rm -f "$d/db.yaml"; cp tests/units-good/isolated.yaml "$d/db.yaml"; chown nobody "$d/db.yaml"
        out=$("$MGR" validate "$d" 2>&1); assert_eq $? 1 "foreign owner exit" || return 1
        assert_contains "$out" "refusing a unit file owned by uid" || return 1
    fi
}

tcase bad-units-exact t_bad_units_exact
tcase good-units t_good_units
tcase examples-and-shipped t_examples_and_shipped
tcase all-errors-at-once t_all_errors_at_once
tcase exit-codes t_exit_codes
tcase json t_json
tcase hostile-inputs t_hostile_inputs
tcase strict-modes t_strict_modes
finish

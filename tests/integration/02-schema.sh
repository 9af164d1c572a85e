#!/usr/bin/env bash
# units/schema.json (for editors with a YAML language server): every good, example and shipped
# unit passes it, and the schema and the parser agree on a chosen set of bad units.
# No root needed.
source "$(dirname "$0")/lib.sh"
cd "$TOP"
python3 -c 'import jsonschema, yaml' 2>/dev/null || requires cmd:python3-jsonschema-and-yaml

# schema_check FILE...: prints "FILE: ok" or "FILE: invalid: reason" per file.
schema_check() {
    python3 - units/schema.json "$@" <<'PY'
import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator.check_schema(schema)
v = jsonschema.Draft7Validator(schema)
for f in sys.argv[2:]:
    try:
        doc = yaml.safe_load(open(f, encoding="utf-8"))
    except Exception as e:
        print("%s: invalid: yaml: %s" % (f, str(e).splitlines()[0])); continue
    errs = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
    print("%s: %s" % (f, "ok" if not errs else "invalid: " + errs[0].message[:120]))
PY
}

t_schema_is_valid_json_schema() {
    python3 -c 'import json,jsonschema; jsonschema.Draft7Validator.check_schema(json.load(open("units/schema.json")))' \
        || fail "units/schema.json is not a valid draft-07 schema" || return 1
}

t_good_units_pass() {
    local files=(tests/units-good/*.y*ml examples/*/*.yaml units/*.yaml) out
    out=$(schema_check "${files[@]}")
    echo "$out" | grep -v ': ok$' && fail "schema rejects good units" && return 1
    assert_eq "$(echo "$out" | grep -c ': ok$')" "${#files[@]}" "files checked"
}

# Bad units whose mistake a schema can express: the parser and the schema both reject them.
AGREE_BAD=(unknown-key unknown-nested-key bad-size bad-duration bad-name wrong-type-command
    missing-image bad-kind health-two-probes health-no-probe bad-port bad-restart-policy
    bad-namespace bad-mount network-with-image bad-env bad-depends bad-seccomp bad-cpu
    bad-rlimit not-a-map many-errors bad-idmap empty unknown-cap)

t_schema_and_parser_agree() {
    local n f out rc
    for n in "${AGREE_BAD[@]}"; do
        f=tests/units-bad/$n.yaml
        [ -f "$f" ] || { fail "missing $f"; return 1; }
        out=$(schema_check "$f")
        assert_contains "$out" ": invalid: " "schema on $n" || return 1
        "$MGR" validate "$f" >/dev/null 2>&1; rc=$?
        assert_eq "$rc" 1 "parser exit on $n" || return 1
    done
}

tcase schema-is-valid t_schema_is_valid_json_schema
tcase good-units-pass-schema t_good_units_pass
tcase schema-and-parser-agree t_schema_and_parser_agree
finish

#!/bin/bash
# The documentation stays true to the binary: the committed man pages are what pandoc makes of
# their Markdown sources, mgr(1) documents every subcommand and global option that
# `mgr --help` lists, mgr.unit(5) every top-level key of units/schema.json, and man renders
# each page without groff warnings. No root needed.
source "$(dirname "$0")/lib.sh"
DOC="$TOP/doc"
PAGES="mgr.1 mgr.unit.5 mgr-daemon.8"

case_pages_current() {
    command -v pandoc >/dev/null || skip "pandoc is not installed (apt-get install pandoc); cannot regenerate the pages"
    local out="$T_TMP/man" p rc=0
    "$DOC/gen-man.sh" "$out" || fail "doc/gen-man.sh failed" || return 1
    for p in $PAGES; do
        [ -f "$DOC/$p" ] || { fail "doc/$p is missing (run doc/gen-man.sh)"; rc=1; continue; }
        if ! diff -q "$DOC/$p" "$out/$p" >/dev/null; then
            fail "doc/$p is older than doc/$p.md (run doc/gen-man.sh and commit): $(diff "$DOC/$p" "$out/$p" | head -5)"
            rc=1
        fi
    done
    return $rc
}

case_every_subcommand_documented() {
    local help cmds c heads rc=0
    help=$("$MGR" --help) || fail "mgr --help failed" || return 1
    cmds=$(sed -n '/^Commands:/,/^$/p' <<<"$help" | awk 'NF && !/^Commands:/ {print $1}')
    [ "$(wc -w <<<"$cmds")" -ge 15 ] || fail "found too few commands in mgr --help: $cmds" || return 1
    # A subcommand is documented when a "## mgr ..." heading of mgr.1.md names it.
    heads=$(grep '^## mgr ' "$DOC/mgr.1.md")
    for c in $cmds; do
        grep -qE "(mgr |\|)$c([] |,;]|$)" <<<"$heads" || { fail "mgr $c has no section in doc/mgr.1.md"; rc=1; }
    done
    # Every global option in mgr --help is documented too.
    local opts o
    opts=$(sed -n '/^Global options:/,/^$/p' <<<"$help" | grep -oE -- '--[a-z][a-z-]*' | sort -u)
    [ -n "$opts" ] || fail "no global options found in mgr --help" || return 1
    for o in $opts; do
        grep -q -- "\*\*$o\*\*" "$DOC/mgr.1.md" || { fail "global option $o is not in doc/mgr.1.md"; rc=1; }
    done
    # And every environment variable named there.
    for o in $(grep -oE 'MGR_[A-Z_]+' <<<"$help" | sort -u); do
        grep -q "$o" "$DOC/mgr.1.md" || { fail "$o is not in doc/mgr.1.md"; rc=1; }
    done
    return $rc
}

case_every_unit_key_documented() {
    command -v python3 >/dev/null || skip "python3 is not installed"
    local keys k rc=0
    # Top-level keys of both kinds (the schema's if/then/else: network, else container).
    keys=$(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
ks = set()
for part in ("then", "else"):
    ks |= set(s.get(part, {}).get("properties", {}))
ks |= set(s.get("properties", {}))
print("\n".join(sorted(ks)))' "$TOP/units/schema.json") || fail "cannot read units/schema.json" || return 1
    [ "$(wc -w <<<"$keys")" -ge 15 ] || fail "too few keys in units/schema.json: $keys" || return 1
    for k in $keys; do
        grep -q "^\*\*$k\*\*" "$DOC/mgr.unit.5.md" || { fail "unit key '$k' has no entry in doc/mgr.unit.5.md"; rc=1; }
    done
    return $rc
}

case_man_renders_clean() {
    command -v man >/dev/null || skip "man (man-db) is not installed"
    local p err rc=0
    for p in $PAGES; do
        [ -f "$DOC/$p" ] || { fail "doc/$p is missing"; rc=1; continue; }
        err=$(MANWIDTH=80 man --warnings -l "$DOC/$p" 2>&1 >/dev/null)
        [ -z "$err" ] || { fail "man -l doc/$p: $err"; rc=1; }
        MANWIDTH=80 man -l "$DOC/$p" 2>/dev/null | grep -q '^NAME' || { fail "man -l doc/$p shows no NAME section"; rc=1; }
    done
    return $rc
}

tcase pages_current case_pages_current
tcase every_subcommand_documented case_every_subcommand_documented
tcase every_unit_key_documented case_every_unit_key_documented
tcase man_renders_clean case_man_renders_clean
finish

#!/bin/bash
# mgr doctor: host report (text and JSON) agrees with the host, and every unenforceable key of
# a unit directory is listed with its unit, key and reason (exit 1), a clean one exits 0.
source "$(dirname "$0")/lib.sh"
requires root cmd:jq

t_report() {
    local out; out=$("$MGR" doctor) || { fail "doctor failed: $out"; return 1; }
    assert_contains "$out" "cgroup" || return 1
    if [ -d /sys/fs/cgroup/memory ]; then assert_contains "$out" "memory:v1" || return 1; fi
    if [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
        assert_contains "$out" "memory:v2" || return 1
    fi
    grep -q overlay /proc/filesystems && { assert_contains "$out" "overlayfs       yes" || return 1; }
    local js; js=$("$MGR" doctor --json) || return 1
    assert_eq "$(jq -r .kernel <<<"$js")" "$(uname -r)" kernel || return 1
    assert_eq "$(jq -r .namespaces.net <<<"$js")" true "net namespace" || return 1
    assert_eq "$(jq -r .user_namespaces.max_user_namespaces <<<"$js")" \
        "$(cat /proc/sys/user/max_user_namespaces)" max_user_namespaces || return 1
    local want=v1; [ -d /sys/fs/cgroup/pids ] || want=v2
    assert_eq "$(jq -r .cgroup.controllers.pids <<<"$js")" "$want" "pids controller" || return 1
    [ "$(jq -r .seccomp.filter <<<"$js")" = true ] || grep -q '^Seccomp:' /proc/self/status ||
        return 1
}

t_units() {
    local d="$T_TMP/doctor-units"
    mkdir -p "$d"
    unit "$d/ok.yaml" <<'YAML'
name: mgrt-ok
image: dir:/
command: ["/bin/true"]
resources:
  memory: {max: 32M}
  pids: {max: 10}
YAML
    "$MGR" doctor "$d" >/dev/null || { fail "clean unit dir reported problems"; return 1; }
    if [ -d /sys/fs/cgroup/memory ]; then
        unit "$d/v2only.yaml" <<'YAML'
name: mgrt-v2only
image: dir:/
command: ["/bin/true"]
resources:
  memory: {max: 32M, min: 1M, high: 16M}
YAML
        local out rc=0; out=$("$MGR" doctor "$d") || rc=$?
        assert_eq "$rc" 1 "exit status with unenforceable keys" || return 1
        assert_contains "$out" "unit 'mgrt-v2only': resources.memory.min: cgroup v1" || return 1
        assert_contains "$out" "unit 'mgrt-v2only': resources.memory.high: cgroup v1" || return 1
        assert_not_contains "$out" "mgrt-ok'" || return 1
        local js; js=$("$MGR" doctor --json "$d")
        assert_eq "$(jq -r '.units.unenforceable | length' <<<"$js")" 2 "unenforceable keys" || return 1
        assert_eq "$(jq -r '.units.unenforceable[0].key' <<<"$js")" resources.memory.high || return 1
    fi
    printf 'name: [bad\n' | unit "$d/bad.yaml"
    out=$("$MGR" doctor "$d") && { fail "invalid unit not reported"; return 1; }
    assert_contains "$out" "invalid: " || return 1
}

tcase host-report t_report
tcase unit-dir t_units
finish

#!/usr/bin/env bash
# A Debian userland (debootstrap minbase, cached by tests/lib/debian-rootfs.sh) runs normally
# under the default confinement: default seccomp profile, default capabilities,
# no_new_privs, as root, as a non-root user, and in a private user namespace.
source "$(dirname "$0")/lib.sh"
requires root seccomp cmd:debootstrap file:"$MGR"

chmod 0711 "$T_TMP" # the container's root in a user namespace must reach its rootfs
R="$T_TMP/debian"
bash "$TOP/tests/lib/debian-rootfs.sh" "$R" >/dev/null 2>"$T_TMP/deb.err" ||
    { echo "  skipped: cannot build a Debian rootfs: $(tail -n 3 "$T_TMP/deb.err")";
      echo "0 passed, 0 failed, 1 skipped"; exit 0; }

# Containers' cgroups go below a parent of this test's own, removed at exit.
use_cgroup_parent mgrt-secdeb-$$

N=0
run_unit() {
    N=$((N + 1))
    local f="$T_TMP/u$N.yaml"
    { printf 'name: mgrt-secdeb-%s\nimage: dir:%s\n' "$N" "$R"; cat; } | unit "$f"
    timeout 60 "$MGR" run "$f" 2>&1
}

SCRIPT='apt-get --version | head -n 1 | cut -d" " -f1; dpkg-query -W -f="\${Package}\n" | grep -c . ; bash -c "echo bash \$((6 * 7))"; perl -e "print qq(perl ok\n)"; echo abc | gzip | gzip -d; sort -r /etc/shells | head -n 1 >/dev/null && echo sort; getent passwd root | cut -d: -f1; if command -v python3 >/dev/null; then python3 -c "print(\"python ok\")"; else echo "python ok"; fi; id -u'

check_userland() {
    local out=$1 uid=$2
    local -a l
    mapfile -t l <<<"$out"
    assert_eq "${l[0]}" "apt" "apt-get --version" || return 1
    [ "${l[1]}" -gt 50 ] 2>/dev/null || fail "dpkg-query lists ${l[1]} packages: $out" || return 1
    assert_eq "${l[2]}" "bash 42" || return 1
    assert_eq "${l[3]}" "perl ok" || return 1
    assert_eq "${l[4]}" "abc" "gzip round trip" || return 1
    assert_eq "${l[5]}" "sort" || return 1
    assert_eq "${l[6]}" "root" "getent" || return 1
    assert_eq "${l[7]}" "python ok" || return 1
    assert_eq "${l[8]}" "$uid" "id -u" || return 1
}

t_root_default() {
    local out
    out=$(printf 'command: [/bin/sh, -c, %s]\n' "'$SCRIPT'" | run_unit) || fail "run: $out" || return 1
    check_userland "$out" 0
}

t_nonroot_default() {
    local out
    out=$(printf 'user: nobody\ncommand: [/bin/sh, -c, %s]\n' "'$SCRIPT'" | run_unit) || fail "run: $out" || return 1
    check_userland "$out" 65534
}

t_userns_private() {
    local out
    out=$(printf 'namespaces: {user: private}\ncommand: [/bin/sh, -c, %s]\n' "'$SCRIPT; touch /etc/mgrt && echo touched'" |
        run_unit) || fail "run: $out" || return 1
    check_userland "$out" 0 || return 1
    assert_contains "$out" "touched" "root of the user namespace writes to the image's /etc" || return 1
    [ ! -e "$R/etc/mgrt" ] || fail "the write reached the image" || return 1
}

before=$(count_mounts)
tcase debian-root-default-profile t_root_default
tcase debian-nonroot-default-profile t_nonroot_default
tcase debian-user-namespace t_userns_private
left() { assert_eq "$(count_mounts)" "$before" "mounts left behind"; }
tcase nothing-left-behind left
finish

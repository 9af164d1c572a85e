#!/usr/bin/env bash
# Security of real containers started with `mgr run`: capability masks, the default seccomp
# profile and a JSON one, no_new_privs against a setuid binary, user namespaces seen through
# a bind mount, sysctl/rlimit/LSM keys, and the escape checks (fd leaks, /proc/self/exe,
# masked and read-only /proc and /sys paths, symlinked bind targets, unit file permissions,
# the control socket). The static helper tests/integration/sectest.c reports from inside.
source "$(dirname "$0")/lib.sh"
requires root seccomp file:"$MGR" file:"$B/tests/sectest"

SECTEST="$B/tests/sectest"
# The container's root in a user namespace is an unprivileged host uid: it must be able to
# traverse the test's directory to reach its rootfs mount point (doc/security.md).
chmod 0711 "$T_TMP"
R="$T_TMP/rootfs"
make_busybox_rootfs "$R"
cp "$SECTEST" "$R/sectest"
# A setuid-root copy of the helper inside the image.
cp "$SECTEST" "$R/suid-sectest" && chown 0:0 "$R/suid-sectest" && chmod 4755 "$R/suid-sectest"

# Containers' cgroups go below a parent of this test's own, removed at exit.
use_cgroup_parent mgrt-sec-$$

N=0
# run_unit BODY: writes a unit (name mgrt-sec-N, image dir:$R) with BODY appended and runs
# it with `mgr run`; prints stdout+stderr, returns mgr's exit status.
run_unit() {
    N=$((N + 1))
    local f="$T_TMP/u$N.yaml"
    { printf 'name: mgrt-sec-%s\nimage: dir:%s\n' "$N" "$R"; cat; } | unit "$f"
    timeout 30 "$MGR" run "$f" 2>&1
}

t_caps_default() {
    local out
    out=$(printf 'command: [/sectest, status]\n' | run_unit) || fail "run: $out" || return 1
    assert_contains "$out" $'CapInh:\t0000000000000000' || return 1
    assert_contains "$out" $'CapPrm:\t00000000800405fb' || return 1
    assert_contains "$out" $'CapEff:\t00000000800405fb' || return 1
    assert_contains "$out" $'CapBnd:\t00000000800405fb' || return 1
    assert_contains "$out" $'CapAmb:\t0000000000000000' || return 1
    assert_contains "$out" $'NoNewPrivs:\t1' || return 1
    assert_contains "$out" $'Seccomp:\t2' || return 1
}

t_caps_drop_all() {
    local out
    out=$(printf 'command: [/sectest, status]\nsecurity: {capabilities: {drop: [ALL]}}\n' |
        run_unit) || fail "run: $out" || return 1
    local l
    for l in CapInh CapPrm CapEff CapBnd CapAmb; do
        assert_contains "$out" "$l:"$'\t0000000000000000' || return 1
    done
}

t_caps_nonroot_net_bind() {
    local out body
    body='user: www
security: {capabilities: {drop: [ALL], add: [cap_net_bind_service]}}
'
    out=$( { echo "$body"; echo 'command: [/sectest, status]'; } | run_unit) || fail "run: $out" || return 1
    assert_contains "$out" $'Uid:\t101\t101\t101\t101' || return 1
    local l
    for l in CapInh CapPrm CapEff CapBnd CapAmb; do
        assert_contains "$out" "$l:"$'\t0000000000000400' || return 1
    done
    out=$( { echo "$body"; echo 'command: [/sectest, bind, "80"]'; } | run_unit) || fail "run: $out" || return 1
    assert_eq "$out" "bind ok" "non-root with NET_BIND_SERVICE binds 80" || return 1
    # control: the same user with the default set has no capability at all (as podman),
    # only the bounding set, and is refused
    out=$(printf 'user: www\ncommand: [/sectest, status]\n' | run_unit) || fail "run: $out" || return 1
    assert_contains "$out" $'CapEff:\t0000000000000000' || return 1
    assert_contains "$out" $'CapAmb:\t0000000000000000' || return 1
    assert_contains "$out" $'CapBnd:\t00000000800405fb' || return 1
    out=$(printf 'user: www\ncommand: [/sectest, bind, "80"]\n' | run_unit) || fail "run: $out" || return 1
    assert_eq "$out" "bind errno=13" "non-root without the capability" || return 1
}

t_caps_all() {
    # "ALL" is every capability the supervisor itself has; one it lacks cannot be added.
    local out bnd
    bnd=$(awk '$1 == "CapBnd:" {print $2}' /proc/self/status)
    out=$(printf 'command: [/sectest, status]\nsecurity: {capabilities: {add: [ALL]}}\n' | run_unit) ||
        fail "run: $out" || return 1
    assert_contains "$out" $'CapEff:\t'"$bnd" || return 1
    assert_contains "$out" $'CapBnd:\t'"$bnd" || return 1
    if capsh --decode="$bnd" 2>/dev/null | grep -q cap_sys_resource; then
        return 0 # nothing we lack to try
    fi
    out=$(printf 'command: [/bin/true]\nsecurity: {capabilities: {add: [SYS_RESOURCE]}}\n' | run_unit)
    assert_eq "$?" 125 "adding a capability we lack: $out" || return 1
    assert_contains "$out" "SYS_RESOURCE is not in the supervisor's own bounding set" || return 1
}

t_seccomp_default() {
    local out
    out=$(printf 'command: [/sectest, syscall, unshare_user, mount, keyctl, add_key, bpf, kexec_load, init_module, clone3, personality_bad, io_uring_setup, getpid]\n' |
        run_unit) || fail "run: $out" || return 1
    assert_eq "$out" "unshare_user errno=1
mount errno=1
keyctl errno=1
add_key errno=1
bpf errno=1
kexec_load errno=1
init_module errno=1
clone3 errno=38
personality_bad errno=1
io_uring_setup errno=1
getpid ok" "errnos under the default profile" || return 1
    # unconfined: keyctl reaches the kernel (and works for root)
    out=$(printf 'command: [/sectest, syscall, keyctl]\nsecurity: {seccomp: unconfined}\n' |
        run_unit) || fail "run: $out" || return 1
    assert_eq "$out" "keyctl ok" "unconfined" || return 1
    # control for io_uring: the kernel allows it here, so the EPERM above is the filter's
    if [ "$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0)" = 0 ]; then
        out=$(printf 'command: [/sectest, syscall, io_uring_setup]\nsecurity: {seccomp: unconfined}\n' |
            run_unit) || fail "run: $out" || return 1
        assert_eq "$out" "io_uring_setup ok" "unconfined io_uring" || return 1
    fi
}

t_seccomp_follows_caps() {
    # Adding CAP_SYS_ADMIN opens mount/unshare in the filter too (as docker): the kernel decides.
    local out
    out=$(printf 'command: [/bin/sh, -c, "mount -t tmpfs none /tmp && echo mounted; /sectest syscall unshare_net clone3"]\nsecurity: {capabilities: {add: [SYS_ADMIN]}}\n' |
        run_unit) || fail "run: $out" || return 1
    assert_eq "$out" "mounted
unshare_net ok
clone3 ok" "with CAP_SYS_ADMIN" || return 1
}

t_readonly_rootfs() {
    local out
    out=$(printf 'command: [/bin/sh, -c, "/sectest write /etc/x y; /sectest write /tmp/x y"]\nsecurity: {readonly_rootfs: true}\nmounts: [{type: tmpfs, target: /tmp}]\n' |
        run_unit) || fail "run: $out" || return 1
    assert_eq "$out" "write errno=30
write ok" "read-only root, writable tmpfs" || return 1
}

t_busybox_applets() {
    local out
    out=$(printf '%s\n' 'command: [/bin/sh, -c, "echo hi | sed s/hi/ho/; ls /bin | grep -c . >/dev/null && echo ls; ps >/dev/null && echo ps; mkdir -p /tmp/a/b && touch /tmp/a/b/c && find /tmp/a -type f; id -u; date +%Y >/dev/null && echo date; wget --help >/dev/null 2>&1; echo done"]' |
        run_unit) || fail "run: $out" || return 1
    assert_eq "$out" "ho
ls
ps
/tmp/a/b/c
0
date
done" "busybox applets" || return 1
}

t_seccomp_json_profile() {
    local p="$T_TMP/deny-mkdir.json" out
    cat >"$p" <<'EOF'
{"defaultAction": "SCMP_ACT_ALLOW",
 "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
 "syscalls": [{"names": ["mkdir", "mkdirat", "no_such_syscall_mgrt"],
               "action": "SCMP_ACT_ERRNO", "errnoRet": 95}]}
EOF
    out=$(printf 'command: [/sectest, mkdir, /tmp/x]\nsecurity: {seccomp: %s}\n' "$p" | run_unit) ||
        fail "run: $out" || return 1
    assert_contains "$out" "mkdir errno=95" || return 1
    assert_contains "$out" "no_such_syscall_mgrt" "warning about the unknown syscall" || return 1
    # busybox mkdir reports the declared errno (EOPNOTSUPP)
    out=$(printf 'command: [/bin/mkdir, /tmp/y]\nsecurity: {seccomp: %s}\n' "$p" | run_unit)
    assert_contains "$out" "not supported" "busybox mkdir message" || return 1
}

t_podman_profile() {
    # An existing profile works unchanged: podman's own (containers-common), which relies on
    # capabilities instead of the filter for mount/unshare/keyctl.
    local p=/usr/share/containers/seccomp.json out
    [ -f "$p" ] || skip "no $p (golang-github-containers-common)"
    out=$(printf 'command: [/bin/sh, -c, "/sectest syscall kexec_load bpf personality_bad mount getpid; echo hi | sed s/hi/ho/"]\nsecurity: {seccomp: %s}\n' "$p" |
        run_unit) || fail "run: $out" || return 1
    assert_contains "$out" "kexec_load errno=1
bpf errno=1
personality_bad errno=38
mount errno=1
getpid ok
ho" "podman's profile" || return 1
}

t_nnp_setuid() {
    local out
    out=$(printf 'user: www\ncommand: [/sectest, exec, /suid-sectest, id]\n' | run_unit) ||
        fail "run: $out" || return 1
    assert_eq "$out" "uid=101/101/101 gid=101/101/101" "setuid bit under no_new_privs" || return 1
    # control: without no_new_privileges the bit works (so the check above can fail)
    out=$(printf 'user: www\ncommand: [/sectest, exec, /suid-sectest, id]\nsecurity: {no_new_privileges: false}\n' |
        run_unit) || fail "run: $out" || return 1
    assert_eq "$out" "uid=101/0/0 gid=101/101/101" "setuid bit without no_new_privs" || return 1
}

t_userns_private() {
    local share="$T_TMP/share" out
    mkdir -p "$share" && chmod 0777 "$share"
    out=$(printf '%s\n' 'namespaces: {user: private}' "mounts: [{type: bind, source: $share, target: /share}]" \
        'command: [/bin/sh, -c, "id -u; /sectest write /share/f hi; echo x >> /etc/passwd && echo wrote-etc"]' |
        run_unit) || fail "run: $out" || return 1
    assert_contains "$out" $'0\nwrite ok' || return 1
    local owner want
    owner=$(stat -c %u "$share/f") || return 1
    want=$(awk -F: '$1 == "mgr" && $3 >= 65536 {print $2; exit}' /etc/subuid 2>/dev/null)
    want=${want:-1000000000}
    assert_eq "$owner" "$want" "host owner of a file created by the container's root" || return 1
    [ "$owner" != 0 ] || fail "container root is host root" || return 1
    # idmapped layers: root inside may change image files (copy-up), the image is untouched
    assert_contains "$out" "wrote-etc" "write to /etc/passwd inside" || return 1
    assert_eq "$(tail -c 2 "$R/etc/passwd" | od -An -c | tr -d ' ')" 'e\n' "image unchanged" || return 1
    # a run dir below a directory others cannot traverse: refused with the reason
    mkdir -m 0700 "$T_TMP/closed"
    local rc
    out=$(printf 'namespaces: {user: private}\ncommand: [/bin/true]\n' | MGR_RUN="$T_TMP/closed/run" run_unit)
    rc=$?
    assert_eq "$rc" 125 "start under a 0700 parent: $out" || return 1
    assert_contains "$out" "'$T_TMP/closed' (mode 0700) is not traversable by others" || return 1
}

t_userns_kept_upper() {
    # --keep-upper with a user namespace: the kept layer is chowned once to the container's
    # root, which can then write its own layer across runs.
    local f="$T_TMP/ku.yaml" out
    printf 'name: mgrt-sec-ku\nimage: dir:%s\nnamespaces: {user: private}\ncommand: [/bin/sh, -c, "cat /etc/kept 2>/dev/null; echo run >> /etc/kept && echo wrote"]\n' "$R" | unit "$f"
    out=$("$MGR" run --keep-upper "$f" 2>&1) || fail "first run: $out" || return 1
    assert_eq "$out" "wrote" "first run" || return 1
    out=$("$MGR" run --keep-upper "$f" 2>&1) || fail "second run: $out" || return 1
    assert_eq "$out" $'run\nwrote' "second run sees the kept layer" || return 1
    local k="$MGR_ROOT/containers/mgrt-sec-ku/upper/etc/kept"
    assert_ne "$(stat -c %u "$k")" 0 "owner of the kept file on the host" || return 1
    assert_eq "$(stat -c %u "$MGR_ROOT/containers/mgrt-sec-ku/upper")" "$(stat -c %u "$k")" || return 1
    [ ! -e "$R/etc/kept" ] || fail "the write reached the image" || return 1
    rm -rf "$MGR_ROOT/containers/mgrt-sec-ku"
}

t_no_fd_leak() {
    local out
    out=$(printf 'command: [/sectest, fds, "1"]\n' | run_unit) || fail "run: $out" || return 1
    assert_eq "$(echo "$out" | awk '{print $2}' | tr '\n' ' ')" "0 1 2 " "fds of the container's pid 1" || return 1
    assert_not_contains "$out" "$T_TMP" || return 1
    assert_not_contains "$out" "mgr.sock" || return 1
}

t_daemon_no_fd_leak() {
    # The supervisor holds more fds (epoll, signalfd, the control socket, log pipes): none of
    # them may reach a container it starts.
    local units="$T_TMP/dunits" run="$T_TMP/drun" log="$T_TMP/dfd.log" pid out
    mkdir -p "$units" "$run"
    printf 'name: mgrt-sec-dfd\nimage: dir:%s\ncommand: [/bin/sh, -c, "/sectest fds 1; /sectest fds self; trap \\"exit 0\\" TERM; while :; do sleep 0.2; done"]\nrestart: {policy: "no"}\n' "$R" |
        unit "$units/dfd.yaml"
    MGR_UNITS="$units" MGR_RUN="$run" "$MGR" daemon --stop-on-exit >"$log" 2>&1 &
    pid=$!
    on_exit "kill $pid"
    wait_for 10 sh -c "MGR_RUN='$run' '$MGR' logs mgrt-sec-dfd 2>/dev/null | grep -c ' fd ' | grep -qx 6"
    out=$(MGR_RUN="$run" "$MGR" logs mgrt-sec-dfd 2>&1)
    # `mgr exec`: a process the daemon forks and moves into the container, same confinement
    local ex st
    ex=$(MGR_RUN="$run" timeout 10 "$MGR" exec mgrt-sec-dfd /sectest fds self 2>&1)
    st=$(MGR_RUN="$run" timeout 10 "$MGR" exec mgrt-sec-dfd /sectest status 2>&1)
    kill "$pid"
    wait "$pid" 2>/dev/null
    assert_eq "$(echo "$out" | awk '$3 == "fd" {print $4}' | tr '\n' ' ')" "0 1 2 0 1 2 " "fds of pid 1 and of a child: $out" || return 1
    assert_not_contains "$out" "socket:" || return 1
    assert_not_contains "$out" "anon_inode" || return 1
    assert_eq "$(echo "$ex" | awk '$1 == "fd" {print $2}' | tr '\n' ' ')" "0 1 2 " "fds of an exec'd process: $ex" || return 1
    assert_contains "$st" $'CapEff:\t00000000800405fb' "exec'd process: $st" || return 1
    assert_contains "$st" $'NoNewPrivs:\t1' || return 1
    assert_contains "$st" $'Seccomp:\t2' || return 1
}

t_host_pid_mgr_exe() {
    # Even sharing the host's pid namespace, the container cannot open the mgr process's
    # /proc/PID/exe (the supervisor binary): it lacks the capabilities of its target.
    local out
    out=$(printf 'namespaces: {pid: host}\ncommand: [/sectest, openexe, parent]\n' | run_unit) ||
        fail "run: $out" || return 1
    assert_eq "$out" $'openexe-read errno=13\nopenexe-write errno=13' "open /proc/<mgr>/exe" || return 1
}

t_proc_self_exe() {
    local out host
    out=$(printf 'command: [/sectest, exe]\n' | run_unit) || fail "run: $out" || return 1
    host=$(stat -L -c '%d:%i' "$MGR")
    assert_match "$out" '^exe /sectest [0-9]+:[0-9]+$' || return 1
    assert_ne "${out##* }" "$host" "container exe is not the mgr binary" || return 1
}

t_masked_readonly_paths() {
    # Only paths this kernel has (no /proc/kcore or /proc/sysrq-trigger without their options).
    local f cmd="" want=""
    for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/latency_stats; do
        [ -e "$f" ] || continue
        cmd+="wc -c < $f; "
        want+="0"$'\n'
    done
    for f in /sys/firmware /proc/acpi /proc/scsi; do
        [ -d "$f" ] || continue
        cmd+="ls -A $f | wc -l; "
        want+="0"$'\n'
    done
    for f in /proc/sysrq-trigger /proc/sys/kernel/domainname /proc/sys/net/core/somaxconn /sys/kernel/uevent_helper; do
        [ -e "$f" ] || continue
        cmd+="/sectest write $f x; "
        want+="write errno=30"$'\n'
    done
    [ -n "$want" ] || skip "none of the masked paths exists on this kernel"
    local out
    out=$(printf 'command: [/bin/sh, -c, "%s"]\n' "$cmd" | run_unit) || fail "run: $out" || return 1
    assert_eq "$out"$'\n' "$want" "masked and read-only paths ($cmd)" || return 1
    # control: outside, the host's file has content (so the emptiness above is the mask)
    if [ -e /proc/timer_list ]; then
        [ "$(wc -c </proc/timer_list)" -gt 0 ] || fail "control: host /proc/timer_list is empty" || return 1
    fi
}

t_symlink_bind_target() {
    local outside="$T_TMP/outside" src="$T_TMP/src" out rc
    mkdir -p "$outside" "$src"
    ln -sfn "$outside" "$R/evil-abs"
    ln -sfn ../../../../../../../.. "$R/evil-rel"
    local t
    for t in /evil-abs/x /evil-rel/$outside; do
        out=$(printf '%s\n' "mounts: [{type: bind, source: $src, target: $t}]" 'command: [/bin/true]' | run_unit)
        rc=$?
        assert_eq "$rc" 125 "refused to start with bind target $t: $out" || return 1
        grep -q " $outside" /proc/self/mountinfo && fail "something got mounted on $outside" && return 1
        assert_eq "$(ls -A "$outside")" "" "nothing created outside" || return 1
    done
    rm -f "$R/evil-abs" "$R/evil-rel"
}

t_sysctl() {
    local out rc host_ping
    host_ping=$(cat /proc/sys/net/ipv4/ping_group_range)
    # podman's default: ICMP datagram sockets for root in its own network namespace
    out=$(printf 'command: [/bin/cat, /proc/sys/net/ipv4/ping_group_range]\n' | run_unit) || fail "run: $out" || return 1
    assert_eq "$out" $'0\t0' "default ping_group_range inside" || return 1
    out=$(printf 'namespaces: {net: host}\ncommand: [/bin/cat, /proc/sys/net/ipv4/ping_group_range]\n' | run_unit) ||
        fail "run: $out" || return 1
    assert_eq "$out" "$host_ping" "host network: nothing written" || return 1
    assert_eq "$(cat /proc/sys/net/ipv4/ping_group_range)" "$host_ping" "host value" || return 1
    out=$(printf '%s\n' 'user: www' 'security: {sysctl: {net.ipv4.ip_unprivileged_port_start: "80"}}' \
        'command: [/bin/sh, -c, "cat /proc/sys/net/ipv4/ip_unprivileged_port_start; /sectest bind 80"]' |
        run_unit) || fail "run: $out" || return 1
    assert_eq "$out" $'80\nbind ok' "namespaced sysctl applied" || return 1
    out=$(printf 'security: {sysctl: {kernel.panic: "1"}}\ncommand: [/bin/true]\n' | run_unit)
    rc=$?
    assert_eq "$rc" 125 "non-namespaced sysctl refused" || return 1
    assert_contains "$out" "sysctl 'kernel.panic' is not namespaced" || return 1
    out=$(printf 'namespaces: {net: host}\nsecurity: {sysctl: {net.ipv4.ip_forward: "1"}}\ncommand: [/bin/true]\n' | run_unit)
    rc=$?
    assert_eq "$rc" 125 "net sysctl with the host's network refused" || return 1
    assert_contains "$out" "needs a private network namespace" || return 1
}

t_rlimits() {
    local out rc hard
    out=$(printf 'security: {rlimits: {nofile: "100:200"}}\ncommand: [/sectest, limits, nofile]\n' |
        run_unit) || fail "run: $out" || return 1
    assert_eq "$out" "nofile 100 200" || return 1
    hard=$(ulimit -Hn)
    [ "$hard" = unlimited ] && skip "hard nofile limit is unlimited here"
    out=$(printf 'security: {rlimits: {nofile: %s}}\ncommand: [/bin/true]\n' "$((hard + 1))" | run_unit)
    rc=$?
    if [ $rc = 0 ] && grep -q 'cap_sys_resource' <(capsh --print 2>/dev/null | grep Current); then
        skip "we hold CAP_SYS_RESOURCE"
    fi
    assert_eq "$rc" 125 "nofile above our hard limit: $out" || return 1
    assert_contains "$out" "rlimits.nofile" || return 1
    assert_contains "$out" "hard limit $hard" || return 1
}

t_lsm_keys_without_lsm() {
    local out rc
    if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ]; then
        skip "AppArmor is enabled on this host"
    fi
    out=$(printf 'security: {apparmor: mgrt-profile}\ncommand: [/bin/true]\n' | run_unit)
    rc=$?
    assert_eq "$rc" 125 || return 1
    assert_contains "$out" "AppArmor is not enabled on this host" || return 1
    [ -e /sys/fs/selinux/enforce ] && skip "SELinux is enabled on this host"
    out=$(printf 'security: {selinux_label: "system_u:system_r:container_t:s0"}\ncommand: [/bin/true]\n' | run_unit)
    rc=$?
    assert_eq "$rc" 125 || return 1
    assert_contains "$out" "SELinux is not enabled on this host" || return 1
}

t_unit_file_permissions() {
    # The daemon and `mgr validate` read unit directories (unit_load_dir), like sshd's StrictModes.
    local d="$T_TMP/perm" out rc
    mkdir -p "$d"
    printf 'name: mgrt-perm\nimage: dir:%s\ncommand: [/bin/true]\n' "$R" >"$d/u.yaml"
    chmod 0644 "$d/u.yaml"
    "$MGR" validate "$d" >/dev/null 2>&1 || fail "control: a 0644 root-owned unit is valid" || return 1
    chmod 0664 "$d/u.yaml"
    out=$("$MGR" validate "$d" 2>&1)
    rc=$?
    assert_ne "$rc" 0 "group-writable unit file accepted" || return 1
    assert_contains "$out" "group- or world-writable" || return 1
    chmod 0646 "$d/u.yaml"
    out=$("$MGR" validate "$d" 2>&1)
    assert_contains "$out" "group- or world-writable" || return 1
    chmod 0644 "$d/u.yaml" && chown 65534 "$d/u.yaml"
    out=$("$MGR" validate "$d" 2>&1)
    rc=$?
    chown 0 "$d/u.yaml"
    assert_ne "$rc" 0 "unit file owned by nobody accepted" || return 1
    assert_contains "$out" "owned by uid 65534" || return 1
}

t_control_socket() {
    command -v setpriv >/dev/null || skip "needs setpriv"
    local log="$T_TMP/daemon.log" pid
    MGR_UNITS="$T_TMP/units" "$MGR" daemon >"$log" 2>&1 &
    pid=$!
    on_exit "kill $pid"
    wait_for 5 test -S "$MGR_RUN/mgr.sock" || { kill $pid; fail "no socket: $(cat "$log")"; return 1; }
    assert_eq "$(stat -c '%a %u' "$MGR_RUN/mgr.sock")" "600 0" "socket mode and owner" || { kill $pid; return 1; }
    # nobody cannot connect through the mode...
    local out
    out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$MGR" status 2>&1)
    [ $? -ne 0 ] || { kill $pid; fail "nobody talked to the daemon: $out"; return 1; }
    # ...and with the mode opened, SO_PEERCRED still refuses it
    chmod 0666 "$MGR_RUN/mgr.sock"
    out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$MGR" status 2>&1)
    local rc=$?
    chmod 0600 "$MGR_RUN/mgr.sock"
    kill $pid; wait $pid 2>/dev/null
    [ $rc -ne 0 ] || fail "nobody got an answer through a 0666 socket: $out" || return 1
    grep -q "refused a client with uid 65534" "$log" || fail "no refusal logged: $(cat "$log")" || return 1
}

before=$(count_mounts)
devnull_before=$(stat -c '%a %u %g %t:%T' /dev/null)
tcase caps-default t_caps_default
tcase caps-drop-all t_caps_drop_all
tcase caps-nonroot-net-bind-service t_caps_nonroot_net_bind
tcase caps-add-all t_caps_all
tcase seccomp-default-errnos t_seccomp_default
tcase seccomp-follows-capabilities t_seccomp_follows_caps
tcase readonly-rootfs t_readonly_rootfs
tcase busybox-applets-run t_busybox_applets
tcase seccomp-json-profile t_seccomp_json_profile
tcase seccomp-podman-profile t_podman_profile
tcase no-new-privs-setuid t_nnp_setuid
tcase userns-private-bind-owner t_userns_private
tcase userns-kept-upper t_userns_kept_upper
tcase no-fd-leak t_no_fd_leak
tcase daemon-and-exec-no-fd-leak t_daemon_no_fd_leak
tcase proc-self-exe t_proc_self_exe
tcase host-pid-cannot-open-mgr-exe t_host_pid_mgr_exe
tcase masked-readonly-paths t_masked_readonly_paths
tcase symlink-bind-target t_symlink_bind_target
tcase sysctl-namespaced-only t_sysctl
tcase rlimits t_rlimits
tcase lsm-keys-without-lsm t_lsm_keys_without_lsm
tcase unit-file-permissions t_unit_file_permissions
tcase control-socket-root-only t_control_socket
left() {
    assert_eq "$(count_mounts)" "$before" "mounts left behind" || return 1
    assert_eq "$(ls -A "$MGR_RUN/containers" 2>/dev/null)" "" "state left behind" || return 1
    # the host's device nodes bound into containers are untouched (mode, owner)
    assert_eq "$(stat -c '%a %u %g %t:%T' /dev/null)" "$devnull_before" "host /dev/null" || return 1
}
tcase nothing-left-behind left
finish

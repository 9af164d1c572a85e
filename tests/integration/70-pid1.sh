#!/usr/bin/env bash
# mgr as PID 1 without a VM: the init of a PID namespace (as in a system container), chrooted
# into a tree made by tests/vm/mkinitramfs.sh --dir. Checked from outside: API mounts in its
# mount namespace, hostname, lo up, orphans reaped, SIGTERM -> poweroff and SIGINT -> reboot
# (reboot(2) in a PID namespace ends it with SIGINT/SIGHUP), mgr.run's run_action.
# The VM test (tests/vm) covers the machine-init side (cgroup v2, modules, watchdog, console).
source "$(dirname "$0")/lib.sh"
requires root cmd:unshare cmd:nsenter cmd:busybox

ROOT=$T_TMP/pid1root
mkdir -p "$ROOT"
# Its own tmpfs: everything PID 1 does to its root stays on a file system of the test's.
mount -t tmpfs -o mode=0755 mgrt-pid1 "$ROOT"
on_exit umount -l "$ROOT"
bash "$TOP/tests/vm/mkinitramfs.sh" --dir --mgr "$MGR" --busybox --modules "" \
    --hostname mgrt-pid1 "$ROOT" 2>/dev/null || { echo "mkinitramfs --dir failed"; exit 1; }

UPID="" NSPID="" RC=""
# start_init NAME [init.yaml lines...]: runs mgr as PID 1 of new namespaces; sets UPID (the
# unshare process) and NSPID (mgr, as seen from here); its output goes to $T_TMP/NAME.log.
start_init() {
    local name=$1; shift
    printf '%s\n' "supervisor: false" "$@" >"$ROOT/etc/mgr/init.yaml"
    unshare --pid --fork --mount --uts --net --ipc chroot "$ROOT" /sbin/init \
        </dev/null >"$T_TMP/$name.log" 2>&1 &
    UPID=$!
    # Cases run in subshells (tcase): clean up when the case's subshell ends. Killing the
    # namespace's init ends every process in it.
    trap 'kill -KILL $NSPID $UPID 2>/dev/null; wait $UPID 2>/dev/null' EXIT
    wait_for 10 grep -q 'boot done' "$T_TMP/$name.log" || { cat "$T_TMP/$name.log"; return 1; }
    NSPID=$(pgrep -P "$UPID" | head -n 1)
}
need_init() { [ -n "$NSPID" ] || fail "no init process under unshare $UPID"; }
# wait_rc: waits for the unshare process (at most 15 s); its exit status in RC.
wait_rc() {
    local i
    for ((i = 0; i < 150; i++)); do kill -0 "$UPID" 2>/dev/null || break; sleep 0.1; done
    wait "$UPID" 2>/dev/null
    RC=$?
}

t_boot() {
    start_init boot && need_init || return 1
    local log=$T_TMP/boot.log mi=/proc/$NSPID/mountinfo
    assert_contains "$(cat "$log")" "in a PID namespace (container)" "boot log" || return 1
    local m
    for m in "/proc proc" "/sys sysfs" "/dev devtmpfs" "/dev/pts devpts" "/run tmpfs" \
        "/sys/fs/cgroup cgroup2"; do
        set -- $m
        awk -v mp="$1" -v fs="$2" '{for (i = 1; i <= NF; i++) if ($i == "-") break}
            $5 == mp && $(i + 1) == fs {f = 1} END {exit !f}' "$mi" ||
            fail "no $2 on $1 in PID 1's mount namespace" || return 1
    done
    assert_eq "$(nsenter -t "$NSPID" -u hostname)" mgrt-pid1 "hostname" || return 1
    assert_contains "$(nsenter -t "$NSPID" -n ip -o link show lo)" "UP" "lo" || return 1
    # An orphan is re-parented to PID 1 and reaped once it exits.
    nsenter -t "$NSPID" -p -m -r -w /bin/sh -c '
        p=$(sh -c "sleep 0.3 >/dev/null 2>&1 </dev/null & echo \$!")
        pp=$(awk "/^PPid:/ {print \$2}" /proc/$p/status)
        [ "$pp" = 1 ] || { echo "orphan ppid $pp"; exit 2; }
        i=0; while [ -e /proc/$p ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        [ ! -e /proc/$p ] || { echo "orphan $p not reaped: $(grep State /proc/$p/status)"; exit 3; }
    ' || fail "orphan reaping" || return 1
    # SIGTERM: orderly poweroff; in a PID namespace reboot(2) ends it "killed by SIGINT".
    kill -TERM "$NSPID"
    wait_rc
    assert_eq "$RC" 130 "exit status of the namespace after SIGTERM (128+SIGINT)" || { cat "$log"; return 1; }
    assert_contains "$(cat "$log")" "poweroff requested (Terminated" "log" || return 1
    assert_contains "$(cat "$log")" "powering off" "log" || return 1
}

t_sigint_reboot() {
    start_init reboot && need_init || return 1
    kill -INT "$NSPID"
    wait_rc
    assert_eq "$RC" 129 "exit status after SIGINT (128+SIGHUP: reboot)" || { cat "$T_TMP/reboot.log"; return 1; }
    assert_contains "$(cat "$T_TMP/reboot.log")" "rebooting" "log"
}

# mgr.run (here from init.yaml): the program runs after boot; its exit triggers run_action.
t_run_action() {
    start_init run "run: /bin/true" "run_action: halt" || return 1
    wait_rc
    assert_eq "$RC" 130 "exit status after run_action halt (128+SIGINT)" || { cat "$T_TMP/run.log"; return 1; }
    assert_contains "$(cat "$T_TMP/run.log")" "mgr.run: /bin/true exited with status 0" "log"
}

# SIGHUP: PID 1 executes the installed binary in place (an upgrade), keeps its pid and takes
# over its children: here the mgr.run program, whose later exit the new program still sees.
t_reexec() {
    printf '#!/bin/sh\nexec sleep 1000\n' >"$ROOT/usr/bin/mgrt-sleeper"
    chmod +x "$ROOT/usr/bin/mgrt-sleeper"
    start_init reexec "run: /usr/bin/mgrt-sleeper" && need_init || return 1
    local log=$T_TMP/reexec.log sleeper
    wait_for 5 grep -q 'mgr.run: started' "$log" || return 1
    sleeper=$(pgrep -P "$NSPID" | head -n 1)
    [ -n "$sleeper" ] || fail "no mgr.run child" || return 1
    kill -HUP "$NSPID"
    wait_for 5 grep -q 're-executed: supervisor pid 0, mgr.run pid' "$log" || { cat "$log"; fail "no re-execution"; return 1; }
    kill -0 "$NSPID" || fail "PID 1 gone" || return 1
    assert_eq "$(pgrep -P "$NSPID" | head -n 1)" "$sleeper" "mgr.run child after re-exec" || return 1
    kill "$sleeper"
    wait_for 5 grep -q 'mgr.run: /usr/bin/mgrt-sleeper killed by signal 15' "$log" ||
        { cat "$log"; fail "the re-executed PID 1 did not notice its child's exit"; return 1; }
    kill -TERM "$NSPID"
    wait_rc
    assert_eq "$RC" 130 "exit status"
}

# Bad settings are reported and ignored: the boot goes on.
t_bad_config() {
    start_init badcfg "cgroup: v7" "bogus: 1" && need_init || return 1
    assert_contains "$(cat "$T_TMP/badcfg.log")" "invalid value 'v7' for mgr.cgroup" "log" || return 1
    kill -TERM "$NSPID"
    wait_rc
    assert_eq "$RC" 130 "exit status"
}

tcase pid1_boot_reap_poweroff t_boot
tcase pid1_sigint_reboot t_sigint_reboot
tcase pid1_run_action t_run_action
tcase pid1_bad_config_ignored t_bad_config
tcase pid1_reexec_keeps_children t_reexec
finish

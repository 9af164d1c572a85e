#!/usr/bin/env bash
# The PID 1 VM test: builds an initramfs with tests/vm/mkinitramfs.sh (the recipe of
# doc/appliance.md), boots Debian's kernel under qemu (TCG) with mgr as /sbin/init, and turns
# the guest's "VMTEST ok|FAIL|skip NAME" console lines plus host-side console checks into the
# suite's counts. Boots: main (boot, mounts, reaping, units, poweroff on SIGTERM), cad
# (Ctrl-Alt-Del from the qemu monitor -> orderly reboot), v1 (mgr.cgroup=v1).
source "$(dirname "$0")/../integration/lib.sh"

KERNEL=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
KVER=${KERNEL#/boot/vmlinuz-}
requires root cmd:qemu-system-x86_64 cmd:cpio cmd:busybox cmd:depmod file:"$KERNEL" \
    file:/lib/modules/"$KVER"/modules.dep
VM_TIMEOUT=${VM_TIMEOUT:-90}
# Software emulation by default: on these machines KVM guests hang although /dev/kvm exists.
# VM_ACCEL=kvm uses KVM where it works.
VM_ACCEL=${VM_ACCEL:-tcg,thread=multi}
VM_BOOTS=${VM_BOOTS:-main cad v1 wd emerg} # which boots to run (all by default)
want() { [[ " $VM_BOOTS " == *" $1 "* ]]; }
HERE=$TOP/tests/vm
INITRD=$T_TMP/initrd.cpio

# Extra guest checks (tests/vm/guest/checks/*.sh) are sourced by the guest runner.
build_initrd() {
    local adds=(--add "$HERE/guest/vmtest.sh:/usr/libexec/mgr-vmtest")
    local f
    for f in "$HERE"/guest/checks/*.sh; do
        [ -f "$f" ] && adds+=(--add "$f:/usr/libexec/mgr-vmtest.d/$(basename "$f")")
    done
    mkdir -p "$T_TMP/rootfs"
    make_busybox_rootfs "$T_TMP/rootfs" >/dev/null 2>&1 || true
    local units=$HERE/../../examples/appliance
    bash "$HERE/mkinitramfs.sh" --mgr "$MGR" --kver "$KVER" --busybox \
        --modules "overlay veth bridge i6300esb" --hostname mgrt-vm \
        --units "$units" --rootfs "$T_TMP/rootfs:/srv/busybox" "${adds[@]}" "$INITRD"
}

# boot NAME APPEND [QEMU ARGS...]: boots with a hard timeout; console in $T_TMP/NAME.log,
# qemu's exit status in $T_TMP/NAME.rc (124 = timed out).
boot() {
    local name=$1 append=$2; shift 2
    timeout -k 5 "$VM_TIMEOUT" qemu-system-x86_64 -accel "$VM_ACCEL" -cpu max -m 512M \
        -nographic -no-reboot -nic none -kernel "$KERNEL" -initrd "$INITRD" \
        -append "console=ttyS0 panic=-1 rdinit=/sbin/init quiet $append" "$@" \
        </dev/null >"$T_TMP/$name.log" 2>&1
    echo $? >"$T_TMP/$name.rc"
    tr -d '\r' <"$T_TMP/$name.log" >"$T_TMP/$name.txt"
    cp "$T_TMP/$name.txt" "$B/vm-console-$name.log" 2>/dev/null || true
}

rc_of() { cat "$T_TMP/$1.rc" 2>/dev/null || echo 124; }

# Host-side checks on a console log.
no_panic() {
    ! grep -E 'Kernel panic|Attempted to kill init|EMERGENCY MODE' "$T_TMP/$1.txt" ||
        fail "$1: panic or emergency mode on the console" || return 1
}

# guest_results NAME: one tcase per VMTEST line of the guest.
guest_results() {
    local line name
    while read -r line; do
        set -- $line
        name="vm-$1/$3"
        case $2 in
        ok) tcase "$name" true ;;
        skip) echo "  skipped: ${line#*: }"; tcase "$name" _skip ;;
        *) echo "  ${line}"; tcase "$name" false ;;
        esac
    # (not anchored: a shell on the console may put terminal queries before a line)
    done < <(grep -oE 'VMTEST (ok|FAIL|skip) .*' "$T_TMP/$1.txt" | sed "s/^VMTEST/$1/")
}
_skip() { exit 77; }

show_console() { echo "---- console of $1 (last 40 lines)"; tail -n 40 "$T_TMP/$1.txt"; }

t_initrd_built() { build_initrd && [ -s "$INITRD" ]; }
tcase initramfs_built t_initrd_built
[ -s "$INITRD" ] || { finish; exit; }

# The boots run two at a time (each qemu TCG guest keeps one host CPU busy); the checks read
# their consoles afterwards.
MON=$T_TMP/mon.sock
boot_cad() {
    boot cad "" -monitor unix:"$MON",server,nowait &
    local qpid=$!
    wait_for 90 grep -q "unit 'web': started" "$T_TMP/cad.log" || { kill $qpid; wait $qpid; return 1; }
    printf 'sendkey ctrl-alt-delete\n' | nc -U -q 1 "$MON" >/dev/null 2>&1 ||
        python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.send(b"sendkey ctrl-alt-delete\n"); import time; time.sleep(0.5)' "$MON"
    wait $qpid
}
pids=()
want main && { boot main "mgr.run=/usr/libexec/mgr-vmtest mgrtest.mode=main" & pids+=($!); }
want v1 && { boot v1 "mgr.cgroup=v1 mgr.critical_deadline=3s mgr.run=/usr/libexec/mgr-vmtest mgrtest.mode=v1" & pids+=($!); }
[ ${#pids[@]} -gt 0 ] && wait "${pids[@]}"
pids=()
want wd && { boot wd "mgr.watchdog=/dev/watchdog mgr.watchdog_timeout=2 mgr.critical_deadline=6s \
mgr.on_critical=stop-petting mgr.run=/usr/libexec/mgr-vmtest mgrtest.mode=wd" \
    -device i6300esb -action watchdog=poweroff & pids+=($!); }
CAD_OK=1
want cad && { boot_cad || CAD_OK=0; }
want emerg && boot emerg "mgr.supervisor=0 mgr.run=/usr/libexec/mgr-vmtest mgrtest.mode=emerg"
[ ${#pids[@]} -gt 0 ] && wait "${pids[@]}"

# ---- main boot: the guest runner checks, then asks for poweroff with `mgr poweroff` (the
# supervisor sends SIGTERM to PID 1).
if want main; then
t_main_finished() {
    [ $(rc_of main) -ne 124 ] || fail "timed out after ${VM_TIMEOUT}s" || return 1
    grep -q '^VMTEST done' "$T_TMP/main.txt" || fail "guest runner did not finish" || return 1
}
t_main_no_panic() { no_panic main; }
t_main_reexec() {
    grep -q 'mgr: re-executing /sbin/init (sup=' "$T_TMP/main.txt" || fail "no re-execution logged" || return 1
    grep -q 'mgr: re-executed: supervisor pid [1-9]' "$T_TMP/main.txt" || fail "supervisor not taken over" || return 1
}
t_main_poweroff() {
    local c=$T_TMP/main.txt
    grep -q 'mgr: poweroff requested (Terminated from pid' "$c" || fail "no poweroff request logged" || return 1
    local from
    from=$(sed -n 's/.*mgr: poweroff requested (Terminated from pid \([0-9]*\)).*/\1/p' "$c")
    grep -q "supervisor started (pid $from," "$c" || fail "poweroff came from pid $from, not from the supervisor (mgr poweroff)" || return 1
    grep -q 'mgr: powering off' "$c" || fail "mgr did not reach the final step" || return 1
    grep -q 'reboot: Power down' "$c" || fail "kernel did not power down" || return 1
    # nothing after power-down: the boot ended by poweroff, not by the timeout
    [ $(rc_of main) -eq 0 ] || fail "qemu exit status $(rc_of main)" || return 1
}
# The supervisor stops dependents first (web depends on db), every stop is on the console,
# and it finishes within the budget PID 1 computed from the units' stop timeouts.
t_main_stop_order() {
    local c=$T_TMP/main.txt w d
    w=$(grep -n "unit 'web': stopped" "$c" | tail -n 1 | cut -d: -f1)
    d=$(grep -n "unit 'db': stopped" "$c" | tail -n 1 | cut -d: -f1)
    [ -n "$w" ] || fail "no stop of web on the console" || return 1
    [ -n "$d" ] || fail "no stop of db on the console" || return 1
    [ "$w" -lt "$d" ] || fail "db stopped before web (lines $d, $w)" || return 1
    ! grep -q 'supervisor did not finish stopping containers' "$c" ||
        fail "the supervisor did not finish its ordered stop in time" || return 1
}
tcase main_boot_finished t_main_finished
guest_results main
tcase main_no_panic t_main_no_panic
tcase main_pid1_reexec_on_sighup t_main_reexec
tcase main_sigterm_poweroff t_main_poweroff
tcase main_stop_order t_main_stop_order
[ $T_FAILED -eq 0 ] || show_console main
fi

# ---- Ctrl-Alt-Del through the qemu monitor once the units run: the kernel sends SIGINT to
# PID 1 (RB_DISABLE_CAD), mgr reboots in order; -no-reboot makes qemu exit.
t_cad_reboot() {
    [ $CAD_OK = 1 ] || fail "cad boot did not come up" || return 1
    local c=$T_TMP/cad.txt
    [ -f "$c" ] || tr -d '\r' <"$T_TMP/cad.log" >"$c"
    grep -q 'mgr: reboot requested (Interrupt from pid 0)' "$c" || fail "no reboot request from Ctrl-Alt-Del" || return 1
    grep -q 'mgr: rebooting' "$c" || fail "mgr did not reach the reboot step" || return 1
    # the supervisor stopped the containers, dependents first, before PID 1 rebooted
    local w d r
    r=$(grep -n 'reboot requested' "$c" | head -n 1 | cut -d: -f1)
    w=$(grep -n "unit 'web': stopped" "$c" | tail -n 1 | cut -d: -f1)
    d=$(grep -n "unit 'db': stopped" "$c" | tail -n 1 | cut -d: -f1)
    [ -n "$w" ] && [ -n "$d" ] && [ "$r" -lt "$w" ] && [ "$w" -lt "$d" ] ||
        fail "containers not stopped in order before the reboot (lines: request $r, web $w, db $d)" || return 1
    no_panic cad || return 1
}
want cad && tcase cad_orderly_reboot t_cad_reboot
want cad && [ $T_FAILED -ne 0 ] && show_console cad

# ---- cgroup v1 on request (mgr.cgroup=v1), the supervisor on it, and a critical unit that
# stays failed: PID 1 reboots in order (on_critical: reboot, the default).
if want v1; then
guest_results v1
t_v1_critical_reboot() {
    local c=$T_TMP/v1.txt
    grep -q "mgr: reboot requested (critical unit 'doomed' failed or unhealthy for 3000 ms)" "$c" ||
        fail "no reboot for the failed critical unit" || return 1
    grep -q 'reboot: Restarting system' "$c" || fail "did not reboot" || return 1
    no_panic v1
}
tcase v1_critical_unit_reboots t_v1_critical_reboot
fi

# ---- hardware watchdog (qemu i6300esb): petted while all is well; a critical unit that
# stays failed past mgr.critical_deadline makes PID 1 stop petting, and the device resets
# the machine (here: qemu powers off, so the boot ends without the kernel's "Power down").
if want wd; then
guest_results wd
t_wd_fired() {
    local c=$T_TMP/wd.txt
    [ $(rc_of wd) -ne 124 ] || fail "timed out: the watchdog did not fire" || return 1
    grep -q "mgr: watchdog /dev/watchdog armed, timeout 2s" "$c" || fail "watchdog not armed" || return 1
    grep -q "mgr: re-executed: .* watchdog kept" "$c" || fail "watchdog not kept across the re-execution" || return 1
    grep -q "critical unit 'doomed' failed or unhealthy for 6000 ms: no longer petting" "$c" ||
        fail "PID 1 did not stop petting for the failed critical unit" || return 1
    ! grep -q 'reboot: Power down\|still running 60 s' "$c" || fail "ended by software, not by the watchdog" || return 1
    no_panic wd
}
tcase wd_critical_unit_resets_machine t_wd_fired
[ $T_FAILED -eq 0 ] || show_console wd
fi

# ---- emergency mode: PID 1 "crashes" (SIGSEGV reaches its crash handler), keeps running with
# a shell on the console and keeps reaping; the kernel never sees init die.
if want emerg; then
guest_results emerg
t_emerg_console() {
    local c=$T_TMP/emerg.txt
    grep -q 'mgr: EMERGENCY MODE: crashed (SIGSEGV)' "$c" || fail "no emergency mode message" || return 1
    ! grep -E 'Kernel panic|Attempted to kill init' "$c" || fail "kernel panic" || return 1
    grep -q 'reboot: Power down' "$c" || fail "did not power down at the end" || return 1
}
tcase emerg_no_panic t_emerg_console
[ $T_FAILED -eq 0 ] || show_console emerg
fi

finish

#!/bin/sh
# Runs INSIDE the VM guest (busybox sh), started by mgr as PID 1 through `mgr.run=`.
# Prints one line per check on the console: "VMTEST ok NAME", "VMTEST FAIL NAME: why",
# "VMTEST skip NAME: why"; tests/vm/01-boot.sh on the host turns them into the counts.
# Ends with "VMTEST done" and then asks PID 1 for an orderly poweroff (SIGTERM), which the
# host checks on the console too.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
MODE=$(sed -n 's/.*mgrtest.mode=\([a-z0-9]*\).*/\1/p' /proc/cmdline)
MODE=${MODE:-main}

ok() { echo "VMTEST ok $1"; }
fail() { echo "VMTEST FAIL $1: $2"; }
skip() { echo "VMTEST skip $1: $2"; }
# check NAME CMD...: ok when CMD succeeds; its output goes into the failure reason.
check() {
    n=$1; shift
    if out=$("$@" 2>&1); then ok "$n"; else fail "$n" "$(echo "$out" | tail -n 8 | tr '\n' ' ' | cut -c 1-700)"; fi
}
# wait_for SECS CMD...: polls CMD every 50 ms until it succeeds or the deadline passes.
uptime_ms() { awk '{printf "%d", $1 * 1000}' /proc/uptime; }
wait_for() {
    end=$(($(uptime_ms) + $1 * 1000)); shift
    while [ "$(uptime_ms)" -lt $end ]; do "$@" >/dev/null 2>&1 && return 0; usleep 50000; done
    "$@"
}
# json_field UNIT KEY: a scalar field of `mgr status UNIT --json` (no jq in the guest).
json_field() {
    timeout 5 mgr status --json "$1" 2>/dev/null | tr -d '\n ' | sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p" | head -n 1
}
unit_running() { [ "$(json_field "$1" state)" = running ] && [ "$(json_field "$1" pid)" -gt 0 ]; }
# cg_dir PID: the cgroup v2 directory of a process.
cg_dir() { echo "/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/$1/cgroup)"; }

mounted() { # mounted MOUNTPOINT FSTYPE
    awk -v mp="$1" -v fs="$2" '{for (i = 1; i <= NF; i++) if ($i == "-") break}
        $5 == mp && $(i + 1) == fs {found = 1} END {exit !found}' /proc/self/mountinfo \
        || { echo "$1 is not a $2 mount:"; grep " $1 " /proc/self/mountinfo; return 1; }
}

t_pid1_is_mgr() { [ "$(readlink /proc/1/exe)" = /sbin/mgr ] || { readlink /proc/1/exe; return 1; }; }
t_api_mounts() {
    mounted /proc proc && mounted /sys sysfs && mounted /dev devtmpfs && mounted /dev/pts devpts &&
        mounted /dev/shm tmpfs && mounted /run tmpfs
}
t_cgroup2_mounted() {
    mounted /sys/fs/cgroup cgroup2 || return 1
    for c in cpu memory pids; do
        grep -qw $c /sys/fs/cgroup/cgroup.controllers || { echo "no $c controller"; return 1; }
    done
}
t_cgroup1_mounted() {
    mounted /sys/fs/cgroup tmpfs && mounted /sys/fs/cgroup/memory cgroup &&
        mounted /sys/fs/cgroup/pids cgroup && [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]
}
t_hostname() { [ "$(hostname)" = mgrt-vm ] || { hostname; return 1; }; }
t_lo_up() {
    f=$(cat /sys/class/net/lo/flags); [ $((f & 1)) = 1 ] || { echo "lo flags $f"; return 1; }
    ping -c 1 -W 1 127.0.0.1
}
t_modules_loaded() {
    for m in overlay veth bridge llc stp; do
        [ -d /sys/module/$m ] || { echo "module $m not loaded"; return 1; }
    done
    grep -qw overlay /proc/filesystems
}
t_console_stdio() { [ "$(readlink /proc/1/fd/1)" = /dev/console ] || { readlink /proc/1/fd/1; return 1; }; }
# The initramfs root was switched onto a bind mount of itself: pivot_root(2) works there.
t_pivot_root_works() {
    mkdir -p /tmp/mgrt-pr
    unshare -m sh -c 'mount -t tmpfs mgrt /tmp/mgrt-pr && mkdir /tmp/mgrt-pr/old &&
        cd /tmp/mgrt-pr && pivot_root . old'
}
# An orphan (its parent exits at once) is re-parented to PID 1, which must reap it: its
# /proc entry disappears after it exits, and no zombie is left anywhere.
t_orphan_reaped() {
    pid=$(sh -c 'sleep 1 >/dev/null 2>&1 </dev/null & echo $!')
    ppid=$(awk '/^PPid:/ {print $2}' /proc/$pid/status 2>/dev/null)
    [ "$ppid" = 1 ] || { echo "orphan $pid has ppid '$ppid', expected 1"; return 1; }
    wait_for 5 sh -c "! test -e /proc/$pid" || { echo "pid $pid not reaped: $(cat /proc/$pid/status | grep State)"; return 1; }
}
t_many_orphans_reaped() {
    for i in 1 2 3 4 5 6 7 8 9 10; do sh -c 'sh -c "exit 3" & sleep 0 & true' ; done
    usleep 300000
    wait_for 5 no_zombies
}
no_zombies() {
    for s in /proc/[0-9]*/stat; do
        st=$(cut -d' ' -f3 "$s" 2>/dev/null)
        [ "$st" = Z ] && { echo "zombie: $(cat "$s")"; return 1; }
    done
    return 0
}
t_units_running_v1() {
    both_running() { unit_running db && unit_running web; }
    wait_for 30 both_running || { timeout 5 mgr status; return 1; }
    pid=$(json_field db pid)
    d=/sys/fs/cgroup/memory$(awk -F: '$2 == "memory" {print $3}' /proc/$pid/cgroup)
    [ "$(cat "$d/memory.limit_in_bytes")" = 67108864 ] || { echo "memory.limit_in_bytes in $d: $(cat "$d/memory.limit_in_bytes")"; return 1; }
}
t_watchdog_armed() {
    w=/sys/class/watchdog/watchdog0
    [ "$(cat $w/state)" = active ] || { echo "state $(cat $w/state)"; return 1; }
    [ "$(cat $w/timeout)" = 2 ] || { echo "timeout $(cat $w/timeout)"; return 1; }
}
t_add_failing_critical() {
    printf 'name: doomed\nimage: dir:/srv/busybox\ncommand: ["/bin/sh", "-c", "exit 1"]\nrestart: {policy: "no"}\ncritical: true\n' >/etc/units.d/doomed.yaml
    chmod 644 /etc/units.d/doomed.yaml
    kill -USR1 1
}
t_emergency_shell() {
    for d in /proc/[0-9]*; do
        [ "$(awk '/^PPid:/ {print $2}' $d/status 2>/dev/null)" = 1 ] &&
            [ "$(readlink $d/exe)" = /bin/busybox ] && [ "$(tr '\0' ' ' <$d/cmdline)" = "/bin/sh " ] && return 0
    done
    echo "no /bin/sh child of PID 1"; return 1
}
# sup_pid: the supervisor: PID 1's child named "mgr" running "mgr ... daemon" (the helpers the
# supervisor forks share its command line but rename themselves, e.g. "mgr-holder").
sup_pid() {
    for d in /proc/[0-9]*; do
        [ "$(awk '/^PPid:/ {print $2}' $d/status 2>/dev/null)" = 1 ] &&
            [ "$(cat $d/comm 2>/dev/null)" = mgr ] &&
            tr '\0' ' ' <$d/cmdline 2>/dev/null | grep -q ' daemon' && echo ${d#/proc/}
    done
}
# SIGHUP: PID 1 re-executes its binary in place and keeps its children (the host checks the
# console for "re-executed"); every later check runs under the re-executed PID 1.
t_pid1_reexec() {
    before=$(sup_pid)
    [ -n "$before" ] || { echo "no supervisor"; return 1; }
    kill -HUP 1 || return 1
    usleep 500000
    kill -0 1 && [ "$(readlink /proc/1/exe)" = /sbin/mgr ] || return 1
    [ "$(sup_pid)" = "$before" ] || { echo "supervisor $before -> $(sup_pid)"; return 1; }
    timeout 5 mgr status >/dev/null || { echo "supervisor not answering after the re-exec"; return 1; }
}
t_sigusr1_survived() { kill -USR1 1 && usleep 200000 && [ -d /proc/1 ] && kill -0 1; }

case $MODE in
main)
    check pid1_is_mgr t_pid1_is_mgr
    check console_stdio t_console_stdio
    check api_mounts t_api_mounts
    check cgroup2_mounted t_cgroup2_mounted
    check hostname t_hostname
    check lo_up t_lo_up
    check modules_loaded t_modules_loaded
    check pivot_root_works t_pivot_root_works
    check pid1_reexec t_pid1_reexec
    check orphan_reaped t_orphan_reaped
    check many_orphans_reaped t_many_orphans_reaped
    check sigusr1_survived t_sigusr1_survived
    for f in /usr/libexec/mgr-vmtest.d/*.sh; do [ -f "$f" ] && . "$f"; done
    check no_zombies no_zombies
    ;;
v1)
    check cgroup1_mounted t_cgroup1_mounted
    # the supervisor on the v1 backend: units up, limits in the v1 files
    check v1_units_running t_units_running_v1
    # a critical unit that stays down: PID 1 reboots in order (default on_critical)
    check critical_unit_added t_add_failing_critical
    echo "VMTEST waiting for the critical reboot"
    sleep 60
    echo "VMTEST FAIL critical_reboot: still running 60 s after the critical unit failed"
    exit 0
    ;;
bench)
    # tests/bench/boot.sh: time from kernel start until every unit runs (guest clock), and
    # the memory of PID 1 and of the supervisor at that point.
    both_running() { unit_running db && unit_running web; }
    if wait_for 60 both_running; then
        up=$(cut -d' ' -f1 /proc/uptime)
        sup=$(sup_pid)
        rss() { awk '/^VmRSS:/ {print $2}' /proc/$1/status 2>/dev/null; }
        helpers=0 nh=0 # processes the supervisor forks and names mgr-* (e.g. mgr-holder)
        for d in /proc/[0-9]*; do
            case $(cat $d/comm 2>/dev/null) in mgr-*)
                helpers=$((helpers + $(rss ${d#/proc/}))); nh=$((nh + 1)) ;; esac
        done
        echo "VMBENCH units_up_s=$up supervisor_rss_kb=$(rss "${sup:-0}") pid1_rss_kb=$(rss 1) helpers_rss_kb=$helpers helpers=$nh"
    else
        echo "VMBENCH FAIL units did not come up"
    fi
    ;;
emerg)
    # A crash of PID 1 (its SIGSEGV handler, reached here by kill) must not panic the kernel:
    # emergency mode starts a shell on the console and keeps reaping.
    kill -SEGV 1
    sleep 1
    check pid1_alive_after_crash kill -0 1
    check emergency_shell t_emergency_shell
    check orphan_reaped_in_emergency t_orphan_reaped
    echo "VMTEST done"
    sync
    poweroff -f
    ;;
wd)
    # PID 1 pets /dev/watchdog (i6300esb, timeout 2 s): the machine outlives 3 timeouts.
    check watchdog_armed t_watchdog_armed
    kill -HUP 1 # the re-executed PID 1 keeps the device open and goes on petting
    sleep 6
    check watchdog_petted true
    # A critical unit that stays down: PID 1 stops petting after mgr.critical_deadline and
    # the hardware resets the machine (qemu -action watchdog=poweroff ends the boot).
    check critical_unit_added t_add_failing_critical
    echo "VMTEST waiting for the watchdog"
    sleep 60
    echo "VMTEST FAIL watchdog_fired: still running 60 s after the critical unit failed"
    exit 0
    ;;
esac
echo "VMTEST done"
sync
# The main boot asks through the control socket (the supervisor signals PID 1); the other
# boots, which may run no supervisor, signal PID 1 directly.
if [ "$MODE" = main ] && timeout 5 mgr poweroff; then
    :
else
    kill -TERM 1
fi
sleep 30

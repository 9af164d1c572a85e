# Sourced by vmtest.sh (busybox sh) in the main boot: the supervisor run by PID 1 on
# /etc/units.d (tests/vm/guest/units): units up, restart after a crash, cgroup v2 limits,
# device denial, freeze, networking between the two containers. The host checks the
# shutdown order on the console after the poweroff.

t_units_running() {
    wait_for 30 unit_running db && wait_for 30 unit_running web || {
        for u in db web; do echo "$u: $(timeout 5 mgr status --json $u 2>&1 | tr -d '\n ')"; done; return 1; }
    echo "units up at $(cut -d' ' -f1 /proc/uptime)s" >/run/mgrt-units-up
}
t_restart_after_crash() {
    old=$(json_field web pid); d=$(cg_dir "$old"); ino=$(stat -c %i "$d")
    [ -n "$ino" ] || return 1
    kill -KILL "$old" || return 1
    wait_for 20 sh -c "p=\$(mgr status --json web | tr -d '\n ' | sed -n 's/.*\"pid\":\([0-9]*\).*/\1/p'); [ -n \"\$p\" ] && [ \"\$p\" != 0 ] && [ \"\$p\" != $old ]" || {
        mgr status web; return 1; }
    wait_for 10 unit_running web || { mgr status web; return 1; }
    r=$(json_field web restarts); [ "${r:-0}" -ge 1 ] || { echo "restarts=$r"; return 1; }
    # the replacement was cloned into the kept group (doc/cgroups.md)
    new=$(json_field web pid)
    [ "$(cg_dir "$new")" = "$d" ] && [ "$(stat -c %i "$d")" = "$ino" ] ||
        { echo "web's group after the restart: $(cg_dir "$new") (was $d, inode $ino)"; return 1; }
}
t_cgroup_v2_limits() {
    pid=$(json_field db pid); d=$(cg_dir "$pid")
    [ "$d" != /sys/fs/cgroup ] || { echo "db (pid $pid) is in the root cgroup"; return 1; }
    grep -q cgroup2 /proc/self/mounts || return 1
    [ "$(cat "$d/memory.max")" = 67108864 ] || { echo "memory.max=$(cat "$d/memory.max") in $d"; return 1; }
    [ "$(cat "$d/pids.max")" = 50 ] || { echo "pids.max=$(cat "$d/pids.max")"; return 1; }
    [ "$(cat "$d/cpu.max")" = "50000 100000" ] || { echo "cpu.max=$(cat "$d/cpu.max")"; return 1; }
}
# A process put into the container's cgroup is subject to its BPF device program: opening a
# device outside the default allow-list fails with EPERM, /dev/null works.
t_device_denied_bpf() {
    pid=$(json_field db pid); d=$(cg_dir "$pid")
    out=$(sh -c "echo \$\$ > $d/cgroup.procs && exec cat /dev/kmsg" 2>&1 | head -n 1)
    case $out in *"Operation not permitted"*) ;; *) echo "reading /dev/kmsg in db's cgroup: '$out'"; return 1 ;; esac
    sh -c "echo \$\$ > $d/cgroup.procs && exec cat /dev/null"
}
t_freeze() {
    pid=$(json_field db pid); d=$(cg_dir "$pid")
    echo 1 >"$d/cgroup.freeze" || return 1
    wait_for 5 grep -q 'frozen 1' "$d/cgroup.events" || { cat "$d/cgroup.events"; echo 0 >"$d/cgroup.freeze"; return 1; }
    st=$(awk '/^State:/ {print $2}' /proc/$pid/status)
    echo 0 >"$d/cgroup.freeze"
    wait_for 5 grep -q 'frozen 0' "$d/cgroup.events" || return 1
    [ "$st" = S ] || [ "$st" = D ] || { echo "frozen state $st"; return 1; }
}
t_network_between_containers() {
    w=$(json_field web pid)
    nsenter -t "$w" -n ping -c 1 -W 2 10.77.0.10 || { nsenter -t "$w" -n ip addr; return 1; }
}

# A unit added at run time (re-applied through SIGUSR1 to PID 1) that outgrows memory.max:
# the kernel's OOM killer ends it and the supervisor reports the OOM kill.
t_oom_reported() {
    cat >/etc/units.d/hog.yaml <<'HOG'
name: hog
image: dir:/srv/busybox
command: ["/bin/sh", "-c", 'head -c 100000000 /dev/zero | tr "\0" a | sort >/dev/null']
resources: {memory: {max: 16M, swap_max: 0}}
restart: {policy: "no"}
HOG
    chmod 644 /etc/units.d/hog.yaml
    mgr validate /etc/units.d/hog.yaml || return 1
    kill -USR1 1
    hog_oom() { timeout 5 mgr status --json hog 2>/dev/null | tr -d '\n ' | grep -q '"oom":true'; }
    wait_for 30 hog_oom || { timeout 5 mgr status --json hog | tr -d '\n ' | cut -c 1-400; return 1; }
    rm -f /etc/units.d/hog.yaml; kill -USR1 1
}

# db's health check turns healthy; when its file goes away it turns unhealthy and the
# supervisor restarts it (a new process, healthy again). Runs last: db gets a new pid.
t_health_restart() {
    db_healthy() { [ "$(json_field db health)" = healthy ]; }
    wait_for 20 db_healthy || { echo "health: $(json_field db health)"; return 1; }
    old=$(json_field db pid); r0=$(json_field db restarts)
    nsenter -t "$old" -m rm /tmp/ok || return 1
    db_replaced() { p=$(json_field db pid); [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$old" ] && db_healthy; }
    wait_for 30 db_replaced || { timeout 5 mgr status db; return 1; }
    [ "$(json_field db restarts)" -gt "${r0:-0}" ] || { echo "restarts $(json_field db restarts)"; return 1; }
}

# `mgr kill -s KILL` reaches every process of the unit (v2: cgroup.kill), a second process
# started in its cgroup included; the restart policy brings it back.
t_kill_group() {
    old=$(json_field web pid); d=$(cg_dir "$old"); ino=$(stat -c %i "$d")
    [ -n "$ino" ] || return 1
    sh -c "echo \$\$ > $d/cgroup.procs && exec sleep 1000" &
    extra=$!
    usleep 200000
    grep -qx "$extra" "$d/cgroup.procs" || { echo "extra process not in $d"; return 1; }
    timeout 5 mgr kill -s KILL web || return 1
    gone() { ! kill -0 "$extra" 2>/dev/null && ! kill -0 "$old" 2>/dev/null; }
    wait_for 5 gone || { echo "still alive: $(cat "$d/cgroup.procs" 2>/dev/null | tr '\n' ' ')"; return 1; }
    wait $extra 2>/dev/null
    web_back() { p=$(json_field web pid); [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$old" ] && unit_running web; }
    wait_for 20 web_back || { timeout 5 mgr status web; return 1; }
    # after cgroup.kill the kernel would kill what is cloned into that group: a new one
    [ "$(stat -c %i "$(cg_dir "$(json_field web pid)")")" != "$ino" ] ||
        { echo "web restarted in the group cgroup.kill was written to"; return 1; }
}

# A broken unit file and a unit whose image does not exist, re-applied: reported, and the
# others keep running under the same pids.
t_bad_units_isolated() {
    d0=$(json_field db pid); w0=$(json_field web pid)
    printf 'name: [broken\n' >/etc/units.d/broken.yaml
    printf 'name: noimage\nimage: dir:/srv/mgrt-none\ncommand: ["/bin/true"]\n' >/etc/units.d/noimage.yaml
    chmod 644 /etc/units.d/broken.yaml /etc/units.d/noimage.yaml
    kill -USR1 1
    sleep 2
    rm -f /etc/units.d/broken.yaml /etc/units.d/noimage.yaml
    kill -USR1 1
    kill -0 1 || return 1
    [ "$(json_field db pid)" = "$d0" ] && [ "$(json_field web pid)" = "$w0" ] ||
        { echo "db $d0 -> $(json_field db pid), web $w0 -> $(json_field web pid)"; return 1; }
    unit_running db && unit_running web
}

check units_running t_units_running
if [ -f /run/mgrt-units-up ]; then
    check restart_after_crash t_restart_after_crash
    check cgroup_v2_limits t_cgroup_v2_limits
    check device_denied_bpf t_device_denied_bpf
    check freeze t_freeze
    check kill_whole_group t_kill_group
    check network_between_containers t_network_between_containers
    check oom_reported t_oom_reported
    check bad_units_isolated t_bad_units_isolated
    check health_unhealthy_restart t_health_restart
else
    for n in restart_after_crash cgroup_v2_limits device_denied_bpf freeze kill_whole_group network_between_containers oom_reported bad_units_isolated health_unhealthy_restart; do
        fail $n "units did not come up"
    done
fi

# `mgr run` (no daemon) on the initramfs root: the container pivots into its own root (the
# root switch of PID 1 made pivot_root possible), sees its own pid namespace, and its exit
# status comes back.
t_mgr_run() {
    mkdir -p /tmp/mgrt-run
    cat >/tmp/mgrt-run/once.yaml <<'ONCE'
name: once
image: dir:/srv/busybox
command: ["/bin/sh", "-c", 'test "$$" = 1 && test -x /bin/busybox && test ! -e /usr/libexec/mgr-vmtest && exit 3']
ONCE
    chmod 644 /tmp/mgrt-run/once.yaml
    MGR_ROOT=/tmp/mgrt-run/root MGR_RUN=/tmp/mgrt-run/run timeout 30 mgr run /tmp/mgrt-run/once.yaml
    rc=$?
    [ $rc = 3 ] || { echo "mgr run exit status $rc, expected 3"; return 1; }
}
check mgr_run_exit_status t_mgr_run

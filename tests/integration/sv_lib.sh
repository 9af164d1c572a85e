# Helpers for the supervisor integration tests (sourced after lib.sh): a busybox rootfs, a
# daemon per case in fresh --root/--run/--units, unit writing, status queries.
ROOTFS="$T_TMP/rootfs"
make_busybox_rootfs "$ROOTFS"
mkdir -p "$ROOTFS/www" && echo hello >"$ROOTFS/www/index.html"

# Per case: fresh state dirs and a daemon started with --stop-on-exit; cleanup stops it (which
# stops its containers) and kills anything a crashed daemon left.
sv_setup() {
    local d="$T_TMP/case-$1"
    mkdir -p "$d/root" "$d/run" "$d/units"
    export MGR_ROOT="$d/root" MGR_RUN="$d/run" MGR_UNITS="$d/units" CASE_DIR="$d"
    trap sv_teardown EXIT
}
start_daemon() {
    "$MGR" daemon --stop-on-exit >>"$CASE_DIR/daemon.log" 2>&1 &
    DPID=$!
    echo "$DPID" >"$CASE_DIR/daemon.pid"
    wait_for 5 "$MGR" status >/dev/null || { cat "$CASE_DIR/daemon.log"; return 1; }
}
stop_daemon() {
    local p
    p=$(cat "$CASE_DIR/daemon.pid" 2>/dev/null) || return 0
    kill -TERM "$p" 2>/dev/null
    wait_for 15 bash -c "! kill -0 $p 2>/dev/null" >/dev/null 2>&1
    kill -9 "$p" 2>/dev/null
    rm -f "$CASE_DIR/daemon.pid"
}
sv_teardown() {
    stop_daemon
    local s pid name
    for s in "$MGR_RUN"/containers/*/state; do
        [ -f "$s" ] || continue
        pid=$(sed -n 's/^pid=//p' "$s")
        if [ -n "$pid" ] && [ "$pid" != 0 ]; then
            kill -9 "$pid" 2>/dev/null
            wait_for 5 bash -c "! kill -0 $pid 2>/dev/null" >/dev/null 2>&1
        fi
    done
    for s in "$MGR_RUN"/containers/*; do
        [ -d "$s" ] || continue
        name=$(basename "$s")
        for c in /sys/fs/cgroup/*/mgr/"$name" /sys/fs/cgroup/unified/mgr.slice/"$name"; do
            [ -d "$c" ] && rmdir "$c" 2>/dev/null
        done
    done
    # The output holder exits by itself once its containers are gone; make sure.
    if [ -f "$MGR_RUN/holder.pid" ]; then
        pid=$(cat "$MGR_RUN/holder.pid")
        wait_for 3 bash -c "! kill -0 $pid 2>/dev/null" >/dev/null 2>&1 ||
            { echo "  holder $pid still running, killing it" >&2; kill -9 "$pid" 2>/dev/null; }
    fi
    ip link del mgrtsvbr0 2>/dev/null
    if [ -n "${T_DEBUG:-}" ]; then cat "$CASE_DIR/daemon.log" >&2; fi
}

# u NAME EXTRA-YAML: a unit file running a shell that stops on SIGTERM.
u() {
    local name=$1; shift
    unit "$MGR_UNITS/$name.yaml" <<EOT
name: $name
image: dir:$ROOTFS
stop: {timeout: 2s}
$*
EOT
}
TERMOK="trap 'exit 0' TERM; "
pid_of() { "$MGR" status --json | jq -r --arg n "$1" '.[] | select(.name == $n) | .pid'; }
field() { "$MGR" status "$1" --json | jq -r "$2"; }
state_is() { [ "$(field "$1" .state)" = "$2" ]; }
running() { state_is "$1" running && [ "$(pid_of "$1")" -gt 0 ]; }


# ONLY=case_name runs one case (debugging).
eval "_$(declare -f tcase)"
tcase() { if [ -z "${ONLY:-}" ] || [ "$2" = "$ONLY" ]; then _tcase "$@"; fi; }

# Helpers for integration tests (bash). Source it first; each test file then defines
# functions and calls `tcase NAME FUNCTION` for each, and `finish` at the end, which prints
# "N passed, N failed, N skipped". Everything a test creates is named with the prefix mgrt.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B="$TOP/$B" ;; esac
MGR="$B/mgr"
PAYLOAD="$B/tests/payload"
T_PASSED=0 T_FAILED=0 T_SKIPPED=0
# Debian's python3 has the modules `make deps` installs (python3-yaml, python3-jsonschema);
# a python3 earlier in PATH (pyenv and the like) may not.
if [ -x /usr/bin/python3 ]; then python3() { /usr/bin/python3 "$@"; }; export -f python3; fi
T_CLEANUPS=()

# Scratch space for this test file; removed at exit (after registered cleanups).
T_TMP=$(mktemp -d /tmp/mgrt.XXXXXX)
export MGR_ROOT="$T_TMP/root" MGR_RUN="$T_TMP/run" MGR_UNITS="$T_TMP/units"
mkdir -p "$MGR_ROOT" "$MGR_RUN" "$MGR_UNITS"

# on_exit CMD...: registers a cleanup, run in reverse order at exit.
on_exit() { T_CLEANUPS+=("$*"); }
_t_cleanup() {
    local i
    for ((i = ${#T_CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${T_CLEANUPS[$i]}" >/dev/null 2>&1; done
    # Unmount anything left under the scratch dir (deepest first), then remove it.
    if [ -d "$T_TMP" ]; then
        awk -v p="$T_TMP" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo | sort -r |
            while read -r m; do umount -l "$m" 2>/dev/null; done
        rm -rf "$T_TMP"
    fi
}
trap _t_cleanup EXIT

# requires WHAT...: exits the whole file as skipped when a requirement is missing.
#   root | cgroup2 | cgroup1 | userns | seccomp | cmd:NAME | file:PATH
requires() {
    local r why=""
    for r in "$@"; do
        case $r in
        root) [ "$(id -u)" = 0 ] || why="needs root" ;;
        cgroup2) [ -f /sys/fs/cgroup/cgroup.controllers ] && [ -n "$(cat /sys/fs/cgroup/cgroup.controllers)" ] || why="needs a cgroup v2 hierarchy with controllers" ;;
        cgroup1) [ -d /sys/fs/cgroup/memory ] || why="needs cgroup v1 controllers" ;;
        userns) [ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 0)" -gt 0 ] || why="needs user namespaces" ;;
        seccomp) grep -q '^Seccomp:' /proc/self/status || why="needs seccomp" ;;
        cmd:*) command -v "${r#cmd:}" >/dev/null || why="needs ${r#cmd:}" ;;
        file:*) [ -e "${r#file:}" ] || why="needs ${r#file:}" ;;
        *) why="unknown requirement $r" ;;
        esac
        if [ -n "$why" ]; then
            echo "  skipped: $why"
            echo "0 passed, 0 failed, 1 skipped"
            exit 0
        fi
    done
}

# tcase NAME FUNCTION: runs one test case in a subshell; 0 pass, 77 skip, else fail.
tcase() {
    local name=$1 fn=$2 rc
    ( set -u; "$fn" ) 
    rc=$?
    if [ $rc -eq 0 ]; then T_PASSED=$((T_PASSED + 1)); echo "ok   $name"
    elif [ $rc -eq 77 ]; then T_SKIPPED=$((T_SKIPPED + 1)); echo "skip $name"
    else
        T_FAILED=$((T_FAILED + 1)); echo "FAIL $name"
        # A test file may define on_fail to print what helps (e.g. a daemon log tail).
        declare -F on_fail >/dev/null && on_fail "$name"
    fi
}
finish() {
    echo "$T_PASSED passed, $T_FAILED failed, $T_SKIPPED skipped"
    [ $T_FAILED -eq 0 ]
}

# Assertions: print what differed and return 1 (use `|| return 1` or set -e in cases).
fail() { echo "  $*" >&2; return 1; }
skip() { echo "  skipped: $*"; exit 77; }
assert_eq() { [ "$1" == "$2" ] || fail "${3:-value}: got '$1', expected '$2'"; }
assert_ne() { [ "$1" != "$2" ] || fail "${3:-value}: got '$1', expected something else"; }
assert_contains() { [[ "$1" == *"$2"* ]] || fail "${3:-output} does not contain '$2': $1"; }
assert_not_contains() { [[ "$1" != *"$2"* ]] || fail "${3:-output} contains '$2': $1"; }
assert_match() { [[ "$1" =~ $2 ]] || fail "${3:-output} does not match /$2/: $1"; }

# wait_for SECONDS CMD...: polls CMD every 20 ms until it succeeds or the deadline passes.
wait_for() {
    local secs=$1; shift
    local deadline=$(($(date +%s%N) + secs * 1000000000))
    while [ "$(date +%s%N)" -lt $deadline ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.02
    done
    "$@"
}

# make_busybox_rootfs DIR: a minimal rootfs from Debian's busybox-static, plus the static
# payload program as /payload when it is built.
make_busybox_rootfs() {
    local d=$1
    mkdir -p "$d"/{bin,sbin,etc,proc,sys,dev,tmp,root,var/www,usr/bin,usr/sbin}
    cp /bin/busybox "$d/bin/busybox"
    local a
    for a in $("$d/bin/busybox" --list); do
        [ -e "$d/bin/$a" ] || ln -s busybox "$d/bin/$a"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\nwww:x:101:101:www:/var/www:/bin/false\n' >"$d/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\nwww:x:101:\n' >"$d/etc/group"
    chmod 1777 "$d/tmp"
    [ -x "$PAYLOAD" ] && cp "$PAYLOAD" "$d/payload"
    return 0
}

# unit FILE <<EOF ... EOF: writes a unit file with safe permissions (0644, root-owned).
unit() { cat >"$1"; chmod 0644 "$1"; }

# Counters of what a run may leave behind, to compare before/after.
count_mounts() { wc -l </proc/self/mountinfo; }
count_mgrt_links() { ip -o link show 2>/dev/null | grep -c 'mgrt\|vmgr' || true; }

# use_cgroup_parent NAME: containers' cgroups go below NAME (exported as MGR_CGROUP_PARENT,
# read by `mgr run`) in every hierarchy; the whole subtree is removed at exit.
use_cgroup_parent() {
    export MGR_CGROUP_PARENT=$1
    on_exit _drop_cgroup_parent "$1"
}
_drop_cgroup_parent() {
    local d
    for d in /sys/fs/cgroup/*/"$1" /sys/fs/cgroup/"$1"; do
        [ -d "$d" ] || continue
        find "$d" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
        rmdir "$d"
    done
    return 0
}

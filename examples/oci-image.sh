# Sourced by the examples' setup.sh scripts (bash, set -e): packs a root filesystem as an
# OCI image layout with umoci.
#
# oci_image IMG FILL [UMOCI-CONFIG-ARG...]: unless IMG already holds a layout, creates it with
# one tag "latest" whose single layer is what the command FILL puts in the rootfs directory it
# gets as its last argument; the extra arguments go to `umoci config` (e.g. --config.cmd).
oci_image() {
    local img=$1 fill=$2
    shift 2
    [ -f "$img/index.json" ] && return 0
    local work
    work=$(mktemp -d /tmp/mgrt-oci.XXXXXX)
    # shellcheck disable=SC2064 # $work is fixed now
    trap "rm -rf '$work'" EXIT
    mkdir -p "$(dirname "$img")"
    umoci init --layout "$img"
    umoci new --image "$img:latest"
    umoci unpack --image "$img:latest" "$work/bundle" >/dev/null
    "$fill" "$work/bundle/rootfs"
    umoci repack --image "$img:latest" "$work/bundle" >/dev/null
    if [ $# -gt 0 ]; then
        umoci config --image "$img:latest" "$@" >/dev/null
    fi
}

#!/usr/bin/env bash
# Builds the Debian nginx+redis image and applies the web-cache stack (as root).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
MGR=${MGR:-mgr}
UNITS=${MGR_UNITS:-/etc/units.d}
IMG=${WEBCACHE_IMAGE:-/var/lib/mgr/examples/debian-web-oci}

web_cache_rootfs() {
    "$top/tests/lib/debian-rootfs.sh" "$1" nginx-light,redis-server,redis-tools
    echo '<!doctype html><title>web-cache</title><h1>web-cache: nginx in front, redis behind</h1>' \
        >"$1/var/www/html/index.html"
}
source "$here/../oci-image.sh"
oci_image "$IMG" web_cache_rootfs
if [ "${1:-}" = --image-only ]; then exit 0; fi

install -d -m 0755 "$UNITS"
for f in network redis nginx; do
    install -m 0644 "$here/$f.yaml" "$UNITS/web-cache-$f.yaml"
done
"$MGR" validate "$UNITS"
"$MGR" apply

#!/usr/bin/env bash
# Brings up the hello stack on this machine (as root): image, units, daemon, apply.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
MGR=${MGR:-mgr}
UNITS=${MGR_UNITS:-/etc/units.d}
IMG=${HELLO_IMAGE:-/var/lib/mgr/examples/busybox-oci}

# 1. The image: a busybox-static rootfs with a page, packed as an OCI layout by umoci.
hello_rootfs() {
    local r=$1
    mkdir -p "$r"/{bin,etc,proc,sys,dev,tmp,www}
    cp /bin/busybox "$r/bin/busybox"
    for a in $("$r/bin/busybox" --list); do [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"; done
    printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$r/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
    cat >"$r/www/index.html" <<'HTML'
<!doctype html><title>hello from mgr</title><h1>Hello from mgr</h1>
<p>This page is served by busybox httpd in a container managed by mgr.</p>
HTML
}
source "$here/../oci-image.sh"
oci_image "$IMG" hello_rootfs --config.cmd /bin/sh --config.workingdir /
if [ "${1:-}" = --image-only ]; then exit 0; fi

# 2. The units.
install -d -m 0755 "$UNITS"
install -m 0644 "$here/network.yaml" "$UNITS/hello-net.yaml"
install -m 0644 "$here/hello.yaml" "$UNITS/hello.yaml"
"$MGR" validate "$UNITS"

# 3. The daemon (unless one already answers), then apply.
if ! "$MGR" status >/dev/null 2>&1; then
    mkdir -p /var/log
    nohup "$MGR" daemon >>/var/log/mgr.log 2>&1 &
    for _ in $(seq 100); do "$MGR" status >/dev/null 2>&1 && break; sleep 0.05; done
fi
"$MGR" apply
for _ in $(seq 100); do
    curl -fsS --max-time 1 http://10.89.0.10/ >/dev/null 2>&1 && break
    sleep 0.1
done
"$MGR" status
echo
curl -fsS --max-time 2 http://10.89.0.10/
cat <<'TXT'

The hello stack is up. Try:
  mgr status                # state, health, address
  curl http://10.89.0.10/   # the page
  mgr logs hello            # httpd's log
  mgr exec hello -- ps      # inside the container
TXT

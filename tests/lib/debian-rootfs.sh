#!/usr/bin/env bash
# debian-rootfs.sh DIR [PACKAGE,...]: a Debian 12 minbase root filesystem in DIR, built with
# debootstrap from the archive apt is configured with; cached as a tarball under
# tests/.cache/ (keyed by the package list) so the suite builds it once per machine.
set -eu
dir=$1
pkgs=${2:-}
top=$(cd "$(dirname "$0")/../.." && pwd)
cache="$top/tests/.cache"
key=$(echo "minbase:$pkgs" | sha256sum | cut -c1-16)
tarball="$cache/debian-$key.tar"
mkdir -p "$cache"
if [ ! -f "$tarball" ]; then
    mirror=$("$top/tests/lib/debian-mirror.sh")
    tmp=$(mktemp -d "$cache/mgrt-debootstrap.XXXXXX")
    trap 'umount -R "$tmp/root/proc" 2>/dev/null || true; rm -rf "$tmp"' EXIT
    debootstrap --variant=minbase ${pkgs:+--include="$pkgs"} bookworm "$tmp/root" "$mirror" \
        >"$tmp/log" 2>&1 || { tail -n 20 "$tmp/log" >&2; exit 1; }
    # apt's caches are not part of an image.
    rm -rf "$tmp/root/var/cache/apt/archives/"*.deb "$tmp/root/var/lib/apt/lists/"*
    tar -C "$tmp/root" --numeric-owner --xattrs -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
fi
mkdir -p "$dir"
tar -C "$dir" --numeric-owner --xattrs -xf "$tarball"

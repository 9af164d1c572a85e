#!/usr/bin/env bash
# Builds a bootable initramfs with mgr as PID 1 (the recipe of doc/appliance.md).
#
# Usage: tests/vm/mkinitramfs.sh [options] OUTPUT.cpio
#   --mgr PATH          the mgr binary (default build/mgr); becomes /sbin/mgr, /sbin/init, /init
#   --kver VERSION      kernel version whose modules to include (default: newest in /lib/modules)
#   --modules "A B"     modules to load at boot (with their dependencies from modules.dep),
#                       listed in /etc/modules-load.d/mgr.conf (default: overlay veth bridge)
#   --units DIR         unit files, copied to /etc/units.d
#   --hostname NAME     written to /etc/hostname (default: mgr-appliance)
#   --init-yaml FILE    copied to /etc/mgr/init.yaml
#   --rootfs DIR:DEST   a directory tree (e.g. a container root filesystem) copied to DEST
#   --add SRC:DEST      one extra file (mode kept)
#   --busybox           include busybox-static as /bin/busybox with its applet links
#   --gzip              compress the archive (the kernel unpacks either; plain is faster
#                       under emulation)
#   --dir               write the tree into the directory OUTPUT instead of an archive (a
#                       root for `chroot`, e.g. mgr as the init of a PID namespace)
# Needs: cpio (newc format), ldd, depmod (kmod), and root for the /dev/console node.
set -euo pipefail

MGR=build/mgr KVER="" MODULES="overlay veth bridge" UNITS="" HOSTNAME_="mgr-appliance"
INIT_YAML="" BUSYBOX=0 GZIP=0 DIR=0
ROOTFS=() ADD=()
while [ $# -gt 1 ]; do
    case $1 in
    --mgr) MGR=$2; shift 2 ;;
    --kver) KVER=$2; shift 2 ;;
    --modules) MODULES=$2; shift 2 ;;
    --units) UNITS=$2; shift 2 ;;
    --hostname) HOSTNAME_=$2; shift 2 ;;
    --init-yaml) INIT_YAML=$2; shift 2 ;;
    --rootfs) ROOTFS+=("$2"); shift 2 ;;
    --add) ADD+=("$2"); shift 2 ;;
    --busybox) BUSYBOX=1; shift ;;
    --gzip) GZIP=1; shift ;;
    --dir) DIR=1; shift ;;
    *) echo "mkinitramfs: unknown option $1" >&2; exit 2 ;;
    esac
done
[ $# -eq 1 ] || { echo "usage: $0 [options] OUTPUT.cpio" >&2; exit 2; }
OUT=$(realpath -m "$1")
[ -n "$KVER" ] || KVER=$(ls /lib/modules 2>/dev/null | sort -V | tail -n 1)

if [ $DIR = 1 ]; then
    ST=$OUT
    mkdir -p "$ST"
else
    ST=$(mktemp -d /tmp/mgrt-initramfs.XXXXXX)
    trap 'rm -rf "$ST"' EXIT
fi

# 1. The directory skeleton PID 1 mounts on (it creates missing mount points itself, but a
#    read-only root could not).
mkdir -p "$ST"/{bin,sbin,etc/units.d,etc/modules-load.d,etc/mgr,proc,sys,dev,run,tmp,root,var/lib/mgr,usr/bin,usr/sbin}
chmod 1777 "$ST/tmp"

# 2. mgr as /sbin/init (and /init, where the kernel looks without rdinit=), with every
#    shared library ldd names and the dynamic loader, at the same paths.
install -m 0755 "$MGR" "$ST/sbin/mgr"
ln -s mgr "$ST/sbin/init"
ln -s sbin/mgr "$ST/init"
copy_libs() {
    { ldd "$1" 2>/dev/null || true; } | { grep -oE '/[^ ]+' || true; } | while read -r lib; do
        [ -e "$ST$lib" ] && continue
        mkdir -p "$ST$(dirname "$lib")"
        cp -L "$lib" "$ST$lib"
    done
}
copy_libs "$MGR"
# PID 1 opens libkmod with dlopen() to load modules (ldd cannot see it): the library and
# what it links go in too, at the path the dynamic loader searches. mgr is a static binary:
# its dlopen() finds even libc.so.6's own dependency, the loader, by soname in that library
# directory (where Debian has it too), not at the /lib64 path a dynamic program names.
# (awk reads all of ldconfig's output: exiting early would SIGPIPE it, fatal under pipefail.)
KMODLIB=$(ldconfig -p | awk '$1 == "libkmod.so.2" && /x86-64/ && !f {print $NF; f = 1}')
if [ -n "$KMODLIB" ]; then
    mkdir -p "$ST$(dirname "$KMODLIB")"
    cp -L "$KMODLIB" "$ST$KMODLIB"
    copy_libs "$KMODLIB"
    LDSO=$(dirname "$KMODLIB")/ld-linux-x86-64.so.2
    if [ -e "$LDSO" ] && [ ! -e "$ST$LDSO" ]; then cp -L "$LDSO" "$ST$LDSO"; fi
fi

# 3. busybox-static: a shell and tools for tests and the emergency shell (/bin/sh).
if [ $BUSYBOX = 1 ]; then
    install -m 0755 "$(command -v busybox)" "$ST/bin/busybox"
    for a in $(busybox --list); do
        case $a in init | linuxrc | busybox) continue ;; esac
        [ -e "$ST/bin/$a" ] || ln -s busybox "$ST/bin/$a"
    done
fi

# 4. Kernel modules and their dependencies (from modules.dep, as modprobe resolves them),
#    then fresh indexes for exactly these files: libkmod looks modules up in modules.dep.bin.
if [ -n "$MODULES" ]; then
    for m in $MODULES; do
        modprobe -S "$KVER" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
    done | sort -u | while read -r ko; do
        mkdir -p "$ST$(dirname "$ko")"
        cp "$ko" "$ST$ko"
    done
    for f in modules.order modules.builtin modules.builtin.modinfo; do
        [ -f "/lib/modules/$KVER/$f" ] && cp "/lib/modules/$KVER/$f" "$ST/lib/modules/$KVER/"
    done
    depmod -b "$ST" "$KVER"
    printf '# loaded by mgr (PID 1) at boot, with dependencies\n' >"$ST/etc/modules-load.d/mgr.conf"
    for m in $MODULES; do echo "$m" >>"$ST/etc/modules-load.d/mgr.conf"; done
fi

# 5. Configuration: hostname, units, PID 1 settings, a minimal passwd/group.
echo "$HOSTNAME_" >"$ST/etc/hostname"
if [ -n "$UNITS" ]; then
    for f in "$UNITS"/*.yaml "$UNITS"/*.yml; do [ -f "$f" ] && install -m 0644 "$f" "$ST/etc/units.d/"; done
    chmod -R go-w "$ST/etc/units.d"
fi
[ -n "$INIT_YAML" ] && cp "$INIT_YAML" "$ST/etc/mgr/init.yaml"
echo 'root:x:0:0:root:/root:/bin/sh' >"$ST/etc/passwd"
printf 'root:x:0:\ntty:x:5:\n' >"$ST/etc/group"
for r in "${ROOTFS[@]}"; do
    mkdir -p "$ST${r#*:}"
    cp -a "${r%%:*}"/. "$ST${r#*:}/"
done
for a in "${ADD[@]}"; do
    mkdir -p "$ST$(dirname "${a#*:}")"
    cp -p "${a%%:*}" "$ST${a#*:}"
    [ -x "${a%%:*}" ] && [ -f "$ST${a#*:}" ] && copy_libs "$ST${a#*:}"
done

# 6. /dev/console, so that the kernel opens it as PID 1's stdio before devtmpfs is mounted.
mknod -m 600 "$ST/dev/console" c 5 1
mknod -m 666 "$ST/dev/null" c 1 3

# 7. The archive: newc format, owned by root.
if [ $DIR = 1 ]; then
    echo "mkinitramfs: tree in $OUT" >&2
    exit 0
fi
(cd "$ST" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet) >"$OUT.tmp"
if [ $GZIP = 1 ]; then gzip -1 -c "$OUT.tmp" >"$OUT"; rm -f "$OUT.tmp"; else mv "$OUT.tmp" "$OUT"; fi
echo "mkinitramfs: $OUT ($(du -h "$OUT" | cut -f1), kernel modules for $KVER)" >&2

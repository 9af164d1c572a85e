#!/usr/bin/env bash
# Image import of a Debian 12 minbase rootfs (debootstrap, cached under tests/.cache/) packed
# by umoci into an OCI layout: `mgr image import` (verify + gunzip + hash + extract + syncfs)
# against `bsdtar -x` of the same layer blob and `umoci unpack` of the same image; then the
# uncompressed layer alone (extraction without gzip); then a second prepare of the imported
# image, which must extract nothing. Medians of RUNS runs (default 5).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B="$TOP/$B" ;; esac
MGR=$B/mgr
RUNS=${RUNS:-5}
RUNS_FAST=${RUNS_FAST:-15} # the tmpfs rows take a fraction of a second: more runs, less noise
T=$(mktemp -d /tmp/mgrt-imgbench.XXXXXX)
trap 'umount "$T/mem" 2>/dev/null; rm -rf "$T"' EXIT

echo "## Image import (Debian minbase)"
echo
for c in umoci bsdtar; do
    command -v $c >/dev/null || { echo "skipped: $c is not installed"; exit 0; }
done
[ -x "$MGR" ] || { echo "skipped: $MGR is not built"; exit 0; }

bash "$TOP/tests/lib/debian-rootfs.sh" "$T/rootfs" >/dev/null 2>"$T/deb.err" ||
    { echo "skipped: could not build the Debian rootfs: $(tail -n 1 "$T/deb.err")"; exit 0; }
umoci init --layout "$T/oci" >/dev/null && umoci new --image "$T/oci:minbase" >/dev/null &&
    umoci unpack --image "$T/oci:minbase" "$T/bundle" >/dev/null || exit 1
rmdir "$T/bundle/rootfs" && mv "$T/rootfs" "$T/bundle/rootfs"
umoci repack --image "$T/oci:minbase" "$T/bundle" >/dev/null || exit 1
rm -rf "$T/bundle"
manifest=$(jq -r '.manifests[0].digest' "$T/oci/index.json" | cut -d: -f2)
blob=$T/oci/blobs/sha256/$(jq -r '.layers[0].digest' "$T/oci/blobs/sha256/$manifest" | cut -d: -f2)
gzip -dc "$blob" >"$T/layer.tar"
tar_bytes=$(stat -c %s "$T/layer.tar")
gz_bytes=$(stat -c %s "$blob")
files=$(tar -tf "$T/layer.tar" | wc -l)

# timeit SETUP CMD [N]: runs SETUP (untimed) then CMD, N (default RUNS) times; prints the
# median in ms.
timeit() {
    local setup=$1 cmd=$2 n=${3:-$RUNS} i t0 t1
    for ((i = 0; i < n; i++)); do
        eval "$setup" >/dev/null 2>&1
        t0=$(date +%s%N)
        eval "$cmd" >/dev/null 2>"$T/err" || { echo "FAILED: $cmd: $(tail -n 2 "$T/err")" >&2; echo 0; return; }
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000))
    done | sort -n | awk '{a[NR] = $1} END {m = a[int((NR + 1) / 2)]; printf "%.1f\n", m / 1000}'
}
mbps() { awk -v b="$tar_bytes" -v ms="$1" 'BEGIN { if (ms > 0) printf "%.0f", b / 1e6 / (ms / 1000); else print "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", b / a; else print "-" }'; }

# Each run starts from an empty target with the previous run's writeback finished.
fresh_store='rm -rf "$T/root" "$T/x"; mkdir -p "$T/x"; sync'
m_gz=$(timeit "$fresh_store" 'MGR_ROOT=$T/root "$MGR" image import "oci:$T/oci:minbase"')
b_gz=$(timeit "$fresh_store" 'bsdtar -xpf "$blob" -C "$T/x"')
b_gz_sync=$(timeit "$fresh_store" 'bsdtar -xpf "$blob" -C "$T/x" && sync -f "$T/x"')
u_gz=$(timeit 'rm -rf "$T/ub"; sync' 'umoci unpack --image "$T/oci:minbase" "$T/ub"')
m_tar=$(timeit "$fresh_store" 'MGR_ROOT=$T/root "$MGR" image import "tar:$T/layer.tar"')
b_tar=$(timeit "$fresh_store" 'bsdtar -xpf "$T/layer.tar" -C "$T/x"')
b_tar_sync=$(timeit "$fresh_store" 'bsdtar -xpf "$T/layer.tar" -C "$T/x" && sync -f "$T/x"')

# The same on tmpfs: no disk, so the rows compare the extraction work itself.
mkdir -p "$T/mem"
mount -t tmpfs -o size=2g mgrt-imgbench "$T/mem" || exit 1
fresh_mem='rm -rf "$T/mem/root" "$T/mem/x"; mkdir -p "$T/mem/x"'
mm_gz=$(timeit "$fresh_mem" 'MGR_ROOT=$T/mem/root "$MGR" image import "oci:$T/oci:minbase"' "$RUNS_FAST")
bm_gz=$(timeit "$fresh_mem" 'bsdtar -xpf "$blob" -C "$T/mem/x"' "$RUNS_FAST")
mm_tar=$(timeit "$fresh_mem" 'MGR_ROOT=$T/mem/root "$MGR" image import "tar:$T/layer.tar"' "$RUNS_FAST")
bm_tar=$(timeit "$fresh_mem" 'bsdtar -xpf "$T/layer.tar" -C "$T/mem/x"' "$RUNS_FAST")
um_gz=$(timeit 'rm -rf "$T/mem/ub"' 'umoci unpack --image "$T/oci:minbase" "$T/mem/ub"')
rm -rf "$T/mem/root" "$T/mem/x" "$T/mem/ub"

# Second use of an imported image: no extraction at all.
rm -rf "$T/root"
MGR_ROOT=$T/root "$MGR" image import "oci:$T/oci:minbase" --name mgrt-minbase >/dev/null
p_name=$(timeit '' 'MGR_ROOT=$T/root "$MGR" image prepare mgrt-minbase')
MGR_ROOT=$T/root "$MGR" image prepare "oci:$T/oci:minbase" >/dev/null
p_src=$(timeit '' 'MGR_ROOT=$T/root "$MGR" image prepare "oci:$T/oci:minbase"')
extracted=$(MGR_ROOT=$T/root MGR_DEBUG=1 "$MGR" image prepare "oci:$T/oci:minbase" 2>&1 >/dev/null | grep -c 'extracting layer')

echo "One layer: $((tar_bytes / 1000000)) MB uncompressed ($((gz_bytes / 1000000)) MB gzip), $files entries;"
echo "median of $RUNS runs each ($RUNS_FAST for the mgr/bsdtar tmpfs rows), MB/s of uncompressed bytes;"
echo "ext4 rows write to the disk, tmpfs rows"
echo "measure the extraction work alone. mgr's import also verifies the blob and"
echo "diff_id digests and syncs the layer (syncfs) before it becomes visible; bsdtar does neither"
echo "(rows with and without a following \`sync -f\`). umoci unpack verifies digests and also"
echo "writes an mtree manifest."
echo
echo "| what | ms | MB/s | mgr speed / peer speed |"
echo "| --- | ---: | ---: | ---: |"
echo "| mgr image import oci: (gzip layer) | $m_gz | $(mbps "$m_gz") | |"
echo "| bsdtar -xpf layer.tar.gz | $b_gz | $(mbps "$b_gz") | $(ratio "$m_gz" "$b_gz") |"
echo "| bsdtar -xpf layer.tar.gz && sync -f | $b_gz_sync | $(mbps "$b_gz_sync") | $(ratio "$m_gz" "$b_gz_sync") |"
echo "| umoci unpack | $u_gz | $(mbps "$u_gz") | $(ratio "$m_gz" "$u_gz") |"
echo "| mgr image import tar: (uncompressed layer) | $m_tar | $(mbps "$m_tar") | |"
echo "| bsdtar -xpf layer.tar | $b_tar | $(mbps "$b_tar") | $(ratio "$m_tar" "$b_tar") |"
echo "| bsdtar -xpf layer.tar && sync -f | $b_tar_sync | $(mbps "$b_tar_sync") | $(ratio "$m_tar" "$b_tar_sync") |"
echo "| tmpfs: mgr image import oci: (gzip layer) | $mm_gz | $(mbps "$mm_gz") | |"
echo "| tmpfs: bsdtar -xpf layer.tar.gz | $bm_gz | $(mbps "$bm_gz") | $(ratio "$mm_gz" "$bm_gz") |"
echo "| tmpfs: umoci unpack | $um_gz | $(mbps "$um_gz") | $(ratio "$mm_gz" "$um_gz") |"
echo "| tmpfs: mgr image import tar: (uncompressed layer) | $mm_tar | $(mbps "$mm_tar") | |"
echo "| tmpfs: bsdtar -xpf layer.tar | $bm_tar | $(mbps "$bm_tar") | $(ratio "$mm_tar" "$bm_tar") |"
echo "| mgr image prepare NAME (already imported) | $p_name | | |"
echo "| mgr image prepare oci:DIR (already imported) | $p_src | | |"
echo
echo "Layers extracted by a second prepare of the imported source: $extracted."
echo

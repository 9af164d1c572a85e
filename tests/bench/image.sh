#!/usr/bin/env bash
# Image import of a Debian 12 minbase rootfs (debootstrap, cached under tests/.cache/) packed
# by umoci into an OCI layout: `mgr image import` (verify + gunzip + hash + extract + syncfs)
# against `bsdtar -x` of the same layer blob and `umoci unpack` of the same image; then the
# uncompressed layer alone (extraction without gzip); then a second prepare of the imported
# image, which must extract nothing. Medians of RUNS runs (default 5). The tmpfs rows run
# mgr and bsdtar alternately (RUNS_FAST pairs), so that a load change on the machine hits
# both; they also give the CPU time (user + sys) beside the wall time.
# IMAGE_BENCH=tmpfs runs only the tmpfs mgr/bsdtar rows (a quick check while tuning).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B="$TOP/$B" ;; esac
MGR=$B/mgr
RUNS=${RUNS:-5}
RUNS_FAST=${RUNS_FAST:-15} # the tmpfs rows take a fraction of a second: more runs, less noise
ONLY=${IMAGE_BENCH:-all}
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
# timepair SETUP CMD_A CMD_B [N]: N (default RUNS_FAST) rounds of SETUP + CMD_A then
# SETUP + CMD_B; prints "A_ms A_cpu_ms B_ms B_cpu_ms", medians (cpu: user + sys of the
# command's processes, from the shell's `times`).
timepair() {
    local setup=$1 n=${4:-$RUNS_FAST} i k t0 t1 cmd
    for ((i = 0; i < n; i++)); do
        for k in a b; do
            [ $k = a ] && cmd=$2 || cmd=$3
            eval "$setup" >/dev/null 2>&1
            t0=$(date +%s%N)
            (eval "$cmd" >/dev/null 2>"$T/err" || { echo "FAILED: $cmd: $(tail -n 2 "$T/err")" >&2; exit 1; }
             times >"$T/times") || break 2
            t1=$(date +%s%N)
            # "0m0.110s 0m0.085s": the children's user and sys
            echo "$k $(((t1 - t0) / 1000)) $(awk 'END {split($0, f, /[ms ]+/); print int((f[1] * 60 + f[2] + f[3] * 60 + f[4]) * 1e6)}' "$T/times")"
        done
    done | awk '
        { w[$1, ++c[$1]] = $2; u[$1, c[$1]] = $3 }
        function med(arr, k, n,   i, j, v, t) {
            for (i = 1; i <= n; i++) v[i] = arr[k, i]
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
            return v[int((n + 1) / 2)] / 1000
        }
        END { if (c["a"] == 0 || c["a"] != c["b"]) { print "0 0 0 0"; exit }
              printf "%.1f %.0f %.1f %.0f\n", med(w, "a", c["a"]), med(u, "a", c["a"]), med(w, "b", c["b"]), med(u, "b", c["b"]) }'
}
mbps() { awk -v b="$tar_bytes" -v ms="$1" 'BEGIN { if (ms > 0) printf "%.0f", b / 1e6 / (ms / 1000); else print "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", b / a; else print "-" }'; }

# Each run starts from an empty target with the previous run's writeback finished.
if [ "$ONLY" != tmpfs ]; then
fresh_store='rm -rf "$T/root" "$T/x"; mkdir -p "$T/x"; sync'
m_gz=$(timeit "$fresh_store" 'MGR_ROOT=$T/root "$MGR" image import "oci:$T/oci:minbase"')
b_gz=$(timeit "$fresh_store" 'bsdtar -xpf "$blob" -C "$T/x"')
b_gz_sync=$(timeit "$fresh_store" 'bsdtar -xpf "$blob" -C "$T/x" && sync -f "$T/x"')
u_gz=$(timeit 'rm -rf "$T/ub"; sync' 'umoci unpack --image "$T/oci:minbase" "$T/ub"')
m_tar=$(timeit "$fresh_store" 'MGR_ROOT=$T/root "$MGR" image import "tar:$T/layer.tar"')
b_tar=$(timeit "$fresh_store" 'bsdtar -xpf "$T/layer.tar" -C "$T/x"')
b_tar_sync=$(timeit "$fresh_store" 'bsdtar -xpf "$T/layer.tar" -C "$T/x" && sync -f "$T/x"')
fi

# The same on tmpfs: no disk, so the rows compare the extraction work itself.
mkdir -p "$T/mem"
mount -t tmpfs -o size=2g mgrt-imgbench "$T/mem" || exit 1
fresh_mem='rm -rf "$T/mem/root" "$T/mem/x"; mkdir -p "$T/mem/x"'
read -r mm_gz mm_gz_cpu bm_gz bm_gz_cpu < <(timepair "$fresh_mem" \
    'MGR_ROOT=$T/mem/root "$MGR" image import "oci:$T/oci:minbase"' 'bsdtar -xpf "$blob" -C "$T/mem/x"')
read -r mm_tar mm_tar_cpu bm_tar bm_tar_cpu < <(timepair "$fresh_mem" \
    'MGR_ROOT=$T/mem/root "$MGR" image import "tar:$T/layer.tar"' 'bsdtar -xpf "$T/layer.tar" -C "$T/mem/x"')
[ "$ONLY" != tmpfs ] && um_gz=$(timeit 'rm -rf "$T/mem/ub"' 'umoci unpack --image "$T/oci:minbase" "$T/mem/ub"')
rm -rf "$T/mem/root" "$T/mem/x" "$T/mem/ub"

if [ "$ONLY" = tmpfs ]; then
    echo "IMAGE_BENCH=tmpfs: tmpfs rows only, $RUNS_FAST alternating runs each."
    echo
    echo "| what | ms | CPU ms | MB/s | mgr speed / peer speed |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    echo "| tmpfs: mgr image import oci: (gzip layer) | $mm_gz | $mm_gz_cpu | $(mbps "$mm_gz") | |"
    echo "| tmpfs: bsdtar -xpf layer.tar.gz | $bm_gz | $bm_gz_cpu | $(mbps "$bm_gz") | $(ratio "$mm_gz" "$bm_gz") |"
    echo "| tmpfs: mgr image import tar: (uncompressed layer) | $mm_tar | $mm_tar_cpu | $(mbps "$mm_tar") | |"
    echo "| tmpfs: bsdtar -xpf layer.tar | $bm_tar | $bm_tar_cpu | $(mbps "$bm_tar") | $(ratio "$mm_tar" "$bm_tar") |"
    exit 0
fi

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
echo "measure the extraction work alone (mgr and bsdtar alternating, run by run). mgr's import"
echo "also verifies the blob and diff_id digests and syncs the layer (syncfs) before it becomes"
echo "visible; bsdtar does neither (rows with and without a following \`sync -f\`). mgr spreads"
echo "the work over two threads (sha256, and for a gzip layer the decompression, overlap with"
echo "writing the files); bsdtar uses one: CPU ms (user + sys, tmpfs rows) is the CPU time"
echo "that wall time costs. umoci unpack verifies digests and also writes an mtree manifest."
echo
echo "| what | ms | CPU ms | MB/s | mgr speed / peer speed |"
echo "| --- | ---: | ---: | ---: | ---: |"
echo "| mgr image import oci: (gzip layer) | $m_gz | | $(mbps "$m_gz") | |"
echo "| bsdtar -xpf layer.tar.gz | $b_gz | | $(mbps "$b_gz") | $(ratio "$m_gz" "$b_gz") |"
echo "| bsdtar -xpf layer.tar.gz && sync -f | $b_gz_sync | | $(mbps "$b_gz_sync") | $(ratio "$m_gz" "$b_gz_sync") |"
echo "| umoci unpack | $u_gz | | $(mbps "$u_gz") | $(ratio "$m_gz" "$u_gz") |"
echo "| mgr image import tar: (uncompressed layer) | $m_tar | | $(mbps "$m_tar") | |"
echo "| bsdtar -xpf layer.tar | $b_tar | | $(mbps "$b_tar") | $(ratio "$m_tar" "$b_tar") |"
echo "| bsdtar -xpf layer.tar && sync -f | $b_tar_sync | | $(mbps "$b_tar_sync") | $(ratio "$m_tar" "$b_tar_sync") |"
echo "| tmpfs: mgr image import oci: (gzip layer) | $mm_gz | $mm_gz_cpu | $(mbps "$mm_gz") | |"
echo "| tmpfs: bsdtar -xpf layer.tar.gz | $bm_gz | $bm_gz_cpu | $(mbps "$bm_gz") | $(ratio "$mm_gz" "$bm_gz") |"
echo "| tmpfs: umoci unpack | $um_gz | | $(mbps "$um_gz") | $(ratio "$mm_gz" "$um_gz") |"
echo "| tmpfs: mgr image import tar: (uncompressed layer) | $mm_tar | $mm_tar_cpu | $(mbps "$mm_tar") | |"
echo "| tmpfs: bsdtar -xpf layer.tar | $bm_tar | $bm_tar_cpu | $(mbps "$bm_tar") | $(ratio "$mm_tar" "$bm_tar") |"
echo "| mgr image prepare NAME (already imported) | $p_name | | | |"
echo "| mgr image prepare oci:DIR (already imported) | $p_src | | | |"
echo
echo "Layers extracted by a second prepare of the imported source: $extracted."
echo

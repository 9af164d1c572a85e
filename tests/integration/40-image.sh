#!/usr/bin/env bash
# Images: OCI layout (umoci), docker-archive (skopeo) and tar sources built at test time from
# busybox-static; the merged rootfs against umoci unpack's; verification failures; hostile
# layers; shared layers; gc; a killed import.
source "$(dirname "$0")/lib.sh"
requires root cmd:umoci cmd:skopeo cmd:python3 cmd:jq cmd:zstd cmd:xz file:/bin/busybox

W=$T_TMP/w
mkdir -p "$W"
OCI=$W/oci
STORE=$MGR_ROOT/image

# build_oci_image LAYOUT TAG: three umoci layers over busybox: layer 2 deletes a file and a
# directory (whiteouts) and adds a setuid file; layer 3 adds a hardlink, an xattr, a change.
build_oci_image() {
    local oci=$1 tag=$2 w=$1.work
    umoci init --layout "$oci" >/dev/null && umoci new --image "$oci:$tag" >/dev/null || return 1
    umoci unpack --image "$oci:$tag" "$w" >/dev/null || return 1
    make_busybox_rootfs "$w/rootfs"
    mkdir -p "$w/rootfs/etc/app/sub" "$w/rootfs/data"
    echo one >"$w/rootfs/etc/app/a"
    echo two >"$w/rootfs/etc/app/sub/b"
    echo gone >"$w/rootfs/data/gone"
    echo keep >"$w/rootfs/data/keep"
    mkfifo "$w/rootfs/data/fifo"
    ln -s ../data/keep "$w/rootfs/etc/keep-link"
    chown 101:101 "$w/rootfs/data/keep"
    chmod 0640 "$w/rootfs/data/keep"
    umoci repack --image "$oci:$tag" "$w" >/dev/null || return 1
    rm -rf "$w"
    umoci unpack --image "$oci:$tag" "$w" >/dev/null || return 1
    rm -f "$w/rootfs/data/gone"
    rm -rf "$w/rootfs/etc/app/sub"
    echo new >"$w/rootfs/etc/app/c"
    echo suid >"$w/rootfs/bin/suid"
    chmod 4755 "$w/rootfs/bin/suid"
    umoci repack --image "$oci:$tag" "$w" >/dev/null || return 1
    rm -rf "$w"
    umoci unpack --image "$oci:$tag" "$w" >/dev/null || return 1
    echo top >"$w/rootfs/top"
    ln "$w/rootfs/top" "$w/rootfs/top.hl"
    python3 -c "import os,sys; os.setxattr(sys.argv[1], 'user.mgrt', b'yes')" "$w/rootfs/top"
    echo changed >"$w/rootfs/data/keep"
    umoci repack --image "$oci:$tag" "$w" >/dev/null || return 1
    rm -rf "$w"
    umoci config --image "$oci:$tag" --config.entrypoint /bin/sh --config.cmd -c \
        --config.cmd 'echo hi' --config.env FOO=bar --config.workingdir /data \
        --config.user 101:101 --config.exposedports 80/tcp >/dev/null
}

# mktar FILE PYTHON-BODY: writes a tar with python's tarfile; the body calls add(...).
mktar() {
    local out=$1 body=$2
    python3 - "$out" "$body" <<'PY'
import io, sys, tarfile
out, body = sys.argv[1], sys.argv[2]
tf = tarfile.open(out, "w", format=tarfile.PAX_FORMAT)
def add(name, data=None, typ=tarfile.REGTYPE, mode=0o644, link="", uid=0, gid=0,
        devmajor=0, devminor=0, pax=None, size=None):
    ti = tarfile.TarInfo(name); ti.type = typ; ti.mode = mode; ti.linkname = link
    ti.uid, ti.gid, ti.mtime = uid, gid, 1700000000
    ti.devmajor, ti.devminor = devmajor, devminor
    if pax: ti.pax_headers = pax
    if data is not None: ti.size = len(data)
    tf.addfile(ti, io.BytesIO(data) if data is not None else None)
D, S, H, C, F = tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.FIFOTYPE
exec(body)
tf.close()
PY
}

# add_opaque_layer LAYOUT TAG: a fourth layer that replaces /etc/app by an opaque directory.
add_opaque_layer() {
    mktar "$1.opq.tar" '
add("etc/", typ=D, mode=0o755)
add("etc/app/", typ=D, mode=0o750)
add("etc/app/d", b"opaque\n")
add("etc/app/.wh..wh..opq", b"")' || return 1
    umoci raw add-layer --image "$1:$2" "$1.opq.tar" >/dev/null && rm -f "$1.opq.tar"
}

# listing DIR: path, type, mode, owner, content hash, mtime of files, link target, xattrs.
listing() {
    python3 - "$1" <<'PY'
import hashlib, os, stat, sys
root = sys.argv[1]
st = os.lstat(root)
print(".", oct(st.st_mode), "%d:%d" % (st.st_uid, st.st_gid))
for dp, dns, fns in os.walk(root):
    dns.sort()
    for n in sorted(dns + fns):
        p = os.path.join(dp, n); st = os.lstat(p); extra = ""
        if stat.S_ISLNK(st.st_mode): extra = "-> " + os.readlink(p)
        elif stat.S_ISREG(st.st_mode):
            extra = hashlib.sha256(open(p, "rb").read()).hexdigest()[:16] + " %d" % st.st_mtime
        elif stat.S_ISCHR(st.st_mode): extra = "dev %d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
        xs = sorted(x for x in os.listxattr(p, follow_symlinks=False) if not x.startswith("trusted.overlay."))
        xa = ",".join("%s=%r" % (x, os.getxattr(p, x, follow_symlinks=False)) for x in xs)
        print(os.path.relpath(p, root), oct(st.st_mode), "%d:%d" % (st.st_uid, st.st_gid), extra, xa)
PY
}

# merged_listing IMAGE: lists the overlay of the image's layers as a container would see it.
merged_listing() {
    local dirs mnt
    dirs=$("$MGR" image inspect "$1" | python3 -c 'import json,sys; print(":".join(reversed(json.load(sys.stdin)["layer_dirs"])))') || return 1
    mnt=$(mktemp -d "$W/mnt.XXXXXX")
    if [[ $dirs == *:* ]]; then
        mount -t overlay overlay -o "ro,lowerdir=$dirs" "$mnt" || return 1
    else
        mount --bind -o ro "$dirs" "$mnt" || return 1
    fi
    listing "$mnt"
    umount "$mnt"
    rmdir "$mnt"
}

store_empty() {
    local n
    n=$(find "$STORE/layers" "$STORE/tmp" "$STORE/records" -mindepth 1 2>/dev/null | wc -l)
    [ "$n" = 0 ] || fail "store not empty: $(find "$STORE/layers" "$STORE/tmp" "$STORE/records" -mindepth 1 -maxdepth 1)"
}

# Shared fixture: the image and umoci's own unpack of it.
build_oci_image "$OCI" t1 && add_opaque_layer "$OCI" t1 || { echo "could not build the image"; exit 1; }
umoci unpack --image "$OCI:t1" "$W/ref" >/dev/null || exit 1
listing "$W/ref/rootfs" >"$W/ref.txt"
echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$W/policy.json"
# A second image, t1 + one layer: the two share t1's four layers.
cp -a "$OCI" "$W/oci2"
mktar "$W/extra.tar" "add('extra', b'extra')" && umoci raw add-layer --image "$W/oci2:t1" "$W/extra.tar" >/dev/null || exit 1

t_oci_matches_umoci() {
    local id
    id=$("$MGR" image import "oci:$OCI:t1" --name mgrt-bb:1) || return 1
    merged_listing mgrt-bb:1 >"$W/ours.txt" || return 1
    diff -u "$W/ref.txt" "$W/ours.txt" || fail "merged rootfs differs from umoci unpack" || return 1
    # sanity of the fixture itself: the whiteouts and the opaque dir did their job
    grep -q '^data/gone ' "$W/ours.txt" && { fail "data/gone not deleted"; return 1; }
    grep -q '^etc/app/a ' "$W/ours.txt" && { fail "etc/app/a visible through opaque dir"; return 1; }
    grep -q '^etc/app/d ' "$W/ours.txt" || fail "etc/app/d missing" || return 1
    grep -q "^top .*user.mgrt=b'yes'" "$W/ours.txt" || fail "xattr lost" || return 1
    local js
    js=$("$MGR" image inspect mgrt-bb:1) || return 1
    assert_eq "$(echo "$js" | jq -r .id)" "$id" "id"
    assert_eq "$(echo "$js" | jq -c .config.config.Entrypoint)" '["/bin/sh"]' entrypoint
    assert_eq "$(echo "$js" | jq -r '.layers|length')" 4 layers
    # layer 2 has an overlay whiteout (0/0 char device), layer 4 an opaque directory
    local l2 l4
    l2=$(echo "$js" | jq -r '.layer_dirs[1]')
    l4=$(echo "$js" | jq -r '.layer_dirs[3]')
    assert_eq "$(stat -c '%F %t:%T' "$l2/data/gone")" "character special file 0:0" whiteout
    assert_eq "$(python3 -c "import os,sys; print(os.getxattr(sys.argv[1], 'trusted.overlay.opaque'))" "$l4/etc/app")" "b'y'" opaque
    # the store is root-only: setuid files and device nodes in layers are out of reach
    assert_eq "$(stat -c %a "$STORE")" 700 "store mode"
    "$MGR" image ls | grep -q '^mgrt-bb:1 ' || fail "ls does not show mgrt-bb:1" || return 1
    assert_eq "$("$MGR" image ls --json | jq -r '.[0].layers')" 4 "ls --json layers"
}

t_umask_independent() {
    # a daemon started with a strict umask must store the same modes
    export MGR_ROOT=$T_TMP/root-umask
    (umask 077 && "$MGR" image import "oci:$OCI:t1" --name mgrt-um >/dev/null) || return 1
    merged_listing mgrt-um >"$W/um.txt" || return 1
    diff -u "$W/ref.txt" "$W/um.txt" || fail "modes depend on the umask" || return 1
}

t_docker_archive() {
    skopeo --policy "$W/policy.json" copy "oci:$OCI:t1" "docker-archive:$W/da.tar:mgrt/bb:da" \
        >/dev/null 2>&1 || fail "skopeo copy failed" || return 1
    export MGR_ROOT=$T_TMP/root-da
    local id
    id=$("$MGR" image import "docker-archive:$W/da.tar") || return 1
    "$MGR" image ls | grep -q '^docker.io/mgrt/bb:da ' || fail "RepoTags name not recorded" || return 1
    merged_listing docker.io/mgrt/bb:da >"$W/da.txt" || return 1
    diff -u "$W/ref.txt" "$W/da.txt" || fail "docker-archive rootfs differs from umoci unpack" || return 1
    # same config blob, same image id as the OCI import
    assert_eq "$id" "$(jq -r '.manifests[0].digest' "$OCI/index.json" | xargs -I{} sh -c "jq -r .config.digest $OCI/blobs/sha256/\$(echo {} | cut -d: -f2)" | cut -d: -f2)" "image id"
}

t_docker_archive_blobs_layout() {
    # docker 25+ `docker save`: blobs/sha256/<hex> for config and layers, plus index.json
    export MGR_ROOT=$T_TMP/root-da25
    python3 - "$OCI" "$W/da25.tar" <<'PY' || return 1
import gzip, hashlib, io, json, os, sys, tarfile
oci, out = sys.argv[1], sys.argv[2]
blob = lambda d: open(os.path.join(oci, "blobs/sha256", d[7:]), "rb").read()
idx = json.load(open(os.path.join(oci, "index.json")))
m = json.loads(blob(idx["manifests"][0]["digest"]))
tf = tarfile.open(out, "w")
def put(name, data):
    ti = tarfile.TarInfo(name); ti.size = len(data); tf.addfile(ti, io.BytesIO(data))
layers = []
for l in m["layers"]:
    data = gzip.decompress(blob(l["digest"]))   # docker 25 stores uncompressed layers
    h = hashlib.sha256(data).hexdigest(); put("blobs/sha256/" + h, data); layers.append("blobs/sha256/" + h)
put("blobs/sha256/" + m["config"]["digest"][7:], blob(m["config"]["digest"]))
put("manifest.json", json.dumps([{"Config": "blobs/sha256/" + m["config"]["digest"][7:],
    "RepoTags": ["mgrt-da25:1"], "Layers": layers}]).encode())
tf.close()
PY
    "$MGR" image import "docker-archive:$W/da25.tar" >/dev/null || return 1
    merged_listing mgrt-da25:1 >"$W/da25.txt" || return 1
    diff -u "$W/ref.txt" "$W/da25.txt" || fail "docker 25 archive rootfs differs from umoci unpack" || return 1
}

t_multi_arch_index() {
    # index.json -> nested index (tag "multi") -> an arm64 and an amd64 manifest
    export MGR_ROOT=$T_TMP/root-multi
    cp -a "$OCI" "$W/multi"
    python3 - "$W/multi" <<'PY' || return 1
import hashlib, json, os, sys
d = sys.argv[1]
def put(obj):
    data = json.dumps(obj).encode(); h = hashlib.sha256(data).hexdigest()
    open(os.path.join(d, "blobs/sha256", h), "wb").write(data); return "sha256:" + h, len(data)
idx = json.load(open(os.path.join(d, "index.json")))
amd = dict(idx["manifests"][0]); amd.pop("annotations", None)
amd["platform"] = {"os": "linux", "architecture": "amd64"}
# the arm64 entry points at a manifest whose blob is missing: picking it would fail
arm = {"mediaType": amd["mediaType"], "digest": "sha256:" + "0" * 64, "size": 100,
       "platform": {"os": "linux", "architecture": "arm64"}}
dg, n = put({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [arm, amd]})
idx["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": dg,
    "size": n, "annotations": {"org.opencontainers.image.ref.name": "multi"}})
json.dump(idx, open(os.path.join(d, "index.json"), "w"))
PY
    [ "$(uname -m)" = x86_64 ] || skip "the fixture's platform entry is amd64"
    "$MGR" image import "oci:$W/multi:multi" --name mgrt-multi >/dev/null || return 1
    merged_listing mgrt-multi >"$W/multi.txt" || return 1
    diff -u "$W/ref.txt" "$W/multi.txt" || fail "multi-arch pick differs" || return 1
    # without a tag the top index has two images: ambiguous
    local o
    o=$("$MGR" image import "oci:$W/multi" 2>&1) && { fail "ambiguous index accepted"; return 1; }
    assert_contains "$o" "name one with oci:DIR:TAG"
}

t_zstd_oci_layer() {
    # an OCI layer in zstd (tar+zstd media type), as buildah/podman can write
    export MGR_ROOT=$T_TMP/root-zstd
    corrupt_layout zstd-layout '
import gzip, subprocess
l = m["layers"][0]
raw = gzip.decompress(open(blob(l["digest"][7:]), "rb").read())
z = subprocess.run(["zstd", "-q", "-c"], input=raw, stdout=subprocess.PIPE, check=True).stdout
h = hashlib.sha256(z).hexdigest(); open(blob(h), "wb").write(z)
l.update({"digest": "sha256:" + h, "size": len(z), "mediaType": "application/vnd.oci.image.layer.v1.tar+zstd"})
fix_config = False' || return 1
    "$MGR" image import "oci:$W/zstd-layout" --name mgrt-zstd >/dev/null || return 1
    merged_listing mgrt-zstd >"$W/zstd.txt" || return 1
    diff -u "$W/ref.txt" "$W/zstd.txt" || fail "zstd layer rootfs differs" || return 1
}

t_tar_sniffing() {
    export MGR_ROOT=$T_TMP/root-tar
    tar -C "$W/ref/rootfs" --xattrs --numeric-owner -cf "$W/plain.blob" . || return 1
    gzip -c "$W/plain.blob" >"$W/gz.blob"
    xz -c "$W/plain.blob" >"$W/xz.blob"
    zstd -q -c "$W/plain.blob" >"$W/zst.blob"
    local ids="" f
    for f in plain gz xz zst; do
        ids+="$("$MGR" image import "tar:$W/$f.blob" --name "mgrt-$f") " || fail "import $f" || return 1
    done
    assert_eq "$(echo $ids | tr ' ' '\n' | sort -u | wc -l)" 1 "one id for 4 compressions"
    merged_listing mgrt-zst >"$W/tar.txt" || return 1
    diff -u "$W/ref.txt" "$W/tar.txt" || fail "tar rootfs differs" || return 1
}

# corrupt_layout NAME PYTHON: copies the layout and edits it; m = manifest, c = config,
# blob(hex) = path; the manifest and index digests are fixed up unless the edit says not to.
corrupt_layout() {
    local dst=$W/$1
    rm -rf "$dst"
    cp -a "$OCI" "$dst"
    python3 - "$dst" "$2" <<'PY'
import hashlib, json, os, sys
d, body = sys.argv[1], sys.argv[2]
blob = lambda h: os.path.join(d, "blobs/sha256", h)
idx = json.load(open(os.path.join(d, "index.json")))
mdesc = idx["manifests"][0]
m = json.load(open(blob(mdesc["digest"][7:])))
c = json.load(open(blob(m["config"]["digest"][7:])))
def put(obj):
    data = json.dumps(obj).encode(); h = hashlib.sha256(data).hexdigest()
    open(blob(h), "wb").write(data); return h, len(data)
fix_config = True
exec(body)
if fix_config:
    h, n = put(c); m["config"]["digest"] = "sha256:" + h; m["config"]["size"] = n
h, n = put(m); mdesc["digest"] = "sha256:" + h; mdesc["size"] = n
json.dump(idx, open(os.path.join(d, "index.json"), "w"))
PY
}

expect_refused() {
    local src=$1 want=$2 out
    shift 2
    out=$("$MGR" image import "$src" "$@" 2>&1) && { fail "import of $src succeeded"; return 1; }
    assert_contains "$out" "$want" "error for $src" || return 1
    store_empty
}

t_corrupted_blob() {
    export MGR_ROOT=$T_TMP/root-bad
    STORE=$MGR_ROOT/image
    local l2
    corrupt_layout bad-blob 'fix_config = False' || return 1
    l2=$(python3 -c "import json,sys; i=json.load(open(sys.argv[1]+'/index.json')); m=json.load(open(sys.argv[1]+'/blobs/sha256/'+i['manifests'][0]['digest'][7:])); print(m['layers'][1]['digest'][7:])" "$W/bad-blob")
    # flip one byte in the middle of the second layer (same size)
    python3 - "$W/bad-blob/blobs/sha256/$l2" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 0xff; open(p, "wb").write(b)
PY
    expect_refused "oci:$W/bad-blob" "$l2"
}

t_wrong_diff_id() {
    export MGR_ROOT=$T_TMP/root-bad
    STORE=$MGR_ROOT/image
    corrupt_layout bad-diff 'c["rootfs"]["diff_ids"][2] = "sha256:" + "ab" * 32' || return 1
    expect_refused "oci:$W/bad-diff" "does not match diff_id sha256:abab"
}

t_bad_descriptors() {
    export MGR_ROOT=$T_TMP/root-bad
    STORE=$MGR_ROOT/image
    local i=0 case
    while IFS='|' read -r edit want; do
        i=$((i + 1))
        corrupt_layout "bad-desc-$i" "$edit" || return 1
        expect_refused "oci:$W/bad-desc-$i" "$want" || { echo "  case: $edit" >&2; return 1; }
    done <<'EOF'
m["layers"][0]["digest"] = "sha256:../../../../etc/passwd"|invalid digest
m["layers"][0]["digest"] = "sha512:" + "ab" * 64|invalid digest
m["layers"][0]["digest"] = m["layers"][0]["digest"].upper().replace("SHA256", "sha256")|invalid digest
m["layers"][1]["size"] += 1|differs from its descriptor
m["layers"][1]["mediaType"] = "application/x-mgrt-unknown"|unsupported media type
m["layers"][1]["mediaType"] = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"|unsupported media type
m["layers"][2]["digest"] = "sha256:" + "cd" * 32|blob sha256:cdcd
m["config"]["digest"] = "sha256:" + "ef" * 32; fix_config = False|blob sha256:efef
m["config"]["size"] -= 1; fix_config = False|differs from its descriptor
c["rootfs"]["diff_ids"].pop()|diff_ids for 4 layers
EOF
}

# hostile TAR-NAME BODY WANT: a tar: import that must fail with WANT, write nothing outside
# its layer and leave nothing in the store.
hostile() {
    local name=$1 body=$2 want=$3
    mktar "$W/$name.tar" "$body" || return 1
    expect_refused "tar:$W/$name.tar" "$want" || { echo "  case: $name" >&2; return 1; }
}

t_hostile_layers() {
    export MGR_ROOT=$T_TMP/root-hostile
    STORE=$MGR_ROOT/image
    local out=$W/outside
    mkdir -p "$out"
    local esc="../../../../../../../..$out"
    hostile traversal "add('$esc/pwned', b'x')" "climbs out" || return 1
    hostile traversal2 "add('a/../../b', b'x')" "climbs out" || return 1
    hostile absolute "add('$out/pwned', b'x')" "path is absolute" || return 1
    hostile symlink-escape "add('l', typ=S, link='$out'); add('l/pwned', b'x')" "is a symlink" || return 1
    hostile symlink-rel-escape "add('l', typ=S, link='$esc'); add('l/pwned', b'x')" "is a symlink" || return 1
    hostile hardlink-escape "add('h', typ=H, link='$esc/etc/passwd')" "outside the layer" || return 1
    hostile hardlink-abs "add('h', typ=H, link='/etc/passwd')" "outside the layer" || return 1
    hostile hardlink-via-symlink "add('l', typ=S, link='/etc'); add('h', typ=H, link='l/passwd')" "is a symlink" || return 1
    hostile symlink-then-dir "add('d/', typ=D); add('d', typ=S, link='$out'); add('d/pwned', b'x')" "is a symlink" || return 1
    hostile whiteout-dotdot "add('a/.wh..', b'')" "invalid whiteout" || return 1
    hostile whiteout-dotdotdot "add('a/.wh...', b'')" "invalid whiteout" || return 1
    hostile whiteout-reserved "add('a/.wh..wh.foo', b'')" "invalid whiteout" || return 1
    hostile whiteout-via-symlink "add('l', typ=S, link='$out'); add('l/.wh.x', b'')" "is a symlink" || return 1
    hostile opaque-root "add('.wh..wh..opq', b'')" "opaque whiteout of the layer root" || return 1
    # a gzip bomb: a tar header claiming 256 MiB, then 256 gzip members of 1 MiB of zeros
    # each (gzip streams concatenate): 256 MiB of zeros in ~260 KiB, against a 32 MiB limit
    python3 -c "
import gzip, sys, tarfile
ti = tarfile.TarInfo('zeros'); ti.size = 256 << 20
sys.stdout.buffer.write(gzip.compress(ti.tobuf(tarfile.PAX_FORMAT)))
one = gzip.compress(bytes(1 << 20))
for i in range(256): sys.stdout.buffer.write(one)" >"$W/bomb.tar.gz" || return 1
    expect_refused "tar:$W/bomb.tar.gz" "the limit of 33554432 bytes" --max-layer-size 32M || return 1
    # too many entries, against a 1000-entry limit
    mktar "$W/entries.tar" "[add('f%d' % i, b'') for i in range(3000)]"
    expect_refused "tar:$W/entries.tar" "more than 1000 entries" --max-entries 1000 || return 1
    assert_eq "$(find "$out" -mindepth 1 | wc -l)" 0 "files written outside" || return 1
    [ -e /etc/pwned ] && { fail "/etc/pwned exists"; return 1; }
    return 0
}

t_contained_layers() {
    export MGR_ROOT=$T_TMP/root-contained
    STORE=$MGR_ROOT/image
    mktar "$W/contained.tar" "
add('dup', b'first'); add('dup', b'second')
add('d/', typ=D); add('d/x', b'x'); add('d', b'file now')
add('s', typ=S, link='/etc'); add('s/', typ=D, mode=0o700); add('s/inside', b'in')
add('o/', typ=D); add('o/keep', b'k'); add('o/.wh..wh..opq', b'')
add('w/', typ=D); add('w/.wh.x', b''); add('w/x/', typ=D); add('w/x/y', b'y')
add('null', typ=C, devmajor=1, devminor=3, mode=0o666)
add('suid', b'#!/bin/sh\nid -u\n', mode=0o4755)
add('xa', b'x', pax={'SCHILY.xattr.trusted.overlay.opaque': 'y', 'SCHILY.xattr.user.ok': '1'})
add('hl', typ=H, link='dup')" || return 1
    "$MGR" image import "tar:$W/contained.tar" --name mgrt-c >/dev/null || return 1
    local l
    l=$("$MGR" image inspect mgrt-c | jq -r '.layer_dirs[0]')
    assert_eq "$(cat "$l/dup")" second "duplicate: later entry wins" || return 1
    assert_eq "$(cat "$l/d")" "file now" "dir replaced by file" || return 1
    [ -d "$l/s" ] && [ ! -L "$l/s" ] || fail "symlink replaced by a dir" || return 1
    [ -e /etc/inside ] && { fail "wrote through the symlink"; return 1; }
    assert_eq "$(cat "$l/o/keep")" k "opaque marker kept the layer's own sibling" || return 1
    assert_eq "$(python3 -c "import os,sys; print(os.getxattr(sys.argv[1], 'trusted.overlay.opaque'))" "$l/o")" "b'y'" "opaque" || return 1
    assert_eq "$(cat "$l/w/x/y")" y "dir after its whiteout" || return 1
    assert_eq "$(python3 -c "import os,sys; print(os.getxattr(sys.argv[1], 'trusted.overlay.opaque'))" "$l/w/x")" "b'y'" "re-created dir is opaque" || return 1
    assert_eq "$(stat -c '%F %t:%T' "$l/null")" "character special file 1:3" "device node kept" || return 1
    assert_eq "$(stat -c %a "$l/suid")" 4755 "setuid kept" || return 1
    # contained: an unprivileged user cannot reach the store at all
    local o
    o=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$l/suid" 2>&1) && { fail "nobody ran a setuid file from the store: $o"; return 1; }
    assert_contains "$o" "Permission denied" "nobody running a store file" || return 1
    python3 -c "import os,sys; sys.exit('trusted.overlay.opaque' in os.listxattr(sys.argv[1]))" "$l/xa" || fail "trusted.overlay xattr from the layer applied" || return 1
    assert_eq "$(python3 -c "import os,sys; print(os.getxattr(sys.argv[1], 'user.ok'))" "$l/xa")" "b'1'" "user xattr kept" || return 1
    assert_eq "$(stat -c %i "$l/hl")" "$(stat -c %i "$l/dup")" "hardlink" || return 1
}

t_sparse_file() {
    # holes stay holes: a 64 MiB file with one byte of data in the middle
    export MGR_ROOT=$T_TMP/root-sparse
    mkdir -p "$W/sp"
    truncate -s 64M "$W/sp/f"
    printf x | dd of="$W/sp/f" bs=1 seek=$((32 << 20)) conv=notrunc status=none
    tar -C "$W/sp" --sparse -cf "$W/sparse.tar" f || return 1
    "$MGR" image import "tar:$W/sparse.tar" --name mgrt-sparse >/dev/null || return 1
    local f
    f=$("$MGR" image inspect mgrt-sparse | jq -r '.layer_dirs[0]')/f
    assert_eq "$(stat -c %s "$f")" $((64 << 20)) size || return 1
    [ "$(du -k "$f" | cut -f1)" -lt 1024 ] || fail "holes were written: $(du -k "$f")" || return 1
    cmp -s "$f" "$W/sp/f" || fail "content differs" || return 1
}

t_shared_layers_and_gc() {
    export MGR_ROOT=$T_TMP/root-gc
    STORE=$MGR_ROOT/image
    "$MGR" image import "oci:$OCI:t1" --name mgrt-a >/dev/null || return 1
    "$MGR" image import "oci:$W/oci2:t1" --name mgrt-b >/dev/null || return 1
    local a0 b0 a4 b4
    a0=$("$MGR" image inspect mgrt-a | jq -r '.layer_dirs[0]')
    b0=$("$MGR" image inspect mgrt-b | jq -r '.layer_dirs[0]')
    assert_eq "$(stat -c %i "$a0/bin/busybox")" "$(stat -c %i "$b0/bin/busybox")" "shared base inode" || return 1
    assert_eq "$(ls "$STORE/layers" | wc -l)" 5 "layers stored once" || return 1
    # two containers of mgrt-b hold its layers; the images go away
    "$MGR" image prepare mgrt-b --holder mgrt-c1 >/dev/null || return 1
    "$MGR" image prepare mgrt-b --holder mgrt-c2 >"$W/c2.dirs" || return 1
    assert_eq "$(wc -l <"$W/c2.dirs")" 5 "prepare prints 5 layer dirs" || return 1
    "$MGR" image rm mgrt-a mgrt-b || return 1
    assert_eq "$("$MGR" image ls --json | jq length)" 0 "no images left" || return 1
    "$MGR" image gc >/dev/null || return 1
    assert_eq "$(ls "$STORE/layers" | wc -l)" 5 "gc kept layers in use" || return 1
    "$MGR" image release mgrt-c1 || return 1
    "$MGR" image gc >/dev/null || return 1
    assert_eq "$(ls "$STORE/layers" | wc -l)" 5 "gc kept layers still held by c2" || return 1
    "$MGR" image release mgrt-c2 || return 1
    local out
    out=$("$MGR" image gc) || return 1
    assert_contains "$out" "removed 5 layers" || return 1
    assert_eq "$(ls "$STORE/layers" | wc -l)" 0 "gc removed unused layers" || return 1
}

t_prepare_reuses() {
    export MGR_ROOT=$T_TMP/root-prep
    tar -C "$W/ref/rootfs" -czf "$W/prep.tgz" . || return 1
    local e1 e2 d1 d2
    e1=$(MGR_DEBUG=1 "$MGR" image prepare "tar:$W/prep.tgz" --holder mgrt-p1 2>&1 >"$W/p1") || return 1
    e2=$(MGR_DEBUG=1 "$MGR" image prepare "tar:$W/prep.tgz" --holder mgrt-p2 2>&1 >"$W/p2") || return 1
    assert_contains "$e1" "extracting layer" "first prepare" || return 1
    assert_not_contains "$e2" "extracting layer" "second prepare" || return 1
    cmp -s "$W/p1" "$W/p2" || fail "different layers" || return 1
    # an OCI source prepared twice extracts once too
    e1=$(MGR_DEBUG=1 "$MGR" image prepare "oci:$OCI:t1" 2>&1 >/dev/null) || return 1
    e2=$(MGR_DEBUG=1 "$MGR" image prepare "oci:$OCI:t1" 2>&1 >/dev/null) || return 1
    assert_contains "$e1" "extracting layer" || return 1
    assert_not_contains "$e2" "extracting layer" || return 1
    # dir: is used in place
    assert_eq "$("$MGR" image prepare "dir:$W/ref/rootfs")" "$W/ref/rootfs" "dir: layer" || return 1
    local o
    o=$("$MGR" image prepare mgrt-nonexistent 2>&1) && { fail "unknown name accepted"; return 1; }
    assert_contains "$o" "not in the store" || return 1
}

t_killed_import() {
    export MGR_ROOT=$T_TMP/root-kill
    STORE=$MGR_ROOT/image
    mkdir -p "$W/big"
    local i
    for i in $(seq 1 16); do head -c 2M /dev/urandom >"$W/big/f$i"; done
    tar -C "$W/big" -cf "$W/big.tar" . || return 1
    rm -rf "$W/big"
    # The import reads from a fifo that delivers half of the layer and then stalls, so it is
    # killed mid-extraction, deterministically.
    mkfifo "$W/slow.tar"
    (head -c 16M "$W/big.tar"; exec sleep 30) >"$W/slow.tar" &
    local feeder=$!
    "$MGR" image import "tar:$W/slow.tar" --name mgrt-big >/dev/null 2>&1 &
    local pid=$!
    wait_for 10 sh -c "[ \$(find '$STORE/tmp' -type f 2>/dev/null | wc -l) -ge 5 ]" ||
        { kill -9 $pid $feeder; fail "import never started"; return 1; }
    kill -9 $pid
    wait $pid 2>/dev/null
    kill $feeder 2>/dev/null
    wait $feeder 2>/dev/null
    assert_eq "$(ls "$STORE/layers" | wc -l)" 0 "no layer after kill" || return 1
    assert_eq "$(ls "$STORE/tmp" | grep -c '^L-')" 1 "a stale temporary layer" || return 1
    "$MGR" image import "tar:$W/big.tar" --name mgrt-big >/dev/null || return 1
    assert_eq "$(ls "$STORE/layers" | wc -l)" 1 "layer after re-import" || return 1
    assert_eq "$(ls "$STORE/tmp" | wc -l)" 0 "stale temporary removed" || return 1
    assert_eq "$(find "$("$MGR" image inspect mgrt-big | jq -r '.layer_dirs[0]')" -type f | wc -l)" 16 files || return 1
}

t_concurrent_imports() {
    export MGR_ROOT=$T_TMP/root-conc
    STORE=$MGR_ROOT/image
    local p1 p2 p3 p4 rc=0
    "$MGR" image import "oci:$OCI:t1" --name mgrt-c1 >/dev/null & p1=$!
    "$MGR" image import "oci:$W/oci2:t1" --name mgrt-c2 >/dev/null & p2=$!
    # tar: has no diff_id up front: both extract, one rename wins, the other's copy goes
    "$MGR" image import "tar:$W/big.tar" --name mgrt-c3 >/dev/null & p3=$!
    "$MGR" image import "tar:$W/big.tar" --name mgrt-c4 >/dev/null & p4=$!
    wait $p1 || rc=1; wait $p2 || rc=1; wait $p3 || rc=1; wait $p4 || rc=1
    [ $rc = 0 ] || fail "a concurrent import failed" || return 1
    assert_eq "$(ls "$STORE/layers" | wc -l)" 6 "layers (5 shared by c1/c2, 1 for c3/c4)" || return 1
    assert_eq "$(ls "$STORE/tmp" | wc -l)" 0 "temporary dirs left" || return 1
    assert_eq "$("$MGR" image ls --json | jq length)" 3 "images" || return 1
    merged_listing mgrt-c1 >"$W/conc.txt" || return 1
    diff -q "$W/ref.txt" "$W/conc.txt" >/dev/null || fail "concurrent import differs" || return 1
}

t_progress_on_tty() {
    export MGR_ROOT=$T_TMP/root-tty
    local out
    out=$(script -qec "$MGR image import oci:$OCI:t1 --name mgrt-tty" /dev/null) || return 1
    assert_contains "$out" "layer 4/4" "progress" || return 1
    out=$("$MGR" image import "oci:$OCI:t1" --name mgrt-tty2 2>&1)
    assert_not_contains "$out" "layer " "quiet when not a tty" || return 1
}

# The same busybox lists the container's rootfs (through mgr run) and umoci's unpack (chroot).
LIST_CMD='cd / && busybox find . -xdev | busybox sort | while read -r f; do
  case $f in ./dev|./proc|./sys|./tmp|./run|./etc/hostname|./etc/hosts|./etc/resolv.conf) continue;; esac
  h=; [ -f "$f" ] && [ ! -L "$f" ] && h=$(busybox md5sum <"$f" | busybox cut -c1-12)
  busybox stat -c "%n %f %u:%g %N $h" "$f"; done'

t_container_sees_image() {
    export MGR_ROOT=$T_TMP/root-run MGR_RUN=$T_TMP/run-run
    mkdir -p "$MGR_RUN"
    python3 - "$MGR_UNITS/mgrt-img.yaml" "oci:$OCI:t1" "$LIST_CMD" <<'PY'
import json, sys
open(sys.argv[1], "w").write("name: mgrt-img\nimage: %s\nuser: \"0\"\nworkdir: /\ncommand: %s\n"
    % (sys.argv[2], json.dumps(["/bin/busybox", "sh", "-c", sys.argv[3]])))
PY
    local out
    out=$(timeout 30 "$MGR" run "$MGR_UNITS/mgrt-img.yaml" 2>"$W/run.err")
    local rc=$?
    if grep -q "not implemented" "$W/run.err"; then skip "mgr run is not implemented yet"; fi
    [ $rc = 0 ] || fail "mgr run failed ($rc): $(cat "$W/run.err")" || return 1
    echo "$out" >"$W/in-container.txt"
    chroot "$W/ref/rootfs" /bin/busybox sh -c "$LIST_CMD" >"$W/in-ref.txt" || return 1
    [ "$(wc -l <"$W/in-ref.txt")" -gt 100 ] || fail "reference listing too short" || return 1
    diff -u "$W/in-ref.txt" "$W/in-container.txt" || fail "container rootfs differs from umoci unpack" || return 1
    # the container is gone: its hold too
    assert_eq "$(ls "$MGR_ROOT/image/holds" | wc -l)" 0 "holds after the container exited" || return 1
    # containers of two images with a common base see the same file (same inode)
    local i1 i2 base
    for u in 1 2; do
        local img="oci:$OCI:t1"
        [ $u = 2 ] && img="oci:$W/oci2:t1"
        printf 'name: mgrt-img%s\nimage: %s\nuser: "0"\ncommand: ["/bin/busybox", "stat", "-c", "%%i", "/bin/busybox"]\n' "$u" "$img" >"$MGR_UNITS/mgrt-img$u.yaml"
    done
    i1=$(timeout 30 "$MGR" run "$MGR_UNITS/mgrt-img1.yaml") || return 1
    i2=$(timeout 30 "$MGR" run "$MGR_UNITS/mgrt-img2.yaml") || return 1
    base=$(stat -c %i "$("$MGR" image prepare "oci:$W/oci2:t1" | head -n 1)/bin/busybox")
    assert_eq "$i1" "$base" "inode in container 1" || return 1
    assert_eq "$i2" "$base" "inode in container 2" || return 1
}

# make_many_layer_oci LAYOUT N: an OCI layout written directly (umoci cannot cheaply stack this
# many): a busybox bottom layer with /bottom, N-2 layers each adding /layers/I, and a top layer
# adding /top; gzip blobs, diff_ids in the config.
make_many_layer_oci() {
    local oci=$1 n=$2 src=$W/many-src
    make_busybox_rootfs "$src/0"
    echo bottom >"$src/0/bottom"
    for i in $(seq 1 $((n - 2))); do mkdir -p "$src/$i/layers" && echo "$i" >"$src/$i/layers/$i"; done
    mkdir -p "$src/$((n - 1))" && echo top >"$src/$((n - 1))/top"
    for i in $(seq 0 $((n - 1))); do tar -C "$src/$i" --numeric-owner -cf "$src/$i.tar" . || return 1; done
    python3 - "$oci" "$src" "$n" <<'PY'
import gzip, hashlib, json, os, sys
oci, src, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(oci + "/blobs/sha256")
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    open("%s/blobs/sha256/%s" % (oci, d), "wb").write(data)
    return "sha256:" + d, len(data)
layers, diff_ids = [], []
for i in range(n):
    raw = open("%s/%d.tar" % (src, i), "rb").read()
    diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    d, size = blob(gzip.compress(raw, 1))
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": size})
cfg = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
       "rootfs": {"type": "layers", "diff_ids": diff_ids}}
cd, cs = blob(json.dumps(cfg).encode())
man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
       "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
       "layers": layers}
md, ms = blob(json.dumps(man).encode())
open(oci + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": "many"}}]},
    open(oci + "/index.json", "w"))
PY
}

# More layers than one "lowerdir=" option page can name (issue 4): the runtime's overlay root
# must still mount, with the bottom layer and the top layer both visible.
t_many_layers() {
    export MGR_ROOT=$T_TMP/root-many MGR_RUN=$T_TMP/run-many
    mkdir -p "$MGR_RUN"
    make_many_layer_oci "$W/many" 84 || return 1
    "$MGR" image import "oci:$W/many:many" --name mgrt-many >/dev/null || return 1
    local len
    len=$("$MGR" image inspect mgrt-many | python3 -c 'import json,sys; d=json.load(sys.stdin)["layer_dirs"]; print(len(d), len(":".join(d)))')
    assert_eq "${len% *}" 84 "layers in the image" || return 1
    [ "${len#* }" -gt 4096 ] || fail "layer paths ($len) fit in one page: the case tests nothing" || return 1
    printf 'name: mgrt-many\nimage: oci:%s:many\nuser: "0"\ncommand: ["/bin/busybox", "sh", "-c", "cat /bottom /layers/1 /layers/82 /top; ls /layers | wc -l"]\n' "$W/many" >"$MGR_UNITS/mgrt-many.yaml"
    local out
    out=$(timeout 30 "$MGR" run "$MGR_UNITS/mgrt-many.yaml" 2>"$W/many.err") ||
        fail "mgr run of an 84-layer image failed: $(cat "$W/many.err")" || return 1
    assert_eq "$(echo $out)" "bottom 1 82 top 82" "files from the bottom, middle and top layers" || return 1
}

tcase oci_matches_umoci t_oci_matches_umoci
tcase container_sees_image t_container_sees_image
tcase umask_independent t_umask_independent
tcase docker_archive t_docker_archive
tcase docker_archive_blobs_layout t_docker_archive_blobs_layout
tcase multi_arch_index t_multi_arch_index
tcase zstd_oci_layer t_zstd_oci_layer
tcase tar_sniffing t_tar_sniffing
tcase corrupted_blob t_corrupted_blob
tcase wrong_diff_id t_wrong_diff_id
tcase bad_descriptors t_bad_descriptors
tcase hostile_layers t_hostile_layers
tcase contained_layers t_contained_layers
tcase sparse_file t_sparse_file
tcase shared_layers_and_gc t_shared_layers_and_gc
tcase prepare_reuses t_prepare_reuses
tcase killed_import t_killed_import
tcase concurrent_imports t_concurrent_imports
tcase progress_on_tty t_progress_on_tty
tcase many_layers t_many_layers
finish

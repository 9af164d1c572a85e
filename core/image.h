#pragma once
/* Images: sources (oci:DIR[:TAG], docker-archive:FILE, tar:FILE, dir:DIR, or a stored name),
 * verification (sha256 of every blob and every layer's diff_id), streaming extraction with
 * libarchive into a content-addressed layer store, OCI whiteouts -> overlayfs whiteouts.
 *
 * Store layout under ROOT (--root):
 *   ROOT/image/layers/<diff_id hex>/diff   an extracted layer (shared, never modified)
 *   ROOT/image/layers/<diff_id hex>/meta.json
 *   ROOT/image/records/<image id>.json     image record: names, config, layer list, source
 *   ROOT/image/holds/<holder>.json         layers a container uses (gc never removes them)
 *   ROOT/image/tmp/, locks/                extraction in progress, per-layer flock files
 * Layers are extracted into tmp/ and renamed into layers/ only when complete and verified. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"

/* What a container needs from its image. Owned by the caller; image_info_free() frees all. */
struct image_info {
    char *id;             /* image id (config digest hex); NULL for dir: */
    char *name;           /* "name:tag" it was found by, or NULL */
    char **layers;        /* absolute layer directories, lowest first (overlay lowerdirs) */
    char **layer_ids;     /* diff_id hex of each layer (same order); NULL for dir: */
    char **entrypoint;    /* config Entrypoint, NULL if absent */
    char **cmd;           /* config Cmd, NULL if absent */
    char **env;           /* config Env "KEY=value", NULL if absent */
    char *workdir;        /* config WorkingDir, NULL if absent */
    char *user;           /* config User, NULL if absent */
    char **exposed_ports; /* config ExposedPorts keys ("80/tcp"), NULL if absent */
    char *stop_signal;    /* config StopSignal, NULL if absent */
    bool in_place;        /* dir: source, layers[0] is the user's directory used as is */
};

/* Progress of an import, for a terminal display. */
struct image_progress {
    size_t layer; /* 0-based index of the layer being read */
    size_t n_layers;
    uint64_t bytes;      /* compressed bytes of this layer read so far */
    uint64_t layer_size; /* compressed size of this layer (0 if unknown) */
    uint64_t total_done; /* compressed bytes of all layers done so far (incl. this one) */
    uint64_t total_size; /* sum of layer sizes (0 if unknown) */
    bool cached;         /* this layer was already in the store: nothing extracted */
    bool done;           /* this layer is finished */
};
typedef void (*image_progress_fn)(const struct image_progress *p, void *userdata);

/* Options for import/prepare; NULL means the defaults (quiet, default limits). */
struct image_opts {
    image_progress_fn progress;
    void *userdata;
    uint64_t max_layer_bytes;   /* uncompressed bytes per layer; 0 = default 64 GiB */
    uint64_t max_layer_entries; /* entries per layer; 0 = default 4 million */
};

/* Frees info and everything it owns; accepts NULL, returns NULL. */
struct image_info *image_info_free(struct image_info *info);

/* Resolves a unit's image: reference: a stored name[:tag] or id, or a source
 * (oci:/docker-archive:/tar:) which is imported on first use (later uses of the same,
 * unchanged source extract nothing), or dir:DIR (layers = {DIR}, no config, nothing stored).
 * If holder is non-NULL (a container name), the image's layers are recorded as in use by
 * it (under the store lock, so gc cannot race) until image_release(). *ret owned by caller. */
int image_prepare(const char *root_dir, const char *ref, const char *holder,
                  const struct image_opts *opts, struct image_info **ret, struct err *err);

/* Forgets holder's use of layers (container removed). Missing hold is not an error. */
int image_release(const char *root_dir, const char *holder, struct err *err);

/* Imports a source into the store, verifying every digest. name ("name[:tag]", tag default
 * "latest") may be NULL. ret may be NULL. On error nothing new is left in the store. */
int image_import(const char *root_dir, const char *source, const char *name,
                 const struct image_opts *opts, struct image_info **ret, struct err *err);

/* JSON array of image summaries {id, names, size, layers, created, source}. Caller decrefs. */
int image_list(const char *root_dir, json_t **ret, struct err *err);
/* The full record of the image named ref (name[:tag], id or unique id prefix) as JSON. */
int image_inspect(const char *root_dir, const char *ref, json_t **ret, struct err *err);
/* Removes name ref from its image; the record goes when it has no names left (or when ref is
 * its id). Layers stay until image_gc(). */
int image_remove(const char *root_dir, const char *ref, struct err *err);
/* Removes layers used by no image record and no hold, and stale temporary directories.
 * extra_in_use: more layer ids (hex) to keep, or NULL. Returns the number of layers removed;
 * *ret_freed (may be NULL) gets the bytes freed. */
int image_gc(const char *root_dir, char *const *extra_in_use, uint64_t *ret_freed, struct err *err);

/* Mounts an overlay of layers (lowest first) with upper/work (both NULL = read-only overlay)
 * on target. Uses the new mount API with one "lowerdir+" per layer (kernel 6.8+), so the
 * number of layers is not capped by the mount-option page; falls back to mount(2) with a
 * "lowerdir=" option where fsopen/lowerdir+ is absent (-E2BIG when it does not fit). One
 * layer without upper is bind-mounted. mount_flags: MS_RDONLY, MS_NOSUID, MS_NODEV.
 * Works in any mount namespace (e.g. in the container's child before pivot_root).
 * Returns 0 or -errno with err set. */
int image_overlay_mount(char *const *layers, const char *upper, const char *work,
                        const char *target, unsigned long mount_flags, struct err *err);

/* ---- Pure helpers (no I/O), exposed for unit tests ---- */

enum image_media {
    MEDIA_UNKNOWN,
    MEDIA_OCI_INDEX,
    MEDIA_OCI_MANIFEST,
    MEDIA_OCI_CONFIG,
    MEDIA_OCI_LAYER_TAR,
    MEDIA_OCI_LAYER_GZIP,
    MEDIA_OCI_LAYER_ZSTD,
    MEDIA_DOCKER_LIST,
    MEDIA_DOCKER_MANIFEST,
    MEDIA_DOCKER_CONFIG,
    MEDIA_DOCKER_LAYER_GZIP,
    MEDIA_DOCKER_LAYER_TAR,
    MEDIA_OCI_NONDIST_TAR, /* foreign/non-distributable layers: we refuse them */
    _MEDIA_MAX,
};
enum image_media image_media_parse(const char *s);
bool image_media_is_layer(enum image_media m);
bool image_media_is_index(enum image_media m);
bool image_media_is_manifest(enum image_media m);

/* Validates "sha256:<64 lowercase hex>" and copies the hex (65 bytes with NUL) into ret_hex.
 * -EINVAL for anything else (unknown algorithm, uppercase, wrong length, path characters). */
int image_digest_parse(const char *digest, char ret_hex[65]);
/* True if s is exactly 64 lowercase hex characters. */
bool image_hex_valid(const char *s);

/* Source reference kinds. */
enum image_src { SRC_NAME, SRC_OCI, SRC_DOCKER_ARCHIVE, SRC_TAR, SRC_DIR };
/* Splits "oci:DIR[:TAG]", "docker-archive:FILE", "tar:FILE", "dir:DIR", or a plain name.
 * *ret_path and *ret_tag (NULL if none) are owned by the caller. -EINVAL on empty parts. */
int image_ref_parse(const char *ref, enum image_src *ret_kind, char **ret_path, char **ret_tag);
/* Validates an image name[:tag] ([a-z0-9][a-z0-9._/-]*, tag [A-Za-z0-9_][A-Za-z0-9_.-]*,
 * at most 128 chars each) and returns the canonical "name:tag" (tag default "latest"). */
int image_name_normalize(const char *s, char **ret);

/* Tar entry path checks: strips leading "./" and "/" is refused, collapses "//" and "/./",
 * refuses ".." components, empty paths and NUL-free over-long paths (-EINVAL). The root
 * itself ("." or "./") yields "" in *ret (caller frees). */
int image_path_clean(const char *path, char **ret);

/* Whiteout classification of a cleaned path. */
enum image_wh {
    WH_NONE,   /* ordinary entry */
    WH_FILE,   /* ".wh.NAME": delete NAME in the dir; *ret_target = "dir/NAME" */
    WH_OPAQUE, /* ".wh..wh..opq": make the dir opaque; *ret_target = "dir" ("" for root) */
    WH_INVALID /* ".wh." alone, ".wh..", ".wh..wh.*" other than opq, ".wh.." of "." */
};
/* Classifies clean (from image_path_clean). ret_target (may be NULL) is owned by caller. */
enum image_wh image_whiteout_classify(const char *clean, char **ret_target);

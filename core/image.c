/* Image store and sources: resolve oci:/docker-archive:/tar:/dir: references and stored names,
 * verify digests, extract missing layers (image_extract.c) into the content-addressed store,
 * keep image records and container holds, garbage-collect unused layers. */
#include "image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <archive_entry.h>

#include "image_int.h"
#include "log.h"
#include "sys.h"
#include "util.h"

#define JSON_MAX        (4u << 20) /* index, manifest, config, record */
#define DA_CACHE_ENTRY  (1u << 20) /* docker-archive entries kept in memory in pass 1 */
#define DA_CACHE_TOTAL  (64u << 20)
#define INDEX_DEPTH_MAX 4
#define DEF_MAX_BYTES   (64ull << 30)
#define DEF_MAX_ENTRIES 4000000ull

#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))

/* ---------------------------------------------------------------- store */

struct store {
    char *dir; /* absolute ROOT/image */
    int fd, layers_fd, records_fd, holds_fd, tmp_fd, locks_fd;
    int lock_fd;
};

static void store_close(struct store *s)
{
    int *fds[] = {&s->fd,     &s->layers_fd, &s->records_fd, &s->holds_fd,
                  &s->tmp_fd, &s->locks_fd,  &s->lock_fd};
    for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
    free(s->dir);
    s->dir = NULL;
}

static int open_subdir(int fd, const char *name, struct err *err)
{
    if (mkdirat(fd, name, 0700) < 0 && errno != EEXIST)
        return err_set(err, errno, "create store directory '%s'", name);
    int r = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (r < 0)
        return err_set(err, errno, "open store directory '%s'", name);
    return r;
}

/* Opens ROOT/image, creating it. The store lock is shared for imports and prepares,
 * exclusive for gc and removals, so gc never sees a layer that an import is about to record. */
static int store_open(const char *root_dir, bool exclusive, struct store *s, struct err *err)
{
    *s = (struct store){.fd = -1,
                        .layers_fd = -1,
                        .records_fd = -1,
                        .holds_fd = -1,
                        .tmp_fd = -1,
                        .locks_fd = -1,
                        .lock_fd = -1};
    _cleanup_free_ char *d = strdup_printf("%s/image", root_dir);
    if (!d)
        return err_set(err, ENOMEM, "store");
    int r = mkdir_p(d, 0700);
    if (r < 0)
        return err_set(err, -r, "create image store '%s'", d);
    s->dir = realpath(d, NULL);
    if (!s->dir)
        return err_set(err, errno, "resolve image store '%s'", d);
    s->fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->fd < 0)
        return err_set(err, errno, "open image store '%s'", s->dir);
    /* The store holds setuid binaries and device nodes of images: only root may reach them. */
    (void)fchmod(s->fd, 0700);
    if ((s->layers_fd = open_subdir(s->fd, "layers", err)) < 0 ||
        (s->records_fd = open_subdir(s->fd, "records", err)) < 0 ||
        (s->holds_fd = open_subdir(s->fd, "holds", err)) < 0 ||
        (s->tmp_fd = open_subdir(s->fd, "tmp", err)) < 0 ||
        (s->locks_fd = open_subdir(s->fd, "locks", err)) < 0) {
        store_close(s);
        return -err->code;
    }
    s->lock_fd = openat(s->fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        r = err_set(err, errno, "open store lock");
        store_close(s);
        return r;
    }
    while (flock(s->lock_fd, exclusive ? LOCK_EX : LOCK_SH) < 0) {
        if (errno != EINTR) {
            r = err_set(err, errno, "lock image store");
            store_close(s);
            return r;
        }
    }
    return 0;
}

static int lock_file_at(int dir_fd, const char *name, struct err *err)
{
    int fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return err_set(err, errno, "open lock '%s'", name);
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            int r = err_set(err, errno, "lock '%s'", name);
            close(fd);
            return r;
        }
    }
    return fd;
}

static bool layer_present(struct store *s, const char *hex)
{
    char p[80];
    snprintf(p, sizeof(p), "%s/diff", hex);
    struct stat st;
    return fstatat(s->layers_fd, p, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* Removes temporary layer directories of imports that died: a live import holds the flock of
 * its directory, a dead one does not. */
static void store_clean_tmp(struct store *s)
{
    int dfd = dup(s->tmp_fd);
    if (dfd < 0)
        return;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "L-", 2) != 0)
            continue;
        _cleanup_close_ int fd =
                openat(s->tmp_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
            continue;
        log_debug("image store: removing stale temporary layer '%s'", de->d_name);
        (void)rm_rf_at(s->tmp_fd, de->d_name);
    }
    closedir(d);
}

/* ------------------------------------------------------------ json bits */

static int json_load_buf(const char *buf, size_t len, const char *what, json_t **ret,
                         struct err *err)
{
    json_error_t je;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return err_setx(err, EINVAL, "%s: invalid JSON at line %d: %s", what, je.line, je.text);
    if (!json_is_object(j) && !json_is_array(j)) {
        json_decref(j);
        return err_setx(err, EINVAL, "%s: not a JSON object", what);
    }
    *ret = j;
    return 0;
}

/* Optional string array -> strv; NULL when absent or null. -EINVAL on a wrong type. */
static int json_strv(json_t *a, char ***ret)
{
    *ret = NULL;
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return -EINVAL;
    _cleanup_strv_ char **v = calloc(1, sizeof(char *));
    if (!v)
        return -ENOMEM;
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x)
    {
        if (!json_is_string(x))
            return -EINVAL;
        if (strv_push(&v, json_string_value(x)) < 0)
            return -ENOMEM;
    }
    *ret = TAKE_PTR(v);
    return 0;
}

static int json_strdup_opt(json_t *s, char **ret)
{
    *ret = NULL;
    if (!s || json_is_null(s))
        return 0;
    if (!json_is_string(s))
        return -EINVAL;
    if (!*json_string_value(s))
        return 0;
    *ret = strdup(json_string_value(s));
    return *ret ? 0 : -ENOMEM;
}

/* A descriptor {mediaType, digest, size}: validated before anything uses its digest. */
struct desc {
    enum image_media media;
    const char *media_name;
    char hex[65];
    uint64_t size;
};

static int desc_parse(json_t *d, const char *what, struct desc *ret, struct err *err)
{
    if (!json_is_object(d))
        return err_setx(err, EINVAL, "%s: descriptor is not an object", what);
    const char *dg = json_string_value(json_object_get(d, "digest"));
    const char *mt = json_string_value(json_object_get(d, "mediaType"));
    json_t *sz = json_object_get(d, "size");
    if (!dg || image_digest_parse(dg, ret->hex) < 0)
        return err_setx(err, EINVAL, "%s: invalid digest '%s' (want sha256:<64 lowercase hex>)",
                        what, dg ? dg : "(missing)");
    if (!json_is_integer(sz) || json_integer_value(sz) < 0)
        return err_setx(err, EINVAL, "%s: descriptor sha256:%.12s has no valid size", what,
                        ret->hex);
    ret->size = (uint64_t)json_integer_value(sz);
    ret->media_name = mt;
    ret->media = image_media_parse(mt);
    return 0;
}

/* ------------------------------------------------------------- oci layout */

static int open_blob(int layout_fd, const char *hex, uint64_t size, struct err *err)
{
    char p[96];
    snprintf(p, sizeof(p), "blobs/sha256/%s", hex);
    /* hex is validated; RESOLVE_IN_ROOT still keeps a symlinked blobs/ inside the layout. */
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
                           .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
    int fd = sys_openat2(layout_fd, p, &how);
    if (fd == -ENOSYS) {
        /* Before Linux 5.6: the digest is validated hex, only a symlinked blob is refused. */
        fd = openat(layout_fd, p, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (fd < 0)
            fd = -errno;
    }
    if (fd < 0)
        return err_set(err, -fd, "blob sha256:%s", hex);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return err_setx(err, EINVAL, "blob sha256:%s is not a regular file", hex);
    }
    if ((uint64_t)st.st_size != size) {
        close(fd);
        return err_setx(err, EINVAL,
                        "blob sha256:%s: size %lld differs from its descriptor (%" PRIu64 ")", hex,
                        (long long)st.st_size, size);
    }
    return fd;
}

/* Reads a small JSON blob, checks its digest and size, parses it. */
static int load_blob_json(int layout_fd, const struct desc *d, json_t **ret, struct err *err)
{
    if (d->size > JSON_MAX)
        return err_setx(err, EFBIG, "blob sha256:%s: %" PRIu64 " bytes is too large for JSON",
                        d->hex, d->size);
    _cleanup_close_ int fd = open_blob(layout_fd, d->hex, d->size, err);
    if (fd < 0)
        return fd;
    _cleanup_free_ char *buf = malloc(d->size + 1);
    if (!buf)
        return err_set(err, ENOMEM, "blob");
    size_t len = 0;
    while (len < d->size) {
        ssize_t n = read(fd, buf + len, d->size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return err_set(err, n < 0 ? errno : EIO, "read blob sha256:%s", d->hex);
        len += (size_t)n;
    }
    buf[len] = '\0';
    char hex[65];
    sha256_hex(buf, len, hex);
    if (!STREQ(hex, d->hex))
        return err_setx(err, EINVAL, "blob sha256:%s: digest mismatch (content is sha256:%s)",
                        d->hex, hex);
    _cleanup_free_ char *what = strdup_printf("blob sha256:%.12s", d->hex);
    return json_load_buf(buf, len, what ? what : "blob", ret, err);
}

static const char *host_arch(void)
{
    static const struct {
        const char *uname, *oci;
    } map[] = {{"x86_64", "amd64"},    {"aarch64", "arm64"}, {"armv7l", "arm"},     {"i686", "386"},
               {"ppc64le", "ppc64le"}, {"s390x", "s390x"},   {"riscv64", "riscv64"}};
    struct utsname u;
    if (uname(&u) == 0)
        for (size_t i = 0; i < ARRAY_SIZE(map); i++)
            if (STREQ(u.machine, map[i].uname))
                return map[i].oci;
    return "amd64";
}

static bool platform_ok(json_t *d)
{
    json_t *p = json_object_get(d, "platform");
    if (!p)
        return false;
    const char *os = json_string_value(json_object_get(p, "os"));
    const char *arch = json_string_value(json_object_get(p, "architecture"));
    return os && arch && STREQ(os, "linux") && STREQ(arch, host_arch());
}

/* Picks one manifest descriptor from an index: by tag (ref.name annotation) at the top level,
 * then by platform when several remain. */
static int index_pick(json_t *index, const char *tag, const char *what, struct desc *ret,
                      struct err *err)
{
    json_t *ms = json_object_get(index, "manifests");
    if (!json_is_array(ms))
        return err_setx(err, EINVAL, "%s: no manifests array", what);
    json_t *cand[64];
    size_t n = 0, i;
    json_t *d;
    json_array_foreach(ms, i, d)
    {
        if (tag) {
            json_t *an = json_object_get(d, "annotations");
            const char *rn =
                    json_string_value(json_object_get(an, "org.opencontainers.image.ref.name"));
            if (!rn || !STREQ(rn, tag))
                continue;
        }
        if (n == ARRAY_SIZE(cand))
            return err_setx(err, E2BIG, "%s: too many manifests", what);
        cand[n++] = d;
    }
    if (n == 0)
        return tag ? err_setx(err, ENOENT, "%s: no image tagged '%s'", what, tag)
                   : err_setx(err, ENOENT, "%s: index lists no image", what);
    json_t *pick = NULL;
    if (n == 1) {
        pick = cand[0];
    } else {
        size_t m = 0;
        for (size_t k = 0; k < n; k++)
            if (platform_ok(cand[k]))
                pick = cand[k], m++;
        if (m != 1)
            return err_setx(err, EINVAL,
                            "%s: %zu images match%s; name one with oci:DIR:TAG (linux/%s wanted)",
                            what, n, tag ? " the tag" : "", host_arch());
    }
    return desc_parse(pick, what, ret, err);
}

/* ------------------------------------------------------------- plan */

struct layer_plan {
    char diff_hex[65]; /* "" = unknown until extracted (tar:) */
    char blob_hex[65]; /* "" = the source gives no blob digest (docker-archive legacy) */
    uint64_t size;     /* UINT64_MAX = unknown */
    char *entry;       /* docker-archive: entry name in the outer tar */
    const void *mem;   /* docker-archive: entry content read in pass 1 */
    size_t mem_len;
    bool done;
    bool fresh; /* extracted by this import (rolled back if the import fails) */
};

struct plan {
    enum image_src kind;
    char *source;     /* canonical reference */
    char *source_key; /* identity of the source file(s) for reuse */
    char *path;       /* layout dir or archive file */
    int layout_fd;
    json_t *config;
    char config_hex[65];
    char *manifest_digest;
    struct layer_plan *layers;
    size_t n_layers;
    char **repo_tags;
    /* docker-archive pass-1 memory cache */
    char **mem_names;
    void **mem_data;
    size_t *mem_lens;
    size_t n_mem;
};

static void plan_free(struct plan *p)
{
    free(p->source);
    free(p->source_key);
    free(p->path);
    if (p->layout_fd >= 0)
        close(p->layout_fd);
    if (p->config)
        json_decref(p->config);
    free(p->manifest_digest);
    for (size_t i = 0; i < p->n_layers; i++)
        free(p->layers[i].entry);
    free(p->layers);
    strv_free(p->repo_tags);
    for (size_t i = 0; i < p->n_mem; i++) {
        free(p->mem_names[i]);
        free(p->mem_data[i]);
    }
    free(p->mem_names);
    free(p->mem_data);
    free(p->mem_lens);
}

/* Takes diff_ids from the config: validated digests, one per layer. */
static int plan_layers_from_config(struct plan *p, const char *what, struct err *err)
{
    json_t *rootfs = json_object_get(p->config, "rootfs");
    json_t *ids = json_object_get(rootfs, "diff_ids");
    if (!json_is_array(ids))
        return err_setx(err, EINVAL, "%s: config has no rootfs.diff_ids", what);
    if (json_array_size(ids) != p->n_layers)
        return err_setx(err, EINVAL, "%s: config lists %zu diff_ids for %zu layers", what,
                        json_array_size(ids), p->n_layers);
    for (size_t i = 0; i < p->n_layers; i++) {
        const char *s = json_string_value(json_array_get(ids, i));
        if (!s || image_digest_parse(s, p->layers[i].diff_hex) < 0)
            return err_setx(err, EINVAL, "%s: invalid diff_id '%s'", what, s ? s : "(null)");
    }
    return 0;
}

static int file_key(int dir_fd, const char *name, char **ret)
{
    struct stat st;
    if (fstatat(dir_fd, name, &st, 0) < 0)
        return -errno;
    *ret = strdup_printf("%llu:%llu:%lld:%lld.%09ld", (unsigned long long)st.st_dev,
                         (unsigned long long)st.st_ino, (long long)st.st_size,
                         (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    return *ret ? 0 : -ENOMEM;
}

static int plan_oci(struct plan *p, const char *tag, struct err *err)
{
    p->layout_fd = open(p->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (p->layout_fd < 0)
        return err_set(err, errno, "open OCI layout '%s'", p->path);
    _cleanup_free_ char *buf = NULL;
    size_t len;
    int r = read_file_at(p->layout_fd, "index.json", JSON_MAX, &buf, &len);
    if (r < 0)
        return err_set(err, -r, "OCI layout '%s': read index.json", p->path);
    if ((r = file_key(p->layout_fd, "index.json", &p->source_key)) < 0)
        return err_set(err, -r, "stat index.json");
    _cleanup_json_ json_t *index = NULL;
    if ((r = json_load_buf(buf, len, "index.json", &index, err)) < 0)
        return r;
    const char *mt = json_string_value(json_object_get(index, "mediaType"));
    if (mt && image_media_parse(mt) != MEDIA_OCI_INDEX)
        return err_setx(err, EINVAL, "index.json: unexpected media type '%s'", mt);

    struct desc d;
    if ((r = index_pick(index, tag, "index.json", &d, err)) < 0)
        return r;
    _cleanup_json_ json_t *manifest = NULL;
    for (int depth = 0;; depth++) {
        if (depth > INDEX_DEPTH_MAX)
            return err_setx(err, ELOOP, "index.json: indexes nested too deeply");
        if (!image_media_is_index(d.media) && !image_media_is_manifest(d.media))
            return err_setx(err, EINVAL, "descriptor sha256:%.12s: unsupported media type '%s'",
                            d.hex, d.media_name ? d.media_name : "(none)");
        json_t *j = NULL;
        if ((r = load_blob_json(p->layout_fd, &d, &j, err)) < 0)
            return r;
        if (image_media_is_manifest(d.media)) {
            manifest = j;
            break;
        }
        _cleanup_json_ json_t *sub = j;
        char what[40];
        snprintf(what, sizeof(what), "index sha256:%.12s", d.hex);
        if ((r = index_pick(sub, NULL, what, &d, err)) < 0)
            return r;
    }
    p->manifest_digest = strdup_printf("sha256:%s", d.hex);
    if (!p->manifest_digest)
        return err_set(err, ENOMEM, "plan");
    char mwhat[40];
    snprintf(mwhat, sizeof(mwhat), "manifest sha256:%.12s", d.hex);
    const char *mmt = json_string_value(json_object_get(manifest, "mediaType"));
    if (mmt && !image_media_is_manifest(image_media_parse(mmt)))
        return err_setx(err, EINVAL, "%s: unexpected media type '%s'", mwhat, mmt);

    struct desc cd;
    if ((r = desc_parse(json_object_get(manifest, "config"), mwhat, &cd, err)) < 0)
        return r;
    if (cd.media != MEDIA_OCI_CONFIG && cd.media != MEDIA_DOCKER_CONFIG)
        return err_setx(err, EINVAL, "%s: config has unsupported media type '%s'", mwhat,
                        cd.media_name ? cd.media_name : "(none)");
    if ((r = load_blob_json(p->layout_fd, &cd, &p->config, err)) < 0)
        return r;
    memcpy(p->config_hex, cd.hex, 65);

    json_t *ls = json_object_get(manifest, "layers");
    if (!json_is_array(ls))
        return err_setx(err, EINVAL, "%s: no layers array", mwhat);
    p->n_layers = json_array_size(ls);
    p->layers = calloc(p->n_layers ? p->n_layers : 1, sizeof(*p->layers));
    if (!p->layers)
        return err_set(err, ENOMEM, "plan");
    for (size_t i = 0; i < p->n_layers; i++) {
        struct desc ld;
        if ((r = desc_parse(json_array_get(ls, i), mwhat, &ld, err)) < 0)
            return r;
        if (!image_media_is_layer(ld.media))
            return err_setx(err, EINVAL, "layer sha256:%.12s: unsupported media type '%s'", ld.hex,
                            ld.media_name ? ld.media_name : "(none)");
        memcpy(p->layers[i].blob_hex, ld.hex, 65);
        p->layers[i].size = ld.size;
        /* A missing or truncated blob is an error even when its layer is already stored. */
        _cleanup_close_ int fd = open_blob(p->layout_fd, ld.hex, ld.size, err);
        if (fd < 0)
            return fd;
    }
    return plan_layers_from_config(p, "config", err);
}

/* ------------------------------------------------------- docker-archive */

static int da_open(const char *path, struct archive **ret, struct err *err)
{
    struct archive *a = archive_read_new();
    if (!a)
        return err_set(err, ENOMEM, "archive");
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    if (archive_read_open_filename(a, path, 64 * 1024) != ARCHIVE_OK) {
        int r = err_setx(err, EINVAL, "docker-archive '%s': %s", path, archive_error_string(a));
        archive_read_free(a);
        return r;
    }
    *ret = a;
    return 0;
}

/* Next member of a docker-archive: 1 with *ret_e set, 0 at the end, or an error naming the
 * archive. */
static int da_next(struct archive *a, const char *path, struct archive_entry **ret_e,
                   struct err *err)
{
    int ar = archive_read_next_header(a, ret_e);
    if (ar == ARCHIVE_EOF)
        return 0;
    if (ar < ARCHIVE_WARN)
        return err_setx(err, EINVAL, "docker-archive '%s': %s", path, archive_error_string(a));
    return 1;
}

static const void *da_mem(struct plan *p, const char *name, size_t *ret_len)
{
    for (size_t i = 0; i < p->n_mem; i++)
        if (STREQ(p->mem_names[i], name)) {
            *ret_len = p->mem_lens[i];
            return p->mem_data[i];
        }
    return NULL;
}

/* Resolves an archive member name through the archive's own symlinks (docker save links
 * duplicate layer.tar files), staying inside the archive's namespace. */
static int da_resolve(char **links, const char *name, char **ret)
{
    _cleanup_free_ char *cur = NULL;
    if (image_path_clean(name, &cur) < 0 || !*cur)
        return -EINVAL;
    for (int hop = 0; hop < 8; hop++) {
        const char *target = NULL;
        for (size_t i = 0; links && links[i]; i += 2)
            if (STREQ(links[i], cur))
                target = links[i + 1];
        if (!target) {
            *ret = TAKE_PTR(cur);
            return 0;
        }
        const char *s = strrchr(cur, '/');
        _cleanup_free_ char *joined = target[0] == '/' ? NULL
                                      : s ? strdup_printf("%.*s/%s", (int)(s - cur), cur, target)
                                          : strdup(target);
        if (!joined)
            return -EINVAL;
        free(cur);
        cur = NULL;
        if (image_path_clean(joined, &cur) < 0 || !*cur)
            return -EINVAL;
    }
    return -ELOOP;
}

static int plan_docker(struct plan *p, struct err *err)
{
    int r = file_key(AT_FDCWD, p->path, &p->source_key);
    if (r < 0)
        return err_set(err, -r, "docker-archive '%s'", p->path);
    _cleanup_archive_ struct archive *a = NULL;
    if ((r = da_open(p->path, &a, err)) < 0)
        return r;
    _cleanup_strv_ char **links = NULL; /* name, target pairs */
    size_t total = 0;
    struct archive_entry *e;
    int ar;
    while ((ar = da_next(a, p->path, &e, err)) > 0) {
        _cleanup_free_ char *clean = NULL;
        if (image_path_clean(archive_entry_pathname(e), &clean) < 0)
            continue; /* never referenced by a valid manifest */
        if (archive_entry_filetype(e) == AE_IFLNK && archive_entry_symlink(e)) {
            if (strv_push(&links, clean) < 0 || strv_push(&links, archive_entry_symlink(e)) < 0)
                return err_set(err, ENOMEM, "plan");
            continue;
        }
        la_int64_t sz = archive_entry_size(e);
        if (archive_entry_filetype(e) != AE_IFREG || sz < 0 || sz > DA_CACHE_ENTRY ||
            total + (size_t)sz > DA_CACHE_TOTAL)
            continue;
        _cleanup_free_ char *buf = malloc((size_t)sz + 1);
        if (!buf)
            return err_set(err, ENOMEM, "plan");
        la_ssize_t n = archive_read_data(a, buf, (size_t)sz);
        if (n != sz)
            return err_setx(err, EIO, "docker-archive '%s': read '%s': %s", p->path, clean,
                            archive_error_string(a));
        buf[sz] = '\0';
        size_t k = p->n_mem;
        char **nn = realloc(p->mem_names, (k + 1) * sizeof(char *));
        if (nn)
            p->mem_names = nn;
        void **nd = realloc(p->mem_data, (k + 1) * sizeof(void *));
        if (nd)
            p->mem_data = nd;
        size_t *nl = realloc(p->mem_lens, (k + 1) * sizeof(size_t));
        if (nl)
            p->mem_lens = nl;
        if (!nn || !nd || !nl)
            return err_set(err, ENOMEM, "plan");
        p->mem_names[k] = TAKE_PTR(clean);
        p->mem_data[k] = TAKE_PTR(buf);
        p->mem_lens[k] = (size_t)sz;
        p->n_mem++;
        total += (size_t)sz;
    }
    if (ar < 0)
        return ar;

    size_t mlen;
    const char *mbuf = da_mem(p, "manifest.json", &mlen);
    if (!mbuf)
        return err_setx(err, EINVAL, "docker-archive '%s': no manifest.json", p->path);
    _cleanup_json_ json_t *man = NULL;
    if ((r = json_load_buf(mbuf, mlen, "manifest.json", &man, err)) < 0)
        return r;
    if (!json_is_array(man) || json_array_size(man) != 1)
        return err_setx(err, EINVAL,
                        "docker-archive '%s': manifest.json must list exactly one image", p->path);
    json_t *im = json_array_get(man, 0);
    const char *cfg = json_string_value(json_object_get(im, "Config"));
    json_t *ls = json_object_get(im, "Layers");
    if (!cfg || !json_is_array(ls))
        return err_setx(err, EINVAL, "manifest.json: no Config or Layers");
    if ((r = json_strv(json_object_get(im, "RepoTags"), &p->repo_tags)) < 0)
        return err_setx(err, EINVAL, "manifest.json: RepoTags is not a list of strings");

    /* The config's name carries its digest: "<hex>.json" (docker save) or "blobs/sha256/<hex>"
     * (docker 25+); anything else cannot be verified and is refused. */
    _cleanup_free_ char *cname = NULL;
    if (da_resolve(links, cfg, &cname) < 0)
        return err_setx(err, EINVAL, "manifest.json: invalid Config path '%s'", cfg);
    const char *base = strrchr(cname, '/') ? strrchr(cname, '/') + 1 : cname;
    char chex[65] = "";
    size_t bl = strlen(base);
    if (strncmp(cname, "blobs/sha256/", 13) == 0 && image_hex_valid(cname + 13))
        memcpy(chex, cname + 13, 65);
    else if (bl == 69 && STREQ(base + 64, ".json") &&
             (memcpy(chex, base, 64), chex[64] = 0, image_hex_valid(chex)))
        ;
    else
        return err_setx(err, EINVAL, "manifest.json: Config '%s' does not name its digest", cfg);
    size_t clen;
    const char *cbuf = da_mem(p, cname, &clen);
    if (!cbuf)
        return err_setx(err, EINVAL, "docker-archive: config '%s' missing", cname);
    char got[65];
    sha256_hex(cbuf, clen, got);
    if (!STREQ(got, chex))
        return err_setx(err, EINVAL, "config sha256:%s: digest mismatch (content is sha256:%s)",
                        chex, got);
    if ((r = json_load_buf(cbuf, clen, "config", &p->config, err)) < 0)
        return r;
    memcpy(p->config_hex, chex, 65);

    p->n_layers = json_array_size(ls);
    p->layers = calloc(p->n_layers ? p->n_layers : 1, sizeof(*p->layers));
    if (!p->layers)
        return err_set(err, ENOMEM, "plan");
    for (size_t i = 0; i < p->n_layers; i++) {
        const char *ln = json_string_value(json_array_get(ls, i));
        struct layer_plan *lp = &p->layers[i];
        lp->size = UINT64_MAX;
        if (!ln || da_resolve(links, ln, &lp->entry) < 0)
            return err_setx(err, EINVAL, "manifest.json: invalid layer path '%s'",
                            ln ? ln : "(null)");
        if (strncmp(lp->entry, "blobs/sha256/", 13) == 0) {
            if (!image_hex_valid(lp->entry + 13))
                return err_setx(err, EINVAL, "manifest.json: invalid layer blob '%s'", ln);
            memcpy(lp->blob_hex, lp->entry + 13, 65);
        }
        lp->mem = da_mem(p, lp->entry, &lp->mem_len);
    }
    return plan_layers_from_config(p, "config", err);
}

/* ----------------------------------------------------------- extraction */

struct progress_ctx {
    const struct image_opts *opts;
    struct image_progress pr;
};

static void progress_cb(uint64_t bytes, void *ud)
{
    struct progress_ctx *pc = ud;
    pc->pr.total_done += bytes - pc->pr.bytes;
    pc->pr.bytes = bytes;
    pc->opts->progress(&pc->pr, pc->opts->userdata);
}

static void progress_layer(struct progress_ctx *pc, size_t i, uint64_t size, bool cached, bool done)
{
    if (!pc->opts || !pc->opts->progress)
        return;
    pc->pr.layer = i;
    if (!done)
        pc->pr.bytes = 0;
    pc->pr.layer_size = size == UINT64_MAX ? 0 : size;
    pc->pr.cached = cached;
    pc->pr.done = done;
    pc->opts->progress(&pc->pr, pc->opts->userdata);
}

/* Extracts one layer from src into the store unless it is there. lp->diff_hex "" (tar:) is
 * filled from the stream. Checks the blob digest and the diff_id. */
static int store_layer(struct store *s, struct layer_plan *lp, struct layer_source *src,
                       const struct layer_limits *lim, bool *ret_cached, struct err *err)
{
    _cleanup_close_ int lock_fd = -1;
    char name[128];
    *ret_cached = false;
    if (lp->diff_hex[0]) {
        snprintf(name, sizeof(name), "%s.lock", lp->diff_hex);
        /* Two imports of the same layer: the second waits, then finds it stored. */
        if ((lock_fd = lock_file_at(s->locks_fd, name, err)) < 0)
            return lock_fd;
        if (layer_present(s, lp->diff_hex)) {
            *ret_cached = true;
            return 0;
        }
    }
    /* Created under a name no cleaner touches, locked, then renamed to its L- name: a stale
     * L- directory is one whose lock nobody holds. */
    char tnew[64], tname[64];
    static unsigned counter;
    snprintf(tnew, sizeof(tnew), "N-%d-%u-%lx", (int)getpid(), counter, (long)random());
    snprintf(tname, sizeof(tname), "L-%d-%u-%lx", (int)getpid(), counter++, (long)random());
    if (mkdirat(s->tmp_fd, tnew, 0700) < 0)
        return err_set(err, errno, "create temporary layer directory");
    _cleanup_close_ int tfd =
            openat(s->tmp_fd, tnew, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (tfd < 0 || flock(tfd, LOCK_EX) < 0 || renameat(s->tmp_fd, tnew, s->tmp_fd, tname) < 0) {
        int r = err_set(err, errno, "prepare temporary layer directory");
        (void)rm_rf_at(s->tmp_fd, tnew);
        return r;
    }
    int r;
    _cleanup_close_ int dfd = -1;
    if (mkdirat(tfd, "diff", 0755) < 0 ||
        (dfd = openat(tfd, "diff", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
        fchmod(dfd, 0755) < 0) {
        r = err_set(err, errno, "create layer directory");
        goto undo_tmp;
    }
    struct layer_result res = {0};
    log_debug("image store: extracting layer %s", src->what);
    r = layer_extract(src, dfd, lim, &res, err);
    if (r < 0) {
        err_wrap(err, "layer %s", src->what);
        goto undo_tmp;
    }
    if (lp->blob_hex[0] && !STREQ(lp->blob_hex, res.blob_hex)) {
        r = err_setx(err, EINVAL, "layer blob sha256:%s: digest mismatch (content is sha256:%s)",
                     lp->blob_hex, res.blob_hex);
        goto undo_tmp;
    }
    if (lp->diff_hex[0] && !STREQ(lp->diff_hex, res.diff_hex)) {
        r = err_setx(err, EINVAL,
                     "layer %s: uncompressed digest sha256:%s does not match diff_id sha256:%s",
                     src->what, res.diff_hex, lp->diff_hex);
        goto undo_tmp;
    }
    memcpy(lp->diff_hex, res.diff_hex, 65);
    {
        _cleanup_json_ json_t *meta =
                json_pack("{s:s+, s:s+, s:I, s:I, s:I}", "diff_id", "sha256:", res.diff_hex, "blob",
                          "sha256:", res.blob_hex, "size", (json_int_t)res.written, "tar_size",
                          (json_int_t)res.tar_size, "entries", (json_int_t)res.entries);
        _cleanup_free_ char *txt = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
        if (!txt) {
            r = err_set(err, ENOMEM, "layer metadata");
            goto undo_tmp;
        }
        if ((r = write_file_atomic_at(tfd, "meta.json", txt, strlen(txt), 0600, false)) < 0) {
            err_set(err, -r, "write layer metadata");
            goto undo_tmp;
        }
    }
    /* Durable before it becomes visible: a crash must not leave a complete-looking layer
     * with missing data. One syncfs is far cheaper than an fsync per file. */
    if (syncfs(tfd) < 0) {
        r = err_set(err, errno, "sync layer");
        goto undo_tmp;
    }
    if (renameat2(s->tmp_fd, tname, s->layers_fd, lp->diff_hex, RENAME_NOREPLACE) < 0) {
        if (errno == EEXIST || errno == ENOTEMPTY) {
            /* tar: a concurrent import of the same content won. */
            (void)rm_rf_at(s->tmp_fd, tname);
            *ret_cached = true;
            return 0;
        }
        r = err_set(err, errno, "store layer sha256:%s", lp->diff_hex);
        goto undo_tmp;
    }
    return 0;
undo_tmp:
    (void)rm_rf_at(s->tmp_fd, tname);
    return r;
}

static void limits_from(const struct image_opts *opts, struct layer_limits *lim)
{
    lim->max_bytes = opts && opts->max_layer_bytes ? opts->max_layer_bytes : DEF_MAX_BYTES;
    lim->max_entries = opts && opts->max_layer_entries ? opts->max_layer_entries : DEF_MAX_ENTRIES;
}

static int extract_all(struct store *s, struct plan *p, const struct image_opts *opts,
                       struct err *err)
{
    struct layer_limits lim;
    limits_from(opts, &lim);
    struct progress_ctx pc = {.opts = opts};
    pc.pr.n_layers = p->n_layers;
    for (size_t i = 0; i < p->n_layers; i++)
        if (p->layers[i].size != UINT64_MAX && !layer_present(s, p->layers[i].diff_hex))
            pc.pr.total_size += p->layers[i].size;
    bool need_pass2 = false;
    int r;
    for (size_t i = 0; i < p->n_layers; i++) {
        struct layer_plan *lp = &p->layers[i];
        if (lp->diff_hex[0] && layer_present(s, lp->diff_hex)) {
            lp->done = true;
            progress_layer(&pc, i, lp->size, true, true);
            continue;
        }
        char what[96];
        struct layer_source src = {.fd = -1, .expect_size = lp->size, .what = what};
        if (opts && opts->progress)
            src.progress = progress_cb, src.userdata = &pc;
        _cleanup_close_ int fd = -1;
        if (p->kind == SRC_OCI) {
            snprintf(what, sizeof(what), "blob sha256:%s", lp->blob_hex);
            if ((fd = open_blob(p->layout_fd, lp->blob_hex, lp->size, err)) < 0)
                return fd;
            src.fd = fd;
        } else if (p->kind == SRC_TAR) {
            snprintf(what, sizeof(what), "'%s'", p->path);
            if ((fd = open(p->path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
                return err_set(err, errno, "open '%s'", p->path);
            src.fd = fd;
        } else if (lp->mem) {
            snprintf(what, sizeof(what), "'%s'", lp->entry);
            src.mem = lp->mem, src.mem_len = lp->mem_len;
        } else {
            need_pass2 = true;
            continue;
        }
        progress_layer(&pc, i, lp->size, false, false);
        bool cached;
        if ((r = store_layer(s, lp, &src, &lim, &cached, err)) < 0)
            return r;
        lp->done = true;
        lp->fresh = !cached;
        progress_layer(&pc, i, lp->size, cached, true);
    }
    if (!need_pass2)
        return 0;

    /* docker-archive: stream the archive once more and extract the big layers as they come. */
    _cleanup_archive_ struct archive *a = NULL;
    if ((r = da_open(p->path, &a, err)) < 0)
        return r;
    struct archive_entry *e;
    int ar;
    while ((ar = da_next(a, p->path, &e, err)) > 0) {
        _cleanup_free_ char *clean = NULL;
        if (archive_entry_filetype(e) != AE_IFREG ||
            image_path_clean(archive_entry_pathname(e), &clean) < 0)
            continue;
        for (size_t i = 0; i < p->n_layers; i++) {
            struct layer_plan *lp = &p->layers[i];
            if (lp->done || !STREQ(lp->entry, clean))
                continue;
            char what[96];
            snprintf(what, sizeof(what), "'%s'", lp->entry);
            struct layer_source src = {
                    .fd = -1, .outer = a, .expect_size = UINT64_MAX, .what = what};
            if (opts && opts->progress)
                src.progress = progress_cb, src.userdata = &pc;
            progress_layer(&pc, i, (uint64_t)archive_entry_size(e), false, false);
            bool cached;
            if ((r = store_layer(s, lp, &src, &lim, &cached, err)) < 0)
                return r;
            lp->done = true;
            lp->fresh = !cached;
            progress_layer(&pc, i, (uint64_t)archive_entry_size(e), cached, true);
            /* Later layers naming the same member are the same content. */
            for (size_t k = i + 1; k < p->n_layers; k++)
                if (STREQ(p->layers[k].entry, clean) && layer_present(s, p->layers[k].diff_hex))
                    p->layers[k].done = true;
            break;
        }
    }
    if (ar < 0)
        return ar;
    for (size_t i = 0; i < p->n_layers; i++)
        if (!p->layers[i].done)
            return err_setx(err, ENOENT, "docker-archive '%s': layer '%s' missing", p->path,
                            p->layers[i].entry);
    return 0;
}

/* ------------------------------------------------------------- records */

static int record_load_at(int fd, const char *fname, json_t **ret)
{
    _cleanup_free_ char *buf = NULL;
    size_t len;
    int r = read_file_at(fd, fname, JSON_MAX * 4, &buf, &len);
    if (r < 0)
        return r;
    json_t *j = json_loadb(buf, len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return -EINVAL;
    }
    *ret = j;
    return 0;
}

static int record_save(struct store *s, json_t *rec, struct err *err)
{
    const char *id = json_string_value(json_object_get(rec, "id"));
    _cleanup_free_ char *txt = json_dumps(rec, JSON_INDENT(2) | JSON_SORT_KEYS);
    _cleanup_free_ char *fname = strdup_printf("%s.json", id);
    if (!txt || !fname)
        return err_set(err, ENOMEM, "image record");
    int r = write_file_atomic_at(s->records_fd, fname, txt, strlen(txt), 0600, true);
    if (r < 0)
        return err_set(err, -r, "write image record '%s'", fname);
    return 0;
}

/* Calls fn for each record; stops on a negative return. */
static int records_foreach(struct store *s, int (*fn)(json_t *rec, void *ud), void *ud)
{
    int dfd = dup(s->records_fd);
    if (dfd < 0)
        return -errno;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return -errno;
    }
    rewinddir(d);
    struct dirent *de;
    int r = 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l != 69 || !STREQ(de->d_name + 64, ".json"))
            continue;
        json_t *rec = NULL;
        if (record_load_at(s->records_fd, de->d_name, &rec) < 0)
            continue;
        r = fn(rec, ud);
        json_decref(rec);
        if (r < 0)
            break;
    }
    closedir(d);
    return r;
}

struct find_ctx {
    const char *name; /* normalized name, or NULL */
    const char *idp;  /* id prefix, or NULL */
    const char *source, *source_key;
    json_t *found;
    int matches;
};

static int find_cb(json_t *rec, void *ud)
{
    struct find_ctx *f = ud;
    const char *id = json_string_value(json_object_get(rec, "id"));
    bool hit = false;
    if (f->name) {
        size_t i;
        json_t *n;
        json_array_foreach(json_object_get(rec, "names"), i,
                           n) if (json_is_string(n) && STREQ(json_string_value(n), f->name)) hit =
                true;
    } else if (f->idp) {
        hit = id && strncmp(id, f->idp, strlen(f->idp)) == 0;
    } else if (f->source) {
        const char *so = json_string_value(json_object_get(rec, "source"));
        const char *sk = json_string_value(json_object_get(rec, "source_key"));
        hit = so && sk && STREQ(so, f->source) && STREQ(sk, f->source_key);
    }
    if (hit) {
        f->matches++;
        if (!f->found)
            f->found = json_incref(rec);
    }
    return 0;
}

static bool looks_like_id(const char *s)
{
    size_t n = strlen(s);
    if (n < 4 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* Finds a record by name[:tag], id, sha256:id or unique id prefix. */
static int record_find(struct store *s, const char *ref, json_t **ret, struct err *err)
{
    struct find_ctx f = {0};
    _cleanup_free_ char *norm = NULL;
    if (image_name_normalize(ref, &norm) == 0) {
        f.name = norm;
        records_foreach(s, find_cb, &f);
    }
    const char *idp = strncmp(ref, "sha256:", 7) == 0 ? ref + 7 : ref;
    if (!f.found && looks_like_id(idp)) {
        f = (struct find_ctx){.idp = idp};
        records_foreach(s, find_cb, &f);
        if (f.matches > 1) {
            json_decref(f.found);
            return err_setx(err, EINVAL, "image '%s': id prefix is ambiguous", ref);
        }
    }
    if (!f.found)
        return err_setx(err, ENOENT, "image '%s': not in the store (see 'mgr image ls')", ref);
    *ret = f.found;
    return 0;
}

struct unname_ctx {
    struct store *s;
    const char *name;
    const char *keep_id;
    struct err *err;
};

static int unname_cb(json_t *rec, void *ud)
{
    struct unname_ctx *u = ud;
    const char *id = json_string_value(json_object_get(rec, "id"));
    if (!id || STREQ(id, u->keep_id))
        return 0;
    json_t *names = json_object_get(rec, "names");
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        if (json_is_string(n) && STREQ(json_string_value(n), u->name)) {
            json_array_remove(names, i);
            return record_save(u->s, rec, u->err);
        }
    }
    return 0;
}

static char *iso_now(void)
{
    time_t t = time(NULL);
    struct tm tm;
    char buf[32];
    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return strdup(buf);
}

static uint64_t layer_size(struct store *s, const char *hex)
{
    _cleanup_free_ char *p = strdup_printf("%s/meta.json", hex);
    json_t *m = NULL;
    if (!p || record_load_at(s->layers_fd, p, &m) < 0)
        return 0;
    uint64_t v = (uint64_t)json_integer_value(json_object_get(m, "size"));
    json_decref(m);
    return v;
}

/* Writes (or merges into) the record for plan p; names (normalized) move to this image. */
static int record_write(struct store *s, struct plan *p, const char *name, json_t **ret,
                        struct err *err)
{
    _cleanup_close_ int lk = lock_file_at(s->fd, "records.lock", err);
    if (lk < 0)
        return lk;
    _cleanup_free_ char *fname = strdup_printf("%s.json", p->config_hex);
    if (!fname)
        return err_set(err, ENOMEM, "record");
    json_t *old = NULL;
    _cleanup_json_ json_t *names = NULL;
    if (record_load_at(s->records_fd, fname, &old) == 0) {
        names = json_incref(json_object_get(old, "names"));
        json_decref(old);
    }
    if (!json_is_array(names)) {
        json_decref(names);
        names = json_array();
    }
    _cleanup_json_ json_t *layers = json_array();
    uint64_t size = 0;
    for (size_t i = 0; i < p->n_layers; i++) {
        json_array_append_new(layers, json_string(p->layers[i].diff_hex));
        size += layer_size(s, p->layers[i].diff_hex);
    }
    _cleanup_strv_ char **add = NULL;
    if (name && strv_push(&add, name) < 0)
        return err_set(err, ENOMEM, "record");
    for (size_t i = 0; !name && p->repo_tags && p->repo_tags[i]; i++) {
        char *nn = NULL;
        if (image_name_normalize(p->repo_tags[i], &nn) == 0) {
            int r = strv_push(&add, nn);
            free(nn);
            if (r < 0)
                return err_set(err, ENOMEM, "record");
        }
    }
    for (size_t i = 0; add && add[i]; i++) {
        struct unname_ctx u = {.s = s, .name = add[i], .keep_id = p->config_hex, .err = err};
        int r = records_foreach(s, unname_cb, &u);
        if (r < 0)
            return r;
        bool have = false;
        size_t k;
        json_t *n;
        json_array_foreach(names, k, n) have = have || STREQ(json_string_value(n), add[i]);
        if (!have)
            json_array_append_new(names, json_string(add[i]));
    }
    _cleanup_free_ char *now = iso_now();
    const char *created = json_string_value(json_object_get(p->config, "created"));
    json_t *rec = json_pack("{s:s, s:O, s:O, s:O, s:s?, s:s?, s:I, s:s, s:s?, s:s?}", "id",
                            p->config_hex, "names", names, "layers", layers, "config", p->config,
                            "digest", p->manifest_digest, "created", created ? created : now,
                            "size", (json_int_t)size, "source", p->source, "source_key",
                            p->source_key, "imported", now);
    if (!rec)
        return err_set(err, ENOMEM, "record");
    int r = record_save(s, rec, err);
    if (r < 0) {
        json_decref(rec);
        return r;
    }
    *ret = rec;
    return 0;
}

/* ------------------------------------------------------------- info/holds */

static int info_from_record(struct store *s, json_t *rec, struct image_info **ret, struct err *err)
{
    struct image_info *info = calloc(1, sizeof(*info));
    if (!info)
        return err_set(err, ENOMEM, "image info");
    const char *id = json_string_value(json_object_get(rec, "id"));
    info->id = id ? strdup(id) : NULL;
    json_t *ls = json_object_get(rec, "layers");
    info->layers = calloc(json_array_size(ls) + 1, sizeof(char *));
    info->layer_ids = calloc(json_array_size(ls) + 1, sizeof(char *));
    if (!info->id || !info->layers || !info->layer_ids)
        goto oom;
    size_t i;
    json_t *l;
    json_array_foreach(ls, i, l)
    {
        const char *hex = json_string_value(l);
        if (!image_hex_valid(hex)) {
            image_info_free(info);
            return err_setx(err, EINVAL, "image %.12s: corrupt record", id);
        }
        if (!layer_present(s, hex)) {
            image_info_free(info);
            return err_setx(
                    err, ENOENT,
                    "image %.12s: layer sha256:%.12s is missing from the store; import it again",
                    id, hex);
        }
        info->layer_ids[i] = strdup(hex);
        info->layers[i] = strdup_printf("%s/layers/%s/diff", s->dir, hex);
        if (!info->layer_ids[i] || !info->layers[i])
            goto oom;
    }
    json_t *cc = json_object_get(json_object_get(rec, "config"), "config");
    json_t *ports = json_object_get(cc, "ExposedPorts");
    if (json_strv(json_object_get(cc, "Entrypoint"), &info->entrypoint) < 0 ||
        json_strv(json_object_get(cc, "Cmd"), &info->cmd) < 0 ||
        json_strv(json_object_get(cc, "Env"), &info->env) < 0 ||
        json_strdup_opt(json_object_get(cc, "WorkingDir"), &info->workdir) < 0 ||
        json_strdup_opt(json_object_get(cc, "User"), &info->user) < 0 ||
        json_strdup_opt(json_object_get(cc, "StopSignal"), &info->stop_signal) < 0) {
        image_info_free(info);
        return err_setx(err, EINVAL, "image %.12s: invalid config", id);
    }
    if (json_is_object(ports)) {
        const char *k;
        json_t *v;
        json_object_foreach(ports, k, v) if (strv_push(&info->exposed_ports, k) < 0) goto oom;
    }
    json_t *names = json_object_get(rec, "names");
    if (json_array_size(names) > 0 && json_is_string(json_array_get(names, 0)))
        info->name = strdup(json_string_value(json_array_get(names, 0)));
    *ret = info;
    return 0;
oom:
    image_info_free(info);
    return err_set(err, ENOMEM, "image info");
}

static bool holder_valid(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n > 128 || h[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') ||
              (h[i] >= '0' && h[i] <= '9') || h[i] == '_' || h[i] == '-' || h[i] == '.'))
            return false;
    return true;
}

static int hold_write(struct store *s, const char *holder, const struct image_info *info,
                      struct err *err)
{
    if (!holder_valid(holder))
        return err_setx(err, EINVAL, "invalid image holder name '%s'", holder);
    _cleanup_json_ json_t *ls = json_array();
    for (size_t i = 0; info->layer_ids && info->layer_ids[i]; i++)
        json_array_append_new(ls, json_string(info->layer_ids[i]));
    _cleanup_json_ json_t *h = json_pack("{s:s?, s:O}", "image", info->id, "layers", ls);
    _cleanup_free_ char *txt = h ? json_dumps(h, JSON_COMPACT) : NULL;
    _cleanup_free_ char *fname = strdup_printf("%s.json", holder);
    if (!txt || !fname)
        return err_set(err, ENOMEM, "hold");
    int r = write_file_atomic_at(s->holds_fd, fname, txt, strlen(txt), 0600, true);
    if (r < 0)
        return err_set(err, -r, "record image use by '%s'", holder);
    return 0;
}

/* ------------------------------------------------------------- API */

struct image_info *image_info_free(struct image_info *info)
{
    if (!info)
        return NULL;
    free(info->id);
    free(info->name);
    strv_free(info->layers);
    strv_free(info->layer_ids);
    strv_free(info->entrypoint);
    strv_free(info->cmd);
    strv_free(info->env);
    free(info->workdir);
    free(info->user);
    strv_free(info->exposed_ports);
    free(info->stop_signal);
    free(info);
    return NULL;
}

static int collect_layers_cb(json_t *rec, void *ud);

/* Layers named by any image record or container hold. */
static int layers_in_use(struct store *s, char ***keep)
{
    int r = records_foreach(s, collect_layers_cb, keep);
    if (r < 0)
        return r;
    int hfd = dup(s->holds_fd);
    DIR *d = hfd >= 0 ? fdopendir(hfd) : NULL;
    if (!d) {
        if (hfd >= 0)
            close(hfd);
        return -errno;
    }
    rewinddir(d);
    struct dirent *de;
    while (r >= 0 && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        json_t *h = NULL;
        /* An unreadable hold keeps everything: never guess in favour of deleting. */
        if (record_load_at(s->holds_fd, de->d_name, &h) < 0) {
            r = -EBADMSG;
            break;
        }
        r = collect_layers_cb(h, keep);
        json_decref(h);
    }
    closedir(d);
    return r;
}

/* A failed import leaves nothing: the layers it extracted go again unless something else
 * (an image record, a hold) has started to use them meanwhile. */
static void rollback_layers(struct store *s, struct plan *p)
{
    for (size_t i = 0; i < p->n_layers; i++) {
        struct layer_plan *lp = &p->layers[i];
        if (!lp->fresh)
            continue;
        char name[80];
        snprintf(name, sizeof(name), "%s.lock", lp->diff_hex);
        struct err ignored = {0};
        _cleanup_close_ int lk = lock_file_at(s->locks_fd, name, &ignored);
        _cleanup_strv_ char **keep = NULL;
        if (lk < 0 || layers_in_use(s, &keep) < 0 || strv_contains(keep, lp->diff_hex))
            continue;
        log_debug("image store: rolling back layer sha256:%s", lp->diff_hex);
        (void)rm_rf_at(s->layers_fd, lp->diff_hex);
        (void)unlinkat(s->locks_fd, name, 0);
    }
}

/* Builds the plan of a source reference: canonical source, digests, layer list. */
static int plan_source(enum image_src kind, const char *path, const char *tag, struct plan *p,
                       struct err *err)
{
    *p = (struct plan){.kind = kind, .layout_fd = -1};
    p->path = realpath(path, NULL);
    if (!p->path)
        return err_set(err, errno, "image source '%s'", path);
    static const char *pfx[] = {
            [SRC_OCI] = "oci:", [SRC_DOCKER_ARCHIVE] = "docker-archive:", [SRC_TAR] = "tar:"};
    p->source = tag ? strdup_printf("%s%s:%s", pfx[kind], p->path, tag)
                    : strdup_printf("%s%s", pfx[kind], p->path);
    if (!p->source)
        return err_set(err, ENOMEM, "plan");
    int r;
    switch (kind) {
    case SRC_OCI:
        r = plan_oci(p, tag, err);
        return r < 0 ? err_wrap(err, "oci:%s", p->path) : r;
    case SRC_DOCKER_ARCHIVE:
        r = plan_docker(p, err);
        return r < 0 ? err_wrap(err, "docker-archive:%s", p->path) : r;
    case SRC_TAR:
        if ((r = file_key(AT_FDCWD, p->path, &p->source_key)) < 0)
            return err_set(err, -r, "tar:%s", p->path);
        p->n_layers = 1;
        p->layers = calloc(1, sizeof(*p->layers));
        if (!p->layers)
            return err_set(err, ENOMEM, "plan");
        p->layers[0].size = UINT64_MAX;
        return 0;
    default:
        return err_setx(err, EINVAL, "'%s' is not an importable source", path);
    }
}

/* tar: has no config: one is made from the extracted layer's diff_id. */
static int plan_tar_config(struct plan *p, struct err *err)
{
    p->config = json_pack("{s:s, s:s, s:{s:s, s:[s+]}, s:{}}", "architecture", host_arch(), "os",
                          "linux", "rootfs", "type", "layers", "diff_ids",
                          "sha256:", p->layers[0].diff_hex, "config");
    _cleanup_free_ char *txt =
            p->config ? json_dumps(p->config, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (!txt)
        return err_set(err, ENOMEM, "config");
    sha256_hex(txt, strlen(txt), p->config_hex);
    return 0;
}

static int do_import(struct store *s, enum image_src kind, const char *path, const char *tag,
                     const char *name, const struct image_opts *opts, json_t **ret_rec,
                     struct err *err)
{
    struct plan p;
    int r = plan_source(kind, path, tag, &p, err);
    if (r >= 0) {
        store_clean_tmp(s);
        r = extract_all(s, &p, opts, err);
        if (r < 0)
            err_wrap(err, "import %s", p.source);
    }
    if (r >= 0 && kind == SRC_TAR)
        r = plan_tar_config(&p, err);
    if (r >= 0)
        r = record_write(s, &p, name, ret_rec, err);
    if (r < 0)
        rollback_layers(s, &p);
    plan_free(&p);
    return r;
}

int image_import(const char *root_dir, const char *source, const char *name,
                 const struct image_opts *opts, struct image_info **ret, struct err *err)
{
    enum image_src kind;
    _cleanup_free_ char *path = NULL, *tag = NULL, *norm = NULL;
    int r = image_ref_parse(source, &kind, &path, &tag);
    if (r < 0)
        return err_setx(err, EINVAL, "invalid image source '%s'", source);
    if (kind == SRC_NAME || kind == SRC_DIR)
        return err_setx(err, EINVAL,
                        "'%s': import needs oci:DIR[:TAG], docker-archive:FILE or tar:FILE",
                        source);
    if (name && image_name_normalize(name, &norm) < 0)
        return err_setx(err, EINVAL, "invalid image name '%s'", name);
    struct store s;
    if ((r = store_open(root_dir, false, &s, err)) < 0)
        return r;
    _cleanup_json_ json_t *rec = NULL;
    r = do_import(&s, kind, path, tag, norm, opts, &rec, err);
    if (r >= 0 && ret)
        r = info_from_record(&s, rec, ret, err);
    store_close(&s);
    return r;
}

int image_prepare(const char *root_dir, const char *ref, const char *holder,
                  const struct image_opts *opts, struct image_info **ret, struct err *err)
{
    enum image_src kind;
    _cleanup_free_ char *path = NULL, *tag = NULL;
    int r = image_ref_parse(ref, &kind, &path, &tag);
    if (r < 0)
        return err_setx(err, EINVAL, "invalid image reference '%s'", ref ? ref : "");
    if (kind == SRC_DIR) {
        struct image_info *info = calloc(1, sizeof(*info));
        if (!info)
            return err_set(err, ENOMEM, "image info");
        char *abs = realpath(path, NULL);
        struct stat st;
        if (!abs || stat(abs, &st) < 0 || !S_ISDIR(st.st_mode)) {
            r = err_set(err, abs ? (errno ? errno : ENOTDIR) : errno, "image dir:%s", path);
            free(abs);
            image_info_free(info);
            return r;
        }
        info->in_place = true;
        if (strv_push(&info->layers, abs) < 0) {
            free(abs);
            image_info_free(info);
            return err_set(err, ENOMEM, "image info");
        }
        free(abs);
        *ret = info;
        return 0;
    }
    struct store s;
    if ((r = store_open(root_dir, false, &s, err)) < 0)
        return r;
    _cleanup_json_ json_t *rec = NULL;
    if (kind == SRC_NAME) {
        r = record_find(&s, path, &rec, err);
    } else {
        /* Same source, unchanged since its import: nothing to read, nothing to extract. */
        _cleanup_free_ char *abs = realpath(path, NULL);
        _cleanup_free_ char *key = NULL;
        if (abs) {
            _cleanup_free_ char *keyfile =
                    kind == SRC_OCI ? strdup_printf("%s/index.json", abs) : strdup(abs);
            static const char *pfx[] = {[SRC_OCI] = "oci:",
                                        [SRC_DOCKER_ARCHIVE] = "docker-archive:",
                                        [SRC_TAR] = "tar:"};
            _cleanup_free_ char *src = tag ? strdup_printf("%s%s:%s", pfx[kind], abs, tag)
                                           : strdup_printf("%s%s", pfx[kind], abs);
            if (keyfile && src && file_key(AT_FDCWD, keyfile, &key) == 0) {
                struct find_ctx f = {.source = src, .source_key = key};
                records_foreach(&s, find_cb, &f);
                rec = f.found;
            }
        }
        if (rec) {
            struct image_info *probe = NULL;
            struct err ignored = {0};
            if (info_from_record(&s, rec, &probe, &ignored) < 0) {
                json_decref(rec); /* a layer went missing: import again */
                rec = NULL;
            }
            image_info_free(probe);
        }
        if (!rec)
            r = do_import(&s, kind, path, tag, NULL, opts, &rec, err);
    }
    struct image_info *info = NULL;
    if (r >= 0)
        r = info_from_record(&s, rec, &info, err);
    if (r >= 0 && holder)
        r = hold_write(&s, holder, info, err);
    store_close(&s);
    if (r < 0) {
        image_info_free(info);
        return err_wrap(err, "image '%s'", ref);
    }
    *ret = info;
    return 0;
}

int image_release(const char *root_dir, const char *holder, struct err *err)
{
    if (!holder_valid(holder))
        return err_setx(err, EINVAL, "invalid image holder name '%s'", holder);
    _cleanup_free_ char *p = strdup_printf("%s/image/holds/%s.json", root_dir, holder);
    if (!p)
        return err_set(err, ENOMEM, "release");
    if (unlink(p) < 0 && errno != ENOENT)
        return err_set(err, errno, "remove image hold '%s'", p);
    return 0;
}

static int list_cb(json_t *rec, void *ud)
{
    json_t *arr = ud;
    json_t *names = json_object_get(rec, "names");
    json_t *o =
            json_pack("{s:O?, s:O?, s:O?, s:I, s:O?, s:O?, s:O?}", "id", json_object_get(rec, "id"),
                      "names", names ? names : json_null(), "size", json_object_get(rec, "size"),
                      "layers", (json_int_t)json_array_size(json_object_get(rec, "layers")),
                      "created", json_object_get(rec, "created"), "imported",
                      json_object_get(rec, "imported"), "source", json_object_get(rec, "source"));
    if (!o)
        return -ENOMEM;
    return json_array_append_new(arr, o) < 0 ? -ENOMEM : 0;
}

int image_list(const char *root_dir, json_t **ret, struct err *err)
{
    struct store s;
    int r = store_open(root_dir, false, &s, err);
    if (r < 0)
        return r;
    json_t *arr = json_array();
    r = arr ? records_foreach(&s, list_cb, arr) : -ENOMEM;
    store_close(&s);
    if (r < 0) {
        json_decref(arr);
        return err_set(err, -r, "list images");
    }
    *ret = arr;
    return 0;
}

int image_inspect(const char *root_dir, const char *ref, json_t **ret, struct err *err)
{
    struct store s;
    int r = store_open(root_dir, false, &s, err);
    if (r < 0)
        return r;
    json_t *rec = NULL;
    r = record_find(&s, ref, &rec, err);
    if (r >= 0) {
        json_t *dirs = json_array();
        size_t i;
        json_t *l;
        json_array_foreach(json_object_get(rec, "layers"), i, l) json_array_append_new(
                dirs, json_sprintf("%s/layers/%s/diff", s.dir, json_string_value(l)));
        json_object_set_new(rec, "layer_dirs", dirs);
    }
    store_close(&s);
    if (r < 0)
        return r;
    *ret = rec;
    return 0;
}

int image_remove(const char *root_dir, const char *ref, struct err *err)
{
    struct store s;
    int r = store_open(root_dir, true, &s, err);
    if (r < 0)
        return r;
    _cleanup_json_ json_t *rec = NULL;
    r = record_find(&s, ref, &rec, err);
    if (r >= 0) {
        _cleanup_free_ char *norm = NULL;
        json_t *names = json_object_get(rec, "names");
        bool by_name = image_name_normalize(ref, &norm) == 0;
        bool removed = false;
        size_t i;
        json_t *n;
        if (by_name)
            json_array_foreach(names, i, n) if (STREQ(json_string_value(n), norm))
            {
                json_array_remove(names, i);
                removed = true;
                break;
            }
        const char *id = json_string_value(json_object_get(rec, "id"));
        if (removed && json_array_size(names) > 0) {
            r = record_save(&s, rec, err);
        } else {
            _cleanup_free_ char *fname = strdup_printf("%s.json", id);
            if (!fname)
                r = err_set(err, ENOMEM, "remove");
            else if (unlinkat(s.records_fd, fname, 0) < 0)
                r = err_set(err, errno, "remove image record %.12s", id);
        }
    }
    store_close(&s);
    return r;
}

static int collect_layers_cb(json_t *rec, void *ud)
{
    char ***keep = ud;
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(rec, "layers"), i,
                       l) if (json_is_string(l) &&
                              strv_push(keep, json_string_value(l)) < 0) return -ENOMEM;
    return 0;
}

int image_gc(const char *root_dir, char *const *extra_in_use, uint64_t *ret_freed, struct err *err)
{
    struct store s;
    int r = store_open(root_dir, true, &s, err);
    if (r < 0)
        return r;
    _cleanup_strv_ char **keep = strv_dup(extra_in_use);
    r = layers_in_use(&s, &keep);
    if (r < 0) {
        store_close(&s);
        return r == -EBADMSG ? err_setx(err, EBADMSG, "an image hold is unreadable; not collecting")
                             : err_set(err, -r, "image gc: read records and holds");
    }

    int removed = 0;
    uint64_t freed = 0;
    int lfd = dup(s.layers_fd);
    DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!image_hex_valid(de->d_name) || strv_contains(keep, de->d_name))
            continue;
        freed += layer_size(&s, de->d_name);
        int q = rm_rf_at(s.layers_fd, de->d_name);
        if (q < 0) {
            r = err_set(err, -q, "remove layer sha256:%s", de->d_name);
            break;
        }
        removed++;
    }
    if (d)
        closedir(d);
    /* No import runs while we hold the store exclusively: every temporary dir is stale. */
    int tfd = dup(s.tmp_fd);
    d = tfd >= 0 ? fdopendir(tfd) : NULL;
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.')
            (void)rm_rf_at(s.tmp_fd, de->d_name);
    if (d)
        closedir(d);
    /* Lock files of layers that are gone: nobody can hold them under the exclusive lock. */
    int kfd = dup(s.locks_fd);
    d = kfd >= 0 ? fdopendir(kfd) : NULL;
    while (d && (de = readdir(d))) {
        char hex[65];
        if (strlen(de->d_name) != 69 || !STREQ(de->d_name + 64, ".lock"))
            continue;
        memcpy(hex, de->d_name, 64);
        hex[64] = '\0';
        if (!layer_present(&s, hex))
            (void)unlinkat(s.locks_fd, de->d_name, 0);
    }
    if (d)
        closedir(d);
    store_close(&s);
    if (r < 0)
        return r;
    if (ret_freed)
        *ret_freed = freed;
    return removed;
}

int image_overlay_mount(char *const *layers, const char *upper, const char *work,
                        const char *target, unsigned long mount_flags, struct err *err)
{
    size_t n = strv_len(layers);
    if (n == 0)
        return err_setx(err, EINVAL, "overlay on '%s': no layers", target);
    if ((upper == NULL) != (work == NULL))
        return err_setx(err, EINVAL, "overlay on '%s': upper and work go together", target);
    /* With no upper dir, overlay needs two lower layers; a single one is bind-mounted. */
    if (!upper && n == 1) {
        if (mount(layers[0], target, NULL, MS_BIND | MS_REC, NULL) < 0)
            return err_set(err, errno, "bind layer '%s' on '%s'", layers[0], target);
        if ((mount_flags & MS_RDONLY) &&
            mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
            return err_set(err, errno, "remount '%s' read-only", target);
        return 0;
    }
    int fs = sys_fsopen("overlay", FSOPEN_CLOEXEC);
    if (fs >= 0) {
        /* lowerdir+ (Linux 6.8): one call per layer, no page-size cap on the list. The first
         * one given is the topmost lower layer, as in a "lowerdir=" list. */
        int r = 0;
        for (size_t i = n; i-- > 0 && r >= 0;)
            r = sys_fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", layers[i], 0);
        if (r >= 0 && upper)
            r = sys_fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", upper, 0);
        if (r >= 0 && work)
            r = sys_fsconfig(fs, FSCONFIG_SET_STRING, "workdir", work, 0);
        if (r >= 0)
            r = sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
        /* Kernels before 6.8 have no "lowerdir+". Before 6.5 overlay parses its options only
         * at create time (legacy fs_context), so the refusal can come from any of the calls
         * above as EINVAL: then use the legacy option string, which reports a real error
         * itself. */
        if (r == -EINVAL) {
            close(fs);
            fs = -EINVAL;
        } else {
            if (r < 0) {
                close(fs);
                return err_set(err, -r, "create overlay for '%s'", target);
            }
            unsigned attr = 0;
            if (mount_flags & MS_RDONLY)
                attr |= MOUNT_ATTR_RDONLY;
            if (mount_flags & MS_NOSUID)
                attr |= MOUNT_ATTR_NOSUID;
            if (mount_flags & MS_NODEV)
                attr |= MOUNT_ATTR_NODEV;
            int mfd = sys_fsmount(fs, FSMOUNT_CLOEXEC, attr);
            close(fs);
            if (mfd < 0)
                return err_set(err, -mfd, "fsmount overlay for '%s'", target);
            r = sys_move_mount(mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
            close(mfd);
            if (r < 0)
                return err_set(err, -r, "mount overlay on '%s'", target);
            return 0;
        }
    }
    /* Legacy mount(2): the whole option string must fit in one page. */
    size_t cap = 64 + (upper ? strlen(upper) + strlen(work) : 0);
    for (size_t i = 0; i < n; i++)
        cap += strlen(layers[i]) * 2 + 1;
    _cleanup_free_ char *opt = malloc(cap);
    if (!opt)
        return err_set(err, ENOMEM, "overlay options");
    size_t o = (size_t)sprintf(opt, "lowerdir=");
    for (size_t i = n; i-- > 0;) {
        for (const char *c = layers[i]; *c; c++) {
            if (*c == ',')
                return err_setx(err, EINVAL, "overlay layer '%s' contains ','", layers[i]);
            if (*c == ':' || *c == '\\')
                opt[o++] = '\\';
            opt[o++] = *c;
        }
        if (i > 0)
            opt[o++] = ':';
    }
    opt[o] = '\0';
    if (upper)
        o += (size_t)sprintf(opt + o, ",upperdir=%s,workdir=%s", upper, work);
    if (o >= 4096)
        return err_setx(err, E2BIG,
                        "overlay on '%s': %zu layers do not fit in a mount option page and this "
                        "kernel lacks lowerdir+",
                        target, n);
    if (mount("overlay", target, "overlay", mount_flags, opt) < 0)
        return err_set(err, errno, "mount(2) on '%s'", target);
    return 0;
}

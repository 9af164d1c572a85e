/* Pure image helpers: digests, media types, references, names, tar paths, whiteout names.
 * No I/O: everything here is decided from strings, so it is unit-tested directly. */
#include "image.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define PATH_MAX_LEN 4095 /* PATH_MAX minus the NUL */

static const struct {
    const char *name;
    enum image_media m;
} media_names[] = {
        {"application/vnd.oci.image.index.v1+json", MEDIA_OCI_INDEX},
        {"application/vnd.oci.image.manifest.v1+json", MEDIA_OCI_MANIFEST},
        {"application/vnd.oci.image.config.v1+json", MEDIA_OCI_CONFIG},
        {"application/vnd.oci.image.layer.v1.tar", MEDIA_OCI_LAYER_TAR},
        {"application/vnd.oci.image.layer.v1.tar+gzip", MEDIA_OCI_LAYER_GZIP},
        {"application/vnd.oci.image.layer.v1.tar+zstd", MEDIA_OCI_LAYER_ZSTD},
        {"application/vnd.docker.distribution.manifest.list.v2+json", MEDIA_DOCKER_LIST},
        {"application/vnd.docker.distribution.manifest.v2+json", MEDIA_DOCKER_MANIFEST},
        {"application/vnd.docker.container.image.v1+json", MEDIA_DOCKER_CONFIG},
        {"application/vnd.docker.image.rootfs.diff.tar.gzip", MEDIA_DOCKER_LAYER_GZIP},
        {"application/vnd.docker.image.rootfs.diff.tar", MEDIA_DOCKER_LAYER_TAR},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar", MEDIA_OCI_NONDIST_TAR},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", MEDIA_OCI_NONDIST_TAR},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", MEDIA_OCI_NONDIST_TAR},
        {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", MEDIA_OCI_NONDIST_TAR},
};

enum image_media image_media_parse(const char *s)
{
    if (!s)
        return MEDIA_UNKNOWN;
    for (size_t i = 0; i < ARRAY_SIZE(media_names); i++)
        if (STREQ(s, media_names[i].name))
            return media_names[i].m;
    return MEDIA_UNKNOWN;
}

bool image_media_is_layer(enum image_media m)
{
    return m == MEDIA_OCI_LAYER_TAR || m == MEDIA_OCI_LAYER_GZIP || m == MEDIA_OCI_LAYER_ZSTD ||
           m == MEDIA_DOCKER_LAYER_GZIP || m == MEDIA_DOCKER_LAYER_TAR;
}

bool image_media_is_index(enum image_media m)
{
    return m == MEDIA_OCI_INDEX || m == MEDIA_DOCKER_LIST;
}

bool image_media_is_manifest(enum image_media m)
{
    return m == MEDIA_OCI_MANIFEST || m == MEDIA_DOCKER_MANIFEST;
}

bool image_hex_valid(const char *s)
{
    if (!s)
        return false;
    size_t i = 0;
    for (; s[i]; i++) {
        if (i >= 64)
            return false;
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return i == 64;
}

int image_digest_parse(const char *digest, char ret_hex[65])
{
    /* Only sha256 is accepted: the spec's registered sha512 is allowed by it, but no tool
     * around us writes it, and an algorithm we cannot verify must never be trusted. */
    if (!digest || strncmp(digest, "sha256:", 7) != 0)
        return -EINVAL;
    if (!image_hex_valid(digest + 7))
        return -EINVAL;
    memcpy(ret_hex, digest + 7, 65);
    return 0;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
           c == '/';
}

static bool tag_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

int image_name_normalize(const char *s, char **ret)
{
    if (!s || !*s)
        return -EINVAL;
    const char *colon = strrchr(s, ':');
    size_t nlen = colon ? (size_t)(colon - s) : strlen(s);
    const char *tag = colon ? colon + 1 : "latest";
    if (nlen == 0 || nlen > 128 || !*tag || strlen(tag) > 128)
        return -EINVAL;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
        return -EINVAL;
    for (size_t i = 0; i < nlen; i++) {
        if (!name_char(s[i]))
            return -EINVAL;
        /* No empty or dot-only path components: names are never paths, but keep them sane. */
        if (s[i] == '/' && (i + 1 == nlen || s[i + 1] == '/' || s[i + 1] == '.'))
            return -EINVAL;
    }
    if (!tag_char(tag[0]) || tag[0] == '.' || tag[0] == '-')
        return -EINVAL;
    for (const char *p = tag; *p; p++)
        if (!tag_char(*p))
            return -EINVAL;
    char *r = strdup_printf("%.*s:%s", (int)nlen, s, tag);
    if (!r)
        return -ENOMEM;
    *ret = r;
    return 0;
}

int image_ref_parse(const char *ref, enum image_src *ret_kind, char **ret_path, char **ret_tag)
{
    static const struct {
        const char *prefix;
        enum image_src kind;
    } tr[] = {
            {"oci:", SRC_OCI},
            {"docker-archive:", SRC_DOCKER_ARCHIVE},
            {"tar:", SRC_TAR},
            {"dir:", SRC_DIR},
    };
    if (!ref || !*ref)
        return -EINVAL;
    for (size_t i = 0; i < ARRAY_SIZE(tr); i++) {
        size_t pl = strlen(tr[i].prefix);
        if (strncmp(ref, tr[i].prefix, pl) != 0)
            continue;
        const char *rest = ref + pl;
        size_t plen = strlen(rest);
        const char *tag = NULL;
        if (tr[i].kind == SRC_OCI) {
            /* oci:DIR:TAG - the tag is after the last colon, as skopeo reads it; a colon
             * followed by a '/' belongs to the path. */
            const char *c = strrchr(rest, ':');
            if (c && !strchr(c, '/')) {
                plen = (size_t)(c - rest);
                tag = c + 1;
                if (!*tag)
                    return -EINVAL;
            }
        }
        if (plen == 0)
            return -EINVAL;
        _cleanup_free_ char *p = strndup(rest, plen);
        _cleanup_free_ char *t = tag ? strdup(tag) : NULL;
        if (!p || (tag && !t))
            return -ENOMEM;
        *ret_kind = tr[i].kind;
        *ret_path = TAKE_PTR(p);
        *ret_tag = TAKE_PTR(t);
        return 0;
    }
    char *p = strdup(ref);
    if (!p)
        return -ENOMEM;
    *ret_kind = SRC_NAME;
    *ret_path = p;
    *ret_tag = NULL;
    return 0;
}

int image_path_clean(const char *path, char **ret)
{
    if (!path || !*path)
        return -EINVAL;
    size_t len = strlen(path);
    if (len > PATH_MAX_LEN)
        return -ENAMETOOLONG;
    /* Absolute paths are refused, not stripped: a layer written by a sane tool never has them,
     * and silently re-rooting them hides hostile input. */
    if (path[0] == '/')
        return -EINVAL;
    _cleanup_free_ char *out = malloc(len + 1);
    if (!out)
        return -ENOMEM;
    size_t o = 0;
    const char *p = path;
    while (*p) {
        const char *e = strchrnul(p, '/');
        size_t cl = (size_t)(e - p);
        if (cl == 0 || (cl == 1 && p[0] == '.')) {
            /* empty or "." component: skip */
        } else if (cl == 2 && p[0] == '.' && p[1] == '.') {
            return -EINVAL;
        } else {
            if (o > 0)
                out[o++] = '/';
            memcpy(out + o, p, cl);
            o += cl;
        }
        p = *e ? e + 1 : e;
    }
    out[o] = '\0';
    *ret = TAKE_PTR(out);
    return 0;
}

enum image_wh image_whiteout_classify(const char *clean, char **ret_target)
{
    const char *base = strrchr(clean, '/');
    size_t dlen = base ? (size_t)(base - clean) : 0;
    base = base ? base + 1 : clean;
    if (strncmp(base, ".wh.", 4) != 0)
        return WH_NONE;
    const char *name = base + 4;
    char *t;
    if (STREQ(name, ".wh..opq")) {
        t = strndup(clean, dlen);
        if (!t)
            return WH_INVALID;
        if (ret_target)
            *ret_target = t;
        else
            free(t);
        return WH_OPAQUE;
    }
    /* ".wh." alone, ".wh.." and ".wh..." would name the directory itself, its parent or a
     * dot-name the kernel never lets us create; other ".wh..wh." names are reserved by the
     * spec. All are refused rather than guessed at (umoci 0.4.7 deletes the parent of the
     * rootfs on ".wh..."). */
    if (!*name || STREQ(name, ".") || STREQ(name, "..") || strncmp(name, ".wh.", 4) == 0)
        return WH_INVALID;
    if (dlen)
        t = strdup_printf("%.*s/%s", (int)dlen, clean, name);
    else
        t = strdup(name);
    if (!t)
        return WH_INVALID;
    if (ret_target)
        *ret_target = t;
    else
        free(t);
    return WH_FILE;
}

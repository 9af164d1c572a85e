/* Pure image helpers: digests, media types, references, names, tar paths, whiteouts; and
 * layer extraction from in-memory tars into a temporary directory (no root needed for the
 * unprivileged parts; cases that need root say so and skip). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "harness.h"
#include "image.h"
#include "image_int.h"
#include "util.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int test_digest_parse(void)
{
    char hex[65];
    CHECK_INT(image_digest_parse("sha256:" HEX64, hex), 0);
    CHECK_STR(hex, HEX64);
    static const char *bad[] = {
            "sha256:../../../../etc/passwd",
            "sha256:" HEX64 "/..",
            "sha512:" HEX64 HEX64,
            "SHA256:" HEX64,
            "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
            "sha256:" HEX64 "0",
            "sha256:0123456789abcdef",
            "sha256:",
            "sha256",
            "",
            "md5:0123456789abcdef0123456789abcdef",
            "sha256:0123456789abcdeg0123456789abcdef0123456789abcdef0123456789abcdef",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        if (image_digest_parse(bad[i], hex) != -EINVAL) {
            fprintf(stderr, "  accepted '%s'\n", bad[i]);
            return 1;
        }
    }
    CHECK_INT(image_digest_parse(NULL, hex), -EINVAL);
    CHECK(image_hex_valid(HEX64));
    CHECK(!image_hex_valid(HEX64 "a"));
    CHECK(!image_hex_valid("abc"));
    return 0;
}

static int test_media_types(void)
{
    CHECK_INT(image_media_parse("application/vnd.oci.image.layer.v1.tar+gzip"),
              MEDIA_OCI_LAYER_GZIP);
    CHECK_INT(image_media_parse("application/vnd.oci.image.layer.v1.tar+zstd"),
              MEDIA_OCI_LAYER_ZSTD);
    CHECK_INT(image_media_parse("application/vnd.docker.image.rootfs.diff.tar.gzip"),
              MEDIA_DOCKER_LAYER_GZIP);
    CHECK(image_media_is_layer(image_media_parse("application/vnd.oci.image.layer.v1.tar")));
    CHECK(image_media_is_index(image_media_parse("application/vnd.oci.image.index.v1+json")));
    CHECK(image_media_is_index(
            image_media_parse("application/vnd.docker.distribution.manifest.list.v2+json")));
    CHECK(image_media_is_manifest(
            image_media_parse("application/vnd.docker.distribution.manifest.v2+json")));
    /* Non-distributable layers point at URLs: never a layer we extract. */
    CHECK(!image_media_is_layer(
            image_media_parse("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip")));
    CHECK_INT(image_media_parse("application/vnd.oci.image.layer.v1.tar+GZIP"), MEDIA_UNKNOWN);
    CHECK_INT(image_media_parse(""), MEDIA_UNKNOWN);
    CHECK_INT(image_media_parse(NULL), MEDIA_UNKNOWN);
    return 0;
}

static int test_ref_parse(void)
{
    enum image_src k;
    char *p = NULL, *t = NULL;
    CHECK_INT(image_ref_parse("oci:/srv/img:1.25", &k, &p, &t), 0);
    CHECK_INT(k, SRC_OCI);
    CHECK_STR(p, "/srv/img");
    CHECK_STR(t, "1.25");
    free(p), free(t);
    CHECK_INT(image_ref_parse("oci:/srv/img", &k, &p, &t), 0);
    CHECK_STR(p, "/srv/img");
    CHECK(t == NULL);
    free(p);
    /* a colon in a directory name belongs to the path */
    CHECK_INT(image_ref_parse("oci:/srv/a:b/img", &k, &p, &t), 0);
    CHECK_STR(p, "/srv/a:b/img");
    CHECK(t == NULL);
    free(p);
    CHECK_INT(image_ref_parse("docker-archive:/x/y.tar", &k, &p, &t), 0);
    CHECK_INT(k, SRC_DOCKER_ARCHIVE);
    CHECK_STR(p, "/x/y.tar");
    free(p);
    CHECK_INT(image_ref_parse("tar:rel.tar.zst", &k, &p, &t), 0);
    CHECK_INT(k, SRC_TAR);
    free(p);
    CHECK_INT(image_ref_parse("dir:/r", &k, &p, &t), 0);
    CHECK_INT(k, SRC_DIR);
    free(p);
    CHECK_INT(image_ref_parse("nginx:1.25", &k, &p, &t), 0);
    CHECK_INT(k, SRC_NAME);
    CHECK_STR(p, "nginx:1.25");
    free(p);
    CHECK_INT(image_ref_parse("oci:", &k, &p, &t), -EINVAL);
    CHECK_INT(image_ref_parse("oci:/x:", &k, &p, &t), -EINVAL);
    CHECK_INT(image_ref_parse("tar:", &k, &p, &t), -EINVAL);
    CHECK_INT(image_ref_parse("", &k, &p, &t), -EINVAL);
    return 0;
}

static int test_name_normalize(void)
{
    char *n = NULL;
    CHECK_INT(image_name_normalize("web", &n), 0);
    CHECK_STR(n, "web:latest");
    free(n);
    CHECK_INT(image_name_normalize("docker.io/library/busybox:1.36", &n), 0);
    CHECK_STR(n, "docker.io/library/busybox:1.36");
    free(n);
    static const char *bad[] = {"",     "Web", ":tag",      "web:",    "web:-x", "web:.x",  "/web",
                                "a//b", "a/",  "a/.hidden", "web:t/x", "we b",   "web:ta g"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        n = NULL;
        if (image_name_normalize(bad[i], &n) != -EINVAL) {
            fprintf(stderr, "  accepted '%s'\n", bad[i]);
            free(n);
            return 1;
        }
    }
    return 0;
}

static int test_path_clean(void)
{
    static const struct {
        const char *in, *out;
    } ok[] = {
            {"./etc/passwd", "etc/passwd"},
            {"etc//x/./y/", "etc/x/y"},
            {".", ""},
            {"./", ""},
            {"a/.wh..wh..opq", "a/.wh..wh..opq"},
            {"...", "..."},
            {"a/..b", "a/..b"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        char *c = NULL;
        CHECK_INT(image_path_clean(ok[i].in, &c), 0);
        CHECK_STR(c, ok[i].out);
        free(c);
    }
    static const char *bad[] = {"../x", "a/../../x", "a/..", "..", "/etc/passwd", "/", ""};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char *c = NULL;
        if (image_path_clean(bad[i], &c) >= 0) {
            fprintf(stderr, "  accepted '%s' as '%s'\n", bad[i], c);
            free(c);
            return 1;
        }
    }
    return 0;
}

static int test_whiteout_classify(void)
{
    char *t = NULL;
    CHECK_INT(image_whiteout_classify("etc/.wh.passwd", &t), WH_FILE);
    CHECK_STR(t, "etc/passwd");
    free(t);
    CHECK_INT(image_whiteout_classify(".wh.top", &t), WH_FILE);
    CHECK_STR(t, "top");
    free(t);
    CHECK_INT(image_whiteout_classify("a/b/.wh..wh..opq", &t), WH_OPAQUE);
    CHECK_STR(t, "a/b");
    free(t);
    CHECK_INT(image_whiteout_classify(".wh..wh..opq", &t), WH_OPAQUE);
    CHECK_STR(t, "");
    free(t);
    CHECK_INT(image_whiteout_classify("a/.wh..hidden", &t), WH_FILE);
    CHECK_STR(t, "a/.hidden");
    free(t);
    CHECK_INT(image_whiteout_classify("etc/passwd", NULL), WH_NONE);
    CHECK_INT(image_whiteout_classify("etc/x.wh.y", NULL), WH_NONE);
    CHECK_INT(image_whiteout_classify("a/.wh.", NULL), WH_INVALID);
    CHECK_INT(image_whiteout_classify("a/.wh..", NULL), WH_INVALID);  /* the dir itself */
    CHECK_INT(image_whiteout_classify("a/.wh...", NULL), WH_INVALID); /* its parent */
    CHECK_INT(image_whiteout_classify("a/.wh..wh.plnk", NULL), WH_INVALID);
    CHECK_INT(image_whiteout_classify(".wh..wh..opqx", NULL), WH_INVALID);
    return 0;
}

/* --- extraction from a memory tar (writes into a temp dir; no root needed for these) --- */

struct tb {
    struct archive *a;
    char *buf;
    size_t cap;
    size_t used;
};

static void tb_open(struct tb *t)
{
    t->cap = 1 << 20;
    t->buf = calloc(1, t->cap);
    t->a = archive_write_new();
    archive_write_set_format_pax_restricted(t->a);
    archive_write_open_memory(t->a, t->buf, t->cap, &t->used);
}

static void tb_add(struct tb *t, const char *name, mode_t type, const char *data, const char *link)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_uid(e, getuid());
    archive_entry_set_gid(e, getgid());
    if (type == AE_IFLNK)
        archive_entry_set_symlink(e, link);
    if (type == AE_IFREG && link)
        archive_entry_set_hardlink(e, link);
    archive_entry_set_size(e, data ? (la_int64_t)strlen(data) : 0);
    archive_write_header(t->a, e);
    if (data)
        archive_write_data(t->a, data, strlen(data));
    archive_entry_free(e);
}

static void tb_close(struct tb *t)
{
    archive_write_close(t->a);
    archive_write_free(t->a);
}

static int extract_mem(struct tb *t, const char *dir, struct layer_result *res, struct err *err)
{
    _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct layer_source src = {
            .fd = -1, .mem = t->buf, .mem_len = t->used, .expect_size = UINT64_MAX, .what = "test"};
    struct layer_limits lim = {.max_bytes = 1 << 20, .max_entries = 100};
    return layer_extract(&src, fd, &lim, res, err);
}

static int test_extract_basic_and_digest(void)
{
    char dir[] = "/tmp/mgrt-unit-img.XXXXXX";
    CHECK(mkdtemp(dir));
    struct tb t;
    tb_open(&t);
    tb_add(&t, "./a/", AE_IFDIR, NULL, NULL);
    tb_add(&t, "a/f", AE_IFREG, "hello", NULL);
    tb_add(&t, "a/l", AE_IFLNK, NULL, "../../../etc/passwd");
    tb_add(&t, "a/h", AE_IFREG, NULL, "a/f");
    tb_close(&t);
    struct layer_result res = {0};
    struct err err = {0};
    int r = extract_mem(&t, dir, &res, &err);
    if (r < 0)
        fprintf(stderr, "  %s\n", err.msg);
    CHECK_INT(r, 0);
    char hex[65];
    sha256_hex(t.buf, t.used, hex);
    CHECK_STR(res.diff_hex, hex); /* uncompressed input: blob == diff */
    CHECK_STR(res.blob_hex, hex);
    CHECK_INT(res.tar_size, t.used);
    CHECK_INT(res.entries, 4);
    _cleanup_free_ char *p = strdup_printf("%s/a/f", dir);
    _cleanup_free_ char *h = strdup_printf("%s/a/h", dir);
    _cleanup_free_ char *l = strdup_printf("%s/a/l", dir);
    struct stat s1, s2, s3;
    CHECK_INT(stat(p, &s1), 0);
    CHECK_INT(stat(h, &s2), 0);
    CHECK_INT(lstat(l, &s3), 0);
    CHECK(s1.st_ino == s2.st_ino);
    CHECK(S_ISLNK(s3.st_mode));
    CHECK_INT(s1.st_size, 5);
    free(t.buf);
    rm_rf_at(AT_FDCWD, dir);
    return 0;
}

static int test_extract_refuses_escapes(void)
{
    static const struct {
        const char *name;
        mode_t type;
        const char *link;
        const char *then;
        const char *want;
    } cases[] = {
            {"../escape", AE_IFREG, NULL, NULL, "climbs out"},
            {"/abs", AE_IFREG, NULL, NULL, "path is absolute"},
            {"l", AE_IFLNK, "/tmp", "l/x", "is a symlink"},
            {"h", AE_IFREG, "../../etc/passwd", NULL, "outside the layer"},
            {"a/.wh..", AE_IFREG, NULL, NULL, "invalid whiteout"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char dir[] = "/tmp/mgrt-unit-img.XXXXXX";
        CHECK(mkdtemp(dir));
        struct tb t;
        tb_open(&t);
        tb_add(&t, cases[i].name, cases[i].type,
               cases[i].type == AE_IFREG && !cases[i].link ? "x" : NULL, cases[i].link);
        if (cases[i].then)
            tb_add(&t, cases[i].then, AE_IFREG, "y", NULL);
        tb_close(&t);
        struct layer_result res = {0};
        struct err err = {0};
        int r = extract_mem(&t, dir, &res, &err);
        free(t.buf);
        rm_rf_at(AT_FDCWD, dir);
        if (r >= 0 || !strstr(err.msg, cases[i].want)) {
            fprintf(stderr, "  case '%s': r=%d msg='%s'\n", cases[i].name, r, err.msg);
            return 1;
        }
    }
    return 0;
}

static int test_extract_limits(void)
{
    char dir[] = "/tmp/mgrt-unit-img.XXXXXX";
    CHECK(mkdtemp(dir));
    struct tb t;
    tb_open(&t);
    for (int i = 0; i < 150; i++) {
        char n[16];
        snprintf(n, sizeof(n), "f%d", i);
        tb_add(&t, n, AE_IFREG, "", NULL);
    }
    tb_close(&t);
    struct layer_result res = {0};
    struct err err = {0};
    int r = extract_mem(&t, dir, &res, &err);
    free(t.buf);
    rm_rf_at(AT_FDCWD, dir);
    CHECK_INT(r, -EFBIG);
    CHECK(strstr(err.msg, "more than 100 entries") != NULL);
    return 0;
}

static int test_extract_not_a_tar(void)
{
    char dir[] = "/tmp/mgrt-unit-img.XXXXXX";
    CHECK(mkdtemp(dir));
    struct tb t = {.buf = strdup("this is not a tar archive at all, just text\n")};
    t.used = strlen(t.buf);
    struct layer_result res = {0};
    struct err err = {0};
    int r = extract_mem(&t, dir, &res, &err);
    free(t.buf);
    rm_rf_at(AT_FDCWD, dir);
    CHECK(r < 0);
    CHECK(err.msg[0] != '\0');
    return 0;
}

/* image_overlay_mount with more layers than a "lowerdir=" option page can name. Needs root
 * (mount namespace); runs in a child so nothing leaks into the test's namespace. */
static int test_overlay_many_layers(void)
{
    if (geteuid() != 0)
        SKIP("overlay mount needs root");
    char dir[] = "/tmp/mgrt-unit-ovl.XXXXXX";
    CHECK(mkdtemp(dir));
    enum { N = 120 };
    char **layers = calloc(N + 1, sizeof(char *));
    CHECK(layers);
    for (int i = 0; i < N; i++) {
        /* long names: 120 * ~90 bytes is well past one page */
        layers[i] = strdup_printf("%s/layer-%03d-padding-padding-padding-padding-padding-padding",
                                  dir, i);
        CHECK(mkdir(layers[i], 0755) == 0);
        _cleanup_free_ char *f = strdup_printf("%s/f%03d", layers[i], i);
        int fd = open(f, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        CHECK(fd >= 0);
        close(fd);
    }
    _cleanup_free_ char *shadow0 = strdup_printf("%s/shadow", layers[0]);
    _cleanup_free_ char *shadow1 = strdup_printf("%s/shadow", layers[N - 1]);
    CHECK(write_file_atomic_at(AT_FDCWD, shadow0, "low", 3, 0644, false) == 0);
    CHECK(write_file_atomic_at(AT_FDCWD, shadow1, "top", 3, 0644, false) == 0);
    _cleanup_free_ char *mnt = strdup_printf("%s/mnt", dir);
    CHECK(mkdir(mnt, 0755) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
            _exit(2);
        struct err err = {0};
        if (image_overlay_mount(layers, NULL, NULL, mnt, MS_RDONLY, &err) < 0) {
            fprintf(stderr, "  %s\n", err.msg);
            _exit(3);
        }
        _cleanup_free_ char *f0 = strdup_printf("%s/f000", mnt);
        _cleanup_free_ char *fl = strdup_printf("%s/f%03d", mnt, N - 1);
        _cleanup_free_ char *sh = strdup_printf("%s/shadow", mnt);
        char *c = NULL;
        if (access(f0, F_OK) < 0 || access(fl, F_OK) < 0)
            _exit(4);
        if (read_file_at(AT_FDCWD, sh, 16, &c, NULL) < 0 || strcmp(c, "top") != 0)
            _exit(5); /* the last layer given is the top one */
        _exit(0);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    rm_rf_at(AT_FDCWD, dir);
    strv_free(layers);
    CHECK(WIFEXITED(st));
    CHECK_INT(WEXITSTATUS(st), 0);
    return 0;
}

int main(void)
{
    RUN(test_digest_parse);
    RUN(test_media_types);
    RUN(test_ref_parse);
    RUN(test_name_normalize);
    RUN(test_path_clean);
    RUN(test_whiteout_classify);
    RUN(test_extract_basic_and_digest);
    RUN(test_extract_refuses_escapes);
    RUN(test_extract_limits);
    RUN(test_extract_not_a_tar);
    RUN(test_overlay_many_layers);
    return HARNESS_END();
}

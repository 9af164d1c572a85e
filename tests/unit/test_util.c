/* Unit tests of core/util.c: size/duration parsing and formatting, strv, files. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"
#include "err.h"

static int test_parse_size(void)
{
    uint64_t v;
    CHECK_INT(parse_size("0", &v), 0);
    CHECK_INT(v, 0);
    CHECK_INT(parse_size("512k", &v), 0);
    CHECK_INT(v, 512 * 1024);
    CHECK_INT(parse_size("256M", &v), 0);
    CHECK_INT(v, 256ULL << 20);
    CHECK_INT(parse_size("1G", &v), 0);
    CHECK_INT(v, 1ULL << 30);
    CHECK_INT(parse_size("64MiB", &v), 0);
    CHECK_INT(v, 64ULL << 20);
    CHECK_INT(parse_size("2T", &v), 0);
    CHECK_INT(v, 2ULL << 40);
    CHECK_INT(parse_size("100B", &v), 0);
    CHECK_INT(v, 100);
    CHECK_INT(parse_size("", &v), -EINVAL);
    CHECK_INT(parse_size("M", &v), -EINVAL);
    CHECK_INT(parse_size("-1", &v), -EINVAL);
    CHECK_INT(parse_size("1.5G", &v), -EINVAL);
    CHECK_INT(parse_size("12X", &v), -EINVAL);
    CHECK_INT(parse_size("1 G", &v), -EINVAL);
    CHECK_INT(parse_size("99999999999999999999", &v), -ERANGE);
    CHECK_INT(parse_size("99999999999T", &v), -ERANGE);
    return 0;
}

static int test_parse_duration(void)
{
    uint64_t v;
    CHECK_INT(parse_duration_ms("100ms", &v), 0);
    CHECK_INT(v, 100);
    CHECK_INT(parse_duration_ms("5s", &v), 0);
    CHECK_INT(v, 5000);
    CHECK_INT(parse_duration_ms("1m30s", &v), 0);
    CHECK_INT(v, 90000);
    CHECK_INT(parse_duration_ms("2h", &v), 0);
    CHECK_INT(v, 7200000);
    CHECK_INT(parse_duration_ms("1d", &v), 0);
    CHECK_INT(v, 86400000);
    CHECK_INT(parse_duration_ms("500us", &v), 0);
    CHECK_INT(v, 1);
    CHECK_INT(parse_duration_ms("10", &v), 0);
    CHECK_INT(v, 10000);
    CHECK_INT(parse_duration_ms("0s", &v), 0);
    CHECK_INT(v, 0);
    CHECK_INT(parse_duration_ms("", &v), -EINVAL);
    CHECK_INT(parse_duration_ms("s", &v), -EINVAL);
    CHECK_INT(parse_duration_ms("1m30", &v), -EINVAL);
    CHECK_INT(parse_duration_ms("5 s", &v), -EINVAL);
    CHECK_INT(parse_duration_ms("5x", &v), -EINVAL);
    CHECK_INT(parse_duration_ms("-5s", &v), -EINVAL);
    CHECK_INT(parse_duration_ms("99999999999999999999d", &v), -ERANGE);
    return 0;
}

static int test_format(void)
{
    char buf[32];
    CHECK_STR(format_size(256ULL << 20, buf, sizeof(buf)), "256M");
    CHECK_STR(format_size(1536, buf, sizeof(buf)), "1536");
    CHECK_STR(format_size(1ULL << 30, buf, sizeof(buf)), "1G");
    CHECK_STR(format_duration_ms(90000, buf, sizeof(buf)), "90s");
    CHECK_STR(format_duration_ms(120000, buf, sizeof(buf)), "2m");
    CHECK_STR(format_duration_ms(150, buf, sizeof(buf)), "150ms");
    CHECK_STR(format_duration_ms(0, buf, sizeof(buf)), "0s");
    return 0;
}

static int test_ints(void)
{
    int64_t i;
    uint64_t u;
    CHECK_INT(parse_int64("-42", &i), 0);
    CHECK_INT(i, -42);
    CHECK_INT(parse_int64("9223372036854775807", &i), 0);
    CHECK_INT(parse_int64("9223372036854775808", &i), -ERANGE);
    CHECK_INT(parse_int64("-9223372036854775808", &i), 0);
    CHECK_INT(parse_uint64("12a", &u), -EINVAL);
    CHECK_INT(parse_uint64("+1", &u), -EINVAL);
    CHECK_INT(parse_uint64("18446744073709551615", &u), 0);
    CHECK(u == UINT64_MAX);
    CHECK_INT(parse_uint64("18446744073709551616", &u), -ERANGE);
    return 0;
}

static int test_strv(void)
{
    _cleanup_strv_ char **v = NULL;
    CHECK_INT(strv_len(v), 0);
    CHECK_INT(strv_push(&v, "a"), 0);
    CHECK_INT(strv_push(&v, "b"), 0);
    CHECK_INT(strv_len(v), 2);
    CHECK(strv_contains(v, "b"));
    CHECK(!strv_contains(v, "c"));
    _cleanup_strv_ char **d = strv_dup(v);
    CHECK_INT(strv_len(d), 2);
    CHECK_STR(d[1], "b");
    CHECK(d[1] != v[1]);
    return 0;
}

static int test_files(void)
{
    char dir[] = "/tmp/mgrt-util.XXXXXX";
    CHECK(mkdtemp(dir));
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(dfd >= 0);
    CHECK_INT(write_file_atomic_at(dfd, "f", "hello", 5, 0600, true), 0);
    _cleanup_free_ char *s = NULL;
    size_t len;
    CHECK_INT(read_file_at(dfd, "f", 1024, &s, &len), 0);
    CHECK_STR(s, "hello");
    CHECK_INT(len, 5);
    char *big = NULL;
    CHECK_INT(read_file_at(dfd, "f", 3, &big, NULL), -EFBIG);
    CHECK(big == NULL);
    struct stat st;
    CHECK_INT(fstatat(dfd, "f", &st, 0), 0);
    CHECK_INT(st.st_mode & 0777, 0600);
    char p[256];
    snprintf(p, sizeof(p), "%s/a/b/c", dir);
    CHECK_INT(mkdir_p(p, 0755), 0);
    CHECK_INT(mkdir_p(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/a/b/c/file", dir);
    _cleanup_close_ int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    CHECK_INT(symlinkat("/etc", dfd, "a/link"), 0);
    CHECK_INT(rm_rf_at(dfd, "a"), 0);
    CHECK_INT(faccessat(dfd, "a", F_OK, AT_SYMLINK_NOFOLLOW), -1);
    CHECK_INT(access("/etc/passwd", F_OK), 0); /* the symlink target survived */
    CHECK_INT(rm_rf_at(AT_FDCWD, dir), 0);
    return 0;
}

static int test_err(void)
{
    struct err e = {0};
    CHECK_INT(err_set(&e, ENOENT, "open '%s'", "x"), -ENOENT);
    CHECK_STR(e.msg, "open 'x': No such file or directory");
    CHECK_INT(err_wrap(&e, "unit '%s'", "web"), -ENOENT);
    CHECK_STR(e.msg, "unit 'web': open 'x': No such file or directory");
    CHECK_INT(err_setx(&e, EINVAL, "bad %d", 3), -EINVAL);
    CHECK_STR(e.msg, "bad 3");
    err_clear(&e);
    CHECK_INT(e.code, 0);
    return 0;
}

int main(void)
{
    RUN(test_parse_size);
    RUN(test_parse_duration);
    RUN(test_format);
    RUN(test_ints);
    RUN(test_strv);
    RUN(test_files);
    RUN(test_err);
    return HARNESS_END();
}

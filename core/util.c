#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void freep(void *p)
{
    free(*(void **)p);
}

void closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}

void fclosep(FILE **f)
{
    if (*f)
        fclose(*f);
}

char **strv_free(char **v)
{
    if (v) {
        for (char **p = v; *p; p++)
            free(*p);
        free(v);
    }
    return NULL;
}

void strv_freep(char ***v)
{
    strv_free(*v);
}

size_t strv_len(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

int strv_push(char ***v, const char *s)
{
    size_t n = strv_len(*v);
    char *c = strdup(s);
    if (!c)
        return -ENOMEM;
    char **nv = realloc(*v, (n + 2) * sizeof(char *));
    if (!nv) {
        free(c);
        return -ENOMEM;
    }
    nv[n] = c;
    nv[n + 1] = NULL;
    *v = nv;
    return 0;
}

char **strv_dup(char *const *v)
{
    if (!v)
        return NULL;
    size_t n = strv_len(v);
    char **r = calloc(n + 1, sizeof(char *));
    if (!r)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        r[i] = strdup(v[i]);
        if (!r[i])
            return strv_free(r);
    }
    return r;
}

bool strv_contains(char *const *v, const char *s)
{
    for (size_t i = 0; v && v[i]; i++)
        if (STREQ(v[i], s))
            return true;
    return false;
}

int parse_uint64(const char *s, uint64_t *ret)
{
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -EINVAL;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno == ERANGE)
        return -ERANGE;
    *ret = v;
    return 0;
}

int parse_int64(const char *s, int64_t *ret)
{
    bool neg = s && *s == '-';
    uint64_t u;
    int r = parse_uint64(neg ? s + 1 : s, &u);
    if (r < 0)
        return r;
    if (u > (uint64_t)INT64_MAX + (neg ? 1 : 0))
        return -ERANGE;
    *ret = neg ? (int64_t)(0 - u) : (int64_t)u;
    return 0;
}

int parse_size(const char *s, uint64_t *ret)
{
    if (!s || !*s)
        return -EINVAL;
    const char *p = s;
    uint64_t v = 0;
    if (*p < '0' || *p > '9')
        return -EINVAL;
    while (*p >= '0' && *p <= '9') {
        if (v > (UINT64_MAX - 9) / 10)
            return -ERANGE;
        v = v * 10 + (uint64_t)(*p - '0');
        p++;
    }
    unsigned shift = 0;
    switch (*p) {
    case '\0': break;
    case 'k': case 'K': shift = 10; p++; break;
    case 'm': case 'M': shift = 20; p++; break;
    case 'g': case 'G': shift = 30; p++; break;
    case 't': case 'T': shift = 40; p++; break;
    case 'b': case 'B': break;
    default: return -EINVAL;
    }
    if (shift && *p == 'i')
        p++;
    if (*p == 'B' || (*p == 'b' && shift == 0))
        p++;
    if (*p)
        return -EINVAL;
    if (shift && v > (UINT64_MAX >> shift))
        return -ERANGE;
    *ret = v << shift;
    return 0;
}

int parse_duration_ms(const char *s, uint64_t *ret)
{
    if (!s || !*s)
        return -EINVAL;
    const char *p = s;
    /* Total in microseconds, so "500us" and "1.5s"-free forms stay exact. */
    uint64_t total_us = 0;
    bool any = false;
    while (*p) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        uint64_t v = 0;
        while (*p >= '0' && *p <= '9') {
            if (v > (UINT64_MAX - 9) / 10)
                return -ERANGE;
            v = v * 10 + (uint64_t)(*p - '0');
            p++;
        }
        uint64_t mult;
        if (*p == '\0') {
            if (any)
                return -EINVAL; /* "1m30" is ambiguous */
            mult = 1000000ULL;
        } else if (strncmp(p, "us", 2) == 0) {
            mult = 1, p += 2;
        } else if (strncmp(p, "ms", 2) == 0) {
            mult = 1000, p += 2;
        } else if (*p == 's') {
            mult = 1000000ULL, p++;
        } else if (strncmp(p, "min", 3) == 0) {
            mult = 60000000ULL, p += 3;
        } else if (*p == 'm') {
            mult = 60000000ULL, p++;
        } else if (*p == 'h') {
            mult = 3600000000ULL, p++;
        } else if (*p == 'd') {
            mult = 86400000000ULL, p++;
        } else {
            return -EINVAL;
        }
        if (v > UINT64_MAX / mult || total_us > UINT64_MAX - v * mult)
            return -ERANGE;
        total_us += v * mult;
        any = true;
    }
    *ret = (total_us + 999) / 1000;
    return 0;
}

char *format_size(uint64_t b, char *buf, size_t len)
{
    static const char *u[] = {"", "K", "M", "G", "T"};
    unsigned i = 0;
    while (i < 4 && b >= 1024 && b % 1024 == 0)
        b /= 1024, i++;
    snprintf(buf, len, "%" PRIu64 "%s", b, u[i]);
    return buf;
}

char *format_duration_ms(uint64_t ms, char *buf, size_t len)
{
    if (ms == 0)
        snprintf(buf, len, "0s");
    else if (ms % 3600000 == 0)
        snprintf(buf, len, "%" PRIu64 "h", ms / 3600000);
    else if (ms % 60000 == 0)
        snprintf(buf, len, "%" PRIu64 "m", ms / 60000);
    else if (ms % 1000 == 0)
        snprintf(buf, len, "%" PRIu64 "s", ms / 1000);
    else
        snprintf(buf, len, "%" PRIu64 "ms", ms);
    return buf;
}

static uint64_t clock_ms(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t now_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t now_realtime_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

int read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len)
{
    _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    size_t cap = 4096, len = 0;
    _cleanup_free_ char *buf = malloc(cap + 1);
    if (!buf)
        return -ENOMEM;
    for (;;) {
        if (len == cap) {
            if (cap >= max)
                return -EFBIG;
            cap = cap * 2 > max ? max : cap * 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb)
                return -ENOMEM;
            buf = nb;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max)
            return -EFBIG;
    }
    buf[len] = '\0';
    if (ret_len)
        *ret_len = len;
    *ret = TAKE_PTR(buf);
    return 0;
}

int write_file_atomic_at(int dirfd, const char *path, const void *data, size_t len, int mode,
        bool durable)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    _cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int r = -errno;
            (void)unlinkat(dirfd, tmp, 0);
            return r;
        }
        p += n;
        len -= (size_t)n;
    }
    if (durable && fsync(fd) < 0) {
        int r = -errno;
        (void)unlinkat(dirfd, tmp, 0);
        return r;
    }
    if (renameat(dirfd, tmp, dirfd, path) < 0) {
        int r = -errno;
        (void)unlinkat(dirfd, tmp, 0);
        return r;
    }
    return 0;
}

int write_string_at(int dirfd, const char *path, const char *s)
{
    _cleanup_close_ int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    size_t len = strlen(s);
    ssize_t n = write(fd, s, len);
    if (n < 0)
        return -errno;
    if ((size_t)n != len)
        return -EIO;
    return 0;
}

int mkdir_p(const char *path, int mode)
{
    char buf[PATH_MAX];
    if (strlen(path) >= sizeof(buf))
        return -ENAMETOOLONG;
    strcpy(buf, path);
    /* Usually only the last component is missing: one syscall then. */
    if (mkdir(buf, (mode_t)mode) == 0 || errno == EEXIST)
        return 0;
    if (errno != ENOENT)
        return -errno;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, (mode_t)mode) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, (mode_t)mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int rm_rf_children(int fd, dev_t dev)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -errno;
    }
    int r = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (STREQ(de->d_name, ".") || STREQ(de->d_name, ".."))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno != ENOENT && r == 0)
                r = -errno;
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if (st.st_dev != dev) {
                /* Never cross into a mount point. */
                if (r == 0)
                    r = -EBUSY;
                continue;
            }
            int cfd = openat(dirfd(d), de->d_name,
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (cfd < 0) {
                if (r == 0)
                    r = -errno;
                continue;
            }
            int q = rm_rf_children(cfd, dev);
            if (q < 0 && r == 0)
                r = q;
            if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
                r = -errno;
        } else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT && r == 0) {
            r = -errno;
        }
    }
    closedir(d);
    return r;
}

int rm_rf_at(int dirfd, const char *name)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = rm_rf_children(fd, st.st_dev);
    if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
        r = -errno;
    return r;
}

char *strdup_printf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

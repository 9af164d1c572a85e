#pragma once
/* Small shared helpers: cleanup attributes, ownership macros, safe parsing, strv, files. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define _cleanup_(fn)    __attribute__((cleanup(fn)))
#define _cleanup_free_   _cleanup_(freep)
#define _cleanup_close_  _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_strv_   _cleanup_(strv_freep)
#define TAKE_PTR(p)                                                                               \
    ({                                                                                            \
        __typeof__(p) _t = (p);                                                                   \
        (p) = NULL;                                                                               \
        _t;                                                                                       \
    })
#define TAKE_FD(fd)                                                                               \
    ({                                                                                            \
        int _t = (fd);                                                                            \
        (fd) = -1;                                                                                \
        _t;                                                                                       \
    })
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define STREQ(a, b)   (strcmp((a), (b)) == 0)

void freep(void *p);
void closep(int *fd);    /* skips fd < 0, keeps errno */
void fclosep(FILE **f);

/* NULL-terminated string vectors. strv_free accepts NULL and returns NULL. */
char **strv_free(char **v);
void strv_freep(char ***v);
size_t strv_len(char *const *v);
/* Appends a copy of s; returns 0 or -ENOMEM (v unchanged on failure). */
int strv_push(char ***v, const char *s);
/* Deep copy; NULL for NULL input. Returns NULL on OOM only when v != NULL. */
char **strv_dup(char *const *v);
bool strv_contains(char *const *v, const char *s);

/* Parse a size: plain bytes or with suffix k/K, m/M, g/G, t/T (powers of 1024), optional
 * trailing "B"/"iB" ("256M", "1G", "512k", "64MiB"). Returns 0 or -EINVAL/-ERANGE. */
int parse_size(const char *s, uint64_t *ret);
/* Parse a duration: "100ms", "5s", "1m30s", "2h", "1d", "500us"; a bare number means seconds.
 * Result in milliseconds (sub-ms values round up to 1). Returns 0 or -EINVAL/-ERANGE. */
int parse_duration_ms(const char *s, uint64_t *ret);
/* Format helpers, writing into buf; return buf. */
char *format_size(uint64_t bytes, char *buf, size_t len);
char *format_duration_ms(uint64_t ms, char *buf, size_t len);
/* Strict decimal integer parsing (no trailing junk). Returns 0 or -EINVAL/-ERANGE. */
int parse_int64(const char *s, int64_t *ret);
int parse_uint64(const char *s, uint64_t *ret);

/* Monotonic and wall clock, in milliseconds. */
uint64_t now_ms(void);
/* Monotonic clock in microseconds. */
uint64_t now_us(void);
uint64_t now_realtime_ms(void);

/* Reads a whole file (at most max bytes; -EFBIG beyond). Caller frees *ret. */
int read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len);
/* Writes data to dirfd/path atomically (tmp file, fsync if durable, rename). */
int write_file_atomic_at(int dirfd, const char *path, const void *data, size_t len, int mode,
        bool durable);
/* Writes a string to an existing file (sysfs/cgroupfs/procfs style). Returns 0 or -errno. */
int write_string_at(int dirfd, const char *path, const char *s);
/* mkdir -p with mode; existing directories are fine. Returns 0 or -errno. */
int mkdir_p(const char *path, int mode);
/* rm -rf of dirfd/name without crossing mount points or following symlinks. */
int rm_rf_at(int dirfd, const char *name);
/* asprintf that returns NULL on failure. */
char *strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

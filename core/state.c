/* Per-container state file: format/parse (pure) and atomic read/write. See state.h. */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "util.h"

int state_format(const struct rt_state *s, char *buf, size_t len)
{
    size_t off = 0;
    int n;

#define PUT(...)                                         \
    do {                                                 \
        n = snprintf(buf + off, len - off, __VA_ARGS__); \
        if (n < 0 || (size_t)n >= len - off)             \
            return -ENOSPC;                              \
        off += (size_t)n;                                \
    } while (0)
    PUT("name=%s\n", s->name);
    PUT("pid=%d\n", (int)s->pid);
    PUT("start_time=%" PRIu64 "\n", s->start_time);
    PUT("owner_pid=%d\n", (int)s->owner_pid);
    PUT("owner_start_time=%" PRIu64 "\n", s->owner_start_time);
    PUT("keep_upper=%d\n", s->keep_upper ? 1 : 0);
    PUT("upper_dir=%s\n", s->upper_dir);
    PUT("cgroup=%s\n", s->cgroup);
    for (int t = 0; t < _NS_MAX; t++)
        PUT("ns.%s=%" PRIu64 "\n", ns_type_name(t), s->ns_ino[t]);
#undef PUT
    return (int)off;
}

static int copy_str(char *dst, size_t len, const char *v)
{
    size_t l = strlen(v);
    if (l >= len)
        return -EINVAL;
    memcpy(dst, v, l + 1);
    return 0;
}

static int parse_pid(const char *v, pid_t *ret)
{
    int64_t x;
    if (parse_int64(v, &x) < 0 || x < 0 || x > INT32_MAX)
        return -EINVAL;
    *ret = (pid_t)x;
    return 0;
}

int state_parse(const char *text, struct rt_state *ret)
{
    struct rt_state s = {0};
    const char *p = text;

    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        char line[PATH_MAX + 64];
        if (l >= sizeof(line))
            return -EINVAL;
        memcpy(line, p, l);
        line[l] = 0;
        p += l + (nl ? 1 : 0);
        if (l == 0)
            continue;
        char *eq = strchr(line, '=');
        if (!eq)
            return -EINVAL;
        *eq = 0;
        const char *k = line, *v = eq + 1;
        int r = 0;
        if (STREQ(k, "name"))
            r = copy_str(s.name, sizeof(s.name), v);
        else if (STREQ(k, "pid"))
            r = parse_pid(v, &s.pid);
        else if (STREQ(k, "owner_pid"))
            r = parse_pid(v, &s.owner_pid);
        else if (STREQ(k, "owner_start_time"))
            r = parse_uint64(v, &s.owner_start_time);
        else if (STREQ(k, "start_time"))
            r = parse_uint64(v, &s.start_time);
        else if (STREQ(k, "keep_upper"))
            s.keep_upper = STREQ(v, "1");
        else if (STREQ(k, "upper_dir"))
            r = copy_str(s.upper_dir, sizeof(s.upper_dir), v);
        else if (STREQ(k, "cgroup"))
            r = copy_str(s.cgroup, sizeof(s.cgroup), v);
        else if (strncmp(k, "ns.", 3) == 0) {
            for (int t = 0; t < _NS_MAX; t++)
                if (STREQ(k + 3, ns_type_name(t)))
                    r = parse_uint64(v, &s.ns_ino[t]);
        }
        if (r < 0)
            return -EINVAL;
    }
    if (!s.name[0])
        return -EINVAL;
    *ret = s;
    return 0;
}

int state_write(const char *dir, const struct rt_state *s, struct err *err)
{
    /* On the heap: on the stack it would keep 12 KiB of the daemon's stack resident for good
     * (this runs below rt_start_begin's own large frame). */
    const size_t len = 3 * PATH_MAX;
    _cleanup_free_ char *buf = malloc(len);
    if (!buf)
        return err_set(err, ENOMEM, "format state of '%s'", s->name);
    int n = state_format(s, buf, len);
    if (n < 0)
        return err_set(err, -n, "format state of '%s'", s->name);
    _cleanup_close_ int dfd = open(dir, O_DIRECTORY | O_CLOEXEC | O_PATH);
    if (dfd < 0)
        return err_set(err, errno, "open state dir '%s'", dir);
    /* Not durable: RUN is a tmpfs normally, and the state describes processes that do not
     * survive a reboot anyway; rename() keeps readers from seeing half a file. */
    int r = write_file_atomic_at(dfd, STATE_FILE, buf, (size_t)n, 0600, false);
    if (r < 0)
        return err_set(err, -r, "write state '%s/%s'", dir, STATE_FILE);
    return 0;
}

int state_read(const char *dir, struct rt_state *ret, struct err *err)
{
    _cleanup_free_ char *text = NULL;
    _cleanup_close_ int dfd = open(dir, O_DIRECTORY | O_CLOEXEC | O_PATH);
    if (dfd < 0)
        return err_set(err, errno, "open state dir '%s'", dir);
    int r = read_file_at(dfd, STATE_FILE, 64 * 1024, &text, NULL);
    if (r < 0)
        return err_set(err, -r, "read state '%s/%s'", dir, STATE_FILE);
    r = state_parse(text, ret);
    if (r < 0)
        return err_setx(err, EINVAL, "parse state '%s/%s': malformed", dir, STATE_FILE);
    return 0;
}

int state_parse_stat_start_time(const char *stat, uint64_t *ret)
{
    /* comm is in parentheses and may contain anything: fields count from the LAST ')'. */
    const char *p = strrchr(stat, ')');
    if (!p)
        return -EINVAL;
    p++;
    /* After ')' comes field 3 (state); starttime is field 22: skip 19 more fields. */
    for (int field = 3; field < 22; field++) {
        while (*p == ' ')
            p++;
        if (!*p)
            return -EINVAL;
        while (*p && *p != ' ')
            p++;
    }
    while (*p == ' ')
        p++;
    char num[32];
    size_t l = strcspn(p, " \n");
    if (l == 0 || l >= sizeof(num))
        return -EINVAL;
    memcpy(num, p, l);
    num[l] = 0;
    return parse_uint64(num, ret);
}

/* Reads /proc/PID/stat into buf, NUL-terminated. Returns the length, or -ESRCH when the
 * process is gone (no such file), or -errno. */
static ssize_t read_proc_stat(pid_t pid, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -ESRCH : -errno;
    ssize_t n = read(fd, buf, len - 1);
    if (n < 0)
        return -errno;
    buf[n] = 0;
    return n;
}

int state_proc_start_time(pid_t pid, uint64_t *ret)
{
    char buf[1024];
    ssize_t n = read_proc_stat(pid, buf, sizeof(buf));
    if (n < 0)
        return (int)n;
    return state_parse_stat_start_time(buf, ret);
}

/* 1 = running, 0 = a zombie (exited, not reaped yet), -1 = gone or another process. */
static int pid_check(pid_t pid, uint64_t start_time)
{
    char buf[1024];
    uint64_t st;
    if (pid <= 0 || read_proc_stat(pid, buf, sizeof(buf)) <= 0)
        return -1;
    const char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || state_parse_stat_start_time(buf, &st) < 0 || st != start_time)
        return -1;
    return (p[2] == 'Z' || p[2] == 'X') ? 0 : 1;
}

bool state_pid_alive(pid_t pid, uint64_t start_time)
{
    /* A zombie has exited: its container is gone even if nobody reaped it yet. */
    return pid_check(pid, start_time) == 1;
}

bool state_pid_exists(pid_t pid, uint64_t start_time)
{
    return pid_check(pid, start_time) >= 0;
}

#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static enum log_level threshold = LOG_LVL_INFO;
static const char *prefix = "mgr: ";
static int out_fd = 2;
static bool timestamps;
static bool initialized;

static void log_init_once(void)
{
    if (initialized)
        return;
    initialized = true;
    const char *d = getenv("MGR_DEBUG");
    if (d && *d && strcmp(d, "0") != 0)
        threshold = LOG_LVL_DEBUG;
}

void log_set_level(enum log_level l)
{
    initialized = true;
    threshold = l;
}

enum log_level log_get_level(void)
{
    log_init_once();
    return threshold;
}

void log_set_prefix(const char *p)
{
    prefix = p ? p : "";
}

void log_set_fd(int fd)
{
    out_fd = fd;
}

void log_set_timestamps(bool on)
{
    timestamps = on;
}

void log_msg(enum log_level l, const char *fmt, ...)
{
    static const char *names[] = {"error: ", "warning: ", "", "debug: "};
    log_init_once();
    if (l > threshold)
        return;
    int saved = errno;
    char line[2048];
    size_t n = 0;
    if (timestamps) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        localtime_r(&ts.tv_sec, &tm);
        n += strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ld ", ts.tv_nsec / 1000000);
    }
    n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s", prefix, names[l]);
    if (n < sizeof(line)) {
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        va_end(ap);
        if (m > 0)
            n += (size_t)m;
    }
    if (n >= sizeof(line) - 1)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per line so concurrent writers don't interleave mid-line. */
    (void)!write(out_fd, line, n);
    errno = saved;
}

/* Output capture: the daemon owns the read ends of each container's stdout/stderr pipes and
 * appends timestamped lines to ROOT/logs/NAME.log, rotating by size. No process per
 * container (podman's conmon costs ~2 MiB each); see doc/design.md (supervisor). */
#include "manager_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

char *logs_path(const char *root, const char *name)
{
    return strdup_printf("%s/logs/%s.log", root, name);
}

static int log_file_open(struct unit_rt *u)
{
    if (u->log_fd >= 0)
        return 0;
    _cleanup_free_ char *dir = strdup_printf("%s/logs", u->m->o.root);
    _cleanup_free_ char *p = logs_path(u->m->o.root, u->name);
    if (!dir || !p)
        return -ENOMEM;
    (void)mkdir_p(dir, 0700);
    u->log_fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (u->log_fd < 0)
        return -errno;
    struct stat st;
    u->log_size = fstat(u->log_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    return 0;
}

static void log_rotate(struct unit_rt *u)
{
    _cleanup_free_ char *p = logs_path(u->m->o.root, u->name);
    _cleanup_free_ char *p1 = p ? strdup_printf("%s.1", p) : NULL;
    if (!p1)
        return;
    if (u->log_fd >= 0)
        close(u->log_fd);
    u->log_fd = -1;
    if (rename(p, p1) < 0)
        log_warn("unit '%s': rotate log '%s': %s, ignoring", u->name, p, strerror(errno));
    (void)log_file_open(u);
}

static size_t stamp(char *buf, size_t len, const char *stream)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(buf + n, len - n, ".%03ldZ %s ", ts.tv_nsec / 1000000, stream);
    return n;
}

/* Appends data as lines, each prefixed with a timestamp and the stream name. One write()
 * per chunk keeps lines of concurrent streams whole in the file. */
static void log_append(struct unit_rt *u, const char *stream, bool *midline, const char *data,
        size_t n)
{
    if (log_file_open(u) < 0)
        return;
    size_t cap = n + 64 * (n / 16 + 2);
    _cleanup_free_ char *out = malloc(cap);
    if (!out)
        return;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (!*midline) {
            if (o + 64 > cap)
                break;
            o += stamp(out + o, cap - o, stream);
        }
        const char *nl = memchr(data + i, '\n', n - i);
        size_t l = nl ? (size_t)(nl - (data + i)) + 1 : n - i;
        if (o + l > cap)
            break;
        memcpy(out + o, data + i, l);
        o += l;
        i += l;
        *midline = !nl;
    }
    if (write(u->log_fd, out, o) > 0)
        u->log_size += o;
    if (u->log_size >= LOG_ROTATE_AT)
        log_rotate(u);
}

void logs_note(struct unit_rt *u, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(msg) - 2)
        n = sizeof(msg) - 2;
    msg[n++] = '\n';
    bool mid = false;
    log_append(u, "mgr", &mid, msg, (size_t)n);
}

static void drain(struct unit_rt *u, struct log_stream *s, const char *name)
{
    char buf[16384];
    for (int i = 0; i < 16; i++) { /* bounded: a chatty container cannot starve the loop */
        ssize_t r = read(s->fd, buf, sizeof(buf));
        if (r <= 0)
            return;
        log_append(u, name, &s->midline, buf, (size_t)r);
        if ((size_t)r < sizeof(buf))
            return;
    }
}

static void on_pipe(struct loop *l, int fd, uint32_t events, void *data)
{
    struct unit_rt *u = data;
    struct log_stream *s = fd == u->out.fd ? &u->out : &u->err;
    const char *name = s == &u->out ? "stdout" : "stderr";
    if (events & EPOLLIN)
        drain(u, s, name);
    else if (events & (EPOLLHUP | EPOLLERR)) {
        /* Every writer is gone (the container's processes died). */
        loop_del(l, fd);
        close(fd);
        s->fd = -1;
    }
}

int logs_open(struct unit_rt *u, int ret_w[2])
{
    int p1[2], p2[2];
    if (pipe2(p1, O_CLOEXEC) < 0)
        return -errno;
    if (pipe2(p2, O_CLOEXEC) < 0) {
        int r = -errno;
        close(p1[0]);
        close(p1[1]);
        return r;
    }
    /* A larger buffer absorbs a container's output while no daemon reads (crash, re-exec):
     * up to 1 MiB per stream before a writer would block. Pages are only used when filled. */
    (void)fcntl(p1[1], F_SETPIPE_SZ, 1 << 20);
    (void)fcntl(p2[1], F_SETPIPE_SZ, 1 << 20);
    /* Non-blocking on our side only: the container's write ends stay blocking. */
    fcntl(p1[0], F_SETFL, O_NONBLOCK);
    fcntl(p2[0], F_SETFL, O_NONBLOCK);
    u->out = (struct log_stream){p1[0], false};
    u->err = (struct log_stream){p2[0], false};
    ret_w[0] = p1[1];
    ret_w[1] = p2[1];
    return 0;
}

int logs_watch(struct unit_rt *u)
{
    int r = 0;
    if (u->out.fd >= 0)
        r = loop_add(u->m->loop, u->out.fd, EPOLLIN, on_pipe, u);
    if (r >= 0 && u->err.fd >= 0)
        r = loop_add(u->m->loop, u->err.fd, EPOLLIN, on_pipe, u);
    return r;
}

void logs_close(struct unit_rt *u)
{
    struct log_stream *ss[2] = {&u->out, &u->err};
    const char *names[2] = {"stdout", "stderr"};
    for (int i = 0; i < 2; i++) {
        if (ss[i]->fd < 0)
            continue;
        drain(u, ss[i], names[i]);
        loop_del(u->m->loop, ss[i]->fd);
        close(ss[i]->fd);
        ss[i]->fd = -1;
        ss[i]->midline = false;
    }
}

char *logs_tail(struct unit_rt *u, size_t max)
{
    _cleanup_free_ char *p = logs_path(u->m->o.root, u->name);
    if (!p)
        return NULL;
    _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return NULL;
    off_t off = st.st_size > (off_t)max ? st.st_size - (off_t)max : 0;
    char *buf = malloc(max + 1);
    if (!buf)
        return NULL;
    ssize_t r = pread(fd, buf, max, off);
    if (r < 0)
        r = 0;
    buf[r] = 0;
    /* Start at a line boundary when we cut into the file. */
    if (off > 0) {
        char *nl = strchr(buf, '\n');
        if (nl)
            memmove(buf, nl + 1, strlen(nl + 1) + 1);
    }
    return buf;
}

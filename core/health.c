/* Health checks run by the supervisor, so images need no shell or curl:
 *  - tcp/http: a non-blocking socket created inside the container's network namespace (setns
 *    there, socket(), setns back: the socket stays in the namespace it was created in), then
 *    connect to 127.0.0.1:port from the event loop;
 *  - command: rt_exec() inside the container (its namespaces, cgroup and confinement), the
 *    exit status watched through a pidfd;
 *  - sd_notify: a datagram socket per container, RUN/notify/NAME/notify, whose directory is
 *    bind-mounted into that container only, at /run/mgr-notify: the socket a datagram
 *    arrives on says whose it is. (Identifying senders by their pid instead races with a
 *    sender that exits right after sending, as `systemd-notify` does.) READY=1 counts as
 *    healthy. */
#include "manager_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "log.h"
#include "runtime.h"
#include "util.h"

static void probe_start(struct loop *l, struct loop_timer *t, void *data);

static void schedule(struct unit_rt *u, uint64_t at)
{
    u->hc_timer = loop_timer_cancel(u->m->loop, u->hc_timer);
    u->hc_timer = loop_timer_at(u->m->loop, at, probe_start, u);
}

static void probe_reset(struct unit_rt *u)
{
    if (u->hc_fd >= 0) {
        loop_del(u->m->loop, u->hc_fd);
        close(u->hc_fd);
        u->hc_fd = -1;
    }
    if (u->hc_pid > 0) {
        kill(u->hc_pid, SIGKILL);
        (void)waitpid(u->hc_pid, NULL, 0);
        u->hc_pid = 0;
    }
}

/* One probe finished: record, maybe restart, schedule the next. */
static void probe_done(struct unit_rt *u, bool ok, const char *why)
{
    const struct health_spec *hs = &u->unit->health;
    probe_reset(u);
    u->hc_timer = loop_timer_cancel(u->m->loop, u->hc_timer);
    enum sv_health before = u->hc.state;
    uint64_t now = now_ms();
    bool became_unhealthy = sv_hc_result(&u->hc, hs, ok, now);
    if (!ok)
        log_debug("unit '%s': health probe failed: %s", u->name, why);
    if (u->hc.state != before) {
        log_info("unit '%s': %s%s%s", u->name, sv_health_name(u->hc.state), ok ? "" : ": ",
                ok ? "" : why);
        logs_note(u, "health: %s%s%s%s", sv_health_name(u->hc.state), ok ? "" : " (",
                ok ? "" : why, ok ? "" : ")");
        mgr_emit(u->m, u, "health", why);
        api_poll_pending(u->m);
    }
    schedule(u, now + hs->interval_ms);
    if (became_unhealthy && hs->on_unhealthy_restart)
        mgr_unhealthy(u); /* may stop the container: nothing after this */
    else if (u->hc.state != before)
        mgr_health_changed(u);
}

static void on_probe_fd(struct loop *l, int fd, uint32_t events, void *data)
{
    struct unit_rt *u = data;
    const struct health_spec *hs = &u->unit->health;
    if (u->hc_is_exec) {
        int st = 0;
        pid_t p = waitpid(u->hc_pid, &st, WNOHANG);
        if (p == 0)
            return;
        u->hc_pid = 0;
        char why[64];
        snprintf(why, sizeof(why), "command exited %d", rt_exit_code(st));
        probe_done(u, p > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, why);
        return;
    }
    if (events & EPOLLOUT) {
        int e = 0;
        socklen_t len = sizeof(e);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len);
        if (e) {
            char why[128];
            snprintf(why, sizeof(why), "connect to port %u: %s", hs->port, strerror(e));
            probe_done(u, false, why);
            return;
        }
        if (hs->kind == HEALTH_TCP) {
            probe_done(u, true, NULL);
            return;
        }
        char req[600];
        int n = snprintf(req, sizeof(req),
                "GET %s HTTP/1.0\r\nHost: localhost\r\nUser-Agent: mgr-health\r\n\r\n",
                hs->path ? hs->path : "/");
        if (n <= 0 || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
            probe_done(u, false, "send http request failed");
            return;
        }
        (void)loop_mod(l, fd, EPOLLIN);
        return;
    }
    char buf[256];
    ssize_t r = recv(fd, buf, sizeof(buf) - 1, 0);
    if (r < 0 && errno == EAGAIN)
        return;
    if (r <= 0) {
        probe_done(u, false, "http: connection closed without a status line");
        return;
    }
    buf[r] = 0;
    int code = 0;
    if (sscanf(buf, "HTTP/%*d.%*d %d", &code) != 1) {
        probe_done(u, false, "http: no status line");
        return;
    }
    char why[64];
    snprintf(why, sizeof(why), "http status %d", code);
    probe_done(u, code >= 200 && code < 400, why);
}

static void on_probe_timeout(struct loop *l, struct loop_timer *t, void *data)
{
    struct unit_rt *u = data;
    u->hc_timer = NULL;
    probe_done(u, false, "timed out");
}

/* Socket created inside the container's network namespace. */
static int socket_in_netns(struct unit_rt *u)
{
    char p[64];
    snprintf(p, sizeof(p), "/proc/%d/ns/net", (int)u->c->pid);
    _cleanup_close_ int nsfd = open(p, O_RDONLY | O_CLOEXEC);
    _cleanup_close_ int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (nsfd < 0 || self < 0)
        return -errno;
    if (setns(nsfd, CLONE_NEWNET) < 0)
        return -errno;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int saved = errno;
    /* Going back cannot fail for a namespace we were in a moment ago (we hold its fd);
     * if it did, the daemon would be in the wrong netns: treat that as fatal. */
    if (setns(self, CLONE_NEWNET) < 0) {
        log_error("health: return to own network namespace: %s", strerror(errno));
        abort();
    }
    return fd >= 0 ? fd : -saved;
}

static void probe_start(struct loop *l, struct loop_timer *t, void *data)
{
    struct unit_rt *u = data;
    u->hc_timer = NULL;
    if (!u->c || !u->unit)
        return;
    const struct health_spec *hs = &u->unit->health;
    probe_reset(u);
    u->hc_is_exec = hs->kind == HEALTH_COMMAND;
    if (hs->kind == HEALTH_COMMAND) {
        int stdio[3] = {-1, -1, -1};
        struct err e = {0};
        int pidfd = -1;
        if (rt_exec(u->c, u->unit, hs->command, NULL, stdio, &u->hc_pid, &pidfd, &e) < 0) {
            u->hc_pid = 0;
            probe_done(u, false, e.msg);
            return;
        }
        u->hc_fd = pidfd;
        (void)loop_add(l, pidfd, EPOLLIN, on_probe_fd, u);
    } else {
        int fd = socket_in_netns(u);
        if (fd < 0) {
            char why[128];
            snprintf(why, sizeof(why), "socket in container netns: %s", strerror(-fd));
            probe_done(u, false, why);
            return;
        }
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(hs->port),
                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
            char why[128];
            snprintf(why, sizeof(why), "connect to port %u: %s", hs->port, strerror(errno));
            close(fd);
            probe_done(u, false, why);
            return;
        }
        u->hc_fd = fd;
        (void)loop_add(l, fd, EPOLLOUT, on_probe_fd, u);
    }
    u->hc_timer = loop_timer_at(l, now_ms() + (hs->timeout_ms ? hs->timeout_ms : 5000),
            on_probe_timeout, u);
}

void health_start(struct unit_rt *u)
{
    const struct health_spec *hs = &u->unit->health;
    sv_hc_start(&u->hc, hs, now_ms());
    if (hs->kind == HEALTH_NONE)
        return;
    /* First probe soon after start (a fraction of the interval), then every interval. */
    uint64_t first = hs->interval_ms < 1000 ? hs->interval_ms : 1000;
    schedule(u, now_ms() + first);
}

void health_cancel(struct unit_rt *u)
{
    probe_reset(u);
    u->hc_timer = loop_timer_cancel(u->m->loop, u->hc_timer);
}

/* ---- sd_notify ---- */

static void on_notify(struct loop *l, int fd, uint32_t events, void *data)
{
    struct unit_rt *u = data;
    for (;;) {
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
        if (n < 0)
            return;
        buf[n] = 0;
        /* One assignment per line; READY=1 must be a whole line. */
        bool ready = false;
        for (char *line = buf, *next; line; line = next) {
            next = strchr(line, '\n');
            if (next)
                *next++ = '\0';
            ready |= STREQ(line, "READY=1");
        }
        if (!ready || !u->c || u->hc.state == HEALTH_STATE_HEALTHY)
            continue;
        sv_hc_ready(&u->hc);
        log_info("unit '%s': ready (sd_notify)", u->name);
        mgr_emit(u->m, u, "health", "READY=1");
        mgr_health_changed(u);
        api_poll_pending(u->m);
    }
}

char *health_notify_path(struct unit_rt *u)
{
    struct mgr *m = u->m;
    if (!m->notify_ok)
        return NULL;
    _cleanup_free_ char *dir = strdup_printf("%s/notify/%s", m->o.run, u->name);
    if (!dir)
        return NULL;
    if (u->notify_fd >= 0)
        return TAKE_PTR(dir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (mkdir_p(dir, 0755) < 0 ||
            snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir) >= (int)sizeof(sa.sun_path))
        return NULL;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return NULL;
    (void)unlink(sa.sun_path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            loop_add(m->loop, fd, EPOLLIN, on_notify, u) < 0) {
        log_warn("unit '%s': sd_notify socket '%s': %m; READY=1 is not available", u->name,
                sa.sun_path);
        close(fd);
        return NULL;
    }
    /* Containers may run as any uid; only this container sees the socket. */
    (void)chmod(sa.sun_path, 0666);
    u->notify_fd = fd;
    return TAKE_PTR(dir);
}

void health_notify_close(struct unit_rt *u)
{
    if (u->notify_fd < 0)
        return;
    loop_del(u->m->loop, u->notify_fd);
    close(u->notify_fd);
    u->notify_fd = -1;
    _cleanup_free_ char *dir = strdup_printf("%s/notify/%s", u->m->o.run, u->name);
    if (dir)
        (void)rm_rf_at(AT_FDCWD, dir);
}

int health_notify_listen(struct mgr *m)
{
    _cleanup_free_ char *dir = strdup_printf("%s/notify", m->o.run);
    if (!dir)
        return -ENOMEM;
    int r = mkdir_p(dir, 0755);
    if (r < 0) {
        log_warn("sd_notify directory '%s': %s; READY=1 is not available", dir, strerror(-r));
        return r;
    }
    m->notify_ok = true;
    return 0;
}

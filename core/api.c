/* Control socket server: RUN/mgr.sock, mode 0600, root only (SO_PEERCRED), one JSON request
 * and one JSON response per frame (doc/api.md). `events` turns the connection into a stream;
 * `apply` may answer later, once the stops and starts of its plan have settled. */
#include "manager_int.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "unit_parse.h"
#include "util.h"

#define CONN_OUT_MAX (64u << 20) /* a subscriber that does not read is dropped */

struct conn {
    struct conn *next;
    struct mgr *m;
    int fd;
    struct proto_buf in;
    char *out;
    size_t out_len, out_off;
    bool events;      /* subscribed to the event stream */
    json_t *pending;  /* apply response held until the plan settled */
    bool close_after; /* close once the output is flushed */
};

static void conn_close(struct conn *c)
{
    struct mgr *m = c->m;
    for (struct conn **pp = &m->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    loop_del(m->loop, c->fd);
    close(c->fd);
    proto_buf_free(&c->in);
    free(c->out);
    json_decref(c->pending);
    free(c);
}

static void conn_flush(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            conn_close(c);
            return;
        }
        c->out_off += (size_t)w;
    }
    if (c->out_off == c->out_len) {
        free(c->out);
        c->out = NULL;
        c->out_len = c->out_off = 0;
        if (c->close_after) {
            conn_close(c);
            return;
        }
        (void)loop_mod(c->m->loop, c->fd, EPOLLIN);
    } else {
        (void)loop_mod(c->m->loop, c->fd, EPOLLIN | EPOLLOUT);
    }
}

/* Queues one frame; returns false if the connection was closed. */
static bool conn_send(struct conn *c, const json_t *msg)
{
    char *buf;
    size_t len;
    if (proto_encode(msg, &buf, &len) < 0)
        return true;
    /* A big answer (status of many units) was built from as many temporaries: the heap pages
     * they dirtied are given back once the loop is idle (manager.c, on_loop_after). */
    if (len > 16384)
        c->m->trim_pending = true;
    if (c->out_len - c->out_off + len > CONN_OUT_MAX) {
        free(buf);
        conn_close(c);
        return false;
    }
    if (!c->out) {
        c->out = buf;
        c->out_len = len;
        c->out_off = 0;
    } else {
        char *n = realloc(c->out, c->out_len + len);
        if (!n) {
            free(buf);
            return true;
        }
        memcpy(n + c->out_len, buf, len);
        c->out = n;
        c->out_len += len;
        free(buf);
    }
    conn_flush(c);
    return true;
}

static json_t *error_resp(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *error_resp(const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return json_pack("{s:b,s:s}", "ok", 0, "error", msg);
}

void api_broadcast(struct mgr *m, json_t *ev)
{
    for (struct conn *c = m->conns, *next; c; c = next) {
        next = c->next;
        if (c->events)
            conn_send(c, ev);
    }
}

void api_poll_pending(struct mgr *m)
{
    mgr_after_change(m);
    if (mgr_busy(m))
        return;
    for (struct conn *c = m->conns, *next; c; c = next) {
        next = c->next;
        if (!c->pending)
            continue;
        json_t *p = TAKE_PTR(c->pending);
        /* Results: where each unit of the plan ended up. */
        json_t *res = json_array();
        size_t i;
        json_t *a;
        bool failed = false;
        json_array_foreach(json_object_get(p, "plan"), i, a) {
            const char *name = json_string_value(json_object_get(a, "name"));
            const char *act = json_string_value(json_object_get(a, "action"));
            struct unit_rt *u = name ? mgr_find(m, name) : NULL;
            const char *state = !u ? "removed"
                                : u->is_network ? (u->net_up ? "up" : "down")
                                                : sv_state_name(u->sv.state);
            bool bad = u && act && !STREQ(act, "keep") &&
                       ((u->is_network && !u->net_up) || u->sv.state == SV_FAILED ||
                               (u->last_error && u->sv.state != SV_RUNNING));
            failed |= bad;
            json_array_append_new(res, json_pack("{s:s?,s:s?,s:s,s:s?}", "name", name, "action",
                    act, "state", state, "error", bad && u ? u->last_error : NULL));
        }
        json_object_set_new(p, "results", res);
        if (failed) {
            json_object_set_new(p, "ok", json_false());
            json_object_set_new(p, "error", json_string("some units failed to start"));
        }
        c->close_after = false;
        conn_send(c, p);
        json_decref(p);
    }
}

static int strv_from_json(json_t *a, char ***ret)
{
    size_t i;
    json_t *v;
    char **r = NULL;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v) || strv_push(&r, json_string_value(v)) < 0) {
            strv_free(r);
            return -EINVAL;
        }
    }
    *ret = r;
    return 0;
}

static void handle(struct conn *c, json_t *req)
{
    struct mgr *m = c->m;
    const char *cmd = json_string_value(json_object_get(req, "cmd"));
    const char *name = json_string_value(json_object_get(req, "name"));
    json_t *resp = NULL;
    if (!cmd) {
        resp = error_resp("request has no \"cmd\"");
    } else if (STREQ(cmd, "ping")) {
        resp = json_pack("{s:b,s:i}", "ok", 1, "pid", (int)getpid());
    } else if (STREQ(cmd, "apply")) {
        char **paths = NULL;
        if (strv_from_json(json_object_get(req, "paths"), &paths) < 0) {
            resp = error_resp("\"paths\" must be an array of strings");
        } else {
            bool dry = json_is_true(json_object_get(req, "dry_run"));
            int r = mgr_apply(m, paths, strv_len(paths), dry, &resp);
            strv_free(paths);
            if (r < 0) {
                json_decref(resp);
                resp = error_resp("apply: %s", strerror(-r));
            } else if (!dry && json_is_true(json_object_get(resp, "ok"))) {
                /* Answer with results once what the plan started has settled. */
                c->pending = resp;
                api_poll_pending(m);
                return;
            }
        }
    } else if (STREQ(cmd, "status")) {
        if (name && !mgr_find(m, name))
            resp = error_resp("no unit '%s'", name);
        else
            resp = json_pack("{s:b,s:o,s:i}", "ok", 1, "units", mgr_status_json(m, name),
                    "daemon_pid", (int)getpid());
    } else if (STREQ(cmd, "start") || STREQ(cmd, "stop") || STREQ(cmd, "restart") ||
               STREQ(cmd, "kill") || STREQ(cmd, "reset-failed")) {
        char eb[512] = "";
        int sig = SIGTERM;
        json_t *js = json_object_get(req, "signal");
        if (json_is_integer(js))
            sig = (int)json_integer_value(js);
        else if (json_is_string(js))
            sig = unit_signal_parse(json_string_value(js));
        if (!name)
            resp = error_resp("\"%s\" needs \"name\"", cmd);
        else if (sig <= 0 || sig >= 65)
            resp = error_resp("invalid signal");
        else if (mgr_control(m, cmd, name, sig, eb, sizeof(eb)) < 0)
            resp = error_resp("%s", eb);
        else {
            c->pending = json_pack("{s:b,s:[{s:s,s:s}]}", "ok", 1, "plan", "name", name,
                    "action", cmd);
            api_poll_pending(m);
            return;
        }
    } else if (STREQ(cmd, "events")) {
        c->events = true;
        resp = json_pack("{s:b,s:s}", "ok", 1, "stream", "events");
    } else if (STREQ(cmd, "daemon-reexec")) {
        resp = json_pack("{s:b,s:i}", "ok", 1, "pid", (int)getpid());
        /* Answer first (synchronously: the exec closes the socket). */
        char *buf;
        size_t len;
        if (proto_encode(resp, &buf, &len) == 0) {
            (void)!send(c->fd, buf, len, MSG_NOSIGNAL);
            free(buf);
        }
        json_decref(resp);
        mgr_reexec(m);
        return;
    } else if (STREQ(cmd, "poweroff") || STREQ(cmd, "reboot")) {
        if (!m->o.pid1 && getppid() != 1) {
            resp = error_resp("%s: only when mgr runs as PID 1", cmd);
        } else {
            /* PID 1 owns the shutdown sequence (core/pid1.h): it asks us to stop everything
             * with SIGPWR, then powers off or reboots. */
            kill(1, STREQ(cmd, "poweroff") ? SIGTERM : SIGINT);
            resp = json_pack("{s:b}", "ok", 1);
        }
    } else {
        resp = error_resp("unknown command '%s'", cmd);
    }
    if (resp) {
        conn_send(c, resp);
        json_decref(resp);
    }
}

static void on_conn(struct loop *l, int fd, uint32_t events, void *data)
{
    struct conn *c = data;
    if (events & EPOLLOUT) {
        conn_flush(c);
        return; /* c may be gone */
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        char buf[16384];
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r <= 0) {
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                return;
            conn_close(c);
            return;
        }
        if (proto_buf_append(&c->in, buf, (size_t)r) < 0) {
            conn_close(c);
            return;
        }
        for (;;) {
            json_t *req = NULL;
            int t = proto_buf_take(&c->in, &req);
            if (t == 0)
                break;
            if (t < 0) {
                json_t *e = error_resp("bad frame: %s", strerror(-t));
                c->close_after = true;
                conn_send(c, e);
                json_decref(e);
                return;
            }
            handle(c, req);
            json_decref(req);
            /* handle() may have closed or re-exec'ed; one request per read is enough. */
            return;
        }
    }
}

static void on_accept(struct loop *l, int fd, uint32_t events, void *data)
{
    struct mgr *m = data;
    for (;;) {
        int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0)
            return;
        struct ucred cr;
        socklen_t len = sizeof(cr);
        /* Root only: the socket mode already says so; the peer check also holds when the
         * run directory is shared. */
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
                (cr.uid != 0 && cr.uid != geteuid())) {
            log_warn("control socket: refused a client with uid %d", (int)cr.uid);
            close(cfd);
            continue;
        }
        struct conn *c = calloc(1, sizeof(*c));
        if (!c || loop_add(m->loop, cfd, EPOLLIN, on_conn, c) < 0) {
            free(c);
            close(cfd);
            continue;
        }
        c->m = m;
        c->fd = cfd;
        c->next = m->conns;
        m->conns = c;
    }
}

int api_listen(struct mgr *m)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", m->o.run, PROTO_SOCK_NAME);
    if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
        log_error("control socket path '%s/%s' is too long", m->o.run, PROTO_SOCK_NAME);
        return -ENAMETOOLONG;
    }
    m->sock_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (m->sock_fd < 0) {
        log_error("control socket: %s", strerror(errno));
        return -errno;
    }
    /* We hold the daemon lock, so a socket file left there is stale. */
    (void)unlink(sa.sun_path);
    mode_t old = umask(0177);
    int r = bind(m->sock_fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (r < 0 || listen(m->sock_fd, 128) < 0) {
        r = -errno;
        log_error("control socket '%s': %s", sa.sun_path, strerror(-r));
        close(m->sock_fd);
        m->sock_fd = -1;
        return r;
    }
    (void)chmod(sa.sun_path, 0600);
    return loop_add(m->loop, m->sock_fd, EPOLLIN, on_accept, m);
}

void api_close(struct mgr *m)
{
    while (m->conns)
        conn_close(m->conns);
    if (m->sock_fd >= 0) {
        loop_del(m->loop, m->sock_fd);
        close(m->sock_fd);
        m->sock_fd = -1;
        _cleanup_free_ char *p = strdup_printf("%s/%s", m->o.run, PROTO_SOCK_NAME);
        if (p)
            (void)unlink(p);
    }
}

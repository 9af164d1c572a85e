/* The supervisor: glue between the event loop, the pure reconcile and supervise decisions,
 * the runtime and the state on disk. This is the place that logs.
 *
 * State on disk:
 *   RUN/containers/NAME/    the runtime's record (pid, start time, cgroup): adoption
 *   RUN/sv/NAME.json        ours: spec hash + canonical spec of the running container,
 *                           restart count, death history (so a new daemon can diff and report)
 *   ROOT/intent/NAME        exists while the user stopped NAME (survives reboots)
 *   ROOT/logs/NAME.log      container output (logs.c)
 *   RUN/reexec.json         fds handed across daemon-reexec */
#include "manager_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stddef.h>
#include <sys/wait.h>
#include <dirent.h>
#include <malloc.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "err.h"
#include "image.h"
#include "log.h"
#include "runtime.h"
#include "sec.h"
#include "secfilter.h"
#include "sys.h"
#include "unit_parse.h"
#include "util.h"

extern char **environ;

static void image_info_freep(struct image_info **p)
{
    image_info_free(*p);
}

#define DEBOUNCE_MS 200

static void drive(struct unit_rt *u, enum sv_event ev, const struct sv_exit *ex);
static void on_pidfd(struct loop *l, int fd, uint32_t events, void *data);
static void remove_idle_networks(struct mgr *m);

/* Used for a container whose unit is unknown (adopted, file gone): stop with SIGTERM, 10 s,
 * never restart. */
static struct unit fallback_unit = {
        .restart = {.policy = RESTART_NO, .delay_ms = 100, .max_delay_ms = 30000,
                .reset_after_ms = 60000, .burst = 5, .interval_ms = 60000},
        .stop = {.signal = SIGTERM, .timeout_ms = 10000},
};

static const struct unit *unit_of(const struct unit_rt *u)
{
    return u->unit ? u->unit : &fallback_unit;
}

/* The kept group of a dead run goes: the unit does not start again (soon, or with this spec). */
static void cg_kept_drop(struct unit_rt *u)
{
    struct err e = {0};
    if (cg_destroy(u->kept_cg, &e) < 0)
        log_warn("unit '%s': remove its cgroup: %s", u->name, e.msg);
    u->kept_cg = cg_group_free(u->kept_cg);
}

struct unit_rt *mgr_find(struct mgr *m, const char *name)
{
    for (struct unit_rt *u = m->units; u; u = u->next)
        if (STREQ(u->name, name))
            return u;
    return NULL;
}

static struct unit_rt *urt_new(struct mgr *m, const char *name, bool is_network)
{
    struct unit_rt *u = calloc(1, sizeof(*u));
    if (!u)
        return NULL;
    u->name = strdup(name);
    if (!u->name) {
        free(u);
        return NULL;
    }
    u->m = m;
    u->is_network = is_network;
    u->out.fd = u->err.fd = u->log_fd = u->hc_fd = u->notify_fd = -1;
    sv_init(&u->sv, false);
    /* Append: keeps the listing in creation order. */
    struct unit_rt **pp = &m->units;
    while (*pp)
        pp = &(*pp)->next;
    *pp = u;
    m->n_units++;
    return u;
}

static void urt_free(struct mgr *m, struct unit_rt *u)
{
    for (struct unit_rt **pp = &m->units; *pp; pp = &(*pp)->next)
        if (*pp == u) {
            *pp = u->next;
            m->n_units--;
            break;
        }
    u->timer = loop_timer_cancel(m->loop, u->timer);
    health_cancel(u);
    health_notify_close(u);
    logs_close(u);
    if (u->log_fd >= 0)
        close(u->log_fd);
    if (u->c) {
        if (u->c->pidfd >= 0)
            loop_del(m->loop, u->c->pidfd);
        rt_container_free(u->c);
    }
    if (u->kept_cg)
        cg_kept_drop(u);
    for (uint32_t i = 0; i < HIST_MAX; i++)
        free(u->hist[i].tail);
    unit_free(u->unit);
    unit_free(u->next_unit);
    free(u->spec_text);
    free(u->last_error);
    free(u->name);
    free(u);
}

/* ---- persistence ---- */

static char *record_path(struct mgr *m, const char *name)
{
    return strdup_printf("%s/sv/%s.json", m->o.run, name);
}

static json_t *exit_json(const struct sv_exit *e)
{
    return json_pack("{s:i,s:i,s:b,s:b,s:b,s:b}", "code", e->code, "signal", e->signal, "oom",
            e->oom, "unhealthy", e->unhealthy, "unknown", e->unknown, "start_failed",
            e->start_failed);
}

static void exit_from_json(json_t *j, struct sv_exit *e)
{
    int code = -1, sig = 0, oom = 0, unh = 0, unk = 0, sf = 0;
    json_unpack(j, "{s?i,s?i,s?b,s?b,s?b,s?b}", "code", &code, "signal", &sig, "oom", &oom,
            "unhealthy", &unh, "unknown", &unk, "start_failed", &sf);
    *e = (struct sv_exit){code, sig, oom, unh, unk, sf};
}

/* The canonical spec that u->hash describes: built from the unit when there is one (the
 * replacement waiting for the old container's removal first), else parsed from the recorded
 * text of an adopted unit. Kept as text only in that case (it was ~1.1 KiB per unit). */
static json_t *spec_json(const struct unit_rt *u)
{
    const struct unit *x = u->next_unit ? u->next_unit : u->unit;
    if (x)
        return unit_to_json(x);
    return u->spec_text ? json_loads(u->spec_text, 0, NULL) : NULL;
}

static void record_write(struct unit_rt *u)
{
    struct mgr *m = u->m;
    json_t *spec = spec_json(u);
    _cleanup_free_ char *spec_text =
            spec ? json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(spec);
    json_t *hist = json_array();
    uint32_t n = u->n_hist < HIST_MAX ? u->n_hist : HIST_MAX;
    for (uint32_t k = 0; k < n; k++) {
        const struct death *d = &u->hist[(u->n_hist - n + k) % HIST_MAX];
        json_array_append_new(hist, json_pack("{s:I,s:o,s:s?}", "time", (json_int_t)d->when,
                "exit", exit_json(&d->exit), "tail", d->tail));
    }
    json_t *j = json_pack("{s:s,s:s,s:s?,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "name", u->name,
            "hash", u->hash, "spec", spec_text, "network", u->is_network, "restarts",
            (json_int_t)u->sv.restarts, "started", (json_int_t)u->started_wall, "oom_base",
            (json_int_t)u->oom_base, "cpu_base", (json_int_t)u->cpu_base, "io_read_base",
            (json_int_t)u->io_read_base, "io_write_base", (json_int_t)u->io_write_base,
            "history", hist);
    if (!j)
        return;
    /* A unit that is down on purpose stays down across a daemon restart or re-exec. */
    json_object_set_new(j, "state", json_string(sv_state_name(u->sv.state)));
    /* So is one that said READY=1 or passed its checks: a new daemon keeps it healthy. */
    json_object_set_new(j, "health", json_string(sv_health_name(u->hc.state)));
    if (u->sv.has_exit)
        json_object_set_new(j, "last_exit", exit_json(&u->sv.last_exit));
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    _cleanup_free_ char *dir = strdup_printf("%s/sv", m->o.run);
    _cleanup_free_ char *p = record_path(m, u->name);
    if (text && dir && p) {
        (void)mkdir_p(dir, 0700);
        int r = write_file_atomic_at(AT_FDCWD, p, text, strlen(text), 0600, false);
        if (r < 0)
            log_warn("unit '%s': write record '%s': %s, ignoring", u->name, p, strerror(-r));
    }
    free(text);
}

static void record_load(struct unit_rt *u)
{
    _cleanup_free_ char *p = record_path(u->m, u->name);
    if (!p)
        return;
    json_t *j = json_load_file(p, 0, NULL);
    if (!j)
        return;
    const char *hash = NULL, *spec = NULL, *health = NULL;
    json_int_t restarts = 0, started = 0, oom_base = 0, cpu_base = 0, io_rb = 0, io_wb = 0;
    json_t *hist = NULL;
    json_unpack(j, "{s?s,s?s,s?I,s?I,s?I,s?I,s?I,s?I,s?o,s?s}", "hash", &hash, "spec", &spec,
            "restarts", &restarts, "started", &started, "oom_base", &oom_base, "cpu_base",
            &cpu_base, "io_read_base", &io_rb, "io_write_base", &io_wb, "history", &hist,
            "health", &health);
    for (enum sv_health h = HEALTH_STATE_NONE; health && h <= HEALTH_STATE_UNHEALTHY; h++)
        if (STREQ(health, sv_health_name(h)))
            u->hc.state = h;
    if (hash)
        snprintf(u->hash, sizeof(u->hash), "%s", hash);
    if (spec)
        u->spec_text = strdup(spec);
    u->sv.restarts = (uint32_t)restarts;
    u->started_wall = (uint64_t)started;
    u->oom_base = (uint64_t)oom_base;
    u->cpu_base = (uint64_t)cpu_base;
    u->io_read_base = (uint64_t)io_rb;
    u->io_write_base = (uint64_t)io_wb;
    u->ours = true;
    size_t i;
    json_t *d;
    json_array_foreach(hist, i, d) {
        struct death *h = &u->hist[u->n_hist % HIST_MAX];
        free(h->tail);
        json_int_t t = 0;
        json_t *ex = NULL;
        const char *tail = NULL;
        json_unpack(d, "{s?I,s?o,s?s}", "time", &t, "exit", &ex, "tail", &tail);
        h->when = (uint64_t)t;
        exit_from_json(ex, &h->exit);
        h->tail = tail ? strdup(tail) : NULL;
        u->n_hist++;
    }
    json_decref(j);
}

static void record_remove(struct mgr *m, const char *name)
{
    _cleanup_free_ char *p = record_path(m, name);
    if (p)
        (void)unlink(p);
}

static char *intent_path(struct mgr *m, const char *name)
{
    return strdup_printf("%s/intent/%s", m->o.root, name);
}

static bool intent_get(struct mgr *m, const char *name)
{
    _cleanup_free_ char *p = intent_path(m, name);
    return p && access(p, F_OK) == 0;
}

static void intent_set(struct mgr *m, const char *name, bool stopped)
{
    _cleanup_free_ char *p = intent_path(m, name);
    _cleanup_free_ char *dir = strdup_printf("%s/intent", m->o.root);
    if (!p || !dir)
        return;
    if (stopped) {
        (void)mkdir_p(dir, 0700);
        int r = write_file_atomic_at(AT_FDCWD, p, "stopped\n", 8, 0600, true);
        if (r < 0)
            log_warn("unit '%s': persist stop intent: %s, ignoring", name, strerror(-r));
    } else {
        (void)unlink(p);
    }
}

/* ---- events ---- */

void mgr_emit(struct mgr *m, struct unit_rt *u, const char *what, const char *detail)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    /* A death is dated when the daemon saw it, before the teardown that precedes the event. */
    if (u->death_us && STREQ(what, "exited")) {
        us = u->death_us;
        u->death_us = 0;
    }
    json_t *ev = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:s?}", "time", (json_int_t)(us / 1000),
            "time_us", (json_int_t)us, "unit", u->name, "event", what, "state",
            u->is_network ? (u->net_up ? "up" : "down") : sv_state_name(u->sv.state),
            "health", sv_health_name(u->hc.state), "detail", detail);
    if (ev) {
        api_broadcast(m, ev);
        json_decref(ev);
    }
}

/* ---- dependencies ---- */

static bool dep_satisfied(struct mgr *m, const struct dependency *d)
{
    struct unit_rt *t = mgr_find(m, d->name);
    if (!t || t->removing)
        return false;
    switch (d->condition) {
    case DEP_STARTED: return t->sv.state == SV_RUNNING;
    case DEP_HEALTHY:
        if (t->sv.state != SV_RUNNING)
            return false;
        return t->hc.state == HEALTH_STATE_HEALTHY || t->hc.state == HEALTH_STATE_NONE;
    case DEP_COMPLETED:
        return t->sv.state == SV_EXITED && t->sv.has_exit && t->sv.last_exit.code == 0;
    }
    return false;
}

static bool deps_ready(struct unit_rt *u)
{
    const struct unit *un = unit_of(u);
    for (size_t i = 0; i < un->n_deps; i++)
        if (!dep_satisfied(u->m, &un->deps[i]))
            return false;
    for (size_t i = 0; i < un->n_networks; i++) {
        struct unit_rt *n = mgr_find(u->m, un->networks[i].name);
        if (!n || !n->net_up)
            return false;
    }
    return true;
}

/* After any state change: start waiters whose dependencies are now met. */
static void wake_waiters(struct mgr *m)
{
    bool again = true;
    for (int round = 0; again && round < 64; round++) {
        again = false;
        for (struct unit_rt *u = m->units; u; u = u->next)
            if (u->sv.state == SV_WAITING && !m->shutting_down && deps_ready(u)) {
                drive(u, EV_DEPS_READY, NULL);
                again = true;
            }
    }
}

static void propagate_restart(struct mgr *m, struct unit_rt *dep)
{
    for (struct unit_rt *u = m->units; u; u = u->next) {
        const struct unit *un = unit_of(u);
        for (size_t i = 0; i < un->n_deps; i++)
            if (un->deps[i].restart && STREQ(un->deps[i].name, dep->name) &&
                    u->sv.state == SV_RUNNING) {
                log_info("unit '%s': restarting because '%s' restarted", u->name, dep->name);
                drive(u, EV_DEP_RESTARTED, NULL);
            }
    }
}

/* ---- effects ---- */

static void on_timer(struct loop *l, struct loop_timer *t, void *data)
{
    struct unit_rt *u = data;
    u->timer = NULL;
    drive(u, EV_TIMER, NULL);
}

static void arm(struct unit_rt *u, uint64_t at)
{
    u->timer = loop_timer_cancel(u->m->loop, u->timer);
    if (at)
        u->timer = loop_timer_at(u->m->loop, at, on_timer, u);
}

static const char *exit_reason(const struct sv_exit *e, char *buf, size_t len)
{
    if (e->start_failed)
        snprintf(buf, len, "start failed");
    else if (e->oom)
        snprintf(buf, len, "OOM killed");
    else if (e->unhealthy)
        snprintf(buf, len, "unhealthy");
    else if (e->unknown)
        snprintf(buf, len, "died (exit status unknown: not our child)");
    else if (e->signal)
        snprintf(buf, len, "killed by %s", unit_signal_name(e->signal) ?
                unit_signal_name(e->signal) : "signal");
    else
        snprintf(buf, len, "exit %d", e->code);
    return buf;
}

static void record_death(struct unit_rt *u, const struct sv_exit *e)
{
    struct death *d = &u->hist[u->n_hist % HIST_MAX];
    free(d->tail);
    d->when = now_realtime_ms();
    d->exit = *e;
    d->tail = logs_tail(u, TAIL_MAX);
    u->n_hist++;
}

/* First step of a start: image, output pipes, the runtime's rt_start_begin (the child is
 * cloned and builds its rootfs while the next ones are begun). */
static int spawn_begin_unit(struct unit_rt *u, struct rt_starting **ret, struct err *e)
{
    struct mgr *m = u->m;
    const struct unit *un = u->unit;
    if (!un)
        return err_setx(e, ENOENT, "unit '%s': no unit file", u->name);
    _cleanup_(image_info_freep) struct image_info *info = NULL;
    int r;
    char *dir_layers[2] = {NULL, NULL};
    struct image_info dir_info = {.layers = dir_layers};
    if (un->image && strncmp(un->image, "dir:", 4) == 0) {
        /* A directory is used in place: no store, no config (fast path). */
        dir_layers[0] = un->image + 4;
    } else {
        r = image_prepare(m->o.root, un->image, u->name, NULL, &info, e);
        if (r < 0)
            return err_wrap(e, "unit '%s': image '%s'", u->name, un->image);
    }
    const struct image_info *img = info ? info : &dir_info;
    int w[2] = {-1, -1};
    r = logs_open(u, w);
    if (r < 0)
        return err_set(e, -r, "unit '%s': create output pipes", u->name);
    struct rt_spec spec = {
            .unit = un,
            .root_dir = m->o.root,
            .run_dir = m->o.run,
            .stdio = {-1, w[0], w[1]},
            .lower_dirs = img->layers,
            .image_entrypoint = img->entrypoint,
            .image_cmd = img->cmd,
            .image_env = img->env,
            .image_workdir = img->workdir,
            .image_user = img->user,
            .cgm = m->cgm,
            .net = m->net_ok ? &m->net : NULL,
            .spare_netns = &m->spare_netns,
    };
    struct rt_bind binds[1];
    _cleanup_free_ char *notify = health_notify_path(u);
    _cleanup_strv_ char **env = NULL;
    if (notify) {
        /* The image's environment is the lowest layer: the unit's env may override it. */
        env = strv_dup(img->env);
        if ((img->env && !env) ||
                strv_push(&env, "NOTIFY_SOCKET=" HEALTH_NOTIFY_TARGET "/notify") < 0) {
            close(w[0]);
            close(w[1]);
            logs_close(u);
            return err_set(e, ENOMEM, "unit '%s': environment", u->name);
        }
        spec.image_env = env;
        binds[spec.n_binds++] = (struct rt_bind){notify, HEALTH_NOTIFY_TARGET, false};
    }
    spec.binds = binds;
    /* The security plan is built here rather than in each child: the daemon keeps the
     * compiled default seccomp program in memory, where children of one batch would each
     * compile it (tens of ms of CPU) until the disk cache exists. */
    struct sec_plan *sec = NULL;
    secfilter_set_cache_dir(m->o.run);
    r = sec_prepare(un, &sec, e);
    if (r < 0) {
        close(w[0]);
        close(w[1]);
        logs_close(u);
        return strstr(e->msg, u->name) ? r : err_wrap(e, "unit '%s'", u->name);
    }
    spec.sec = sec;
    /* The previous run's emptied group is taken over by cg_create when it was configured for
     * this very spec; a group configured otherwise goes first. */
    if (u->kept_cg && !STREQ(u->cg_kept_hash, u->hash))
        cg_kept_drop(u);
    /* A taken-over group counts on from the previous run: status shows this run's part. */
    const struct cg_stats *k = &u->kept_acct;
    bool reuse = u->kept_cg != NULL;
    u->cpu_base = reuse && k->cpu_usage_ns != UINT64_MAX ? k->cpu_usage_ns : 0;
    u->io_read_base = reuse && k->io_read_bytes != UINT64_MAX ? k->io_read_bytes : 0;
    u->io_write_base = reuse && k->io_write_bytes != UINT64_MAX ? k->io_write_bytes : 0;
    spec.reuse_cg = &u->kept_cg;
    r = rt_start_begin(&spec, ret, e);
    if (u->kept_cg) /* not taken: the start failed before */
        cg_kept_drop(u);
    sec_plan_free(sec); /* the child has its copy */
    /* The child has its own copies of the write ends now. */
    close(w[0]);
    close(w[1]);
    if (r < 0)
        logs_close(u);
    return r;
}

/* The container runs (execve done): watch it, hand its output to the holder, tell the
 * state machine. */
static void spawn_done(struct unit_rt *u, struct rt_container *c)
{
    struct mgr *m = u->m;
    u->c = c;
    if (m->holder && holder_give(m->holder, u->name, u->out.fd, u->err.fd) < 0)
        log_warn("unit '%s': hand output pipes to the holder: %s, ignoring", u->name,
                strerror(errno));
    u->started_wall = now_realtime_ms();
    snprintf(u->cg_hash, sizeof(u->cg_hash), "%s", u->hash); /* its group: this spec's */
    u->oom_base = 0;
    struct cg_stats st;
    if (c->cg && cg_stats_read(c->cg, &st, NULL) >= 0 && st.oom_kills != UINT64_MAX)
        u->oom_base = st.oom_kills;
    int r = loop_add(m->loop, c->pidfd, EPOLLIN, on_pidfd, u);
    if (r < 0)
        log_warn("unit '%s': watch pidfd: %s", u->name, strerror(-r));
    (void)logs_watch(u);
    health_start(u);
    free(u->last_error);
    u->last_error = NULL;
    log_info("unit '%s': started (pid %d)%s", u->name, (int)c->pid,
            u->spawn_restarted ? " [restart]" : "");
    logs_note(u, "container started, pid %d", (int)c->pid);
    drive(u, EV_SPAWNED, NULL);
    record_write(u);
    if (u->spawn_restarted)
        propagate_restart(m, u);
}

static void spawn_failed(struct unit_rt *u, struct err *e)
{
    log_error("%s", e->msg);
    free(u->last_error);
    u->last_error = strdup(e->msg);
    logs_note(u, "start failed: %s", e->msg);
    logs_close(u);
    struct sv_exit fx = {.code = 127, .start_failed = true};
    record_death(u, &fx);
    drive(u, EV_SPAWN_FAILED, NULL);
}

/* Starts every queued unit, up to SPAWN_BATCH at a time, in three rounds (spawn.h): all are
 * cloned and build their rootfs concurrently (the host's CPUs work in parallel), the cgroup
 * placements the parent still has to make follow one another (on v1 they then share one RCU
 * grace period), then each is waited for. Starts queued by what these cause (dependents now
 * ready, restarts) are flushed too. */
#define SPAWN_BATCH 32

/* A container of its own network namespace (not in a user namespace of its own) can be born
 * in one made in advance: rt_spec.spare_netns. */
static bool unit_wants_spare_netns(const struct unit *un)
{
    return (un->ns[NS_NET].mode == NS_PRIVATE || un->ns[NS_NET].mode == NS_NONE) &&
           un->ns[NS_USER].mode != NS_PRIVATE;
}

/* The next such start, typically a crash's replacement, then skips the netns creation in its
 * clone (~0.5 ms of its critical path); the spare is made here, after a batch, once units
 * that take one exist, and kept until used. */
static void spare_netns_make(struct mgr *m)
{
    if (m->spare_netns >= 0 || m->spare_netns == -2)
        return;
    int fd = sys_netns_new();
    if (fd < 0) {
        log_debug("no spare network namespace: %s", strerror(-fd));
        m->spare_netns = -2; /* not here (no CAP_SYS_ADMIN?): never again */
        return;
    }
    m->spare_netns = fd;
}

static void flush_spawns(struct mgr *m)
{
    while (m->spawns_queued) {
        struct {
            struct unit_rt *u;
            struct rt_starting *p;
        } b[SPAWN_BATCH];
        size_t n = 0;
        m->spawns_queued = false;
        for (struct unit_rt *u = m->units; u; u = u->next) {
            if (!u->spawn_queued)
                continue;
            if (n == SPAWN_BATCH) {
                m->spawns_queued = true; /* next round */
                break;
            }
            u->spawn_queued = false;
            if (u->sv.state == SV_STARTING)
                b[n++].u = u;
        }
        uint64_t t0 = now_us();
        size_t k = 0;
        bool spare_used = false;
        for (size_t i = 0; i < n; i++) {
            struct err e = {0};
            spare_used = spare_used || (b[i].u->unit && unit_wants_spare_netns(b[i].u->unit));
            if (spawn_begin_unit(b[i].u, &b[i].p, &e) < 0)
                spawn_failed(b[i].u, &e);
            else
                b[k++] = b[i];
        }
        uint64_t t1 = now_us();
        n = k;
        k = 0;
        for (size_t i = 0; i < n; i++) {
            struct err e = {0};
            if (rt_start_place(b[i].p, &e) < 0)
                spawn_failed(b[i].u, &e);
            else
                b[k++] = b[i];
        }
        uint64_t t2 = now_us();
        for (size_t i = 0; i < k; i++) {
            struct err e = {0};
            struct rt_container *c = NULL;
            if (rt_start_finish(b[i].p, &c, &e) < 0)
                spawn_failed(b[i].u, &e);
            else
                spawn_done(b[i].u, c);
        }
        log_debug("started %zu containers: begin %llu us, place %llu us, finish %llu us", k,
                (unsigned long long)(t1 - t0), (unsigned long long)(t2 - t1),
                (unsigned long long)(now_us() - t2));
        if (spare_used)
            spare_netns_make(m);
    }
}

static void on_loop_after(struct loop *l, void *data)
{
    struct mgr *m = data;
    flush_spawns(m);
    /* After an apply: the parsed sets, plans, JSON and start buffers are free now, but spread
     * over the heap between what stays; malloc_trim also returns free pages inside it (~1 MiB
     * of the daemon's RSS at 100 containers). Not while starts or stops are in flight. */
    if (m->trim_pending && !mgr_busy(m)) {
        m->trim_pending = false;
        malloc_trim(0);
    }
}

/* The init died (or we were told so): collect status, tear down, decide. */
static void reap(struct unit_rt *u, struct sv_exit *ex)
{
    struct mgr *m = u->m;
    struct rt_container *c = u->c;
    int status = 0;
    *ex = (struct sv_exit){.code = -1};
    int r = rt_wait(c, true, &status, NULL);
    if (r == 1) {
        if (WIFEXITED(status))
            ex->code = WEXITSTATUS(status);
        else if (WIFSIGNALED(status))
            ex->signal = WTERMSIG(status);
    } else {
        ex->unknown = true; /* adopted: not our child, the status went to init */
    }
    struct cg_stats st;
    memset(&st, 0xff, sizeof(st)); /* unknown */
    if (c->cg && cg_stats_read(c->cg, &st, NULL) >= 0 && st.oom_kills != UINT64_MAX &&
            st.oom_kills > u->oom_base)
        ex->oom = true;
    if (c->pidfd >= 0)
        loop_del(m->loop, c->pidfd);
    health_cancel(u);
    sv_hc_stop(&u->hc);
    logs_close(u);
    struct err e = {0};
    /* The group stays until the state machine has decided (drive(): kept only for a start
     * that follows); the next run then skips creating one and this one's removal. */
    /* Only a group configured for a spec as a whole is worth keeping: not one updated in
     * place or adopted (u->cg_hash empty). */
    if (rt_destroy_keep_cgroup(c, u->cg_hash[0] ? &u->kept_cg : NULL, &e) < 0)
        log_warn("unit '%s': teardown: %s", u->name, e.msg);
    if (u->kept_cg) {
        snprintf(u->cg_kept_hash, sizeof(u->cg_kept_hash), "%s", u->cg_hash);
        u->kept_acct = st;
    }
    u->cg_hash[0] = '\0';
    u->c = rt_container_free(c);
}

static void on_pidfd(struct loop *l, int fd, uint32_t events, void *data)
{
    struct unit_rt *u = data;
    struct sv_exit ex;
    struct timespec t0, t1, rt;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_REALTIME, &rt);
    u->death_us = (int64_t)rt.tv_sec * 1000000 + rt.tv_nsec / 1000;
    reap(u, &ex);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    log_debug("unit '%s': reaped and torn down in %ld us", u->name,
            (long)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000));
    char why[128];
    exit_reason(&ex, why, sizeof(why));
    /* A stop we asked for is not a death, unless it was for failed health checks. */
    bool expected = u->sv.state == SV_STOPPING && u->sv.after != SV_AFTER_POLICY;
    if (u->sv.state == SV_STOPPING && u->sv.after == SV_AFTER_POLICY)
        ex.unhealthy = true;
    exit_reason(&ex, why, sizeof(why));
    if (expected)
        log_info("unit '%s': stopped (%s)", u->name, why);
    else
        log_warn("unit '%s': died: %s", u->name, why);
    logs_note(u, "container exited: %s", why);
    if (!expected)
        record_death(u, &ex);
    drive(u, EV_EXITED, &ex); /* u may be freed by now (a removed unit) */
}

static void do_kill(struct unit_rt *u, int sig)
{
    struct err e = {0};
    if (!u->c)
        return;
    int r = (sig == SIGKILL && u->c->cg) ? cg_kill(u->c->cg, sig, &e) : rt_signal(u->c, sig, &e);
    if (r < 0 && r != -ESRCH) {
        log_warn("unit '%s': send %s: %s", u->name, unit_signal_name(sig) ?: "signal", e.msg);
        /* The init at least: with it the whole pid namespace dies, and a stop must end. */
        if (sig == SIGKILL && u->c->cg)
            (void)rt_signal(u->c, SIGKILL, NULL);
    }
}

/* The container is gone for good: drop what the unit held, or start its replacement. */
static void finish_remove(struct unit_rt *u)
{
    struct mgr *m = u->m;
    if (u->kept_cg) /* a replacement gets a group of its own spec, a removed unit none */
        cg_kept_drop(u);
    if (u->next_unit) {
        /* Replace: the new spec starts with a clean slate (a changed unit clears a user stop
         * and a failed state). */
        unit_free(u->unit);
        u->unit = TAKE_PTR(u->next_unit);
        u->pending_exit = false;
        uint32_t restarts = u->sv.restarts;
        sv_init(&u->sv, false);
        u->sv.restarts = restarts;
        intent_set(m, u->name, false);
        drive(u, EV_WANT_UP, NULL);
        return;
    }
    struct err e = {0};
    if (rt_reclaim(m->o.run, m->o.root, u->name, &e) < 0)
        log_warn("unit '%s': reclaim: %s", u->name, e.msg);
    /* the empty group of a run that died while a crashed daemon kept it, if any */
    if (m->cgm && u->ours && !u->is_network)
        (void)cg_remove_empty(m->cgm, u->name);
    (void)image_release(m->o.root, u->name, NULL);
    /* also without networks: net_setup wrote its hosts files (cheap when it held no lease) */
    if (m->net_ok && u->unit && net_unwire(m->o.root, m->o.run, u->name, &m->desired_set, &e) < 0)
        log_warn("unit '%s': network cleanup: %s", u->name, e.msg);
    record_remove(m, u->name);
    intent_set(m, u->name, false);
    log_info("unit '%s': removed", u->name);
    mgr_emit(m, u, "removed", NULL);
    urt_free(m, u);
    wake_waiters(m);
    remove_idle_networks(m);
    api_poll_pending(m); /* also continues an ordered shutdown */
}

static void drive(struct unit_rt *u, enum sv_event ev, const struct sv_exit *ex)
{
    struct mgr *m = u->m;
    if (u->is_network)
        return;
    enum sv_state before = u->sv.state;
    bool intent_before = u->sv.stop_intent;
    struct sv_input in = {.ev = ev, .now_ms = now_ms(), .deps_ready = deps_ready(u)};
    if (ex)
        in.exit = *ex;
    struct sv_output o = sv_step(&u->sv, unit_of(u), &in);
    if (u->kept_cg && u->sv.state != SV_BACKOFF && u->sv.state != SV_STARTING)
        cg_kept_drop(u);
    /* Announce the transition before its effects, which may cause further transitions. */
    if (u->sv.state != before)
        mgr_emit(m, u, sv_event_name(ev), NULL);
    if (u->sv.stop_intent != intent_before)
        intent_set(m, u->name, u->sv.stop_intent);
    if (u->sv.state != SV_STOPPING && u->sv.state != SV_BACKOFF)
        u->timer = loop_timer_cancel(m->loop, u->timer);

    switch (o.act) {
    case SVA_NONE: break;
    case SVA_SPAWN:
        /* Started by flush_spawns() once the current event is handled, together with the
         * other starts it causes. */
        u->spawn_queued = true;
        u->spawn_restarted = o.restarted;
        m->spawns_queued = true;
        return;
    case SVA_STOP:
        do_kill(u, unit_of(u)->stop.signal);
        arm(u, o.deadline_ms);
        break;
    case SVA_KILL:
        log_warn("unit '%s': did not stop within %llu ms, sending SIGKILL", u->name,
                (unsigned long long)unit_of(u)->stop.timeout_ms);
        do_kill(u, SIGKILL);
        break;
    case SVA_ARM_RESTART: {
        char d[32];
        log_info("unit '%s': restarting in %s (restart %u)", u->name,
                format_duration_ms(o.deadline_ms - in.now_ms, d, sizeof(d)), u->sv.restarts);
        record_write(u);
        if (o.deadline_ms <= in.now_ms) {
            /* delay 0: no trip through the timer */
            drive(u, EV_TIMER, NULL);
            return;
        }
        arm(u, o.deadline_ms);
        break;
    }
    case SVA_GIVE_UP:
        log_error("unit '%s': failed: %u starts within %llu ms, giving up", u->name,
                (unsigned)unit_of(u)->restart.burst,
                (unsigned long long)unit_of(u)->restart.interval_ms);
        record_write(u);
        if (unit_of(u)->restart.on_give_up == GIVE_UP_REBOOT && m->o.pid1) {
            log_error("unit '%s': on_give_up is reboot: asking PID 1 to reboot", u->name);
            kill(1, SIGINT);
        }
        break;
    case SVA_REMOVED: finish_remove(u); return;
    default: break;
    }
    if (u->sv.state != before) {
        if (u->sv.state == SV_EXITED || u->sv.state == SV_FAILED || u->sv.state == SV_STOPPED)
            record_write(u);
        wake_waiters(m);
        api_poll_pending(m);
    }
}

/* ---- apply ---- */

static int unit_deps(const struct unit *un, const char ***ret, size_t *n)
{
    size_t k = un->n_deps + un->n_networks;
    const char **v = calloc(k + 1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    size_t j = 0;
    for (size_t i = 0; i < un->n_deps; i++)
        v[j++] = un->deps[i].name;
    for (size_t i = 0; i < un->n_networks; i++)
        v[j++] = un->networks[i].name;
    *ret = v;
    *n = j;
    return 0;
}

static void network_up(struct unit_rt *u)
{
    struct mgr *m = u->m;
    struct err e = {0};
    if (!m->net_ok) {
        log_error("network '%s': netlink is not available", u->name);
        return;
    }
    if (net_network_up(&m->net, u->unit, &e) < 0) {
        log_error("network '%s': %s", u->name, e.msg);
        u->last_error = strdup(e.msg);
        return;
    }
    u->net_up = true;
    record_write(u);
    log_info("network '%s': up", u->name);
    mgr_emit(m, u, "up", NULL);
}

static void network_down(struct unit_rt *u)
{
    struct mgr *m = u->m;
    struct err e = {0};
    if (m->net_ok && u->unit && net_network_down(&m->net, u->unit, &e) < 0)
        log_warn("network '%s': %s", u->name, e.msg);
    u->net_up = false;
}

/* Networks dropped from the desired set go once no container is attached to them. */
static void remove_idle_networks(struct mgr *m)
{
    for (struct unit_rt *n = m->units, *next; n; n = next) {
        next = n->next;
        if (!n->is_network || !n->removing)
            continue;
        bool used = false;
        for (struct unit_rt *u = m->units; u && !used; u = u->next) {
            if (u->is_network || (!u->c && u->sv.state != SV_STOPPING))
                continue;
            const struct unit *un = unit_of(u);
            for (size_t i = 0; i < un->n_networks; i++)
                if (STREQ(un->networks[i].name, n->name))
                    used = true;
        }
        if (!used) {
            network_down(n);
            finish_remove(n);
            return; /* finish_remove re-enters through api_poll_pending: list changed */
        }
    }
}

/* Replaces u's spec with nu (owned), keeping the container (update in place). */
static void apply_update(struct unit_rt *u, struct unit *nu)
{
    struct err e = {0};
    /* A group changed in place is not one any spec created (removed keys keep their old
     * values, a failure leaves some): the next run gets a new one. */
    u->cg_hash[0] = '\0';
    if (u->c && u->c->cg && cg_update(u->c->cg, &nu->res, &e) < 0) {
        log_error("unit '%s': update in place: %s", u->name, e.msg);
        free(u->last_error);
        u->last_error = strdup(e.msg);
    } else {
        log_info("unit '%s': updated in place", u->name);
    }
    unit_free(u->unit);
    u->unit = nu;
    if (u->sv.state == SV_WAITING || u->sv.state == SV_INACTIVE)
        drive(u, EV_WANT_UP, NULL);
}

struct by_hash {
    const char *name;
    const char *hash;
};

static int cmp_by_hash(const void *a, const void *b)
{
    return strcmp(((const struct by_hash *)a)->name, ((const struct by_hash *)b)->name);
}

struct desired {
    struct unit *u;
    char hash[65];
    json_t *spec;
    const char **deps;
    size_t n_deps;
};

/* Every resource key this host's cgroups cannot enforce becomes an error of the unit's file,
 * at the key's position: such a unit is refused like an invalid one (never started to fail
 * in a restart loop). Reads the host, changes nothing. */
static void check_host_limits(struct mgr *m, const struct unit_set *set, struct diags *d)
{
    if (!m->cgm)
        return;
    for (size_t i = 0; i < set->n; i++) {
        const struct unit *u = set->units[i];
        if (u->kind != UNIT_CONTAINER)
            continue;
        _cleanup_free_ char *all = NULL;
        struct err e = {0};
        if (cg_check_resources(m->cgm, &u->res, &all, &e) >= 0)
            continue;
        if (!all) {
            diags_add(d, u->path, 0, 0, "unit '%s': %s", u->name, e.msg);
            continue;
        }
        char *save = NULL;
        for (char *line = strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char *sep = strstr(line, ": ");
            if (!sep) {
                diags_add(d, u->path, 0, 0, "unit '%s': %s", u->name, line);
                continue;
            }
            *sep = '\0';
            struct unit_pos pos = unit_pos_of(u, line);
            diags_add(d, u->path, pos.line, pos.col,
                    "unit '%s': %s: this host cannot enforce it: %s", u->name, line, sep + 2);
        }
    }
}

int mgr_apply(struct mgr *m, char *const *paths, size_t n_paths, bool dry_run, json_t **ret_resp)
{
    struct diags d = {0};
    struct unit_set set = {0};
    int r;
    if (n_paths == 0)
        r = unit_load_dir(m->o.units, &set, &d);
    else
        r = unit_load_paths(paths, n_paths, &set, &d);
    if (r >= 0 && diags_count(&d) == 0)
        check_host_limits(m, &set, &d);
    if (r < 0 || diags_count(&d) > 0) {
        diags_sort(&d);
        json_t *errs = json_array();
        for (size_t i = 0; i < d.n; i++) {
            char *line;
            const struct diag *g = &d.v[i];
            if (g->file && g->line)
                line = strdup_printf("%s:%d:%d: error: %s", g->file, g->line, g->col, g->msg);
            else if (g->file)
                line = strdup_printf("%s: error: %s", g->file, g->msg);
            else
                line = strdup_printf("error: %s", g->msg);
            if (line)
                json_array_append_new(errs, json_string(line));
            free(line);
        }
        if (d.n_dropped)
            json_array_append_new(errs, json_sprintf("(%zu more errors)", d.n_dropped));
        if (d.n == 0)
            json_array_append_new(errs, json_sprintf("error: load units: %s", strerror(-r)));
        *ret_resp = json_pack("{s:b,s:s,s:o}", "ok", 0, "error",
                "invalid units: nothing was changed", "errors", errs);
        diags_clear(&d);
        unit_set_clear(&set);
        return 0;
    }
    diags_clear(&d);
    /* Key positions served the errors above; the units kept do without (memory). */
    for (size_t i = 0; i < set.n; i++)
        unit_drop_locs(set.units[i]);

    struct desired *want = calloc(set.n + 1, sizeof(*want));
    struct rec_want *rw = calloc(set.n + 1, sizeof(*rw));
    size_t n_have_alloc = m->n_units + 1; /* m->n_units changes while the plan runs */
    struct rec_have *rh = calloc(n_have_alloc, sizeof(*rh));
    json_t **have_specs = calloc(n_have_alloc, sizeof(json_t *));
    const char ***have_deps = calloc(n_have_alloc, sizeof(char **));
    struct rec_plan plan = {0};
    r = -ENOMEM;
    if (!want || !rw || !rh || !have_specs || !have_deps)
        goto out;
    for (size_t i = 0; i < set.n; i++) {
        struct desired *w = &want[i];
        w->u = set.units[i];
        if (unit_hash(w->u, w->hash) < 0 || unit_deps(w->u, &w->deps, &w->n_deps) < 0)
            goto out;
        /* The canonical JSON is only built where it is needed: new or changed units. */
        struct unit_rt *h = mgr_find(m, w->u->name);
        if (!h || h->removing || !h->hash[0] || strcmp(h->hash, w->hash) != 0) {
            w->spec = unit_to_json(w->u);
            if (!w->spec)
                goto out;
        }
        rw[i] = (struct rec_want){w->u->name, w->hash, w->spec, w->deps, w->n_deps};
    }
    /* The recorded spec is only parsed where the hash differs (a no-op apply of 500 units
     * must not parse 500 JSON documents). */
    struct by_hash *bh = calloc(set.n + 1, sizeof(*bh));
    if (!bh)
        goto out;
    for (size_t i = 0; i < set.n; i++)
        bh[i] = (struct by_hash){want[i].u->name, want[i].hash};
    qsort(bh, set.n, sizeof(*bh), cmp_by_hash);
    size_t nh = 0;
    for (struct unit_rt *u = m->units; u; u = u->next) {
        if (u->removing)
            continue;
        struct by_hash key = {u->name, NULL};
        const struct by_hash *f = bsearch(&key, bh, set.n, sizeof(*bh), cmp_by_hash);
        bool differs = f && (!u->hash[0] || strcmp(f->hash, u->hash) != 0);
        have_specs[nh] = differs ? spec_json(u) : NULL;
        size_t nd = 0;
        if (u->unit)
            (void)unit_deps(u->unit, &have_deps[nh], &nd);
        rh[nh] = (struct rec_have){u->name, u->hash[0] ? u->hash : NULL, have_specs[nh],
                have_deps[nh], nd, u->ours};
        nh++;
    }
    r = rec_diff(rw, set.n, rh, nh, &plan);
    free(bh);
    if (r < 0)
        goto out;
    json_t *pj = rec_plan_to_json(&plan);
    json_t *resp = json_pack("{s:b,s:b,s:o,s:I}", "ok", 1, "dry_run", dry_run, "plan", pj,
            "changes", (json_int_t)rec_plan_n_changes(&plan));
    if (!resp) {
        r = -ENOMEM;
        goto out;
    }
    if (dry_run) {
        *ret_resp = resp;
        r = 0;
        goto out;
    }
    m->units_is_source = n_paths == 0;

    /* The new set becomes the one the network code sees. Units are moved into unit_rts
     * below, so the set keeps borrowed pointers only. */
    free(m->desired_set.units);
    m->desired_set.units = calloc(set.n + 1, sizeof(struct unit *));
    m->desired_set.n = 0;

    for (size_t k = 0; k < plan.n; k++) {
        const struct rec_action *a = &plan.v[k];
        struct unit_rt *u = mgr_find(m, a->name);
        struct desired *w = a->want_index >= 0 ? &want[a->want_index] : NULL;
        if (a->kind != REC_REMOVE && w) {
            if (m->desired_set.units)
                m->desired_set.units[m->desired_set.n++] = w->u;
        }
        switch (a->kind) {
        case REC_REMOVE:
            if (!u)
                break;
            log_info("unit '%s': removing (file gone)", u->name);
            u->removing = true;
            if (u->is_network) {
                /* Taken down once no container uses it (remove_idle_networks). */
            } else {
                drive(u, EV_REMOVE, NULL);
            }
            break;
        case REC_CREATE:
            u = urt_new(m, a->name, w->u->kind == UNIT_NETWORK);
            if (!u)
                break;
            u->unit = TAKE_PTR(w->u);
            memcpy(u->hash, w->hash, sizeof(u->hash));
            u->ours = true;
            log_info("unit '%s': created", u->name);
            if (u->is_network) {
                network_up(u);
                wake_waiters(m);
            } else {
                bool stopped = intent_get(m, u->name);
                /* docker's distinction: at boot, `always` starts even what the user stopped;
                 * `unless-stopped` (and the others) keep the stop. */
                if (stopped && m->fresh_run && u->unit->restart.policy == RESTART_ALWAYS) {
                    log_info("unit '%s': restart policy always: starting at boot despite a stop "
                             "by the user", u->name);
                    intent_set(m, u->name, false);
                    stopped = false;
                }
                sv_init(&u->sv, stopped);
                drive(u, EV_WANT_UP, NULL);
            }
            break;
        case REC_UPDATE:
            memcpy(u->hash, w->hash, sizeof(u->hash));
            free(u->spec_text);
            u->spec_text = NULL;
            if (u->is_network) {
                unit_free(u->unit);
                u->unit = TAKE_PTR(w->u);
            } else {
                apply_update(u, TAKE_PTR(w->u));
            }
            record_write(u);
            break;
        case REC_REPLACE:
            log_info("unit '%s': replacing (%s changed)", u->name,
                    a->n_changes ? a->changes[0].path : "spec");
            memcpy(u->hash, w->hash, sizeof(u->hash));
            free(u->spec_text);
            u->spec_text = NULL;
            if (u->is_network) {
                network_down(u);
                unit_free(u->unit);
                u->unit = TAKE_PTR(w->u);
                network_up(u);
            } else {
                unit_free(u->next_unit);
                u->next_unit = TAKE_PTR(w->u);
                drive(u, EV_REMOVE, NULL);
            }
            break;
        case REC_KEEP:
            if (!u->unit || !u->hash[0]) {
                /* Adopted without a unit: take the parsed one (same hash). */
                unit_free(u->unit);
                u->unit = TAKE_PTR(w->u);
                free(u->spec_text);
                u->spec_text = NULL;
                if (u->c) {
                    /* Its health checks go on; the recorded health stands until a probe
                     * says otherwise (start_period counts from now). */
                    enum sv_health h = u->hc.state;
                    health_start(u);
                    if (h == HEALTH_STATE_HEALTHY || h == HEALTH_STATE_UNHEALTHY)
                        u->hc.state = h;
                }
            } else {
                /* Keep the old struct (same meaning); the set must point at a live unit. */
                if (m->desired_set.units && m->desired_set.n)
                    m->desired_set.units[m->desired_set.n - 1] = u->unit;
            }
            /* A container that died while no daemon ran is decided by its policy below. */
            if (!u->is_network && !u->pending_exit &&
                    (u->sv.state == SV_INACTIVE || u->sv.state == SV_WAITING))
                drive(u, EV_WANT_UP, NULL);
            else if (u->is_network && !u->net_up)
                network_up(u);
            break;
        default: break;
        }
    }
    remove_idle_networks(m);
    /* Fix up borrowed pointers in the set: units moved into unit_rts. */
    m->desired_set.n = 0;
    for (struct unit_rt *u = m->units; u; u = u->next)
        if (!u->removing && u->unit && m->desired_set.units)
            m->desired_set.units[m->desired_set.n++] = u->next_unit ? u->next_unit : u->unit;
    wake_waiters(m);
    *ret_resp = resp;
    r = mgr_busy(m) ? 1 : 0;
    /* An apply that changed things allocated and freed a lot: given back to the system once
     * what it started has settled (on_loop_after). */
    if (rec_plan_n_changes(&plan) > 0)
        m->trim_pending = true;
out:
    rec_plan_clear(&plan);
    for (size_t i = 0; want && i < set.n; i++) {
        unit_free(want[i].u);
        json_decref(want[i].spec);
        free(want[i].deps);
    }
    for (size_t i = 0; have_specs && i < n_have_alloc; i++)
        json_decref(have_specs[i]);
    for (size_t i = 0; have_deps && i < n_have_alloc; i++)
        free(have_deps[i]);
    free(want);
    free(rw);
    free(rh);
    free(have_specs);
    free(have_deps);
    free(set.units); /* the units themselves were moved or freed above */
    return r;
}

bool mgr_busy(struct mgr *m)
{
    for (struct unit_rt *u = m->units; u; u = u->next)
        if (u->sv.state == SV_STOPPING || u->sv.state == SV_STARTING)
            return true;
    return false;
}

/* ---- status ---- */

static json_t *addresses_json(struct mgr *m, struct unit_rt *u)
{
    json_t *a = json_array();
    const struct unit *un = unit_of(u);
    for (size_t i = 0; a && i < un->n_networks; i++) {
        struct in_addr addr;
        char txt[INET_ADDRSTRLEN];
        if (net_lease_lookup(m->o.root, un->networks[i].name, u->name, &addr) == 0 &&
                inet_ntop(AF_INET, &addr, txt, sizeof(txt)))
            json_array_append_new(a, json_string(txt));
    }
    return a;
}

/* A cumulative cgroup counter minus its value when the run started; UINT64_MAX = unknown. */
static uint64_t run_share(uint64_t v, uint64_t base)
{
    return v == UINT64_MAX ? v : v >= base ? v - base : 0;
}

static json_t *unit_status(struct mgr *m, struct unit_rt *u, bool detail)
{
    char why[128] = "";
    const struct unit *un = unit_of(u);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "name", u->name, "kind",
            u->is_network ? "network" : "container", "state",
            u->is_network ? (u->net_up ? "up" : "down") : sv_state_name(u->sv.state), "health",
            sv_health_name(u->hc.state));
    if (!o)
        return NULL;
    if (u->is_network)
        return o;
    json_object_set_new(o, "pid", json_integer(u->c ? u->c->pid : 0));
    uint64_t now = now_realtime_ms();
    json_object_set_new(o, "uptime_ms", json_integer(u->c && u->started_wall && now > u->started_wall
            ? (json_int_t)(now - u->started_wall) : 0));
    json_object_set_new(o, "restarts", json_integer(u->sv.restarts));
    json_object_set_new(o, "stop_intent", json_boolean(u->sv.stop_intent));
    json_object_set_new(o, "image", un->image ? json_string(un->image) : json_null());
    json_object_set_new(o, "path", un->path ? json_string(un->path) : json_null());
    json_object_set_new(o, "policy", json_string(restart_policy_name(un->restart.policy)));
    if (u->sv.has_exit || u->n_hist) {
        const struct sv_exit *e = u->n_hist ? &u->hist[(u->n_hist - 1) % HIST_MAX].exit
                                            : &u->sv.last_exit;
        if (u->sv.has_exit && u->sv.last_exit.code != -2)
            e = &u->sv.last_exit;
        exit_reason(e, why, sizeof(why));
        json_t *le = exit_json(e);
        json_object_set_new(le, "reason", json_string(why));
        json_object_set_new(o, "last_exit", le);
    } else {
        json_object_set_new(o, "last_exit", json_null());
    }
    if (u->last_error)
        json_object_set_new(o, "error", json_string(u->last_error));
    struct cg_stats st;
    if (u->c && u->c->cg && cg_stats_read(u->c->cg, &st, NULL) >= 0) {
        if (st.mem_current != UINT64_MAX)
            json_object_set_new(o, "memory", json_integer((json_int_t)st.mem_current));
        /* this run's share of counters a taken-over group carries on (u->cpu_base) */
        st.cpu_usage_ns = run_share(st.cpu_usage_ns, u->cpu_base);
        st.io_read_bytes = run_share(st.io_read_bytes, u->io_read_base);
        st.io_write_bytes = run_share(st.io_write_bytes, u->io_write_base);
        st.oom_kills = run_share(st.oom_kills, u->oom_base);
        if (st.cpu_usage_ns != UINT64_MAX)
            json_object_set_new(o, "cpu_ns", json_integer((json_int_t)st.cpu_usage_ns));
        /* the rest of the cgroup accounting (core/cgroup.h); UINT64_MAX = host cannot tell */
        const struct {
            const char *key;
            uint64_t v;
        } more[] = {{"memory_peak", st.mem_peak}, {"pids", st.pids_current},
                {"io_read_bytes", st.io_read_bytes}, {"io_write_bytes", st.io_write_bytes},
                {"oom_kills", st.oom_kills}};
        for (size_t k = 0; k < ARRAY_SIZE(more); k++)
            if (more[k].v != UINT64_MAX)
                json_object_set_new(o, more[k].key, json_integer((json_int_t)more[k].v));
    }
    json_object_set_new(o, "addresses", addresses_json(m, u));
    if (u->sv.state == SV_WAITING) {
        /* Say what it waits for: "db (healthy)", "net0 (network up)". */
        json_t *wf = json_array();
        for (size_t i = 0; wf && i < un->n_deps; i++)
            if (!dep_satisfied(m, &un->deps[i]))
                json_array_append_new(wf, json_sprintf("%s (%s)", un->deps[i].name,
                        dep_condition_name(un->deps[i].condition)));
        for (size_t i = 0; wf && i < un->n_networks; i++) {
            struct unit_rt *n = mgr_find(m, un->networks[i].name);
            if (!n || !n->net_up)
                json_array_append_new(wf, json_sprintf("%s (network up)", un->networks[i].name));
        }
        json_object_set_new(o, "waiting_for", wf);
    }
    if (u->sv.state == SV_BACKOFF && u->sv.deadline_ms)
        json_object_set_new(o, "restart_in_ms",
                json_integer((json_int_t)(u->sv.deadline_ms > now_ms() ? u->sv.deadline_ms - now_ms() : 0)));
    if (detail) {
        json_t *h = json_array();
        uint32_t n = u->n_hist < HIST_MAX ? u->n_hist : HIST_MAX;
        for (uint32_t k = 0; k < n; k++) {
            const struct death *d = &u->hist[(u->n_hist - 1 - k) % HIST_MAX];
            char r2[128];
            json_t *de = exit_json(&d->exit);
            json_object_set_new(de, "time", json_integer((json_int_t)d->when));
            json_object_set_new(de, "reason", json_string(exit_reason(&d->exit, r2, sizeof(r2))));
            json_object_set_new(de, "tail", d->tail ? json_string(d->tail) : json_null());
            json_array_append_new(h, de);
        }
        json_object_set_new(o, "history", h);
        json_object_set_new(o, "deaths", json_integer(u->n_hist));
    }
    return o;
}

json_t *mgr_status_json(struct mgr *m, const char *name)
{
    json_t *a = json_array();
    for (struct unit_rt *u = m->units; a && u; u = u->next)
        if (!name || STREQ(name, u->name))
            json_array_append_new(a, unit_status(m, u, name != NULL));
    return a;
}

/* ---- control ---- */

int mgr_control(struct mgr *m, const char *cmd, const char *name, int sig, char *errbuf,
        size_t len)
{
    struct unit_rt *u = mgr_find(m, name);
    if (!u || u->is_network) {
        snprintf(errbuf, len, "no container unit '%s'", name);
        return -ENOENT;
    }
    if (STREQ(cmd, "start")) {
        drive(u, EV_USER_START, NULL);
    } else if (STREQ(cmd, "stop")) {
        drive(u, EV_USER_STOP, NULL);
    } else if (STREQ(cmd, "restart")) {
        if (u->sv.state == SV_RUNNING)
            drive(u, EV_USER_RESTART, NULL);
        else
            drive(u, EV_USER_START, NULL);
    } else if (STREQ(cmd, "reset-failed")) {
        if (u->sv.state != SV_FAILED) {
            snprintf(errbuf, len, "unit '%s' is not failed (%s)", name,
                    sv_state_name(u->sv.state));
            return -EINVAL;
        }
        drive(u, EV_RESET_FAILED, NULL);
    } else if (STREQ(cmd, "kill")) {
        if (!u->c) {
            snprintf(errbuf, len, "unit '%s' is not running", name);
            return -ESRCH;
        }
        struct err e = {0};
        int r = u->c->cg ? cg_kill(u->c->cg, sig, &e) : rt_signal(u->c, sig, &e);
        if (r < 0) {
            snprintf(errbuf, len, "%s", e.msg);
            return r;
        }
    } else {
        snprintf(errbuf, len, "unknown command '%s'", cmd);
        return -EINVAL;
    }
    return 0;
}

/* ---- daemon-reexec ---- */

void mgr_reexec(struct mgr *m)
{
    /* Containers stay our children across execve; their pipes' read ends are handed over
     * by number (CLOEXEC cleared) and listed in RUN/reexec.json. */
    json_t *list = json_array();
    for (struct unit_rt *u = m->units; u; u = u->next) {
        if (u->kept_cg) /* the new daemon would not know it: the next run gets a new one */
            cg_kept_drop(u);
        if (!u->c)
            continue;
        json_array_append_new(list, json_pack("{s:s,s:i,s:i}", "name", u->name, "out",
                u->out.fd, "err", u->err.fd));
        if (u->out.fd >= 0)
            fcntl(u->out.fd, F_SETFD, 0);
        if (u->err.fd >= 0)
            fcntl(u->err.fd, F_SETFD, 0);
    }
    _cleanup_free_ char *p = strdup_printf("%s/reexec.json", m->o.run);
    if (json_dump_file(list, p, JSON_COMPACT) < 0)
        log_warn("daemon-reexec: write '%s' failed; logs will be reattached from /proc", p);
    json_decref(list);
    api_close(m);
    const char *exe = m->o.exe ? m->o.exe : "/proc/self/exe";
    char *argv[] = {"mgr", "--root", (char *)m->o.root, "--run", (char *)m->o.run, "--units",
            (char *)m->o.units, "daemon", NULL};
    setenv("MGR_REEXEC", "1", 1);
    log_info("daemon-reexec: executing %s", exe);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    execve(exe, argv, environ);
    log_error("daemon-reexec: execve '%s': %s; continuing with the running binary", exe,
            strerror(errno));
    unsetenv("MGR_REEXEC");
    (void)api_listen(m);
    for (struct unit_rt *u = m->units; u; u = u->next) {
        if (u->out.fd >= 0)
            fcntl(u->out.fd, F_SETFD, FD_CLOEXEC);
        if (u->err.fd >= 0)
            fcntl(u->err.fd, F_SETFD, FD_CLOEXEC);
    }
}

/* ---- start-up: adoption ---- */

static void reattach_fds(struct mgr *m)
{
    _cleanup_free_ char *p = strdup_printf("%s/reexec.json", m->o.run);
    if (!p || !getenv("MGR_REEXEC"))
        return;
    unsetenv("MGR_REEXEC");
    json_t *list = json_load_file(p, 0, NULL);
    (void)unlink(p);
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        const char *name = NULL;
        int out = -1, errfd = -1;
        json_unpack(e, "{s:s,s:i,s:i}", "name", &name, "out", &out, "err", &errfd);
        struct unit_rt *u = name ? mgr_find(m, name) : NULL;
        if (!u || !u->c) {
            if (out >= 0)
                close(out);
            if (errfd >= 0)
                close(errfd);
            continue;
        }
        if (out >= 0)
            fcntl(out, F_SETFD, FD_CLOEXEC);
        if (errfd >= 0)
            fcntl(errfd, F_SETFD, FD_CLOEXEC);
        u->out = (struct log_stream){out, false};
        u->err = (struct log_stream){errfd, false};
    }
    json_decref(list);
}

/* After a crash of the daemon: the pipes' read ends are reopened through the container
 * init's own fds 1 and 2 (a pipe opened via /proc/PID/fd gets a new end of the same pipe). */
static void reopen_pipes(struct unit_rt *u)
{
    for (int fd = 1; fd <= 2; fd++) {
        struct log_stream *s = fd == 1 ? &u->out : &u->err;
        if (s->fd >= 0)
            continue;
        char p[64], link[64];
        snprintf(p, sizeof(p), "/proc/%d/fd/%d", (int)u->c->pid, fd);
        ssize_t n = readlink(p, link, sizeof(link) - 1);
        if (n <= 0)
            continue;
        link[n] = 0;
        if (strncmp(link, "pipe:", 5) != 0)
            continue;
        s->fd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    }
}

static void adopt_all(struct mgr *m)
{
    char **names = NULL;
    struct err e = {0};
    if (rt_list(m->o.run, &names, &e) < 0) {
        log_warn("list containers: %s", e.msg);
        return;
    }
    for (size_t i = 0; names && names[i]; i++) {
        struct unit_rt *u = urt_new(m, names[i], false);
        if (!u)
            break;
        record_load(u);
        u->ours = true;
        struct rt_container *c = NULL;
        int r = rt_adopt(m->o.run, names[i], &c, &e);
        uint32_t restarts = u->sv.restarts;
        sv_init(&u->sv, intent_get(m, u->name));
        u->sv.restarts = restarts;
        if (r >= 0) {
            if (!c->cg && m->cgm && cg_open(m->cgm, names[i], &c->cg, NULL) >= 0) {
                c->cgm = m->cgm;
                cg_group_rest(c->cg);
            }
            u->c = c;
            u->sv.state = SV_RUNNING;
            u->sv.started_ms = now_ms();
            (void)loop_add(m->loop, c->pidfd, EPOLLIN, on_pidfd, u);
            log_info("unit '%s': adopted running container (pid %d)", u->name, (int)c->pid);
            continue;
        }
        /* It died while no daemon ran: reclaim, and let the policy decide once the unit
         * file is loaded (pending_exit). */
        log_warn("unit '%s': container died while no daemon ran", u->name);
        if (rt_reclaim(m->o.run, m->o.root, names[i], &e) < 0)
            log_warn("unit '%s': reclaim: %s", u->name, e.msg);
        u->pending_exit = true;
        struct sv_exit ex = {.code = -1, .unknown = true};
        record_death(u, &ex);
    }
    strv_free(names);
    /* Network records: RUN/sv/NAME.json with "network": true. */
    _cleanup_free_ char *dir = strdup_printf("%s/sv", m->o.run);
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || !STREQ(de->d_name + l - 5, ".json"))
            continue;
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)(l - 5), de->d_name);
        if (mgr_find(m, name))
            continue;
        _cleanup_free_ char *p = strdup_printf("%s/%s", dir, de->d_name);
        json_t *j = p ? json_load_file(p, 0, NULL) : NULL;
        int is_net = 0;
        const char *state = NULL;
        json_t *le = NULL;
        json_unpack(j, "{s?b,s?s,s?o}", "network", &is_net, "state", &state, "last_exit", &le);
        enum sv_state st = _SV_STATE_MAX;
        if (state && STREQ(state, "exited"))
            st = SV_EXITED;
        else if (state && STREQ(state, "failed"))
            st = SV_FAILED;
        else if (state && STREQ(state, "stopped"))
            st = SV_STOPPED;
        if (!is_net && st == _SV_STATE_MAX) {
            json_decref(j);
            if (p)
                (void)unlink(p); /* a running-container record without a container: stale */
            continue;
        }
        struct unit_rt *u = urt_new(m, name, is_net);
        if (u) {
            record_load(u);
            if (is_net) {
                u->net_up = true; /* bridges outlive the daemon; net_network_up is idempotent */
            } else {
                uint32_t restarts = u->sv.restarts;
                sv_init(&u->sv, intent_get(m, name));
                u->sv.restarts = restarts;
                if (u->sv.state != SV_STOPPED)
                    u->sv.state = st;
                if (le) {
                    exit_from_json(le, &u->sv.last_exit);
                    u->sv.has_exit = true;
                }
            }
        }
        json_decref(j);
    }
    if (d)
        closedir(d);
}

/* ---- signals, inotify ---- */

static void stop_all_ordered(struct mgr *m);

/* Leftover cgroups of containers no record knows (mgr crashed with its --run lost, or a
 * teardown failed) are removed at start, but only where the parent is surely ours alone: as
 * PID 1, or under a parent named with --cgroup-parent / $MGR_CGROUP_PARENT. Under the shared
 * default parent ("mgr") other daemons with other --run dirs keep their containers. */
static void reclaim_cgroups(struct mgr *m)
{
    const char *parent = getenv("MGR_CGROUP_PARENT");
    if (!m->cgm || !(m->o.pid1 || (parent && *parent)))
        return;
    _cleanup_strv_ char **keep = NULL;
    for (struct unit_rt *u = m->units; u; u = u->next)
        if (u->c && strv_push(&keep, u->name) < 0)
            return; /* out of memory: keep everything */
    struct err e = {0};
    int r = cg_reclaim(m->cgm, (const char *const *)keep, &e);
    if (r < 0)
        log_warn("cgroup leftovers: %s", e.msg);
    else if (r > 0)
        log_info("removed %d leftover cgroup%s of unknown containers", r, r == 1 ? "" : "s");
}

static void on_debounce(struct loop *l, struct loop_timer *t, void *data)
{
    struct mgr *m = data;
    m->debounce = NULL;
    if (!m->units_is_source || m->shutting_down)
        return;
    json_t *resp = NULL;
    log_info("units directory changed: applying");
    int r = mgr_apply(m, NULL, 0, false, &resp);
    if (r >= 0 && resp && !json_is_true(json_object_get(resp, "ok"))) {
        size_t i;
        json_t *e;
        log_error("units directory has errors, nothing changed:");
        json_array_foreach(json_object_get(resp, "errors"), i, e)
            log_error("  %s", json_string_value(e));
    }
    json_decref(resp);
}

static void on_inotify(struct loop *l, int fd, uint32_t events, void *data)
{
    struct mgr *m = data;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    /* Debounce: editors write several times; apply once things settle. */
    m->debounce = loop_timer_cancel(l, m->debounce);
    m->debounce = loop_timer_at(l, now_ms() + DEBOUNCE_MS, on_debounce, m);
}

static void on_signal(struct loop *l, int fd, uint32_t events, void *data)
{
    struct mgr *m = data;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof(si)) == sizeof(si)) {
        switch (si.ssi_signo) {
        case SIGTERM:
        case SIGINT:
            if (m->o.stop_on_exit) {
                stop_all_ordered(m);
            } else {
                log_info("received %s: exiting, containers keep running",
                        strsignal((int)si.ssi_signo));
                m->exit = MGR_EXIT_STOP;
                loop_quit(l);
            }
            break;
        case SIGPWR: /* PID 1's shutdown request */
            log_info("shutdown requested: stopping every container");
            stop_all_ordered(m);
            break;
        case SIGHUP: mgr_reexec(m); break;
        case SIGUSR1: on_debounce(l, NULL, m); break;
        default: break;
        }
    }
}

/* Stops containers dependents-first: a unit is stopped once nothing running depends on it. */
static void shutdown_step(struct mgr *m)
{
    bool any = false;
    for (struct unit_rt *u = m->units; u; u = u->next) {
        if (u->is_network)
            continue;
        if (u->c || u->sv.state == SV_STOPPING)
            any = true;
        if (u->sv.state == SV_STOPPING || !u->c)
            continue;
        bool needed = false;
        for (struct unit_rt *v = m->units; v && !needed; v = v->next) {
            if (v == u || !v->c || v->is_network)
                continue;
            const struct unit *vn = unit_of(v);
            for (size_t i = 0; i < vn->n_deps; i++)
                if (STREQ(vn->deps[i].name, u->name))
                    needed = true;
        }
        if (!needed) {
            u->removing = true;
            drive(u, EV_REMOVE, NULL);
        }
    }
    if (!any) {
        m->exit = MGR_EXIT_STOP;
        loop_quit(m->loop);
    }
}

static void stop_all_ordered(struct mgr *m)
{
    m->shutting_down = true;
    m->units_is_source = false;
    shutdown_step(m);
}

void mgr_unhealthy(struct unit_rt *u)
{
    log_warn("unit '%s': unhealthy: restarting", u->name);
    drive(u, EV_UNHEALTHY, NULL);
}

void mgr_health_changed(struct unit_rt *u)
{
    record_write(u);
    wake_waiters(u->m);
}

void mgr_after_change(struct mgr *m)
{
    if (m->shutting_down)
        shutdown_step(m);
}

/* Tells a service manager (systemd Type=notify) that we are up: sd_notify's protocol, one
 * datagram to $NOTIFY_SOCKET ('@' = abstract namespace), without libsystemd. */
static void notify_service_manager(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path));
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = 0;
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
        log_warn("sd_notify to '%s': %s, ignoring", path, strerror(errno));
}

/* ---- main ---- */

static int setup(struct mgr *m)
{
    int r;
    {
        _cleanup_free_ char *sv = strdup_printf("%s/sv", m->o.run);
        m->fresh_run = sv && access(sv, F_OK) < 0;
    }
    if (mkdir_p(m->o.run, 0700) < 0 || mkdir_p(m->o.root, 0700) < 0) {
        log_error("create state directories '%s', '%s': %s", m->o.run, m->o.root,
                strerror(errno));
        return -1;
    }
    _cleanup_free_ char *lock = strdup_printf("%s/daemon.lock", m->o.run);
    m->lock_fd = lock ? open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
    if (m->lock_fd < 0 || flock(m->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        log_error("another mgr daemon is running with --run '%s' (%s locked)", m->o.run,
                lock ? lock : "?");
        return -1;
    }
    r = loop_new(&m->loop);
    if (r < 0) {
        log_error("create event loop: %s", strerror(-r));
        return -1;
    }
    sigset_t ss;
    sigemptyset(&ss);
    int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGPWR};
    for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
        sigaddset(&ss, sigs[i]);
    sigprocmask(SIG_BLOCK, &ss, NULL);
    signal(SIGPIPE, SIG_IGN);
    m->sig_fd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);
    if (m->sig_fd < 0 || loop_add(m->loop, m->sig_fd, EPOLLIN, on_signal, m) < 0) {
        log_error("signalfd: %s", strerror(errno));
        return -1;
    }
    struct err e = {0};
    if (cg_manager_open(NULL, &m->cgm, &e) < 0) {
        log_warn("cgroups unavailable, containers get no cgroup: %s", e.msg);
        m->cgm = NULL;
    }
    m->net_ok = net_open(&m->net, &e) >= 0;
    m->net.state_dir = m->o.root;
    m->net.run_dir = m->o.run;
    m->net.units = &m->desired_set;
    if (!m->net_ok)
        log_warn("netlink unavailable, networks cannot be set up: %s", e.msg);
    m->ino_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (m->ino_fd >= 0) {
        (void)mkdir_p(m->o.units, 0755);
        if (inotify_add_watch(m->ino_fd, m->o.units,
                    IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE |
                            IN_ATTRIB) < 0)
            log_warn("watch '%s': %s; use 'mgr apply' after changes", m->o.units,
                    strerror(errno));
        (void)loop_add(m->loop, m->ino_fd, EPOLLIN, on_inotify, m);
    }
    m->holder = holder_connect(m->o.run, m->o.root);
    if (!m->holder)
        log_warn("output holder unavailable: a container writing while no daemon runs may "
                 "get EPIPE");
    if (api_listen(m) < 0)
        return -1;
    (void)health_notify_listen(m);
    return 0;
}

enum mgr_exit manager_run(const struct mgr_opts *o)
{
    struct mgr mgr = {.o = *o, .spare_netns = -1, .sig_fd = -1, .ino_fd = -1, .sock_fd = -1, .lock_fd = -1,
            .units_is_source = true};
    struct mgr *m = &mgr;
    m->exit = MGR_EXIT_ERROR;
    if (setup(m) < 0)
        goto out;

    adopt_all(m);
    reattach_fds(m);
    reclaim_cgroups(m);
    for (struct unit_rt *u = m->units; u; u = u->next)
        if (u->c) {
            reopen_pipes(u);
            if (u->out.fd < 0 && u->err.fd < 0)
                logs_note(u, "output not captured since the daemon restarted (pipes gone)");
            else if (!getenv("MGR_REEXEC_DONE"))
                logs_note(u, "daemon restarted: output reattached");
            (void)logs_watch(u);
            /* Its sd_notify socket died with the old daemon: bind a new one in the same
             * directory, which is what the container has mounted. */
            _cleanup_free_ char *nd = strdup_printf("%s/notify/%s", m->o.run, u->name);
            if (nd && access(nd, F_OK) == 0)
                free(health_notify_path(u));
        }
    log_info("supervisor running (units %s, run %s, root %s)", m->o.units, m->o.run, m->o.root);

    json_t *resp = NULL;
    int r = mgr_apply(m, NULL, 0, false, &resp);
    if (r >= 0 && resp && !json_is_true(json_object_get(resp, "ok"))) {
        size_t i;
        json_t *e;
        log_error("units in '%s' have errors; running containers are kept, nothing started:",
                m->o.units);
        json_array_foreach(json_object_get(resp, "errors"), i, e)
            log_error("  %s", json_string_value(e));
    }
    /* Network leftovers of units that went away while no daemon ran (crash recovery):
     * leases, hosts files, mgr's bridges. Only after a clean load: the desired set of a
     * broken directory is empty and must not make everything look unused. */
    if (r >= 0 && resp && json_is_true(json_object_get(resp, "ok")) && m->net_ok) {
        struct err ge = {0};
        if (net_lease_gc(m->o.root, m->o.run, &m->desired_set, &ge) < 0)
            log_warn("network leases cleanup: %s", ge.msg);
        err_clear(&ge);
        if (net_network_gc(&m->net, &m->desired_set, &ge) < 0)
            log_warn("network bridges cleanup: %s", ge.msg);
    }
    json_decref(resp);
    /* Deaths while no daemon ran: the policy decides now that units are known. */
    for (struct unit_rt *u = m->units, *next; u; u = next) {
        next = u->next;
        if (!u->pending_exit)
            continue;
        u->pending_exit = false;
        if (!u->c && (u->sv.state == SV_INACTIVE || u->sv.state == SV_WAITING)) {
            u->sv.state = SV_RUNNING;
            struct sv_exit ex = {.code = -1, .unknown = true};
            drive(u, EV_EXITED, &ex);
        }
    }

    flush_spawns(m);
    loop_set_after(m->loop, on_loop_after, m);

    char ready[128];
    snprintf(ready, sizeof(ready), "READY=1\nMAINPID=%d\nSTATUS=supervising %zu units",
            (int)getpid(), m->n_units);
    notify_service_manager(ready);
    r = loop_run(m->loop);
    if (r < 0)
        log_error("event loop: %s", strerror(-r));
out:
    api_close(m);
    while (m->units) {
        struct unit_rt *u = m->units;
        urt_free(m, u);
    }
    free(m->desired_set.units);
    if (m->net_ok)
        net_close(&m->net);
    cg_manager_free(m->cgm);
    if (m->spare_netns >= 0)
        close(m->spare_netns);
    holder_free(m->holder);
    if (m->sig_fd >= 0)
        close(m->sig_fd);
    if (m->ino_fd >= 0)
        close(m->ino_fd);
    if (m->lock_fd >= 0)
        close(m->lock_fd);
    loop_free(m->loop);
    return m->exit;
}

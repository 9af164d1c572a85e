#pragma once
/* Internals shared by manager.c (supervision glue), api.c (control socket) and logs.c
 * (output capture). Not a public API. */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "cgroup.h"
#include "holder.h"
#include "logs.h"
#include "loop.h"
#include "manager.h"
#include "net.h"
#include "proto.h"
#include "reconcile.h"
#include "supervise.h"
#include "unit.h"

#define HIST_MAX      8    /* deaths kept per unit */
#define TAIL_MAX      1024 /* bytes of log tail kept per death */
#define LOG_ROTATE_AT (1u << 20)

struct log_stream {
    int fd;        /* read end of the container's stdout or stderr pipe, -1 if none */
    bool midline;  /* last chunk ended without a newline: no timestamp on the continuation */
};

struct death {
    uint64_t when;      /* wall clock ms */
    struct sv_exit exit;
    char *tail;         /* last log lines (malloc'ed), may be NULL */
};

struct unit_rt {
    struct mgr *m;
    struct unit_rt *next;
    char *name;
    bool is_network;
    struct unit *unit;      /* spec in effect (owned); NULL = unknown (adopted, file gone) */
    struct unit *next_unit; /* replacement to start once the old container is removed */
    char hash[65];
    char *spec_text;        /* recorded canonical JSON of an adopted unit with no unit yet;
                             * else NULL: spec_json() (manager.c) builds it from the unit */
    bool ours;              /* mgr created it (only those are removed) */
    bool net_up;            /* network unit: bridge is up */
    bool removing;          /* dropped from the desired set */
    struct sv sv;
    struct sv_hc hc;
    struct rt_container *c;
    uint64_t started_wall;  /* wall ms of the current run's start */
    uint64_t oom_base;      /* oom_kills of the cgroup at start */
    int64_t death_us;       /* wall µs the daemon saw the death being handled (its event's time) */
    uint64_t cpu_base, io_read_base, io_write_base; /* its counters at start (status shows the
                                                       run's own: a group may be reused) */
    /* Automatic restarts keep the container's emptied cgroup for the next run (reap(),
     * rt_destroy_keep_cgroup): it stays while the unit is about to start again, of this spec. */
    struct cg_group *kept_cg;
    char cg_kept_hash[65];    /* the spec the kept group was configured for */
    char cg_hash[65];         /* the spec the running container's group was made for, "" if
                                 unknown (adopted) or changed since (an update in place) */
    struct cg_stats kept_acct; /* the kept group's counters when its run died */
    struct loop_timer *timer;
    struct loop_timer *hc_timer;
    int hc_fd;              /* probe socket or exec pidfd in flight, -1 = none */
    int notify_fd;          /* this container's sd_notify socket, -1 = none (health.c) */
    pid_t hc_pid;
    bool hc_is_exec;
    uint64_t hc_deadline;
    struct log_stream out, err;
    char *last_error;       /* last start/update failure, for status */
    bool pending_exit;      /* died while no daemon ran: apply the policy once loaded */
    bool spawn_queued;      /* SV_STARTING: to be started by the next flush_spawns() */
    bool spawn_restarted;   /* ... as an automatic restart */
    int log_fd;
    uint64_t log_size;
    struct death hist[HIST_MAX];
    uint32_t n_hist; /* total deaths recorded (ring index = n_hist % HIST_MAX) */
};

struct conn;

struct mgr {
    struct mgr_opts o;
    struct loop *loop;
    int sig_fd;
    int ino_fd;
    int sock_fd;
    int lock_fd;
    bool notify_ok;           /* RUN/notify exists: containers get sd_notify sockets */
    struct loop_timer *debounce;
    struct cg_manager *cgm;
    struct holder *holder; /* keeps pipe read ends while no daemon runs (holder.h) */
    struct net_ctx net;
    bool net_ok;
    struct unit_rt *units; /* all known units, networks included */
    size_t n_units;
    struct unit_set desired_set; /* last applied set (borrowed views for net wiring) */
    struct conn *conns;
    enum mgr_exit exit;
    bool shutting_down;
    bool units_is_source; /* the last apply came from the units dir: inotify re-applies */
    bool fresh_run;       /* RUN had no records at start: a boot, not a daemon restart */
    bool spawns_queued;   /* some unit has spawn_queued */
    int spare_netns;      /* a fresh network namespace for the next start, or -1 (flush_spawns) */
    uint64_t boot_id_hash;
    bool trim_pending;    /* an apply changed things or a big answer was sent: malloc_trim once idle */
};

/* manager.c */
struct unit_rt *mgr_find(struct mgr *m, const char *name);
/* Applies paths (NULL = units dir). Fills *ret_resp (new ref). When the plan needs to wait
 * for stops, returns 1 and calls done(conn) later via mgr_apply_settled. */
int mgr_apply(struct mgr *m, char *const *paths, size_t n_paths, bool dry_run, json_t **ret_resp);
/* True while some unit is in the middle of a stop or start (an apply waits for this). */
bool mgr_busy(struct mgr *m);
json_t *mgr_status_json(struct mgr *m, const char *name);
int mgr_control(struct mgr *m, const char *cmd, const char *name, int sig, char *errbuf,
        size_t len);
void mgr_reexec(struct mgr *m);
/* Called after state changes (shutdown ordering). */
void mgr_after_change(struct mgr *m);
/* health.c tells the manager: on_unhealthy restart is due / health state changed. */
void mgr_unhealthy(struct unit_rt *u);
void mgr_health_changed(struct unit_rt *u);
void mgr_emit(struct mgr *m, struct unit_rt *u, const char *what, const char *detail);

/* health.c: probes scheduled while the container runs. */
void health_start(struct unit_rt *u);
void health_cancel(struct unit_rt *u);
/* Per-container sd_notify socket path to bind-mount at HEALTH_NOTIFY_TARGET (caller
 * frees), or NULL; NOTIFY_SOCKET in the container's environment points there. */
#define HEALTH_NOTIFY_TARGET "/run/mgr-notify"
char *health_notify_path(struct unit_rt *u);
/* Closes u's sd_notify socket and removes its directory (the unit is going away). */
void health_notify_close(struct unit_rt *u);
/* sd_notify socket handling (READY=1). */
int health_notify_listen(struct mgr *m);

/* api.c */
int api_listen(struct mgr *m);
void api_close(struct mgr *m);
/* Sends an event frame to every `events` subscriber. */
void api_broadcast(struct mgr *m, json_t *ev);
/* Called after every state change: answers applies that were waiting for the plan. */
void api_poll_pending(struct mgr *m);

/* logs.c */
/* Creates the two pipes for a container; ret_w gets the write ends for stdio[1], stdio[2]. */
int logs_open(struct unit_rt *u, int ret_w[2]);
/* Watches the read ends in the loop. */
int logs_watch(struct unit_rt *u);
/* Reads what is buffered now (non-blocking) and closes the read ends. */
void logs_close(struct unit_rt *u);
/* Writes one line from mgr itself into the container log ("-- mgr: ..."). */
void logs_note(struct unit_rt *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Last bytes of the container's log (at most max), malloc'ed, NULL if none. */
char *logs_tail(struct unit_rt *u, size_t max);

#pragma once
/* Per-unit supervision state machine (restart policy, backoff, start-rate limit, user stop
 * intent) and the health-check state. Pure: the caller passes the time (now_ms) and the
 * facts; the result says which effect to perform. The whole policy is the transition table
 * in supervise.c. */
#include <stdbool.h>
#include <stdint.h>

#include "unit.h"

enum sv_state {
    SV_INACTIVE, /* never started in this daemon's life, no intent yet */
    SV_WAITING,  /* wants to run; waiting for dependencies' conditions */
    SV_STARTING, /* spawn requested (transient until EV_SPAWNED/EV_SPAWN_FAILED) */
    SV_RUNNING,
    SV_STOPPING, /* stop signal sent; SIGKILL at the deadline */
    SV_BACKOFF,  /* died; restart timer armed */
    SV_EXITED,   /* died and the policy says stay down (e.g. exit 0 under on-failure) */
    SV_FAILED,   /* gave up: start-rate limit hit; until reset-failed/restart/changed unit */
    SV_STOPPED,  /* stopped by the user (persisted intent) */
    _SV_STATE_MAX
};

enum sv_event {
    EV_WANT_UP,      /* apply/boot: the unit should run (does not override a user stop) */
    EV_USER_START,   /* mgr start: clears the stop intent */
    EV_USER_STOP,    /* mgr stop: persisted intent */
    EV_USER_RESTART, /* mgr restart (also clears failed) */
    EV_RESET_FAILED,
    EV_REMOVE,       /* unit removed or replaced: stop, then the manager drops/recreates it */
    EV_DEPS_READY,   /* dependencies now satisfy their conditions */
    EV_SPAWNED,
    EV_SPAWN_FAILED,
    EV_EXITED,       /* the container's init died (details in sv_input.exit) */
    EV_TIMER,        /* the deadline returned earlier passed */
    EV_UNHEALTHY,    /* health check failed retries times and on_unhealthy is restart */
    EV_DEP_RESTARTED, /* a dependency with depends_on.restart restarted */
    _SV_EVENT_MAX
};

enum sv_action {
    SVA_NONE,
    SVA_SPAWN,       /* start the container now (then feed EV_SPAWNED / EV_SPAWN_FAILED) */
    SVA_STOP,        /* send stop.signal, deadline = now + stop.timeout */
    SVA_KILL,        /* send SIGKILL to the whole cgroup */
    SVA_ARM_RESTART, /* deadline set: restart then */
    SVA_GIVE_UP,     /* entered SV_FAILED: apply on_give_up */
    SVA_REMOVED,     /* stopped for EV_REMOVE: the manager may destroy/recreate it now */
    _SVA_MAX
};

/* What a stop in progress leads to. */
enum sv_after { SV_AFTER_STOPPED, SV_AFTER_RESTART, SV_AFTER_REMOVE, SV_AFTER_POLICY };

struct sv_exit {
    int code;      /* exit status, -1 if killed by a signal or unknown */
    int signal;    /* terminating signal or 0 */
    bool oom;      /* the cgroup recorded an OOM kill */
    bool unhealthy; /* killed because of failed health checks */
    bool unknown;  /* died while no daemon ran: status lost */
    bool start_failed; /* never ran: the start itself failed (image, spawn, exec) */
};

#define SV_BURST_MAX 64

struct sv {
    enum sv_state state;
    enum sv_after after;
    bool stop_intent;     /* user stop, persisted by the manager */
    uint32_t restarts;    /* automatic restarts so far */
    uint64_t cur_delay_ms; /* next backoff delay (0 = not yet started: use restart.delay) */
    uint64_t started_ms;  /* when the current/last run started */
    uint64_t deadline_ms; /* pending timer, 0 = none */
    uint64_t starts_base;           /* starts[] are ms after this (set by the first start) */
    uint32_t starts[SV_BURST_MAX];  /* ring of recent start times for the rate limit (4 bytes
                                     * each: it is most of a unit's supervision state) */
    uint32_t n_starts;
    struct sv_exit last_exit;
    bool has_exit;
};

struct sv_input {
    enum sv_event ev;
    uint64_t now_ms;
    bool deps_ready;      /* for events that may lead to a spawn */
    struct sv_exit exit;  /* EV_EXITED */
};

struct sv_output {
    enum sv_action act;
    uint64_t deadline_ms; /* absolute, when act arms a timer (SVA_STOP, SVA_ARM_RESTART) */
    bool restarted;       /* this spawn is an automatic or user restart (propagate depends_on.restart) */
};

/* Initial state (SV_INACTIVE, or SV_STOPPED when stop_intent). */
void sv_init(struct sv *s, bool stop_intent);
/* Feeds one event. Returns the effect to perform; s is updated. */
struct sv_output sv_step(struct sv *s, const struct unit *u, const struct sv_input *in);
/* Whether the unit counts as "up" for depends_on (started/healthy handled by the caller). */
bool sv_is_active(const struct sv *s);
const char *sv_state_name(enum sv_state st);
const char *sv_event_name(enum sv_event ev);

/* Health checks. */
enum sv_health { HEALTH_STATE_NONE, HEALTH_STATE_STARTING, HEALTH_STATE_HEALTHY,
                 HEALTH_STATE_UNHEALTHY };

struct sv_hc {
    enum sv_health state;
    uint32_t fails;      /* consecutive failures */
    uint64_t since_ms;   /* when the container started (start_period counts from here) */
};

/* Resets for a newly started container. */
void sv_hc_start(struct sv_hc *h, const struct health_spec *hs, uint64_t now_ms);
/* Records one probe result; returns true when the container just became unhealthy (the
 * caller then feeds EV_UNHEALTHY if on_unhealthy is restart). Failures within start_period
 * don't count; a success makes it healthy. */
bool sv_hc_result(struct sv_hc *h, const struct health_spec *hs, bool ok, uint64_t now_ms);
/* sd_notify READY=1 */
void sv_hc_ready(struct sv_hc *h);
/* The container is gone (stopped, exited, failed): no health until the next start, so status
 * never shows a stale "healthy". */
void sv_hc_stop(struct sv_hc *h);
const char *sv_health_name(enum sv_health h);

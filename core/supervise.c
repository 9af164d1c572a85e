/* Supervision policy as one transition table (s6-supervise style). Cells with a decision
 * name a pure helper that reads the unit's restart spec and the exit; everything else is a
 * fixed {next state, action}. Time comes in through sv_input.now_ms. */
#include "supervise.h"

#include <stddef.h>
#include <string.h>

#include "util.h"

enum decision {
    D_FIXED,   /* use next/act as they are */
    D_SPAWN,   /* spawn if deps are ready, else wait */
    D_EXIT,    /* died on its own: restart policy */
    D_STOPPED, /* died after our stop: what the stop was for */
    D_REMOVE,  /* remove requested: stop if running, else removed at once */
};

struct sv_step {
    enum sv_state next;
    enum sv_action act;
    enum decision d;
    bool valid; /* false: ignore the event, stay put */
};

#define FIX(st, a) {st, a, D_FIXED, true}
#define DEC(dec)   {0, SVA_NONE, dec, true}
#define STOP_TO(after) {SV_STOPPING, SVA_STOP, D_FIXED, true}

/* One row per state; an empty cell ignores the event. The `after` of a stop is set by the
 * event (sv_step), the rest is here. */
static const struct sv_step table[_SV_STATE_MAX][_SV_EVENT_MAX] = {
        [SV_INACTIVE] = {[EV_WANT_UP] = DEC(D_SPAWN), [EV_USER_START] = DEC(D_SPAWN),
                [EV_USER_RESTART] = DEC(D_SPAWN), [EV_USER_STOP] = FIX(SV_STOPPED, SVA_NONE),
                [EV_REMOVE] = DEC(D_REMOVE)},
        [SV_WAITING] = {[EV_DEPS_READY] = DEC(D_SPAWN), [EV_WANT_UP] = DEC(D_SPAWN),
                [EV_USER_START] = DEC(D_SPAWN), [EV_USER_RESTART] = DEC(D_SPAWN),
                [EV_USER_STOP] = FIX(SV_STOPPED, SVA_NONE), [EV_REMOVE] = DEC(D_REMOVE)},
        [SV_STARTING] = {[EV_SPAWNED] = FIX(SV_RUNNING, SVA_NONE),
                [EV_SPAWN_FAILED] = DEC(D_EXIT)},
        [SV_RUNNING] = {[EV_EXITED] = DEC(D_EXIT), [EV_USER_STOP] = STOP_TO(SV_AFTER_STOPPED),
                [EV_USER_RESTART] = STOP_TO(SV_AFTER_RESTART),
                [EV_DEP_RESTARTED] = STOP_TO(SV_AFTER_RESTART),
                [EV_UNHEALTHY] = STOP_TO(SV_AFTER_POLICY), [EV_REMOVE] = DEC(D_REMOVE)},
        [SV_STOPPING] = {[EV_EXITED] = DEC(D_STOPPED), [EV_TIMER] = FIX(SV_STOPPING, SVA_KILL),
                [EV_USER_STOP] = FIX(SV_STOPPING, SVA_NONE), [EV_REMOVE] = DEC(D_REMOVE)},
        [SV_BACKOFF] = {[EV_TIMER] = DEC(D_SPAWN), [EV_USER_START] = DEC(D_SPAWN),
                [EV_USER_RESTART] = DEC(D_SPAWN), [EV_USER_STOP] = FIX(SV_STOPPED, SVA_NONE),
                [EV_REMOVE] = DEC(D_REMOVE)},
        [SV_EXITED] = {[EV_USER_START] = DEC(D_SPAWN), [EV_USER_RESTART] = DEC(D_SPAWN),
                [EV_USER_STOP] = FIX(SV_STOPPED, SVA_NONE), [EV_REMOVE] = DEC(D_REMOVE)},
        [SV_FAILED] = {[EV_USER_START] = DEC(D_SPAWN), [EV_USER_RESTART] = DEC(D_SPAWN),
                [EV_RESET_FAILED] = FIX(SV_EXITED, SVA_NONE),
                [EV_USER_STOP] = FIX(SV_STOPPED, SVA_NONE), [EV_REMOVE] = DEC(D_REMOVE)},
        [SV_STOPPED] = {[EV_USER_START] = DEC(D_SPAWN), [EV_USER_RESTART] = DEC(D_SPAWN),
                [EV_REMOVE] = DEC(D_REMOVE)},
};

static const char *const state_names[_SV_STATE_MAX] = {
        [SV_INACTIVE] = "inactive",
        [SV_WAITING] = "waiting",
        [SV_STARTING] = "starting",
        [SV_RUNNING] = "running",
        [SV_STOPPING] = "stopping",
        [SV_BACKOFF] = "backoff",
        [SV_EXITED] = "exited",
        [SV_FAILED] = "failed",
        [SV_STOPPED] = "stopped",
};

static const char *const event_names[_SV_EVENT_MAX] = {
        [EV_WANT_UP] = "want-up",
        [EV_USER_START] = "start",
        [EV_USER_STOP] = "stop",
        [EV_USER_RESTART] = "restart",
        [EV_RESET_FAILED] = "reset-failed",
        [EV_REMOVE] = "remove",
        [EV_DEPS_READY] = "deps-ready",
        [EV_SPAWNED] = "spawned",
        [EV_SPAWN_FAILED] = "spawn-failed",
        [EV_EXITED] = "exited",
        [EV_TIMER] = "timer",
        [EV_UNHEALTHY] = "unhealthy",
        [EV_DEP_RESTARTED] = "dependency-restarted",
};

const char *sv_state_name(enum sv_state st)
{
    return st < _SV_STATE_MAX ? state_names[st] : "?";
}

const char *sv_event_name(enum sv_event ev)
{
    return ev < _SV_EVENT_MAX ? event_names[ev] : "?";
}

void sv_init(struct sv *s, bool stop_intent)
{
    memset(s, 0, sizeof(*s));
    s->stop_intent = stop_intent;
    s->state = stop_intent ? SV_STOPPED : SV_INACTIVE;
}

bool sv_is_active(const struct sv *s)
{
    return s->state == SV_RUNNING || s->state == SV_STOPPING;
}

static bool exit_is_failure(const struct sv_exit *e)
{
    return e->unknown || e->unhealthy || e->oom || e->signal != 0 || e->code != 0;
}

static bool exit_prevented(const struct unit *u, const struct sv_exit *e)
{
    if (e->unknown || e->unhealthy || e->oom || e->signal != 0 || e->code < 0)
        return false;
    for (size_t i = 0; i < u->restart.n_prevent_exit_codes; i++)
        if (u->restart.prevent_exit_codes[i] == e->code)
            return true;
    return false;
}

/* Starts counted within the rate-limit window ending now. */
static uint32_t recent_starts(const struct sv *s, const struct unit *u, uint64_t now)
{
    uint32_t c = 0, n = s->n_starts < SV_BURST_MAX ? s->n_starts : SV_BURST_MAX;
    for (uint32_t i = 0; i < n; i++)
        if (now - (s->starts_base + s->starts[i]) < u->restart.interval_ms)
            c++;
    return c;
}

/* Records a start in the ring. A start more than 49 days (2^32 ms) after the base moves the
 * base to 24 days before it; older starts are clamped to the new base, which only matters
 * for a rate-limit interval longer than 24 days. */
static void note_start(struct sv *s, uint64_t now)
{
    if (s->n_starts == 0)
        s->starts_base = now;
    if (now - s->starts_base > UINT32_MAX) {
        uint64_t nb = now - (UINT32_MAX >> 1);
        uint32_t n = s->n_starts < SV_BURST_MAX ? s->n_starts : SV_BURST_MAX;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t t = s->starts_base + s->starts[i];
            s->starts[i] = t > nb ? (uint32_t)(t - nb) : 0;
        }
        s->starts_base = nb;
    }
    s->starts[s->n_starts % SV_BURST_MAX] = (uint32_t)(now - s->starts_base);
    s->n_starts++;
}

static struct sv_output do_spawn(struct sv *s, const struct sv_input *in, bool restart)
{
    if (!in->deps_ready) {
        s->state = SV_WAITING;
        return (struct sv_output){SVA_NONE, 0, false};
    }
    s->state = SV_STARTING;
    s->started_ms = in->now_ms;
    note_start(s, in->now_ms);
    s->deadline_ms = 0;
    return (struct sv_output){SVA_SPAWN, 0, restart};
}

static struct sv_output decide_exit(struct sv *s, const struct unit *u, const struct sv_input *in)
{
    const struct restart_spec *rs = &u->restart;
    s->last_exit = in->exit;
    s->has_exit = true;
    bool failure = exit_is_failure(&in->exit);
    bool restart;
    switch (rs->policy) {
    case RESTART_NO: restart = false; break;
    case RESTART_ON_FAILURE: restart = failure; break;
    default: restart = true; break;
    }
    if (exit_prevented(u, &in->exit))
        restart = false;
    if (!restart) {
        s->state = SV_EXITED;
        return (struct sv_output){SVA_NONE, 0, false};
    }
    /* A run that lasted reset_after starts the backoff over. */
    if (s->cur_delay_ms == 0 || in->now_ms - s->started_ms >= rs->reset_after_ms)
        s->cur_delay_ms = rs->delay_ms;
    if (rs->burst > 0 && recent_starts(s, u, in->now_ms) >= rs->burst) {
        s->state = SV_FAILED;
        return (struct sv_output){SVA_GIVE_UP, 0, false};
    }
    uint64_t delay = s->cur_delay_ms;
    uint64_t next = delay * 2;
    if (next < rs->delay_ms)
        next = rs->delay_ms;
    s->cur_delay_ms = next > rs->max_delay_ms ? rs->max_delay_ms : next;
    if (s->cur_delay_ms == 0)
        s->cur_delay_ms = 0;
    s->restarts++;
    s->state = SV_BACKOFF;
    s->deadline_ms = in->now_ms + delay;
    return (struct sv_output){SVA_ARM_RESTART, s->deadline_ms, true};
}

struct sv_output sv_step(struct sv *s, const struct unit *u, const struct sv_input *in)
{
    if (s->state >= _SV_STATE_MAX || in->ev >= _SV_EVENT_MAX)
        return (struct sv_output){SVA_NONE, 0, false};
    const struct sv_step *st = &table[s->state][in->ev];
    if (!st->valid)
        return (struct sv_output){SVA_NONE, 0, false};

    /* Intent bookkeeping shared by all states. */
    switch (in->ev) {
    case EV_USER_STOP: s->stop_intent = true; break;
    case EV_USER_START:
    case EV_USER_RESTART:
        s->stop_intent = false;
        /* A user (re)start is a fresh start: backoff and rate limit start over. */
        s->n_starts = 0;
        s->cur_delay_ms = 0;
        break;
    case EV_RESET_FAILED:
        s->n_starts = 0;
        s->cur_delay_ms = 0;
        break;
    default: break;
    }

    switch (st->d) {
    case D_FIXED: {
        enum sv_state from = s->state;
        s->state = st->next;
        if (st->act == SVA_STOP) {
            s->after = in->ev == EV_USER_STOP       ? SV_AFTER_STOPPED
                       : in->ev == EV_UNHEALTHY ? SV_AFTER_POLICY
                                                : SV_AFTER_RESTART;
            if (from == SV_STOPPING)
                return (struct sv_output){SVA_NONE, 0, false};
            s->deadline_ms = in->now_ms + u->stop.timeout_ms;
            return (struct sv_output){SVA_STOP, s->deadline_ms, false};
        }
        if (in->ev == EV_USER_STOP && from == SV_STOPPING)
            s->after = SV_AFTER_STOPPED;
        if (from == SV_BACKOFF)
            s->deadline_ms = 0;
        if (st->act == SVA_KILL)
            s->deadline_ms = 0;
        return (struct sv_output){st->act, 0, false};
    }
    case D_SPAWN:
        return do_spawn(s, in, in->ev == EV_USER_RESTART || s->state == SV_BACKOFF);
    case D_EXIT: {
        struct sv_input in2 = *in;
        if (in->ev == EV_SPAWN_FAILED)
            in2.exit = (struct sv_exit){.code = 127, .start_failed = true};
        return decide_exit(s, u, &in2);
    }
    case D_STOPPED: {
        s->last_exit = in->exit;
        s->has_exit = true;
        s->deadline_ms = 0;
        switch (s->after) {
        case SV_AFTER_STOPPED: s->state = SV_STOPPED; return (struct sv_output){SVA_NONE, 0, false};
        case SV_AFTER_REMOVE: s->state = SV_EXITED; return (struct sv_output){SVA_REMOVED, 0, false};
        case SV_AFTER_RESTART: return do_spawn(s, in, true);
        case SV_AFTER_POLICY: {
            struct sv_input in2 = *in;
            in2.exit.unhealthy = true;
            return decide_exit(s, u, &in2);
        }
        }
        return (struct sv_output){SVA_NONE, 0, false};
    }
    case D_REMOVE:
        if (s->state == SV_RUNNING) {
            s->state = SV_STOPPING;
            s->after = SV_AFTER_REMOVE;
            s->deadline_ms = in->now_ms + u->stop.timeout_ms;
            return (struct sv_output){SVA_STOP, s->deadline_ms, false};
        }
        if (s->state == SV_STOPPING) {
            s->after = SV_AFTER_REMOVE;
            return (struct sv_output){SVA_NONE, 0, false};
        }
        s->state = SV_EXITED;
        s->deadline_ms = 0;
        return (struct sv_output){SVA_REMOVED, 0, false};
    }
    return (struct sv_output){SVA_NONE, 0, false};
}

/* Health. */

const char *sv_health_name(enum sv_health h)
{
    static const char *names[] = {"none", "starting", "healthy", "unhealthy"};
    return h <= HEALTH_STATE_UNHEALTHY ? names[h] : "?";
}

void sv_hc_start(struct sv_hc *h, const struct health_spec *hs, uint64_t now_ms)
{
    h->state = hs->kind == HEALTH_NONE ? HEALTH_STATE_NONE : HEALTH_STATE_STARTING;
    h->fails = 0;
    h->since_ms = now_ms;
}

bool sv_hc_result(struct sv_hc *h, const struct health_spec *hs, bool ok, uint64_t now_ms)
{
    if (ok) {
        h->fails = 0;
        h->state = HEALTH_STATE_HEALTHY;
        return false;
    }
    /* During start_period a failure does not count (the service is still coming up),
     * unless it had already become healthy once. */
    if (h->state == HEALTH_STATE_STARTING && now_ms - h->since_ms < hs->start_period_ms)
        return false;
    h->fails++;
    uint64_t retries = hs->retries ? hs->retries : 1;
    if (h->fails >= retries && h->state != HEALTH_STATE_UNHEALTHY) {
        h->state = HEALTH_STATE_UNHEALTHY;
        return true;
    }
    return false;
}

void sv_hc_ready(struct sv_hc *h)
{
    h->fails = 0;
    h->state = HEALTH_STATE_HEALTHY;
}

void sv_hc_stop(struct sv_hc *h)
{
    h->fails = 0;
    h->state = HEALTH_STATE_NONE;
}

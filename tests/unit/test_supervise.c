/* Table-driven tests of the supervision state machine: restart policies, backoff, rate limit,
 * user stop intent, dependency restarts, health. Time is simulated. */
#include <signal.h>
#include <stdlib.h>

#include "harness.h"
#include "supervise.h"

static struct unit mkunit(enum restart_policy p)
{
    struct unit u = {0};
    u.restart = (struct restart_spec){.policy = p, .delay_ms = 100, .max_delay_ms = 1000,
            .reset_after_ms = 60000, .burst = 5, .interval_ms = 60000};
    u.stop = (struct stop_spec){.signal = SIGTERM, .timeout_ms = 10000};
    return u;
}

static struct sv_output ev(struct sv *s, const struct unit *u, enum sv_event e, uint64_t now)
{
    struct sv_input in = {.ev = e, .now_ms = now, .deps_ready = true};
    return sv_step(s, u, &in);
}

static struct sv_output die(struct sv *s, const struct unit *u, int code, int sig, uint64_t now)
{
    struct sv_input in = {.ev = EV_EXITED, .now_ms = now, .deps_ready = true,
            .exit = {.code = sig ? -1 : code, .signal = sig}};
    return sv_step(s, u, &in);
}

/* Brings a fresh unit to RUNNING at time t. */
static int up(struct sv *s, const struct unit *u, uint64_t t)
{
    sv_init(s, false);
    struct sv_output o = ev(s, u, EV_WANT_UP, t);
    if (o.act != SVA_SPAWN || s->state != SV_STARTING)
        return 1;
    ev(s, u, EV_SPAWNED, t);
    return s->state != SV_RUNNING;
}

struct policy_case {
    enum restart_policy p;
    int code, sig;
    bool restarts;
};

static int test_policies(void)
{
    static const struct policy_case cases[] = {
            {RESTART_NO, 1, 0, false},
            {RESTART_NO, 0, SIGKILL, false},
            {RESTART_ON_FAILURE, 0, 0, false},
            {RESTART_ON_FAILURE, 1, 0, true},
            {RESTART_ON_FAILURE, 0, SIGKILL, true},
            {RESTART_ALWAYS, 0, 0, true},
            {RESTART_ALWAYS, 0, SIGKILL, true},
            {RESTART_UNLESS_STOPPED, 0, 0, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct unit u = mkunit(cases[i].p);
        struct sv s;
        CHECK(up(&s, &u, 1000) == 0);
        struct sv_output o = die(&s, &u, cases[i].code, cases[i].sig, 2000);
        if (cases[i].restarts) {
            CHECK_INT(o.act, SVA_ARM_RESTART);
            CHECK_INT(s.state, SV_BACKOFF);
            CHECK_INT(o.deadline_ms, 2100);
        } else {
            CHECK_INT(o.act, SVA_NONE);
            CHECK_INT(s.state, SV_EXITED);
        }
    }
    return 0;
}

static int test_prevent_exit_codes(void)
{
    struct unit u = mkunit(RESTART_ALWAYS);
    int codes[] = {3, 42};
    u.restart.prevent_exit_codes = codes;
    u.restart.n_prevent_exit_codes = 2;
    struct sv s;
    CHECK(up(&s, &u, 0) == 0);
    die(&s, &u, 42, 0, 10);
    CHECK_INT(s.state, SV_EXITED);
    CHECK(up(&s, &u, 0) == 0);
    die(&s, &u, 4, 0, 10);
    CHECK_INT(s.state, SV_BACKOFF);
    /* A signal is never a prevented exit code. */
    CHECK(up(&s, &u, 0) == 0);
    die(&s, &u, 0, 3, 10);
    CHECK_INT(s.state, SV_BACKOFF);
    return 0;
}

static int test_backoff_and_give_up(void)
{
    struct unit u = mkunit(RESTART_ON_FAILURE);
    u.restart.burst = 5;
    struct sv s;
    CHECK(up(&s, &u, 0) == 0);
    uint64_t t = 0;
    uint64_t want[] = {100, 200, 400, 800};
    for (int i = 0; i < 4; i++) {
        t += 10;
        struct sv_output o = die(&s, &u, 1, 0, t);
        CHECK_INT(o.act, SVA_ARM_RESTART);
        CHECK_INT(o.deadline_ms - t, want[i]);
        t = o.deadline_ms;
        o = ev(&s, &u, EV_TIMER, t);
        CHECK_INT(o.act, SVA_SPAWN);
        CHECK(o.restarted);
        ev(&s, &u, EV_SPAWNED, t);
    }
    CHECK_INT(s.restarts, 4);
    /* Fifth start died: burst reached within the interval. */
    struct sv_output o = die(&s, &u, 1, 0, t + 10);
    CHECK_INT(o.act, SVA_GIVE_UP);
    CHECK_INT(s.state, SV_FAILED);
    /* Stays failed on timers and want-up; reset-failed then start works. */
    ev(&s, &u, EV_TIMER, t + 20);
    ev(&s, &u, EV_WANT_UP, t + 20);
    CHECK_INT(s.state, SV_FAILED);
    ev(&s, &u, EV_RESET_FAILED, t + 30);
    CHECK_INT(s.state, SV_EXITED);
    o = ev(&s, &u, EV_USER_START, t + 40);
    CHECK_INT(o.act, SVA_SPAWN);
    return 0;
}

static int test_max_delay_and_reset(void)
{
    struct unit u = mkunit(RESTART_ALWAYS);
    u.restart.burst = 0; /* no rate limit */
    u.restart.reset_after_ms = 5000;
    struct sv s;
    CHECK(up(&s, &u, 0) == 0);
    uint64_t t = 0, d = 0;
    for (int i = 0; i < 8; i++) {
        struct sv_output o = die(&s, &u, 1, 0, t + 1);
        d = o.deadline_ms - (t + 1);
        t = o.deadline_ms;
        ev(&s, &u, EV_TIMER, t);
        ev(&s, &u, EV_SPAWNED, t);
    }
    CHECK_INT(d, 1000); /* capped at max_delay */
    /* A stable run of reset_after: back to delay. */
    struct sv_output o = die(&s, &u, 1, 0, t + 6000);
    CHECK_INT(o.deadline_ms - (t + 6000), 100);
    return 0;
}

static int test_rate_limit_window(void)
{
    struct unit u = mkunit(RESTART_ALWAYS);
    u.restart.burst = 3;
    u.restart.interval_ms = 1000;
    u.restart.delay_ms = 400;
    u.restart.max_delay_ms = 400;
    struct sv s;
    CHECK(up(&s, &u, 0) == 0);
    uint64_t t = 0;
    /* Starts spread wider than the interval never give up. */
    for (int i = 0; i < 10; i++) {
        struct sv_output o = die(&s, &u, 1, 0, t + 100);
        CHECK_INT(o.act, SVA_ARM_RESTART);
        t = o.deadline_ms;
        ev(&s, &u, EV_TIMER, t);
        ev(&s, &u, EV_SPAWNED, t);
    }
    return 0;
}

/* Crash-restarts (delay 100 ms) from t until the unit gives up or n starts are made; returns
 * the number of starts after the first, -1 on an unexpected action. */
static int crash_loop(struct sv *s, const struct unit *u, uint64_t *t, int n)
{
    for (int i = 0; i < n; i++) {
        struct sv_output o = die(s, u, 1, 0, *t + 10);
        if (o.act == SVA_GIVE_UP)
            return i;
        if (o.act != SVA_ARM_RESTART)
            return -1;
        *t = o.deadline_ms;
        ev(s, u, EV_TIMER, *t);
        ev(s, u, EV_SPAWNED, *t);
    }
    return n;
}

/* Start times are kept as 32-bit ms offsets from a base: the rate limit must hold at any
 * monotonic time and across runs longer than 2^32 ms (49.7 days) between starts. */
static int test_rate_limit_far_times(void)
{
    struct unit u = mkunit(RESTART_ALWAYS);
    u.restart.burst = 3;
    u.restart.interval_ms = 1000;
    u.restart.max_delay_ms = 100;
    struct sv s;
    uint64_t t = 5000000000000ull; /* ~158 years of uptime: far above 2^32 */
    CHECK(up(&s, &u, t) == 0);
    const uint64_t days60 = 60ull * 24 * 3600 * 1000;
    /* Two crashes, each after a run of 60 days: never within the interval. */
    for (int i = 0; i < 2; i++) {
        t += days60;
        CHECK_INT(crash_loop(&s, &u, &t, 1), 1);
    }
    /* Then a crash loop: 3 starts within 1 s, the third dies: gives up. */
    CHECK_INT(crash_loop(&s, &u, &t, 10), 2);
    CHECK_INT(s.state, SV_FAILED);
    return 0;
}

static int test_user_stop(void)
{
    struct unit u = mkunit(RESTART_ALWAYS);
    struct sv s;
    CHECK(up(&s, &u, 0) == 0);
    struct sv_output o = ev(&s, &u, EV_USER_STOP, 100);
    CHECK_INT(o.act, SVA_STOP);
    CHECK_INT(o.deadline_ms, 10100);
    CHECK(s.stop_intent);
    o = ev(&s, &u, EV_TIMER, 10100);
    CHECK_INT(o.act, SVA_KILL);
    o = die(&s, &u, 0, SIGKILL, 10101);
    CHECK_INT(o.act, SVA_NONE);
    CHECK_INT(s.state, SV_STOPPED);
    /* want-up (apply, boot) does not override the intent */
    o = ev(&s, &u, EV_WANT_UP, 20000);
    CHECK_INT(o.act, SVA_NONE);
    CHECK_INT(s.state, SV_STOPPED);
    /* persisted intent: a new daemon starts in STOPPED */
    sv_init(&s, true);
    CHECK_INT(s.state, SV_STOPPED);
    o = ev(&s, &u, EV_USER_START, 20000);
    CHECK_INT(o.act, SVA_SPAWN);
    CHECK(!s.stop_intent);
    return 0;
}

static int test_restart_and_deps(void)
{
    struct unit u = mkunit(RESTART_NO);
    struct sv s;
    CHECK(up(&s, &u, 0) == 0);
    struct sv_output o = ev(&s, &u, EV_DEP_RESTARTED, 50);
    CHECK_INT(o.act, SVA_STOP);
    o = die(&s, &u, 0, SIGTERM, 60);
    CHECK_INT(o.act, SVA_SPAWN);
    CHECK(o.restarted);
    ev(&s, &u, EV_SPAWNED, 60);
    /* deps not ready: wait, then start on deps-ready */
    sv_init(&s, false);
    struct sv_input in = {.ev = EV_WANT_UP, .now_ms = 0, .deps_ready = false};
    o = sv_step(&s, &u, &in);
    CHECK_INT(o.act, SVA_NONE);
    CHECK_INT(s.state, SV_WAITING);
    o = ev(&s, &u, EV_DEPS_READY, 5);
    CHECK_INT(o.act, SVA_SPAWN);
    return 0;
}

static int test_unhealthy_and_remove(void)
{
    struct unit u = mkunit(RESTART_ON_FAILURE);
    struct sv s;
    CHECK(up(&s, &u, 0) == 0);
    struct sv_output o = ev(&s, &u, EV_UNHEALTHY, 10);
    CHECK_INT(o.act, SVA_STOP);
    o = die(&s, &u, 0, SIGTERM, 20);
    CHECK_INT(o.act, SVA_ARM_RESTART);
    CHECK(s.last_exit.unhealthy);
    /* remove while in backoff: removed at once */
    o = ev(&s, &u, EV_REMOVE, 30);
    CHECK_INT(o.act, SVA_REMOVED);
    /* remove while running: stop first */
    CHECK(up(&s, &u, 0) == 0);
    o = ev(&s, &u, EV_REMOVE, 30);
    CHECK_INT(o.act, SVA_STOP);
    o = die(&s, &u, 0, SIGTERM, 40);
    CHECK_INT(o.act, SVA_REMOVED);
    /* spawn failure counts as a failed start */
    sv_init(&s, false);
    ev(&s, &u, EV_WANT_UP, 0);
    o = ev(&s, &u, EV_SPAWN_FAILED, 0);
    CHECK_INT(o.act, SVA_ARM_RESTART);
    CHECK_INT(s.last_exit.code, 127);
    CHECK(s.last_exit.start_failed);
    return 0;
}

static int test_health(void)
{
    struct health_spec hs = {.kind = HEALTH_TCP, .retries = 3, .start_period_ms = 1000};
    struct sv_hc h;
    sv_hc_start(&h, &hs, 0);
    CHECK_INT(h.state, HEALTH_STATE_STARTING);
    CHECK(!sv_hc_result(&h, &hs, false, 500)); /* in start period */
    CHECK_INT(h.fails, 0);
    CHECK(!sv_hc_result(&h, &hs, false, 1500));
    CHECK(!sv_hc_result(&h, &hs, false, 1600));
    CHECK(sv_hc_result(&h, &hs, false, 1700));
    CHECK_INT(h.state, HEALTH_STATE_UNHEALTHY);
    CHECK(!sv_hc_result(&h, &hs, false, 1800)); /* reported once */
    CHECK(!sv_hc_result(&h, &hs, true, 1900));
    CHECK_INT(h.state, HEALTH_STATE_HEALTHY);
    sv_hc_start(&h, &hs, 0);
    sv_hc_ready(&h);
    CHECK_INT(h.state, HEALTH_STATE_HEALTHY);
    sv_hc_stop(&h); /* container gone: no stale "healthy" */
    CHECK_INT(h.state, HEALTH_STATE_NONE);
    CHECK_INT(h.fails, 0);
    struct health_spec none = {.kind = HEALTH_NONE};
    sv_hc_start(&h, &none, 0);
    CHECK_INT(h.state, HEALTH_STATE_NONE);
    return 0;
}

int main(void)
{
    RUN(test_policies);
    RUN(test_prevent_exit_codes);
    RUN(test_backoff_and_give_up);
    RUN(test_max_delay_and_reset);
    RUN(test_rate_limit_window);
    RUN(test_rate_limit_far_times);
    RUN(test_user_stop);
    RUN(test_restart_and_deps);
    RUN(test_unhealthy_and_remove);
    RUN(test_health);
    return HARNESS_END();
}

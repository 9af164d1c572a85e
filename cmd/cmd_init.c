/* mgr as PID 1: boot a minimal machine, run the supervisor (`mgr daemon`) as a child, reap
 * every orphan, turn signals into poweroff/reboot/re-apply, shut down in order, never exit.
 * The effects live in core/pid1.c; this file sequences them and logs to the console. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd.h"
#include "../core/log.h"
#include "../core/pid1.h"
#include "../core/proto.h"
#include "../core/unit_parse.h"
#include "../core/util.h"

#define SUPERVISOR_BACKOFF_MIN_MS 500
#define SUPERVISOR_BACKOFF_MAX_MS 30000
#define SUPERVISOR_STABLE_MS      60000
#define TERM_GRACE_MS             3000
#define KILL_GRACE_MS             2000
#define SHUTDOWN_MIN_MS           10000
#define CRIT_POLL_MS              2000
#define STATUS_TIMEOUT_MS         1000
#define SUPERVISOR_WATCH_NAME     "(supervisor)"

struct init {
    struct mgr_ctx *ctx;
    struct pid1_config cfg;
    int sfd, tfd, epfd;
    /* supervisor child */
    pid_t sup_pid;
    uint64_t sup_started_ms, sup_backoff_ms, sup_restart_at_ms; /* restart_at 0: none due */
    /* mgr.run= program */
    pid_t run_pid;
    /* shutdown */
    enum pid1_phase phase;
    enum pid1_action final;
    uint64_t phase_deadline_ms;
    /* watchdog */
    int wd_fd;
    uint64_t wd_timeout_s, wd_interval_ms, wd_next_ms;
    bool wd_stopped; /* a critical unit failed past its deadline: let the hardware reset */
    /* critical units (from the unit files) and how long each has been bad */
    char **critical;
    struct pid1_crit_watch crit;
    uint64_t crit_next_ms;
    bool crit_acted;
    bool machine_init; /* false: init of a PID namespace (container) */
};

static double uptime_s(void)
{
    _cleanup_free_ char *t = NULL;
    if (read_file_at(AT_FDCWD, "/proc/uptime", 256, &t, NULL) < 0)
        return 0;
    return strtod(t, NULL);
}

/* Makes /dev/console the stdio of PID 1 (and so of its children): the kernel leaves fds 0-2
 * closed when the initramfs has no /dev/console node. */
static void setup_console(void)
{
    int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return;
    for (int i = 0; i < 3; i++)
        if (fd != i)
            dup2(fd, i);
    if (fd > 2)
        close(fd);
    log_set_fd(2);
}

static void mount_all(enum pid1_cgroup cg)
{
    struct pid1_mount plan[32];
    size_t n = pid1_mount_plan(cg, plan, ARRAY_SIZE(plan));
    for (size_t i = 0; i < n; i++) {
        struct err e = {0};
        int r = pid1_mount_apply(&plan[i], &e);
        if (r < 0 && plan[i].optional)
            log_debug("%s, skipping", e.msg);
        else if (r < 0)
            log_error("%s", e.msg);
        else if (r == 0)
            log_debug("mounted %s on %s", plan[i].fstype, plan[i].target);
    }
}

static void load_config(struct pid1_config *cfg)
{
    struct err e = {0};
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    int r = read_file_at(AT_FDCWD, PID1_INIT_YAML, 65536, &text, &len);
    if (r >= 0) {
        if (pid1_config_yaml(cfg, text, len, &e) < 0)
            log_warn("%s, ignoring the rest of the file", e.msg);
    } else if (r != -ENOENT) {
        log_warn("read %s: %s, ignoring", PID1_INIT_YAML, strerror(-r));
    }
    free(text);
    text = NULL;
    r = read_file_at(AT_FDCWD, "/proc/cmdline", 65536, &text, NULL);
    if (r < 0) {
        log_warn("read /proc/cmdline: %s, ignoring", strerror(-r));
        return;
    }
    err_clear(&e);
    if (pid1_config_cmdline(cfg, text, &e) < 0)
        log_warn("%s, ignoring", e.msg);
}

static void module_report(const char *module, int r, const char *msg, void *userdata)
{
    if (r < 0)
        log_error("%s", msg);
    else
        log_info("module %s loaded", module);
}

/* Child side of a spawn: plain signal state, own session, stdin from /dev/null. */
static void child_reset(void)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    int fd = open("/dev/null", O_RDONLY);
    if (fd >= 0 && fd != 0) {
        dup2(fd, 0);
        close(fd);
    }
}

static void start_supervisor(struct init *in)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        log_error("start supervisor: readlink /proc/self/exe: %s", strerror(errno));
        in->sup_restart_at_ms = now_ms() + SUPERVISOR_BACKOFF_MAX_MS;
        return;
    }
    exe[n] = '\0';
    pid_t pid = fork();
    if (pid < 0) {
        log_error("start supervisor: fork: %s", strerror(errno));
        in->sup_restart_at_ms = now_ms() + SUPERVISOR_BACKOFF_MAX_MS;
        return;
    }
    if (pid == 0) {
        char *argv[] = {"mgr", "--root", (char *)in->ctx->root, "--run", (char *)in->ctx->run,
                "--units", (char *)in->ctx->units, "daemon", NULL};
        child_reset();
        setenv("MGR_INIT", "1", 1);
        execv(exe, argv);
        dprintf(2, "mgr: exec supervisor %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    in->sup_pid = pid;
    in->sup_started_ms = now_ms();
    in->sup_restart_at_ms = 0;
    log_info("supervisor started (pid %d, units %s)", (int)pid, in->ctx->units);
}

static void start_run(struct init *in)
{
    pid_t pid = fork();
    if (pid < 0) {
        log_error("mgr.run %s: fork: %s", in->cfg.run, strerror(errno));
        return;
    }
    if (pid == 0) {
        char *argv[] = {in->cfg.run, NULL};
        child_reset();
        execv(in->cfg.run, argv);
        dprintf(2, "mgr: exec %s: %s\n", in->cfg.run, strerror(errno));
        _exit(127);
    }
    in->run_pid = pid;
    log_info("mgr.run: started %s (pid %d)", in->cfg.run, (int)pid);
}

static void describe_status(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
                strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "status 0x%x", status);
}

static void shutdown_begin(struct init *in, enum pid1_action a, const char *why);

/* Reads the unit files for what PID 1 itself needs: the critical units and the shutdown
 * budget. Errors are the supervisor's to report; PID 1 uses what parses. */
static uint64_t scan_units(struct init *in)
{
    struct unit_set set = {0};
    struct diags d = {0};
    (void)unit_load_dir(in->ctx->units, &set, &d);
    diags_clear(&d);
    in->critical = strv_free(in->critical);
    for (size_t i = 0; i < set.n; i++)
        if (set.units[i]->critical && strv_push(&in->critical, set.units[i]->name) < 0)
            log_warn("out of memory listing critical units, ignoring");
    uint64_t budget = pid1_shutdown_budget_ms(&set, SHUTDOWN_MIN_MS);
    unit_set_clear(&set);
    return budget;
}

/* One status round trip to the supervisor, bounded so that a hung supervisor cannot hang
 * PID 1 (it then counts as failed). */
static int status_call(struct init *in, json_t **ret)
{
    struct err e = {0};
    _cleanup_close_ int fd = proto_connect(in->ctx->run, &e);
    if (fd < 0)
        return fd;
    struct timeval tv = {.tv_sec = 0, .tv_usec = STATUS_TIMEOUT_MS * 1000};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    json_t *req = json_pack("{s:s}", "cmd", "status");
    if (!req)
        return -ENOMEM;
    int r = proto_send(fd, req);
    json_decref(req);
    if (r < 0)
        return r;
    return proto_recv(fd, ret);
}

static void crit_poll(struct init *in, uint64_t now)
{
    json_t *resp = NULL;
    /* Without a supervisor (mgr.supervisor=0) no unit runs: nothing to watch. */
    bool need = in->cfg.supervisor && (in->critical || in->wd_fd >= 0);
    if (!need || in->phase != PID1_PH_RUNNING || now < in->crit_next_ms)
        return;
    in->crit_next_ms = now + CRIT_POLL_MS;
    int r = in->sup_pid > 0 ? status_call(in, &resp) : -ESRCH;
    json_t *units = r == 0 ? json_object_get(resp, "units") : NULL;
    if (in->cfg.supervisor)
        pid1_crit_update(&in->crit, SUPERVISOR_WATCH_NAME, !json_is_array(units), now);
    for (char **c = in->critical; c && *c; c++) {
        bool bad = true; /* unknown to a running supervisor, or no answer: bad */
        size_t i;
        json_t *u;
        json_array_foreach(units, i, u) {
            const char *name = json_string_value(json_object_get(u, "name"));
            if (name && STREQ(name, *c))
                bad = pid1_crit_is_bad(json_string_value(json_object_get(u, "state")),
                        json_string_value(json_object_get(u, "health")));
        }
        pid1_crit_update(&in->crit, *c, bad, now);
    }
    json_decref(resp);
    const char *name = pid1_crit_expired(&in->crit, now, in->cfg.critical_deadline_ms);
    if (!name || in->crit_acted)
        return;
    in->crit_acted = true;
    char why[160];
    snprintf(why, sizeof(why), "critical unit '%s' failed or unhealthy for %llu ms", name,
            (unsigned long long)in->cfg.critical_deadline_ms);
    if (in->cfg.on_critical == PID1_ACT_REBOOT) {
        shutdown_begin(in, PID1_ACT_REBOOT, why);
    } else if (in->wd_fd >= 0) {
        /* Let the hardware reset the machine: the appliance's last resort when a service it
         * exists for cannot be brought back. */
        log_error("%s: no longer petting the watchdog, the hardware will reset the machine",
                why);
        in->wd_stopped = true;
    } else {
        log_error("%s (on_critical: stop-petting, but no watchdog is configured)", why);
    }
}

static void on_reaped(pid_t pid, int status, void *userdata)
{
    struct init *in = userdata;
    char st[96];
    describe_status(status, st, sizeof(st));
    if (pid == in->sup_pid) {
        in->sup_pid = 0;
        if (in->phase != PID1_PH_RUNNING) {
            log_info("supervisor %s", st);
            return;
        }
        uint64_t now = now_ms();
        /* Exponential backoff, reset after a stable run, so a crash-looping supervisor
         * never keeps PID 1 busy. Containers keep running meanwhile (it adopts them). */
        if (now - in->sup_started_ms >= SUPERVISOR_STABLE_MS || in->sup_backoff_ms == 0)
            in->sup_backoff_ms = SUPERVISOR_BACKOFF_MIN_MS;
        else if (in->sup_backoff_ms < SUPERVISOR_BACKOFF_MAX_MS)
            in->sup_backoff_ms = in->sup_backoff_ms * 2 > SUPERVISOR_BACKOFF_MAX_MS
                    ? SUPERVISOR_BACKOFF_MAX_MS
                    : in->sup_backoff_ms * 2;
        in->sup_restart_at_ms = now + in->sup_backoff_ms;
        log_error("supervisor (pid %d) %s; restarting in %llu ms", (int)pid, st,
                (unsigned long long)in->sup_backoff_ms);
    } else if (pid == in->run_pid) {
        in->run_pid = 0;
        log_info("mgr.run: %s %s", in->cfg.run, st);
        if (in->cfg.run_action != PID1_ACT_NONE)
            shutdown_begin(in, in->cfg.run_action, "mgr.run_action");
    } else {
        log_debug("reaped orphan pid %d (%s)", (int)pid, st);
    }
}

static void phase_enter(struct init *in, enum pid1_phase ph, uint64_t now)
{
    in->phase = ph;
    switch (ph) {
    case PID1_PH_TERM_ALL:
        if (pid1_kill_all(SIGTERM) == 0)
            log_info("sent SIGTERM to all remaining processes");
        in->phase_deadline_ms = now + TERM_GRACE_MS;
        break;
    case PID1_PH_KILL_ALL:
        if (pid1_kill_all(SIGKILL) == 0)
            log_info("sent SIGKILL to all remaining processes");
        in->phase_deadline_ms = now + KILL_GRACE_MS;
        break;
    case PID1_PH_FINAL: {
        pid1_reap(NULL, NULL);
        sync();
        /* In a container (PID namespace) the mounts share superblocks with the host's
         * (devtmpfs, bind mounts): remounting them read-only would reach the host. The
         * namespace's mounts go away with it. */
        int left = in->machine_init ? pid1_unmount_all() : 0;
        if (left > 0)
            log_warn("%d mounts could neither be unmounted nor made read-only", left);
        if (in->wd_fd >= 0) {
            pid1_watchdog_close(in->wd_fd);
            in->wd_fd = -1;
        }
        log_info("%s after %.2fs uptime", in->final == PID1_ACT_REBOOT ? "rebooting"
                        : in->final == PID1_ACT_POWEROFF            ? "powering off"
                                                                    : "halting",
                uptime_s());
        int r = pid1_final(in->final);
        /* Only reached if reboot(2) failed: stay up, reaping. */
        log_error("reboot(2): %s", strerror(-r));
        break;
    }
    default:
        break;
    }
}

static void shutdown_progress(struct init *in)
{
    for (;;) {
        if (in->phase == PID1_PH_RUNNING || in->phase == PID1_PH_FINAL)
            return;
        uint64_t now = now_ms();
        enum pid1_phase next = pid1_shutdown_next(in->phase, now >= in->phase_deadline_ms,
                in->sup_pid > 0, pid1_has_children());
        if (next == in->phase)
            return;
        if (in->phase == PID1_PH_STOP_SUPERVISOR && in->sup_pid > 0)
            log_warn("supervisor did not finish stopping containers in time");
        phase_enter(in, next, now);
    }
}

static void shutdown_begin(struct init *in, enum pid1_action a, const char *why)
{
    if (in->phase != PID1_PH_RUNNING) {
        log_info("%s requested (%s) while shutting down, ignoring", pid1_action_name(a), why);
        return;
    }
    log_info("%s requested (%s)", pid1_action_name(a), why);
    in->final = a;
    in->phase = PID1_PH_STOP_SUPERVISOR;
    uint64_t budget = scan_units(in);
    if (in->cfg.shutdown_timeout_ms)
        budget = in->cfg.shutdown_timeout_ms;
    in->phase_deadline_ms = now_ms() + budget;
    in->sup_restart_at_ms = 0;
    if (in->sup_pid > 0) {
        log_info("asking the supervisor to stop all containers (within %llu ms)",
                (unsigned long long)budget);
        if (kill(in->sup_pid, PID1_SHUTDOWN_SIGNAL) < 0)
            log_warn("signal supervisor: %s", strerror(errno));
    }
    shutdown_progress(in);
}

/* Replaces PID 1's program with the installed binary (an upgrade without a reboot), handing
 * over its children and the open watchdog through PID1_STATE_ENV. Returns only on failure,
 * and then PID 1 goes on as before. */
static void reexec(struct init *in)
{
    char exe[PATH_MAX] = "", state[128];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        /* The binary was replaced by an upgrade: run the new one at the same path. */
        char *del = strstr(exe, " (deleted)");
        if (del && del[10] == '\0')
            *del = '\0';
    }
    /* The path the kernel started us by (/sbin/init) first: it names the installed binary
     * from our root even when /proc/self/exe is rendered from outside it (after the
     * initramfs switch or a chroot). */
    const char *paths[] = {in->ctx->argv0 && in->ctx->argv0[0] == '/' ? in->ctx->argv0 : NULL,
            n > 0 ? exe : NULL};
    struct pid1_state st = {in->sup_pid, in->run_pid, in->wd_fd, in->wd_timeout_s};
    if (pid1_state_format(&st, state, sizeof(state)) < 0 || setenv(PID1_STATE_ENV, state, 1) < 0) {
        log_error("re-execute: cannot pass the state, not re-executing");
        return;
    }
    /* The watchdog must stay open: closing it could disarm or trip it. */
    if (in->wd_fd >= 0)
        (void)fcntl(in->wd_fd, F_SETFD, 0);
    for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
        if (!paths[i])
            continue;
        log_info("re-executing %s (%s)", paths[i], state);
        char *argv[] = {(char *)in->ctx->argv0, NULL};
        execv(paths[i], argv);
        log_error("re-execute %s: %s", paths[i], strerror(errno));
    }
    log_error("re-execution failed: going on with the running binary");
    if (in->wd_fd >= 0)
        (void)fcntl(in->wd_fd, F_SETFD, FD_CLOEXEC);
    unsetenv(PID1_STATE_ENV);
}

static void handle_signal(struct init *in, const struct signalfd_siginfo *si)
{
    enum pid1_action a = pid1_signal_action((int)si->ssi_signo);
    char why[64];
    snprintf(why, sizeof(why), "%s from pid %u", strsignal((int)si->ssi_signo), si->ssi_pid);
    switch (a) {
    case PID1_ACT_POWEROFF:
    case PID1_ACT_REBOOT:
    case PID1_ACT_HALT:
        shutdown_begin(in, a, why);
        break;
    case PID1_ACT_REAPPLY:
        if (in->sup_pid > 0 && in->phase == PID1_PH_RUNNING) {
            log_info("re-apply requested (%s), forwarding to the supervisor", why);
            (void)kill(in->sup_pid, SIGUSR1);
        }
        (void)scan_units(in); /* the set of critical units may have changed */
        break;
    case PID1_ACT_REEXEC:
        if (in->phase == PID1_PH_RUNNING)
            reexec(in);
        break;
    default:
        break; /* SIGCHLD: reaping happens after every wake-up */
    }
}

static void arm_timer(struct init *in)
{
    uint64_t next = 0;
    if (in->sup_restart_at_ms && in->phase == PID1_PH_RUNNING)
        next = in->sup_restart_at_ms;
    if (in->phase != PID1_PH_RUNNING && in->phase != PID1_PH_FINAL &&
            (!next || in->phase_deadline_ms < next))
        next = in->phase_deadline_ms;
    if (in->wd_fd >= 0 && !in->wd_stopped && (!next || in->wd_next_ms < next))
        next = in->wd_next_ms;
    if ((in->critical || in->wd_fd >= 0) && in->phase == PID1_PH_RUNNING &&
            (!next || in->crit_next_ms < next))
        next = in->crit_next_ms;
    struct itimerspec its = {0};
    if (next) {
        /* now_ms() is CLOCK_MONOTONIC; an absolute 0 would disarm, so use at least 1 ns. */
        its.it_value.tv_sec = (time_t)(next / 1000);
        its.it_value.tv_nsec = (long)(next % 1000) * 1000000 + 1;
    }
    if (timerfd_settime(in->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
        log_warn("timerfd_settime: %s", strerror(errno));
}

static int setup_loop(struct init *in, const sigset_t *mask)
{
    in->sfd = signalfd(-1, mask, SFD_CLOEXEC | SFD_NONBLOCK);
    in->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    in->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (in->sfd < 0 || in->tfd < 0 || in->epfd < 0)
        return -errno;
    struct epoll_event ev = {.events = EPOLLIN};
    ev.data.fd = in->sfd;
    if (epoll_ctl(in->epfd, EPOLL_CTL_ADD, in->sfd, &ev) < 0)
        return -errno;
    ev.data.fd = in->tfd;
    if (epoll_ctl(in->epfd, EPOLL_CTL_ADD, in->tfd, &ev) < 0)
        return -errno;
    return 0;
}

static _Noreturn void run_loop(struct init *in)
{
    for (;;) {
        arm_timer(in);
        struct epoll_event evs[4];
        int n = epoll_wait(in->epfd, evs, ARRAY_SIZE(evs), -1);
        if (n < 0 && errno != EINTR) {
            log_error("epoll_wait: %s", strerror(errno));
            pid1_emergency("event loop failed");
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.fd == in->sfd) {
                struct signalfd_siginfo si;
                while (read(in->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                    handle_signal(in, &si);
            } else if (evs[i].data.fd == in->tfd) {
                uint64_t ticks;
                (void)!read(in->tfd, &ticks, sizeof(ticks));
            }
        }
        /* Reap after every wake-up: SIGCHLD coalesces, and a missed one must not leave a
         * zombie behind. */
        pid1_reap(on_reaped, in);
        uint64_t now = now_ms();
        crit_poll(in, now);
        if (in->wd_fd >= 0 && !in->wd_stopped && now >= in->wd_next_ms) {
            if (pid1_watchdog_pet(in->wd_fd) < 0)
                log_warn("pet watchdog: %s", strerror(errno));
            in->wd_next_ms = now + in->wd_interval_ms;
        }
        if (in->phase == PID1_PH_RUNNING && in->sup_pid == 0 && in->sup_restart_at_ms &&
                now >= in->sup_restart_at_ms)
            start_supervisor(in);
        shutdown_progress(in);
    }
}

static void boot_once(struct init *in);
static void resume(struct init *in, const struct pid1_state *prev);

/* Pet at a third of the timeout: two missed wake-ups still do not reset. */
static void watchdog_schedule(struct init *in, uint64_t timeout_s)
{
    in->wd_timeout_s = timeout_s;
    in->wd_interval_ms = timeout_s * 1000 / 3;
    if (in->wd_interval_ms == 0)
        in->wd_interval_ms = 300;
    in->wd_next_ms = now_ms() + in->wd_interval_ms;
}

int cmd_init(struct mgr_ctx *ctx, int argc, char **argv)
{
    static struct init in = {.sfd = -1, .tfd = -1, .epfd = -1, .wd_fd = -1};
    struct err e = {0};
    sigset_t mask;

    in.ctx = ctx;
    pid1_install_crash_handlers();
    /* Set when we are a re-execution of PID 1: children and watchdog are taken over, the
     * one-time boot steps are not repeated. Not passed on to children. */
    struct pid1_state prev = {.wd_fd = -1};
    const char *st = getenv(PID1_STATE_ENV);
    bool resumed = st && pid1_state_parse(st, &prev) == 0;
    unsetenv(PID1_STATE_ENV);
    /* Every signal PID 1 acts on goes through the signalfd; block them before anything can
     * be sent (and before any child exists). */
    sigemptyset(&mask);
    int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGPWR, SIGUSR1, SIGUSR2, SIGHUP};
    for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
        sigaddset(&mask, sigs[i]);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);

    umask(022);
    if (chdir("/") < 0)
        log_warn("chdir /: %s, ignoring", strerror(errno));
    setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 0);
    log_set_prefix("mgr: ");

    if (!resumed && pid1_root_is_initramfs()) {
        if (pid1_leave_initramfs(&e) < 0)
            log_error("%s (containers will not be able to pivot_root)", e.msg);
    }
    pid1_config_init(&in.cfg);
    mount_all(PID1_CG_NONE);
    double start_uptime = uptime_s(); /* kernel start and initramfs unpacking end about here */
    in.machine_init = pid1_is_machine_init();
    /* In a container /dev/console would be the host's: keep the stdio we were given. */
    if (in.machine_init)
        setup_console();
    load_config(&in.cfg);
    if (in.cfg.debug)
        log_set_level(LOG_LVL_DEBUG);
    log_info("starting as PID 1 (%s) at %.2fs, cgroup %s%s", argv[0], start_uptime,
            in.cfg.cgroup == PID1_CG_V2 ? "v2" : in.cfg.cgroup == PID1_CG_V1 ? "v1" : "none",
            in.machine_init ? "" : ", in a PID namespace (container)");
    mount_all(in.cfg.cgroup);

    /* Ctrl-Alt-Del becomes SIGINT to us (an orderly reboot) instead of an instant reset. */
    if (in.machine_init && reboot(RB_DISABLE_CAD) < 0)
        log_warn("reboot(RB_DISABLE_CAD): %s, ignoring", strerror(errno));

    if (resumed)
        resume(&in, &prev);
    else
        boot_once(&in);

    if (setup_loop(&in, &mask) < 0) {
        log_error("event loop setup: %s", strerror(errno));
        pid1_emergency("cannot set up the event loop");
    }
    (void)scan_units(&in);
    if (in.critical) {
        _cleanup_free_ char *list = NULL;
        for (char **c = in.critical; *c; c++) {
            char *n = strdup_printf("%s%s%s", list ? list : "", list ? ", " : "", *c);
            free(list);
            list = n;
        }
        log_info("critical units: %s (deadline %llu ms, then %s)", list ? list : "?",
                (unsigned long long)in.cfg.critical_deadline_ms,
                in.cfg.on_critical == PID1_ACT_REBOOT ? "reboot" : "stop petting the watchdog");
    }
    in.crit_next_ms = now_ms() + CRIT_POLL_MS;
    if (resumed) {
        log_info("re-executed: supervisor pid %d, mgr.run pid %d, watchdog %s", (int)in.sup_pid,
                (int)in.run_pid, in.wd_fd >= 0 ? "kept" : "none");
    } else {
        log_info("boot done in %.2fs", uptime_s());
        if (in.cfg.supervisor)
            start_supervisor(&in);
        else
            log_info("mgr.supervisor=0: no supervisor, only reaping");
        if (in.cfg.run)
            start_run(&in);
    }
    /* A supervisor lost during the re-execution (or never started) is started by the loop. */
    if (resumed && in.cfg.supervisor && in.sup_pid == 0)
        in.sup_restart_at_ms = now_ms();
    run_loop(&in);
}

/* The boot steps done once per boot: hostname, lo, kernel modules, watchdog. */
static void boot_once(struct init *in)
{
    struct err e = {0};
    _cleanup_free_ char *host = NULL;
    int r = pid1_set_hostname(PID1_HOSTNAME_FILE, &host, &e);
    if (r == 0)
        log_info("hostname %s", host);
    else if (r != -ENOENT)
        log_error("%s", e.msg);
    err_clear(&e);
    if (pid1_lo_up(&e) < 0)
        log_error("%s", e.msg);
    err_clear(&e);
    r = pid1_load_modules(PID1_MODULES_DIR, module_report, NULL, &e);
    if (r < 0)
        log_error("%s", e.msg);

    if (in->cfg.watchdog) {
        uint64_t t = 0;
        err_clear(&e);
        in->wd_fd = pid1_watchdog_open(in->cfg.watchdog, in->cfg.watchdog_timeout_s, &t, &e);
        if (in->wd_fd < 0) {
            log_error("%s", e.msg);
        } else {
            watchdog_schedule(in, t);
            log_info("watchdog %s armed, timeout %llus", in->cfg.watchdog,
                    (unsigned long long)t);
        }
    }
}

/* True if pid is a child of ours (a zombie included: the loop then reaps it as any exit). */
static bool is_child(pid_t pid)
{
    siginfo_t si = {0};
    /* WNOWAIT leaves it as it is; ECHILD means it is not ours (or the pid was reused). */
    return pid > 0 && waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
}

/* Takes over from the previous PID 1 program: its children (if still ours) and watchdog. */
static void resume(struct init *in, const struct pid1_state *prev)
{
    if (is_child(prev->sup_pid)) {
        in->sup_pid = prev->sup_pid;
        in->sup_started_ms = now_ms();
    }
    if (is_child(prev->run_pid))
        in->run_pid = prev->run_pid;
    if (prev->wd_fd >= 0 && fcntl(prev->wd_fd, F_SETFD, FD_CLOEXEC) == 0) {
        in->wd_fd = prev->wd_fd;
        watchdog_schedule(in, prev->wd_timeout_s ? prev->wd_timeout_s : 30);
        (void)pid1_watchdog_pet(in->wd_fd);
    }
}

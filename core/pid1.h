#pragma once
/* PID 1 duties: boot a minimal machine, reap every orphan, map signals to actions, shut down
 * in order. cmd/cmd_init.c drives these and logs; this module only reports (struct err).
 *
 * Contract with the supervisor (`mgr daemon`, core/manager.c):
 *  - PID 1 runs the supervisor as its CHILD process (re-executing /proc/self/exe "daemon"),
 *    with MGR_INIT=1 in its environment, and restarts it with backoff if it dies (the daemon
 *    adopts running containers). PID 1 reaps every other pid (orphans re-parented to it), so
 *    nothing PID 1 does can steal a container's exit status: containers are the supervisor's
 *    children, watched through pidfds, never PID 1's, while the supervisor lives.
 *  - Shutdown: PID 1 sends the supervisor PID1_SHUTDOWN_SIGNAL (SIGPWR), meaning "stop every
 *    container in reverse dependency order with its stop signal and timeout, then exit 0".
 *    PID 1 waits for that (bounded by the longest chain of stop.timeout along dependencies +
 *    a margin: pid1_shutdown_budget_ms), then kills what remains, syncs, unmounts and calls
 *    reboot(2).
 *  - SIGUSR1 to PID 1 (re-apply units) is forwarded to the supervisor as SIGUSR1.
 *  - `mgr poweroff` / `mgr reboot` (or a unit's on_give_up: reboot) ask PID 1 by
 *    kill(1, SIGTERM) / kill(1, SIGINT), as with any init.
 *  - Critical units: PID 1 itself polls the supervisor's "status" over the control socket
 *    (bounded by a 1 s timeout) and acts when one stays bad past the deadline.
 *  - SIGHUP re-executes PID 1 in place; the supervisor stays its child, untouched. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/types.h>

#include "err.h"

#define PID1_SHUTDOWN_SIGNAL SIGPWR
#define PID1_INIT_YAML       "/etc/mgr/init.yaml"
#define PID1_MODULES_DIR     "/etc/modules-load.d"
#define PID1_HOSTNAME_FILE   "/etc/hostname"

enum pid1_cgroup { PID1_CG_V2, PID1_CG_V1, PID1_CG_NONE };

/* What a signal or event asks PID 1 to do. */
enum pid1_action {
    PID1_ACT_NONE,
    PID1_ACT_POWEROFF,
    PID1_ACT_REBOOT,
    PID1_ACT_HALT, /* stop everything, then stay up reaping (mgr.run_action=halt, tests) */
    PID1_ACT_REAPPLY,
    PID1_ACT_REAP,
    PID1_ACT_REEXEC, /* SIGHUP: execute the installed binary in place (upgrades) */
};

/* PID 1 settings: defaults, then /etc/mgr/init.yaml, then the kernel command line (`mgr.*`). */
struct pid1_config {
    enum pid1_cgroup cgroup;      /* mgr.cgroup=v2|v1|none; default v2 */
    char *watchdog;               /* mgr.watchdog=/dev/watchdog; NULL = no watchdog */
    uint64_t watchdog_timeout_s;  /* mgr.watchdog_timeout=30 (device timeout set at open) */
    uint64_t critical_deadline_ms;/* mgr.critical_deadline=60s: critical unit failed this long */
    enum pid1_action on_critical; /* mgr.on_critical=reboot|stop-petting (PID1_ACT_NONE) */
    bool supervisor;              /* mgr.supervisor=0 runs no supervisor (boot + reap only) */
    char *run;                    /* mgr.run=/path: a program run once after boot (like
                                   * systemd.run=), as a child of PID 1 in the host's namespaces */
    enum pid1_action run_action;  /* mgr.run_action=poweroff|reboot|halt|none after it exits */
    uint64_t shutdown_timeout_ms; /* mgr.shutdown_timeout=: wait for the supervisor's stops;
                                   * 0 (default) = pid1_shutdown_budget_ms() of the units */
    bool debug;                   /* mgr.debug=1 */
};

/* Fills c with defaults (v2, supervisor on, no watchdog, critical deadline 60s). */
void pid1_config_init(struct pid1_config *c);
/* Frees what c owns and re-initialises it. */
void pid1_config_done(struct pid1_config *c);
/* Applies the `mgr.*` words of a kernel command line (the text of /proc/cmdline) to c.
 * Unknown mgr.* keys and bad values are reported in err (the last one) but the other words
 * still apply; returns 0 or -EINVAL (some word was bad), -ENOMEM. Pure. */
int pid1_config_cmdline(struct pid1_config *c, const char *cmdline, struct err *err);
/* Applies /etc/mgr/init.yaml-style text (keys: cgroup, watchdog, watchdog_timeout,
 * critical_deadline, on_critical, supervisor, debug). Returns 0 or -EINVAL/-ENOMEM. Pure. */
int pid1_config_yaml(struct pid1_config *c, const char *text, size_t len, struct err *err);

/* Maps a signal received by PID 1 to its action (SIGTERM/SIGPWR poweroff, SIGINT reboot,
 * SIGUSR1 re-apply, SIGCHLD reap, SIGUSR2 halt, SIGHUP re-execute). Pure. */
enum pid1_action pid1_signal_action(int sig);
const char *pid1_action_name(enum pid1_action a);

/* What PID 1 hands over to itself across a re-execution (environment PID1_STATE_ENV). */
#define PID1_STATE_ENV "MGR_PID1_STATE"
struct pid1_state {
    pid_t sup_pid;        /* supervisor child, 0 = none */
    pid_t run_pid;        /* mgr.run= child, 0 = none */
    int wd_fd;            /* open watchdog, -1 = none (kept open across execve) */
    uint64_t wd_timeout_s;
};
/* Formats s as "sup=N run=N wd=N wdt=N" into buf. Returns 0 or -ENOBUFS. Pure. */
int pid1_state_format(const struct pid1_state *s, char *buf, size_t len);
/* Parses that text; unknown words are ignored, bad numbers are -EINVAL. Pure. */
int pid1_state_parse(const char *text, struct pid1_state *ret);

/* Phases of an orderly shutdown, in order. */
enum pid1_phase {
    PID1_PH_RUNNING,
    PID1_PH_STOP_SUPERVISOR, /* supervisor stops containers in reverse dependency order */
    PID1_PH_TERM_ALL,        /* SIGTERM to every remaining process */
    PID1_PH_KILL_ALL,        /* SIGKILL to every remaining process */
    PID1_PH_FINAL,           /* sync, unmount, reboot(2) */
};
/* The next phase, given whether the current phase's deadline passed, whether the supervisor
 * still runs and whether any child is left. Pure. */
enum pid1_phase pid1_shutdown_next(enum pid1_phase phase, bool deadline_passed,
        bool supervisor_alive, bool any_children);

struct unit_set;
/* Upper bound for the supervisor's ordered stop of every container in set: the longest
 * chain of stop.timeout along dependencies (a unit stops after its dependents), plus a
 * margin; at least min_ms. Pure. */
uint64_t pid1_shutdown_budget_ms(const struct unit_set *set, uint64_t min_ms);

/* Critical units (`critical: true`): PID 1 polls the supervisor's status and acts when one
 * stays failed or unhealthy past the deadline (or when the supervisor does not answer). */
#define PID1_CRIT_MAX 64
struct pid1_crit {
    char name[64];
    uint64_t bad_since_ms; /* 0: fine at the last look */
};
struct pid1_crit_watch {
    struct pid1_crit v[PID1_CRIT_MAX];
    size_t n;
};
/* Records the state of one watched unit at time now (bad: failed, unhealthy, missing).
 * Units not yet watched are added (up to PID1_CRIT_MAX). Pure. */
void pid1_crit_update(struct pid1_crit_watch *w, const char *name, bool bad, uint64_t now);
/* The first watched unit bad for at least deadline_ms at now, or NULL. Pure. */
const char *pid1_crit_expired(const struct pid1_crit_watch *w, uint64_t now,
        uint64_t deadline_ms);
/* Is a unit in this state/health (the supervisor's status names) bad for a critical unit? */
bool pid1_crit_is_bad(const char *state, const char *health);

/* One mount of the boot plan. */
struct pid1_mount {
    const char *source, *target, *fstype, *data;
    unsigned long flags;
    bool optional; /* failure is reported but boot goes on (e.g. /dev/shm) */
};
/* The API file systems to mount at boot, in order, for a cgroup mode: /proc, /sys, /dev,
 * /dev/pts, /dev/shm, /run, the cgroup hierarchy. Stores up to max in out; returns the count.
 * Pure. */
size_t pid1_mount_plan(enum pid1_cgroup cg, struct pid1_mount *out, size_t max);
/* Mounts m unless its target is already a mount point (returns 1 then, 0 when mounted now).
 * Creates the target directory. Returns -errno with err set on failure. */
int pid1_mount_apply(const struct pid1_mount *m, struct err *err);

/* True in the machine's initial PID namespace (a real init), false as the init of a PID
 * namespace (a container), where PID 1 must not remount shared file systems read-only and
 * where reboot(2) ends the namespace instead of the machine. */
bool pid1_is_machine_init(void);
/* True when / is the initial ramfs/tmpfs (where pivot_root(2) fails with EINVAL). */
bool pid1_root_is_initramfs(void);
/* switch_root onto a bind mount of the initramfs itself (keeping pid 1 and every file, no
 * copy): bind / to /.mgr-root, MS_MOVE it over /, chroot. Afterwards the root mount has a
 * parent, so pivot_root(2) works for containers. Call before mounting /proc etc. */
int pid1_leave_initramfs(struct err *err);

/* Sets the hostname from the first line of path (comments and blanks skipped). Returns 0,
 * -ENOENT when the file is absent, or -errno/-EINVAL with err set. ret_name (optional) gets
 * a copy of the name, owned by the caller. */
int pid1_set_hostname(const char *path, char **ret_name, struct err *err);
/* Brings the loopback interface up (rtnetlink, libnl-route). */
int pid1_lo_up(struct err *err);

/* Called for each module named in a modules-load.d file: r is 0 (inserted or already
 * loaded) or -errno, msg says what failed. */
typedef void (*pid1_module_fn)(const char *module, int r, const char *msg, void *userdata);
/* Parses one modules-load.d file's text into module names (comments '#'/';' and blanks
 * skipped). Caller frees the strv. Returns 0 or -ENOMEM. Pure. */
int pid1_modules_parse(const char *text, char ***ret);
/* Loads every module listed in dir/ *.conf (in name order) with its dependencies through
 * libkmod, as modprobe. Returns the number of modules that failed, or -errno with err set
 * when libkmod itself cannot start. A missing dir is 0. */
int pid1_load_modules(const char *dir, pid1_module_fn fn, void *userdata, struct err *err);
/* 1 when libkmod finds a loadable module file for name under /lib/modules, 0 when not,
 * -errno when libkmod cannot be opened (it is loaded with dlopen on first use). */
int pid1_module_loadable(const char *name);

/* Called for each child reaped by pid1_reap (pid and wait status). */
typedef void (*pid1_reaped_fn)(pid_t pid, int status, void *userdata);
/* Reaps every exited child: waitpid(-1, WNOHANG) until 0 or ECHILD (tini). Returns the
 * count reaped. Never blocks. */
int pid1_reap(pid1_reaped_fn fn, void *userdata);

/* Kills every process but PID 1 (kill(-1, sig)). Returns 0 or -errno (-ESRCH: none left). */
int pid1_kill_all(int sig);
/* True if PID 1 still has any child (waitid WNOWAIT probe). */
bool pid1_has_children(void);
/* Unmounts what can be (deepest first, skipping /, /proc, /sys, /dev), then remounts the
 * rest read-only. Returns the number of mounts it could neither unmount nor make
 * read-only. */
int pid1_unmount_all(void);
/* sync(), then reboot(2) with RB_POWER_OFF, RB_AUTOBOOT or RB_HALT_SYSTEM. Returns -errno
 * only if reboot fails. */
int pid1_final(enum pid1_action a);

/* Hardware watchdog (/dev/watchdog): open and set the timeout (seconds, 0 = keep the
 * device's); returns the fd or -errno with err set. */
int pid1_watchdog_open(const char *path, uint64_t timeout_s, uint64_t *ret_timeout_s,
        struct err *err);
/* Pets the watchdog. Returns 0 or -errno. */
int pid1_watchdog_pet(int fd);
/* Disarms (magic close 'V') and closes the watchdog. */
void pid1_watchdog_close(int fd);

/* Installs handlers that turn a crash of PID 1 (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT)
 * into emergency mode instead of a kernel panic. */
void pid1_install_crash_handlers(void);
/* Emergency mode, never returns: writes why to the console, then execs /bin/sh on the
 * console if it exists, else loops forever reaping children. Async-signal-safe. */
_Noreturn void pid1_emergency(const char *why);

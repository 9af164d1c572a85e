#pragma once
/* Container runtime: one parsed container unit -> one running, isolated process, and back.
 *
 * rt_start() records the container in its state directory (RUN/containers/NAME/) BEFORE
 * creating anything, spawns the init process with clone3() (namespaces, pidfd), lets the
 * other modules act from the parent at the hook points of spawn.c (cgroup placement, uid/gid
 * maps, network wiring), then releases the child, which builds its rootfs (all mounts live
 * only in the container's own mount namespace: nothing to unmount on the host), confines
 * itself and execs the unit's command inside the container root.
 *
 * Default rootfs: overlay of the image layers with the upper/work dirs on a tmpfs private to
 * the container's mount namespace (fast, and gone with the namespace). keep_upper puts them
 * under ROOT/containers/NAME/ instead (kept across restarts). See doc/runtime.md. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "unit.h"

struct err;
struct cg_manager; /* core/cgroup.h: NULL = no cgroup */
struct cg_group;   /* core/cgroup.h: one container's group */
struct sec_plan;   /* core/sec.h */
struct net_ctx;    /* core/net.h */

/* An extra bind mount made by the runtime (e.g. /etc/hosts, /etc/resolv.conf, a notify
 * socket). target is resolved inside the rootfs (never through a symlink out of it). */
struct rt_bind {
    const char *source; /* host path */
    const char *target; /* absolute path inside the container; created (as a file or a
                           directory like source) if missing */
    bool readonly;
};

/* Everything rt_start() needs. All pointers are borrowed for the duration of the call. */
struct rt_spec {
    const struct unit *unit; /* kind container; name, command, ns, mounts, sec, ... */
    const char *root_dir;    /* --root: persistent state (kept upper dirs) */
    const char *run_dir;     /* --run: runtime state (RUN/containers/NAME) */
    int stdio[3];            /* fds for the container's 0,1,2; -1 = /dev/null */

    /* Rootfs layers, lowest first (image_info.layers; for dir:DIR just {DIR}). */
    char *const *lower_dirs;
    /* Image defaults (image_info), used where the unit leaves the key out; NULL = none. */
    char *const *image_entrypoint;
    char *const *image_cmd;
    char *const *image_env;
    const char *image_workdir;
    const char *image_user;

    struct rt_bind *binds; /* extra bind mounts, made after the unit's own mounts */
    size_t n_binds;

    struct cg_manager *cgm; /* NULL = the container gets no cgroup of its own */
    struct sec_plan *sec;   /* NULL = rt_start() prepares it from the unit (sec_prepare) */
    /* Network module: when set, the parent calls net_setup(net, unit, netns_fd) after clone
     * (leases, veths, lo, hosts files) and /etc/hosts + /etc/resolv.conf are bound from
     * net_bind_files(). NULL: the child only brings lo up in a new net namespace. */
    struct net_ctx *net;
    /* NULL, or a fresh network namespace made in advance (the supervisor's spare, see
     * sys_netns_new): a container that wants a new one of its own (not in a new user
     * namespace) is born in it rather than creating one at clone, ~0.5 ms less. When used,
     * rt_start_begin() takes it: *spare_netns becomes -1. */
    int *spare_netns;
    /* NULL, or the cgroup of this unit's previous run, emptied by rt_destroy_keep_cgroup and
     * configured for this very spec: used instead of creating one. rt_start_begin() takes it
     * (*reuse_cg becomes NULL); a failed start removes it. */
    struct cg_group **reuse_cg;

    /* Extra parent-side hook, run after clone, cgroup placement, uid/gid maps and net_setup,
     * before the child continues. A failure aborts the start. NULL = none. */
    int (*parent_hook)(pid_t pid, int pidfd, void *userdata, struct err *err);
    void *hook_data;

    bool keep_upper;      /* upper/work under ROOT/containers/NAME (kept); default tmpfs (gone) */
    bool no_reclaim;      /* do not clean a dead container's leftovers of the same name first */
    bool kill_orphan;     /* a live container of the same name whose starter is dead (a
                             SIGKILLed `mgr run`) is killed and reclaimed instead of EEXIST */
    bool die_with_parent; /* PR_SET_PDEATHSIG SIGKILL (`mgr run`: the container lives as long
                             as we do; cleared by the kernel when the user changes) */
};

/* A started (or adopted) container. Owned by the caller; rt_container_free() releases the
 * memory and fds only (not the container: see rt_destroy()). */
struct rt_container {
    char *name;
    pid_t pid;                /* in our pid namespace */
    int pidfd;                /* poll it: readable when the process exited; -1 if none */
    uint64_t start_time;      /* field 22 of /proc/PID/stat (clock ticks since boot) */
    char *state_dir;          /* RUN/containers/NAME */
    char *root_dir;           /* --root it was started with */
    char *run_dir;            /* --run it was started with */
    struct cg_group *cg;      /* cgroup handle, NULL if none */
    struct cg_manager *cgm;   /* borrowed from the spec */
    uint64_t ns_ino[_NS_MAX]; /* inode of /proc/PID/ns/<type> at start (0 = unknown) */
    bool keep_upper;
    bool exited; /* rt_wait() collected the status */
    int status;  /* wait status when exited */
};

/* Starts the container described by spec. On success *ret is caller-owned and the process
 * is running the unit's command (execve succeeded). On failure nothing is left behind and err
 * names the unit, the step and errno ("unit 'web': mount overlay on /: No such device";
 * "unit 'web': exec '/bin/nope': No such file or directory"). */
int rt_start(const struct rt_spec *spec, struct rt_container **ret, struct err *err);

/* rt_start() in three steps, so that the supervisor can start many containers at once:
 * their children build their rootfs concurrently. rt_start_begin: state, cgroup, clone, network, the child released (spec is
 * borrowed for this call only, but spec->unit until the finish or abort); rt_start_place:
 * cgroup placement; rt_start_finish: waits for the child's execve, *ret as rt_start().
 * Every step frees p (and undoes everything) on failure; rt_start_finish frees it always;
 * rt_start_abort() kills the child, undoes everything and frees p. */
struct rt_starting;
int rt_start_begin(const struct rt_spec *spec, struct rt_starting **ret, struct err *err);
int rt_start_place(struct rt_starting *p, struct err *err);
int rt_start_finish(struct rt_starting *p, struct rt_container **ret, struct err *err);
void rt_start_abort(struct rt_starting *p);

/* Sends sig to the container's init through its pidfd. -ESRCH when it is gone. */
int rt_signal(struct rt_container *c, int sig, struct err *err);

/* Reaps the container's init (blocking unless nohang). Returns 1 with *ret_status (a wait
 * status, as waitpid) when it exited, 0 when nohang and still running, or -errno.
 * Only works for a child of this process (not for an adopted container: poll its pidfd). */
int rt_wait(struct rt_container *c, bool nohang, int *ret_status, struct err *err);

/* After exit (or to abort): kills what remains (the whole pid namespace dies with its init),
 * then undoes everything recorded in the state, in reverse: cgroup, network, upper dir
 * (unless kept), state dir. Idempotent. Does not free c. */
int rt_destroy(struct rt_container *c, struct err *err);
/* As rt_destroy, but the cgroup, once emptied, is handed to the caller (*ret_cg, NULL when
 * it went) for the next start of the same spec (rt_spec.reuse_cg). The supervisor keeps it
 * over an automatic restart, as systemd keeps a service's group: creating a memory cgroup
 * costs more with every superblock on the host, and removing it starts the kernel's offline
 * work. Its peak memory figure is reset; a group that cannot be emptied, or that was killed
 * with cgroup.kill (cg_reusable), is removed as by rt_destroy. */
int rt_destroy_keep_cgroup(struct rt_container *c, struct cg_group **ret_cg, struct err *err);
/* (ret_cg NULL: as rt_destroy.) */

/* Frees c (memory, pidfd); accepts NULL, returns NULL. */
struct rt_container *rt_container_free(struct rt_container *c);

/* Re-attaches to a running container from its state (after a daemon restart): checks that
 * the recorded pid still has the recorded start time and opens a pidfd. -ESRCH if it died
 * (then call rt_reclaim()), -ENOENT if there is no state. *ret caller-owned. */
int rt_adopt(const char *run_dir, const char *name, struct rt_container **ret, struct err *err);

/* Cleans up what a dead container (or a SIGKILLed `mgr run`) left: cgroup, upper dir, state
 * dir. Refuses (-EBUSY) while the recorded process is alive. Missing state is success. */
int rt_reclaim(const char *run_dir, const char *root_dir, const char *name, struct err *err);

/* Names of all containers with a state directory under run_dir (sorted). *ret is a
 * caller-owned strv (empty vector when none). */
int rt_list(const char *run_dir, char ***ret, struct err *err);

/* Runs argv in a running container: all its namespaces (setns through its pidfd; a new
 * process in its pid namespace), its root, its cgroup and its confinement (same security
 * plan as the init). env NULL = the container's environment; stdio as in rt_spec.
 * *ret_pid is a child of the caller (reap it with waitpid), *ret_pidfd (may be NULL) a pidfd.
 * For `mgr exec` and command health checks. */
int rt_exec(struct rt_container *c, const struct unit *u, char *const *argv, char *const *env,
            const int stdio[3], pid_t *ret_pid, int *ret_pidfd, struct err *err);

/* Exit code of a shell for a wait status: the exit status, or 128+N for signal N. Pure. */
int rt_exit_code(int wait_status);

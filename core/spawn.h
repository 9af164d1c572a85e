#pragma once
/* Process creation for containers: clone3() with namespace flags and a pidfd (fallback
 * clone()), a sync socket between parent and child, and errors from the child carried back
 * as a struct err. The ORDER of steps is written down in spawn.c. */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "unit.h"

struct err;

struct spawn_args {
    const char *name;     /* unit name, for messages */
    uint64_t clone_flags; /* CLONE_NEW* to create at clone time */
    int pidns_fd;         /* -1, or a pid namespace to create the child in (parent setns) */
    int netns_fd;         /* -1, or a fresh network namespace for the child (parent setns
                             around the clone; CLONE_NEWNET must not be in clone_flags) */
    int cgroup_fd;        /* -1, or a v2 group dir fd for CLONE_INTO_CGROUP */
    /* Parent, after clone, before the child may start its setup (uid/gid maps, network
     * wiring whose files the child bind-mounts). into_cgroup: CLONE_INTO_CGROUP was used.
     * A failure kills the child. NULL = none. */
    int (*parent_fn)(pid_t pid, int pidfd, bool into_cgroup, void *userdata, struct err *err);
    /* Parent, while the child builds its rootfs (they overlap): what the child's cgroup
     * placement needs from outside (a pid written by another process waits for an RCU grace
     * period on v1). The child calls spawn_child_wait() before anything that must happen
     * after it (cgroup namespace, execve). NULL = none. */
    int (*parent_late_fn)(pid_t pid, int pidfd, bool into_cgroup, void *userdata, struct err *err);
    /* Child, after the parent's go: sets everything up and execs. Returns only on error
     * (err filled); spawn sends err to the parent and the child exits 127. */
    int (*child_fn)(void *userdata, int sync_fd, struct err *err);
    void *userdata;
};

/* Child: waits for the parent's second go (parent_late_fn done). Returns 0, or -EPIPE
 * when the parent aborted (then exit quietly). */
int spawn_child_wait(int sync_fd);

/* A child between spawn_begin() and spawn_finish(). */
struct spawn_proc {
    pid_t pid;
    int pidfd;
    int sync_fd;      /* parent end of the handshake socket */
    bool into_cgroup; /* CLONE_INTO_CGROUP was used */
};

/* The handshake in three steps, so that a caller can start many children at once (and pay
 * the children's work overlap):
 * spawn_begin: clone, parent_fn, go 1 (the child starts building its rootfs);
 * spawn_place: parent_late_fn (cgroup placement), go 2;
 * spawn_finish: waits for the child's execve (or its error).
 * Each step, on failure, kills and reaps the child, closes p's fds and fills err; on success
 * of spawn_finish p->pid and p->pidfd are the caller's. */
int spawn_begin(const struct spawn_args *a, struct spawn_proc *p, struct err *err);
int spawn_place(const struct spawn_args *a, struct spawn_proc *p, struct err *err);
int spawn_finish(const struct spawn_args *a, struct spawn_proc *p, struct err *err);
/* Kills and reaps a child between the steps, closes p's fds. */
void spawn_abort(struct spawn_proc *p);

/* All three steps. On success the child has exec'd (the sync socket closed on exec),
 * *ret_pid / *ret_pidfd (caller-owned) are set. On failure the child is
 * killed and reaped, and err says "unit 'NAME': STEP: errno" (the child's own message when
 * it failed). *ret_into_cgroup tells whether CLONE_INTO_CGROUP was used (may be NULL). */
int spawn_start(const struct spawn_args *a, pid_t *ret_pid, int *ret_pidfd, int *ret_into_cgroup,
                struct err *err);

/* Container process creation. See spawn.h.
 *
 * ORDER of steps (parent | child):
 *   1. parent: socketpair (SOCK_SEQPACKET, CLOEXEC) for the handshake
 *   2. parent: setns into a joined pid namespace (pid_for_children only), to be undone after
 *      the clone (NS_CONTAINER pid: the child is born inside it); likewise into a network
 *      namespace made in advance (the supervisor's spare, which saves the clone the ~0.5 ms
 *      a new one costs), the daemon's only moment outside its own: nothing but the clone
 *   3. parent: clone3(CLONE_NEW* | CLONE_PIDFD [| CLONE_INTO_CGROUP]), fallback clone()
 *   4. child: blocks reading the go byte (EOF = parent gone or aborting: _exit quietly)
 *   5. parent: parent_fn: uid/gid maps (security: userns_write_maps), network wiring (net:
 *      veth with its peer created in the child's net namespace, hosts files); go byte 1
 *   6. child: child_fn (runtime.c): moves itself into its v1 cgroups (cg_attach_self), setns
 *      for container:NAME namespaces, hostname, mounts (rootfs.c: overlay, /proc, sysctls,
 *      /sys, /dev, unit mounts, masked/read-only paths), pivot_root, user and groups from
 *      the container's /etc/passwd, workdir
 *   6'. parent, at the same time: parent_late_fn: the pid into the state file (runtime.c),
 *      cgroup attach where the child could not
 *      (no CLONE_INTO_CGROUP; v1 from a new user namespace), a migration that waits for an
 *      RCU grace period (ms): overlapping it with the mounts hides most of it; go byte 2
 * spawn_begin() is steps 1-5, spawn_place() 6', spawn_finish() 9: a caller may begin many
 * children before placing and finishing them.
 *   7. child: spawn_child_wait (go 2: now in its cgroup), unshare the cgroup namespace,
 *      env, stdio, every other fd marked CLOEXEC (close_range), signals reset, security
 *      (sec_apply_child: rlimits, setuid, caps, no_new_privs, LSM, seccomp last), execve
 *      inside the new root
 *   8. child: on any error, writes its struct err to the socket and exits 127
 *   9. parent: reads the socket: EOF = execve succeeded; a struct err = failure (the child
 *      is reaped and the message wrapped with the unit name)
 */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "err.h"
#include "sys.h"
#include "util.h"

static int spawn_clone(uint64_t flags, int cgroup_fd, int *ret_pidfd, int *ret_into)
{
    int pidfd = -1;
    struct clone_args ca = {
            .flags = flags | CLONE_PIDFD,
            .pidfd = (uint64_t)(uintptr_t)&pidfd,
            .exit_signal = SIGCHLD,
    };
    if (cgroup_fd >= 0) {
        ca.flags |= CLONE_INTO_CGROUP;
        ca.cgroup = (uint64_t)cgroup_fd;
    }
    int pid = sys_clone3(&ca, sizeof(ca));
    if (pid == -ENOSYS || pid == -E2BIG) {
        /* Kernel before 5.3 (or without CLONE_INTO_CGROUP): plain clone; the parent then
         * attaches the cgroup itself. */
        ca.flags &= ~CLONE_INTO_CGROUP;
        *ret_into = 0;
        pid = sys_clone_flags((unsigned long)(ca.flags | SIGCHLD), &pidfd);
    } else
        *ret_into = cgroup_fd >= 0;
    if (pid == 0)
        return 0;
    if (pid > 0)
        *ret_pidfd = pidfd;
    return pid;
}

int spawn_child_wait(int sync_fd)
{
    char go;
    ssize_t n;
    do
        n = read(sync_fd, &go, 1);
    while (n < 0 && errno == EINTR);
    return n == 1 ? 0 : -EPIPE;
}

static const struct {
    uint64_t flag;
    const char *name; /* as in /proc/PID/ns and /proc/sys/user/max_*_namespaces */
} ns_flags[] = {
        {CLONE_NEWPID, "pid"},   {CLONE_NEWNET, "net"},   {CLONE_NEWIPC, "ipc"},
        {CLONE_NEWUTS, "uts"},   {CLONE_NEWNS, "mnt"},    {CLONE_NEWCGROUP, "cgroup"},
        {CLONE_NEWUSER, "user"}, {CLONE_NEWTIME, "time"},
};

/* Says which namespace type or capability made clone fail, as precisely as the host lets us
 * find out: a type the kernel lacks (/proc/self/ns/TYPE missing), a type whose limit in
 * /proc/sys/user is 0 or reached, or missing CAP_SYS_ADMIN. */
static void clone_diagnose(uint64_t flags, int e, char *buf, size_t len)
{
    buf[0] = 0;
    for (size_t i = 0; i < ARRAY_SIZE(ns_flags); i++) {
        if (!(flags & ns_flags[i].flag))
            continue;
        char p[64];
        snprintf(p, sizeof(p), "/proc/self/ns/%s", ns_flags[i].name);
        if (access(p, F_OK) < 0) {
            snprintf(buf, len, " (the kernel has no %s namespaces: %s is missing)",
                     ns_flags[i].name, p);
            return;
        }
        snprintf(p, sizeof(p), "/proc/sys/user/max_%s_namespaces", ns_flags[i].name);
        _cleanup_free_ char *v = NULL;
        if (e == ENOSPC && read_file_at(AT_FDCWD, p, 64, &v, NULL) >= 0 && atoi(v) == 0) {
            snprintf(buf, len, " (%s namespaces are disabled: %s is 0)", ns_flags[i].name, p);
            return;
        }
    }
    if (e == ENOSPC)
        snprintf(buf, len, " (a namespace limit in /proc/sys/user/max_*_namespaces is reached)");
    else if (e == EPERM) {
        /* Creating any namespace but a user namespace needs CAP_SYS_ADMIN. */
        uint64_t others = flags & ~(uint64_t)CLONE_NEWUSER & ~(uint64_t)CLONE_PIDFD;
        if (geteuid() != 0 && others)
            snprintf(buf, len, " (creating namespaces needs CAP_SYS_ADMIN: run as root)");
        else if (flags & CLONE_NEWUSER)
            snprintf(buf, len,
                     " (user namespaces are not permitted here, e.g. "
                     "kernel.unprivileged_userns_clone=0 or a seccomp/LSM policy)");
        else
            snprintf(buf, len, " (CAP_SYS_ADMIN is missing or a seccomp/LSM policy denies it)");
    }
}

static void reap(pid_t pid, int pidfd)
{
    if (pidfd >= 0)
        (void)sys_pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* Kills and reaps the child, closes what p holds. */
void spawn_abort(struct spawn_proc *p)
{
    if (p->pid > 0)
        reap(p->pid, p->pidfd);
    if (p->pidfd >= 0)
        close(p->pidfd);
    if (p->sync_fd >= 0)
        close(p->sync_fd);
    *p = (struct spawn_proc){.pidfd = -1, .sync_fd = -1};
}

int spawn_begin(const struct spawn_args *a, struct spawn_proc *p, struct err *err)
{
    *p = (struct spawn_proc){.pidfd = -1, .sync_fd = -1};
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return err_set(err, errno, "unit '%s': sync socket", a->name);
    _cleanup_close_ int parent_fd = sv[0];
    _cleanup_close_ int child_fd = sv[1];

    /* The network namespace first: once in a joined pid namespace, every return must leave it
     * again, and entering the spare is the step that can fail. */
    _cleanup_close_ int own_netns = -1;
    if (a->netns_fd >= 0) {
        own_netns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (own_netns < 0)
            return err_set(err, errno, "unit '%s': open own network namespace", a->name);
        int r = sys_setns(a->netns_fd, CLONE_NEWNET);
        if (r < 0)
            return err_set(err, -r, "unit '%s': enter its network namespace", a->name);
    }
    _cleanup_close_ int own_pidns = -1;
    if (a->pidns_fd >= 0) {
        int r;
        own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
        if (own_pidns < 0)
            r = err_set(err, errno, "unit '%s': open own pid namespace", a->name);
        else if ((r = sys_setns(a->pidns_fd, CLONE_NEWPID)) < 0)
            err_set(err, -r, "unit '%s': join pid namespace", a->name);
        if (r < 0) {
            sys_netns_return(own_netns);
            return r;
        }
    }

    int pidfd = -1, into = 0;
    pid_t pid = spawn_clone(a->clone_flags, a->cgroup_fd, &pidfd, &into);
    if (pid == 0) {
        /* Child. */
        /* Not dumpable until execve (which resets it): the child already lives in the
         * container's pid namespace (mgr exec) and is the mgr binary with all our
         * capabilities; no container process may ptrace it or open its /proc/PID/exe, mem
         * or fds meanwhile (CVE-2019-5736, runc's /proc/self/exe overwrite). */
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        close(parent_fd);
        char go;
        ssize_t n;
        do
            n = read(child_fd, &go, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1)
            _exit(127); /* parent aborted or died: nothing to report to */
        struct err e = {0};
        (void)a->child_fn(a->userdata, child_fd, &e);
        if (!e.code)
            err_setx(&e, EPROTO, "container setup returned without exec");
        (void)!write(child_fd, &e, sizeof(e));
        _exit(127);
    }
    sys_netns_return(own_netns);
    if (own_pidns >= 0) {
        int r = sys_setns(own_pidns, CLONE_NEWPID);
        if (r < 0 && pid > 0) {
            reap(pid, pidfd);
            close(pidfd);
        }
        if (r < 0)
            return err_set(err, -r, "unit '%s': restore own pid namespace", a->name);
    }
    if (pid < 0) {
        char why[256];
        clone_diagnose(a->clone_flags, -pid, why, sizeof(why));
        return err_set(err, -pid, "unit '%s': create namespaces%s", a->name, why);
    }
    close(TAKE_FD(child_fd));
    *p = (struct spawn_proc){.pid = pid, .pidfd = pidfd, .sync_fd = TAKE_FD(parent_fd),
            .into_cgroup = into != 0};

    if (a->parent_fn) {
        int r = a->parent_fn(pid, pidfd, into != 0, a->userdata, err);
        if (r < 0) {
            spawn_abort(p);
            return r;
        }
    }
    char go = 'g';
    if (send(p->sync_fd, &go, 1, MSG_NOSIGNAL) != 1) {
        int e = errno;
        spawn_abort(p);
        return err_set(err, e, "unit '%s': release child (it died during setup)", a->name);
    }
    return 0;
}

int spawn_place(const struct spawn_args *a, struct spawn_proc *p, struct err *err)
{
    if (a->parent_late_fn) {
        int r = a->parent_late_fn(p->pid, p->pidfd, p->into_cgroup, a->userdata, err);
        if (r < 0) {
            spawn_abort(p);
            return r;
        }
    }
    /* The child may have failed meanwhile: then its error is queued on the socket. */
    char go = 'g';
    (void)send(p->sync_fd, &go, 1, MSG_NOSIGNAL);
    return 0;
}

int spawn_finish(const struct spawn_args *a, struct spawn_proc *p, struct err *err)
{
    struct err ce;
    ssize_t n;
    int resets = 0;
    /* ECONNRESET: the child failed before reading go 2 and exited with it unread; the socket
     * error is reported once, ahead of the child's message, which is still queued. */
    do
        n = read(p->sync_fd, &ce, sizeof(ce));
    while (n < 0 && (errno == EINTR || (errno == ECONNRESET && resets++ < 2)));
    int e = errno;
    if (n != 0) {
        spawn_abort(p);
        if (n == (ssize_t)sizeof(ce) && ce.code > 0) {
            ce.msg[sizeof(ce.msg) - 1] = 0;
            *err = ce;
            if (strncmp(err->msg, "unit '", 6) == 0)
                return -err->code; /* already names the unit */
            return err_wrap(err, "unit '%s'", a->name);
        }
        return err_set(err, n < 0 ? e : EPROTO, "unit '%s': read from child", a->name);
    }
    close(TAKE_FD(p->sync_fd));
    return 0;
}

int spawn_start(const struct spawn_args *a, pid_t *ret_pid, int *ret_pidfd, int *ret_into_cgroup,
                struct err *err)
{
    struct spawn_proc p;
    int r = spawn_begin(a, &p, err);
    if (r >= 0)
        r = spawn_place(a, &p, err);
    if (r >= 0)
        r = spawn_finish(a, &p, err);
    if (r < 0)
        return r;
    *ret_pid = p.pid;
    *ret_pidfd = p.pidfd;
    if (ret_into_cgroup)
        *ret_into_cgroup = p.into_cgroup;
    return 0;
}

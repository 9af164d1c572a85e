/* Container runtime: start, signal, wait, destroy, adopt, reclaim, list, exec. See runtime.h;
 * the spawn sequence is in spawn.c, the mounts in rootfs.c, the state file in state.c. */
#include "runtime.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cgroup.h"
#include "err.h"
#include "log.h"
#include "net.h"
#include "rootfs.h"
#include "sec.h"
#include "spawn.h"
#include "state.h"
#include "sys.h"
#include "userns.h"
#include "util.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define MAX_GROUPS   64

static const int ns_clone_flag[_NS_MAX] = {
        [NS_PID] = CLONE_NEWPID,   [NS_NET] = CLONE_NEWNET,   [NS_IPC] = CLONE_NEWIPC,
        [NS_UTS] = CLONE_NEWUTS,   [NS_MNT] = CLONE_NEWNS,    [NS_CGROUP] = CLONE_NEWCGROUP,
        [NS_USER] = CLONE_NEWUSER, [NS_TIME] = CLONE_NEWTIME,
};

int rt_exit_code(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return 255;
}

struct rt_container *rt_container_free(struct rt_container *c)
{
    if (!c)
        return NULL;
    if (c->pidfd >= 0)
        close(c->pidfd);
    if (c->cg)
        cg_group_free(c->cg);
    free(c->name);
    free(c->state_dir);
    free(c->root_dir);
    free(c->run_dir);
    free(c);
    return NULL;
}

static char *state_dir_of(const char *run_dir, const char *name)
{
    return strdup_printf("%s/containers/%s", run_dir, name);
}

static void read_ns_inodes(pid_t pid, uint64_t ino[_NS_MAX]);

/* ---- the child's context: everything resolved in the parent, before clone ---- */

struct child_ctx {
    const struct rt_spec *spec;
    const struct unit *u;
    int join_fd[_NS_MAX]; /* setns in the child (pid is joined by the parent) */
    bool new_cgroupns;    /* unshare after the parent placed us in our cgroup */
    bool new_netns;       /* bring lo up */
    bool own_mntns;       /* build the rootfs (else joined another container's) */
    bool exec_mode;       /* rt_exec: joining a running container, no container setup */
    bool prepare_sec;     /* the child builds sec itself (sec_prepare) */
    bool self_attach;     /* the child moves itself into cg's v1 hierarchies (cg_attach_self) */
    char state_dir[PATH_MAX];
    char rootfs_dir[PATH_MAX];
    char upper[PATH_MAX], work[PATH_MAX]; /* "" = tmpfs */
    struct rootfs_plan plan;
    char **argv;
    char **env;
    const char *workdir;
    const char *user;
    struct sec_plan *sec;
    struct cg_group *cg;
    struct rt_state *state;
    char **idmapped_lower; /* user: private: idmapped copies of the layers (userns.c) */
};

/* ---- user resolution inside the container (its /etc/passwd and /etc/group) ---- */

/* Finds the passwd/group line whose field 0 (name) or field 2 (id) matches key. Copies the
 * fields into f[] (pointers into line, which is modified). */
static bool db_find(char *text, const char *key, bool by_id, char **f, int nf)
{
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int n = 0;
        char *p = line;
        for (n = 0; n < nf; n++) {
            f[n] = p;
            char *c = strchr(p, ':');
            if (!c) {
                n++;
                break;
            }
            *c = 0;
            p = c + 1;
        }
        if (n < 3)
            continue;
        if (STREQ(by_id ? f[2] : f[0], key))
            return true;
    }
    return false;
}

static bool is_number(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* user is "uid", "name", "uid:gid", "name:group". Reads the container's files (we are past
 * pivot_root): a host name service is never consulted. */
static int resolve_user(const char *user, uid_t *ret_uid, gid_t *ret_gid, gid_t *groups,
                        size_t *n_groups, char *home, size_t home_len, struct err *err)
{
    char u[256], *g = NULL;
    _cleanup_free_ char *pw = NULL, *gr = NULL;
    uid_t uid = 0;
    gid_t gid = 0;
    char uname[256] = "";
    bool gid_set = false;

    *n_groups = 0;
    snprintf(home, home_len, "/");
    if (!user || !*user)
        user = "0";
    if (strlen(user) >= sizeof(u))
        return err_setx(err, EINVAL, "user '%s': too long", user);
    strcpy(u, user);
    g = strchr(u, ':');
    if (g)
        *g++ = 0;
    (void)read_file_at(AT_FDCWD, "/etc/passwd", 4 << 20, &pw, NULL);
    (void)read_file_at(AT_FDCWD, "/etc/group", 4 << 20, &gr, NULL);

    char *f[7];
    bool num = is_number(u);
    if (pw && db_find(pw, u, num, f, 7)) {
        int64_t v;
        snprintf(uname, sizeof(uname), "%s", f[0]);
        if (parse_int64(f[2], &v) == 0)
            uid = (uid_t)v;
        if (parse_int64(f[3], &v) == 0) {
            gid = (gid_t)v;
            gid_set = true;
        }
        snprintf(home, home_len, "%s", f[5] && *f[5] ? f[5] : "/");
    } else if (num) {
        int64_t v;
        if (parse_int64(u, &v) < 0 || v < 0 || v > UINT32_MAX - 1)
            return err_setx(err, EINVAL, "user '%s': bad uid", user);
        uid = (uid_t)v;
    } else
        return err_setx(err, ENOENT, "user '%s': no such user in the container's /etc/passwd",
                        user);
    if (!gid_set)
        gid = (gid_t)uid;

    if (g) {
        _cleanup_free_ char *gr2 = gr ? strdup(gr) : NULL;
        if (gr2 && db_find(gr2, g, is_number(g), f, 4)) {
            int64_t v;
            if (parse_int64(f[2], &v) == 0)
                gid = (gid_t)v;
        } else if (is_number(g)) {
            int64_t v;
            if (parse_int64(g, &v) < 0 || v < 0 || v > UINT32_MAX - 1)
                return err_setx(err, EINVAL, "user '%s': bad gid", user);
            gid = (gid_t)v;
        } else
            return err_setx(err, ENOENT, "user '%s': no such group in the container's /etc/group",
                            user);
    }
    /* Supplementary groups: every group listing the user name as a member. */
    if (gr && uname[0]) {
        char *save = NULL;
        for (char *line = strtok_r(gr, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char *fl[4] = {0};
            int n = 0;
            char *p = line;
            for (; n < 4 && p; n++) {
                fl[n] = p;
                p = strchr(p, ':');
                if (p)
                    *p++ = 0;
            }
            if (n < 4 || !fl[3])
                continue;
            char *s2 = NULL;
            for (char *m = strtok_r(fl[3], ",", &s2); m; m = strtok_r(NULL, ",", &s2)) {
                int64_t v;
                if (STREQ(m, uname) && parse_int64(fl[2], &v) == 0 && *n_groups < MAX_GROUPS)
                    groups[(*n_groups)++] = (gid_t)v;
            }
        }
    }
    *ret_uid = uid;
    *ret_gid = gid;
    return 0;
}

static const char *env_get(char *const *env, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; env && env[i]; i++)
        if (strncmp(env[i], key, kl) == 0 && env[i][kl] == '=')
            return env[i] + kl + 1;
    return NULL;
}

/* Finds argv0 in PATH (of the container's environment), inside the container root. */
static int find_exec(const char *argv0, const char *path, char *buf, size_t len)
{
    if (strchr(argv0, '/')) {
        snprintf(buf, len, "%s", argv0);
        return 0;
    }
    const char *p = path ? path : DEFAULT_PATH;
    while (*p) {
        size_t l = strcspn(p, ":");
        if (l > 0 && l + strlen(argv0) + 2 <= len) {
            memcpy(buf, p, l);
            buf[l] = '/';
            strcpy(buf + l + 1, argv0);
            if (access(buf, X_OK) == 0)
                return 0;
        }
        p += l;
        if (*p == ':')
            p++;
    }
    return -ENOENT;
}

static int child_sysctl(int procsys_fd, void *ud, struct err *err)
{
    struct child_ctx *c = ud;
    return c->sec ? sec_apply_sysctl(c->sec, procsys_fd, err) : 0;
}

/* Puts stdio[0..2] on fds 0..2 (-1 = /dev/null, the container's). */
static int setup_stdio(const int stdio[3], struct err *err)
{
    int tmp[3];
    for (int i = 0; i < 3; i++) {
        if (stdio[i] < 0)
            tmp[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
        else
            tmp[i] = fcntl(stdio[i], F_DUPFD_CLOEXEC, 3);
        if (tmp[i] < 0)
            return err_set(err, errno, "stdio fd %d", i);
    }
    for (int i = 0; i < 3; i++)
        if (dup2(tmp[i], i) < 0)
            return err_set(err, errno, "dup2 stdio %d", i);
    return 0;
}

/* The child half after the parent's go. Order: see spawn.c. */
static int child_main(void *ud, int sync_fd, struct err *err)
{
    struct child_ctx *c = ud;
    const struct unit *u = c->u;
    int r;

    /* First: everything the container does from here on is charged to its cgroup. */
    if (c->self_attach) {
        r = cg_attach_self(c->cg, err);
        if (r < 0)
            return r;
    }
    if (c->spec->die_with_parent)
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    else
        /* A container that outlives its starter (the daemon) leaves its session and process
         * group too: a Ctrl-C on the daemon's terminal, or a signal to the daemon's group
         * (timeout(1), a shell's job control), must not reach it. */
        (void)setsid();
    if (c->prepare_sec) {
        /* Still with the host's view (LSM and limit checks read it); the plan lives in this
         * process until execve. */
        r = sec_prepare(u, &c->sec, err);
        if (r < 0)
            return r;
    }

    /* Joined namespaces (container:NAME): user first (it owns the others), mount last. */
    static const enum ns_type join_order[] = {NS_USER, NS_CGROUP, NS_IPC, NS_UTS,
                                              NS_NET,  NS_TIME,   NS_MNT};
    for (size_t i = 0; i < ARRAY_SIZE(join_order); i++) {
        enum ns_type t = join_order[i];
        if (c->join_fd[t] < 0)
            continue;
        r = sys_setns(c->join_fd[t], ns_clone_flag[t]);
        if (r < 0)
            return err_set(err, -r, "join %s namespace of '%s'", ns_type_name(t), u->ns[t].target);
    }
    /* A new user namespace (maps written by the parent before the go): we still carry the
     * host's ids, which are unmapped inside (creating files would fail with EOVERFLOW);
     * become the namespace's root. Capabilities stay: the kernel's "leaving uid 0" rule
     * compares with the namespace's root, which we were not. */
    if (u->ns[NS_USER].mode == NS_PRIVATE && c->join_fd[NS_USER] < 0) {
        r = userns_become_root(err);
        if (r < 0)
            return r;
    }
    if (u->ns[NS_UTS].mode == NS_PRIVATE && !c->exec_mode) {
        const char *h = u->hostname ? u->hostname : u->name;
        if (sethostname(h, strlen(h)) < 0)
            return err_set(err, errno, "set hostname '%s'", h);
    }
    if (c->new_netns) {
        _cleanup_close_ int nfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (nfd < 0)
            return err_set(err, errno, "open own net namespace");
        r = net_lo_up(nfd, err);
        if (r < 0)
            return r;
    }
    if (c->own_mntns) {
        r = rootfs_setup(c->rootfs_dir, c->idmapped_lower ? c->idmapped_lower : c->spec->lower_dirs,
                         c->upper[0] ? c->upper : NULL, c->work[0] ? c->work : NULL, &c->plan,
                         child_sysctl, c, err);
        if (r < 0)
            return r;
        r = rootfs_pivot(c->rootfs_dir, c->plan.readonly_root, err);
        if (r < 0)
            return r;
    } else if (chdir("/") < 0)
        return err_set(err, errno, "chdir /");

    uid_t uid = 0;
    gid_t gid = 0, groups[MAX_GROUPS];
    size_t n_groups;
    char home[PATH_MAX];
    r = resolve_user(c->user, &uid, &gid, groups, &n_groups, home, sizeof(home), err);
    if (r < 0)
        return r;
    if (!env_get(c->env, "HOME")) {
        char h[PATH_MAX + 8];
        snprintf(h, sizeof(h), "HOME=%s", home);
        if (strv_push(&c->env, h) < 0)
            return err_set(err, ENOMEM, "environment");
    }
    const char *wd = c->workdir ? c->workdir : "/";
    if (chdir(wd) < 0)
        return err_set(err, errno, "workdir '%s'", wd);

    /* From here on we must be in our cgroup (the parent attached us meanwhile). */
    if (spawn_child_wait(sync_fd) < 0)
        _exit(127); /* the parent aborted: nothing to report to */
    if (c->new_cgroupns && unshare(CLONE_NEWCGROUP) < 0)
        return err_set(err, errno, "create cgroup namespace");

    char path[PATH_MAX];
    if (!c->argv || !c->argv[0])
        return err_setx(err, EINVAL, "no command (neither the unit nor the image gives one)");
    if (find_exec(c->argv[0], env_get(c->env, "PATH"), path, sizeof(path)) < 0)
        return err_setx(err, ENOENT, "exec '%s': not found in PATH inside the container",
                        c->argv[0]);

    r = setup_stdio(c->spec->stdio, err);
    if (r < 0)
        return r;
    /* No fd of ours may reach the container: everything above stdio is closed at execve
     * (the sync socket too, which is how the parent learns that execve succeeded). */
    r = sys_close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    if (r < 0) {
        for (int fd = 3; fd < 65536; fd++)
            if (fd != sync_fd)
                (void)close(fd);
    }
    /* Signals: the parent may block some for its signalfd; ignored ones survive execve. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int s = 1; s < NSIG; s++)
        (void)signal(s, SIG_DFL);

    if (c->sec) {
        r = sec_apply_child(c->sec, uid, gid, groups, n_groups, err);
        if (r < 0)
            return r;
    } else {
        if (setgroups(n_groups, groups) < 0)
            return err_set(err, errno, "setgroups");
        if (setgid(gid) < 0)
            return err_set(err, errno, "setgid %u", (unsigned)gid);
        if (setuid(uid) < 0)
            return err_set(err, errno, "setuid %u", (unsigned)uid);
    }
    execve(path, c->argv, c->env);
    return err_set(err, errno, "exec '%s'", path);
}

/* Parent, while the child mounts: cgroup (cgroup module), for v1 hierarchies or a kernel
 * without CLONE_INTO_CGROUP. */
/* Parent, while the child builds its rootfs: what the child's placement in its cgroup still
 * needs from outside (v2 without CLONE_INTO_CGROUP, v1 when the child cannot move itself). */
static int place_in_cgroup(struct child_ctx *c, pid_t pid, bool into_cgroup, struct err *err)
{
    if (!c->cg)
        return 0;
    bool v2_left = cg_clone_fd(c->cg) >= 0 && !into_cgroup;
    bool v1_left = cg_needs_attach(c->cg) && !c->self_attach;
    if (v2_left || v1_left)
        return cg_attach(c->cg, pid, err);
    return 0;
}

static int parent_late(pid_t pid, int pidfd, bool into_cgroup, void *ud, struct err *err)
{
    struct child_ctx *c = ud;
    /* The pid is recorded while the child builds its rootfs, off the start's critical path:
     * until go 2 a child whose starter died exits by itself (EOF on the sync socket), so a
     * SIGKILLed mgr leaves no unrecorded container; what it created before (state dir,
     * cgroup) is in the state file written before clone. */
    c->state->pid = pid;
    (void)state_proc_start_time(pid, &c->state->start_time);
    read_ns_inodes(pid, c->state->ns_ino); /* the cgroup ns comes later: host's until then */
    int r = state_write(c->state_dir, c->state, err);
    if (r >= 0)
        r = place_in_cgroup(c, pid, into_cgroup, err);
    if (r < 0)
        return err_wrap(err, "unit '%s'", c->u->name);
    return 0;
}

/* Parent half between clone and go: id maps, network, caller's hook. */
static int parent_main(pid_t pid, int pidfd, bool into_cgroup, void *ud, struct err *err)
{
    struct child_ctx *c = ud;
    const struct rt_spec *s = c->spec;
    int r;

    /* uid/gid maps (security module: userns). */
    if (s->unit->ns[NS_USER].mode == NS_PRIVATE) {
        r = userns_write_maps(pid, s->unit, err);
        if (r < 0)
            return err_wrap(err, "unit '%s'", s->unit->name);
    }
    /* network (net module): leases, veth with its peer created in the child's namespace, lo,
     * hosts files. */
    if (s->net) {
        char p[64];
        snprintf(p, sizeof(p), "/proc/%d/ns/net", (int)pid);
        _cleanup_close_ int nfd = open(p, O_RDONLY | O_CLOEXEC);
        if (nfd < 0)
            return err_set(err, errno, "unit '%s': open %s", s->unit->name, p);
        r = net_setup(s->net, s->unit, nfd, err);
        if (r < 0)
            return r; /* its messages name the unit already */
    }
    if (s->parent_hook) {
        r = s->parent_hook(pid, pidfd, s->hook_data, err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* argv: the unit's command, else the image's entrypoint + cmd. */
static int build_argv(const struct rt_spec *s, char ***ret)
{
    if (s->unit->command) {
        *ret = strv_dup(s->unit->command);
        return *ret ? 0 : -ENOMEM;
    }
    char **v = calloc(1, sizeof(char *));
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; s->image_entrypoint && s->image_entrypoint[i]; i++)
        if (strv_push(&v, s->image_entrypoint[i]) < 0)
            goto oom;
    for (size_t i = 0; s->image_cmd && s->image_cmd[i]; i++)
        if (strv_push(&v, s->image_cmd[i]) < 0)
            goto oom;
    *ret = v;
    return 0;
oom:
    strv_free(v);
    return -ENOMEM;
}

/* Sets KEY=value in *env, replacing an existing KEY. */
static int env_set(char ***env, const char *kv)
{
    const char *eq = strchr(kv, '=');
    size_t kl = eq ? (size_t)(eq - kv) : strlen(kv);
    for (size_t i = 0; *env && (*env)[i]; i++) {
        if (strncmp((*env)[i], kv, kl) == 0 && (*env)[i][kl] == '=') {
            char *d = strdup(kv);
            if (!d)
                return -ENOMEM;
            free((*env)[i]);
            (*env)[i] = d;
            return 0;
        }
    }
    return strv_push(env, kv);
}

/* env: the image's, then the unit's (a unit key replaces the image's), then defaults. */
static int build_env(const struct unit *u, char *const *image_env, char ***ret)
{
    _cleanup_strv_ char **v = calloc(1, sizeof(char *));
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; image_env && image_env[i]; i++)
        if (env_set(&v, image_env[i]) < 0)
            return -ENOMEM;
    for (size_t i = 0; u->env && u->env[i]; i++)
        if (env_set(&v, u->env[i]) < 0)
            return -ENOMEM;
    if (!env_get(v, "PATH") && strv_push(&v, "PATH=" DEFAULT_PATH) < 0)
        return -ENOMEM;
    if (!env_get(v, "container") && strv_push(&v, "container=mgr") < 0)
        return -ENOMEM;
    if (!env_get(v, "HOSTNAME") && u->ns[NS_UTS].mode == NS_PRIVATE) {
        _cleanup_free_ char *h = strdup_printf("HOSTNAME=%s", u->hostname ? u->hostname : u->name);
        if (!h || strv_push(&v, h) < 0)
            return -ENOMEM;
    }
    *ret = TAKE_PTR(v);
    return 0;
}

static void ctx_release(struct child_ctx *c)
{
    for (int t = 0; t < _NS_MAX; t++)
        if (c->join_fd[t] >= 0)
            close(c->join_fd[t]);
    rootfs_plan_free(&c->plan);
    strv_free(c->argv);
    strv_free(c->env);
}

/* Opens /proc/PID/ns/<t> of container name (for container:NAME), checking it is alive. */
static int open_target_ns(const char *run_dir, const char *name, enum ns_type t, struct err *err)
{
    _cleanup_free_ char *sd = state_dir_of(run_dir, name);
    struct rt_state st;
    if (!sd)
        return err_set(err, ENOMEM, "state dir");
    int r = state_read(sd, &st, err);
    if (r < 0)
        return err_wrap(err, "namespaces.%s: container '%s'", ns_type_name(t), name);
    if (!state_pid_alive(st.pid, st.start_time))
        return err_setx(err, ESRCH, "namespaces.%s: container '%s' is not running", ns_type_name(t),
                        name);
    char p[64];
    snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)st.pid, ns_type_name(t));
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(err, errno, "namespaces.%s: open %s", ns_type_name(t), p);
    /* The pid may have been reused between the check and the open. */
    if (!state_pid_alive(st.pid, st.start_time)) {
        close(fd);
        return err_setx(err, ESRCH, "namespaces.%s: container '%s' is not running", ns_type_name(t),
                        name);
    }
    return fd;
}

static void read_ns_inodes(pid_t pid, uint64_t ino[_NS_MAX])
{
    for (int t = 0; t < _NS_MAX; t++) {
        char p[64];
        struct stat st;
        snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)pid, ns_type_name(t));
        ino[t] = stat(p, &st) == 0 ? (uint64_t)st.st_ino : 0;
    }
}

/* Removes RUN/containers/NAME. */
static int remove_state_dir(const char *run_dir, const char *name)
{
    _cleanup_free_ char *parent = strdup_printf("%s/containers", run_dir);
    if (!parent)
        return -ENOMEM;
    _cleanup_close_ int dfd = open(parent, O_DIRECTORY | O_CLOEXEC | O_RDONLY);
    if (dfd < 0)
        return errno == ENOENT ? 0 : -errno;
    /* idmapped layers of a start killed halfway (security module: userns) are mounts */
    _cleanup_free_ char *idmap = strdup_printf("%s/%s/idmap", parent, name);
    if (idmap)
        userns_idmap_cleanup(idmap);
    int r = rm_rf_at(dfd, name);
    return r == -ENOENT ? 0 : r;
}

/* Kills and removes the cgroup NAME with a manager opened for the purpose (reclaim, or a
 * container adopted without its group handle). Missing group is fine. */
static int cgroup_remove_by_name(struct cg_manager *m, const char *name, struct err *err)
{
    struct cg_manager *own = NULL;
    struct cg_group *g = NULL;
    int r;
    if (!m) {
        r = cg_manager_open(NULL, &own, err);
        if (r < 0)
            return r;
        m = own;
    }
    r = cg_open(m, name, &g, err);
    if (r == -ENOENT) {
        r = 0;
        goto out;
    }
    if (r < 0)
        goto out;
    (void)cg_kill(g, SIGKILL, NULL);
    r = cg_destroy(g, err);
    cg_group_free(g);
out:
    cg_manager_free(own);
    return r;
}

/* Kills the container of a dead starter and waits (bounded) until it is gone. */
static int kill_orphan(const struct rt_state *st)
{
    _cleanup_close_ int pidfd = sys_pidfd_open(st->pid, 0);
    if (pidfd < 0)
        return pidfd == -ESRCH ? 0 : pidfd;
    if (!state_pid_alive(st->pid, st->start_time))
        return 0; /* recycled pid: not ours */
    int r = sys_pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
    if (r < 0)
        return r == -ESRCH ? 0 : r;
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    return poll(&p, 1, 5000) == 1 ? 0 : -ETIMEDOUT;
}

/* A container between rt_start_begin() and rt_start_finish(). */
struct rt_starting {
    struct child_ctx c; /* the child's context (the child has its own copy since clone) */
    struct rt_state st;
    struct spawn_args sa;
    struct spawn_proc proc; /* pid > 0 while it holds a child (spawn.c resets it on failure) */
    bool state_created;
    char *root_dir, *run_dir; /* copies: the spec is only borrowed by rt_start_begin() */
    struct cg_manager *cgm;
    bool keep_upper;
    int pidns_fd;
    int netns_fd; /* the spare network namespace the child is born in, or -1 */
    struct rt_bind *binds;
    char *hosts, *resolv;
    char idmap_dir[PATH_MAX]; /* user: private: idmapped layers, until the child mounted them */
};

/* Undoes everything p created (child, cgroup, state dir) and frees p. */
static void starting_free(struct rt_starting *p, bool undo)
{
    if (!p)
        return;
    if (p->proc.pid > 0)
        spawn_abort(&p->proc);
    if (p->idmap_dir[0])
        userns_idmap_cleanup(p->idmap_dir);
    p->c.idmapped_lower = strv_free(p->c.idmapped_lower);
    ctx_release(&p->c);
    if (p->c.cg) {
        if (undo)
            (void)cg_destroy(p->c.cg, NULL);
        cg_group_free(p->c.cg);
    }
    if (undo && p->state_created)
        (void)remove_state_dir(p->run_dir, p->c.u->name);
    if (p->pidns_fd >= 0)
        close(p->pidns_fd);
    if (p->netns_fd >= 0)
        close(p->netns_fd);
    free(p->binds);
    free(p->hosts);
    free(p->resolv);
    free(p->root_dir);
    free(p->run_dir);
    free(p);
}

void rt_start_abort(struct rt_starting *p)
{
    starting_free(p, true);
}

/* Error path of the start steps: names the unit, undoes and frees p. */
static int starting_fail(struct rt_starting *p, int r, struct err *err)
{
    if (!strstr(err->msg, p->c.u->name))
        err_wrap(err, "unit '%s'", p->c.u->name);
    starting_free(p, true);
    return r;
}

int rt_start_begin(const struct rt_spec *s, struct rt_starting **ret, struct err *err)
{
    const struct unit *u = s->unit;
    int r;

    if (!u || u->kind != UNIT_CONTAINER || !u->name)
        return err_setx(err, EINVAL, "not a container unit");
    if (!s->lower_dirs || !s->lower_dirs[0])
        return err_setx(err, EINVAL, "unit '%s': no rootfs layers", u->name);
    if (u->ns[NS_MNT].mode == NS_HOST)
        return err_setx(
                err, EINVAL,
                "unit '%s': namespaces.mnt: host is not supported (the rootfs needs a mount "
                "namespace of its own)",
                u->name);
    /* A missing layer would only show as "mount overlay on /: No such file or directory". */
    for (size_t i = 0; s->lower_dirs[i]; i++) {
        struct stat lst;
        if (stat(s->lower_dirs[i], &lst) < 0)
            return err_set(err, errno, "unit '%s': image layer '%s'", u->name, s->lower_dirs[i]);
        if (!S_ISDIR(lst.st_mode))
            return err_setx(err, ENOTDIR, "unit '%s': image layer '%s': not a directory", u->name,
                    s->lower_dirs[i]);
    }
    if (strlen(u->name) > UNIT_NAME_MAX)
        return err_setx(err, EINVAL, "unit '%s': name too long", u->name);

    struct rt_starting *p = calloc(1, sizeof(*p));
    if (!p)
        return err_set(err, ENOMEM, "unit '%s'", u->name);
    p->c = (struct child_ctx){.spec = s, .u = u};
    p->pidns_fd = p->netns_fd = -1;
    p->proc = (struct spawn_proc){.pidfd = -1, .sync_fd = -1};
    p->cgm = s->cgm;
    p->keep_upper = s->keep_upper;
    p->root_dir = strdup(s->root_dir ? s->root_dir : "");
    p->run_dir = strdup(s->run_dir);
    if (!p->root_dir || !p->run_dir) {
        starting_free(p, false);
        return err_set(err, ENOMEM, "unit '%s'", u->name);
    }
    struct child_ctx *c = &p->c;
    struct rt_state *st = &p->st;
    for (int t = 0; t < _NS_MAX; t++)
        c->join_fd[t] = -1;

    snprintf(c->state_dir, sizeof(c->state_dir), "%s/containers/%s", s->run_dir, u->name);
    snprintf(c->rootfs_dir, sizeof(c->rootfs_dir), "%s/rootfs", c->state_dir);

    /* A state dir left by an earlier run: refuse if it is alive, else clean it up first. */
    struct rt_state old;
    struct err e2 = {0};
    if (state_read(c->state_dir, &old, &e2) == 0 && state_pid_alive(old.pid, old.start_time)) {
        bool orphan = !state_pid_alive(old.owner_pid, old.owner_start_time);
        if (!s->kill_orphan || !orphan || kill_orphan(&old) < 0)
        {
            r = err_setx(err, EEXIST, "unit '%s': already running (pid %d)", u->name,
                    (int)old.pid);
            goto fail;
        }
    }
    if (!s->no_reclaim) {
        r = rt_reclaim(s->run_dir, s->root_dir, u->name, err);
        if (r < 0) {
            err_wrap(err, "unit '%s': reclaim leftovers", u->name);
            goto fail;
        }
    }
    r = mkdir_p(c->rootfs_dir, 0700);
    if (r < 0) {
        err_set(err, -r, "unit '%s': create state dir '%s'", u->name, c->state_dir);
        goto fail;
    }
    p->state_created = true;
    if (u->ns[NS_USER].mode == NS_PRIVATE) {
        /* The container's root (an unprivileged host uid) mounts its rootfs here after it
         * became root of its user namespace: it must be able to traverse (not list) the
         * path. See userns_allow_traverse() and doc/security.md. */
        r = userns_allow_traverse(s->run_dir, c->rootfs_dir, err);
        if (r < 0)
            goto fail_wrap;
    }

    snprintf(st->name, sizeof(st->name), "%s", u->name);
    st->owner_pid = getpid();
    (void)state_proc_start_time(st->owner_pid, &st->owner_start_time);
    st->keep_upper = s->keep_upper;
    if (s->keep_upper) {
        snprintf(st->upper_dir, sizeof(st->upper_dir), "%s/containers/%s", s->root_dir, u->name);
        snprintf(c->upper, sizeof(c->upper), "%s/upper", st->upper_dir);
        snprintf(c->work, sizeof(c->work), "%s/work", st->upper_dir);
        if ((r = mkdir_p(c->upper, 0755)) < 0 || (r = mkdir_p(c->work, 0700)) < 0) {
            err_set(err, -r, "unit '%s': create upper dir '%s'", u->name, st->upper_dir);
            goto fail;
        }
        /* user: private: the kept layer belongs to the container's root (security module) */
        if (u->ns[NS_USER].mode == NS_PRIVATE) {
            r = userns_prepare_upper(u, s->root_dir, st->upper_dir, err);
            if (r < 0)
                goto fail_wrap;
        }
    }
    if (s->cgm)
        snprintf(st->cgroup, sizeof(st->cgroup), "%s", u->name);
    c->state = st;
    /* Recorded before anything is created. */
    r = state_write(c->state_dir, st, err);
    if (r < 0)
        goto fail_wrap;

    /* Security plan (security module). Built by the child when the caller has none: the
     * default seccomp program takes milliseconds to compile, which then overlap with the
     * parent's cgroup migration instead of adding to it. */
    c->sec = s->sec;
    c->prepare_sec = !s->sec;
    if (c->prepare_sec)
        secfilter_set_cache_dir(s->run_dir); /* compiled default seccomp filter cache */

    /* cgroup (cgroup module): created with every limit before the process exists, or the
     * previous run's, configured so already. */
    if (s->cgm && s->reuse_cg && *s->reuse_cg) {
        c->cg = TAKE_PTR(*s->reuse_cg);
    } else if (s->cgm) {
        r = cg_create(s->cgm, u->name, &u->res, &c->cg, err);
        if (r < 0)
            goto fail_wrap;
    }

    uint64_t flags = 0;
    for (int t = 0; t < _NS_MAX; t++) {
        switch (u->ns[t].mode) {
        case NS_PRIVATE:
        case NS_NONE:
            if (t == NS_CGROUP)
                c->new_cgroupns = true; /* after the parent placed us in our group */
            else if (t == NS_NET && s->spare_netns && *s->spare_netns >= 0 &&
                     u->ns[NS_USER].mode != NS_PRIVATE)
            {
                p->netns_fd = TAKE_FD(*s->spare_netns); /* owned by the host's user ns */
                log_debug("unit '%s': born in the spare network namespace", u->name);
            }
            else
                flags |= (uint64_t)ns_clone_flag[t];
            break;
        case NS_CONTAINER: {
            int fd = open_target_ns(s->run_dir, u->ns[t].target, t, err);
            if (fd < 0) {
                r = fd;
                goto fail_wrap;
            }
            if (t == NS_PID)
                p->pidns_fd = fd;
            else
                c->join_fd[t] = fd;
            break;
        }
        case NS_HOST:
            break;
        }
    }
    /* lo: net_setup() does it from the parent when there is a net context. */
    c->new_netns = !s->net && (u->ns[NS_NET].mode == NS_PRIVATE || u->ns[NS_NET].mode == NS_NONE);
    c->own_mntns = u->ns[NS_MNT].mode != NS_CONTAINER;

    /* Extra binds: the caller's, then the net module's /etc/hosts and /etc/resolv.conf. */
    size_t nb = 0;
    p->binds = calloc(s->n_binds + 2, sizeof(*p->binds));
    if (!p->binds) {
        r = err_set(err, ENOMEM, "unit '%s'", u->name);
        goto fail;
    }
    for (size_t i = 0; i < s->n_binds; i++)
        p->binds[nb++] = s->binds[i];
    if (s->net && net_bind_files(s->net, u, &p->hosts, &p->resolv) == 0) {
        /* The files are written by net_setup() in the parent, before the child mounts. */
        if (p->hosts)
            p->binds[nb++] = (struct rt_bind){.source = p->hosts, .target = "/etc/hosts"};
        if (p->resolv)
            p->binds[nb++] = (struct rt_bind){.source = p->resolv, .target = "/etc/resolv.conf"};
    }
    struct rootfs_opts ro = {
            .pid_ns_private = u->ns[NS_PID].mode == NS_PRIVATE,
            .ipc_ns_private = u->ns[NS_IPC].mode == NS_PRIVATE,
            .net_ns_private = u->ns[NS_NET].mode == NS_PRIVATE || u->ns[NS_NET].mode == NS_NONE,
            .binds = p->binds,
            .n_binds = nb,
    };
    r = rootfs_plan(u, &ro, &c->plan, err);
    if (r < 0)
        goto fail_wrap;
    if (build_argv(s, &c->argv) < 0 || build_env(u, s->image_env, &c->env) < 0) {
        r = err_set(err, ENOMEM, "unit '%s': command and environment", u->name);
        goto fail;
    }
    c->workdir = u->workdir                              ? u->workdir
                : s->image_workdir && *s->image_workdir ? s->image_workdir
                                                        : "/";
    c->user = u->user ? u->user : s->image_user && *s->image_user ? s->image_user : "0";

    /* A child in a new user namespace is nobody to the host's cgroup files. */
    c->self_attach = c->cg && cg_needs_attach(c->cg) && !(flags & CLONE_NEWUSER);
    p->sa = (struct spawn_args){
            .name = u->name,
            .clone_flags = flags,
            .pidns_fd = p->pidns_fd,
            .netns_fd = p->netns_fd,
            .cgroup_fd = c->cg ? cg_clone_fd(c->cg) : -1,
            .parent_fn = parent_main,
            .parent_late_fn = parent_late,
            .child_fn = child_main,
            .userdata = c,
    };
    /* user: private: the layers' files belong to host root, which is nobody inside;
     * idmapped copies make them the container root's (security module: userns). Where the
     * kernel or a layer's filesystem cannot idmap, the rootfs stays read-only for the
     * container's root except what it creates (doc/security.md). */
    if (u->ns[NS_USER].mode == NS_PRIVATE && c->own_mntns) {
        struct err ie = {0};
        snprintf(p->idmap_dir, sizeof(p->idmap_dir), "%s/idmap", c->state_dir);
        if (userns_idmap_layers(u, s->lower_dirs, p->idmap_dir, &c->idmapped_lower, &ie) < 0)
            log_debug("unit '%s': no idmapped layers: %s", u->name, ie.msg);
    }
    r = spawn_begin(&p->sa, &p->proc, err);
    if (r < 0)
        goto fail;
    c->spec = NULL; /* borrowed only until here */
    *ret = p;
    return 0;

fail_wrap:
fail:
    return starting_fail(p, r, err);
}

int rt_start_place(struct rt_starting *p, struct err *err)
{
    int r = spawn_place(&p->sa, &p->proc, err);
    if (r < 0)
        return starting_fail(p, r, err); /* spawn_place killed and reaped it */
    return 0;
}

int rt_start_finish(struct rt_starting *p, struct rt_container **ret, struct err *err)
{
    const char *name = p->c.u->name;
    int r = spawn_finish(&p->sa, &p->proc, err);
    if (r < 0)
        return starting_fail(p, r, err);
    /* The child's overlay holds its own copies of the idmapped mounts by now. */
    if (p->idmap_dir[0])
        userns_idmap_cleanup(p->idmap_dir);
    p->idmap_dir[0] = 0;
    if (p->c.new_cgroupns)
        read_ns_inodes(p->proc.pid, p->st.ns_ino); /* in memory only: the state has the rest */

    struct rt_container *rc = calloc(1, sizeof(*rc));
    if (rc)
        rc->pidfd = -1;
    if (!rc || !(rc->name = strdup(name)) || !(rc->state_dir = strdup(p->c.state_dir))) {
        /* Out of memory with a running container: kill it and undo. */
        rt_container_free(rc);
        err_set(err, ENOMEM, "unit '%s'", name);
        return starting_fail(p, -ENOMEM, err);
    }
    rc->root_dir = TAKE_PTR(p->root_dir);
    rc->run_dir = TAKE_PTR(p->run_dir);
    rc->pid = p->proc.pid;
    rc->pidfd = p->proc.pidfd;
    p->proc = (struct spawn_proc){.pidfd = -1, .sync_fd = -1}; /* the container's now */
    rc->start_time = p->st.start_time;
    rc->cg = TAKE_PTR(p->c.cg);
    cg_group_rest(rc->cg); /* the child is in its groups: no more fds for later forks to copy */
    rc->cgm = p->cgm;
    rc->keep_upper = p->keep_upper;
    memcpy(rc->ns_ino, p->st.ns_ino, sizeof(rc->ns_ino));
    starting_free(p, false);
    *ret = rc;
    return 0;
}

int rt_start(const struct rt_spec *s, struct rt_container **ret, struct err *err)
{
    struct rt_starting *p;
    int r = rt_start_begin(s, &p, err);
    if (r >= 0)
        r = rt_start_place(p, err);
    if (r >= 0)
        r = rt_start_finish(p, ret, err);
    return r;
}

int rt_signal(struct rt_container *c, int sig, struct err *err)
{
    if (c->pidfd < 0)
        return err_setx(err, ESRCH, "container '%s': no process", c->name);
    int r = sys_pidfd_send_signal(c->pidfd, sig, NULL, 0);
    if (r < 0)
        return err_set(err, -r, "container '%s': send signal %d", c->name, sig);
    return 0;
}

int rt_wait(struct rt_container *c, bool nohang, int *ret_status, struct err *err)
{
    if (c->exited) {
        *ret_status = c->status;
        return 1;
    }
    int st;
    pid_t p;
    do
        p = waitpid(c->pid, &st, nohang ? WNOHANG : 0);
    while (p < 0 && errno == EINTR);
    if (p < 0)
        return err_set(err, errno, "container '%s': wait", c->name);
    if (p == 0)
        return 0;
    c->exited = true;
    c->status = st;
    *ret_status = st;
    return 1;
}

static int destroy(struct rt_container *c, struct cg_group **ret_kept, struct err *err);

int rt_destroy(struct rt_container *c, struct err *err)
{
    return destroy(c, NULL, err);
}

int rt_destroy_keep_cgroup(struct rt_container *c, struct cg_group **ret_cg, struct err *err)
{
    return destroy(c, ret_cg, err);
}

static int destroy(struct rt_container *c, struct cg_group **ret_kept, struct err *err)
{
    int r = 0;
    if (ret_kept)
        *ret_kept = NULL;
    if (!c->exited && c->pidfd >= 0) {
        /* The whole pid namespace dies with its init. */
        (void)sys_pidfd_send_signal(c->pidfd, SIGKILL, NULL, 0);
        int st;
        if (waitpid(c->pid, &st, 0) == c->pid) {
            c->exited = true;
            c->status = st;
        } else {
            /* Not our child (adopted): the pidfd becomes readable when it exited. */
            struct pollfd pfd = {.fd = c->pidfd, .events = POLLIN};
            (void)poll(&pfd, 1, 5000);
        }
    }
    /* cgroup: whatever is left in it is killed, then the group goes, or stays empty for the
     * next start when asked. */
    if (c->cg && ret_kept && cg_recycle(c->cg)) {
        *ret_kept = TAKE_PTR(c->cg);
    } else if (c->cg) {
        (void)cg_kill(c->cg, SIGKILL, NULL);
        int k = cg_destroy(c->cg, err);
        for (int i = 0; k == -EBUSY && i < 100; i++) {
            usleep(10000);
            k = cg_destroy(c->cg, err);
        }
        if (k < 0)
            r = k;
        else
            c->cg = cg_group_free(c->cg);
    } else {
        struct rt_state st;
        if (c->state_dir && state_read(c->state_dir, &st, NULL) == 0 && st.cgroup[0]) {
            int k = cgroup_remove_by_name(c->cgm, st.cgroup, err);
            if (k < 0)
                r = k;
        }
    }
    /* Network: the veths go with the namespace; leases are the caller's (net_unwire). The
     * upper dir is a tmpfs in the dead mount namespace, or kept on purpose. */
    int k = remove_state_dir(c->run_dir, c->name);
    if (k < 0 && r == 0)
        r = err_set(err, -k, "container '%s': remove state dir", c->name);
    return r;
}

int rt_adopt(const char *run_dir, const char *name, struct rt_container **ret, struct err *err)
{
    _cleanup_free_ char *sd = state_dir_of(run_dir, name);
    struct rt_state st;
    if (!sd)
        return err_set(err, ENOMEM, "adopt '%s'", name);
    int r = state_read(sd, &st, err);
    if (r < 0)
        return r;
    /* A zombie is adopted too: its pidfd is readable at once, so the caller sees the exit
     * (and reaps or waits for the reaper) the normal way. */
    if (!state_pid_exists(st.pid, st.start_time))
        return err_setx(err, ESRCH, "container '%s': process %d is gone", name, (int)st.pid);
    int pidfd = sys_pidfd_open(st.pid, 0);
    if (pidfd < 0)
        return err_set(err, -pidfd, "container '%s': pidfd_open %d", name, (int)st.pid);
    /* The pidfd pins the process: if the start time still matches, it is ours. */
    if (!state_pid_exists(st.pid, st.start_time)) {
        close(pidfd);
        return err_setx(err, ESRCH, "container '%s': process %d is gone", name, (int)st.pid);
    }
    struct rt_container *c = calloc(1, sizeof(*c));
    if (!c || !(c->name = strdup(name)) || !(c->state_dir = TAKE_PTR(sd)) ||
        !(c->run_dir = strdup(run_dir)) || !(c->root_dir = strdup(""))) {
        close(pidfd);
        rt_container_free(c);
        return err_set(err, ENOMEM, "adopt '%s'", name);
    }
    c->pid = st.pid;
    c->pidfd = pidfd;
    c->start_time = st.start_time;
    c->keep_upper = st.keep_upper;
    memcpy(c->ns_ino, st.ns_ino, sizeof(c->ns_ino));
    *ret = c;
    return 0;
}

int rt_reclaim(const char *run_dir, const char *root_dir, const char *name, struct err *err)
{
    _cleanup_free_ char *sd = state_dir_of(run_dir, name);
    struct rt_state st;
    if (!sd)
        return err_set(err, ENOMEM, "reclaim '%s'", name);
    int r = state_read(sd, &st, NULL);
    if (r == -ENOENT || (r < 0 && access(sd, F_OK) < 0))
        return 0;
    if (r == 0) {
        if (state_pid_alive(st.pid, st.start_time))
            return err_setx(err, EBUSY, "container '%s' is still running (pid %d)", name,
                            (int)st.pid);
        if (st.cgroup[0]) {
            r = cgroup_remove_by_name(NULL, st.cgroup, err);
            if (r < 0)
                return r;
        }
    }
    /* A state dir without a readable state: nothing was created yet (the state is written
     * before anything else), so only the directory goes. */
    r = remove_state_dir(run_dir, name);
    if (r < 0)
        return err_set(err, -r, "container '%s': remove state dir", name);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int rt_list(const char *run_dir, char ***ret, struct err *err)
{
    _cleanup_free_ char *p = strdup_printf("%s/containers", run_dir);
    _cleanup_strv_ char **v = calloc(1, sizeof(char *));
    if (!p || !v)
        return err_set(err, ENOMEM, "list containers");
    DIR *d = opendir(p);
    if (!d) {
        if (errno != ENOENT)
            return err_set(err, errno, "open '%s'", p);
    } else {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            if (strv_push(&v, de->d_name) < 0) {
                closedir(d);
                return err_set(err, ENOMEM, "list containers");
            }
        }
        closedir(d);
    }
    qsort(v, strv_len(v), sizeof(char *), cmp_str);
    *ret = TAKE_PTR(v);
    return 0;
}

/* rt_exec's parent half: the new process joins the container's cgroup. */
static int exec_parent(pid_t pid, int pidfd, bool into_cgroup, void *ud, struct err *err)
{
    return place_in_cgroup(ud, pid, into_cgroup, err);
}

int rt_exec(struct rt_container *rc, const struct unit *u, char *const *argv, char *const *env,
            const int stdio[3], pid_t *ret_pid, int *ret_pidfd, struct err *err)
{
    struct rt_spec spec = {
            .unit = u,
            .run_dir = rc->run_dir,
            .stdio = {stdio ? stdio[0] : -1, stdio ? stdio[1] : -1, stdio ? stdio[2] : -1}};
    struct child_ctx c = {.spec = &spec, .u = u, .cg = rc->cg, .exec_mode = true};
    struct sec_plan *sec = NULL;
    struct cg_manager *own_cgm = NULL;
    struct cg_group *own_cg = NULL;
    _cleanup_close_ int pidns_fd = -1;
    int r;

    for (int t = 0; t < _NS_MAX; t++)
        c.join_fd[t] = -1;
    if (!argv || !argv[0])
        return err_setx(err, EINVAL, "exec in '%s': empty command", rc->name);
    /* Join every namespace that differs from ours (setns into our own user ns fails). */
    for (int t = 0; t < _NS_MAX; t++) {
        char p[64], self[64];
        struct stat a, b;
        snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)rc->pid, ns_type_name(t));
        snprintf(self, sizeof(self), "/proc/self/ns/%s", ns_type_name(t));
        if (stat(p, &a) < 0) {
            if (errno == ENOENT && t == NS_TIME)
                continue;
            r = err_set(err, errno, "exec in '%s': %s", rc->name, p);
            goto out;
        }
        if (stat(self, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
            continue;
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            r = err_set(err, errno, "exec in '%s': open %s", rc->name, p);
            goto out;
        }
        if (t == NS_PID)
            pidns_fd = fd;
        else
            c.join_fd[t] = fd;
    }
    /* Pid was checked before the opens: make sure the fds belong to the same process. */
    if (!state_pid_alive(rc->pid, rc->start_time)) {
        r = err_setx(err, ESRCH, "exec in '%s': container is not running", rc->name);
        goto out;
    }
    secfilter_set_cache_dir(rc->run_dir); /* compiled default seccomp filter cache */
    /* An adopted container has no group handle: open it by the name its state records, so
     * the new process is accounted and limited with the container. */
    if (!c.cg && rc->state_dir) {
        struct rt_state st;
        if (state_read(rc->state_dir, &st, NULL) == 0 && st.cgroup[0]) {
            r = rc->cgm ? 0 : cg_manager_open(NULL, &own_cgm, err);
            if (r < 0)
                goto out;
            r = cg_open(rc->cgm ? rc->cgm : own_cgm, st.cgroup, &own_cg, err);
            if (r < 0) {
                err_wrap(err, "exec in '%s': cgroup", rc->name);
                goto out;
            }
            c.cg = own_cg;
        }
    }
    r = sec_prepare(u, &sec, err);
    if (r < 0)
        goto out;
    c.sec = sec;
    c.user = u->user ? u->user : "0";
    c.workdir = u->workdir ? u->workdir : "/";
    c.argv = strv_dup(argv);
    if (env)
        c.env = strv_dup(env);
    else if (build_env(u, NULL, &c.env) < 0)
        c.env = NULL;
    if (!c.argv || !c.env) {
        r = err_set(err, ENOMEM, "exec in '%s'", rc->name);
        goto out;
    }
    c.self_attach = c.cg && cg_needs_attach(c.cg);
    struct spawn_args sa = {
            .name = rc->name,
            .pidns_fd = pidns_fd,
            .netns_fd = -1,
            .cgroup_fd = c.cg ? cg_clone_fd(c.cg) : -1,
            .parent_late_fn = exec_parent,
            .child_fn = child_main,
            .userdata = &c,
    };
    pid_t pid;
    int pidfd;
    /* own_mntns stays false: the child joins the container's mount namespace, whose root is
     * the container's pivoted root, so the command is the container's binary. */
    r = spawn_start(&sa, &pid, &pidfd, NULL, err);
    if (r < 0)
        goto out;
    *ret_pid = pid;
    if (ret_pidfd)
        *ret_pidfd = pidfd;
    else
        close(pidfd);
out:
    ctx_release(&c);
    sec_plan_free(sec);
    cg_group_free(own_cg);
    cg_manager_free(own_cgm);
    return r;
}

/* The child side of the security plan for real, without the runtime: fork, sec_prepare +
 * sec_apply_child exactly as the container's init does, exec the static sectest helper and
 * compare what it sees in /proc/self/status and from syscalls. Needs root (setuid, bounding
 * set); skips with the reason otherwise. */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "caps.h"
#include "err.h"
#include "sec.h"
#include "runtime.h"
#include "spawn.h"
#include "state.h"
#include "unit.h"
#include "userns.h"
#include "util.h"

static char sectest[PATH_MAX];

/* Runs sectest ARGS under the plan of u as uid:gid; returns its stdout (static buffer) or
 * NULL. *ret_err gets the child's setup error message when it failed before exec. */
static const char *run_as(const struct unit *u, uid_t uid, gid_t gid, char *const *args,
        struct err *ret_err)
{
    static char out[8192];
    int pfd[2], efd[2], st;
    struct sec_plan *p = NULL;
    pid_t pid;
    ssize_t n, off = 0;

    err_clear(ret_err);
    if (sec_prepare(u, &p, ret_err) < 0)
        return NULL;
    if (pipe2(pfd, O_CLOEXEC) < 0 || pipe2(efd, O_CLOEXEC) < 0)
        return NULL;
    pid = fork();
    if (pid == 0) {
        struct err e = {0};
        dup2(pfd[1], 1);
        /* A network namespace of its own: binding port 80 must not touch the host's. */
        if (unshare(CLONE_NEWNET) < 0)
            err_set(&e, errno, "unshare(CLONE_NEWNET)");
        else if (sec_apply_child(p, uid, gid, NULL, 0, &e) == 0) {
            execv(sectest, args);
            err_set(&e, errno, "exec %s", sectest);
        }
        (void)!write(efd[1], &e, sizeof(e));
        _exit(127);
    }
    close(pfd[1]);
    close(efd[1]);
    while (pid > 0 && (n = read(pfd[0], out + off, sizeof(out) - 1 - (size_t)off)) > 0)
        off += n;
    out[off] = 0;
    n = read(efd[0], ret_err, sizeof(*ret_err));
    close(pfd[0]);
    close(efd[0]);
    sec_plan_free(p);
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return NULL;
    if (n == (ssize_t)sizeof(*ret_err)) {
        fprintf(stderr, "  child: %s\n", ret_err->msg);
        return NULL;
    }
    return out;
}

static struct unit base_unit(void)
{
    struct unit u = {.name = "mgrt-apply"};
    u.sec.no_new_privileges = true;
    return u;
}

static int have_sectest(void)
{
    return access(sectest, X_OK) == 0;
}

#define REQUIRE_ROOT()                                                                            \
    do {                                                                                          \
        if (geteuid() != 0)                                                                       \
            SKIP("needs root (setuid, bounding set)");                                           \
        if (!have_sectest())                                                                         \
            SKIP("sectest helper not built next to this test (make B=... build/tests/sectest)"); \
    } while (0)

static int test_default_caps(void)
{
    REQUIRE_ROOT();
    struct unit u = base_unit();
    struct err e;
    const char *o = run_as(&u, 0, 0, (char *[]){"sectest", "status", NULL}, &e);

    CHECK(o != NULL);
    CHECK(strstr(o, "CapInh:\t0000000000000000\n") != NULL);
    CHECK(strstr(o, "CapPrm:\t00000000800405fb\n") != NULL);
    CHECK(strstr(o, "CapEff:\t00000000800405fb\n") != NULL);
    CHECK(strstr(o, "CapBnd:\t00000000800405fb\n") != NULL);
    CHECK(strstr(o, "CapAmb:\t0000000000000000\n") != NULL);
    CHECK(strstr(o, "NoNewPrivs:\t1\n") != NULL);
    CHECK(strstr(o, "Seccomp:\t2\n") != NULL);
    return 0;
}

static int test_drop_all(void)
{
    REQUIRE_ROOT();
    struct unit u = base_unit();
    char *all[] = {"ALL", NULL};
    struct err e;
    u.sec.cap_drop = all;
    const char *o = run_as(&u, 0, 0, (char *[]){"sectest", "status", NULL}, &e);

    CHECK(o != NULL);
    CHECK(strstr(o, "CapPrm:\t0000000000000000\n") != NULL);
    CHECK(strstr(o, "CapEff:\t0000000000000000\n") != NULL);
    CHECK(strstr(o, "CapBnd:\t0000000000000000\n") != NULL);
    /* root without CAP_NET_BIND_SERVICE cannot bind port 80 (host netns: default 1024) */
    o = run_as(&u, 0, 0, (char *[]){"sectest", "bind", "80", NULL}, &e);
    CHECK(o != NULL);
    CHECK_STR(o, "bind errno=13\n");
    return 0;
}

static int test_nonroot_add_net_bind(void)
{
    REQUIRE_ROOT();
    struct unit u = base_unit();
    char *all[] = {"ALL", NULL}, *nbs[] = {"net_bind_service", NULL};
    struct err e;
    u.sec.cap_drop = all;
    u.sec.cap_add = nbs;
    const char *o = run_as(&u, 1000, 1000, (char *[]){"sectest", "status", NULL}, &e);

    CHECK(o != NULL);
    CHECK(strstr(o, "Uid:\t1000\t1000\t1000\t1000\n") != NULL);
    CHECK(strstr(o, "CapInh:\t0000000000000400\n") != NULL);
    CHECK(strstr(o, "CapPrm:\t0000000000000400\n") != NULL);
    CHECK(strstr(o, "CapEff:\t0000000000000400\n") != NULL);
    CHECK(strstr(o, "CapBnd:\t0000000000000400\n") != NULL);
    CHECK(strstr(o, "CapAmb:\t0000000000000400\n") != NULL);
    o = run_as(&u, 1000, 1000, (char *[]){"sectest", "bind", "80", NULL}, &e);
    CHECK(o != NULL);
    CHECK_STR(o, "bind ok\n");
    /* control: the same user without the capability is refused */
    u.sec.cap_add = NULL;
    u.sec.cap_drop = NULL; /* the default set: a non-root user gets none of it (podman) */
    o = run_as(&u, 1000, 1000, (char *[]){"sectest", "status", NULL}, &e);
    CHECK(o != NULL);
    CHECK(strstr(o, "CapPrm:\t0000000000000000\n") != NULL);
    CHECK(strstr(o, "CapEff:\t0000000000000000\n") != NULL);
    CHECK(strstr(o, "CapBnd:\t00000000800405fb\n") != NULL);
    CHECK(strstr(o, "CapAmb:\t0000000000000000\n") != NULL);
    o = run_as(&u, 1000, 1000, (char *[]){"sectest", "bind", "80", NULL}, &e);
    CHECK(o != NULL);
    CHECK_STR(o, "bind errno=13\n");
    return 0;
}

static int test_default_seccomp(void)
{
    REQUIRE_ROOT();
    struct unit u = base_unit();
    struct err e;
    const char *o = run_as(&u, 0, 0,
            (char *[]){"sectest", "syscall", "unshare_user", "mount", "keyctl", "add_key", "bpf",
                    "kexec_load", "init_module", "clone3", "personality_bad", "getpid",
                    "chroot", NULL},
            &e);

    CHECK(o != NULL);
    CHECK_STR(o, "unshare_user errno=1\nmount errno=1\nkeyctl errno=1\nadd_key errno=1\n"
                 "bpf errno=1\nkexec_load errno=1\ninit_module errno=1\nclone3 errno=38\n"
                 "personality_bad errno=1\ngetpid ok\nchroot ok\n");
    /* unconfined: the same calls reach the kernel (keyctl works for root) */
    u.sec.seccomp = SECCOMP_UNCONFINED;
    o = run_as(&u, 0, 0, (char *[]){"sectest", "syscall", "keyctl", NULL}, &e);
    CHECK(o != NULL);
    CHECK_STR(o, "keyctl ok\n");
    return 0;
}

static int test_json_profile_mkdir(void)
{
    REQUIRE_ROOT();
    char dir[] = "/tmp/mgrt.secapply.XXXXXX", prof[64], target[80];
    const char *json = "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
                       "[\"mkdir\",\"mkdirat\",\"not_a_syscall\"],\"action\":\"SCMP_ACT_ERRNO\","
                       "\"errnoRet\":95}]}";
    struct unit u = base_unit();
    struct err e;
    const char *o;
    int fd;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(prof, sizeof(prof), "%s/deny-mkdir.json", dir);
    snprintf(target, sizeof(target), "%s/newdir", dir);
    fd = open(prof, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, json, strlen(json)) == (ssize_t)strlen(json));
    close(fd);
    u.sec.seccomp = SECCOMP_PROFILE;
    u.sec.seccomp_profile = prof;
    o = run_as(&u, 0, 0, (char *[]){"sectest", "mkdir", target, NULL}, &e);
    unlink(prof);
    rmdir(target);
    rmdir(dir);
    CHECK(o != NULL);
    CHECK_STR(o, "mkdir errno=95\n");
    return 0;
}

static int test_setuid_binary(void)
{
    REQUIRE_ROOT();
    char dir[] = "/tmp/mgrt.suid.XXXXXX", copy[64];
    struct unit u = base_unit();
    struct err e;
    const char *o1, *o2;
    char *out1 = NULL;

    CHECK(mkdtemp(dir) != NULL);
    CHECK(chmod(dir, 0755) == 0);
    snprintf(copy, sizeof(copy), "%s/sectest", dir);
    {
        int in = open(sectest, O_RDONLY | O_CLOEXEC), outfd;
        char buf[65536];
        ssize_t n;
        CHECK(in >= 0);
        outfd = open(copy, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
        CHECK(outfd >= 0);
        while ((n = read(in, buf, sizeof(buf))) > 0)
            CHECK(write(outfd, buf, (size_t)n) == n);
        close(in);
        close(outfd);
        CHECK(chown(copy, 0, 0) == 0);
        CHECK(chmod(copy, 04755) == 0);
    }
    /* With no_new_privileges (default) the setuid bit gives nothing. */
    o1 = run_as(&u, 1000, 1000, (char *[]){"sectest", "exec", copy, "id", NULL}, &e);
    if (o1)
        out1 = strdup(o1);
    /* Control: without it (and CAP_SETUID in the bounding set) the bit works, so the check
     * above can fail. */
    u.sec.no_new_privileges = false;
    o2 = run_as(&u, 1000, 1000, (char *[]){"sectest", "exec", copy, "id", NULL}, &e);
    unlink(copy);
    rmdir(dir);
    CHECK(out1 != NULL);
    CHECK_STR(out1, "uid=1000/1000/1000 gid=1000/1000/1000\n");
    free(out1);
    CHECK(o2 != NULL);
    CHECK_STR(o2, "uid=1000/0/0 gid=1000/1000/1000\n");
    return 0;
}

static int test_rlimits(void)
{
    REQUIRE_ROOT();
    struct unit u = base_unit();
    struct rlimit_spec rl = {RLIMIT_NOFILE, 100, 200};
    struct rlimit cur;
    struct err e;
    const char *o;

    u.sec.rlimits = &rl;
    u.sec.n_rlimits = 1;
    o = run_as(&u, 0, 0, (char *[]){"sectest", "limits", "nofile", NULL}, &e);
    CHECK(o != NULL);
    CHECK_STR(o, "nofile 100 200\n");
    CHECK_INT(getrlimit(RLIMIT_NOFILE, &cur), 0);
    if (cur.rlim_max == RLIM_INFINITY)
        SKIP("hard nofile limit unlimited here");
    rl.soft = rl.hard = cur.rlim_max + 1;
    o = run_as(&u, 0, 0, (char *[]){"sectest", "limits", "nofile", NULL}, &e);
    if (o && strstr(o, "nofile"))
        SKIP("we hold CAP_SYS_RESOURCE: the higher limit was allowed");
    CHECK(o == NULL);
    CHECK_INT(e.code, EPERM);
    CHECK(strstr(e.msg, "rlimits.nofile") != NULL);
    return 0;
}

static int test_idmapped_layers(void)
{
    if (geteuid() != 0)
        SKIP("needs root (mount_setattr)");
    char base[] = "/tmp/mgrt.idmap.XXXXXX", layer[64], run[64], dst[160], f[200];
    struct unit u = base_unit();
    struct err e = {0};
    char **dirs = NULL, *lower[2] = {layer, NULL};
    struct stat st;
    int fd;

    CHECK(mkdtemp(base) != NULL);
    snprintf(layer, sizeof(layer), "%s/layer", base);
    snprintf(run, sizeof(run), "%s/run", base);
    snprintf(dst, sizeof(dst), "%s/containers/mgrt-idmap/idmap", run);
    CHECK_INT(mkdir_p(layer, 0755), 0);
    CHECK_INT(mkdir_p(dst, 0700), 0);
    CHECK_INT(rmdir(dst), 0);
    snprintf(f, sizeof(f), "%s/file", layer);
    fd = open(f, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    close(fd);
    CHECK_INT(chown(f, 0, 0), 0);

    int r = userns_idmap_layers(&u, lower, dst, &dirs, &e);
    if (r == -EINVAL || r == -EOPNOTSUPP) {
        rm_rf_at(AT_FDCWD, base);
        SKIP("this kernel/filesystem cannot idmap /tmp");
    }
    CHECK_INT(r, 0);
    CHECK(dirs && dirs[0] && !dirs[1]);
    /* Through the idmapped copy, host root's file belongs to the container's root. */
    uint32_t want;
    CHECK_INT(userns_host_uid(&u, 0, &want, &e), 0);
    snprintf(f, sizeof(f), "%s/file", dirs[0]);
    CHECK_INT(stat(f, &st), 0);
    CHECK_INT(st.st_uid, want);
    /* A start killed halfway leaves these mounts (and its state, written first); reclaim
     * removes them with the state dir. */
    struct rt_state rs = {.name = "mgrt-idmap"};
    char sd[128];
    snprintf(sd, sizeof(sd), "%s/containers/mgrt-idmap", run);
    CHECK_INT(state_write(sd, &rs, &e), 0);
    r = rt_reclaim(run, base, "mgrt-idmap", &e);
    if (stat(dirs[0], &st) == 0)
        userns_idmap_cleanup(dst); /* do not leave the mount behind when failing */
    CHECK_INT(r, 0);
    CHECK(stat(dirs[0], &st) < 0);
    strv_free(dirs);
    dirs = NULL;
    CHECK_INT(mkdir_p(sd, 0700), 0);
    CHECK_INT(userns_idmap_layers(&u, lower, dst, &dirs, &e), 0);
    userns_idmap_cleanup(dst);
    CHECK(stat(dst, &st) < 0 && errno == ENOENT);
    strv_free(dirs);
    CHECK_INT(rm_rf_at(AT_FDCWD, base), 0);
    return 0;
}

/* The spawned child is not dumpable until execve: no container process can ptrace it or
 * open its /proc/PID/exe (the mgr binary) while it sets itself up. */
static int spawn_child_check(void *ud, int sync_fd, struct err *err)
{
    (void)ud;
    if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
        return err_setx(err, EPERM, "child is dumpable before execve");
    if (spawn_child_wait(sync_fd) < 0)
        return err_setx(err, EPIPE, "parent aborted");
    execv(sectest, (char *[]){"sectest", "id", NULL});
    return err_set(err, errno, "exec %s", sectest);
}

static int test_spawn_not_dumpable(void)
{
    if (!have_sectest())
        SKIP("sectest helper not built");
    struct spawn_args a = {.name = "mgrt-dump", .pidns_fd = -1, .netns_fd = -1, .cgroup_fd = -1,
            .child_fn = spawn_child_check};
    struct err e = {0};
    pid_t pid;
    int pidfd = -1, st;
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC), saved = dup(1);

    /* the helper's output is not the point: keep the harness output clean */
    dup2(devnull, 1);
    int r = spawn_start(&a, &pid, &pidfd, NULL, &e);
    dup2(saved, 1);
    close(saved);
    close(devnull);
    if (r < 0)
        fprintf(stderr, "  %s\n", e.msg);
    CHECK_INT(r, 0);
    CHECK(waitpid(pid, &st, 0) == pid);
    close(pidfd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return 0;
}

int main(int argc, char **argv)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = 0;
    snprintf(sectest, sizeof(sectest), "%s/sectest", dirname(self));
    /* The ASan build dir has no helper: use the main build's (B, as tests/run.sh sets it). */
    if (access(sectest, X_OK) < 0 && getenv("B"))
        snprintf(sectest, sizeof(sectest), "%s/tests/sectest", getenv("B"));

    RUN(test_default_caps);
    RUN(test_drop_all);
    RUN(test_nonroot_add_net_bind);
    RUN(test_default_seccomp);
    RUN(test_json_profile_mkdir);
    RUN(test_setuid_binary);
    RUN(test_rlimits);
    RUN(test_idmapped_layers);
    RUN(test_spawn_not_dumpable);
    return HARNESS_END();
}

/* Pure mount plan (rootfs_plan) and path normalisation; no root, no mounts. One case needs
 * root (rootfs_pivot's fallback, in a private mount namespace of a child) and skips without. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "harness.h"
#include "err.h"
#include "rootfs.h"
#include "runtime.h"
#include "state.h"
#include "unit.h"
#include "util.h"

static struct unit base_unit(void)
{
    struct unit u = {0};
    u.kind = UNIT_CONTAINER;
    u.name = "web";
    return u;
}

/* Index of the first op on target (relative), or -1. */
static int find(const struct rootfs_plan *p, enum rootfs_op_kind k, const char *target)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->ops[i].kind == k && strcmp(p->ops[i].target, target) == 0)
            return (int)i;
    return -1;
}

static int test_rel_path(void)
{
    char b[64];
    CHECK_INT(rootfs_rel_path("/a//b/./c/", b, sizeof(b)), 0);
    CHECK_STR(b, "a/b/c");
    CHECK_INT(rootfs_rel_path("/proc", b, sizeof(b)), 0);
    CHECK_STR(b, "proc");
    CHECK_INT(rootfs_rel_path("/", b, sizeof(b)), -EINVAL);
    CHECK_INT(rootfs_rel_path("//./", b, sizeof(b)), -EINVAL);
    CHECK_INT(rootfs_rel_path("relative", b, sizeof(b)), -EINVAL);
    CHECK_INT(rootfs_rel_path("/a/../etc", b, sizeof(b)), -EINVAL);
    CHECK_INT(rootfs_rel_path("/a/..", b, sizeof(b)), -EINVAL);
    CHECK_INT(rootfs_rel_path("/a/..b", b, sizeof(b)), 0); /* a name, not a climb */
    CHECK_STR(b, "a/..b");
    CHECK_INT(rootfs_rel_path("/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", b, sizeof(b)),
            -EINVAL);
    return 0;
}

static int test_default_plan(void)
{
    struct unit u = base_unit();
    struct rootfs_opts o = {.ipc_ns_private = true};
    struct rootfs_plan p;
    struct err e = {0};
    CHECK_INT(rootfs_plan(&u, &o, &p, &e), 0);
    int proc = find(&p, RF_MOUNT, "proc"), sysctl = find(&p, RF_SYSCTL, "proc");
    int sys = find(&p, RF_MOUNT, "sys"), dev = find(&p, RF_MOUNT, "dev");
    int null = find(&p, RF_MKNOD, "dev/null"), pts = find(&p, RF_MOUNT, "dev/pts");
    int ro_sys = find(&p, RF_READONLY, "proc/sys"), kcore = find(&p, RF_MASK, "proc/kcore");
    CHECK(proc >= 0 && sysctl > proc);           /* sysctls need /proc */
    CHECK(ro_sys > sysctl);                      /* ... and a writable /proc/sys */
    CHECK(sys >= 0 && (p.ops[sys].flags & MS_RDONLY));
    CHECK(dev >= 0 && null > dev && pts > dev);  /* nodes go into our /dev tmpfs */
    CHECK(kcore > dev);                          /* masks bind our /dev/null */
    CHECK(strstr(p.ops[pts].data, "newinstance") != NULL);
    CHECK(find(&p, RF_MOUNT, "dev/mqueue") >= 0);
    CHECK(find(&p, RF_SYMLINK, "dev/ptmx") >= 0);
    CHECK(find(&p, RF_MASK, "sys/firmware") >= 0);
    CHECK(!p.readonly_root);
    /* Every default masked and read-only path is in the plan. */
    for (size_t i = 0; rootfs_default_masked[i]; i++)
        CHECK(find(&p, RF_MASK, rootfs_default_masked[i] + 1) >= 0);
    for (size_t i = 0; rootfs_default_readonly[i]; i++)
        CHECK(find(&p, RF_READONLY, rootfs_default_readonly[i] + 1) >= 0);
    rootfs_plan_free(&p);

    /* No private ipc namespace: no mqueue mount (it would show the host's queues). */
    o.ipc_ns_private = false;
    CHECK_INT(rootfs_plan(&u, &o, &p, &e), 0);
    CHECK(find(&p, RF_MOUNT, "dev/mqueue") < 0);
    rootfs_plan_free(&p);
    return 0;
}

static int test_unit_mounts(void)
{
    struct unit u = base_unit();
    struct mount_spec m[3] = {
            {.type = MOUNT_TMPFS, .target = "/run", .size = 1048576, .mode = 0755},
            {.type = MOUNT_BIND, .source = "/srv/data", .target = "/data/", .readonly = true,
                    .recursive = true},
            {.type = MOUNT_TMPFS, .target = "/tmp", .size = UNIT_UNSET, .mode = 01777,
                    .readonly = true},
    };
    u.mounts = m;
    u.n_mounts = 3;
    char *masked[] = {"/proc/keys", NULL};
    char *ro[] = {NULL};
    u.sec.masked_paths = masked;
    u.sec.readonly_paths = ro;
    u.sec.readonly_rootfs = true;
    struct rt_bind b = {.source = "/var/lib/mgr/hosts", .target = "/etc/hosts", .readonly = true};
    struct rootfs_opts o = {.binds = &b, .n_binds = 1};
    struct rootfs_plan p;
    struct err e = {0};
    CHECK_INT(rootfs_plan(&u, &o, &p, &e), 0);
    int run = find(&p, RF_MOUNT, "run"), data = find(&p, RF_BIND, "data"),
        tmp = find(&p, RF_MOUNT, "tmp"), hosts = find(&p, RF_BIND, "etc/hosts");
    CHECK(run >= 0 && data > run && tmp > data && hosts > tmp); /* file order, extras last */
    CHECK_STR(p.ops[run].data, "mode=0755,size=1048576");
    CHECK_STR(p.ops[tmp].data, "mode=1777");
    CHECK(p.ops[tmp].flags & MS_RDONLY);
    CHECK(p.ops[data].readonly && p.ops[data].recursive);
    CHECK_STR(p.ops[data].source, "/srv/data");
    CHECK(p.ops[hosts].readonly);
    /* The unit's own lists replace the defaults. */
    CHECK(find(&p, RF_MASK, "proc/keys") >= 0);
    CHECK(find(&p, RF_MASK, "proc/kcore") < 0);
    CHECK(find(&p, RF_READONLY, "proc/sys") < 0);
    CHECK(p.readonly_root);
    rootfs_plan_free(&p);
    return 0;
}

static int test_bad_mounts(void)
{
    struct unit u = base_unit();
    struct rootfs_opts o = {0};
    struct rootfs_plan p;
    struct err e = {0};
    struct mount_spec m = {.type = MOUNT_BIND, .source = "/srv", .target = "/a/../../etc"};
    u.mounts = &m;
    u.n_mounts = 1;
    CHECK_INT(rootfs_plan(&u, &o, &p, &e), -EINVAL);
    CHECK(strstr(e.msg, "/a/../../etc") != NULL);
    m.target = "/";
    CHECK_INT(rootfs_plan(&u, &o, &p, &e), -EINVAL);
    m.target = "/data";
    m.source = "relative/src";
    CHECK_INT(rootfs_plan(&u, &o, &p, &e), -EINVAL);
    CHECK(strstr(e.msg, "absolute") != NULL);
    return 0;
}

static int test_state_roundtrip(void)
{
    struct rt_state s = {0}, t;
    strcpy(s.name, "web");
    s.pid = 1234;
    s.start_time = 987654321;
    s.owner_pid = 42;
    s.keep_upper = true;
    strcpy(s.upper_dir, "/var/lib/mgr/containers/web");
    strcpy(s.cgroup, "web");
    s.ns_ino[NS_NET] = 4026531840u;
    char buf[8192];
    int n = state_format(&s, buf, sizeof(buf));
    CHECK(n > 0);
    CHECK_INT(state_parse(buf, &t), 0);
    CHECK_STR(t.name, "web");
    CHECK_INT(t.pid, 1234);
    CHECK_INT(t.start_time, 987654321);
    CHECK_INT(t.owner_pid, 42);
    CHECK(t.keep_upper);
    CHECK_STR(t.upper_dir, s.upper_dir);
    CHECK_STR(t.cgroup, "web");
    CHECK_INT(t.ns_ino[NS_NET], 4026531840u);
    CHECK_INT(state_format(&s, buf, 10), -ENOSPC);
    CHECK_INT(state_parse("pid=12\n", &t), -EINVAL);          /* no name */
    CHECK_INT(state_parse("name=x\npid=abc\n", &t), -EINVAL); /* bad number */
    CHECK_INT(state_parse("name=x\ngarbage\n", &t), -EINVAL);
    CHECK_INT(state_parse("name=x\nfuture_key=1\n", &t), 0); /* newer writer */
    return 0;
}

static int test_stat_start_time(void)
{
    uint64_t v;
    const char *line = "1234 (a) b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
                       "55555 1000 10 18446744073709551615\n";
    CHECK_INT(state_parse_stat_start_time(line, &v), 0);
    CHECK_INT(v, 55555);
    CHECK_INT(state_parse_stat_start_time("1 (x) S 1 2", &v), -EINVAL);
    CHECK_INT(state_parse_stat_start_time("no paren", &v), -EINVAL);
    return 0;
}

static int test_exit_code(void)
{
    CHECK_INT(rt_exit_code(3 << 8), 3);
    CHECK_INT(rt_exit_code(9), 137);
    CHECK_INT(rt_exit_code(2), 130);
    return 0;
}

/* In the forked child, in its own mount namespace: a tmpfs at tmp, chroot into tmp/outer (a
 * plain directory, so the current root is not a mount point and pivot_root fails with EINVAL,
 * as it does on an initramfs root), a new root mounted at /new. Returns the exit code. */
static int pivot_fallback_child(const char *tmp)
{
    char p[512];
    struct err e = {0};
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return 10;
    if (mount("tmpfs", tmp, "tmpfs", 0, "mode=0755") < 0)
        return 11;
    snprintf(p, sizeof(p), "%s/outer/new", tmp);
    if (mkdir_p(p, 0755) < 0 || mount("tmpfs", p, "tmpfs", 0, "mode=0755") < 0)
        return 12;
    snprintf(p, sizeof(p), "%s/outer/new/marker", tmp);
    int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0)
        return 13;
    close(fd);
    snprintf(p, sizeof(p), "%s/outer/old-root-file", tmp);
    fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0)
        return 13;
    close(fd);
    snprintf(p, sizeof(p), "%s/outer", tmp);
    if (chroot(p) < 0 || chdir("/") < 0)
        return 14;
    /* the precondition: pivot_root really refuses here (checked in a throw-away namespace) */
    pid_t pid = fork();
    if (pid == 0) {
        if (unshare(CLONE_NEWNS) < 0 || chdir("/new") < 0)
            _exit(1);
        _exit(syscall(SYS_pivot_root, ".", ".") < 0 && errno == EINVAL ? 0 : 2);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return 15;
    if (rootfs_pivot("/new", true, &e) < 0) {
        fprintf(stderr, "  rootfs_pivot: %s\n", e.msg);
        return 16;
    }
    struct stat root, dotdot;
    if (access("/marker", F_OK) < 0 || access("/old-root-file", F_OK) == 0)
        return 17; /* not in the new root */
    if (stat("/", &root) < 0 || stat("/..", &dotdot) < 0 || root.st_ino != dotdot.st_ino ||
        root.st_dev != dotdot.st_dev)
        return 18; /* the old root is reachable above the new one */
    if (open("/w", O_CREAT | O_WRONLY | O_CLOEXEC, 0644) >= 0 || errno != EROFS)
        return 19; /* readonly_root not applied */
    return 0;
}

/* rootfs_pivot where pivot_root fails with EINVAL (initramfs root, issue 9): the MS_MOVE +
 * chroot fallback must still land in the new root, read-only when asked. */
static int test_pivot_fallback(void)
{
    if (geteuid() != 0)
        SKIP("needs root (mount namespace, tmpfs, chroot)");
    char tmp[] = "/tmp/mgrt-pivot.XXXXXX";
    CHECK(mkdtemp(tmp));
    pid_t pid = fork();
    if (pid == 0)
        _exit(pivot_fallback_child(tmp));
    int st = 0;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
    rmdir(tmp); /* the mounts were only in the child's namespace */
    CHECK(WIFEXITED(st));
    CHECK_INT(WEXITSTATUS(st), 0);
    return 0;
}

int main(void)
{
    RUN(test_rel_path);
    RUN(test_default_plan);
    RUN(test_unit_mounts);
    RUN(test_bad_mounts);
    RUN(test_state_roundtrip);
    RUN(test_stat_start_time);
    RUN(test_exit_code);
    RUN(test_pivot_fallback);
    return HARNESS_END();
}

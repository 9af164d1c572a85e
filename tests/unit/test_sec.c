/* Security plan decisions: sysctl keys vs namespaces, rlimits vs our own limits, LSM keys on
 * a host without that LSM, rlimit names, user namespace maps. No root needed. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <unistd.h>

#include "harness.h"
#include "err.h"
#include "sec.h"
#include "unit.h"
#include "userns.h"
#include "util.h"

static int test_sysctl_keys(void)
{
    struct unit u = {.name = "mgrt"};
    struct err e = {0};

    /* all namespaces private (NS_PRIVATE == 0) */
    CHECK_INT(sec_check_sysctl_key(&u, "net.ipv4.ip_forward", &e), 0);
    CHECK_INT(sec_check_sysctl_key(&u, "net.ipv4.conf.all.rp_filter", &e), 0);
    CHECK_INT(sec_check_sysctl_key(&u, "kernel.shmmax", &e), 0);
    CHECK_INT(sec_check_sysctl_key(&u, "kernel.msgmnb", &e), 0);
    CHECK_INT(sec_check_sysctl_key(&u, "kernel.sem", &e), 0);
    CHECK_INT(sec_check_sysctl_key(&u, "fs.mqueue.msg_max", &e), 0);
    CHECK_INT(sec_check_sysctl_key(&u, "kernel.domainname", &e), 0);
    CHECK_INT(sec_check_sysctl_key(&u, "kernel.panic", &e), -EPERM);
    CHECK(strstr(e.msg, "'kernel.panic' is not namespaced") != NULL);
    CHECK_INT(sec_check_sysctl_key(&u, "vm.overcommit_memory", &e), -EPERM);
    CHECK_INT(sec_check_sysctl_key(&u, "kernel.semx", &e), -EPERM);
    CHECK_INT(sec_check_sysctl_key(&u, "net..x", &e), -EINVAL);
    CHECK_INT(sec_check_sysctl_key(&u, "net/../../x", &e), -EINVAL);
    CHECK_INT(sec_check_sysctl_key(&u, "net/ipv4/conf/eth0.1/rp_filter", &e), 0);
    CHECK_INT(sec_check_sysctl_key(&u, "kernel/panic", &e), -EPERM);
    CHECK_INT(sec_check_sysctl_key(&u, "/net/x", &e), -EINVAL);
    CHECK_INT(sec_check_sysctl_key(&u, "net/./x", &e), -EINVAL);
    CHECK_INT(sec_check_sysctl_key(&u, "", &e), -EINVAL);

    u.ns[NS_NET].mode = NS_HOST;
    CHECK_INT(sec_check_sysctl_key(&u, "net.ipv4.ip_forward", &e), -EPERM);
    CHECK(strstr(e.msg, "private network namespace") != NULL);
    u.ns[NS_NET].mode = NS_NONE;
    CHECK_INT(sec_check_sysctl_key(&u, "net.ipv4.ip_forward", &e), 0);
    u.ns[NS_NET].mode = NS_CONTAINER;
    CHECK_INT(sec_check_sysctl_key(&u, "net.ipv4.ip_forward", &e), -EPERM);
    u.ns[NS_IPC].mode = NS_HOST;
    CHECK_INT(sec_check_sysctl_key(&u, "kernel.shmmax", &e), -EPERM);
    CHECK(strstr(e.msg, "private ipc namespace") != NULL);
    CHECK_INT(sec_check_sysctl_key(&u, "fs.mqueue.msg_max", &e), -EPERM);
    u.ns[NS_UTS].mode = NS_HOST;
    CHECK_INT(sec_check_sysctl_key(&u, "kernel.domainname", &e), -EPERM);
    return 0;
}

static int test_plan_sysctl(void)
{
    struct unit u = {.name = "mgrt"};
    struct kv kv[] = {{"net.ipv4.ip_unprivileged_port_start", "80"},
            {"net/ipv4/conf/eth0.1/rp_filter", "1"}, {"kernel.panic", "1"}};
    struct sec_plan *p = NULL;
    struct err e = {0};

    u.sec.seccomp = SECCOMP_UNCONFINED;
    u.sec.sysctl = kv;
    u.sec.n_sysctl = 2;
    CHECK_INT(sec_prepare(&u, &p, &e), 0);
    CHECK_INT(p->n_sysctl, 3);
    CHECK_STR(p->sysctl[0].path, "net/ipv4/ip_unprivileged_port_start");
    CHECK_STR(p->sysctl[0].value, "80");
    CHECK_STR(p->sysctl[1].path, "net/ipv4/conf/eth0.1/rp_filter");
    /* podman's default: root may ping without CAP_NET_RAW in its own network namespace */
    CHECK_STR(p->sysctl[2].path, "net/ipv4/ping_group_range");
    CHECK_STR(p->sysctl[2].value, "0 0");
    p = sec_plan_free(p);
    /* the unit's own value wins; the host's network gets nothing */
    struct kv own[] = {{"net/ipv4/ping_group_range", "0 100"}};
    u.sec.sysctl = own;
    u.sec.n_sysctl = 1;
    CHECK_INT(sec_prepare(&u, &p, &e), 0);
    CHECK_INT(p->n_sysctl, 1);
    CHECK_STR(p->sysctl[0].value, "0 100");
    p = sec_plan_free(p);
    u.sec.n_sysctl = 0;
    u.ns[NS_NET].mode = NS_HOST;
    CHECK_INT(sec_prepare(&u, &p, &e), 0);
    CHECK_INT(p->n_sysctl, 0);
    p = sec_plan_free(p);
    u.ns[NS_NET].mode = NS_PRIVATE;
    u.sec.sysctl = kv;
    u.sec.n_sysctl = 3;
    CHECK_INT(sec_prepare(&u, &p, &e), -EPERM);
    CHECK(p == NULL);
    CHECK(strncmp(e.msg, "unit 'mgrt': sysctl 'kernel.panic'", 34) == 0);
    return 0;
}

static int test_rlimits(void)
{
    struct unit u = {.name = "mgrt"};
    struct rlimit cur;
    struct rlimit_spec rl = {RLIMIT_NOFILE, 1024, 1024};
    struct err e = {0};

    CHECK_STR(sec_rlimit_name(RLIMIT_NOFILE), "nofile");
    CHECK_INT(sec_rlimit_from_name("NOFILE"), RLIMIT_NOFILE);
    CHECK_INT(sec_rlimit_from_name("RLIMIT_NPROC"), RLIMIT_NPROC);
    CHECK_INT(sec_rlimit_from_name("memlock"), RLIMIT_MEMLOCK);
    CHECK_INT(sec_rlimit_from_name("files"), -EINVAL);

    u.sec.rlimits = &rl;
    u.sec.n_rlimits = 1;
    CHECK_INT(sec_check_host(&u, &e), 0);
    rl.soft = 2048;
    CHECK_INT(sec_check_host(&u, &e), -EINVAL);
    CHECK(strstr(e.msg, "rlimits.nofile: soft limit 2048 is above hard limit 1024") != NULL);

    /* Above our own hard limit: EPERM naming the key and the limit, unless we hold
     * CAP_SYS_RESOURCE (then the kernel lets us raise it). */
    CHECK_INT(getrlimit(RLIMIT_NOFILE, &cur), 0);
    if (cur.rlim_max == RLIM_INFINITY)
        SKIP("hard nofile limit is unlimited here");
    rl.soft = rl.hard = cur.rlim_max + 1;
    int r = sec_check_host(&u, &e);
    if (r == 0 && geteuid() == 0)
        SKIP("we hold CAP_SYS_RESOURCE: a higher hard limit is allowed");
    CHECK_INT(r, -EPERM);
    char want[128];
    snprintf(want, sizeof(want), "rlimits.nofile: hard limit %llu is above the supervisor's own hard limit %llu",
            (unsigned long long)cur.rlim_max + 1, (unsigned long long)cur.rlim_max);
    CHECK(strstr(e.msg, want) != NULL);
    return 0;
}

static int test_lsm_keys(void)
{
    struct unit u = {.name = "mgrt"};
    struct err e = {0};
    struct sec_plan *p = NULL;

    u.sec.seccomp = SECCOMP_UNCONFINED;
    u.sec.apparmor = "mgrt-profile";
    if (access("/sys/module/apparmor/parameters/enabled", F_OK) == 0) {
        FILE *f = fopen("/sys/module/apparmor/parameters/enabled", "r");
        int c = f ? fgetc(f) : 0;
        if (f)
            fclose(f);
        if (c == 'Y')
            SKIP("AppArmor is enabled on this host");
    }
    CHECK_INT(sec_prepare(&u, &p, &e), -EOPNOTSUPP);
    CHECK(strstr(e.msg, "security.apparmor: AppArmor is not enabled on this host") != NULL);
    u.sec.apparmor = NULL;
    u.sec.selinux_label = "system_u:system_r:container_t:s0";
    if (access("/sys/fs/selinux/enforce", F_OK) == 0)
        SKIP("SELinux is enabled on this host");
    CHECK_INT(sec_prepare(&u, &p, &e), -EOPNOTSUPP);
    CHECK(strstr(e.msg, "security.selinux_label: SELinux is not enabled") != NULL);
    return 0;
}

static int test_validate_unit(void)
{
    struct unit u = {.name = "mgrt"};
    struct kv ok[] = {{"net.core.somaxconn", "1024"}}, bad[] = {{"vm.swappiness", "1"}};
    struct rlimit_spec rl = {RLIMIT_NOFILE, 10, 5};
    char *caps_bad[] = {"NOPE", NULL};
    struct err e = {0};

    CHECK_INT(sec_validate_unit(&u, &e), 0);
    u.sec.sysctl = ok;
    u.sec.n_sysctl = 1;
    CHECK_INT(sec_validate_unit(&u, &e), 0);
    u.sec.sysctl = bad;
    CHECK_INT(sec_validate_unit(&u, &e), -EPERM);
    CHECK(strstr(e.msg, "vm.swappiness") != NULL);
    u.sec.n_sysctl = 0;
    u.sec.rlimits = &rl;
    u.sec.n_rlimits = 1;
    CHECK_INT(sec_validate_unit(&u, &e), -EINVAL);
    CHECK(strstr(e.msg, "rlimits.nofile") != NULL);
    u.sec.n_rlimits = 0;
    u.sec.cap_add = caps_bad;
    CHECK_INT(sec_validate_unit(&u, &e), -EINVAL);
    CHECK(strstr(e.msg, "'NOPE'") != NULL);
    return 0;
}

static int test_subid(void)
{
    uint32_t start = 0;

    CHECK_INT(userns_parse_subid("alice:100000:65536\nmgr:231072:65536\n", "mgr", &start), 0);
    CHECK_INT(start, 231072);
    CHECK_INT(userns_parse_subid("mgrx:100000:65536\nmgr:300000:70000", "mgr", &start), 0);
    CHECK_INT(start, 300000);
    CHECK_INT(userns_parse_subid("mgr:100000:1000\n", "mgr", &start), -ENOENT);
    CHECK_INT(userns_parse_subid("mgr:abc:65536\n", "mgr", &start), -ENOENT);
    CHECK_INT(userns_parse_subid("mgr:0:65536\n", "mgr", &start), -ENOENT);
    CHECK_INT(userns_parse_subid("", "mgr", &start), -ENOENT);
    return 0;
}

static int test_maps(void)
{
    struct unit u = {.name = "mgrt"};
    struct id_map um[] = {{0, 500000, 1000}, {1000, 600000, 64536}};
    struct id_map *ru = NULL, *rg = NULL;
    size_t nu = 0, ng = 0;
    char buf[256];
    uint32_t out;
    struct err e = {0};

    u.sec.uid_map = um;
    u.sec.n_uid_map = 2;
    CHECK_INT(userns_resolve_maps(&u, &ru, &nu, &rg, &ng, &e), 0);
    CHECK_INT(nu, 2);
    CHECK_INT(ng, 1);
    CHECK_INT(rg[0].inside, 0);
    CHECK_INT(rg[0].count, USERNS_DEFAULT_COUNT);
    CHECK(rg[0].outside > 0);
    CHECK(userns_format_map(ru, nu, buf, sizeof(buf)) > 0);
    CHECK_STR(buf, "0 500000 1000\n1000 600000 64536\n");
    CHECK_INT(userns_format_map(ru, nu, buf, 10), -ENOBUFS);
    free(ru);
    free(rg);
    CHECK_INT(userns_host_uid(&u, 0, &out, &e), 0);
    CHECK_INT(out, 500000);
    CHECK_INT(userns_host_uid(&u, 1005, &out, &e), 0);
    CHECK_INT(out, 600005);
    CHECK_INT(userns_host_uid(&u, 65536, &out, &e), -ERANGE);
    return 0;
}

static int test_allow_traverse(void)
{
    char base[] = "/tmp/mgrt.trav.XXXXXX", run[64], deep[128], p[160];
    struct err e = {0};
    struct stat st;

    CHECK(mkdtemp(base) != NULL);
    snprintf(run, sizeof(run), "%s/run", base);
    snprintf(deep, sizeof(deep), "%s/containers/x/rootfs", run);
    CHECK_INT(mkdir_p(deep, 0700), 0);
    CHECK_INT(chmod(base, 0711), 0);
    CHECK_INT(userns_allow_traverse(run, deep, &e), 0);
    CHECK_INT(stat(deep, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0701);
    snprintf(p, sizeof(p), "%s/containers", run);
    CHECK_INT(stat(p, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0701);
    CHECK_INT(stat(run, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0701); /* base itself included, never r or w */
    /* a parent of base that others cannot traverse: a clear error naming it */
    CHECK_INT(chmod(base, 0700), 0);
    CHECK_INT(userns_allow_traverse(run, deep, &e), -EACCES);
    CHECK(strstr(e.msg, base) != NULL && strstr(e.msg, "not traversable") != NULL);
    CHECK_INT(userns_allow_traverse(run, "/etc", &e), -EINVAL);
    CHECK_INT(rm_rf_at(AT_FDCWD, base), 0);
    return 0;
}

int main(void)
{
    RUN(test_sysctl_keys);
    RUN(test_plan_sysctl);
    RUN(test_rlimits);
    RUN(test_lsm_keys);
    RUN(test_validate_unit);
    RUN(test_subid);
    RUN(test_maps);
    RUN(test_allow_traverse);
    return HARNESS_END();
}

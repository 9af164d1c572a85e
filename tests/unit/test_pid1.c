/* Pure parts of PID 1: config from the kernel command line and init.yaml, signal mapping,
 * mount plan, shutdown phases, modules-load.d parsing; and reaping on a real child. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "pid1.h"
#include "unit.h"
#include "util.h"

static int test_config_defaults(void)
{
    struct pid1_config c;
    pid1_config_init(&c);
    CHECK_INT(c.cgroup, PID1_CG_V2);
    CHECK(c.supervisor);
    CHECK(c.watchdog == NULL);
    CHECK(c.run == NULL);
    CHECK_INT(c.run_action, PID1_ACT_NONE);
    CHECK_INT(c.on_critical, PID1_ACT_REBOOT);
    pid1_config_done(&c);
    return 0;
}

static int test_cmdline(void)
{
    struct pid1_config c;
    struct err e = {0};
    pid1_config_init(&c);
    CHECK_INT(pid1_config_cmdline(&c,
                      "BOOT_IMAGE=/vmlinuz console=ttyS0 mgr.cgroup=v1 quiet "
                      "mgr.watchdog=/dev/watchdog0 mgr.watchdog_timeout=20s "
                      "mgr.run=/usr/bin/t mgr.run_action=poweroff mgr.supervisor=0 mgr.debug\n",
                      &e),
            0);
    CHECK_INT(c.cgroup, PID1_CG_V1);
    CHECK_STR(c.watchdog, "/dev/watchdog0");
    CHECK_INT(c.watchdog_timeout_s, 20);
    CHECK_STR(c.run, "/usr/bin/t");
    CHECK_INT(c.run_action, PID1_ACT_POWEROFF);
    CHECK(!c.supervisor);
    CHECK(c.debug);
    /* later words win; quotes group */
    CHECK_INT(pid1_config_cmdline(&c, "mgr.cgroup=v2 \"mgr.watchdog=off\"", &e), 0);
    CHECK_INT(c.cgroup, PID1_CG_V2);
    CHECK(c.watchdog == NULL);
    pid1_config_done(&c);
    return 0;
}

static int test_cmdline_bad(void)
{
    struct pid1_config c;
    struct err e = {0};
    pid1_config_init(&c);
    /* a bad word is reported; the good ones around it still apply */
    CHECK_INT(pid1_config_cmdline(&c, "mgr.cgroup=v1 mgr.cgroup=v9 mgr.supervisor=no", &e),
            -EINVAL);
    CHECK(strstr(e.msg, "invalid value 'v9' for mgr.cgroup") != NULL);
    CHECK_INT(c.cgroup, PID1_CG_V1);
    CHECK(!c.supervisor);
    err_clear(&e);
    CHECK_INT(pid1_config_cmdline(&c, "mgr.bogus=1", &e), -EINVAL);
    CHECK(strstr(e.msg, "unknown key 'mgr.bogus'") != NULL);
    err_clear(&e);
    CHECK_INT(pid1_config_cmdline(&c, "mgr.run=relative/path", &e), -EINVAL);
    CHECK(c.run == NULL);
    /* other subsystems' dotted words are not ours */
    CHECK_INT(pid1_config_cmdline(&c, "systemd.unit=x mgrx.cgroup=v1 rd.break", &e), 0);
    CHECK_INT(c.cgroup, PID1_CG_V1);
    pid1_config_done(&c);
    return 0;
}

static int test_yaml(void)
{
    struct pid1_config c;
    struct err e = {0};
    const char *y = "# appliance\ncgroup: v1\nwatchdog: /dev/watchdog\n"
                    "critical_deadline: 2m\non_critical: stop-petting\nshutdown_timeout: 20s\n";
    pid1_config_init(&c);
    CHECK_INT(pid1_config_yaml(&c, y, strlen(y), &e), 0);
    CHECK_INT(c.cgroup, PID1_CG_V1);
    CHECK_STR(c.watchdog, "/dev/watchdog");
    CHECK_INT(c.critical_deadline_ms, 120000);
    CHECK_INT(c.on_critical, PID1_ACT_NONE);
    CHECK_INT(c.shutdown_timeout_ms, 20000);
    const char *bad = "cgroup: [v1]\n";
    CHECK_INT(pid1_config_yaml(&c, bad, strlen(bad), &e), -EINVAL);
    CHECK(strstr(e.msg, "init.yaml:1") != NULL);
    const char *bad2 = "cgroup: v1\n  - x: [\n";
    CHECK_INT(pid1_config_yaml(&c, bad2, strlen(bad2), &e), -EINVAL);
    const char *bad3 = "on_critical: halt\n";
    CHECK_INT(pid1_config_yaml(&c, bad3, strlen(bad3), &e), -EINVAL);
    pid1_config_done(&c);
    return 0;
}

static int test_state_roundtrip(void)
{
    struct pid1_state a = {123, 0, 5, 30}, b;
    char buf[128];
    CHECK_INT(pid1_state_format(&a, buf, sizeof(buf)), 0);
    CHECK_STR(buf, "sup=123 run=0 wd=5 wdt=30");
    CHECK_INT(pid1_state_parse(buf, &b), 0);
    CHECK_INT(b.sup_pid, 123);
    CHECK_INT(b.run_pid, 0);
    CHECK_INT(b.wd_fd, 5);
    CHECK_INT(b.wd_timeout_s, 30);
    CHECK_INT(pid1_state_parse("sup=1 future=7", &b), 0); /* newer binaries may add words */
    CHECK_INT(b.wd_fd, -1);
    CHECK_INT(pid1_state_parse("sup=x", &b), -EINVAL);
    CHECK_INT(pid1_state_parse("sup", &b), -EINVAL);
    CHECK_INT(pid1_state_format(&a, buf, 8), -ENOBUFS);
    return 0;
}

static int test_signal_action(void)
{
    CHECK_INT(pid1_signal_action(SIGTERM), PID1_ACT_POWEROFF);
    CHECK_INT(pid1_signal_action(SIGPWR), PID1_ACT_POWEROFF);
    CHECK_INT(pid1_signal_action(SIGINT), PID1_ACT_REBOOT);
    CHECK_INT(pid1_signal_action(SIGUSR1), PID1_ACT_REAPPLY);
    CHECK_INT(pid1_signal_action(SIGCHLD), PID1_ACT_REAP);
    CHECK_INT(pid1_signal_action(SIGHUP), PID1_ACT_REEXEC);
    CHECK_INT(pid1_signal_action(SIGWINCH), PID1_ACT_NONE);
    CHECK_STR(pid1_action_name(PID1_ACT_POWEROFF), "poweroff");
    return 0;
}

static bool plan_has(const struct pid1_mount *p, size_t n, const char *target, const char *fs)
{
    for (size_t i = 0; i < n; i++)
        if (STREQ(p[i].target, target) && STREQ(p[i].fstype, fs))
            return true;
    return false;
}

static int test_mount_plan(void)
{
    struct pid1_mount p[32];
    size_t n = pid1_mount_plan(PID1_CG_V2, p, 32);
    CHECK(n >= 8);
    CHECK_STR(p[0].target, "/proc"); /* everything after reads /proc */
    CHECK(plan_has(p, n, "/dev", "devtmpfs"));
    CHECK(plan_has(p, n, "/dev/pts", "devpts"));
    CHECK(plan_has(p, n, "/run", "tmpfs"));
    CHECK(plan_has(p, n, "/sys/fs/cgroup", "cgroup2"));
    CHECK(!plan_has(p, n, "/sys/fs/cgroup/memory", "cgroup"));
    /* /sys before the cgroup mount, /dev before /dev/pts */
    size_t sys = 0, cg = 0, dev = 0, pts = 0;
    for (size_t i = 0; i < n; i++) {
        if (STREQ(p[i].target, "/sys"))
            sys = i;
        if (STREQ(p[i].target, "/sys/fs/cgroup"))
            cg = i;
        if (STREQ(p[i].target, "/dev"))
            dev = i;
        if (STREQ(p[i].target, "/dev/pts"))
            pts = i;
    }
    CHECK(sys < cg && dev < pts);

    n = pid1_mount_plan(PID1_CG_V1, p, 32);
    CHECK(plan_has(p, n, "/sys/fs/cgroup", "tmpfs"));
    CHECK(plan_has(p, n, "/sys/fs/cgroup/memory", "cgroup"));
    CHECK(plan_has(p, n, "/sys/fs/cgroup/pids", "cgroup"));
    CHECK(!plan_has(p, n, "/sys/fs/cgroup", "cgroup2"));

    size_t none = pid1_mount_plan(PID1_CG_NONE, p, 32);
    CHECK(none < n);
    CHECK_INT(pid1_mount_plan(PID1_CG_V2, p, 3), 3); /* bounded by max */
    return 0;
}

static int test_shutdown_phases(void)
{
    CHECK_INT(pid1_shutdown_next(PID1_PH_RUNNING, false, true, true), PID1_PH_STOP_SUPERVISOR);
    /* wait for the supervisor while it stops containers */
    CHECK_INT(pid1_shutdown_next(PID1_PH_STOP_SUPERVISOR, false, true, true),
            PID1_PH_STOP_SUPERVISOR);
    CHECK_INT(pid1_shutdown_next(PID1_PH_STOP_SUPERVISOR, false, false, true), PID1_PH_TERM_ALL);
    CHECK_INT(pid1_shutdown_next(PID1_PH_STOP_SUPERVISOR, true, true, true), PID1_PH_TERM_ALL);
    CHECK_INT(pid1_shutdown_next(PID1_PH_TERM_ALL, false, false, true), PID1_PH_TERM_ALL);
    CHECK_INT(pid1_shutdown_next(PID1_PH_TERM_ALL, false, false, false), PID1_PH_KILL_ALL);
    CHECK_INT(pid1_shutdown_next(PID1_PH_TERM_ALL, true, false, true), PID1_PH_KILL_ALL);
    CHECK_INT(pid1_shutdown_next(PID1_PH_KILL_ALL, false, false, true), PID1_PH_KILL_ALL);
    CHECK_INT(pid1_shutdown_next(PID1_PH_KILL_ALL, true, false, true), PID1_PH_FINAL);
    CHECK_INT(pid1_shutdown_next(PID1_PH_FINAL, true, false, false), PID1_PH_FINAL);
    return 0;
}

static int test_modules_parse(void)
{
    _cleanup_strv_ char **v = NULL;
    CHECK_INT(pid1_modules_parse("# comment\n overlay \n\n; other\nveth\nbridge", &v), 0);
    CHECK_INT(strv_len(v), 3);
    CHECK_STR(v[0], "overlay");
    CHECK_STR(v[1], "veth");
    CHECK_STR(v[2], "bridge");
    _cleanup_strv_ char **empty = NULL;
    CHECK_INT(pid1_modules_parse("", &empty), 0);
    CHECK(empty != NULL && empty[0] == NULL);
    return 0;
}

static int test_load_modules_missing_dir(void)
{
    struct err e = {0};
    CHECK_INT(pid1_load_modules("/nonexistent/mgrt-modules", NULL, NULL, &e), 0);
    return 0;
}

struct mod_report {
    int calls, last_r;
    char last_msg[512];
};
static void on_module(const char *module, int r, const char *msg, void *ud)
{
    struct mod_report *m = ud;
    m->calls++;
    m->last_r = r;
    snprintf(m->last_msg, sizeof(m->last_msg), "%s", msg);
}

/* An unknown module is reported by name and counted; nothing is loaded. */
static int test_load_modules_unknown(void)
{
    char dir[] = "/tmp/mgrt-pid1mod.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    _cleanup_free_ char *p = strdup_printf("%s/test.conf", dir);
    _cleanup_free_ char *q = strdup_printf("%s/ignored.txt", dir);
    FILE *f = fopen(p, "w");
    fputs("# none of these exist\nmgrt_no_such_module\n", f);
    fclose(f);
    f = fopen(q, "w");
    fputs("overlay\n", f); /* not a .conf file: never read */
    fclose(f);
    struct mod_report m = {0};
    struct err e = {0};
    int r = pid1_load_modules(dir, on_module, &m, &e);
    unlink(p);
    unlink(q);
    rmdir(dir);
    CHECK_INT(r, 1);
    CHECK_INT(m.calls, 1);
    CHECK_INT(m.last_r, -ENOENT);
    CHECK(strstr(m.last_msg, "module 'mgrt_no_such_module' not found") != NULL);
    return 0;
}

static void count_reaped(pid_t pid, int status, void *ud)
{
    (*(int *)ud)++;
}

static int test_reap_orphans(void)
{
    /* As a subreaper we get orphans like PID 1 does: a child forks a grandchild and exits. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        SKIP("PR_SET_CHILD_SUBREAPER unavailable");
    pid_t c = fork();
    if (c == 0) {
        if (fork() == 0) {
            usleep(50000);
            _exit(3);
        }
        _exit(0);
    }
    int n = 0;
    for (int i = 0; i < 200 && n < 2; i++) {
        pid1_reap(count_reaped, &n);
        usleep(10000);
    }
    CHECK_INT(n, 2);
    CHECK(!pid1_has_children());
    CHECK_INT(pid1_reap(count_reaped, &n), 0);
    return 0;
}

static int test_hostname_file(void)
{
    char dir[] = "/tmp/mgrt-pid1.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    _cleanup_free_ char *p = strdup_printf("%s/hostname", dir);
    struct err e = {0};
    CHECK_INT(pid1_set_hostname("/nonexistent/mgrt/hostname", NULL, &e), -ENOENT);
    FILE *f = fopen(p, "w");
    fputs("# comment\n\nbad host name\n", f);
    fclose(f);
    CHECK_INT(pid1_set_hostname(p, NULL, &e), -EINVAL);
    CHECK(strstr(e.msg, "invalid hostname 'bad host name'") != NULL);
    unlink(p);
    rmdir(dir);
    return 0;
}

/* In a child in its own mount namespace: mounting a plan entry mounts once, the second apply
 * sees the mount point and does nothing. */
static int test_mount_apply_idempotent(void)
{
    if (geteuid() != 0)
        SKIP("needs root (mount)");
    char dir[] = "/tmp/mgrt-pid1m.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    pid_t c = fork();
    if (c == 0) {
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
            _exit(77);
        char target[64];
        snprintf(target, sizeof(target), "%s/sub/run", dir);
        struct pid1_mount m = {"tmpfs", target, "tmpfs", "mode=0755", MS_NOSUID, false};
        struct err e = {0};
        if (pid1_mount_apply(&m, &e) != 0)
            _exit(1);
        if (pid1_mount_apply(&m, &e) != 1)
            _exit(2);
        struct pid1_mount bad = {"mgrt", target, "nosuchfs", NULL, 0, false};
        umount2(target, 0);
        if (pid1_mount_apply(&bad, &e) != -ENODEV || !strstr(e.msg, "mount nosuchfs on"))
            _exit(3);
        _exit(0);
    }
    int st = 0;
    CHECK(waitpid(c, &st, 0) == c);
    char sub[64];
    snprintf(sub, sizeof(sub), "%s/sub/run", dir);
    rmdir(sub);
    snprintf(sub, sizeof(sub), "%s/sub", dir);
    rmdir(sub);
    rmdir(dir);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
        SKIP("no mount namespace");
    CHECK_INT(WEXITSTATUS(st), 0);
    return 0;
}

static struct unit *mk(const char *name, uint64_t stop_ms, const char *dep)
{
    struct unit *u = calloc(1, sizeof(*u));
    u->kind = UNIT_CONTAINER;
    u->name = strdup(name);
    u->stop.timeout_ms = stop_ms;
    if (dep) {
        u->deps = calloc(1, sizeof(*u->deps));
        u->deps[0].name = strdup(dep);
        u->n_deps = 1;
    }
    return u;
}

static int test_shutdown_budget(void)
{
    /* web -> app -> db (web depends on app, app on db): stopped web, app, db in sequence;
     * cron is independent and stops in parallel. */
    struct unit *v[] = {mk("db", 10000, NULL), mk("app", 3000, "db"), mk("web", 2000, "app"),
            mk("cron", 12000, NULL)};
    struct unit_set set = {v, 4};
    CHECK_INT(pid1_shutdown_budget_ms(&set, 0), 15000 + 5000); /* chain beats cron's 12 s */
    CHECK_INT(pid1_shutdown_budget_ms(&set, 60000), 60000);    /* at least min */
    v[3]->stop.timeout_ms = 30000;
    CHECK_INT(pid1_shutdown_budget_ms(&set, 0), 35000);
    /* a dependency cycle (refused by unit_check_set, but PID 1 must still terminate) */
    free(v[0]->deps);
    v[0]->deps = calloc(1, sizeof(*v[0]->deps));
    v[0]->deps[0].name = strdup("web");
    v[0]->n_deps = 1;
    CHECK(pid1_shutdown_budget_ms(&set, 0) > 0);
    CHECK_INT(pid1_shutdown_budget_ms(NULL, 7), 5000); /* margin only */
    for (size_t i = 0; i < 4; i++)
        unit_free(v[i]);
    return 0;
}

static int test_critical_watch(void)
{
    struct pid1_crit_watch w = {0};
    pid1_crit_update(&w, "web", false, 1000);
    CHECK(pid1_crit_expired(&w, 100000, 5000) == NULL);
    pid1_crit_update(&w, "web", true, 2000);
    pid1_crit_update(&w, "web", true, 4000); /* still bad: since 2000 */
    CHECK(pid1_crit_expired(&w, 6999, 5000) == NULL);
    CHECK_STR(pid1_crit_expired(&w, 7000, 5000), "web");
    pid1_crit_update(&w, "web", false, 7100); /* recovered: clock resets */
    CHECK(pid1_crit_expired(&w, 20000, 5000) == NULL);
    pid1_crit_update(&w, "(supervisor)", true, 8000);
    CHECK_STR(pid1_crit_expired(&w, 13000, 5000), "(supervisor)");
    CHECK_INT(w.n, 2);
    CHECK(pid1_crit_is_bad("failed", "none"));
    CHECK(pid1_crit_is_bad("backoff", NULL));
    CHECK(pid1_crit_is_bad("running", "unhealthy"));
    CHECK(pid1_crit_is_bad(NULL, NULL));
    CHECK(!pid1_crit_is_bad("running", "healthy"));
    CHECK(!pid1_crit_is_bad("stopped", "none")); /* stopped on purpose */
    CHECK(!pid1_crit_is_bad("starting", "starting"));
    return 0;
}

int main(void)
{
    RUN(test_config_defaults);
    RUN(test_cmdline);
    RUN(test_cmdline_bad);
    RUN(test_yaml);
    RUN(test_signal_action);
    RUN(test_state_roundtrip);
    RUN(test_mount_plan);
    RUN(test_shutdown_phases);
    RUN(test_modules_parse);
    RUN(test_load_modules_missing_dir);
    RUN(test_load_modules_unknown);
    RUN(test_reap_orphans);
    RUN(test_hostname_file);
    RUN(test_mount_apply_idempotent);
    RUN(test_shutdown_budget);
    RUN(test_critical_watch);
    return HARNESS_END();
}

/* PID 1 duties: boot mounts, initramfs root switch, hostname, lo, kernel modules, reaping,
 * final shutdown, hardware watchdog, emergency mode. Effects are thin; the decisions (config,
 * signal mapping, mount plan, shutdown phases) are pure functions tested in test_pid1.c. */
#include "pid1.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/watchdog.h>

#include <dlfcn.h>
#include <libkmod.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <yaml.h>

#include "unit.h"
#include "util.h"

/* ---- configuration (pure) ---- */

void pid1_config_init(struct pid1_config *c)
{
    *c = (struct pid1_config){
            .cgroup = PID1_CG_V2,
            .watchdog_timeout_s = 30,
            .critical_deadline_ms = 60000,
            .on_critical = PID1_ACT_REBOOT,
            .supervisor = true,
            .run_action = PID1_ACT_NONE,
    };
}

void pid1_config_done(struct pid1_config *c)
{
    free(c->watchdog);
    free(c->run);
    pid1_config_init(c);
}

static int parse_bool(const char *v, bool *ret)
{
    static const char *yes[] = {"1", "yes", "true", "on"};
    static const char *no[] = {"0", "no", "false", "off"};
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    }
    return -EINVAL;
}

static int parse_action(const char *v, enum pid1_action *ret)
{
    static const struct {
        const char *name;
        enum pid1_action a;
    } t[] = {{"poweroff", PID1_ACT_POWEROFF}, {"reboot", PID1_ACT_REBOOT},
            {"halt", PID1_ACT_HALT}, {"none", PID1_ACT_NONE}, {"stop-petting", PID1_ACT_NONE}};
    for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
        if (STREQ(v, t[i].name)) {
            *ret = t[i].a;
            return 0;
        }
    }
    return -EINVAL;
}

static int set_str(char **p, const char *v)
{
    char *s = strdup(v);
    if (!s)
        return -ENOMEM;
    free(*p);
    *p = s;
    return 0;
}

/* Applies one key=value (key without the "mgr." prefix). */
static int config_set(struct pid1_config *c, const char *key, const char *v, const char *where,
        struct err *err)
{
    int r = 0;
    uint64_t u;

    if (STREQ(key, "cgroup")) {
        if (STREQ(v, "v2") || STREQ(v, "2") || STREQ(v, "unified"))
            c->cgroup = PID1_CG_V2;
        else if (STREQ(v, "v1") || STREQ(v, "1") || STREQ(v, "legacy"))
            c->cgroup = PID1_CG_V1;
        else if (STREQ(v, "none"))
            c->cgroup = PID1_CG_NONE;
        else
            r = -EINVAL;
    } else if (STREQ(key, "watchdog")) {
        if (STREQ(v, "") || STREQ(v, "0") || STREQ(v, "no") || STREQ(v, "off")) {
            free(c->watchdog);
            c->watchdog = NULL;
        } else if (v[0] != '/')
            r = -EINVAL;
        else
            r = set_str(&c->watchdog, v);
    } else if (STREQ(key, "watchdog_timeout")) {
        r = parse_duration_ms(v, &u);
        if (r == 0 && (u < 1000 || u > 3600 * 1000))
            r = -ERANGE;
        if (r == 0)
            c->watchdog_timeout_s = u / 1000;
    } else if (STREQ(key, "critical_deadline")) {
        r = parse_duration_ms(v, &u);
        if (r == 0)
            c->critical_deadline_ms = u;
    } else if (STREQ(key, "shutdown_timeout")) {
        r = parse_duration_ms(v, &u);
        if (r == 0)
            c->shutdown_timeout_ms = u;
    } else if (STREQ(key, "on_critical")) {
        r = parse_action(v, &c->on_critical);
        if (r == 0 && c->on_critical == PID1_ACT_HALT)
            r = -EINVAL;
    } else if (STREQ(key, "supervisor")) {
        r = parse_bool(v, &c->supervisor);
    } else if (STREQ(key, "debug")) {
        r = parse_bool(v, &c->debug);
    } else if (STREQ(key, "run")) {
        if (v[0] != '/')
            r = -EINVAL;
        else
            r = set_str(&c->run, v);
    } else if (STREQ(key, "run_action")) {
        r = parse_action(v, &c->run_action);
    } else {
        return err_setx(err, EINVAL, "%s: unknown key 'mgr.%s'", where, key);
    }
    if (r == -ENOMEM)
        return err_set(err, ENOMEM, "%s: mgr.%s", where, key);
    if (r < 0)
        return err_setx(err, EINVAL, "%s: invalid value '%s' for mgr.%s", where, v, key);
    return 0;
}

int pid1_config_cmdline(struct pid1_config *c, const char *cmdline, struct err *err)
{
    int ret = 0;
    const char *p = cmdline;

    while (*p) {
        /* Words are split at blanks; double quotes group (the kernel's next_arg rule). */
        char word[1024];
        size_t n = 0;
        bool quoted = false;
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        while (*p && (quoted || !isspace((unsigned char)*p))) {
            if (*p == '"')
                quoted = !quoted;
            else if (n + 1 < sizeof(word))
                word[n++] = *p;
            p++;
        }
        word[n] = '\0';
        if (strncmp(word, "mgr.", 4) != 0)
            continue;
        char *eq = strchr(word, '=');
        const char *v = "1"; /* a bare "mgr.debug" means on */
        if (eq) {
            *eq = '\0';
            v = eq + 1;
        }
        int r = config_set(c, word + 4, v, "kernel command line", err);
        if (r == -ENOMEM)
            return r;
        if (r < 0)
            ret = r;
    }
    return ret;
}

int pid1_config_yaml(struct pid1_config *c, const char *text, size_t len, struct err *err)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    int ret = 0, depth = 0;
    char *key = NULL;
    bool done = false;

    if (!yaml_parser_initialize(&parser))
        return err_set(err, ENOMEM, "%s", PID1_INIT_YAML);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    /* A flat mapping of scalar keys to scalar values; anything else is an error. */
    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            ret = err_setx(err, EINVAL, "%s:%zu:%zu: %s", PID1_INIT_YAML,
                    parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                    parser.problem ? parser.problem : "parse error");
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_MAPPING_START_EVENT:
            if (++depth > 1)
                ret = err_setx(err, EINVAL, "%s:%zu: nested mapping not allowed",
                        PID1_INIT_YAML, ev.start_mark.line + 1);
            break;
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_ALIAS_EVENT:
            ret = err_setx(err, EINVAL, "%s:%zu: only 'key: value' pairs are allowed",
                    PID1_INIT_YAML, ev.start_mark.line + 1);
            break;
        case YAML_SCALAR_EVENT: {
            const char *s = (const char *)ev.data.scalar.value;
            if (depth != 1) {
                ret = err_setx(err, EINVAL, "%s:%zu: expected a mapping", PID1_INIT_YAML,
                        ev.start_mark.line + 1);
            } else if (!key) {
                key = strdup(s);
                if (!key)
                    ret = err_set(err, ENOMEM, "%s", PID1_INIT_YAML);
            } else {
                char where[64];
                snprintf(where, sizeof(where), "%s:%zu", PID1_INIT_YAML,
                        ev.start_mark.line + 1);
                int r = config_set(c, key, s, where, err);
                if (r < 0)
                    ret = r;
                free(key);
                key = NULL;
            }
            break;
        }
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (ret < 0)
            break;
    }
    free(key);
    yaml_parser_delete(&parser);
    return ret;
}

enum pid1_action pid1_signal_action(int sig)
{
    switch (sig) {
    case SIGTERM:
    case SIGPWR:
        return PID1_ACT_POWEROFF;
    case SIGINT: /* Ctrl-Alt-Del once reboot(RB_DISABLE_CAD) is set */
        return PID1_ACT_REBOOT;
    case SIGUSR2:
        return PID1_ACT_HALT;
    case SIGUSR1:
        return PID1_ACT_REAPPLY;
    case SIGCHLD:
        return PID1_ACT_REAP;
    case SIGHUP:
        return PID1_ACT_REEXEC;
    default:
        return PID1_ACT_NONE;
    }
}

const char *pid1_action_name(enum pid1_action a)
{
    static const char *names[] = {
            [PID1_ACT_NONE] = "none",
            [PID1_ACT_POWEROFF] = "poweroff",
            [PID1_ACT_REBOOT] = "reboot",
            [PID1_ACT_HALT] = "halt",
            [PID1_ACT_REAPPLY] = "re-apply",
            [PID1_ACT_REAP] = "reap",
            [PID1_ACT_REEXEC] = "re-execute",
    };
    return (unsigned)a < ARRAY_SIZE(names) ? names[a] : "?";
}

int pid1_state_format(const struct pid1_state *s, char *buf, size_t len)
{
    int n = snprintf(buf, len, "sup=%d run=%d wd=%d wdt=%llu", (int)s->sup_pid, (int)s->run_pid,
            s->wd_fd, (unsigned long long)s->wd_timeout_s);
    return n < 0 || (size_t)n >= len ? -ENOBUFS : 0;
}

int pid1_state_parse(const char *text, struct pid1_state *ret)
{
    struct pid1_state s = {.wd_fd = -1};
    const char *p = text;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        char word[64];
        size_t n = strcspn(p, " ");
        if (n >= sizeof(word))
            return -EINVAL;
        memcpy(word, p, n);
        word[n] = '\0';
        p += n;
        char *eq = strchr(word, '=');
        if (!eq)
            return -EINVAL;
        *eq = '\0';
        int64_t v;
        if (parse_int64(eq + 1, &v) < 0 || v < -1 || v > INT32_MAX)
            return -EINVAL;
        if (STREQ(word, "sup"))
            s.sup_pid = v > 0 ? (pid_t)v : 0;
        else if (STREQ(word, "run"))
            s.run_pid = v > 0 ? (pid_t)v : 0;
        else if (STREQ(word, "wd"))
            s.wd_fd = v >= 0 ? (int)v : -1;
        else if (STREQ(word, "wdt"))
            s.wd_timeout_s = v > 0 ? (uint64_t)v : 0;
    }
    *ret = s;
    return 0;
}

enum pid1_phase pid1_shutdown_next(enum pid1_phase phase, bool deadline_passed,
        bool supervisor_alive, bool any_children)
{
    switch (phase) {
    case PID1_PH_RUNNING:
        return PID1_PH_STOP_SUPERVISOR;
    case PID1_PH_STOP_SUPERVISOR:
        /* The supervisor stops containers in order; give it until its deadline. */
        return (!supervisor_alive || deadline_passed) ? PID1_PH_TERM_ALL : phase;
    case PID1_PH_TERM_ALL:
        return (!any_children || deadline_passed) ? PID1_PH_KILL_ALL : phase;
    case PID1_PH_KILL_ALL:
        return (!any_children || deadline_passed) ? PID1_PH_FINAL : phase;
    case PID1_PH_FINAL:
    default:
        return PID1_PH_FINAL;
    }
}

/* Longest stop chain ending at unit i: its own timeout plus the longest chain of the units
 * that depend on it (they are stopped first). depth guards against cycles (the set checks
 * refuse them, but PID 1 must not loop on anything). */
static uint64_t stop_chain_ms(const struct unit_set *set, size_t i, unsigned depth)
{
    const struct unit *u = set->units[i];
    uint64_t own = u->kind == UNIT_CONTAINER ? u->stop.timeout_ms : 0, worst = 0;
    if (depth > 64)
        return own;
    for (size_t j = 0; j < set->n; j++) {
        const struct unit *d = set->units[j];
        for (size_t k = 0; k < d->n_deps; k++) {
            if (d->deps[k].name && STREQ(d->deps[k].name, u->name)) {
                uint64_t c = stop_chain_ms(set, j, depth + 1);
                if (c > worst)
                    worst = c;
            }
        }
    }
    return own + worst;
}

uint64_t pid1_shutdown_budget_ms(const struct unit_set *set, uint64_t min_ms)
{
    uint64_t worst = 0;
    for (size_t i = 0; set && i < set->n; i++) {
        uint64_t c = stop_chain_ms(set, i, 0);
        if (c > worst)
            worst = c;
    }
    /* Margin for the supervisor's own work (cgroup and network teardown). */
    worst += 5000;
    return worst < min_ms ? min_ms : worst;
}

void pid1_crit_update(struct pid1_crit_watch *w, const char *name, bool bad, uint64_t now)
{
    struct pid1_crit *c = NULL;
    for (size_t i = 0; i < w->n; i++)
        if (STREQ(w->v[i].name, name))
            c = &w->v[i];
    if (!c) {
        if (w->n >= PID1_CRIT_MAX)
            return;
        c = &w->v[w->n++];
        snprintf(c->name, sizeof(c->name), "%s", name);
        c->bad_since_ms = 0;
    }
    if (!bad)
        c->bad_since_ms = 0;
    else if (c->bad_since_ms == 0)
        c->bad_since_ms = now ? now : 1;
}

const char *pid1_crit_expired(const struct pid1_crit_watch *w, uint64_t now,
        uint64_t deadline_ms)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->v[i].bad_since_ms && now >= w->v[i].bad_since_ms + deadline_ms)
            return w->v[i].name;
    return NULL;
}

bool pid1_crit_is_bad(const char *state, const char *health)
{
    if (!state)
        return true;
    if (STREQ(state, "failed") || STREQ(state, "backoff") || STREQ(state, "exited") ||
            STREQ(state, "inactive") || STREQ(state, "waiting"))
        return true;
    return health && STREQ(health, "unhealthy");
}

/* ---- boot mounts ---- */

#define NOSUID_NODEV_NOEXEC (MS_NOSUID | MS_NODEV | MS_NOEXEC)

size_t pid1_mount_plan(enum pid1_cgroup cg, struct pid1_mount *out, size_t max)
{
    static const struct pid1_mount base[] = {
            {"proc", "/proc", "proc", NULL, NOSUID_NODEV_NOEXEC, false},
            {"sysfs", "/sys", "sysfs", NULL, NOSUID_NODEV_NOEXEC, false},
            {"devtmpfs", "/dev", "devtmpfs", "mode=0755", MS_NOSUID, false},
            {"devpts", "/dev/pts", "devpts", "mode=0620,gid=5,ptmxmode=0666",
                    MS_NOSUID | MS_NOEXEC, true},
            {"tmpfs", "/dev/shm", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV, true},
            {"mqueue", "/dev/mqueue", "mqueue", NULL, NOSUID_NODEV_NOEXEC, true},
            {"tmpfs", "/run", "tmpfs", "mode=0755", MS_NOSUID | MS_NODEV, false},
    };
    static const struct pid1_mount v2[] = {
            {"cgroup2", "/sys/fs/cgroup", "cgroup2", "nsdelegate", NOSUID_NODEV_NOEXEC, false},
    };
    /* v1: one hierarchy per controller at /sys/fs/cgroup/<name>, as core/cgroup_v1 expects;
     * controllers the kernel lacks fail and are skipped (optional). */
    static const struct pid1_mount v1[] = {
            {"tmpfs", "/sys/fs/cgroup", "tmpfs", "mode=0755", NOSUID_NODEV_NOEXEC, false},
            {"cgroup", "/sys/fs/cgroup/cpu", "cgroup", "cpu", NOSUID_NODEV_NOEXEC, true},
            {"cgroup", "/sys/fs/cgroup/cpuacct", "cgroup", "cpuacct", NOSUID_NODEV_NOEXEC,
                    true},
            {"cgroup", "/sys/fs/cgroup/cpuset", "cgroup", "cpuset", NOSUID_NODEV_NOEXEC, true},
            {"cgroup", "/sys/fs/cgroup/memory", "cgroup", "memory", NOSUID_NODEV_NOEXEC, true},
            {"cgroup", "/sys/fs/cgroup/pids", "cgroup", "pids", NOSUID_NODEV_NOEXEC, true},
            {"cgroup", "/sys/fs/cgroup/devices", "cgroup", "devices", NOSUID_NODEV_NOEXEC,
                    true},
            {"cgroup", "/sys/fs/cgroup/freezer", "cgroup", "freezer", NOSUID_NODEV_NOEXEC,
                    true},
            {"cgroup", "/sys/fs/cgroup/blkio", "cgroup", "blkio", NOSUID_NODEV_NOEXEC, true},
            {"cgroup", "/sys/fs/cgroup/hugetlb", "cgroup", "hugetlb", NOSUID_NODEV_NOEXEC,
                    true},
            {"cgroup", "/sys/fs/cgroup/net_cls", "cgroup", "net_cls", NOSUID_NODEV_NOEXEC,
                    true},
            {"cgroup", "/sys/fs/cgroup/perf_event", "cgroup", "perf_event",
                    NOSUID_NODEV_NOEXEC, true},
    };
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_SIZE(base); i++)
        if (n < max)
            out[n++] = base[i];
    const struct pid1_mount *extra = cg == PID1_CG_V2 ? v2 : cg == PID1_CG_V1 ? v1 : NULL;
    size_t n_extra = cg == PID1_CG_V2 ? ARRAY_SIZE(v2) : cg == PID1_CG_V1 ? ARRAY_SIZE(v1) : 0;
    for (size_t i = 0; i < n_extra; i++)
        if (n < max)
            out[n++] = extra[i];
    return n;
}

/* True if path is the root of a mount (statx STATX_ATTR_MOUNT_ROOT, else st_dev compare). */
static bool is_mount_point(const char *path)
{
    struct statx sx;
    if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) < 0)
        return false;
    if (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
        return (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
    char parent[PATH_MAX];
    struct stat a, b;
    snprintf(parent, sizeof(parent), "%s/..", path);
    if (stat(path, &a) < 0 || stat(parent, &b) < 0)
        return false;
    return a.st_dev != b.st_dev;
}

int pid1_mount_apply(const struct pid1_mount *m, struct err *err)
{
    if (is_mount_point(m->target))
        return 1;
    /* mkdir_p fails with EROFS etc. on a read-only root; let mount report the real cause. */
    (void)mkdir_p(m->target, 0755);
    if (mount(m->source, m->target, m->fstype, m->flags, m->data) < 0)
        return err_set(err, errno, "mount %s on %s", m->fstype, m->target);
    return 0;
}

/* ---- initramfs ---- */

bool pid1_is_machine_init(void)
{
    struct stat st;
    /* PROC_PID_INIT_INO: the inode number the kernel gives the initial PID namespace. */
    if (stat("/proc/self/ns/pid", &st) < 0)
        return true;
    return st.st_ino == 0xEFFFFFFCU;
}

#define SWITCH_DIR "/.mgr-root"

bool pid1_root_is_initramfs(void)
{
    struct statfs sf;
    if (statfs("/", &sf) < 0)
        return false;
    if ((unsigned long)sf.f_type != RAMFS_MAGIC && (unsigned long)sf.f_type != TMPFS_MAGIC)
        return false;
    /* After pid1_leave_initramfs the root is a bind mount of the same rootfs: it is a mount
     * root whose parent is a different mount, which "/.." cannot tell; /proc can. Without
     * /proc (early boot) the initial rootfs is the only case a ramfs/tmpfs root occurs. */
    _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return true;
    char line[4096];
    while (fgets(line, sizeof(line), f)) {
        int id, parent;
        char root[PATH_MAX], mp[PATH_MAX];
        if (sscanf(line, "%d %d %*s %4095s %4095s", &id, &parent, root, mp) != 4)
            continue;
        if (STREQ(mp, "/"))
            return id == parent || strstr(line, " - rootfs ") != NULL;
    }
    return false;
}

int pid1_leave_initramfs(struct err *err)
{
    /* The initial rootfs can never be unmounted or pivoted away from (pivot_root(2):
     * EINVAL when the current root is the rootfs), which breaks every container runtime that
     * uses pivot_root. Binding the rootfs onto a directory of itself and moving that bind
     * over / (switch_root's MS_MOVE + chroot, without switching to different files) gives a
     * root mount with a parent: the same files, pid 1 kept, nothing copied. */
    if (mkdir(SWITCH_DIR, 0700) < 0 && errno != EEXIST)
        return err_set(err, errno, "mkdir %s", SWITCH_DIR);
    if (mount("/", SWITCH_DIR, NULL, MS_BIND | MS_REC, NULL) < 0)
        return err_set(err, errno, "bind / on %s", SWITCH_DIR);
    if (chdir(SWITCH_DIR) < 0)
        return err_set(err, errno, "chdir %s", SWITCH_DIR);
    if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
        return err_set(err, errno, "move %s to /", SWITCH_DIR);
    if (chroot(".") < 0)
        return err_set(err, errno, "chroot %s", SWITCH_DIR);
    if (chdir("/") < 0)
        return err_set(err, errno, "chdir /");
    /* The directory is visible again (nothing is mounted on it in the new root). */
    (void)rmdir(SWITCH_DIR);
    return 0;
}

/* ---- hostname, lo ---- */

static bool hostname_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[0] == '-' || s[0] == '.')
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
            return false;
    return true;
}

int pid1_set_hostname(const char *path, char **ret_name, struct err *err)
{
    _cleanup_free_ char *text = NULL;
    int r = read_file_at(AT_FDCWD, path, 4096, &text, NULL);
    if (r == -ENOENT)
        return r;
    if (r < 0)
        return err_set(err, -r, "read %s", path);
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
            line = strtok_r(NULL, "\n", &save)) {
        while (isspace((unsigned char)*line))
            line++;
        char *e = line + strlen(line);
        while (e > line && isspace((unsigned char)e[-1]))
            *--e = '\0';
        if (!*line || *line == '#')
            continue;
        if (!hostname_valid(line))
            return err_setx(err, EINVAL, "%s: invalid hostname '%s'", path, line);
        if (sethostname(line, strlen(line)) < 0)
            return err_set(err, errno, "sethostname '%s'", line);
        if (ret_name) {
            *ret_name = strdup(line);
            if (!*ret_name)
                return err_set(err, ENOMEM, "hostname");
        }
        return 0;
    }
    return err_setx(err, EINVAL, "%s: no hostname in file", path);
}

static int nl_to_errno(int nle)
{
    switch (-nle) {
    case NLE_NOMEM: return ENOMEM;
    case NLE_PERM: return EPERM;
    case NLE_OBJ_NOTFOUND: return ENODEV;
    case NLE_NODEV: return ENODEV;
    case NLE_BUSY: return EBUSY;
    case NLE_INVAL: return EINVAL;
    default: return EIO;
    }
}

int pid1_lo_up(struct err *err)
{
    struct nl_sock *sk = nl_socket_alloc();
    struct rtnl_link *link = NULL, *change = NULL;
    int r;

    if (!sk)
        return err_set(err, ENOMEM, "bring lo up: netlink socket");
    r = nl_connect(sk, NETLINK_ROUTE);
    if (r < 0) {
        r = err_setx(err, nl_to_errno(r), "bring lo up: connect rtnetlink: %s", nl_geterror(r));
        goto out;
    }
    r = rtnl_link_get_kernel(sk, 0, "lo", &link);
    if (r < 0) {
        r = err_setx(err, nl_to_errno(r), "bring lo up: get link: %s", nl_geterror(r));
        goto out;
    }
    change = rtnl_link_alloc();
    if (!change) {
        r = err_set(err, ENOMEM, "bring lo up");
        goto out;
    }
    rtnl_link_set_flags(change, IFF_UP);
    r = rtnl_link_change(sk, link, change, 0);
    if (r < 0)
        r = err_setx(err, nl_to_errno(r), "bring lo up: change link: %s", nl_geterror(r));
out:
    if (change)
        rtnl_link_put(change);
    if (link)
        rtnl_link_put(link);
    nl_socket_free(sk);
    return r < 0 ? r : 0;
}

/* ---- kernel modules ---- */

int pid1_modules_parse(const char *text, char ***ret)
{
    _cleanup_strv_ char **v = NULL;
    const char *p = text;
    while (*p) {
        const char *nl = strchrnul(p, '\n');
        const char *b = p, *e = nl;
        while (b < e && isspace((unsigned char)*b))
            b++;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        if (b < e && *b != '#' && *b != ';') {
            char name[256];
            size_t n = (size_t)(e - b);
            if (n >= sizeof(name))
                n = sizeof(name) - 1;
            memcpy(name, b, n);
            name[n] = '\0';
            if (strv_push(&v, name) < 0)
                return -ENOMEM;
        }
        p = *nl ? nl + 1 : nl;
    }
    if (!v) {
        v = calloc(1, sizeof(char *));
        if (!v)
            return -ENOMEM;
    }
    *ret = TAKE_PTR(v);
    return 0;
}

static void kmod_quiet(void *data, int priority, const char *file, int line, const char *fn,
        const char *format, va_list args)
{
    /* libkmod's own messages would go to stderr; our caller reports per module. */
}

/* libkmod is opened with dlopen() when the first module is loaded, not linked: only PID 1
 * loads modules, and linking it made every mgr invocation (mgr run, each CLI call, the
 * daemon) load and relocate libkmod's libcrypto, ~0.8 ms of start-up and 1.5 MiB of RSS. */
static struct {
    void *dl;
    __typeof__(kmod_new) *new_;
    __typeof__(kmod_unref) *unref;
    __typeof__(kmod_set_log_fn) *set_log_fn;
    __typeof__(kmod_load_resources) *load_resources;
    __typeof__(kmod_module_new_from_lookup) *new_from_lookup;
    __typeof__(kmod_list_next) *list_next;
    __typeof__(kmod_module_get_module) *get_module;
    __typeof__(kmod_module_get_initstate) *get_initstate;
    __typeof__(kmod_module_probe_insert_module) *probe_insert;
    __typeof__(kmod_module_get_name) *get_name;
    __typeof__(kmod_module_get_path) *get_path;
    __typeof__(kmod_module_unref) *module_unref;
    __typeof__(kmod_module_unref_list) *unref_list;
} K;

static int kmod_open(struct err *err)
{
    if (K.dl)
        return 0;
    void *dl = dlopen("libkmod.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!dl)
        return err_setx(err, ENOENT, "libkmod: %s", dlerror());
#define SYM(field, name)                                                                          \
    do {                                                                                          \
        *(void **)&K.field = dlsym(dl, #name);                                                    \
        if (!K.field) {                                                                           \
            dlclose(dl);                                                                          \
            return err_setx(err, ENOSYS, "libkmod: no symbol %s", #name);                         \
        }                                                                                         \
    } while (0)
    SYM(new_, kmod_new);
    SYM(unref, kmod_unref);
    SYM(set_log_fn, kmod_set_log_fn);
    SYM(load_resources, kmod_load_resources);
    SYM(new_from_lookup, kmod_module_new_from_lookup);
    SYM(list_next, kmod_list_next);
    SYM(get_module, kmod_module_get_module);
    SYM(get_initstate, kmod_module_get_initstate);
    SYM(probe_insert, kmod_module_probe_insert_module);
    SYM(get_name, kmod_module_get_name);
    SYM(get_path, kmod_module_get_path);
    SYM(module_unref, kmod_module_unref);
    SYM(unref_list, kmod_module_unref_list);
#undef SYM
    K.dl = dl;
    return 0;
}

/* PID 1 loads modules once, at boot: then libkmod goes again, and for a static mgr the
 * libc.so and libcrypto it brought along (~0.9 MiB of PID 1's RSS). A later lookup (mgr
 * doctor) opens it anew. */
static void kmod_close(void)
{
    if (K.dl)
        dlclose(K.dl);
    memset(&K, 0, sizeof(K));
}

int pid1_module_loadable(const char *name)
{
    if (kmod_open(NULL) < 0)
        return -ENOENT;
    struct kmod_ctx *ctx = K.new_(NULL, NULL);
    if (!ctx)
        return -ENOMEM;
    K.set_log_fn(ctx, kmod_quiet, NULL);
    struct kmod_list *list = NULL;
    int found = 0;
    if (K.new_from_lookup(ctx, name, &list) == 0) {
        for (struct kmod_list *it = list; it; it = K.list_next(list, it)) {
            struct kmod_module *mod = K.get_module(it);
            if (K.get_path(mod))
                found = 1;
            K.module_unref(mod);
        }
        K.unref_list(list);
    }
    K.unref(ctx);
    return found;
}

/* Loads one module and its dependencies; returns 0 or -errno with msg filled. */
static int load_one(struct kmod_ctx *ctx, const char *name, char *msg, size_t msglen)
{
    struct kmod_list *list = NULL, *it;
    int r = K.new_from_lookup(ctx, name, &list);
    if (r < 0) {
        snprintf(msg, msglen, "module '%s': lookup: %s", name, strerror(-r));
        return r;
    }
    if (!list) {
        snprintf(msg, msglen, "module '%s' not found in /lib/modules", name);
        return -ENOENT;
    }
    int ret = 0;
    for (it = list; it; it = K.list_next(list, it)) {
        struct kmod_module *mod = K.get_module(it);
        int state = K.get_initstate(mod);
        if (state == KMOD_MODULE_BUILTIN || state == KMOD_MODULE_LIVE) {
            K.module_unref(mod);
            continue;
        }
        /* IGNORE_COMMAND: never run modprobe.d "install" shell commands from PID 1. */
        r = K.probe_insert(mod, KMOD_PROBE_IGNORE_COMMAND | KMOD_PROBE_APPLY_BLACKLIST, NULL,
                NULL, NULL, NULL);
        if (r < 0 && r != -EEXIST) {
            snprintf(msg, msglen, "module '%s': insert %s: %s", name, K.get_name(mod),
                    strerror(-r));
            ret = r;
        } else if (r > 0) {
            /* Positive: blacklisted (KMOD_PROBE_APPLY_BLACKLIST). */
            snprintf(msg, msglen, "module '%s' is blacklisted", name);
            ret = -EPERM;
        }
        K.module_unref(mod);
    }
    K.unref_list(list);
    return ret;
}

static int conf_filter(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 5 && STREQ(d->d_name + n - 5, ".conf");
}

int pid1_load_modules(const char *dir, pid1_module_fn fn, void *userdata, struct err *err)
{
    struct dirent **ents = NULL;
    int n = scandir(dir, &ents, conf_filter, alphasort);
    if (n < 0) {
        if (errno == ENOENT)
            return 0;
        return err_set(err, errno, "scan %s", dir);
    }
    struct kmod_ctx *ctx = NULL;
    int failed = 0;
    for (int i = 0; i < n; i++) {
        _cleanup_free_ char *path = strdup_printf("%s/%s", dir, ents[i]->d_name);
        _cleanup_free_ char *text = NULL;
        _cleanup_strv_ char **names = NULL;
        char msg[512];
        int r = path ? read_file_at(AT_FDCWD, path, 65536, &text, NULL) : -ENOMEM;
        if (r >= 0)
            r = pid1_modules_parse(text, &names);
        if (r < 0) {
            snprintf(msg, sizeof(msg), "read %s: %s", path ? path : dir, strerror(-r));
            if (fn)
                fn(ents[i]->d_name, r, msg, userdata);
            failed++;
            continue;
        }
        for (char **m = names; *m; m++) {
            if (!ctx) {
                if (kmod_open(err) < 0) {
                    failed = -err->code;
                    goto out;
                }
                ctx = K.new_(NULL, NULL);
                if (!ctx) {
                    failed = err_set(err, ENOMEM, "libkmod: kmod_new");
                    goto out;
                }
                K.set_log_fn(ctx, kmod_quiet, NULL);
                (void)K.load_resources(ctx); /* indexes are optional; lookups fall back */
            }
            msg[0] = '\0';
            r = load_one(ctx, *m, msg, sizeof(msg));
            if (r < 0)
                failed++;
            if (fn)
                fn(*m, r, msg, userdata);
        }
    }
out:
    for (int i = 0; i < n; i++)
        free(ents[i]);
    free(ents);
    if (ctx)
        K.unref(ctx);
    kmod_close();
    return failed;
}

/* ---- reaping and shutdown ---- */

int pid1_reap(pid1_reaped_fn fn, void *userdata)
{
    int n = 0;
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) {
            if (pid < 0 && errno == EINTR)
                continue;
            return n; /* 0: none exited yet; ECHILD: no children at all */
        }
        n++;
        if (fn)
            fn(pid, status, userdata);
    }
}

int pid1_kill_all(int sig)
{
    /* kill(-1) reaches every process but the caller and init (we are both). */
    if (kill(-1, sig) < 0)
        return -errno;
    return 0;
}

bool pid1_has_children(void)
{
    siginfo_t si = {0};
    return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
}

static bool api_mount(const char *mp)
{
    static const char *const keep[] = {"/proc", "/sys", "/dev"};
    if (STREQ(mp, "/"))
        return true;
    for (size_t i = 0; i < ARRAY_SIZE(keep); i++) {
        size_t n = strlen(keep[i]);
        if (strncmp(mp, keep[i], n) == 0 && (mp[n] == '\0' || mp[n] == '/'))
            return true;
    }
    return false;
}

/* Decodes the octal escapes (\040 for space) of a mountinfo path in place. */
static void unescape_mountinfo(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
                r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

int pid1_unmount_all(void)
{
    _cleanup_strv_ char **mps = NULL;
    {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
            return 0;
        char line[4096];
        while (fgets(line, sizeof(line), f)) {
            char mp[PATH_MAX];
            if (sscanf(line, "%*d %*d %*s %*s %4095s", mp) != 1)
                continue;
            unescape_mountinfo(mp);
            if (!api_mount(mp) && strv_push(&mps, mp) < 0)
                return -ENOMEM;
        }
    }
    int left = 0;
    size_t n = strv_len(mps);
    /* Later mounts are on top of earlier ones: undo in reverse order. Stacked mounts on one
     * point appear several times; each umount removes the top one. */
    for (size_t i = n; i-- > 0;) {
        if (umount2(mps[i], 0) == 0)
            continue;
        if (errno == EINVAL || errno == ENOENT)
            continue; /* already gone with a parent */
        if (mount(NULL, mps[i], NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0 &&
                umount2(mps[i], MNT_DETACH) < 0)
            left++;
    }
    (void)mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL);
    return left;
}

int pid1_final(enum pid1_action a)
{
    int cmd = a == PID1_ACT_REBOOT ? RB_AUTOBOOT
            : a == PID1_ACT_POWEROFF ? RB_POWER_OFF
                                     : RB_HALT_SYSTEM;
    sync();
    if (reboot(cmd) < 0)
        return -errno;
    return 0;
}

/* ---- watchdog ---- */

int pid1_watchdog_open(const char *path, uint64_t timeout_s, uint64_t *ret_timeout_s,
        struct err *err)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(err, errno, "open watchdog %s", path);
    if (timeout_s > 0) {
        int t = (int)timeout_s;
        if (ioctl(fd, WDIOC_SETTIMEOUT, &t) < 0) {
            /* Some devices have a fixed timeout: keep theirs. */
        }
    }
    int t = 0;
    if (ioctl(fd, WDIOC_GETTIMEOUT, &t) < 0 || t <= 0)
        t = (int)(timeout_s ? timeout_s : 30);
    if (ret_timeout_s)
        *ret_timeout_s = (uint64_t)t;
    (void)ioctl(fd, WDIOC_KEEPALIVE, 0);
    return fd;
}

int pid1_watchdog_pet(int fd)
{
    if (ioctl(fd, WDIOC_KEEPALIVE, 0) < 0)
        return -errno;
    return 0;
}

void pid1_watchdog_close(int fd)
{
    if (fd < 0)
        return;
    /* Magic close: tells drivers without nowayout to disarm. */
    (void)!write(fd, "V", 1);
    close(fd);
}

/* ---- emergency mode ---- */

/* PID 1's stderr is the console on a machine (cmd_init makes it so) and whatever the
 * container runtime gave it in a PID namespace; /dev/console only if stderr is closed. */
static void console_write(const char *s)
{
    if (write(2, s, strlen(s)) >= 0)
        return;
    int fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0) {
        (void)!write(fd, s, strlen(s));
        close(fd);
    }
}

static pid_t spawn_emergency_shell(void)
{
    static char *const argv[] = {"/bin/sh", NULL};
    static char *const envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME=/", "TERM=linux", NULL};
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    /* stdio is PID 1's: the console on a machine. Make it the shell's controlling tty so
     * that job control and Ctrl-C work there. */
    (void)ioctl(0, TIOCSCTTY, 1);
    execve(argv[0], argv, envp);
    _exit(127);
}

_Noreturn void pid1_emergency(const char *why)
{
    console_write("\nmgr: EMERGENCY MODE: ");
    console_write(why);
    console_write("\nmgr: PID 1 keeps reaping; a shell is started on the console if /bin/sh "
                  "exists (exit it to get a new one)\n");
    pid_t shell = -1;
    for (;;) {
        if (shell <= 0 && access("/bin/sh", X_OK) == 0)
            shell = spawn_emergency_shell();
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            /* No children at all: sleep and look again (new orphans, a shell to start). */
            struct timespec ts = {1, 0};
            nanosleep(&ts, NULL);
            continue;
        }
        if (pid == shell) {
            struct timespec ts = {1, 0};
            nanosleep(&ts, NULL); /* no respawn storm if the shell cannot run */
            shell = -1;
        }
    }
}

static void crash_handler(int sig)
{
    /* Async-signal-safe only. A crash of PID 1 would panic the kernel ("Attempted to kill
     * init"); emergency mode keeps the machine alive and reaping instead. */
    const char *what = sig == SIGSEGV ? "crashed (SIGSEGV)"
                     : sig == SIGBUS  ? "crashed (SIGBUS)"
                     : sig == SIGILL  ? "crashed (SIGILL)"
                     : sig == SIGFPE  ? "crashed (SIGFPE)"
                                      : "aborted (SIGABRT)";
    pid1_emergency(what);
}

void pid1_install_crash_handlers(void)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    struct sigaction sa = {0};
    sa.sa_handler = crash_handler;
    sa.sa_flags = SA_NODEFER;
    sigfillset(&sa.sa_mask);
    for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
        sigaction(sigs[i], &sa, NULL);
}

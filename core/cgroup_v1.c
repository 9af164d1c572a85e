/* cgroup v1 backend: one directory per mounted hierarchy (<root>/<parent>/<NAME>), acting only
 * on the controllers the front end assigned to v1. Key -> file mapping in doc/cgroups.md. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <linux/magic.h>
#include <unistd.h>

#include "cgroup_int.h"
#include "util.h"

static bool v1_present(const struct cg_manager *m)
{
    return m->n_v1 > 0;
}

/* The group's dir in the hierarchy serving c, or -1 when c is not v1 here. */
static int dir_for(const struct cg_group *g, enum cg_ctrl c)
{
    if (g->m->ver[c] != CG_V1 || g->m->v1_of[c] < 0)
        return -1;
    return g->v1_dir[g->m->v1_of[c]];
}

int cg_v1_any_dir(const struct cg_group *g)
{
    /* prefer hierarchies every container is in; any works since we attach to all */
    static const enum cg_ctrl pref[] = {CG_PIDS, CG_MEMORY, CG_FREEZER, CG_CPU};
    for (size_t i = 0; i < ARRAY_SIZE(pref); i++) {
        int idx = g->m->v1_of[pref[i]];
        if (idx >= 0 && g->v1_dir[idx] >= 0)
            return g->v1_dir[idx];
    }
    for (size_t i = 0; i < g->m->n_v1; i++)
        if (g->v1_dir[i] >= 0)
            return g->v1_dir[i];
    return -1;
}

/* New cpuset groups start with empty cpus/mems and refuse tasks ("No space left on device"):
 * copy the parent's, level by level from the root down to rel. */
static int cpuset_fill_chain(int rootfd, const char *rel, struct err *err)
{
    _cleanup_free_ char *copy = strdup(rel);
    if (!copy)
        return err_set(err, ENOMEM, "cpuset");
    _cleanup_close_ int parent = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (parent < 0)
        return err_set(err, errno, "open cpuset root");
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        _cleanup_close_ int child = openat(parent, c, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (child < 0)
            return err_set(err, errno, "open cpuset group '%s'", c);
        static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
        for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
            char cur[4096], want[4096];
            if (cg_read_at(child, files[i], cur, sizeof(cur)) > 0)
                continue;
            int r = cg_read_at(parent, files[i], want, sizeof(want));
            if (r < 0)
                return err_set(err, -r, "read parent '%s'", files[i]);
            if (r > 0 && (r = cg_write_at(child, files[i], want, err)) < 0)
                return r;
        }
        close(parent);
        parent = TAKE_FD(child);
    }
    return 0;
}

static int v1_create(struct cg_group *g, struct err *err)
{
    struct cg_manager *m = g->m;
    _cleanup_free_ char *rel = strdup_printf("%s/%s", m->parent_v1, g->name);
    if (!rel)
        return err_set(err, ENOMEM, "cgroup");
    for (size_t i = 0; i < m->n_v1; i++) {
        bool created = false;
        int r = cg_mkdir_path_at(m->v1[i].fd, rel, &g->v1_dir[i], &created, err);
        if (r < 0)
            return err_wrap(err, "cgroup v1 '%s'", m->v1[i].path);
        if (!created) {
            /* a leftover of ours from a crash: reuse it only when nothing runs there */
            char buf[16];
            if (cg_read_at(g->v1_dir[i], "cgroup.procs", buf, sizeof(buf)) > 0)
                return err_setx(err, EBUSY, "cgroup v1 '%s/%s' exists and has processes",
                                m->v1[i].path, rel);
        }
        if ((m->v1[i].ctrls & (1u << CG_CPUSET)) && cg_fs_is(m->v1[i].fd, CGROUP_SUPER_MAGIC)) {
            r = cpuset_fill_chain(m->v1[i].fd, rel, err);
            if (r < 0)
                return err_wrap(err, "cgroup v1 '%s'", m->v1[i].path);
        }
    }
    return 0;
}

static int v1_open(struct cg_group *g, struct err *err)
{
    struct cg_manager *m = g->m;
    _cleanup_free_ char *rel = strdup_printf("%s/%s", m->parent_v1, g->name);
    if (!rel)
        return err_set(err, ENOMEM, "cgroup");
    for (size_t i = 0; i < m->n_v1; i++) {
        /* O_PATH: a dirfd for *at() calls only (see cg_mkdir_path_at) */
        g->v1_dir[i] = openat(m->v1[i].fd, rel, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (g->v1_dir[i] < 0 && errno != ENOENT)
            return err_set(err, errno, "open cgroup v1 '%s/%s'", m->v1[i].path, rel);
    }
    return 0; /* missing in some hierarchies is fine (half-removed leftover) */
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static int apply_memory(struct cg_group *g, int fd, const struct resources *r, struct err *err)
{
    int rc;
    if (r->mem_max != UNIT_UNSET) {
        if (r->mem_swap_max != UNIT_UNSET) {
            /* memsw is memory+swap and must stay >= the memory limit: when shrinking, the
             * memory limit goes first, when growing memsw goes first. */
            uint64_t memsw = sat_add(r->mem_max, r->mem_swap_max);
            rc = cg_write_u64_at(fd, "memory.limit_in_bytes", r->mem_max, NULL);
            if (rc < 0 && (rc = cg_write_u64_at(fd, "memory.memsw.limit_in_bytes", memsw, err)) < 0)
                return rc;
            if ((rc = cg_write_u64_at(fd, "memory.memsw.limit_in_bytes", memsw, err)) < 0)
                return rc;
            if ((rc = cg_write_u64_at(fd, "memory.limit_in_bytes", r->mem_max, err)) < 0)
                return rc;
        } else if ((rc = cg_write_u64_at(fd, "memory.limit_in_bytes", r->mem_max, err)) < 0) {
            return rc;
        }
    }
    /* low -> soft limit: under global pressure, groups above their soft limit are reclaimed
     * first, so memory below it is protected best-effort (documented in doc/cgroups.md). */
    if (r->mem_low != UNIT_UNSET &&
        (rc = cg_write_u64_at(fd, "memory.soft_limit_in_bytes", r->mem_low, err)) < 0)
        return rc;
    return 0;
}

static int apply_cpu(struct cg_group *g, int fd, const struct resources *r, struct err *err)
{
    int rc;
    if (r->cpu_weight != UNIT_UNSET &&
        (rc = cg_write_u64_at(fd, "cpu.shares", cg_weight_to_shares(r->cpu_weight), err)) < 0)
        return rc;
    if (r->cpu_max_milli != UNIT_UNSET) {
        uint64_t period =
                r->cpu_period_us == UNIT_UNSET || r->cpu_period_us == 0 ? 100000 : r->cpu_period_us;
        char q[32];
        snprintf(q, sizeof(q), "%" PRId64, cg_cpu_quota_us(r->cpu_max_milli, period));
        /* quota -1 first so a new period never conflicts with an old quota */
        (void)cg_write_at(fd, "cpu.cfs_quota_us", "-1", NULL);
        if ((rc = cg_write_u64_at(fd, "cpu.cfs_period_us", period, err)) < 0)
            return rc;
        if ((rc = cg_write_at(fd, "cpu.cfs_quota_us", q, err)) < 0)
            return rc;
    }
    return 0;
}

static int apply_io(struct cg_group *g, int fd, const struct resources *r, struct err *err)
{
    int rc;
    if (r->io_weight != UNIT_UNSET) {
        /* systemd's io weight -> blkio weight: 100 -> 500, clamped to 10..1000 */
        uint64_t w = r->io_weight * 5;
        w = w < 10 ? 10 : w > 1000 ? 1000 : w;
        const char *file = cg_file_exists_at(fd, "blkio.bfq.weight") ? "blkio.bfq.weight"
                           : cg_file_exists_at(fd, "blkio.weight")   ? "blkio.weight"
                                                                     : NULL;
        if (!file)
            return err_setx(err, EOPNOTSUPP,
                            "resources.io.weight: no blkio.weight or blkio.bfq.weight (the bfq "
                            "scheduler is not loaded)");
        if ((rc = cg_write_u64_at(fd, file, w, err)) < 0)
            return rc;
    }
    for (size_t i = 0; i < r->n_io_max; i++) {
        const struct io_max *x = &r->io_max[i];
        struct {
            const char *file;
            uint64_t v;
        } t[] = {{"blkio.throttle.read_bps_device", x->rbps},
                 {"blkio.throttle.write_bps_device", x->wbps},
                 {"blkio.throttle.read_iops_device", x->riops},
                 {"blkio.throttle.write_iops_device", x->wiops}};
        for (size_t k = 0; k < ARRAY_SIZE(t); k++) {
            if (t[k].v == UNIT_UNSET)
                continue;
            char line[64];
            snprintf(line, sizeof(line), "%u:%u %" PRIu64, x->major, x->minor, t[k].v);
            if ((rc = cg_write_at(fd, t[k].file, line, err)) < 0)
                return rc;
        }
    }
    return 0;
}

static int apply_devices(int fd, const struct resources *r, struct err *err)
{
    _cleanup_free_ struct cg_dev_rule *rules = NULL;
    size_t n = 0;
    int rc = cg_dev_rules(r, &rules, &n, err);
    if (rc < 0)
        return rc;
    /* deny everything, then allow the list: the kernel keeps an allow-list per group */
    if ((rc = cg_write_at(fd, "devices.deny", "a", err)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        char line[64];
        cg_dev_rule_format(&rules[i], line, sizeof(line));
        if ((rc = cg_write_at(fd, "devices.allow", line, err)) < 0)
            return rc;
    }
    return 0;
}

static int v1_apply(struct cg_group *g, const struct resources *r, bool update, struct err *err)
{
    int fd, rc;
    if ((fd = dir_for(g, CG_MEMORY)) >= 0 && (rc = apply_memory(g, fd, r, err)) < 0)
        return rc;
    if ((fd = dir_for(g, CG_CPU)) >= 0 && (rc = apply_cpu(g, fd, r, err)) < 0)
        return rc;
    if ((fd = dir_for(g, CG_CPUSET)) >= 0 && (rc = cg_apply_cpuset(fd, r, err)) < 0)
        return rc;
    if ((fd = dir_for(g, CG_PIDS)) >= 0 && r->pids_max != UNIT_UNSET &&
        (rc = cg_write_u64_at(fd, "pids.max", r->pids_max, err)) < 0)
        return rc;
    if ((fd = dir_for(g, CG_IO)) >= 0 && (rc = apply_io(g, fd, r, err)) < 0)
        return rc;
    if ((fd = dir_for(g, CG_HUGETLB)) >= 0 && (rc = cg_apply_hugetlb(fd, r, "limit_in_bytes", err)) < 0)
        return rc;
    if ((fd = dir_for(g, CG_DEVICES)) >= 0 && (rc = apply_devices(fd, r, err)) < 0)
        return rc;
    return 0;
}

static int v1_attach(struct cg_group *g, pid_t pid, struct err *err)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%d", (int)pid);
    for (size_t i = 0; i < g->m->n_v1; i++) {
        if (g->v1_dir[i] < 0)
            continue;
        int rc = cg_write_at(g->v1_dir[i], "cgroup.procs", buf, err);
        if (rc < 0)
            return err_wrap(err, "cgroup v1 '%s'", g->m->v1[i].path);
    }
    return 0;
}

int cg_v1_attach_self(struct cg_group *g, struct err *err)
{
    for (size_t i = 0; i < g->m->n_v1; i++) {
        if (g->v1_dir[i] < 0)
            continue;
        /* tasks, not cgroup.procs: moving one thread (ourselves, "0") is what the kernel does
         * without write-locking cgroup_threadgroup_rwsem. */
        int rc = cg_write_at(g->v1_dir[i], "tasks", "0", err);
        if (rc < 0)
            return err_wrap(err, "cgroup v1 '%s'", g->m->v1[i].path);
    }
    return 0;
}

int cg_v1_freeze(struct cg_group *g, bool frozen, struct err *err)
{
    int fd = dir_for(g, CG_FREEZER);
    if (fd < 0)
        return err_setx(err, EOPNOTSUPP, "no v1 freezer");
    const char *want = frozen ? "FROZEN" : "THAWED";
    /* FREEZING is transient; writing FROZEN again retries tasks that were busy (kernel doc) */
    for (int i = 0; i < 200; i++) {
        int rc = cg_write_at(fd, "freezer.state", want, err);
        if (rc < 0)
            return rc;
        char buf[32];
        if (cg_read_at(fd, "freezer.state", buf, sizeof(buf)) >= 0 && STREQ(buf, want))
            return 0;
        cg_sleep_ms(10);
    }
    return err_setx(err, ETIMEDOUT, "freezer.state did not reach %s", want);
}

int cg_v1_oom_efd(struct cg_group *g)
{
    if (g->oom_efd >= 0)
        return g->oom_efd;
    int fd = dir_for(g, CG_MEMORY);
    if (fd < 0)
        return -1;
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd < 0)
        return -1;
    _cleanup_close_ int ofd = openat(fd, "memory.oom_control", O_RDONLY | O_CLOEXEC);
    char line[64];
    snprintf(line, sizeof(line), "%d %d", efd, ofd);
    if (ofd < 0 || cg_write_at(fd, "cgroup.event_control", line, NULL) < 0) {
        close(efd);
        return -1;
    }
    g->oom_efd = efd;
    return efd;
}

void cg_v1_reset_peak(struct cg_group *g)
{
    int fd = dir_for(g, CG_MEMORY);
    if (fd < 0)
        return;
    (void)cg_write_at(fd, "memory.max_usage_in_bytes", "0", NULL);
    (void)cg_write_at(fd, "memory.memsw.max_usage_in_bytes", "0", NULL); /* if swap is counted */
}

static int v1_stats(const struct cg_group *g, struct cg_stats *s, struct err *err)
{
    int fd;
    if ((fd = dir_for(g, CG_MEMORY)) >= 0) {
        (void)cg_read_u64_at(fd, "memory.usage_in_bytes", &s->mem_current);
        (void)cg_read_u64_at(fd, "memory.max_usage_in_bytes", &s->mem_peak);
        (void)cg_read_keyed_at(fd, "memory.oom_control", "oom_kill", &s->oom_kills);
    }
    if ((fd = dir_for(g, CG_CPUACCT)) >= 0)
        (void)cg_read_u64_at(fd, "cpuacct.usage", &s->cpu_usage_ns);
    if ((fd = dir_for(g, CG_PIDS)) >= 0)
        (void)cg_read_u64_at(fd, "pids.current", &s->pids_current);
    if ((fd = dir_for(g, CG_IO)) >= 0) {
        _cleanup_free_ char *text = NULL;
        if (read_file_at(fd, "blkio.throttle.io_service_bytes_recursive", 1 << 20, &text, NULL) >=
                    0 ||
            read_file_at(fd, "blkio.io_service_bytes_recursive", 1 << 20, &text, NULL) >= 0)
            cg_parse_blkio_bytes(text, &s->io_read_bytes, &s->io_write_bytes);
    }
    return 0;
}

static int v1_destroy(struct cg_group *g, struct err *err)
{
    struct cg_manager *m = g->m;
    _cleanup_free_ char *rel = strdup_printf("%s/%s", m->parent_v1, g->name);
    if (!rel)
        return err_set(err, ENOMEM, "cgroup");
    int rc = 0;
    for (size_t i = 0; i < m->n_v1; i++) {
        int r;
        if (!cg_fs_is(m->v1[i].fd, CGROUP_SUPER_MAGIC)) { /* unit test's fake directory */
            r = rm_rf_at(m->v1[i].fd, rel);
            if (r < 0 && r != -ENOENT && rc == 0)
                rc = err_set(err, -r, "remove fake cgroup '%s'", rel);
            continue;
        }
        r = cg_rmdir_at(m->v1[i].fd, rel);
        if (r < 0 && rc == 0)
            rc = err_set(err, -r, "rmdir cgroup v1 '%s/%s'", m->v1[i].path, rel);
    }
    return rc;
}

const struct cg_ops cg_v1_ops = {
        .name = "v1",
        .present = v1_present,
        .create = v1_create,
        .open = v1_open,
        .apply = v1_apply,
        .attach = v1_attach,
        .stats = v1_stats,
        .destroy = v1_destroy,
};

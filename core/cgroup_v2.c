/* cgroup v2 backend: one group <v2 root>/<parent>/<NAME>. Controllers are enabled in
 * cgroup.subtree_control of every level above the group; freeze, kill and populated events
 * are core v2 features and work even when the hierarchy has no controller (hybrid hosts).
 * Devices: a BPF_PROG_TYPE_CGROUP_DEVICE program (cgroup_dev.c). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/magic.h>

#include "cgroup_int.h"
#include "util.h"

static bool v2_present(const struct cg_manager *m)
{
    return m->v2_fd >= 0;
}

/* controllers that need cgroup.subtree_control ("+cpu ...") on v2 */
static bool needs_enable(enum cg_ctrl c)
{
    return c != CG_DEVICES && c != CG_FREEZER && c != CG_CPUACCT;
}

/* Moves every process of our delegated group into <self>/supervisor, so that the group may
 * enable controllers for its children ("no internal processes" rule of cgroup v2). */
static int move_self_to_leaf(int selffd, struct err *err)
{
    int r = mkdirat(selffd, "supervisor", 0755) < 0 && errno != EEXIST ? -errno : 0;
    if (r < 0)
        return err_set(err, -r, "mkdir delegated 'supervisor' group");
    _cleanup_close_ int leaf = openat(selffd, "supervisor", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (leaf < 0)
        return err_set(err, errno, "open delegated 'supervisor' group");
    _cleanup_free_ pid_t *pids = NULL;
    size_t n = 0;
    if ((r = cg_read_pids_at(selffd, &pids, &n)) < 0)
        return err_set(err, -r, "read delegated cgroup.procs");
    for (size_t i = 0; i < n; i++) {
        char buf[16];
        snprintf(buf, sizeof(buf), "%d", (int)pids[i]);
        (void)cg_write_at(leaf, "cgroup.procs", buf, NULL); /* may have exited meanwhile */
    }
    return 0;
}

static int enable_controllers(struct cg_manager *m, int fd, bool is_self, struct err *err)
{
    char have[512] = "";
    (void)cg_read_at(fd, "cgroup.subtree_control", have, sizeof(have));
    unsigned enabled = cg_parse_ctrl_list(have);
    for (int c = 0; c < _CG_CTRL_MAX; c++) {
        if (m->ver[c] != CG_V2 || !needs_enable(c) || (enabled & (1u << c)))
            continue;
        char word[32];
        snprintf(word, sizeof(word), "+%s", cg_ctrl_name(c));
        int r = cg_write_at(fd, "cgroup.subtree_control", word, err);
        if (r == -EBUSY && is_self) {
            if ((r = move_self_to_leaf(fd, err)) < 0)
                return r;
            r = cg_write_at(fd, "cgroup.subtree_control", word, err);
        }
        if (r < 0)
            return r;
    }
    return 0;
}

static int v2_create(struct cg_group *g, struct err *err)
{
    struct cg_manager *m = g->m;
    _cleanup_free_ char *rel = strdup_printf("%s/%s", m->parent_v2, g->name);
    _cleanup_free_ char *walked = calloc(1, rel ? strlen(rel) + 1 : 1);
    if (!rel || !walked)
        return err_set(err, ENOMEM, "cgroup");
    _cleanup_close_ int cur = openat(m->v2_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0)
        return err_set(err, errno, "open cgroup2 root '%s'", m->v2_path);
    char *save = NULL;
    bool created = false;
    for (char *c = strtok_r(rel, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        bool is_self = m->delegated && m->v2_self && STREQ(walked, m->v2_self);
        int r = enable_controllers(m, cur, is_self, err);
        if (r < 0)
            return err_wrap(err, "cgroup v2 '%s/%s'", m->v2_path, walked);
        if (*walked)
            strcat(walked, "/");
        strcat(walked, c);
        created = mkdirat(cur, c, 0755) == 0;
        if (!created && errno != EEXIST)
            return err_set(err, errno, "mkdir cgroup v2 '%s/%s'", m->v2_path, walked);
        int next = openat(cur, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0)
            return err_set(err, errno, "open cgroup v2 '%s/%s'", m->v2_path, walked);
        close(cur);
        cur = next;
    }
    if (!created) {
        uint64_t pop = 0;
        if (cg_read_keyed_at(cur, "cgroup.events", "populated", &pop) == 0 && pop)
            return err_setx(err, EBUSY, "cgroup v2 '%s/%s' exists and has processes", m->v2_path,
                            walked);
    }
    g->v2_dir = TAKE_FD(cur);
    return 0;
}

static int v2_open(struct cg_group *g, struct err *err)
{
    struct cg_manager *m = g->m;
    _cleanup_free_ char *rel = strdup_printf("%s/%s", m->parent_v2, g->name);
    if (!rel)
        return err_set(err, ENOMEM, "cgroup");
    g->v2_dir = openat(m->v2_fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (g->v2_dir < 0 && errno != ENOENT)
        return err_set(err, errno, "open cgroup v2 '%s/%s'", m->v2_path, rel);
    return 0;
}

static int dir_for(const struct cg_group *g, enum cg_ctrl c)
{
    return g->m->ver[c] == CG_V2 ? g->v2_dir : -1;
}

static int write_limit(int fd, const char *file, uint64_t v, struct err *err)
{
    if (v == UNIT_UNSET)
        return 0;
    return cg_write_u64_at(fd, file, v, err);
}

static int apply_io(int fd, const struct resources *r, struct err *err)
{
    int rc;
    if (r->io_weight != UNIT_UNSET) {
        char val[32];
        if (cg_file_exists_at(fd, "io.weight")) {
            snprintf(val, sizeof(val), "default %" PRIu64, r->io_weight);
            rc = cg_write_at(fd, "io.weight", val, err);
        } else if (cg_file_exists_at(fd, "io.bfq.weight")) {
            uint64_t w = r->io_weight > 1000 ? 1000 : r->io_weight; /* bfq: 1..1000 */
            snprintf(val, sizeof(val), "default %" PRIu64, w);
            rc = cg_write_at(fd, "io.bfq.weight", val, err);
        } else {
            rc = err_setx(err, EOPNOTSUPP,
                          "resources.io.weight: no io.weight or io.bfq.weight in the group");
        }
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < r->n_io_max; i++) {
        const struct io_max *x = &r->io_max[i];
        char line[160];
        int n = snprintf(line, sizeof(line), "%u:%u", x->major, x->minor);
        const struct {
            const char *k;
            uint64_t v;
        } t[] = {{"rbps", x->rbps}, {"wbps", x->wbps}, {"riops", x->riops}, {"wiops", x->wiops}};
        for (size_t k = 0; k < ARRAY_SIZE(t); k++)
            if (t[k].v != UNIT_UNSET)
                n += snprintf(line + n, sizeof(line) - (size_t)n, " %s=%" PRIu64, t[k].k, t[k].v);
        if ((rc = cg_write_at(fd, "io.max", line, err)) < 0)
            return rc;
    }
    return 0;
}

static int apply_devices(struct cg_group *g, const struct resources *r, struct err *err)
{
    _cleanup_free_ struct cg_dev_rule *rules = NULL;
    _cleanup_free_ struct bpf_insn *prog = NULL;
    size_t n = 0, n_insns = 0;
    int rc = cg_dev_rules(r, &rules, &n, err);
    if (rc < 0)
        return rc;
    if ((rc = cg_dev_bpf_program(rules, n, &prog, &n_insns)) < 0)
        return err_set(err, -rc, "generate device program");
    if (!cg_fs_is(g->v2_dir, CGROUP2_SUPER_MAGIC))
        return 0; /* a unit test's fake directory: nothing to attach to */
    int fd = -1;
    if ((rc = cg_dev_bpf_attach(g->v2_dir, prog, n_insns, &fd, err)) < 0)
        return rc;
    if (g->bpf_prog_fd >= 0)
        close(g->bpf_prog_fd);
    g->bpf_prog_fd = fd;
    return 0;
}

static int v2_apply(struct cg_group *g, const struct resources *r, bool update, struct err *err)
{
    int fd, rc;
    if ((fd = dir_for(g, CG_MEMORY)) >= 0) {
        if (r->mem_swap_max != UNIT_UNSET && !cg_file_exists_at(fd, "memory.swap.max"))
            return err_setx(err, EOPNOTSUPP,
                            "resources.memory.swap_max: no memory.swap.max (kernel without swap "
                            "accounting)");
        /* low/min before max/high: protections never exceed limits in between */
        if ((rc = write_limit(fd, "memory.min", r->mem_min, err)) < 0 ||
            (rc = write_limit(fd, "memory.low", r->mem_low, err)) < 0 ||
            (rc = write_limit(fd, "memory.max", r->mem_max, err)) < 0 ||
            (rc = write_limit(fd, "memory.high", r->mem_high, err)) < 0 ||
            (rc = write_limit(fd, "memory.swap.max", r->mem_swap_max, err)) < 0)
            return rc;
        if (r->mem_oom_group >= 0 &&
            (rc = cg_write_at(fd, "memory.oom.group", r->mem_oom_group ? "1" : "0", err)) < 0)
            return rc;
    }
    if ((fd = dir_for(g, CG_CPU)) >= 0) {
        if ((rc = write_limit(fd, "cpu.weight", r->cpu_weight, err)) < 0)
            return rc;
        if (r->cpu_max_milli != UNIT_UNSET) {
            char v[64];
            cg_format_cpu_max(r->cpu_max_milli, r->cpu_period_us, v, sizeof(v));
            if ((rc = cg_write_at(fd, "cpu.max", v, err)) < 0)
                return rc;
        }
    }
    if ((fd = dir_for(g, CG_CPUSET)) >= 0 && (rc = cg_apply_cpuset(fd, r, err)) < 0)
        return rc;
    if ((fd = dir_for(g, CG_PIDS)) >= 0 && (rc = write_limit(fd, "pids.max", r->pids_max, err)) < 0)
        return rc;
    if ((fd = dir_for(g, CG_IO)) >= 0 && (rc = apply_io(fd, r, err)) < 0)
        return rc;
    if ((fd = dir_for(g, CG_HUGETLB)) >= 0 && (rc = cg_apply_hugetlb(fd, r, "max", err)) < 0)
        return rc;
    if (g->m->ver[CG_DEVICES] == CG_V2 && g->v2_dir >= 0 && (rc = apply_devices(g, r, err)) < 0)
        return rc;
    return 0;
}

static int v2_attach(struct cg_group *g, pid_t pid, struct err *err)
{
    if (g->v2_dir < 0)
        return 0;
    char buf[32];
    snprintf(buf, sizeof(buf), "%d", (int)pid);
    return cg_write_at(g->v2_dir, "cgroup.procs", buf, err);
}

int cg_v2_freeze(struct cg_group *g, bool frozen, struct err *err)
{
    if (g->v2_dir < 0)
        return err_setx(err, EOPNOTSUPP, "no v2 group to freeze");
    int rc = cg_write_at(g->v2_dir, "cgroup.freeze", frozen ? "1" : "0", err);
    if (rc < 0)
        return rc;
    /* the write starts the transition; cgroup.events "frozen" tells when it is done */
    for (int i = 0; i < 200; i++) {
        uint64_t f;
        if (cg_read_keyed_at(g->v2_dir, "cgroup.events", "frozen", &f) == 0 &&
            f == (frozen ? 1 : 0))
            return 0;
        cg_sleep_ms(10);
    }
    return err_setx(err, ETIMEDOUT, "cgroup.events did not report frozen %d", frozen);
}

int cg_v2_kill(struct cg_group *g, struct err *err)
{
    if (!cg_file_exists_at(g->v2_dir, "cgroup.kill"))
        return -ENOENT;
    g->v2_killed = true;
    return cg_write_at(g->v2_dir, "cgroup.kill", "1", err);
}

int cg_v2_populated(const struct cg_group *g)
{
    uint64_t v;
    int r = cg_read_keyed_at(g->v2_dir, "cgroup.events", "populated", &v);
    return r < 0 ? r : v != 0;
}

int cg_v2_events_fd(struct cg_group *g)
{
    if (g->v2_events_fd < 0 && g->v2_dir >= 0)
        g->v2_events_fd = openat(g->v2_dir, "cgroup.events", O_RDONLY | O_CLOEXEC);
    return g->v2_events_fd;
}

static int v2_stats(const struct cg_group *g, struct cg_stats *s, struct err *err)
{
    int fd;
    if ((fd = dir_for(g, CG_MEMORY)) >= 0) {
        (void)cg_read_u64_at(fd, "memory.current", &s->mem_current);
        (void)cg_read_u64_at(fd, "memory.peak", &s->mem_peak);
        (void)cg_read_keyed_at(fd, "memory.events", "oom_kill", &s->oom_kills);
    }
    if ((fd = dir_for(g, CG_CPUACCT)) >= 0) {
        uint64_t us;
        if (cg_read_keyed_at(fd, "cpu.stat", "usage_usec", &us) == 0)
            s->cpu_usage_ns = us * 1000;
    }
    if ((fd = dir_for(g, CG_PIDS)) >= 0)
        (void)cg_read_u64_at(fd, "pids.current", &s->pids_current);
    if ((fd = dir_for(g, CG_IO)) >= 0) {
        _cleanup_free_ char *text = NULL;
        if (read_file_at(fd, "io.stat", 1 << 20, &text, NULL) >= 0)
            cg_parse_io_stat(text, &s->io_read_bytes, &s->io_write_bytes);
    }
    return 0;
}

static int v2_destroy(struct cg_group *g, struct err *err)
{
    struct cg_manager *m = g->m;
    _cleanup_free_ char *rel = strdup_printf("%s/%s", m->parent_v2, g->name);
    if (!rel)
        return err_set(err, ENOMEM, "cgroup");
    if (!cg_fs_is(m->v2_fd, CGROUP2_SUPER_MAGIC)) {
        int r = rm_rf_at(m->v2_fd, rel); /* unit test's fake directory */
        return r < 0 && r != -ENOENT ? err_set(err, -r, "remove fake cgroup '%s'", rel) : 0;
    }
    int r = cg_rmdir_at(m->v2_fd, rel);
    if (r < 0)
        return err_set(err, -r, "rmdir cgroup v2 '%s/%s'", m->v2_path, rel);
    return 0;
}

const struct cg_ops cg_v2_ops = {
        .name = "v2",
        .present = v2_present,
        .create = v2_create,
        .open = v2_open,
        .apply = v2_apply,
        .attach = v2_attach,
        .stats = v2_stats,
        .destroy = v2_destroy,
};

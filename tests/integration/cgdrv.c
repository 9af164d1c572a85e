/* Test driver for core/cgroup: drives one group through the public API so integration tests
 * can check the result from outside (cgroup files, /proc, errno of device opens).
 *
 *   cgdrv [-p PARENT] [-1] [-x CTRL,...] COMMAND [ARGS]
 *     -p PARENT   parent group (relative to each hierarchy root); default mgr's
 *     -1          ignore the cgroup2 mount (pure v1 behaviour)
 *     -x CTRLS    ignore the v1 hierarchies of these controllers (v1 names), so that the v2
 *                 side serves them where it can (devices: BPF program, freezer: cgroup.freeze)
 *   create NAME [LIMITS]        create + configure; exit 1 with the error on refusal
 *   update NAME [LIMITS]
 *   check [LIMITS]              print every key this host cannot enforce
 *   exec NAME -- CMD...         attach self to the group, then exec CMD
 *   freeze NAME 1|0 | kill NAME SIG | empty NAME | stats NAME | destroy NAME
 *   reclaim [KEEP...]           remove groups of unknown names under the parent
 *   cycle NAME N [LIMITS]       N x (create, attach a child, kill, destroy)
 *   bench NAME N [LIMITS]       N x (create+configure, destroy): medians in microseconds
 *   layout                      per controller: v1 / v2 / none
 *   evwait NAME SECS            wait until cgroup.events / oom eventfd fires, print "event"
 * LIMITS: --mem-max S --mem-high S --mem-low S --mem-min S --swap S --oom-group 0|1
 *         --cpu-max MILLI --period US --weight N --cpus L --mems L --pids-max N
 *         --io-weight N --io-max MAJ:MIN:rbps:wbps --dev PATH:ACC --hugetlb SIZE=S */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup_int.h"
#include "util.h"

static int die(const char *what, const struct err *e)
{
    fprintf(stderr, "cgdrv: %s: %s\n", what, e->msg);
    return 1;
}

static uint64_t size_arg(const char *s)
{
    uint64_t v;
    if (parse_size(s, &v) < 0) {
        fprintf(stderr, "cgdrv: bad size '%s'\n", s);
        exit(2);
    }
    return v;
}

static void res_init(struct resources *r)
{
    memset(r, 0, sizeof(*r));
    r->mem_max = r->mem_high = r->mem_low = r->mem_min = r->mem_swap_max = UNIT_UNSET;
    r->mem_oom_group = -1;
    r->cpu_weight = r->cpu_max_milli = r->cpu_period_us = UNIT_UNSET;
    r->pids_max = r->io_weight = UNIT_UNSET;
}

/* Parses LIMITS from argv[i..]; returns the index after them. Leaks on purpose (short-lived). */
static int res_parse(int argc, char **argv, int i, struct resources *r)
{
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0 && argv[i][2]; i += 2) {
        const char *k = argv[i] + 2, *v = argv[i + 1];
        if (STREQ(k, "mem-max")) r->mem_max = size_arg(v);
        else if (STREQ(k, "mem-high")) r->mem_high = size_arg(v);
        else if (STREQ(k, "mem-low")) r->mem_low = size_arg(v);
        else if (STREQ(k, "mem-min")) r->mem_min = size_arg(v);
        else if (STREQ(k, "swap")) r->mem_swap_max = size_arg(v);
        else if (STREQ(k, "oom-group")) r->mem_oom_group = atoi(v);
        else if (STREQ(k, "cpu-max")) r->cpu_max_milli = strtoull(v, NULL, 10);
        else if (STREQ(k, "period")) r->cpu_period_us = strtoull(v, NULL, 10);
        else if (STREQ(k, "weight")) r->cpu_weight = strtoull(v, NULL, 10);
        else if (STREQ(k, "cpus")) r->cpus = strdup(v);
        else if (STREQ(k, "mems")) r->mems = strdup(v);
        else if (STREQ(k, "pids-max")) r->pids_max = strtoull(v, NULL, 10);
        else if (STREQ(k, "io-weight")) r->io_weight = strtoull(v, NULL, 10);
        else if (STREQ(k, "io-max")) {
            r->io_max = realloc(r->io_max, (r->n_io_max + 1) * sizeof(*r->io_max));
            struct io_max *x = &r->io_max[r->n_io_max++];
            x->riops = x->wiops = UNIT_UNSET;
            if (sscanf(v, "%u:%u:%" SCNu64 ":%" SCNu64, &x->major, &x->minor, &x->rbps, &x->wbps) != 4)
                exit(2);
        } else if (STREQ(k, "dev")) {
            r->devices = realloc(r->devices, (r->n_devices + 1) * sizeof(*r->devices));
            struct device_rule *d = &r->devices[r->n_devices++];
            char *c = strrchr(v, ':');
            memset(d, 0, sizeof(*d));
            d->path = c ? strndup(v, (size_t)(c - v)) : strdup(v);
            snprintf(d->access, sizeof(d->access), "%s", c ? c + 1 : "rwm");
        } else if (STREQ(k, "hugetlb")) {
            const char *eq = strchr(v, '=');
            if (!eq)
                exit(2);
            r->hugetlb_sizes = realloc(r->hugetlb_sizes, (r->n_hugetlb + 1) * sizeof(char *));
            r->hugetlb_limits = realloc(r->hugetlb_limits, (r->n_hugetlb + 1) * sizeof(uint64_t));
            r->hugetlb_sizes[r->n_hugetlb] = strndup(v, (size_t)(eq - v));
            r->hugetlb_limits[r->n_hugetlb++] = size_arg(eq + 1);
        } else {
            fprintf(stderr, "cgdrv: unknown limit --%s\n", k);
            exit(2);
        }
    }
    return i;
}

static int open_manager(const char *parent, bool no_v2, const char *exclude,
        struct cg_manager **m, struct err *e)
{
    if (!no_v2 && !exclude)
        return cg_manager_open(parent, m, e);
    _cleanup_free_ char *mi = NULL;
    char *v1[_CG_CTRL_MAX] = {0};
    char *v2 = NULL;
    if (read_file_at(AT_FDCWD, "/proc/self/mountinfo", 1 << 22, &mi, NULL) < 0 ||
            cg_parse_mountinfo(mi, v1, &v2) < 0)
        return err_setx(e, EIO, "mountinfo");
    for (int c = 0; c < _CG_CTRL_MAX; c++) {
        char name[32];
        snprintf(name, sizeof(name), ",%s,", cg_ctrl_v1_name(c));
        _cleanup_free_ char *ex = strdup_printf(",%s,", exclude ? exclude : "");
        if (strstr(ex, name)) {
            free(v1[c]);
            v1[c] = NULL;
        }
    }
    char ctrls[512] = "";
    if (v2 && !no_v2) {
        _cleanup_free_ char *p = strdup_printf("%s/cgroup.controllers", v2);
        (void)cg_read_at(AT_FDCWD, p, ctrls, sizeof(ctrls));
    }
    int r = cg_manager_open_at((const char *const *)v1, no_v2 ? NULL : v2, ctrls,
            parent ? parent : "mgr", m, e);
    for (int c = 0; c < _CG_CTRL_MAX; c++)
        free(v1[c]);
    free(v2);
    return r;
}

static int cycle(struct cg_manager *m, const char *name, int n, const struct resources *r)
{
    struct err e = {0};
    for (int i = 0; i < n; i++) {
        struct cg_group *g = NULL;
        if (cg_create(m, name, r, &g, &e) < 0)
            return die("create", &e);
        pid_t pid = fork();
        if (pid == 0) {
            pause();
            _exit(0);
        }
        if (cg_attach(g, pid, &e) < 0)
            return die("attach", &e);
        if (cg_kill(g, SIGKILL, &e) < 0)
            return die("kill", &e);
        waitpid(pid, NULL, 0);
        if (cg_destroy(g, &e) < 0)
            return die("destroy", &e);
        cg_group_free(g);
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int bench(struct cg_manager *m, const char *name, int n, const struct resources *r)
{
    struct err e = {0};
    uint64_t *cr = calloc((size_t)n, sizeof(uint64_t)), *de = calloc((size_t)n, sizeof(uint64_t));
    uint64_t *tot = calloc((size_t)n, sizeof(uint64_t));
    if (!cr || !de || !tot || n <= 0)
        return 2;
    for (int i = 0; i < n; i++) {
        struct cg_group *g = NULL;
        uint64_t t0 = now_us();
        if (cg_create(m, name, r, &g, &e) < 0)
            return die("create", &e);
        uint64_t t1 = now_us();
        if (cg_destroy(g, &e) < 0)
            return die("destroy", &e);
        uint64_t t2 = now_us();
        cg_group_free(g);
        cr[i] = t1 - t0, de[i] = t2 - t1, tot[i] = t2 - t0;
    }
    qsort(cr, (size_t)n, sizeof(uint64_t), cmp_u64);
    qsort(de, (size_t)n, sizeof(uint64_t), cmp_u64);
    qsort(tot, (size_t)n, sizeof(uint64_t), cmp_u64);
    printf("create_us %" PRIu64 "\ndestroy_us %" PRIu64 "\ntotal_us %" PRIu64 "\n", cr[n / 2],
            de[n / 2], tot[n / 2]);
    return 0;
}

int main(int argc, char **argv)
{
    const char *parent = NULL, *exclude = NULL;
    bool no_v2 = false;
    int c;
    while ((c = getopt(argc, argv, "+p:1x:")) != -1) {
        switch (c) {
        case 'p': parent = optarg; break;
        case '1': no_v2 = true; break;
        case 'x': exclude = optarg; break;
        default: return 2;
        }
    }
    if (optind >= argc)
        return 2;
    const char *cmd = argv[optind++];
    struct err e = {0};
    struct cg_manager *m = NULL;
    if (open_manager(parent, no_v2, exclude, &m, &e) < 0)
        return die("open", &e);

    if (STREQ(cmd, "layout")) {
        for (int k = 0; k < _CG_CTRL_MAX; k++) {
            enum cg_version v = cg_manager_version(m, k);
            printf("%s %s\n", cg_ctrl_name(k), v == CG_V1 ? "v1" : v == CG_V2 ? "v2" : "none");
        }
        return 0;
    }
    if (STREQ(cmd, "check")) {
        struct resources r;
        res_init(&r);
        res_parse(argc, argv, optind, &r);
        char *all = NULL;
        if (cg_check_resources(m, &r, &all, &e) < 0) {
            fputs(all ? all : e.msg, stdout);
            return 1;
        }
        return 0;
    }
    if (STREQ(cmd, "reclaim")) {
        int n = cg_reclaim(m, (const char *const *)(argv + optind), &e);
        if (n < 0)
            return die("reclaim", &e);
        printf("%d\n", n);
        return 0;
    }
    if (optind >= argc)
        return 2;
    const char *name = argv[optind++];
    struct cg_group *g = NULL;
    struct resources r;
    res_init(&r);

    if (STREQ(cmd, "create")) {
        res_parse(argc, argv, optind, &r);
        if (cg_create(m, name, &r, &g, &e) < 0)
            return die("create", &e);
        return 0;
    }
    if (STREQ(cmd, "bench")) {
        int n = atoi(argv[optind++]);
        res_parse(argc, argv, optind, &r);
        return bench(m, name, n, &r);
    }
    if (STREQ(cmd, "cycle")) {
        int n = atoi(argv[optind++]);
        res_parse(argc, argv, optind, &r);
        return cycle(m, name, n, &r);
    }
    if (cg_open(m, name, &g, &e) < 0)
        return die("open group", &e);
    if (STREQ(cmd, "update")) {
        res_parse(argc, argv, optind, &r);
        if (cg_update(g, &r, &e) < 0)
            return die("update", &e);
    } else if (STREQ(cmd, "exec")) {
        if (optind < argc && STREQ(argv[optind], "--"))
            optind++;
        if (optind >= argc)
            return 2;
        if (cg_attach(g, getpid(), &e) < 0)
            return die("attach", &e);
        execvp(argv[optind], argv + optind);
        perror("cgdrv: exec");
        return 127;
    } else if (STREQ(cmd, "freeze")) {
        if (optind >= argc || cg_freeze(g, atoi(argv[optind]) != 0, &e) < 0)
            return die("freeze", &e);
    } else if (STREQ(cmd, "kill")) {
        if (optind >= argc || cg_kill(g, atoi(argv[optind]), &e) < 0)
            return die("kill", &e);
    } else if (STREQ(cmd, "empty")) {
        int r2 = cg_is_empty(g);
        if (r2 < 0)
            return 2;
        printf("%s\n", r2 ? "empty" : "populated");
        return r2 ? 0 : 1;
    } else if (STREQ(cmd, "stats")) {
        struct cg_stats s;
        if (cg_stats_read(g, &s, &e) < 0)
            return die("stats", &e);
        printf("mem_current=%" PRId64 "\nmem_peak=%" PRId64 "\ncpu_usage_ns=%" PRId64
               "\npids_current=%" PRId64 "\nio_read_bytes=%" PRId64 "\nio_write_bytes=%" PRId64
               "\noom_kills=%" PRId64 "\n",
                (int64_t)s.mem_current, (int64_t)s.mem_peak, (int64_t)s.cpu_usage_ns,
                (int64_t)s.pids_current, (int64_t)s.io_read_bytes, (int64_t)s.io_write_bytes,
                (int64_t)s.oom_kills);
    } else if (STREQ(cmd, "evwait")) {
        int fd = cg_event_fd(g);
        int secs = optind < argc ? atoi(argv[optind]) : 5;
        if (fd < 0)
            return 3;
        struct pollfd p = {.fd = fd, .events = POLLIN | POLLPRI};
        /* cgroup.events is always readable once: read it, then wait for a change */
        char buf[256];
        if (pread(fd, buf, sizeof(buf), 0) < 0 && errno != EAGAIN)
            return 2;
        if (poll(&p, 1, secs * 1000) <= 0)
            return 1;
        printf("event\n");
    } else if (STREQ(cmd, "destroy")) {
        if (cg_destroy(g, &e) < 0)
            return die("destroy", &e);
    } else {
        fprintf(stderr, "cgdrv: unknown command '%s'\n", cmd);
        return 2;
    }
    cg_group_free(g);
    cg_manager_free(m);
    return 0;
}

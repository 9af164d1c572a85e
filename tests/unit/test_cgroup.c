/* Unit tests for core/cgroup*.c: pure conversions and parsers, device rules and the generated
 * BPF program (run through a tiny interpreter), and both backends against fake directories. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "cgroup_int.h"
#include "util.h"

static int test_weight_to_shares(void)
{
    CHECK_INT(cg_weight_to_shares(100), 1024);
    CHECK_INT(cg_weight_to_shares(1), 10);
    CHECK_INT(cg_weight_to_shares(50), 512);
    CHECK_INT(cg_weight_to_shares(10000), 102400);
    CHECK_INT(cg_weight_to_shares(UNIT_UNSET), 1024);
    return 0;
}

static int test_cpu_max(void)
{
    char buf[64];
    CHECK_INT(cg_format_cpu_max(200, 100000, buf, sizeof(buf)), 0);
    CHECK_STR(buf, "20000 100000");
    CHECK_INT(cg_format_cpu_max(1500, UNIT_UNSET, buf, sizeof(buf)), 0);
    CHECK_STR(buf, "150000 100000");
    CHECK_INT(cg_format_cpu_max(UNIT_UNSET, 50000, buf, sizeof(buf)), 0);
    CHECK_STR(buf, "max 50000");
    CHECK_INT(cg_format_cpu_max(1, 100000, buf, sizeof(buf)), 0);
    CHECK_STR(buf, "1000 100000"); /* kernel minimum quota */
    CHECK_INT(cg_cpu_quota_us(UNIT_UNSET, 100000), -1);
    CHECK_INT(cg_cpu_quota_us(500, 20000), 10000);
    CHECK_INT(cg_format_cpu_max(200, 100000, buf, 4), -ENOBUFS);
    return 0;
}

static const char mountinfo[] =
        "25 30 0:23 / /sys rw,nosuid - sysfs sysfs rw\n"
        "26 25 0:24 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755\n"
        "27 26 0:25 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n"
        "28 26 0:26 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
        "29 26 0:27 / /sys/fs/cgroup/cpu,cpuacct rw shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
        "30 26 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "31 26 0:29 / /sys/fs/cgroup/blkio rw - cgroup cgroup rw,blkio\n";

static int test_parse_mountinfo(void)
{
    char *v1[_CG_CTRL_MAX] = {0};
    char *v2 = NULL;
    CHECK_INT(cg_parse_mountinfo(mountinfo, v1, &v2), 0);
    CHECK_STR(v2, "/sys/fs/cgroup/unified");
    CHECK_STR(v1[CG_CPU], "/sys/fs/cgroup/cpu,cpuacct");
    CHECK_STR(v1[CG_CPUACCT], "/sys/fs/cgroup/cpu,cpuacct");
    CHECK_STR(v1[CG_MEMORY], "/sys/fs/cgroup/memory");
    CHECK_STR(v1[CG_IO], "/sys/fs/cgroup/blkio");
    CHECK(v1[CG_PIDS] == NULL && v1[CG_DEVICES] == NULL);
    for (int c = 0; c < _CG_CTRL_MAX; c++)
        free(v1[c]);
    free(v2);
    return 0;
}

static int test_parsers(void)
{
    char *own = NULL;
    CHECK_INT(cg_parse_self_v2("9:name=systemd:/\n4:memory:/x\n0::/system.slice/mgr.service\n",
                      &own),
            0);
    CHECK_STR(own, "/system.slice/mgr.service");
    free(own);
    CHECK_INT(cg_parse_self_v2("4:memory:/x\n", &own), -ENOENT);

    CHECK_INT(cg_parse_ctrl_list("cpuset cpu io memory hugetlb pids rdma misc\n"),
            (1 << CG_CPUSET) | (1 << CG_CPU) | (1 << CG_IO) | (1 << CG_MEMORY) |
                    (1 << CG_HUGETLB) | (1 << CG_PIDS));
    CHECK_INT(cg_parse_ctrl_list("hugetlb"), 1 << CG_HUGETLB);
    CHECK_INT(cg_parse_ctrl_list(""), 0);

    uint64_t rd, wr;
    cg_parse_io_stat("8:0 rbytes=100 wbytes=20 rios=1 wios=2\n8:16 rbytes=5 wbytes=7 rios=0\n",
            &rd, &wr);
    CHECK_INT(rd, 105);
    CHECK_INT(wr, 27);
    cg_parse_blkio_bytes("8:0 Read 4096\n8:0 Write 512\n8:0 Sync 0\n8:0 Total 4608\n"
                         "8:16 Read 4\nTotal 4612\n",
            &rd, &wr);
    CHECK_INT(rd, 4100);
    CHECK_INT(wr, 512);

    uint64_t mask[16];
    CHECK_INT(cg_parse_cpu_list("0-2,5", mask), 0);
    CHECK_INT(mask[0], 0x27);
    CHECK_INT(cg_parse_cpu_list("1\n", mask), 0);
    CHECK_INT(mask[0], 2);
    CHECK_INT(cg_parse_cpu_list("3-1", mask), -EINVAL);
    CHECK_INT(cg_parse_cpu_list("a", mask), -EINVAL);
    CHECK_INT(cg_parse_cpu_list("", mask), -EINVAL);
    CHECK_INT(cg_parse_cpu_list("2000", mask), -EINVAL);

    uint64_t kb;
    char name[32];
    CHECK_INT(cg_hugetlb_kb("2MB", &kb), 0);
    CHECK_INT(kb, 2048);
    cg_hugetlb_name(kb, name, sizeof(name));
    CHECK_STR(name, "2MB");
    CHECK_INT(cg_hugetlb_kb("1G", &kb), 0);
    cg_hugetlb_name(kb, name, sizeof(name));
    CHECK_STR(name, "1GB");
    CHECK_INT(cg_hugetlb_kb("64KB", &kb), 0);
    cg_hugetlb_name(kb, name, sizeof(name));
    CHECK_STR(name, "64KB");
    CHECK_INT(cg_hugetlb_kb("huge", &kb), -EINVAL);
    CHECK_INT(cg_hugetlb_kb("100", &kb), -EINVAL);
    return 0;
}

static int test_dev_format(void)
{
    size_t n;
    const struct cg_dev_rule *d = cg_dev_default_rules(&n);
    char line[64];
    CHECK(n >= 11);
    CHECK_INT(cg_dev_rule_format(&d[0], line, sizeof(line)), 0);
    CHECK_STR(line, "c *:* m");
    cg_dev_rule_format(&d[1], line, sizeof(line));
    CHECK_STR(line, "b *:* m");
    cg_dev_rule_format(&d[2], line, sizeof(line));
    CHECK_STR(line, "c 1:3 rwm");
    struct cg_dev_rule pts = {'c', 136, CG_DEV_WILDCARD, CG_DEV_ACC_READ | CG_DEV_ACC_WRITE};
    cg_dev_rule_format(&pts, line, sizeof(line));
    CHECK_STR(line, "c 136:* rw");

    /* a unit device is resolved from the host node */
    struct device_rule ur = {.path = (char *)"/dev/null", .access = "r"};
    struct resources r = {.devices = &ur, .n_devices = 1};
    struct cg_dev_rule *rules = NULL;
    struct err e = {0};
    CHECK_INT(cg_dev_rules(&r, &rules, &n, &e), 0);
    cg_dev_rule_format(&rules[n - 1], line, sizeof(line));
    free(rules);
    CHECK_STR(line, "c 1:3 r");
    ur.path = (char *)"/nonexistent-mgrt";
    CHECK_INT(cg_dev_rules(&r, &rules, &n, &e), -ENOENT);
    CHECK(strstr(e.msg, "/nonexistent-mgrt") != NULL);
    ur.path = (char *)"/tmp";
    CHECK_INT(cg_dev_rules(&r, &rules, &n, &e), -EINVAL);
    return 0;
}

/* Interpreter for the instruction subset the generator emits; returns r0 or -1 on anything
 * unexpected (unknown opcode, jump out of range, no exit). */
static int run_bpf(const struct bpf_insn *p, size_t n, uint32_t type, uint32_t acc, uint32_t maj,
        uint32_t min)
{
    uint32_t ctx[3] = {(acc << 16) | type, maj, min};
    uint64_t reg[11] = {0};
    size_t pc = 0;
    for (int steps = 0; steps < 10000 && pc < n; steps++) {
        const struct bpf_insn *i = &p[pc++];
        switch (i->code) {
        case BPF_LDX | BPF_W | BPF_MEM:
            if (i->src_reg != BPF_REG_1 || i->off % 4 || i->off > 8)
                return -1;
            reg[i->dst_reg] = ctx[i->off / 4];
            break;
        case BPF_ALU | BPF_AND | BPF_K: reg[i->dst_reg] = (uint32_t)reg[i->dst_reg] & (uint32_t)i->imm; break;
        case BPF_ALU | BPF_RSH | BPF_K: reg[i->dst_reg] = (uint32_t)reg[i->dst_reg] >> i->imm; break;
        case BPF_ALU | BPF_MOV | BPF_X: reg[i->dst_reg] = (uint32_t)reg[i->src_reg]; break;
        case BPF_ALU64 | BPF_MOV | BPF_K: reg[i->dst_reg] = (uint64_t)(int64_t)i->imm; break;
        case BPF_JMP | BPF_JNE | BPF_K:
            if (reg[i->dst_reg] != (uint64_t)(int64_t)i->imm)
                pc += (size_t)i->off;
            break;
        case BPF_JMP | BPF_JNE | BPF_X:
            if (reg[i->dst_reg] != reg[i->src_reg])
                pc += (size_t)i->off;
            break;
        case BPF_JMP | BPF_EXIT: return (int)reg[BPF_REG_0];
        default: return -1;
        }
    }
    return -1;
}

static int chk(int line, int ok)
{
    if (!ok)
        fprintf(stderr, "  bpf case at line %d failed\n", line);
    return ok;
}

static int test_bpf_program(void)
{
    struct device_rule ur = {.path = (char *)"/dev/null", .access = "rw"};
    struct resources r = {0};
    struct cg_dev_rule *rules = NULL;
    size_t n, ni;
    struct bpf_insn *p = NULL;
    struct err e = {0};
    CHECK_INT(cg_dev_rules(&r, &rules, &n, &e), 0);
    /* extra rules: a block device read-only, and a whole major */
    struct cg_dev_rule *more = realloc(rules, (n + 2) * sizeof(*more));
    CHECK(more);
    rules = more;
    rules[n++] = (struct cg_dev_rule){'b', 8, 0, CG_DEV_ACC_READ};
    rules[n++] = (struct cg_dev_rule){'c', 10, CG_DEV_WILDCARD, CG_DEV_ACC_READ | CG_DEV_ACC_WRITE};
    (void)ur;
    CHECK_INT(cg_dev_bpf_program(rules, n, &p, &ni), 0);
    free(rules);
    const uint32_t C = BPF_DEVCG_DEV_CHAR, B = BPF_DEVCG_DEV_BLOCK;
    const uint32_t R = BPF_DEVCG_ACC_READ, Wr = BPF_DEVCG_ACC_WRITE, M = BPF_DEVCG_ACC_MKNOD;
    int ok = 1;
    ok &= chk(__LINE__, run_bpf(p, ni, C, R | Wr, 1, 3) == 1);   /* /dev/null rw */
    ok &= chk(__LINE__, run_bpf(p, ni, C, R, 1, 9) == 1);        /* urandom */
    ok &= chk(__LINE__, run_bpf(p, ni, C, R | Wr, 136, 7) == 1); /* pts/7 */
    ok &= chk(__LINE__, run_bpf(p, ni, C, R, 1, 1) == 0);        /* /dev/mem: denied */
    ok &= chk(__LINE__, run_bpf(p, ni, C, M, 1, 1) == 1);        /* mknod of anything is allowed */
    ok &= chk(__LINE__, run_bpf(p, ni, B, M, 8, 1) == 1);
    ok &= chk(__LINE__, run_bpf(p, ni, B, R, 8, 1) == 0);  /* sda1 read: denied */
    ok &= chk(__LINE__, run_bpf(p, ni, B, R, 8, 0) == 1);  /* sda read: rule */
    ok &= chk(__LINE__, run_bpf(p, ni, B, Wr, 8, 0) == 0); /* sda write: not in the rule */
    ok &= chk(__LINE__, run_bpf(p, ni, B, R | Wr, 8, 0) == 0);
    ok &= chk(__LINE__, run_bpf(p, ni, C, R | Wr, 10, 200) == 1); /* c 10:* rw */
    ok &= chk(__LINE__, run_bpf(p, ni, C, R | M, 10, 200) == 0);  /* one rule must cover all bits (as v1) */
    ok &= chk(__LINE__, run_bpf(p, ni, B, R, 10, 200) == 0);      /* type matters */
    free(p);
    CHECK(ok);
    /* empty list: deny everything */
    CHECK_INT(cg_dev_bpf_program(NULL, 0, &p, &ni), 0);
    CHECK_INT(ni, 8);
    CHECK_INT(run_bpf(p, ni, C, R, 1, 3), 0);
    free(p);
    return 0;
}

/* ---- fake hierarchies ---- */

static char tmp[64];

static void touch(const char *dir, const char *file, const char *content)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(content, f);
        fclose(f);
    }
}

static char *slurp(const char *dir, const char *file)
{
    static char buf[4096];
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return (char *)"(missing)";
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static const char *const v1_files[] = {
        "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes",
        "memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.oom_control",
        "cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us", "cpuacct.usage",
        "cpuset.cpus", "cpuset.mems", "pids.max", "pids.current",
        "blkio.throttle.read_bps_device", "blkio.throttle.write_iops_device",
        "blkio.bfq.weight", "devices.allow", "devices.deny", "freezer.state", "cgroup.procs",
        "hugetlb.2MB.limit_in_bytes", NULL};

static int make_fake_v1(const char *roots[_CG_CTRL_MAX], char paths[][128])
{
    snprintf(tmp, sizeof(tmp), "/tmp/mgrt-cgunit.XXXXXX");
    if (!mkdtemp(tmp))
        return -1;
    for (int c = 0; c < _CG_CTRL_MAX; c++) {
        snprintf(paths[c], 128, "%s/%s", tmp, cg_ctrl_v1_name(c));
        mkdir(paths[c], 0755);
        char g[256];
        snprintf(g, sizeof(g), "%s/mgrt", paths[c]);
        mkdir(g, 0755);
        snprintf(g, sizeof(g), "%s/mgrt/web", paths[c]);
        mkdir(g, 0755);
        for (size_t i = 0; v1_files[i]; i++)
            touch(g, v1_files[i], "");
        touch(paths[c], "memory.memsw.limit_in_bytes", "");
        roots[c] = paths[c];
    }
    return 0;
}

static void fill_resources(struct resources *r)
{
    memset(r, 0, sizeof(*r));
    r->mem_max = 256 << 20;
    r->mem_high = r->mem_min = r->mem_low = r->mem_swap_max = UNIT_UNSET;
    r->mem_oom_group = -1;
    r->cpu_weight = 200;
    r->cpu_max_milli = 500;
    r->cpu_period_us = 100000;
    r->cpus = (char *)"0";
    r->pids_max = 64;
    r->io_weight = UNIT_UNSET;
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d));)
        n += de->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static int test_v1_fake(void)
{
    const char *roots[_CG_CTRL_MAX];
    char paths[_CG_CTRL_MAX][128];
    CHECK_INT(make_fake_v1(roots, paths), 0);
    struct cg_manager *m = NULL;
    struct err e = {0};
    CHECK_INT(cg_manager_open_at(roots, NULL, NULL, "mgrt", &m, &e), 0);
    CHECK_INT(cg_manager_version(m, CG_MEMORY), CG_V1);
    CHECK_INT(cg_manager_version(m, CG_DEVICES), CG_V1);
    CHECK(!cg_manager_has_v2(m));

    struct resources r;
    fill_resources(&r);
    r.mem_swap_max = 64 << 20;
    r.mem_low = 100 << 20;
    struct io_max im = {8, 0, 1048576, UNIT_UNSET, UNIT_UNSET, 100};
    r.io_max = &im;
    r.n_io_max = 1;
    r.io_weight = 100;
    struct cg_group *g = NULL;
    int rc = cg_create(m, "web", &r, &g, &e);
    if (rc < 0)
        fprintf(stderr, "  %s\n", e.msg);
    CHECK_INT(rc, 0);
    char dir[256];
#define GDIR(c) (snprintf(dir, sizeof(dir), "%s/mgrt/web", paths[c]), dir)
    CHECK_STR(slurp(GDIR(CG_MEMORY), "memory.limit_in_bytes"), "268435456");
    CHECK_STR(slurp(GDIR(CG_MEMORY), "memory.memsw.limit_in_bytes"), "335544320");
    CHECK_STR(slurp(GDIR(CG_MEMORY), "memory.soft_limit_in_bytes"), "104857600");
    CHECK_STR(slurp(GDIR(CG_CPU), "cpu.shares"), "2048");
    CHECK_STR(slurp(GDIR(CG_CPU), "cpu.cfs_period_us"), "100000");
    CHECK_STR(slurp(GDIR(CG_CPU), "cpu.cfs_quota_us"), "50000");
    CHECK_STR(slurp(GDIR(CG_CPUSET), "cpuset.cpus"), "0");
    CHECK_STR(slurp(GDIR(CG_PIDS), "pids.max"), "64");
    CHECK_STR(slurp(GDIR(CG_IO), "blkio.throttle.read_bps_device"), "8:0 1048576");
    CHECK_STR(slurp(GDIR(CG_IO), "blkio.throttle.write_iops_device"), "8:0 100");
    CHECK_STR(slurp(GDIR(CG_IO), "blkio.bfq.weight"), "500");
    CHECK_STR(slurp(GDIR(CG_DEVICES), "devices.deny"), "a");
    /* each allow line overwrote the fake file: the last one is the last default rule */
    CHECK_STR(slurp(GDIR(CG_DEVICES), "devices.allow"), "c 136:* rwm");

    /* attach writes the pid in every hierarchy */
    CHECK_INT(cg_attach(g, 4242, &e), 0);
    CHECK_STR(slurp(GDIR(CG_FREEZER), "cgroup.procs"), "4242");
    CHECK_STR(slurp(GDIR(CG_MEMORY), "cgroup.procs"), "4242");

    /* a rested group holds no v1 directory fds; each operation reopens them for itself */
    int fds_awake = open_fds();
    cg_group_rest(g);
    CHECK_INT(open_fds(), fds_awake - (int)m->n_v1);
    for (size_t i = 0; i < m->n_v1; i++)
        CHECK_INT(g->v1_dir[i], -1);
    CHECK_INT(cg_attach(g, 4343, &e), 0);
    CHECK_STR(slurp(GDIR(CG_PIDS), "cgroup.procs"), "4343");
    CHECK_INT(open_fds(), fds_awake - (int)m->n_v1);

    /* live update touches only what is set */
    struct resources u;
    fill_resources(&u);
    u.mem_max = 128 << 20;
    u.cpu_weight = u.cpu_max_milli = u.pids_max = UNIT_UNSET;
    u.cpus = NULL;
    CHECK_INT(cg_update(g, &u, &e), 0);
    CHECK_STR(slurp(GDIR(CG_MEMORY), "memory.limit_in_bytes"), "134217728");
    CHECK_STR(slurp(GDIR(CG_PIDS), "pids.max"), "64");

    /* stats */
    touch(GDIR(CG_MEMORY), "memory.usage_in_bytes", "1234\n");
    touch(GDIR(CG_MEMORY), "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
    touch(GDIR(CG_CPUACCT), "cpuacct.usage", "999\n");
    touch(GDIR(CG_PIDS), "pids.current", "7\n");
    struct cg_stats s;
    CHECK_INT(cg_stats_read(g, &s, &e), 0);
    CHECK_INT(s.mem_current, 1234);
    CHECK_INT(s.oom_kills, 3);
    CHECK_INT(s.cpu_usage_ns, 999);
    CHECK_INT(s.pids_current, 7);
    CHECK(s.mem_peak == UINT64_MAX); /* empty file: unknown */
    CHECK_INT(open_fds(), fds_awake - (int)m->n_v1); /* update and stats rested it again */
    CHECK_INT(cg_destroy(g, &e), 0);
    struct stat st;
    CHECK(stat(GDIR(CG_MEMORY), &st) < 0 && errno == ENOENT);
    cg_group_free(g);
    cg_manager_free(m);
    rm_rf_at(AT_FDCWD, tmp);
    return 0;
}

static int test_v1_refusals(void)
{
    const char *roots[_CG_CTRL_MAX];
    char paths[_CG_CTRL_MAX][128];
    CHECK_INT(make_fake_v1(roots, paths), 0);
    roots[CG_PIDS] = NULL; /* this host has no pids controller */
    struct cg_manager *m = NULL;
    struct err e = {0};
    CHECK_INT(cg_manager_open_at(roots, NULL, NULL, "mgrt", &m, &e), 0);
    struct resources r;
    fill_resources(&r);
    r.mem_min = 1 << 20;
    r.mem_high = 1 << 20;
    r.mem_oom_group = 1;
    char *all = NULL;
    CHECK_INT(cg_check_resources(m, &r, &all, &e), -EOPNOTSUPP);
    CHECK(all != NULL);
    CHECK(strstr(all, "resources.memory.min: cgroup v1") != NULL);
    CHECK(strstr(all, "resources.memory.high:") != NULL);
    CHECK(strstr(all, "resources.memory.oom_group:") != NULL);
    CHECK(strstr(all, "resources.pids.max: ") != NULL);
    CHECK(strstr(e.msg, "(and 3 more)") != NULL);
    free(all);
    /* swap without max on v1 */
    fill_resources(&r);
    r.pids_max = UNIT_UNSET;
    r.mem_max = UNIT_UNSET;
    r.mem_swap_max = 1 << 20;
    CHECK_INT(cg_check_resources(m, &r, NULL, &e), -EOPNOTSUPP);
    CHECK(strstr(e.msg, "swap_max") != NULL);
    /* cg_create refuses before creating anything */
    struct cg_group *g = NULL;
    CHECK_INT(cg_create(m, "other", &r, &g, &e), -EOPNOTSUPP);
    char d[256];
    snprintf(d, sizeof(d), "%s/mgrt/other", paths[CG_MEMORY]);
    struct stat st;
    CHECK(stat(d, &st) < 0);
    CHECK_INT(cg_create(m, "../x", &r, &g, &e), -EINVAL);
    cg_manager_free(m);
    rm_rf_at(AT_FDCWD, tmp);
    return 0;
}

static const char *const v2_files[] = {"memory.max", "memory.high", "memory.low", "memory.min",
        "memory.swap.max", "memory.oom.group", "memory.current", "memory.peak", "memory.events",
        "cpu.weight", "cpu.max", "cpu.stat", "cpuset.cpus", "pids.max", "pids.current", "io.max",
        "io.weight", "io.stat", "hugetlb.2MB.max", "cgroup.procs", "cgroup.freeze",
        "cgroup.kill", "cgroup.subtree_control", NULL};

static int test_v2_fake(void)
{
    snprintf(tmp, sizeof(tmp), "/tmp/mgrt-cgunit.XXXXXX");
    CHECK(mkdtemp(tmp));
    char g2[256], p2[256];
    snprintf(p2, sizeof(p2), "%s/mgrt.slice", tmp);
    snprintf(g2, sizeof(g2), "%s/mgrt.slice/web", tmp);
    mkdir(p2, 0755);
    mkdir(g2, 0755);
    touch(tmp, "cgroup.subtree_control", "");
    touch(p2, "cgroup.subtree_control", "memory");
    for (size_t i = 0; v2_files[i]; i++)
        touch(g2, v2_files[i], "");
    touch(g2, "cgroup.events", "populated 0\nfrozen 0\n");

    struct cg_manager *m = NULL;
    struct err e = {0};
    CHECK_INT(cg_manager_open_at(NULL, tmp, "cpu memory pids io hugetlb", "mgrt.slice", &m, &e), 0);
    CHECK_INT(cg_manager_version(m, CG_MEMORY), CG_V2);
    CHECK_INT(cg_manager_version(m, CG_DEVICES), CG_V2);
    CHECK_INT(cg_manager_version(m, CG_FREEZER), CG_V2);
    CHECK_INT(cg_manager_version(m, CG_CPUSET), CG_NONE);

    struct resources r;
    fill_resources(&r);
    r.cpus = NULL;
    r.mem_high = 200 << 20;
    r.mem_low = 10 << 20;
    r.mem_min = 5 << 20;
    r.mem_swap_max = 0;
    r.mem_oom_group = 1;
    r.io_weight = 300;
    struct io_max im = {8, 16, UNIT_UNSET, 2097152, 50, UNIT_UNSET};
    r.io_max = &im;
    r.n_io_max = 1;
    char *hs[] = {(char *)"2MB"};
    uint64_t hl[] = {4 << 20};
    r.hugetlb_sizes = hs;
    r.hugetlb_limits = hl;
    r.n_hugetlb = 1;
    struct cg_group *g = NULL;
    int rc = cg_create(m, "web", &r, &g, &e);
    if (rc < 0)
        fprintf(stderr, "  %s\n", e.msg);
    CHECK_INT(rc, 0);
    CHECK(cg_clone_fd(g) >= 0);
    CHECK(!cg_needs_attach(g));
    CHECK_STR(slurp(g2, "memory.max"), "268435456");
    CHECK_STR(slurp(g2, "memory.high"), "209715200");
    CHECK_STR(slurp(g2, "memory.low"), "10485760");
    CHECK_STR(slurp(g2, "memory.min"), "5242880");
    CHECK_STR(slurp(g2, "memory.swap.max"), "0");
    CHECK_STR(slurp(g2, "memory.oom.group"), "1");
    CHECK_STR(slurp(g2, "cpu.weight"), "200");
    CHECK_STR(slurp(g2, "cpu.max"), "50000 100000");
    CHECK_STR(slurp(g2, "pids.max"), "64");
    CHECK_STR(slurp(g2, "io.weight"), "default 300");
    CHECK_STR(slurp(g2, "io.max"), "8:16 wbps=2097152 riops=50");
    CHECK_STR(slurp(g2, "hugetlb.2MB.max"), "4194304");
    /* controllers enabled on every level above the group; memory was already on in p2 */
    CHECK(strstr(slurp(tmp, "cgroup.subtree_control"), "+") != NULL);
    CHECK_STR(slurp(p2, "cgroup.subtree_control"), "+hugetlb"); /* last write to the fake file */

    CHECK_INT(cg_is_empty(g), 1);
    touch(g2, "cgroup.events", "populated 1\nfrozen 0\n");
    CHECK_INT(cg_is_empty(g), 0);
    CHECK(cg_event_fd(g) >= 0);
    touch(g2, "cgroup.events", "populated 1\nfrozen 1\n");
    CHECK_INT(cg_freeze(g, true, &e), 0);
    CHECK_STR(slurp(g2, "cgroup.freeze"), "1");
    CHECK(cg_reusable(g));
    CHECK_INT(cg_kill(g, SIGKILL, &e), 0);
    CHECK_STR(slurp(g2, "cgroup.kill"), "1");
    /* the kernel kills what is cloned into a group after cgroup.kill: never taken over */
    CHECK(!cg_reusable(g));

    touch(g2, "memory.current", "4096\n");
    touch(g2, "memory.peak", "8192\n");
    touch(g2, "memory.events", "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n");
    touch(g2, "cpu.stat", "usage_usec 1500\nuser_usec 1000\n");
    touch(g2, "io.stat", "8:0 rbytes=10 wbytes=20 rios=1 wios=1\n");
    struct cg_stats s;
    CHECK_INT(cg_stats_read(g, &s, &e), 0);
    CHECK_INT(s.mem_current, 4096);
    CHECK_INT(s.mem_peak, 8192);
    CHECK_INT(s.oom_kills, 1);
    CHECK_INT(s.cpu_usage_ns, 1500000);
    CHECK_INT(s.io_read_bytes, 10);
    CHECK_INT(s.io_write_bytes, 20);

    /* reclaim keeps listed names, removes the others, never looks outside the parent */
    char other[256], outside[256];
    snprintf(other, sizeof(other), "%s/mgrt.slice/old", tmp);
    snprintf(outside, sizeof(outside), "%s/process_api", tmp);
    mkdir(other, 0755);
    touch(other, "cgroup.events", "populated 0\n");
    mkdir(outside, 0755);
    const char *keep[] = {"web", NULL};
    CHECK_INT(cg_reclaim(m, keep, &e), 1);
    struct stat st;
    CHECK(stat(other, &st) < 0);
    CHECK(stat(outside, &st) == 0);
    CHECK(stat(g2, &st) == 0);

    CHECK_INT(cg_destroy(g, &e), 0);
    CHECK(stat(g2, &st) < 0);
    cg_group_free(g);
    cg_manager_free(m);
    rm_rf_at(AT_FDCWD, tmp);
    return 0;
}

static int test_v2_missing_controller(void)
{
    /* hybrid host like the dev machine: v2 offers only hugetlb, no v1 pids */
    snprintf(tmp, sizeof(tmp), "/tmp/mgrt-cgunit.XXXXXX");
    CHECK(mkdtemp(tmp));
    struct cg_manager *m = NULL;
    struct err e = {0};
    CHECK_INT(cg_manager_open_at(NULL, tmp, "hugetlb", NULL, &m, &e), 0);
    CHECK_STR(cg_manager_parent(m, CG_V2), "mgr.slice");
    CHECK_STR(cg_manager_parent(m, CG_V1), "mgr");
    CHECK_INT(cg_manager_version(m, CG_HUGETLB), CG_V2);
    CHECK_INT(cg_manager_version(m, CG_PIDS), CG_NONE);
    struct resources r;
    fill_resources(&r);
    r.mem_max = r.cpu_weight = r.cpu_max_milli = UNIT_UNSET;
    r.cpus = NULL;
    struct unit u = {.kind = UNIT_CONTAINER, .name = (char *)"db", .res = r};
    CHECK_INT(cg_check_unit(m, &u, &e), -EOPNOTSUPP);
    CHECK(strstr(e.msg, "unit 'db': resources.pids.max:") != NULL);
    CHECK(strstr(e.msg, "does not offer 'pids'") != NULL);
    cg_manager_free(m);
    rm_rf_at(AT_FDCWD, tmp);
    CHECK_INT(cg_manager_open_at(NULL, NULL, NULL, "../etc", &m, &e), -EINVAL);
    return 0;
}

static int test_hybrid_decision(void)
{
    /* the development host: v1 everything, cgroup2 with only hugetlb */
    const char *roots[_CG_CTRL_MAX];
    char paths[_CG_CTRL_MAX][128];
    CHECK_INT(make_fake_v1(roots, paths), 0);
    roots[CG_HUGETLB] = NULL;
    char v2[128];
    snprintf(v2, sizeof(v2), "%s/unified", tmp);
    mkdir(v2, 0755);
    struct cg_manager *m = NULL;
    struct err e = {0};
    CHECK_INT(cg_manager_open_at(roots, v2, "hugetlb", "mgrt", &m, &e), 0);
    CHECK_INT(cg_manager_version(m, CG_MEMORY), CG_V1);
    CHECK_INT(cg_manager_version(m, CG_HUGETLB), CG_V2);
    CHECK_INT(cg_manager_version(m, CG_DEVICES), CG_V1);
    CHECK_INT(cg_manager_version(m, CG_FREEZER), CG_V1);
    CHECK_INT(cg_manager_version(m, CG_CPUACCT), CG_V1);
    CHECK(cg_manager_has_v2(m));
    cg_manager_free(m);
    /* without the v1 devices/freezer hierarchies the v2 group serves them (BPF, cgroup.freeze) */
    roots[CG_DEVICES] = roots[CG_FREEZER] = NULL;
    CHECK_INT(cg_manager_open_at(roots, v2, "hugetlb", "mgrt", &m, &e), 0);
    CHECK_INT(cg_manager_version(m, CG_DEVICES), CG_V2);
    CHECK_INT(cg_manager_version(m, CG_FREEZER), CG_V2);
    CHECK_INT(cg_manager_version(m, CG_PIDS), CG_V1);
    cg_manager_free(m);
    /* a controller in both: v2 wins where v2 really offers it */
    CHECK_INT(cg_manager_open_at(roots, v2, "memory pids", "mgrt", &m, &e), 0);
    CHECK_INT(cg_manager_version(m, CG_MEMORY), CG_V2);
    CHECK_INT(cg_manager_version(m, CG_CPU), CG_V1);
    cg_manager_free(m);
    rm_rf_at(AT_FDCWD, tmp);
    return 0;
}

int main(void)
{
    RUN(test_weight_to_shares);
    RUN(test_cpu_max);
    RUN(test_parse_mountinfo);
    RUN(test_parsers);
    RUN(test_dev_format);
    RUN(test_bpf_program);
    RUN(test_v1_fake);
    RUN(test_v1_refusals);
    RUN(test_v2_fake);
    RUN(test_v2_missing_controller);
    RUN(test_hybrid_decision);
    return HARNESS_END();
}

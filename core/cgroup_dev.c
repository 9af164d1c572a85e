/* Device access: the rule list (default OCI allow-list + the unit's devices), its v1
 * devices.allow spelling, and the v2 BPF_PROG_TYPE_CGROUP_DEVICE program generated from it
 * (default deny, first matching allow rule returns 1), loaded and attached with bpf(2). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/bpf.h>

#include "cgroup_int.h"
#include "sys.h"
#include "util.h"

#define W   CG_DEV_WILDCARD
#define RWM (CG_DEV_ACC_READ | CG_DEV_ACC_WRITE | CG_DEV_ACC_MKNOD)

/* runc's default allow-list (libcontainer/specconv AllowedDevices): mknod of any node (opening
 * it still needs an allow rule), and the standard /dev nodes the container's /dev gets. */
static const struct cg_dev_rule default_rules[] = {
        {'c', W, W, CG_DEV_ACC_MKNOD},
        {'b', W, W, CG_DEV_ACC_MKNOD},
        {'c', 1, 3, RWM},   /* /dev/null */
        {'c', 1, 5, RWM},   /* /dev/zero */
        {'c', 1, 7, RWM},   /* /dev/full */
        {'c', 1, 8, RWM},   /* /dev/random */
        {'c', 1, 9, RWM},   /* /dev/urandom */
        {'c', 5, 0, RWM},   /* /dev/tty */
        {'c', 5, 1, RWM},   /* /dev/console */
        {'c', 5, 2, RWM},   /* /dev/ptmx */
        {'c', 136, W, RWM}, /* /dev/pts/N */
};

const struct cg_dev_rule *cg_dev_default_rules(size_t *ret_n)
{
    *ret_n = ARRAY_SIZE(default_rules);
    return default_rules;
}

static unsigned parse_access(const char *s)
{
    unsigned a = 0;
    for (; s && *s; s++)
        a |= *s == 'r'   ? CG_DEV_ACC_READ
             : *s == 'w' ? CG_DEV_ACC_WRITE
             : *s == 'm' ? CG_DEV_ACC_MKNOD
                         : 0;
    return a ? a : RWM;
}

int cg_dev_rules(const struct resources *r, struct cg_dev_rule **ret, size_t *ret_n,
                 struct err *err)
{
    size_t n = ARRAY_SIZE(default_rules) + r->n_devices;
    struct cg_dev_rule *v = calloc(n, sizeof(*v));
    if (!v)
        return err_set(err, ENOMEM, "device rules");
    memcpy(v, default_rules, sizeof(default_rules));
    size_t k = ARRAY_SIZE(default_rules);
    for (size_t i = 0; i < r->n_devices; i++) {
        struct stat st;
        const char *path = r->devices[i].path;
        if (stat(path, &st) < 0) {
            free(v);
            return err_set(err, errno, "resources.devices: '%s'", path);
        }
        if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
            free(v);
            return err_setx(err, EINVAL, "resources.devices: '%s' is not a device node", path);
        }
        v[k++] = (struct cg_dev_rule){
                .type = S_ISCHR(st.st_mode) ? 'c' : 'b',
                .major = major(st.st_rdev),
                .minor = minor(st.st_rdev),
                .access = parse_access(r->devices[i].access),
        };
    }
    *ret = v;
    *ret_n = k;
    return 0;
}

int cg_dev_rule_format(const struct cg_dev_rule *r, char *buf, size_t len)
{
    char maj[24] = "*", min[24] = "*", acc[4];
    size_t a = 0;
    if (r->major != W)
        snprintf(maj, sizeof(maj), "%" PRId64, r->major);
    if (r->minor != W)
        snprintf(min, sizeof(min), "%" PRId64, r->minor);
    if (r->access & CG_DEV_ACC_READ)
        acc[a++] = 'r';
    if (r->access & CG_DEV_ACC_WRITE)
        acc[a++] = 'w';
    if (r->access & CG_DEV_ACC_MKNOD)
        acc[a++] = 'm';
    acc[a] = '\0';
    int n = snprintf(buf, len, "%c %s:%s %s", r->type, maj, min, acc);
    return n < 0 || (size_t)n >= len ? -ENOBUFS : 0;
}

/* ---- BPF program ---- */

#define INSN(c, d, s, o, i) \
    ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define LDX_W(dst, src, off)  INSN(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0)
#define ALU32_K(op, dst, imm) INSN(BPF_ALU | (op) | BPF_K, dst, 0, 0, imm)
#define MOV32_X(dst, src)     INSN(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0)
#define MOV64_K(dst, imm)     INSN(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
#define JNE_K(dst, imm, off)  INSN(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm)
#define JNE_X(dst, src, off)  INSN(BPF_JMP | BPF_JNE | BPF_X, dst, src, off, 0)
#define EXIT_INSN()           INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

int cg_dev_bpf_program(const struct cg_dev_rule *rules, size_t n, struct bpf_insn **ret,
                       size_t *ret_n)
{
    /* prologue 6 + at most 8 per rule + epilogue 2 */
    struct bpf_insn *p = calloc(6 + 8 * n + 2, sizeof(*p));
    if (!p)
        return -ENOMEM;
    size_t k = 0;
    /* struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major, minor; } */
    p[k++] = LDX_W(BPF_REG_2, BPF_REG_1, 0);
    p[k++] = ALU32_K(BPF_AND, BPF_REG_2, 0xffff); /* r2 = type */
    p[k++] = LDX_W(BPF_REG_3, BPF_REG_1, 0);
    p[k++] = ALU32_K(BPF_RSH, BPF_REG_3, 16); /* r3 = requested access */
    p[k++] = LDX_W(BPF_REG_4, BPF_REG_1, 4);  /* r4 = major */
    p[k++] = LDX_W(BPF_REG_5, BPF_REG_1, 8);  /* r5 = minor */
    for (size_t i = 0; i < n; i++) {
        const struct cg_dev_rule *r = &rules[i];
        struct bpf_insn blk[8];
        size_t b = 0;
        int jumps[4], nj = 0;
        if (r->type == 'c' || r->type == 'b') {
            jumps[nj++] = (int)b;
            blk[b++] =
                    JNE_K(BPF_REG_2, r->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK, 0);
        }
        if ((r->access & RWM) != RWM) {
            /* allowed only when every requested bit is in the rule: (req & rule) == req */
            blk[b++] = MOV32_X(BPF_REG_1, BPF_REG_3);
            blk[b++] = ALU32_K(BPF_AND, BPF_REG_1, (int32_t)r->access);
            jumps[nj++] = (int)b;
            blk[b++] = JNE_X(BPF_REG_1, BPF_REG_3, 0);
        }
        if (r->major != W) {
            jumps[nj++] = (int)b;
            blk[b++] = JNE_K(BPF_REG_4, (int32_t)r->major, 0);
        }
        if (r->minor != W) {
            jumps[nj++] = (int)b;
            blk[b++] = JNE_K(BPF_REG_5, (int32_t)r->minor, 0);
        }
        blk[b++] = MOV64_K(BPF_REG_0, 1);
        blk[b++] = EXIT_INSN();
        for (int j = 0; j < nj; j++) /* a mismatch skips to the next rule */
            blk[jumps[j]].off = (int16_t)(b - (size_t)jumps[j] - 1);
        memcpy(p + k, blk, b * sizeof(*blk));
        k += b;
    }
    p[k++] = MOV64_K(BPF_REG_0, 0);
    p[k++] = EXIT_INSN();
    *ret = p;
    *ret_n = k;
    return 0;
}

static int prog_load(const struct bpf_insn *insns, size_t n, char *log, size_t log_len)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (uint64_t)(uintptr_t)insns;
    attr.insn_cnt = (uint32_t)n;
    attr.license = (uint64_t)(uintptr_t) "GPL";
    if (log) {
        attr.log_buf = (uint64_t)(uintptr_t)log;
        attr.log_size = (uint32_t)log_len;
        attr.log_level = 1;
    }
    return sys_bpf(BPF_PROG_LOAD, &attr, sizeof(attr));
}

int cg_dev_bpf_attach(int dirfd, const struct bpf_insn *insns, size_t n, int *ret_prog_fd,
                      struct err *err)
{
    int prog = prog_load(insns, n, NULL, 0);
    if (prog < 0) {
        char log[1024] = "";
        int r = prog;
        if (r != -EPERM && r != -ENOSYS) {
            int again = prog_load(insns, n, log, sizeof(log));
            if (again >= 0)
                close(again);
        }
        return err_set(err, -r, "load device BPF program%s%.200s", *log ? ": " : "", log);
    }
    /* programs attached before (an earlier cg_update, or a previous mgr): replaced below */
    uint32_t ids[64], cnt = ARRAY_SIZE(ids);
    union bpf_attr q;
    memset(&q, 0, sizeof(q));
    q.query.target_fd = (uint32_t)dirfd;
    q.query.attach_type = BPF_CGROUP_DEVICE;
    q.query.prog_ids = (uint64_t)(uintptr_t)ids;
    q.query.prog_cnt = cnt;
    if (sys_bpf(BPF_PROG_QUERY, &q, sizeof(q)) < 0)
        q.query.prog_cnt = 0;
    cnt = q.query.prog_cnt < ARRAY_SIZE(ids) ? q.query.prog_cnt : ARRAY_SIZE(ids);

    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.target_fd = (uint32_t)dirfd;
    a.attach_bpf_fd = (uint32_t)prog;
    a.attach_type = BPF_CGROUP_DEVICE;
    a.attach_flags = BPF_F_ALLOW_MULTI;
    int r = sys_bpf(BPF_PROG_ATTACH, &a, sizeof(a));
    if (r < 0) {
        close(prog);
        return err_set(err, -r, "attach device BPF program");
    }
    for (uint32_t i = 0; i < cnt; i++) {
        union bpf_attr g;
        memset(&g, 0, sizeof(g));
        g.prog_id = ids[i];
        int old = sys_bpf(BPF_PROG_GET_FD_BY_ID, &g, sizeof(g));
        if (old < 0)
            continue;
        union bpf_attr d;
        memset(&d, 0, sizeof(d));
        d.target_fd = (uint32_t)dirfd;
        d.attach_bpf_fd = (uint32_t)old;
        d.attach_type = BPF_CGROUP_DEVICE;
        (void)sys_bpf(BPF_PROG_DETACH, &d, sizeof(d));
        close(old);
    }
    *ret_prog_fd = prog;
    return 0;
}

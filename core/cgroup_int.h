#pragma once
/* Private to core/cgroup*.c and tests/unit/test_cgroup.c: the manager/group structs, the
 * backend ops and the pure helpers (parsing, device rules, BPF program generation). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/bpf.h>

#include "cgroup.h"

#define CG_V1_HIER_MAX 16 /* distinct v1 hierarchies we track */

/* One mounted v1 hierarchy (may carry several controllers: "cpu,cpuacct"). */
struct cg_v1_hier {
    char *path;     /* mount point */
    int fd;         /* O_PATH|O_DIRECTORY of the mount point */
    unsigned ctrls; /* mask of 1 << enum cg_ctrl */
};

struct cg_manager {
    struct cg_v1_hier v1[CG_V1_HIER_MAX];
    size_t n_v1;
    int v1_of[_CG_CTRL_MAX]; /* index into v1[] or -1 */
    char *v2_path;           /* cgroup2 mount point or NULL */
    int v2_fd;               /* -1 when no v2 */
    unsigned v2_ctrls;       /* controllers the v2 parent level offers */
    enum cg_version ver[_CG_CTRL_MAX];
    char *parent_v1; /* relative to each v1 root */
    char *parent_v2; /* relative to the v2 root */
    bool delegated;
    char *v2_self; /* our own v2 group (relative), when delegated */
    bool is_fake;  /* opened with cg_manager_open_at (unit tests): skip kernel-only steps */
};

struct cg_group {
    struct cg_manager *m;
    char *name;
    int v1_dir[CG_V1_HIER_MAX]; /* group dir in each v1 hierarchy, -1 if none (or rested) */
    unsigned v1_rested;         /* cg_group_rest closed these (bit = index into m->v1[]) */
    int v2_dir;                 /* group dir in v2, -1 if none */
    int v2_events_fd;           /* cgroup.events, lazily opened */
    int oom_efd;                /* v1 eventfd for memory OOM notifications */
    int bpf_prog_fd;            /* v2 device program we attached, -1 if none */
    bool v2_killed;             /* cgroup.kill was written (see cg_reusable) */
};

/* Backend operations. Each backend acts only on the controllers assigned to its version
 * (m->ver[c]) and on its own hierarchies. */
struct cg_ops {
    const char *name;
    bool (*present)(const struct cg_manager *m);
    int (*create)(struct cg_group *g, struct err *err); /* mkdir (parents too), open dirs */
    int (*open)(struct cg_group *g, struct err *err);   /* open existing dirs */
    int (*apply)(struct cg_group *g, const struct resources *r, bool update, struct err *err);
    int (*attach)(struct cg_group *g, pid_t pid, struct err *err);
    int (*stats)(const struct cg_group *g, struct cg_stats *s, struct err *err);
    int (*destroy)(struct cg_group *g, struct err *err);
};
extern const struct cg_ops cg_v1_ops, cg_v2_ops;

/* v1/v2 control primitives used by the front end's policy. */
int cg_v1_freeze(struct cg_group *g, bool frozen, struct err *err);
int cg_v1_attach_self(struct cg_group *g, struct err *err);
int cg_v2_freeze(struct cg_group *g, bool frozen, struct err *err);
int cg_v2_kill(struct cg_group *g, struct err *err); /* cgroup.kill; -ENOENT if absent */
int cg_v2_populated(const struct cg_group *g);       /* 1/0 or -errno */
int cg_v2_events_fd(struct cg_group *g);
int cg_v1_oom_efd(struct cg_group *g);
void cg_v1_reset_peak(struct cg_group *g);
/* Reads the pids of a group dir's cgroup.procs; *ret malloc'ed, *ret_n count. */
int cg_read_pids_at(int dirfd, pid_t **ret, size_t *ret_n);
/* The dir fd to read cgroup.procs from for v1 (any hierarchy of the group), or -1. */
int cg_v1_any_dir(const struct cg_group *g);

/* I/O helpers (through dir fds; messages name the file). */
int cg_write_at(int dirfd, const char *file, const char *value, struct err *err);
int cg_write_u64_at(int dirfd, const char *file, uint64_t v, struct err *err);
int cg_read_at(int dirfd, const char *file, char *buf, size_t len); /* trailing \n cut */
int cg_read_u64_at(int dirfd, const char *file, uint64_t *ret);
/* Value of "KEY N" line in a flat-keyed file (memory.events, cpu.stat, oom_control). */
int cg_read_keyed_at(int dirfd, const char *file, const char *key, uint64_t *ret);
bool cg_file_exists_at(int dirfd, const char *file);
/* mkdir -p of rel below rootfd; returns an O_PATH directory fd of the last one (a dirfd for
 * *at() calls only).
 * *ret_created (may be NULL) is true when the last component was created by us. */
int cg_mkdir_path_at(int rootfd, const char *rel, int *ret_fd, bool *ret_created, struct err *err);

/* Shared by both backends. */
void cg_sleep_ms(long ms); /* for the short retry loops that wait on the kernel */
/* True when fd is on a filesystem of that type (CGROUP_SUPER_MAGIC or CGROUP2_SUPER_MAGIC);
 * false for a unit test's fake directory. */
bool cg_fs_is(int fd, unsigned long magic);
/* rmdir of rootfd/rel, retrying briefly on EBUSY (exiting tasks still charged).
 * Returns 0 (also when already gone) or -errno. */
int cg_rmdir_at(int rootfd, const char *rel);
/* Writes cpuset.cpus and cpuset.mems when set (same files on v1 and v2). */
int cg_apply_cpuset(int fd, const struct resources *r, struct err *err);
/* Writes hugetlb.<SIZE>.<suffix> for each limit: "limit_in_bytes" on v1, "max" on v2. */
int cg_apply_hugetlb(int fd, const struct resources *r, const char *suffix, struct err *err);

/* Pure parsers. */
/* Fills v1 mount paths (per controller) and the cgroup2 mount from /proc/self/mountinfo text. */
int cg_parse_mountinfo(const char *text, char *ret_v1[_CG_CTRL_MAX], char **ret_v2);
/* Path of our group in hierarchy "0::" (v2) from /proc/self/cgroup text; malloc'ed. */
int cg_parse_self_v2(const char *text, char **ret);
/* Mask of controllers in a "cpu io memory" list. */
unsigned cg_parse_ctrl_list(const char *s);
/* Sums "rbytes=" / "wbytes=" of io.stat text. */
void cg_parse_io_stat(const char *text, uint64_t *rd, uint64_t *wr);
/* Sums "Read N" / "Write N" totals of blkio *_service_bytes text (per-device lines). */
void cg_parse_blkio_bytes(const char *text, uint64_t *rd, uint64_t *wr);
/* Parses a cpu list "0-3,5" into a bitmask of up to 1024 cpus. */
int cg_parse_cpu_list(const char *s, uint64_t mask[16]);
/* Hugepage size "2MB"/"1GB"/"64KB" -> kB; -EINVAL. */
int cg_hugetlb_kb(const char *size, uint64_t *ret_kb);
/* cgroup file spelling of a hugepage size ("2MB", "1GB"), as the kernel names it. */
int cg_hugetlb_name(uint64_t kb, char *buf, size_t len);

/* Device rules: the default OCI allow-list plus the unit's. */
#define CG_DEV_WILDCARD (-1)
enum { CG_DEV_ACC_MKNOD = 1, CG_DEV_ACC_READ = 2, CG_DEV_ACC_WRITE = 4 };
struct cg_dev_rule {
    char type;     /* 'c', 'b' or 'a' */
    int64_t major; /* CG_DEV_WILDCARD = any */
    int64_t minor;
    unsigned access; /* CG_DEV_ACC_* bits */
};
/* Resolves r->devices (stat of each host path) and appends them to the default list.
 * *ret malloc'ed. Errors name the path. */
int cg_dev_rules(const struct resources *r, struct cg_dev_rule **ret, size_t *ret_n,
                 struct err *err);
/* The default rules (static storage). */
const struct cg_dev_rule *cg_dev_default_rules(size_t *ret_n);
/* "c 1:3 rwm", "b *:* m" (v1 devices.allow syntax). */
int cg_dev_rule_format(const struct cg_dev_rule *r, char *buf, size_t len);
/* Generates the BPF_PROG_TYPE_CGROUP_DEVICE program allowing exactly rules (default deny).
 * *ret malloc'ed array of instructions. */
int cg_dev_bpf_program(const struct cg_dev_rule *rules, size_t n, struct bpf_insn **ret,
                       size_t *ret_n);
/* Loads and attaches (BPF_F_ALLOW_MULTI) the program to dirfd; detaches programs that were
 * attached before (so an update replaces). *ret_prog_fd gets the loaded program's fd. */
int cg_dev_bpf_attach(int dirfd, const struct bpf_insn *insns, size_t n, int *ret_prog_fd,
                      struct err *err);

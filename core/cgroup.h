#pragma once
/* Cgroups: one interface, two backends (v1 per-controller hierarchies, v2 unified), chosen
 * per controller at start-up: v2 where the unified hierarchy really has the controller, else
 * v1 where it is mounted, else none. Hybrid hosts (v1 controllers + a cgroup2 mount with only
 * some controllers) are normal. Every container gets one group, created (with all limits and
 * device rules) before its process execs:
 *   v1: <v1 mount>/<parent>/<NAME> in every mounted v1 hierarchy (parent default "mgr")
 *   v2: <v2 mount>/<parent>/<NAME> (parent default "mgr.slice", or our delegated group)
 * Only groups below mgr's parent are ever created, changed or removed.
 * Errors name the key/file and the errno; see doc/cgroups.md for the key -> file mapping.
 * Thread-compatible, not thread-safe: one manager per thread of control. */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "unit.h"

/* Controllers mgr knows. Core v2 features (freeze, kill, events) need no controller. */
enum cg_ctrl {
    CG_CPU,     /* v1 cpu / v2 cpu */
    CG_CPUACCT, /* v1 only (usage); v2 reads cpu.stat, which is always there */
    CG_CPUSET,
    CG_MEMORY,
    CG_DEVICES, /* v1 devices; v2: BPF_PROG_TYPE_CGROUP_DEVICE (no controller file) */
    CG_FREEZER, /* v1 freezer; v2: cgroup.freeze (core) */
    CG_IO,      /* v1 blkio / v2 io */
    CG_PIDS,
    CG_HUGETLB,
    _CG_CTRL_MAX,
};

enum cg_version { CG_NONE = 0, CG_V1 = 1, CG_V2 = 2 };

struct cg_manager;
struct cg_group;

/* Name of a controller as v2 spells it ("cpu", "io", ...); v1 name via cg_ctrl_v1_name. */
const char *cg_ctrl_name(enum cg_ctrl c);
const char *cg_ctrl_v1_name(enum cg_ctrl c);

/* Detects the host layout from /proc/self/mountinfo and /proc/self/cgroup. parent: NULL for
 * $MGR_CGROUP_PARENT (set by `mgr --cgroup-parent`) or, when unset, the default (v1 "mgr",
 * v2 "mgr.slice" at the root, or a "containers" subgroup of our own group when systemd
 * delegated it to us), else a path relative to each hierarchy's root.
 * Creates nothing. *ret is owned by the caller (cg_manager_free). */
int cg_manager_open(const char *parent, struct cg_manager **ret, struct err *err);
/* Same, for tests: hierarchies given as directory paths (NULL = absent); v1_roots indexed by
 * enum cg_ctrl. v2_controllers: space separated list the fake v2 root offers. */
int cg_manager_open_at(const char *const v1_roots[_CG_CTRL_MAX], const char *v2_root,
                       const char *v2_controllers, const char *parent, struct cg_manager **ret,
                       struct err *err);
struct cg_manager *cg_manager_free(struct cg_manager *m);
/* Which version serves controller c on this host (CG_NONE when neither). */
enum cg_version cg_manager_version(const struct cg_manager *m, enum cg_ctrl c);
/* True if the v2 hierarchy is mounted (even without controllers: freeze/kill/events work). */
bool cg_manager_has_v2(const struct cg_manager *m);
/* True if our v2 parent is a group systemd delegated to us (Delegate=yes). */
bool cg_manager_delegated(const struct cg_manager *m);
/* The parent paths in use ("mgr", "mgr.slice", ...), borrowed. */
const char *cg_manager_parent(const struct cg_manager *m, enum cg_version v);

/* Refuses every resource key of r this host cannot enforce; the message names each key and the
 * reason ("resources.memory.min: cgroup v1 has no memory protection minimum"). Returns 0 or
 * -EOPNOTSUPP (first problem in err; all problems when ret_all != NULL: a malloc'ed text with one
 * "key: reason" per line, owned by the caller). Reads the host, creates nothing. */
int cg_check_resources(const struct cg_manager *m, const struct resources *r, char **ret_all,
                       struct err *err);
/* cg_check_resources for a unit; messages are prefixed with "unit 'NAME': ". */
int cg_check_unit(const struct cg_manager *m, const struct unit *u, struct err *err);

/* Creates the group NAME in every hierarchy (parents included, v1 cpuset cpus/mems copied from
 * the parent), applies every limit of r and the device rules (default OCI allow-list + r's).
 * An existing empty leftover group of the same name is reused. On error nothing is left.
 * *ret owned by the caller (cg_group_free, which does not remove the group). */
int cg_create(struct cg_manager *m, const char *name, const struct resources *r,
              struct cg_group **ret, struct err *err);
/* Adopts an existing group (after daemon re-exec). -ENOENT if it is not there. */
int cg_open(struct cg_manager *m, const char *name, struct cg_group **ret, struct err *err);
/* Directory fd of the v2 group for clone3(CLONE_INTO_CGROUP), or -1 when there is no v2
 * hierarchy. Borrowed: valid until cg_group_free. On hybrid hosts, cg_attach is still needed. */
int cg_clone_fd(const struct cg_group *g);
/* True if cg_attach must be called for a process started with cg_clone_fd (v1 hierarchies). */
bool cg_needs_attach(const struct cg_group *g);
/* Moves pid into the group in every hierarchy (call from the parent before releasing the child). */
int cg_attach(struct cg_group *g, pid_t pid, struct err *err);
/* Moves the calling process, which must be single-threaded (a child just cloned), into the
 * group's v1 hierarchies by writing "0" to their `tasks` files. A thread moving itself skips
 * the kernel's global threadgroup lock, whose write side waits for an RCU grace period: about
 * 0.1 ms here against 5-15 ms for cg_attach() from outside. The v2 group is left to
 * CLONE_INTO_CGROUP (or cg_attach). Allocates nothing. Needs write access to the files (the
 * host's root: not from inside a new user namespace). */
int cg_attach_self(struct cg_group *g, struct err *err);
/* Applies r to a live group (only the keys that are set; devices are replaced). */
int cg_update(struct cg_group *g, const struct resources *r, struct err *err);
/* Freezes (true) or thaws (false) every process of the group; waits until the state settles
 * (bounded). */
int cg_freeze(struct cg_group *g, bool frozen, struct err *err);
/* Sends sig to every process of the group. SIGKILL uses v2 cgroup.kill when there; otherwise
 * freezes, signals every pid in cgroup.procs, thaws (no fork race); a group that was frozen
 * already stays frozen. */
int cg_kill(struct cg_group *g, int sig, struct err *err);
/* 1 if the group has no process, 0 if it has, negative errno on error. */
int cg_is_empty(const struct cg_group *g);
/* fd to poll (POLLPRI, v2 cgroup.events) or read (v1 eventfd on memory.oom_control) for
 * populated/OOM changes; -1 when none is possible (then poll cg_is_empty). Borrowed. */
int cg_event_fd(struct cg_group *g);

struct cg_stats {
    uint64_t mem_current, mem_peak; /* bytes */
    uint64_t cpu_usage_ns;
    uint64_t pids_current;
    uint64_t io_read_bytes, io_write_bytes;
    uint64_t oom_kills; /* processes the kernel OOM killer killed in this group */
};
/* Reads accounting; fields a host cannot provide are UINT64_MAX. */
int cg_stats_read(const struct cg_group *g, struct cg_stats *ret, struct err *err);

/* Removes the group from every hierarchy (it must be empty: kill first). Only ever removes
 * groups below mgr's parent. The group handle stays valid for cg_group_free. */
int cg_destroy(struct cg_group *g, struct err *err);
/* Removes the group NAME if it exists and is empty (a kept group a crashed daemon left);
 * 0, -EBUSY when it has processes, or -errno. */
int cg_remove_empty(struct cg_manager *m, const char *name);
/* Whether an emptied group may take a new container: not after cgroup.kill was written to
 * it, since kernels (6.18 here) then kill every child born into it with CLONE_INTO_CGROUP
 * (the group's kill sequence no longer matches the parent's). */
bool cg_reusable(const struct cg_group *g);
/* Readies the group of a dead container for the next one (rt_destroy_keep_cgroup): true
 * when it is reusable (cg_reusable) and empty, after killing what is left; its peak memory
 * figure then starts afresh where the kernel can (v1's memory.max_usage_in_bytes; v2's
 * memory.peak counts from the group's creation). */
bool cg_recycle(struct cg_group *g);
/* Closes the group's v1 directory fds until its next operation, which reopens them for its
 * own duration (a few openat()s). A daemon holds a group per container, and each start
 * forks it: every fd it holds is copied and closed again, ~8 per group on a v1 host. */
void cg_group_rest(struct cg_group *g);
/* Frees the handle (closes fds); accepts NULL, returns NULL. Does not remove the group. */
struct cg_group *cg_group_free(struct cg_group *g);
/* Relative name of the group ("NAME"), borrowed. */
const char *cg_group_name(const struct cg_group *g);

/* At start-up: removes every group below mgr's parent whose name is not in keep_names
 * (NULL-terminated, may be NULL), killing what still runs there. Never looks outside mgr's
 * parent. Returns the number removed or negative errno. */
int cg_reclaim(struct cg_manager *m, const char *const *keep_names, struct err *err);

/* Pure conversions (exported for tests and doctor). */
/* v2 cpu.weight (1..10000) -> v1 cpu.shares (2..262144), systemd's linear mapping: 100 -> 1024. */
uint64_t cg_weight_to_shares(uint64_t weight);
/* cpu.max value: "QUOTA PERIOD" or "max PERIOD" for milli == UNIT_UNSET. */
int cg_format_cpu_max(uint64_t milli, uint64_t period_us, char *buf, size_t len);
/* v1 cfs quota in us for milli CPUs over period_us (-1 for unlimited). */
int64_t cg_cpu_quota_us(uint64_t milli, uint64_t period_us);

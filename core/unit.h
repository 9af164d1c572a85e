#pragma once
/* In-memory model of units (desired state). No I/O here: unit_parse.c fills it from YAML,
 * unit_check.c validates a set of them, unit_json.c gives the canonical JSON and spec hash.
 * Every struct owns what its pointers point to; unit_free() releases all of it.
 *
 * Conventions: a uint64_t limit of UNIT_UNSET means "not given" (the key was absent);
 * strings are NULL when absent; durations are milliseconds; sizes are bytes. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define UNIT_UNSET       UINT64_MAX
#define UNIT_NAME_MAX    63
#define UNIT_MAX_PER_DIR 4096

enum unit_kind { UNIT_CONTAINER, UNIT_NETWORK, _UNIT_KIND_MAX };

/* Order matters: it is the order of /proc/PID/ns names in ns_type_name(). */
enum ns_type { NS_PID, NS_NET, NS_IPC, NS_UTS, NS_MNT, NS_CGROUP, NS_USER, NS_TIME, _NS_MAX };
enum ns_mode { NS_PRIVATE, NS_HOST, NS_CONTAINER, NS_NONE /* net only: only lo */ };

struct ns_spec {
    enum ns_mode mode;
    char *target; /* container name for NS_CONTAINER */
};

/* Source position of a key or value in a unit file, 1-based. */
struct unit_pos {
    int line;
    int col;
};

/* Map from key path ("resources.memory.max", "networks[1].address", "depends_on.db") to
 * the position of its value (or of the key itself for mapping keys). Used by semantic
 * checks that run after parsing and by reconcile to explain changes. */
struct unit_loc {
    char *path;
    struct unit_pos pos;
};

enum mount_type { MOUNT_BIND, MOUNT_TMPFS, _MOUNT_TYPE_MAX };

struct mount_spec {
    enum mount_type type;
    char *source; /* bind: host path (absolute) */
    char *target; /* absolute path inside the container */
    bool readonly;
    uint64_t size;  /* tmpfs: bytes, UNIT_UNSET = kernel default */
    uint32_t mode;  /* tmpfs: permission bits, default 01777 for tmpfs */
    bool recursive; /* bind: rbind (default true) */
};

struct net_attach {
    char *name;    /* network unit name */
    char *address; /* static IPv4 address, or NULL for IPAM */
};

struct io_max {
    uint32_t major, minor;
    uint64_t rbps, wbps, riops, wiops; /* UNIT_UNSET when absent */
};

struct device_rule {
    char *path;     /* /dev/... on the host; type/major/minor read at apply time */
    char access[4]; /* subset of "rwm" */
};

struct resources {
    /* memory */
    uint64_t mem_max, mem_high, mem_low, mem_min, mem_swap_max;
    int mem_oom_group; /* -1 unset, 0, 1 */
    /* cpu */
    uint64_t cpu_weight;  /* 1..10000 (v1: mapped to shares) */
    uint64_t cpu_max_milli; /* CPUs * 1000, e.g. 0.5 -> 500; UNIT_UNSET = unlimited */
    uint64_t cpu_period_us; /* default 100000 */
    char *cpus;             /* cpuset list "0-1,3" */
    char *mems;             /* cpuset mems */
    /* pids */
    uint64_t pids_max;
    /* io */
    uint64_t io_weight;
    struct io_max *io_max;
    size_t n_io_max;
    /* devices beyond the default allow-list */
    struct device_rule *devices;
    size_t n_devices;
    /* hugetlb: page size string ("2MB") -> limit */
    char **hugetlb_sizes;
    uint64_t *hugetlb_limits;
    size_t n_hugetlb;
};

enum seccomp_mode { SECCOMP_DEFAULT, SECCOMP_UNCONFINED, SECCOMP_PROFILE };

struct rlimit_spec {
    int resource; /* RLIMIT_* */
    uint64_t soft, hard; /* RLIM_INFINITY for "unlimited" */
};

struct kv {
    char *key;
    char *value;
};

struct id_map {
    uint32_t inside, outside, count;
};

struct security {
    /* capabilities: the final effective set is computed by caps.c from these */
    char **cap_add;  /* canonical upper-case names without CAP_ ("NET_BIND_SERVICE", "ALL") */
    char **cap_drop;
    enum seccomp_mode seccomp;
    char *seccomp_profile; /* path for SECCOMP_PROFILE */
    bool no_new_privileges; /* default true */
    bool readonly_rootfs;
    char **masked_paths;   /* NULL = OCI defaults; empty vector = none */
    char **readonly_paths; /* NULL = OCI defaults */
    struct rlimit_spec *rlimits;
    size_t n_rlimits;
    struct kv *sysctl;
    size_t n_sysctl;
    char *apparmor;
    char *selinux_label;
    struct id_map *uid_map, *gid_map; /* user: private; NULL = from /etc/subuid for "mgr" */
    size_t n_uid_map, n_gid_map;
};

enum restart_policy { RESTART_NO, RESTART_ON_FAILURE, RESTART_ALWAYS, RESTART_UNLESS_STOPPED };
enum give_up_action { GIVE_UP_STAY_FAILED, GIVE_UP_REBOOT };

struct restart_spec {
    enum restart_policy policy; /* default on-failure */
    uint64_t delay_ms;          /* default 100ms */
    uint64_t max_delay_ms;      /* default 30s */
    uint64_t reset_after_ms;    /* default 60s */
    uint64_t burst;             /* default 5 */
    uint64_t interval_ms;       /* default 60s */
    int *prevent_exit_codes;
    size_t n_prevent_exit_codes;
    enum give_up_action on_give_up;
};

struct stop_spec {
    int signal;          /* default SIGTERM */
    uint64_t timeout_ms; /* default 10s */
};

enum health_kind { HEALTH_NONE, HEALTH_COMMAND, HEALTH_HTTP, HEALTH_TCP };

struct health_spec {
    enum health_kind kind;
    char **command;     /* HEALTH_COMMAND */
    uint16_t port;      /* HTTP/TCP */
    char *path;         /* HTTP, default "/" */
    uint64_t interval_ms;     /* default 10s */
    uint64_t timeout_ms;      /* default 5s */
    uint64_t retries;         /* default 3 */
    uint64_t start_period_ms; /* default 0 */
    bool on_unhealthy_restart; /* on_unhealthy: restart (default) | none */
};

enum dep_condition { DEP_STARTED, DEP_HEALTHY, DEP_COMPLETED };

struct dependency {
    char *name;
    enum dep_condition condition;
    bool restart; /* restart me when it restarts */
};

struct unit {
    enum unit_kind kind;
    char *name;
    char *path; /* file it came from (for messages) */

    /* kind: container */
    char *image;
    char **command;    /* NULL = image default (entrypoint + cmd) */
    char **env;        /* "KEY=value", in file order, NULL if none */
    char *workdir;     /* NULL = image default, else "/" */
    char *user;        /* "uid[:gid]" or names resolved in the image; NULL = image default */
    char *hostname;    /* NULL = unit name */
    struct ns_spec ns[_NS_MAX];
    struct net_attach *networks;
    size_t n_networks;
    struct mount_spec *mounts;
    size_t n_mounts;
    struct resources res;
    struct security sec;
    struct restart_spec restart;
    struct stop_spec stop;
    struct health_spec health;
    struct dependency *deps;
    size_t n_deps;
    bool critical; /* PID 1 watchdog: stays failed/unhealthy past deadline -> reboot */
    char **dns;    /* resolv.conf nameservers; NULL = host's */

    /* kind: network */
    char *bridge;
    struct in_addr subnet;
    unsigned prefix_len;
    struct in_addr gateway;

    /* positions of keys, for semantic errors */
    struct unit_loc *locs;
    size_t n_locs;
};

struct unit_set {
    struct unit **units;
    size_t n;
};

/* Frees u and everything it owns; accepts NULL, returns NULL. */
struct unit *unit_free(struct unit *u);
void unit_set_clear(struct unit_set *s);
/* Finds a unit by name in a set, or NULL. */
struct unit *unit_set_find(const struct unit_set *s, const char *name);
/* Position recorded for a key path; {0,0} when unknown. */
struct unit_pos unit_pos_of(const struct unit *u, const char *path);
/* Frees the recorded key positions (unit_pos_of answers {0,0} then): the supervisor keeps a
 * unit for as long as its container runs, the positions serve only a load's errors. */
void unit_drop_locs(struct unit *u);

const char *ns_type_name(enum ns_type t); /* "pid", "net", ... as in /proc/PID/ns */
const char *restart_policy_name(enum restart_policy p);
const char *dep_condition_name(enum dep_condition c);

#pragma once
/* Container root filesystem: a pure mount plan (rootfs_plan) and its application in the
 * child, inside the container's new mount namespace (rootfs_apply), then pivot_root.
 *
 * Layout seen by the container (targets relative to the new root):
 *   /            overlay: lowerdir = layers, upper/work on a private tmpfs (or kept dirs)
 *   /proc        proc (new instance for the container's pid namespace)
 *   /sys         sysfs, read-only (a read-only rbind of the host's when sysfs cannot be mounted)
 *   /dev         tmpfs 755: null zero full random urandom tty, fd/stdin/stdout/stderr links,
 *                pts (devpts newinstance), ptmx -> pts/ptmx, shm (tmpfs 1777), mqueue
 *   unit mounts  binds and tmpfs, in file order, then the runtime's extra binds
 *   masked       OCI default masked paths (or the unit's): /dev/null on files, empty ro tmpfs
 *                on directories; read-only paths: read-only bind onto themselves
 * Every target is resolved below the new root with openat2(RESOLVE_BENEATH): a target that
 * leaves the rootfs (through "..", or a symlink absolute or relative) is refused (EXDEV). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct unit;
struct err;
struct rt_bind;

enum rootfs_op_kind {
    RF_MOUNT,    /* new filesystem fstype on target (data, flags) */
    RF_BIND,     /* bind source (host path, or relative = inside the new root) on target */
    RF_MKNOD,    /* character device dev on target (file mode) */
    RF_SYMLINK,  /* symlink target -> source */
    RF_MASK,     /* hide target: /dev/null bind on a file, ro empty tmpfs on a directory */
    RF_READONLY, /* make the mount at target read-only (bind onto itself first) */
    RF_SYSCTL,   /* hook: security module writes sysctls (/proc mounted, /proc/sys still rw) */
    _RF_KIND_MAX,
};

struct rootfs_op {
    enum rootfs_op_kind kind;
    const char *fstype;  /* RF_MOUNT */
    const char *source;  /* RF_MOUNT: source name; RF_BIND: path; RF_SYMLINK: link text */
    const char *target;  /* relative to the new root, no leading '/', no ".." (checked) */
    char *data;          /* RF_MOUNT options, owned by the plan (may be NULL) */
    unsigned long flags; /* MS_* for RF_MOUNT */
    bool readonly;       /* RF_BIND */
    bool recursive;      /* RF_BIND: rbind */
    bool optional;       /* RF_MASK/RF_READONLY: missing target is fine */
    bool file;           /* RF_BIND/RF_MOUNT target is a file (created empty if missing) */
    uint32_t mode;       /* RF_MKNOD: file mode (S_IFCHR|perms) */
    unsigned long dev;   /* RF_MKNOD: makedev() */
};

struct rootfs_plan {
    struct rootfs_op *ops;
    size_t n;
    bool readonly_root; /* remount / read-only after everything is mounted */
};

/* Inputs of the plan that do not come from the unit. */
struct rootfs_opts {
    bool pid_ns_private; /* else /proc is still mounted (root may), but see doc */
    bool ipc_ns_private; /* mqueue only for a private ipc namespace */
    bool net_ns_private; /* sysfs only mountable in an owned net namespace */
    const struct rt_bind *binds;
    size_t n_binds;
};

/* Pure: the ordered mount operations for unit u. Validates targets (absolute, no "..", not
 * "/"), bind sources (absolute). *ret caller-owned (rootfs_plan_free). -EINVAL with err
 * naming the mount on bad input, -ENOMEM. */
int rootfs_plan(const struct unit *u, const struct rootfs_opts *o, struct rootfs_plan *ret,
                struct err *err);
void rootfs_plan_free(struct rootfs_plan *p);
/* Normalizes an absolute container path to a relative one ("/a//b/" -> "a/b") into buf.
 * -EINVAL for relative paths, ".." components, "/" itself, or too long. Pure. */
int rootfs_rel_path(const char *abs, char *buf, size_t len);
/* The OCI default masked and read-only paths (NULL-terminated, static). */
extern const char *const rootfs_default_masked[];
extern const char *const rootfs_default_readonly[];

/* Child side. Callback for RF_SYSCTL: procsys_fd is the container's /proc/sys. */
typedef int (*rootfs_sysctl_fn)(int procsys_fd, void *userdata, struct err *err);

/* Child, in its new mount namespace: makes every mount private (nothing propagates to the
 * host), mounts the overlay of lower (lowest first) on dir (upper/work on a fresh tmpfs on dir
 * unless upper_dir/work_dir are given), then applies the plan under it. Returns 0 or -errno
 * with err naming the step and the target. */
int rootfs_setup(const char *dir, char *const *lower, const char *upper_dir, const char *work_dir,
                 const struct rootfs_plan *p, rootfs_sysctl_fn sysctl_fn, void *userdata,
                 struct err *err);
/* Child: pivot_root into dir, detach the old root; on an initramfs root (pivot_root EINVAL)
 * falls back to MS_MOVE + chroot. Then the read-only remount of / when the plan says so. */
int rootfs_pivot(const char *dir, bool readonly_root, struct err *err);

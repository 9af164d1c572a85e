/* Rootfs: pure mount plan and its application in the child. See rootfs.h for the layout. */
#include "rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "err.h"
#include "image.h"
#include "runtime.h"
#include "sys.h"
#include "unit.h"
#include "util.h"

/* The OCI runtime-spec defaults (runc/crun/podman "masked" and "readonly" paths). */
const char *const rootfs_default_masked[] = {
        "/proc/acpi",
        "/proc/asound",
        "/proc/interrupts",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/sys/firmware",
        "/sys/devices/virtual/powercap",
        NULL,
};
const char *const rootfs_default_readonly[] = {
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

int rootfs_rel_path(const char *abs, char *buf, size_t len)
{
    size_t o = 0;
    const char *p = abs;

    if (!abs || abs[0] != '/')
        return -EINVAL;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        size_t l = strcspn(p, "/");
        if ((l == 1 && p[0] == '.'))
            goto next;
        if (l == 2 && p[0] == '.' && p[1] == '.')
            return -EINVAL;
        if (o + l + 2 > len)
            return -EINVAL;
        if (o)
            buf[o++] = '/';
        memcpy(buf + o, p, l);
        o += l;
    next:
        p += l;
    }
    if (o == 0)
        return -EINVAL; /* "/" itself */
    buf[o] = 0;
    return 0;
}

void rootfs_plan_free(struct rootfs_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->ops[i].data);
        free((char *)p->ops[i].target);
    }
    free(p->ops);
    p->ops = NULL;
    p->n = 0;
}

/* Appends op with a copy of the (already absolute) target made relative. */
static int add(struct rootfs_plan *p, struct rootfs_op op, const char *abs_target, struct err *err)
{
    char rel[PATH_MAX];
    if (rootfs_rel_path(abs_target, rel, sizeof(rel)) < 0) {
        free(op.data);
        return err_setx(err, EINVAL,
                        "mount target '%s': must be an absolute path without '..', not '/'",
                        abs_target);
    }
    struct rootfs_op *n = realloc(p->ops, (p->n + 1) * sizeof(*n));
    if (!n) {
        free(op.data);
        return err_set(err, ENOMEM, "mount plan");
    }
    p->ops = n;
    op.target = strdup(rel);
    if (!op.target) {
        free(op.data);
        return err_set(err, ENOMEM, "mount plan");
    }
    p->ops[p->n++] = op;
    return 0;
}

static char *dupdata(const char *s)
{
    return s ? strdup(s) : NULL;
}

int rootfs_plan(const struct unit *u, const struct rootfs_opts *o, struct rootfs_plan *ret,
                struct err *err)
{
    struct rootfs_plan p = {0};
    int r;
    const unsigned long nse = MS_NOSUID | MS_NODEV | MS_NOEXEC;

#define ADD(target, ...)                                             \
    do {                                                             \
        r = add(&p, (struct rootfs_op){__VA_ARGS__}, (target), err); \
        if (r < 0)                                                   \
            goto fail;                                               \
    } while (0)
    ADD("/proc", .kind = RF_MOUNT, .fstype = "proc", .source = "proc", .flags = nse);
    /* sysctls go in while /proc/sys is still writable, before the read-only paths. */
    ADD("/proc", .kind = RF_SYSCTL);
    ADD("/sys", .kind = RF_MOUNT, .fstype = "sysfs", .source = "sysfs", .flags = nse | MS_RDONLY);
    ADD("/dev", .kind = RF_MOUNT, .fstype = "tmpfs", .source = "tmpfs",
        .flags = MS_NOSUID | MS_STRICTATIME, .data = dupdata("mode=755,size=65536k"));
    static const struct {
        const char *name;
        unsigned maj, min;
        unsigned perm;
    } nodes[] = {
            {"/dev/null", 1, 3, 0666},   {"/dev/zero", 1, 5, 0666},    {"/dev/full", 1, 7, 0666},
            {"/dev/random", 1, 8, 0666}, {"/dev/urandom", 1, 9, 0666}, {"/dev/tty", 5, 0, 0666},
    };
    for (size_t i = 0; i < ARRAY_SIZE(nodes); i++)
        ADD(nodes[i].name, .kind = RF_MKNOD, .mode = S_IFCHR | nodes[i].perm,
            .dev = makedev(nodes[i].maj, nodes[i].min));
    ADD("/dev/fd", .kind = RF_SYMLINK, .source = "/proc/self/fd");
    ADD("/dev/stdin", .kind = RF_SYMLINK, .source = "/proc/self/fd/0");
    ADD("/dev/stdout", .kind = RF_SYMLINK, .source = "/proc/self/fd/1");
    ADD("/dev/stderr", .kind = RF_SYMLINK, .source = "/proc/self/fd/2");
    ADD("/dev/core", .kind = RF_SYMLINK, .source = "/proc/kcore");
    ADD("/dev/pts", .kind = RF_MOUNT, .fstype = "devpts", .source = "devpts",
        .flags = MS_NOSUID | MS_NOEXEC, .data = dupdata("newinstance,ptmxmode=0666,mode=0620"));
    ADD("/dev/ptmx", .kind = RF_SYMLINK, .source = "pts/ptmx");
    ADD("/dev/shm", .kind = RF_MOUNT, .fstype = "tmpfs", .source = "shm", .flags = nse,
        .data = dupdata("mode=1777,size=65536k"));
    if (o->ipc_ns_private)
        ADD("/dev/mqueue", .kind = RF_MOUNT, .fstype = "mqueue", .source = "mqueue", .flags = nse);

    for (size_t i = 0; i < u->n_mounts; i++) {
        const struct mount_spec *m = &u->mounts[i];
        if (!m->target) {
            r = err_setx(err, EINVAL, "mounts[%zu]: no target", i);
            goto fail;
        }
        if (m->type == MOUNT_BIND) {
            if (!m->source || m->source[0] != '/') {
                r = err_setx(err, EINVAL, "mount on '%s': bind source must be an absolute path",
                             m->target);
                goto fail;
            }
            ADD(m->target, .kind = RF_BIND, .source = m->source, .readonly = m->readonly,
                .recursive = m->recursive);
        } else {
            char data[64];
            if (m->size != UNIT_UNSET)
                snprintf(data, sizeof(data), "mode=%04o,size=%llu", (unsigned)m->mode,
                         (unsigned long long)m->size);
            else
                snprintf(data, sizeof(data), "mode=%04o", (unsigned)m->mode);
            ADD(m->target, .kind = RF_MOUNT, .fstype = "tmpfs", .source = "tmpfs",
                .flags = MS_NOSUID | MS_NODEV | (m->readonly ? MS_RDONLY : 0),
                .data = dupdata(data));
        }
    }
    for (size_t i = 0; i < o->n_binds; i++) {
        const struct rt_bind *b = &o->binds[i];
        if (!b->source || b->source[0] != '/') {
            r = err_setx(err, EINVAL, "bind on '%s': source must be an absolute path",
                         b->target ? b->target : "?");
            goto fail;
        }
        ADD(b->target, .kind = RF_BIND, .source = b->source, .readonly = b->readonly);
    }

    const char *const *masked =
            u->sec.masked_paths ? (const char *const *)u->sec.masked_paths : rootfs_default_masked;
    const char *const *ro = u->sec.readonly_paths ? (const char *const *)u->sec.readonly_paths
                                                  : rootfs_default_readonly;
    for (size_t i = 0; masked[i]; i++)
        ADD(masked[i], .kind = RF_MASK, .optional = true);
    for (size_t i = 0; ro[i]; i++)
        ADD(ro[i], .kind = RF_READONLY, .optional = true);
#undef ADD
    p.readonly_root = u->sec.readonly_rootfs;
    *ret = p;
    return 0;
fail:
    rootfs_plan_free(&p);
    return r;
}

/* ---- child side ---- */

static const char *fdpath(int fd, char buf[static 32])
{
    snprintf(buf, 32, "/proc/self/fd/%d", fd);
    return buf;
}

/* Opens rel below rootfd (O_PATH), never leaving it: ".." and symlinks may not climb out
 * (RESOLVE_BENEATH gives EXDEV; absolute symlinks count as leaving). Missing components are
 * created when create is set (directories, or an empty file for the last one when file). */
static int open_beneath(int rootfd, const char *rel, bool create, bool file, struct err *err)
{
    struct open_how how = {
            .flags = O_PATH | O_CLOEXEC,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    int fd = sys_openat2(rootfd, rel, &how);
    if (fd >= 0 || fd != -ENOENT || !create) {
        if (fd == -EXDEV)
            return err_setx(err, EXDEV,
                            "target '/%s' resolves outside the container root (symlink or '..')",
                            rel);
        if (fd < 0)
            return err_set(err, -fd, "open target '/%s'", rel);
        return fd;
    }
    /* Create component by component; each parent is re-resolved beneath the root. */
    char path[PATH_MAX];
    size_t len = strlen(rel);
    if (len >= sizeof(path))
        return err_setx(err, ENAMETOOLONG, "target '/%s' too long", rel);
    memcpy(path, rel, len + 1);
    _cleanup_close_ int parent = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
    if (parent < 0)
        return err_set(err, errno, "dup root fd");
    char *p = path;
    for (;;) {
        char *slash = strchr(p, '/');
        bool last = !slash;
        if (slash)
            *slash = 0;
        int c;
        if (last && file) {
            c = openat(parent, p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
            if (c >= 0)
                close(c);
        } else
            c = mkdirat(parent, p, 0755);
        if (c < 0 && errno != EEXIST)
            return err_set(err, errno, "create '/%s'", path);
        if (slash)
            *slash = '/';
        /* Re-open the prefix made so far, beneath the root (the new entry may be a symlink
         * someone planted: RESOLVE_BENEATH still holds). */
        char save = last ? 0 : *slash;
        if (!last)
            *slash = 0;
        int nfd = sys_openat2(rootfd, path, &how);
        if (!last)
            *slash = save;
        if (nfd == -EXDEV)
            return err_setx(err, EXDEV,
                            "target '/%s' resolves outside the container root (symlink or '..')",
                            rel);
        if (nfd < 0)
            return err_set(err, -nfd, "open '/%s'", path);
        if (last)
            return nfd;
        close(parent);
        parent = nfd;
        p = slash + 1;
    }
}

/* Splits rel into its parent (opened beneath root, created) and last component. */
static int open_parent(int rootfd, const char *rel, const char **ret_base, struct err *err)
{
    const char *slash = strrchr(rel, '/');
    if (!slash) {
        *ret_base = rel;
        int fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
        return fd < 0 ? err_set(err, errno, "dup root fd") : fd;
    }
    char dir[PATH_MAX];
    size_t l = (size_t)(slash - rel);
    if (l >= sizeof(dir))
        return err_setx(err, ENAMETOOLONG, "target '/%s' too long", rel);
    memcpy(dir, rel, l);
    dir[l] = 0;
    *ret_base = slash + 1;
    return open_beneath(rootfd, dir, true, false, err);
}

/* Clones source (host path, or relative = inside the new root) and attaches it on target,
 * read-only if asked, with the mount API: the attribute is set on the detached copy, so the
 * mount is never visible writable. */
static int do_bind(int rootfd, const struct rootfs_op *op, struct err *err)
{
    unsigned rec = op->recursive ? AT_RECURSIVE : 0;
    int dfd = op->source[0] == '/' ? AT_FDCWD : rootfd;
    _cleanup_close_ int tree =
            sys_open_tree(dfd, op->source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec);
    if (tree < 0)
        return err_set(err, -tree, "bind '%s' on '/%s': open source", op->source, op->target);
    struct stat st;
    if (fstat(tree, &st) < 0)
        return err_set(err, errno, "bind '%s': stat", op->source);
    if (op->readonly) {
        struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY};
        int r = sys_mount_setattr(tree, "", AT_EMPTY_PATH | rec, &a);
        if (r < 0)
            return err_set(err, -r, "bind '%s' on '/%s': make read-only", op->source, op->target);
    }
    _cleanup_close_ int t = open_beneath(rootfd, op->target, true, !S_ISDIR(st.st_mode), err);
    if (t < 0)
        return err_wrap(err, "bind '%s'", op->source);
    int r = sys_move_mount(tree, "", t, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
    if (r < 0)
        return err_set(err, -r, "bind '%s' on '/%s'", op->source, op->target);
    return 0;
}

static int do_mount(int rootfd, const struct rootfs_op *op, struct err *err)
{
    char buf[32];
    _cleanup_close_ int t = open_beneath(rootfd, op->target, true, op->file, err);
    if (t < 0)
        return err_wrap(err, "mount %s", op->fstype);
    if (mount(op->source, fdpath(t, buf), op->fstype, op->flags, op->data) == 0)
        return 0;
    int e = errno;
    if (STREQ(op->fstype, "sysfs") && (e == EPERM || e == EACCES)) {
        /* sysfs needs a net namespace we own; fall back to the host's, read-only. */
        struct rootfs_op b = {.kind = RF_BIND,
                              .source = "/sys",
                              .target = op->target,
                              .readonly = true,
                              .recursive = true};
        return do_bind(rootfd, &b, err);
    }
    return err_set(err, e, "mount %s on '/%s'", op->fstype, op->target);
}

static int do_mknod(int rootfd, const struct rootfs_op *op, struct err *err)
{
    const char *base;
    _cleanup_close_ int dir = open_parent(rootfd, op->target, &base, err);
    if (dir < 0)
        return dir;
    /* The new /dev is our own tmpfs, so the node cannot land anywhere else. */
    if (mknodat(dir, base, op->mode, op->dev) == 0) {
        if (fchmodat(dir, base, op->mode & 07777, 0) < 0) /* umask */
            return err_set(err, errno, "chmod '/%s'", op->target);
        return 0;
    }
    if (errno != EPERM)
        return err_set(err, errno, "mknod '/%s'", op->target);
    /* No CAP_MKNOD (user namespace): bind the host's node instead. */
    char host[PATH_MAX];
    snprintf(host, sizeof(host), "/%s", op->target);
    struct rootfs_op b = {.kind = RF_BIND, .source = host, .target = op->target};
    return do_bind(rootfd, &b, err);
}

static int do_symlink(int rootfd, const struct rootfs_op *op, struct err *err)
{
    const char *base;
    _cleanup_close_ int dir = open_parent(rootfd, op->target, &base, err);
    if (dir < 0)
        return dir;
    if (symlinkat(op->source, dir, base) < 0 && errno != EEXIST)
        return err_set(err, errno, "symlink '/%s'", op->target);
    return 0;
}

static int do_mask(int rootfd, const struct rootfs_op *op, struct err *err)
{
    char buf[32];
    struct err e2 = {0};
    _cleanup_close_ int t = open_beneath(rootfd, op->target, false, false, &e2);
    if (t < 0) {
        if (t == -ENOENT && op->optional)
            return 0;
        *err = e2;
        return err_wrap(err, "mask");
    }
    struct stat st;
    if (fstat(t, &st) < 0)
        return err_set(err, errno, "mask '/%s': stat", op->target);
    if (S_ISDIR(st.st_mode)) {
        if (mount("tmpfs", fdpath(t, buf), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "size=0,mode=0555") < 0)
            return err_set(err, errno, "mask '/%s'", op->target);
        return 0;
    }
    _cleanup_close_ int null =
            sys_open_tree(rootfd, "dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (null < 0)
        return err_set(err, -null, "mask '/%s': open /dev/null", op->target);
    int r = sys_move_mount(null, "", t, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
    if (r < 0)
        return err_set(err, -r, "mask '/%s'", op->target);
    return 0;
}

static int do_readonly(int rootfd, const struct rootfs_op *op, struct err *err)
{
    struct err e2 = {0};
    _cleanup_close_ int t = open_beneath(rootfd, op->target, false, false, &e2);
    if (t < 0) {
        if (t == -ENOENT && op->optional)
            return 0;
        *err = e2;
        return err_wrap(err, "read-only path");
    }
    _cleanup_close_ int tree = sys_open_tree(
            t, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
    if (tree < 0)
        return err_set(err, -tree, "read-only '/%s': clone", op->target);
    struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
    int r = sys_mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &a);
    if (r < 0)
        return err_set(err, -r, "read-only '/%s'", op->target);
    r = sys_move_mount(tree, "", t, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
    if (r < 0)
        return err_set(err, -r, "read-only '/%s': attach", op->target);
    return 0;
}

/* The overlay root. image_overlay_mount() passes the layers one "lowerdir+" at a time (new
 * mount API), so the number of layers is not capped by the one-page "lowerdir=" option; it
 * falls back to mount(2) on kernels without it. We run in the container's mount namespace
 * (after clone), which the detached fsmount() + move_mount() respects. */
static int mount_overlay(const char *dir, char *const *lower, const char *upper, const char *work,
                         struct err *err)
{
    if (strv_len(lower) == 0)
        return err_setx(err, EINVAL, "mount overlay on /: no layers");
    if (image_overlay_mount(lower, upper, work, dir, 0, err) < 0)
        return err_wrap(err, "mount overlay on /");
    return 0;
}

int rootfs_setup(const char *dir, char *const *lower, const char *upper_dir, const char *work_dir,
                 const struct rootfs_plan *p, rootfs_sysctl_fn sysctl_fn, void *userdata,
                 struct err *err)
{
    /* Our mount namespace is a copy of the host's: make every mount private first, so that
     * nothing we mount below propagates back to the host (and no host mount comes in). */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return err_set(err, errno, "make mounts private");

    char up[PATH_MAX], wk[PATH_MAX];
    if (!upper_dir) {
        /* The fast default: upper and work on a tmpfs that lives only in this mount
         * namespace. With an ext4 upper, overlay's work-dir probes cost journal updates and
         * the final unmount syncs the filesystem (tens of ms); a tmpfs does neither, and
         * vanishes with the namespace, so the host has nothing to clean up. */
        if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
            return err_set(err, errno, "mount tmpfs for the upper dir");
        snprintf(up, sizeof(up), "%s/upper", dir);
        snprintf(wk, sizeof(wk), "%s/work", dir);
        if (mkdir(up, 0755) < 0 || mkdir(wk, 0700) < 0)
            return err_set(err, errno, "create upper/work dirs");
        upper_dir = up;
        work_dir = wk;
    }
    int r = mount_overlay(dir, lower, upper_dir, work_dir, err);
    if (r < 0)
        return r;
    _cleanup_close_ int rootfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return err_set(err, errno, "open rootfs '%s'", dir);

    for (size_t i = 0; i < p->n; i++) {
        const struct rootfs_op *op = &p->ops[i];
        switch (op->kind) {
        case RF_MOUNT:
            r = do_mount(rootfd, op, err);
            break;
        case RF_BIND:
            r = do_bind(rootfd, op, err);
            break;
        case RF_MKNOD:
            r = do_mknod(rootfd, op, err);
            break;
        case RF_SYMLINK:
            r = do_symlink(rootfd, op, err);
            break;
        case RF_MASK:
            r = do_mask(rootfd, op, err);
            break;
        case RF_READONLY:
            r = do_readonly(rootfd, op, err);
            break;
        case RF_SYSCTL:
            r = 0;
            if (sysctl_fn) {
                _cleanup_close_ int ps = open_beneath(rootfd, "proc/sys", false, false, err);
                if (ps < 0)
                    return ps;
                _cleanup_close_ int psd = openat(ps, ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
                if (psd < 0)
                    return err_set(err, errno, "open /proc/sys");
                r = sysctl_fn(psd, userdata, err);
            }
            break;
        default:
            r = err_setx(err, EINVAL, "bad mount op %d", op->kind);
        }
        if (r < 0)
            return r;
    }
    return 0;
}

int rootfs_pivot(const char *dir, bool readonly_root, struct err *err)
{
    if (chdir(dir) < 0)
        return err_set(err, errno, "chdir to rootfs '%s'", dir);
    /* pivot_root(".", "."): the old root ends up stacked on the new one and is detached
     * right away (crun's trick; no put_old directory inside the image). */
    int r = sys_pivot_root(".", ".");
    if (r == 0) {
        if (umount2(".", MNT_DETACH) < 0)
            return err_set(err, errno, "detach the old root");
    } else if (r == -EINVAL) {
        /* initramfs root ("rootfs") cannot be pivoted: move the new root over it and
         * chroot. Weaker (chroot can be escaped with CAP_SYS_CHROOT); see doc/runtime.md. */
        if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
            return err_set(err, errno, "move rootfs onto / (initramfs fallback)");
        if (chroot(".") < 0)
            return err_set(err, errno, "chroot (initramfs fallback)");
    } else
        return err_set(err, -r, "pivot_root");
    if (chdir("/") < 0)
        return err_set(err, errno, "chdir /");
    if (readonly_root && mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
        return err_set(err, errno, "remount / read-only");
    return 0;
}

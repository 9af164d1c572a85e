/* User namespaces: which host ids the container's ids map to, and writing the maps. */
#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <dirent.h>
#include <grp.h>
#include <sched.h>
#include <sys/wait.h>
#include <limits.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "sys.h"
#include "unit.h"
#include "util.h"

#define USERNS_SUBID_MAX (1024 * 1024)

int userns_parse_subid(const char *text, const char *user, uint32_t *ret_start)
{
    size_t ulen = strlen(user);
    const char *line = text;

    while (line && *line) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char buf[128];

        if (len < sizeof(buf) && len > ulen + 1 && strncmp(line, user, ulen) == 0 &&
            line[ulen] == ':') {
            unsigned long long start, count;
            char extra;
            memcpy(buf, line + ulen + 1, len - ulen - 1);
            buf[len - ulen - 1] = 0;
            if (sscanf(buf, "%llu:%llu%c", &start, &count, &extra) == 2 &&
                count >= USERNS_DEFAULT_COUNT && start > 0 &&
                start + USERNS_DEFAULT_COUNT <= UINT32_MAX) {
                *ret_start = (uint32_t)start;
                return 0;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    return -ENOENT;
}

static uint32_t userns_default_start(const char *file)
{
    _cleanup_free_ char *text = NULL;
    size_t len;
    uint32_t start;

    if (read_file_at(AT_FDCWD, file, USERNS_SUBID_MAX, &text, &len) == 0 &&
        userns_parse_subid(text, USERNS_SUBID_USER, &start) == 0)
        return start;
    return USERNS_FALLBACK_START;
}

static int userns_copy_or_default(const struct id_map *m, size_t n, const char *subid_file,
                                  struct id_map **ret, size_t *ret_n)
{
    struct id_map *out;

    if (n > 0) {
        out = calloc(n, sizeof(*out));
        if (!out)
            return -ENOMEM;
        memcpy(out, m, n * sizeof(*out));
    } else {
        out = calloc(1, sizeof(*out));
        if (!out)
            return -ENOMEM;
        *out = (struct id_map){0, userns_default_start(subid_file), USERNS_DEFAULT_COUNT};
        n = 1;
    }
    *ret = out;
    *ret_n = n;
    return 0;
}

int userns_resolve_maps(const struct unit *u, struct id_map **ret_uid, size_t *ret_n_uid,
                        struct id_map **ret_gid, size_t *ret_n_gid, struct err *err)
{
    struct id_map *um = NULL, *gm = NULL;
    size_t nu = 0, ng = 0;

    if (userns_copy_or_default(u->sec.uid_map, u->sec.n_uid_map, "/etc/subuid", &um, &nu) < 0 ||
        userns_copy_or_default(u->sec.gid_map, u->sec.n_gid_map, "/etc/subgid", &gm, &ng) < 0) {
        free(um);
        return err_set(err, ENOMEM, "unit '%s': user namespace maps", u->name);
    }
    *ret_uid = um;
    *ret_n_uid = nu;
    *ret_gid = gm;
    *ret_n_gid = ng;
    return 0;
}

int userns_format_map(const struct id_map *m, size_t n, char *buf, size_t len)
{
    size_t off = 0;

    if (len == 0)
        return -ENOBUFS;
    buf[0] = 0;
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(buf + off, len - off, "%u %u %u\n", m[i].inside, m[i].outside, m[i].count);
        if (k < 0 || (size_t)k >= len - off)
            return -ENOBUFS;
        off += (size_t)k;
    }
    return (int)off;
}

static int userns_write_proc(pid_t pid, const char *file, const char *data, struct err *err)
{
    char path[64];
    size_t len = strlen(data);
    _cleanup_close_ int fd = -1;

    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(err, errno, "open %s", path);
    /* The kernel takes a map in one write only. */
    if (write(fd, data, len) != (ssize_t)len)
        return err_set(err, errno ? errno : EIO, "write %s", path);
    return 0;
}

int userns_write_maps(pid_t pid, const struct unit *u, struct err *err)
{
    _cleanup_free_ struct id_map *um = NULL, *gm = NULL;
    size_t nu, ng;
    char buf[1024];
    int r;

    r = userns_resolve_maps(u, &um, &nu, &gm, &ng, err);
    if (r < 0)
        return r;
    if (userns_format_map(um, nu, buf, sizeof(buf)) < 0)
        return err_setx(err, E2BIG, "uid_map too long");
    r = userns_write_proc(pid, "uid_map", buf, err);
    if (r < 0)
        return err_wrap(err, "uid map");
    /* An unprivileged writer may only map its own gid, and only after denying setgroups
     * (CVE-2014-8989: dropping groups could grant access). We write as root with
     * CAP_SETGID, so setgroups stays allowed and the container can set its groups. */
    if (geteuid() != 0) {
        r = userns_write_proc(pid, "setgroups", "deny", err);
        if (r < 0)
            return r;
    }
    if (userns_format_map(gm, ng, buf, sizeof(buf)) < 0)
        return err_setx(err, E2BIG, "gid_map too long");
    r = userns_write_proc(pid, "gid_map", buf, err);
    if (r < 0)
        return err_wrap(err, "gid map");
    return 0;
}

int userns_allow_traverse(const char *base, const char *path, struct err *err)
{
    size_t blen = strlen(base);
    char buf[PATH_MAX];

    if (strncmp(path, base, blen) != 0 || (path[blen] != '/' && path[blen] != 0) ||
        strlen(path) >= sizeof(buf))
        return err_setx(err, EINVAL, "'%s' is not below '%s'", path, base);
    snprintf(buf, sizeof(buf), "%s", path);
    /* From path up to and including base: each directory gets o+x. */
    for (;;) {
        struct stat st;
        if (lstat(buf, &st) < 0)
            return err_set(err, errno, "stat '%s'", buf);
        if (!S_ISDIR(st.st_mode))
            return err_setx(err, ENOTDIR, "'%s' is not a directory", buf);
        if (!(st.st_mode & S_IXOTH) && chmod(buf, (st.st_mode & 07777) | S_IXOTH) < 0)
            return err_set(err, errno, "chmod o+x '%s'", buf);
        if (strlen(buf) <= blen)
            break; /* base itself done */
        char *slash = strrchr(buf, '/');
        if (!slash || (size_t)(slash - buf) < blen)
            break;
        *slash = 0;
        if (slash == buf)
            break;
    }
    /* The parents of base are not ours to change: say which one blocks, instead of the
     * child's bare EACCES from its first mount. */
    snprintf(buf, sizeof(buf), "%s", base);
    for (char *slash = strrchr(buf, '/'); slash; slash = strrchr(buf, '/')) {
        struct stat st;
        if (slash == buf)
            slash[1] = 0;
        else
            *slash = 0;
        if (stat(buf, &st) == 0 && !(st.st_mode & S_IXOTH))
            return err_setx(
                    err, EACCES,
                    "'%s' (mode %04o) is not traversable by others: the container's root in "
                    "its user namespace could not reach its rootfs under '%s' (chmod o+x)",
                    buf, (unsigned)(st.st_mode & 07777), base);
        if (slash == buf)
            break;
    }
    return 0;
}

/* A user namespace with u's maps, held by a child that waits: returns an fd of it. */
static int userns_helper_fd(const struct unit *u, struct err *err)
{
    int ready[2], go[2], fd = -1, r;
    char c = 0, path[64];
    pid_t pid;

    if (pipe2(ready, O_CLOEXEC) < 0)
        return err_set(err, errno, "idmap helper: pipe");
    if (pipe2(go, O_CLOEXEC) < 0) {
        r = err_set(err, errno, "idmap helper: pipe");
        close(ready[0]);
        close(ready[1]);
        return r;
    }
    pid = fork();
    if (pid == 0) {
        /* Only async-signal-safe calls here: the parent may be the multi-threaded daemon. */
        close(go[1]);
        close(ready[0]);
        c = unshare(CLONE_NEWUSER) == 0 ? 'u' : 'e';
        (void)!write(ready[1], &c, 1);
        (void)!read(go[0], &c, 1);
        _exit(0);
    }
    close(ready[1]);
    close(go[0]);
    if (pid < 0) {
        r = err_set(err, errno, "idmap helper: fork");
        goto out;
    }
    if (read(ready[0], &c, 1) != 1 || c != 'u') {
        r = err_setx(err, EPERM, "idmap helper: cannot create a user namespace");
        goto out_child;
    }
    r = userns_write_maps(pid, u, err);
    if (r < 0)
        goto out_child;
    snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    r = fd < 0 ? err_set(err, errno, "idmap helper: open %s", path) : fd;
out_child:
    close(go[1]); /* EOF: the helper exits; the namespace lives on through fd */
    go[1] = -1;
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
out:
    if (go[1] >= 0)
        close(go[1]);
    close(ready[0]);
    return r;
}

int userns_idmap_layers(const struct unit *u, char *const *lower, const char *dst_dir, char ***ret,
                        struct err *err)
{
    _cleanup_close_ int nsfd = -1;
    _cleanup_strv_ char **out = NULL;
    int r;

    nsfd = userns_helper_fd(u, err);
    if (nsfd < 0)
        return nsfd;
    if (mkdir(dst_dir, 0711) < 0 && errno != EEXIST)
        return err_set(err, errno, "idmap: mkdir '%s'", dst_dir);
    for (size_t i = 0; lower && lower[i]; i++) {
        _cleanup_close_ int tfd = -1;
        char path[PATH_MAX];
        struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)nsfd};

        tfd = sys_open_tree(AT_FDCWD, lower[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tfd < 0) {
            r = err_set(err, -tfd, "idmap: open_tree '%s'", lower[i]);
            goto fail;
        }
        r = sys_mount_setattr(tfd, "", AT_EMPTY_PATH, &attr);
        if (r < 0) {
            r = err_set(err, -r, "idmap: mount_setattr(MOUNT_ATTR_IDMAP) on '%s'", lower[i]);
            goto fail;
        }
        snprintf(path, sizeof(path), "%s/%zu", dst_dir, i);
        if (mkdir(path, 0711) < 0 && errno != EEXIST) {
            r = err_set(err, errno, "idmap: mkdir '%s'", path);
            goto fail;
        }
        r = sys_move_mount(tfd, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH);
        if (r < 0) {
            r = err_set(err, -r, "idmap: attach '%s' at '%s'", lower[i], path);
            goto fail;
        }
        if (strv_push(&out, path) < 0) {
            r = err_set(err, ENOMEM, "idmap");
            goto fail;
        }
    }
    *ret = TAKE_PTR(out);
    return 0;
fail:
    userns_idmap_cleanup(dst_dir);
    return r;
}

void userns_idmap_cleanup(const char *dst_dir)
{
    _cleanup_close_ int dfd = open(dst_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    DIR *d;
    struct dirent *de;
    char path[PATH_MAX];

    if (dfd < 0)
        return;
    d = fdopendir(TAKE_FD(dfd));
    if (!d)
        return;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dst_dir, de->d_name);
        (void)umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW);
        (void)rmdir(path);
    }
    closedir(d);
    (void)rmdir(dst_dir);
}

static int userns_host_ids(const struct unit *u, uid_t *ret_uid, gid_t *ret_gid, struct err *err)
{
    _cleanup_free_ struct id_map *um = NULL, *gm = NULL;
    size_t nu, ng;
    bool have_u = false, have_g = false;
    int r;

    r = userns_resolve_maps(u, &um, &nu, &gm, &ng, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < nu && !have_u; i++)
        if (um[i].inside == 0 && um[i].count > 0) {
            *ret_uid = um[i].outside;
            have_u = true;
        }
    for (size_t i = 0; i < ng && !have_g; i++)
        if (gm[i].inside == 0 && gm[i].count > 0) {
            *ret_gid = gm[i].outside;
            have_g = true;
        }
    if (!have_u || !have_g)
        return err_setx(err, ERANGE, "the container's root (uid/gid 0) is not mapped");
    return 0;
}

static uid_t chown_uid;
static gid_t chown_gid;

static int chown_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return lchown(path, chown_uid, chown_gid) < 0 ? -errno : 0;
}

int userns_prepare_upper(const struct unit *u, const char *base, const char *dir, struct err *err)
{
    struct stat st;
    uid_t uid = 0;
    gid_t gid = 0;
    int r;

    r = userns_host_ids(u, &uid, &gid, err);
    if (r < 0)
        return r;
    r = userns_allow_traverse(base, dir, err);
    if (r < 0)
        return r;
    if (lstat(dir, &st) < 0)
        return err_set(err, errno, "stat '%s'", dir);
    if (st.st_uid == uid && st.st_gid == gid)
        return 0;
    /* One time (the next start finds dir already owned): the layer was created by us as
     * root, or kept from a run without a user namespace. FTW_PHYS: never follow a symlink
     * the container left in its layer; FTW_MOUNT: stay on this filesystem. The supervisor
     * is single-threaded where this runs, so nftw's callback state is fine static. */
    chown_uid = uid;
    chown_gid = gid;
    r = nftw(dir, chown_one, 16, FTW_PHYS | FTW_MOUNT);
    if (r != 0)
        return err_set(err, r < 0 ? -r : EIO, "chown '%s' to %u:%u for the user namespace", dir,
                       (unsigned)uid, (unsigned)gid);
    return 0;
}

int userns_become_root(struct err *err)
{
    if (setgroups(0, NULL) < 0)
        return err_set(err, errno, "user namespace: setgroups");
    if (setresgid(0, 0, 0) < 0)
        return err_set(err, errno, "user namespace: setresgid 0 (is gid 0 mapped?)");
    if (setresuid(0, 0, 0) < 0)
        return err_set(err, errno, "user namespace: setresuid 0 (is uid 0 mapped?)");
    return 0;
}

int userns_host_uid(const struct unit *u, uint32_t inside, uint32_t *ret_outside, struct err *err)
{
    _cleanup_free_ struct id_map *um = NULL, *gm = NULL;
    size_t nu, ng;
    int r;

    r = userns_resolve_maps(u, &um, &nu, &gm, &ng, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < nu; i++)
        if (inside >= um[i].inside && inside - um[i].inside < um[i].count) {
            *ret_outside = um[i].outside + (inside - um[i].inside);
            return 0;
        }
    return err_setx(err, ERANGE, "unit '%s': uid %u is not mapped", u->name, inside);
}

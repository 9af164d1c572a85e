/* Cgroup front end: host detection, the per-controller version decision, the check of what
 * a host can enforce, and the control policy (freeze/kill/empty) over the two backends. */
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "cgroup_int.h"
#include "util.h"

static const char *const ctrl_v2_names[_CG_CTRL_MAX] = {
        [CG_CPU] = "cpu",       [CG_CPUACCT] = "cpuacct", [CG_CPUSET] = "cpuset",
        [CG_MEMORY] = "memory", [CG_DEVICES] = "devices", [CG_FREEZER] = "freezer",
        [CG_IO] = "io",         [CG_PIDS] = "pids",       [CG_HUGETLB] = "hugetlb",
};
static const char *const ctrl_v1_names[_CG_CTRL_MAX] = {
        [CG_CPU] = "cpu",       [CG_CPUACCT] = "cpuacct", [CG_CPUSET] = "cpuset",
        [CG_MEMORY] = "memory", [CG_DEVICES] = "devices", [CG_FREEZER] = "freezer",
        [CG_IO] = "blkio",      [CG_PIDS] = "pids",       [CG_HUGETLB] = "hugetlb",
};

const char *cg_ctrl_name(enum cg_ctrl c)
{
    return (unsigned)c < _CG_CTRL_MAX ? ctrl_v2_names[c] : "?";
}

const char *cg_ctrl_v1_name(enum cg_ctrl c)
{
    return (unsigned)c < _CG_CTRL_MAX ? ctrl_v1_names[c] : "?";
}

/* ---- small I/O helpers (all through dir fds) ---- */

int cg_write_at(int dirfd, const char *file, const char *value, struct err *err)
{
    _cleanup_close_ int fd = openat(dirfd, file, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return err_set(err, errno, "open cgroup file '%s'", file);
    size_t len = strlen(value);
    ssize_t n = write(fd, value, len);
    if (n != (ssize_t)len)
        return err_set(err, n < 0 ? errno : EIO, "write '%s' to '%s'", value, file);
    return 0;
}

int cg_write_u64_at(int dirfd, const char *file, uint64_t v, struct err *err)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    return cg_write_at(dirfd, file, buf, err);
}

int cg_read_at(int dirfd, const char *file, char *buf, size_t len)
{
    _cleanup_close_ int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, len - 1);
    if (n < 0)
        return -errno;
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return (int)n;
}

int cg_read_u64_at(int dirfd, const char *file, uint64_t *ret)
{
    char buf[64];
    int r = cg_read_at(dirfd, file, buf, sizeof(buf));
    if (r < 0)
        return r;
    if (STREQ(buf, "max")) {
        *ret = UINT64_MAX;
        return 0;
    }
    return parse_uint64(buf, ret);
}

int cg_read_keyed_at(int dirfd, const char *file, const char *key, uint64_t *ret)
{
    _cleanup_free_ char *text = NULL;
    int r = read_file_at(dirfd, file, 1 << 20, &text, NULL);
    if (r < 0)
        return r;
    size_t kl = strlen(key);
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
            uint64_t v;
            if (parse_uint64(line + kl + 1, &v) == 0) {
                *ret = v;
                return 0;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    return -ENOENT;
}

bool cg_file_exists_at(int dirfd, const char *file)
{
    return faccessat(dirfd, file, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int cg_read_pids_at(int dirfd, pid_t **ret, size_t *ret_n)
{
    _cleanup_free_ char *text = NULL;
    int r = read_file_at(dirfd, "cgroup.procs", 16 << 20, &text, NULL);
    if (r < 0)
        return r;
    pid_t *v = NULL;
    size_t n = 0, cap = 0;
    for (char *p = text; *p;) {
        char *end;
        long pid = strtol(p, &end, 10);
        if (end == p)
            break;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            pid_t *nv = realloc(v, cap * sizeof(pid_t));
            if (!nv) {
                free(v);
                return -ENOMEM;
            }
            v = nv;
        }
        v[n++] = (pid_t)pid;
        p = end;
        while (*p == '\n')
            p++;
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

int cg_mkdir_path_at(int rootfd, const char *rel, int *ret_fd, bool *ret_created, struct err *err)
{
    _cleanup_free_ char *copy = strdup(rel);
    if (!copy)
        return err_set(err, ENOMEM, "mkdir cgroup '%s'", rel);
    _cleanup_close_ int cur = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0)
        return err_set(err, errno, "open cgroup root");
    bool created = false;
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save), *nc; c; c = nc) {
        nc = strtok_r(NULL, "/", &save);
        /* Parents usually exist: open them first (a cgroup mkdir takes the kernel's global
         * cgroup_mutex even when it fails with EEXIST). */
        int next = nc ? openat(cur, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
        if (next >= 0) {
            created = false;
            close(cur);
            cur = next;
            continue;
        }
        created = mkdirat(cur, c, 0755) == 0;
        if (!created && errno != EEXIST)
            return err_set(err, errno, "mkdir cgroup '%s' (component '%s')", rel, c);
        /* O_PATH: only ever a dirfd for *at() calls. Every container start forks the
         * daemon, and the child closes all it inherited at execve: closing a directory opened
         * for reading looks up its dnotify marks, an O_PATH one costs nothing. */
        next = openat(cur, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0)
            return err_set(err, errno, "open cgroup '%s' (component '%s')", rel, c);
        close(cur);
        cur = next;
    }
    *ret_fd = TAKE_FD(cur);
    if (ret_created)
        *ret_created = created;
    return 0;
}

void cg_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

bool cg_fs_is(int fd, unsigned long magic)
{
    struct statfs sfs;
    return fstatfs(fd, &sfs) == 0 && (unsigned long)sfs.f_type == magic;
}

int cg_rmdir_at(int rootfd, const char *rel)
{
    int r = 0;
    /* rmdir fails with EBUSY while exiting tasks are still charged: retry briefly */
    for (int t = 0; t < 100; t++) {
        r = unlinkat(rootfd, rel, AT_REMOVEDIR) < 0 ? -errno : 0;
        if (r != -EBUSY)
            break;
        cg_sleep_ms(10);
    }
    return r == -ENOENT ? 0 : r;
}

int cg_apply_cpuset(int fd, const struct resources *r, struct err *err)
{
    int rc;
    if (r->cpus && (rc = cg_write_at(fd, "cpuset.cpus", r->cpus, err)) < 0)
        return rc;
    if (r->mems && (rc = cg_write_at(fd, "cpuset.mems", r->mems, err)) < 0)
        return rc;
    return 0;
}

int cg_apply_hugetlb(int fd, const struct resources *r, const char *suffix, struct err *err)
{
    for (size_t i = 0; i < r->n_hugetlb; i++) {
        uint64_t kb;
        char name[32], file[96];
        if (cg_hugetlb_kb(r->hugetlb_sizes[i], &kb) < 0)
            return err_setx(err, EINVAL, "hugetlb page size '%s'", r->hugetlb_sizes[i]);
        cg_hugetlb_name(kb, name, sizeof(name));
        snprintf(file, sizeof(file), "hugetlb.%s.%s", name, suffix);
        int rc = cg_write_u64_at(fd, file, r->hugetlb_limits[i], err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- pure parsers ---- */

static enum cg_ctrl ctrl_from_v1_opt(const char *o)
{
    for (int c = 0; c < _CG_CTRL_MAX; c++)
        if (STREQ(o, ctrl_v1_names[c]))
            return (enum cg_ctrl)c;
    return _CG_CTRL_MAX;
}

int cg_parse_mountinfo(const char *text, char *ret_v1[_CG_CTRL_MAX], char **ret_v2)
{
    _cleanup_free_ char *copy = strdup(text);
    if (!copy)
        return -ENOMEM;
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        /* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
        char *sep = strstr(line, " - ");
        if (!sep)
            continue;
        char mnt[4096], fstype[64], superopts[1024];
        if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
            continue;
        if (sscanf(sep + 3, "%63s %*s %1023s", fstype, superopts) != 2)
            continue;
        if (STREQ(fstype, "cgroup2")) {
            if (ret_v2 && !*ret_v2 && !(*ret_v2 = strdup(mnt)))
                return -ENOMEM;
            continue;
        }
        if (!STREQ(fstype, "cgroup"))
            continue;
        char *s2 = NULL;
        for (char *o = strtok_r(superopts, ",", &s2); o; o = strtok_r(NULL, ",", &s2)) {
            enum cg_ctrl c = ctrl_from_v1_opt(o);
            if (c == _CG_CTRL_MAX || ret_v1[c])
                continue;
            if (!(ret_v1[c] = strdup(mnt)))
                return -ENOMEM;
        }
    }
    return 0;
}

int cg_parse_self_v2(const char *text, char **ret)
{
    const char *p = text;
    while (p && *p) {
        if (strncmp(p, "0::", 3) == 0) {
            const char *e = strchrnul(p + 3, '\n');
            char *s = strndup(p + 3, (size_t)(e - (p + 3)));
            if (!s)
                return -ENOMEM;
            *ret = s;
            return 0;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -ENOENT;
}

unsigned cg_parse_ctrl_list(const char *s)
{
    unsigned mask = 0;
    char word[32];
    while (s && *s) {
        while (*s == ' ' || *s == '\n')
            s++;
        size_t n = strcspn(s, " \n");
        if (n == 0)
            break;
        if (n < sizeof(word)) {
            memcpy(word, s, n);
            word[n] = '\0';
            for (int c = 0; c < _CG_CTRL_MAX; c++)
                if (STREQ(word, ctrl_v2_names[c]))
                    mask |= 1u << c;
        }
        s += n;
    }
    return mask;
}

void cg_parse_io_stat(const char *text, uint64_t *rd, uint64_t *wr)
{
    *rd = *wr = 0;
    for (const char *p = text; p && *p; p++) {
        uint64_t v;
        if (strncmp(p, "rbytes=", 7) == 0 && sscanf(p + 7, "%" SCNu64, &v) == 1)
            *rd += v;
        else if (strncmp(p, "wbytes=", 7) == 0 && sscanf(p + 7, "%" SCNu64, &v) == 1)
            *wr += v;
    }
}

void cg_parse_blkio_bytes(const char *text, uint64_t *rd, uint64_t *wr)
{
    *rd = *wr = 0;
    const char *p = text;
    while (p && *p) {
        unsigned maj, min;
        char op[16];
        uint64_t v;
        /* "8:0 Read 1234"; the "Total N" summary line has no device and is skipped */
        if (sscanf(p, "%u:%u %15s %" SCNu64, &maj, &min, op, &v) == 4) {
            if (STREQ(op, "Read"))
                *rd += v;
            else if (STREQ(op, "Write"))
                *wr += v;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
}

int cg_parse_cpu_list(const char *s, uint64_t mask[16])
{
    memset(mask, 0, 16 * sizeof(uint64_t));
    if (!s)
        return -EINVAL;
    const char *p = s;
    bool any = false;
    while (*p) {
        char *end;
        if (*p < '0' || *p > '9')
            return -EINVAL;
        unsigned long a = strtoul(p, &end, 10), b = a;
        p = end;
        if (*p == '-') {
            p++;
            if (*p < '0' || *p > '9')
                return -EINVAL;
            b = strtoul(p, &end, 10);
            p = end;
        }
        if (a > b || b >= 1024)
            return -EINVAL;
        for (unsigned long i = a; i <= b; i++)
            mask[i / 64] |= 1ULL << (i % 64);
        any = true;
        if (*p == ',')
            p++;
        else if (*p && *p != '\n')
            return -EINVAL;
        else if (*p == '\n')
            break;
    }
    return any ? 0 : -EINVAL;
}

int cg_hugetlb_kb(const char *size, uint64_t *ret_kb)
{
    uint64_t v;
    if (parse_size(size, &v) < 0 || v < 1024 || v % 1024)
        return -EINVAL;
    *ret_kb = v / 1024;
    return 0;
}

int cg_hugetlb_name(uint64_t kb, char *buf, size_t len)
{
    /* mm/hugetlb_cgroup.c: mem_fmt() uses GB, MB or KB, largest exact unit */
    if (kb >= (1 << 20) && kb % (1 << 20) == 0)
        snprintf(buf, len, "%" PRIu64 "GB", kb >> 20);
    else if (kb >= 1024 && kb % 1024 == 0)
        snprintf(buf, len, "%" PRIu64 "MB", kb >> 10);
    else
        snprintf(buf, len, "%" PRIu64 "KB", kb);
    return 0;
}

/* ---- pure conversions ---- */

uint64_t cg_weight_to_shares(uint64_t weight)
{
    /* systemd cgroup_cpu_weight_to_shares(): default weight 100 <-> default shares 1024 */
    if (weight == 0 || weight == UNIT_UNSET)
        return 1024;
    uint64_t s = weight > UINT64_MAX / 1024 ? 262144 : weight * 1024 / 100;
    if (s < 2)
        s = 2;
    if (s > 262144)
        s = 262144;
    return s;
}

static uint64_t period_or_default(uint64_t period_us)
{
    return period_us == UNIT_UNSET || period_us == 0 ? 100000 : period_us;
}

int64_t cg_cpu_quota_us(uint64_t milli, uint64_t period_us)
{
    if (milli == UNIT_UNSET)
        return -1;
    uint64_t q = milli * period_or_default(period_us) / 1000;
    if (q < 1000) /* the kernel's minimum quota is 1ms */
        q = 1000;
    return (int64_t)q;
}

int cg_format_cpu_max(uint64_t milli, uint64_t period_us, char *buf, size_t len)
{
    uint64_t period = period_or_default(period_us);
    int n;
    if (milli == UNIT_UNSET)
        n = snprintf(buf, len, "max %" PRIu64, period);
    else
        n = snprintf(buf, len, "%" PRId64 " %" PRIu64, cg_cpu_quota_us(milli, period), period);
    return n < 0 || (size_t)n >= len ? -ENOBUFS : 0;
}

/* ---- manager ---- */

static void decide_versions(struct cg_manager *m)
{
    bool v2 = m->v2_fd >= 0;
    for (int c = 0; c < _CG_CTRL_MAX; c++) {
        bool v1 = m->v1_of[c] >= 0;
        enum cg_version v = CG_NONE;
        switch (c) {
        case CG_DEVICES: /* v2 needs no controller: a BPF program on the group */
        case CG_FREEZER: /* v2 cgroup.freeze is core */
        case CG_CPUACCT: /* v2 cpu.stat usage is core */
            v = v1 ? CG_V1 : v2 ? CG_V2 : CG_NONE;
            break;
        default:
            v = v2 && (m->v2_ctrls & (1u << c)) ? CG_V2 : v1 ? CG_V1 : CG_NONE;
            break;
        }
        m->ver[c] = v;
    }
}

static struct cg_manager *manager_new(void)
{
    struct cg_manager *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->v2_fd = -1;
    for (int c = 0; c < _CG_CTRL_MAX; c++)
        m->v1_of[c] = -1;
    for (size_t i = 0; i < CG_V1_HIER_MAX; i++)
        m->v1[i].fd = -1;
    return m;
}

struct cg_manager *cg_manager_free(struct cg_manager *m)
{
    if (!m)
        return NULL;
    for (size_t i = 0; i < m->n_v1; i++) {
        free(m->v1[i].path);
        if (m->v1[i].fd >= 0)
            close(m->v1[i].fd);
    }
    free(m->v2_path);
    if (m->v2_fd >= 0)
        close(m->v2_fd);
    free(m->parent_v1);
    free(m->parent_v2);
    free(m->v2_self);
    free(m);
    return NULL;
}

static int open_dir(const char *path)
{
    return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Registers the v1 hierarchies: controllers with the same mount point share one entry. */
static int add_v1(struct cg_manager *m, char *const v1[_CG_CTRL_MAX], struct err *err)
{
    for (int c = 0; c < _CG_CTRL_MAX; c++) {
        if (!v1[c])
            continue;
        size_t i;
        for (i = 0; i < m->n_v1; i++)
            if (STREQ(m->v1[i].path, v1[c]))
                break;
        if (i == m->n_v1) {
            if (m->n_v1 == CG_V1_HIER_MAX)
                continue;
            int fd = open_dir(v1[c]);
            if (fd < 0)
                return err_set(err, errno, "open cgroup v1 hierarchy '%s'", v1[c]);
            m->v1[i].fd = fd;
            if (!(m->v1[i].path = strdup(v1[c]))) {
                close(fd);
                m->v1[i].fd = -1;
                return err_set(err, ENOMEM, "cgroup manager");
            }
            m->n_v1++;
        }
        m->v1[i].ctrls |= 1u << c;
        m->v1_of[c] = (int)i;
    }
    return 0;
}

static bool valid_rel_path(const char *p)
{
    if (!p || !*p || *p == '/' || strlen(p) > 1024)
        return false;
    for (const char *s = p; *s;) {
        size_t n = strcspn(s, "/");
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        s += n;
        if (*s == '/')
            s++;
    }
    return true;
}

static int set_parents(struct cg_manager *m, const char *parent, struct err *err)
{
    if (parent) {
        while (*parent == '/')
            parent++;
        if (!valid_rel_path(parent))
            return err_setx(err, EINVAL, "cgroup parent '%s': not a relative path without '..'",
                            parent);
        m->parent_v1 = strdup(parent);
        m->parent_v2 = strdup(parent);
    } else {
        m->parent_v1 = strdup("mgr");
        m->parent_v2 =
                m->delegated ? strdup_printf("%s/containers", m->v2_self) : strdup("mgr.slice");
    }
    if (!m->parent_v1 || !m->parent_v2)
        return err_set(err, ENOMEM, "cgroup manager");
    return 0;
}

/* controllers the v2 level that will hold our parent group can give us */
static unsigned v2_offered(struct cg_manager *m)
{
    _cleanup_free_ char *dir = strdup(m->parent_v2);
    if (!dir)
        return 0;
    char *slash = strrchr(dir, '/');
    char buf[512];
    for (;;) {
        /* the nearest existing ancestor of the parent tells what we may enable */
        _cleanup_close_ int fd = slash ? openat(m->v2_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                                       : openat(m->v2_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0 && cg_read_at(fd, "cgroup.controllers", buf, sizeof(buf)) >= 0)
            return cg_parse_ctrl_list(buf);
        if (!slash)
            return 0;
        *slash = '\0';
        slash = strrchr(dir, '/');
    }
}

int cg_manager_open(const char *parent, struct cg_manager **ret, struct err *err)
{
    if (!parent) {
        const char *env = getenv("MGR_CGROUP_PARENT");
        parent = env && *env ? env : NULL;
    }
    struct cg_manager *m = manager_new();
    if (!m)
        return err_set(err, ENOMEM, "cgroup manager");
    _cleanup_free_ char *mi = NULL, *self = NULL;
    char *v1[_CG_CTRL_MAX] = {0};
    char *v2 = NULL;
    int r = read_file_at(AT_FDCWD, "/proc/self/mountinfo", 4 << 20, &mi, NULL);
    if (r < 0) {
        err_set(err, -r, "read /proc/self/mountinfo");
        goto fail;
    }
    r = cg_parse_mountinfo(mi, v1, &v2);
    if (r < 0) {
        err_set(err, -r, "parse /proc/self/mountinfo");
        goto fail;
    }
    r = add_v1(m, v1, err);
    if (r < 0)
        goto fail;
    if (!v2 && m->n_v1 == 0) {
        /* Nothing to put a container in (no cgroup filesystem mounted): callers run
         * without cgroups rather than with groups that cannot be listed or killed. */
        r = err_setx(err, ENOENT, "no cgroup hierarchy is mounted (see /proc/self/mountinfo)");
        goto fail;
    }
    if (v2) {
        m->v2_fd = open_dir(v2);
        if (m->v2_fd < 0) {
            r = err_set(err, errno, "open cgroup2 mount '%s'", v2);
            goto fail;
        }
        m->v2_path = TAKE_PTR(v2);
        /* Delegation: systemd marks a delegated group with the trusted.delegate xattr
         * (user.delegate for user managers); then our containers live below our group. */
        if (read_file_at(AT_FDCWD, "/proc/self/cgroup", 65536, &self, NULL) >= 0) {
            _cleanup_free_ char *own = NULL;
            if (cg_parse_self_v2(self, &own) == 0 && !STREQ(own, "/")) {
                char val[8] = {0};
                _cleanup_free_ char *p = strdup_printf("%s%s", m->v2_path, own);
                if (p &&
                    (getxattr(p, "trusted.delegate", val, sizeof(val) - 1) > 0 ||
                     getxattr(p, "user.delegate", val, sizeof(val) - 1) > 0) &&
                    val[0] == '1') {
                    m->delegated = true;
                    m->v2_self = strdup(own + 1);
                    if (!m->v2_self) {
                        r = err_set(err, ENOMEM, "cgroup manager");
                        goto fail;
                    }
                }
            }
        }
    }
    r = set_parents(m, parent, err);
    if (r < 0)
        goto fail;
    if (m->v2_fd >= 0)
        m->v2_ctrls = v2_offered(m);
    decide_versions(m);
    for (int c = 0; c < _CG_CTRL_MAX; c++)
        free(v1[c]);
    *ret = m;
    return 0;
fail:
    for (int c = 0; c < _CG_CTRL_MAX; c++)
        free(v1[c]);
    free(v2);
    cg_manager_free(m);
    return r;
}

int cg_manager_open_at(const char *const v1_roots[_CG_CTRL_MAX], const char *v2_root,
                       const char *v2_controllers, const char *parent, struct cg_manager **ret,
                       struct err *err)
{
    struct cg_manager *m = manager_new();
    if (!m)
        return err_set(err, ENOMEM, "cgroup manager");
    m->is_fake = true;
    int r = 0;
    if (v1_roots)
        r = add_v1(m, (char *const *)v1_roots, err);
    if (r >= 0 && v2_root) {
        m->v2_fd = open_dir(v2_root);
        if (m->v2_fd < 0)
            r = err_set(err, errno, "open cgroup2 root '%s'", v2_root);
        else if (!(m->v2_path = strdup(v2_root)))
            r = err_set(err, ENOMEM, "cgroup manager");
        m->v2_ctrls = cg_parse_ctrl_list(v2_controllers);
    }
    if (r >= 0)
        r = set_parents(m, parent, err);
    if (r < 0) {
        cg_manager_free(m);
        return r;
    }
    decide_versions(m);
    *ret = m;
    return 0;
}

enum cg_version cg_manager_version(const struct cg_manager *m, enum cg_ctrl c)
{
    return m && (unsigned)c < _CG_CTRL_MAX ? m->ver[c] : CG_NONE;
}

bool cg_manager_has_v2(const struct cg_manager *m)
{
    return m && m->v2_fd >= 0;
}

bool cg_manager_delegated(const struct cg_manager *m)
{
    return m && m->delegated;
}

const char *cg_manager_parent(const struct cg_manager *m, enum cg_version v)
{
    return v == CG_V2 ? m->parent_v2 : m->parent_v1;
}

/* ---- what this host can enforce ---- */

struct problems {
    char *text; /* one "key: reason" per line */
    size_t len;
    int n;
    char first[400];
};

static void problem(struct problems *p, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void problem(struct problems *p, const char *key, const char *fmt, ...)
{
    char reason[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    char line[400];
    snprintf(line, sizeof(line), "%s: %s", key, reason);
    if (p->n++ == 0)
        snprintf(p->first, sizeof(p->first), "%s", line);
    size_t l = strlen(line);
    char *nt = realloc(p->text, p->len + l + 2);
    if (!nt)
        return;
    p->text = nt;
    memcpy(p->text + p->len, line, l);
    p->len += l;
    p->text[p->len++] = '\n';
    p->text[p->len] = '\0';
}

static bool need(struct problems *p, const struct cg_manager *m, enum cg_ctrl c, const char *key)
{
    if (m->ver[c] != CG_NONE)
        return true;
    if (m->v2_fd >= 0 && m->v1_of[c] < 0)
        problem(p, key,
                "no cgroup v1 hierarchy for '%s' is mounted and the cgroup v2 "
                "hierarchy does not offer '%s' to '%s'",
                ctrl_v1_names[c], ctrl_v2_names[c], m->parent_v2);
    else
        problem(p, key, "the '%s' cgroup controller is not available on this host",
                ctrl_v2_names[c]);
    return false;
}

static int v1_root(const struct cg_manager *m, enum cg_ctrl c)
{
    return m->v1_of[c] >= 0 ? m->v1[m->v1_of[c]].fd : -1;
}

/* A block device with the bfq scheduler active, or io.cost enabled: weights mean something. */
static bool io_weight_possible(const struct cg_manager *m)
{
    if (m->is_fake)
        return true;
    DIR *d = opendir("/sys/block");
    if (!d)
        return false;
    struct dirent *de;
    bool found = false;
    while (!found && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[300], buf[256];
        snprintf(path, sizeof(path), "/sys/block/%s/queue/scheduler", de->d_name);
        if (cg_read_at(AT_FDCWD, path, buf, sizeof(buf)) > 0 && strstr(buf, "[bfq]"))
            found = true;
    }
    closedir(d);
    if (found)
        return true;
    char qos[4096];
    if (m->ver[CG_IO] == CG_V2 && cg_read_at(m->v2_fd, "io.cost.qos", qos, sizeof(qos)) > 0 &&
        strstr(qos, "enable=1"))
        return true;
    return false;
}

static void check_cpus(struct problems *p, const struct cg_manager *m, const char *key,
                       const char *list, const char *file)
{
    uint64_t want[16], have[16];
    if (cg_parse_cpu_list(list, want) < 0) {
        problem(p, key, "'%s' is not a list like '0-2,4'", list);
        return;
    }
    char buf[4096];
    int fd = m->ver[CG_CPUSET] == CG_V2 ? m->v2_fd : v1_root(m, CG_CPUSET);
    if (m->is_fake || fd < 0 || cg_read_at(fd, file, buf, sizeof(buf)) <= 0 ||
        cg_parse_cpu_list(buf, have) < 0)
        return;
    for (int i = 0; i < 16; i++)
        if (want[i] & ~have[i]) {
            problem(p, key, "'%s' is not within the host's '%s' (%s)", list, file, buf);
            return;
        }
}

int cg_check_resources(const struct cg_manager *m, const struct resources *r, char **ret_all,
                       struct err *err)
{
    struct problems p = {0};
    bool v1mem = m->ver[CG_MEMORY] == CG_V1;

    if (r->mem_max != UNIT_UNSET)
        need(&p, m, CG_MEMORY, "resources.memory.max");
    if (r->mem_high != UNIT_UNSET && need(&p, m, CG_MEMORY, "resources.memory.high") && v1mem)
        problem(&p, "resources.memory.high",
                "cgroup v1 has no memory throttling limit (memory.high); use memory.max");
    if (r->mem_low != UNIT_UNSET)
        need(&p, m, CG_MEMORY, "resources.memory.low"); /* v1: soft limit */
    if (r->mem_min != UNIT_UNSET && need(&p, m, CG_MEMORY, "resources.memory.min") && v1mem)
        problem(&p, "resources.memory.min", "cgroup v1 has no hard memory protection (memory.min)");
    if (r->mem_swap_max != UNIT_UNSET && need(&p, m, CG_MEMORY, "resources.memory.swap_max")) {
        if (v1mem && !cg_file_exists_at(v1_root(m, CG_MEMORY), "memory.memsw.limit_in_bytes"))
            problem(&p, "resources.memory.swap_max",
                    "swap accounting is off (no memory.memsw.limit_in_bytes; boot with "
                    "swapaccount=1)");
        else if (v1mem && r->mem_max == UNIT_UNSET)
            problem(&p, "resources.memory.swap_max",
                    "cgroup v1 limits memory+swap together: set memory.max too");
    }
    if (r->mem_oom_group == 1 && need(&p, m, CG_MEMORY, "resources.memory.oom_group") && v1mem)
        problem(&p, "resources.memory.oom_group",
                "cgroup v1 cannot OOM-kill a whole group (memory.oom.group is v2 only)");

    if (r->cpu_weight != UNIT_UNSET)
        need(&p, m, CG_CPU, "resources.cpu.weight");
    if (r->cpu_max_milli != UNIT_UNSET && need(&p, m, CG_CPU, "resources.cpu.max") &&
        m->ver[CG_CPU] == CG_V1 && !m->is_fake &&
        !cg_file_exists_at(v1_root(m, CG_CPU), "cpu.cfs_quota_us"))
        problem(&p, "resources.cpu.max",
                "kernel without CFS bandwidth control (no cpu.cfs_quota_us)");
    if (r->cpus && need(&p, m, CG_CPUSET, "resources.cpu.cpus"))
        check_cpus(&p, m, "resources.cpu.cpus", r->cpus,
                   m->ver[CG_CPUSET] == CG_V2 ? "cpuset.cpus.effective" : "cpuset.effective_cpus");
    if (r->mems && need(&p, m, CG_CPUSET, "resources.cpu.mems"))
        check_cpus(&p, m, "resources.cpu.mems", r->mems,
                   m->ver[CG_CPUSET] == CG_V2 ? "cpuset.mems.effective" : "cpuset.effective_mems");

    if (r->pids_max != UNIT_UNSET)
        need(&p, m, CG_PIDS, "resources.pids.max");

    if (r->io_weight != UNIT_UNSET && need(&p, m, CG_IO, "resources.io.weight") &&
        !io_weight_possible(m))
        problem(&p, "resources.io.weight",
                "no block device uses the bfq scheduler%s, so io weights would be ignored",
                m->ver[CG_IO] == CG_V2 ? " and io.cost is not enabled" : "");
    for (size_t i = 0; i < r->n_io_max; i++) {
        char key[64];
        snprintf(key, sizeof(key), "resources.io.max[%zu]", i);
        if (!need(&p, m, CG_IO, key))
            break;
        char sys[64];
        snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", r->io_max[i].major, r->io_max[i].minor);
        if (!m->is_fake && access(sys, F_OK) < 0)
            problem(&p, key, "no block device %u:%u on this host", r->io_max[i].major,
                    r->io_max[i].minor);
    }

    for (size_t i = 0; i < r->n_hugetlb; i++) {
        char key[96];
        snprintf(key, sizeof(key), "resources.hugetlb.%s", r->hugetlb_sizes[i]);
        if (!need(&p, m, CG_HUGETLB, key))
            break;
        uint64_t kb;
        char path[128];
        if (cg_hugetlb_kb(r->hugetlb_sizes[i], &kb) < 0) {
            problem(&p, key, "'%s' is not a page size like '2MB'", r->hugetlb_sizes[i]);
            continue;
        }
        snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%" PRIu64 "kB", kb);
        if (!m->is_fake && access(path, F_OK) < 0)
            problem(&p, key, "the host has no %s huge pages", r->hugetlb_sizes[i]);
    }

    if (r->n_devices && need(&p, m, CG_DEVICES, "resources.devices")) {
        for (size_t i = 0; i < r->n_devices; i++) {
            char key[64];
            struct stat st;
            snprintf(key, sizeof(key), "resources.devices[%zu]", i);
            if (!m->is_fake && stat(r->devices[i].path, &st) < 0)
                problem(&p, key, "'%s': %s", r->devices[i].path, strerror(errno));
            else if (!m->is_fake && !S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
                problem(&p, key, "'%s' is not a device node", r->devices[i].path);
        }
    }

    if (p.n == 0) {
        free(p.text);
        if (ret_all)
            *ret_all = NULL;
        return 0;
    }
    if (p.n > 1)
        err_setx(err, EOPNOTSUPP, "%s (and %d more)", p.first, p.n - 1);
    else
        err_setx(err, EOPNOTSUPP, "%s", p.first);
    if (ret_all)
        *ret_all = p.text;
    else
        free(p.text);
    return -EOPNOTSUPP;
}

int cg_check_unit(const struct cg_manager *m, const struct unit *u, struct err *err)
{
    if (u->kind != UNIT_CONTAINER)
        return 0;
    int r = cg_check_resources(m, &u->res, NULL, err);
    if (r < 0)
        err_wrap(err, "unit '%s'", u->name);
    return r;
}

/* ---- groups ---- */

static const struct cg_ops *const backends[] = {&cg_v1_ops, &cg_v2_ops};

static bool valid_name(const char *name)
{
    return name && *name && strlen(name) <= 255 && !strchr(name, '/') && !STREQ(name, ".") &&
           !STREQ(name, "..") && !strchr(name, '\n');
}

static struct cg_group *group_new(struct cg_manager *m, const char *name)
{
    struct cg_group *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->m = m;
    g->v2_dir = g->v2_events_fd = g->oom_efd = g->bpf_prog_fd = -1;
    for (size_t i = 0; i < CG_V1_HIER_MAX; i++)
        g->v1_dir[i] = -1;
    if (!(g->name = strdup(name))) {
        free(g);
        return NULL;
    }
    return g;
}

struct cg_group *cg_group_free(struct cg_group *g)
{
    if (!g)
        return NULL;
    for (size_t i = 0; i < CG_V1_HIER_MAX; i++)
        if (g->v1_dir[i] >= 0)
            close(g->v1_dir[i]);
    int fds[] = {g->v2_dir, g->v2_events_fd, g->oom_efd, g->bpf_prog_fd};
    for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(g->name);
    free(g);
    return NULL;
}

void cg_group_rest(struct cg_group *g)
{
    if (!g || g->v1_rested)
        return;
    for (size_t i = 0; i < g->m->n_v1; i++) {
        if (g->v1_dir[i] >= 0) {
            close(g->v1_dir[i]);
            g->v1_dir[i] = -1;
            g->v1_rested |= 1u << i;
        }
    }
}

/* Reopens what cg_group_rest closed, for one operation: 0, *woke true when it did (the
 * caller rests the group again at its end, group_sleep), or -errno when a directory cannot
 * be opened (EMFILE...), the group then still rested. The fds are a cache of paths the
 * handle names, hence the cast for the operations that take a const group. A hierarchy whose
 * directory went away meanwhile stays -1, as after cg_open. */
static int group_wake(const struct cg_group *cg, bool *woke)
{
    struct cg_group *g = (struct cg_group *)cg;
    *woke = false;
    if (!g->v1_rested)
        return 0;
    _cleanup_free_ char *rel = strdup_printf("%s/%s", g->m->parent_v1, g->name);
    if (!rel)
        return -ENOMEM;
    for (size_t i = 0; i < g->m->n_v1; i++) {
        if (!(g->v1_rested & (1u << i)))
            continue;
        g->v1_dir[i] = openat(g->m->v1[i].fd, rel, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (g->v1_dir[i] < 0 && errno != ENOENT) {
            int e = -errno;
            for (size_t k = 0; k < i; k++)
                if (g->v1_rested & (1u << k) && g->v1_dir[k] >= 0) {
                    close(g->v1_dir[k]);
                    g->v1_dir[k] = -1;
                }
            return e;
        }
    }
    g->v1_rested = 0;
    *woke = true;
    return 0;
}

static void group_sleep(const struct cg_group *g, bool woke)
{
    if (woke)
        cg_group_rest((struct cg_group *)g);
}

/* group_wake for the operations that report through err. */
static int group_wake_err(const struct cg_group *g, bool *woke, struct err *err)
{
    int r = group_wake(g, woke);
    return r < 0 ? err_set(err, -r, "cgroup '%s': reopen", g->name) : 0;
}

const char *cg_group_name(const struct cg_group *g)
{
    return g->name;
}

int cg_create(struct cg_manager *m, const char *name, const struct resources *r,
              struct cg_group **ret, struct err *err)
{
    struct err local;
    if (!err)
        err = &local;
    if (!valid_name(name))
        return err_setx(err, EINVAL, "cgroup name '%s' is not valid", name ? name : "");
    int rc = cg_check_resources(m, r, NULL, err);
    if (rc < 0)
        return rc;
    struct cg_group *g = group_new(m, name);
    if (!g)
        return err_set(err, ENOMEM, "cgroup '%s'", name);
    /* A leftover of the same name is refused when it has processes; check before making
     * anything, so that the undo below never meets a live group. An empty one is made anew:
     * its limits are another spec's (keys this one leaves unset keep their values), and a v2
     * group killed with cgroup.kill kills what is cloned into it (cg_reusable). */
    struct cg_group *old = NULL;
    if (cg_open(m, name, &old, NULL) == 0) {
        int empty = cg_is_empty(old);
        if (empty == 1 && !m->is_fake)
            (void)cg_destroy(old, NULL);
        cg_group_free(old);
        if (empty == 0) {
            cg_group_free(g);
            return err_setx(err, EBUSY, "cgroup '%s' exists and has processes", name);
        }
    }
    size_t made = 0;
    for (; made < ARRAY_SIZE(backends); made++) {
        if (!backends[made]->present(m))
            continue;
        rc = backends[made]->create(g, err);
        if (rc < 0)
            goto undo;
    }
    for (size_t i = 0; i < ARRAY_SIZE(backends); i++) {
        if (!backends[i]->present(m))
            continue;
        rc = backends[i]->apply(g, r, false, err);
        if (rc < 0)
            goto undo;
    }
    *ret = g;
    return 0;
undo:
    err_wrap(err, "cgroup '%s'", name);
    /* including the backend that failed half-way (some hierarchies made, not all); rmdir
     * never removes a group that has processes, and ENOENT is fine */
    for (size_t i = 0; i <= made && i < ARRAY_SIZE(backends); i++)
        if (backends[i]->present(m))
            (void)backends[i]->destroy(g, NULL);
    cg_group_free(g);
    return rc;
}

int cg_open(struct cg_manager *m, const char *name, struct cg_group **ret, struct err *err)
{
    if (!valid_name(name))
        return err_setx(err, EINVAL, "cgroup name '%s' is not valid", name ? name : "");
    struct cg_group *g = group_new(m, name);
    if (!g)
        return err_set(err, ENOMEM, "cgroup '%s'", name);
    for (size_t i = 0; i < ARRAY_SIZE(backends); i++) {
        if (!backends[i]->present(m))
            continue;
        int rc = backends[i]->open(g, err);
        if (rc < 0) {
            cg_group_free(g);
            return rc;
        }
    }
    bool found = g->v2_dir >= 0;
    for (size_t i = 0; i < m->n_v1; i++)
        found = found || g->v1_dir[i] >= 0;
    if (!found) {
        cg_group_free(g);
        return err_setx(err, ENOENT, "cgroup '%s' does not exist", name);
    }
    *ret = g;
    return 0;
}

int cg_clone_fd(const struct cg_group *g)
{
    return g ? g->v2_dir : -1;
}

bool cg_needs_attach(const struct cg_group *g)
{
    return g && g->m->n_v1 > 0;
}

int cg_attach(struct cg_group *g, pid_t pid, struct err *err)
{
    bool woke;
    int r = group_wake_err(g, &woke, err);
    if (r < 0)
        return r;
    for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(backends); i++) {
        if (!backends[i]->present(g->m))
            continue;
        r = backends[i]->attach(g, pid, err);
        if (r < 0)
            err_wrap(err, "cgroup '%s': attach pid %d", g->name, (int)pid);
    }
    group_sleep(g, woke);
    return r < 0 ? r : 0;
}

int cg_attach_self(struct cg_group *g, struct err *err)
{
    bool woke;
    int r = group_wake_err(g, &woke, err);
    if (r < 0)
        return r;
    r = cg_v1_attach_self(g, err);
    group_sleep(g, woke);
    if (r < 0)
        return err_wrap(err, "cgroup '%s': attach", g->name);
    return 0;
}

int cg_update(struct cg_group *g, const struct resources *r, struct err *err)
{
    struct err local;
    if (!err)
        err = &local;
    int rc = cg_check_resources(g->m, r, NULL, err);
    if (rc < 0)
        return rc;
    bool woke;
    rc = group_wake_err(g, &woke, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; rc >= 0 && i < ARRAY_SIZE(backends); i++) {
        if (!backends[i]->present(g->m))
            continue;
        rc = backends[i]->apply(g, r, true, err);
        if (rc < 0)
            err_wrap(err, "cgroup '%s': update", g->name);
    }
    group_sleep(g, woke);
    return rc < 0 ? rc : 0;
}

int cg_freeze(struct cg_group *g, bool frozen, struct err *err)
{
    switch (g->m->ver[CG_FREEZER]) {
    case CG_V1: {
        bool woke;
        int r = group_wake_err(g, &woke, err);
        if (r < 0)
            return r;
        r = cg_v1_freeze(g, frozen, err);
        group_sleep(g, woke);
        return r;
    }
    case CG_V2:
        return cg_v2_freeze(g, frozen, err);
    default:
        return err_setx(err, EOPNOTSUPP, "cgroup '%s': no freezer on this host", g->name);
    }
}

/* Frozen by someone else (cg_freeze): then cg_kill must not thaw it afterwards. */
static bool group_frozen(const struct cg_group *g)
{
    char buf[32];
    uint64_t f = 0;
    switch (g->m->ver[CG_FREEZER]) {
    case CG_V1: {
        int fd = g->m->v1_of[CG_FREEZER] >= 0 ? g->v1_dir[g->m->v1_of[CG_FREEZER]] : -1;
        return fd >= 0 && cg_read_at(fd, "freezer.state", buf, sizeof(buf)) > 0 &&
               !STREQ(buf, "THAWED");
    }
    case CG_V2:
        return g->v2_dir >= 0 && cg_read_keyed_at(g->v2_dir, "cgroup.events", "frozen", &f) == 0 &&
               f == 1;
    default:
        return false;
    }
}

static int group_kill(struct cg_group *g, int sig, struct err *err);

int cg_kill(struct cg_group *g, int sig, struct err *err)
{
    if (sig == SIGKILL && g->v2_dir >= 0) {
        int r = cg_v2_kill(g, err);
        if (r != -ENOENT)
            return r; /* done, or a real error; ENOENT: kernel < 5.14, iterate */
    }
    bool woke;
    int r = group_wake_err(g, &woke, err);
    if (r < 0)
        return r;
    r = group_kill(g, sig, err);
    group_sleep(g, woke);
    return r;
}

static int group_kill(struct cg_group *g, int sig, struct err *err)
{
    /* Freeze first so nothing forks between reading cgroup.procs and signalling, and no pid
     * is reused while we hold it (a frozen process cannot exit). */
    bool froze = false;
    if (g->m->ver[CG_FREEZER] != CG_NONE && !group_frozen(g)) {
        struct err ferr = {0};
        froze = cg_freeze(g, true, &ferr) == 0;
    }
    int dir = g->v2_dir >= 0 ? g->v2_dir : cg_v1_any_dir(g);
    if (dir < 0) {
        if (froze)
            (void)cg_freeze(g, false, NULL);
        return err_setx(err, ENOENT, "cgroup '%s': no hierarchy to list processes from", g->name);
    }
    int rc = 0;
    for (int round = 0; round < 3; round++) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        rc = cg_read_pids_at(dir, &pids, &n);
        if (rc < 0) {
            err_set(err, -rc, "cgroup '%s': read cgroup.procs", g->name);
            break;
        }
        for (size_t i = 0; i < n; i++)
            if (kill(pids[i], sig) < 0 && errno != ESRCH && rc == 0)
                rc = err_set(err, errno, "cgroup '%s': kill pid %d", g->name, (int)pids[i]);
        if (froze || n == 0 || sig != SIGKILL)
            break;
        cg_sleep_ms(10); /* without a freezer: catch what was forked meanwhile */
    }
    if (froze)
        (void)cg_freeze(g, false, NULL);
    return rc;
}

int cg_is_empty(const struct cg_group *g)
{
    if (g->v2_dir >= 0) {
        int r = cg_v2_populated(g);
        return r < 0 ? r : !r;
    }
    bool woke;
    int r = group_wake(g, &woke);
    if (r < 0)
        return r;
    int dir = cg_v1_any_dir(g);
    char buf[32];
    r = dir < 0 ? -ENOENT : cg_read_at(dir, "cgroup.procs", buf, sizeof(buf));
    group_sleep(g, woke);
    return r < 0 ? r : r == 0;
}

int cg_event_fd(struct cg_group *g)
{
    if (g->v2_dir >= 0)
        return cg_v2_events_fd(g);
    if (g->m->ver[CG_MEMORY] == CG_V1) {
        /* the kernel's registration outlives the directory fd */
        bool woke;
        if (group_wake(g, &woke) < 0)
            return -1;
        int fd = cg_v1_oom_efd(g);
        group_sleep(g, woke);
        return fd;
    }
    return -1;
}

bool cg_reusable(const struct cg_group *g)
{
    return !g->v2_killed;
}

int cg_remove_empty(struct cg_manager *m, const char *name)
{
    struct cg_group *g = NULL;
    int r = cg_open(m, name, &g, NULL);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    r = cg_is_empty(g);
    if (r == 1)
        r = cg_destroy(g, NULL);
    else if (r == 0)
        r = -EBUSY;
    cg_group_free(g);
    return r;
}

bool cg_recycle(struct cg_group *g)
{
    bool woke;
    if (!cg_reusable(g) || group_wake(g, &woke) < 0)
        return false;
    int empty = cg_is_empty(g);
    if (empty == 0) { /* what joined the group from outside the container's pid namespace */
        (void)cg_kill(g, SIGKILL, NULL);
        empty = cg_is_empty(g);
    }
    bool ok = empty == 1 && cg_reusable(g);
    if (ok && g->m->ver[CG_MEMORY] == CG_V1)
        cg_v1_reset_peak(g); /* v2's memory.peak cannot be reset before 6.12 */
    group_sleep(g, woke);
    return ok;
}

int cg_stats_read(const struct cg_group *g, struct cg_stats *ret, struct err *err)
{
    struct cg_stats s;
    memset(&s, 0xff, sizeof(s)); /* UINT64_MAX = unknown */
    bool woke;
    int r = group_wake_err(g, &woke, err);
    if (r < 0)
        return r;
    for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(backends); i++) {
        if (!backends[i]->present(g->m))
            continue;
        r = backends[i]->stats(g, &s, err);
        if (r < 0)
            err_wrap(err, "cgroup '%s': stats", g->name);
    }
    group_sleep(g, woke);
    if (r < 0)
        return r;
    *ret = s;
    return 0;
}

int cg_destroy(struct cg_group *g, struct err *err)
{
    int rc = 0;
    for (size_t i = 0; i < ARRAY_SIZE(backends); i++) {
        if (!backends[i]->present(g->m))
            continue;
        int r = backends[i]->destroy(g, err);
        if (r < 0 && rc == 0)
            rc = r;
    }
    if (rc < 0)
        err_wrap(err, "cgroup '%s': remove", g->name);
    return rc;
}

/* Names of the child groups of our parent in one hierarchy. */
static int list_children(int rootfd, const char *parent, char ***names)
{
    int fd = openat(rootfd, parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -errno;
    }
    struct dirent *de;
    int r = 0;
    while ((de = readdir(d))) {
        if (de->d_type != DT_DIR || de->d_name[0] == '.')
            continue;
        if (!strv_contains(*names, de->d_name) && (r = strv_push(names, de->d_name)) < 0)
            break;
    }
    closedir(d);
    return r;
}

int cg_reclaim(struct cg_manager *m, const char *const *keep_names, struct err *err)
{
    _cleanup_strv_ char **names = NULL;
    int r = 0;
    for (size_t i = 0; i < m->n_v1 && r >= 0; i++)
        r = list_children(m->v1[i].fd, m->parent_v1, &names);
    if (r >= 0 && m->v2_fd >= 0)
        r = list_children(m->v2_fd, m->parent_v2, &names);
    if (r < 0)
        return err_set(err, -r, "cgroup reclaim: list '%s'", m->parent_v1);
    int removed = 0, rc = 0;
    for (size_t i = 0; names && names[i]; i++) {
        if (keep_names && strv_contains((char *const *)keep_names, names[i]))
            continue;
        /* Delegated v2 parent holds only containers; never our own supervisor group. */
        struct cg_group *g = NULL;
        struct err e = {0};
        if (cg_open(m, names[i], &g, &e) < 0) {
            if (rc == 0)
                rc = err_set(err, e.code, "cgroup reclaim: %s", e.msg);
            continue;
        }
        if (cg_is_empty(g) != 1) {
            (void)cg_kill(g, SIGKILL, NULL);
            for (int t = 0; t < 200 && cg_is_empty(g) != 1; t++)
                cg_sleep_ms(10);
        }
        if (cg_destroy(g, &e) < 0) {
            if (rc == 0)
                rc = err_set(err, e.code, "cgroup reclaim: %s", e.msg);
        } else {
            removed++;
        }
        cg_group_free(g);
    }
    return rc < 0 ? rc : removed;
}

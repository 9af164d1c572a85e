/* Reading unit files from disk: directory listing, StrictModes-like ownership and mode checks,
 * then parsing and the set-level checks. The only I/O of the unit modules. */
#include "unit_parse.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "sec.h"
#include "util.h"

static bool has_unit_suffix(const char *n)
{
    size_t len = strlen(n);
    return (len > 5 && STREQ(n + len - 5, ".yaml")) || (len > 4 && STREQ(n + len - 4, ".yml"));
}

/* Opens path (following symlinks: a link to a file elsewhere is fine) and checks, on the
 * opened file, that it is a regular file that only root or we can change: a unit decides
 * what runs as root, so a file others can write is refused like sshd's StrictModes does. */
static int read_unit_file(const char *path, char **ret, size_t *ret_len, struct diags *d)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        diags_add(d, path, 0, 0, "cannot open: %s", strerror(e));
        return -e;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        diags_add(d, path, 0, 0, "cannot stat: %s", strerror(e));
        return -e;
    }
    if (!S_ISREG(st.st_mode)) {
        diags_add(d, path, 0, 0, "not a regular file");
        return -EINVAL;
    }
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        diags_add(d, path, 0, 0,
                "refusing a unit file owned by uid %u (must be owned by root or uid %u)",
                (unsigned)st.st_uid, (unsigned)geteuid());
        return -EPERM;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        diags_add(d, path, 0, 0,
                "refusing a group- or world-writable unit file (mode %04o; chmod go-w)",
                (unsigned)(st.st_mode & 07777));
        return -EPERM;
    }
    if (st.st_size > UNIT_FILE_MAX) {
        diags_add(d, path, 0, 0, "file too large (%lld bytes, at most %d)",
                (long long)st.st_size, UNIT_FILE_MAX);
        return -EINVAL;
    }
    {
        size_t cap = (size_t)st.st_size + 1, len = 0;
        char *buf = malloc(cap + 1);
        if (!buf)
            return -ENOMEM;
        for (;;) {
            if (len == cap) {
                if (cap > UNIT_FILE_MAX) {
                    free(buf);
                    diags_add(d, path, 0, 0, "file too large (at most %d bytes)", UNIT_FILE_MAX);
                    return -EINVAL;
                }
                char *nb = realloc(buf, cap * 2 + 1);
                if (!nb) {
                    free(buf);
                    return -ENOMEM;
                }
                buf = nb;
                cap *= 2;
            }
            ssize_t n = read(fd, buf + len, cap - len);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                int e = errno;
                free(buf);
                diags_add(d, path, 0, 0, "cannot read: %s", strerror(e));
                return -e;
            }
            if (n == 0)
                break;
            len += (size_t)n;
        }
        buf[len] = '\0';
        *ret = buf;
        *ret_len = len;
        return 0;
    }
}

static int set_add(struct unit_set *set, struct unit *u)
{
    struct unit **nv = realloc(set->units, (set->n + 1) * sizeof(*nv));
    if (!nv) {
        unit_free(u);
        return -ENOMEM;
    }
    set->units = nv;
    set->units[set->n++] = u;
    return 0;
}

/* Checks that belong to the security module but need no host: sysctl keys against the
 * unit's namespaces (a net.* sysctl with the host's network namespace would change the host).
 * Kept out of unit_parse.c so the parser stays free of the runtime modules. */
static int check_security(const struct unit *u, struct diags *d)
{
    int bad = 0;
    for (size_t i = 0; i < u->sec.n_sysctl; i++) {
        struct err e = {0};
        if (sec_check_sysctl_key(u, u->sec.sysctl[i].key, &e) >= 0)
            continue;
        char kp[300];
        snprintf(kp, sizeof(kp), "security.sysctl.%s", u->sec.sysctl[i].key);
        struct unit_pos p = unit_pos_of(u, kp);
        diags_add(d, u->path, p.line ? p.line : 1, p.col ? p.col : 1, "'%s': %s", kp, e.msg);
        bad++;
    }
    return bad ? -EINVAL : 0;
}

static int load_one(const char *path, struct unit_set *set, struct diags *d)
{
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r = read_unit_file(path, &buf, &len, d);
    if (r < 0)
        return r;
    struct unit *u = NULL;
    r = unit_parse_buffer(path, buf, len, &u, d);
    if (r < 0)
        return r;
    r = check_security(u, d);
    if (r < 0) {
        unit_free(u);
        return r;
    }
    return set_add(set, u);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir_nocheck(const char *dir, struct unit_set *set, struct diags *d)
{
    DIR *dp = opendir(dir);
    if (!dp) {
        int e = errno;
        diags_add(d, dir, 0, 0, "cannot open directory: %s", strerror(e));
        return -e;
    }
    char **names = NULL;
    size_t n = 0;
    int r = 0;
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (de->d_name[0] == '.' || !has_unit_suffix(de->d_name))
            continue;
        if (n >= UNIT_MAX_PER_DIR) {
            diags_add(d, dir, 0, 0, "too many unit files (at most %d)", UNIT_MAX_PER_DIR);
            r = -EINVAL;
            break;
        }
        char **nv = realloc(names, (n + 1) * sizeof(char *));
        char *p = nv ? strdup_printf("%s/%s", dir, de->d_name) : NULL;
        if (!nv || !p) {
            free(p);
            if (nv)
                names = nv;
            r = -ENOMEM;
            break;
        }
        names = nv;
        names[n++] = p;
    }
    closedir(dp);
    if (r == 0) {
        if (n > 1) /* qsort(NULL, 0) is undefined behaviour (UBSan) */
            qsort(names, n, sizeof(char *), cmp_str);
        for (size_t i = 0; i < n; i++) {
            int k = load_one(names[i], set, d);
            if (k == -ENOMEM) {
                r = k;
                break;
            }
            if (k < 0 && r == 0)
                r = -EINVAL;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return r;
}

int unit_load_dir(const char *dir, struct unit_set *set, struct diags *d)
{
    int r = load_dir_nocheck(dir, set, d);
    if (r == -ENOMEM || (r < 0 && r != -EINVAL && set->n == 0 && diags_count(d) == 0))
        return r;
    int k = unit_check_set(set, d);
    if (r < 0)
        return r;
    return k;
}

int unit_load_paths(char *const *paths, size_t n_paths, struct unit_set *set, struct diags *d)
{
    int r = 0;
    for (size_t i = 0; i < n_paths; i++) {
        struct stat st;
        int k;
        if (stat(paths[i], &st) < 0) {
            diags_add(d, paths[i], 0, 0, "cannot access: %s", strerror(errno));
            k = -EINVAL;
        } else if (S_ISDIR(st.st_mode)) {
            k = load_dir_nocheck(paths[i], set, d);
        } else {
            k = load_one(paths[i], set, d);
        }
        if (k == -ENOMEM)
            return k;
        if (k < 0)
            r = -EINVAL;
    }
    int k = unit_check_set(set, d);
    return r < 0 ? r : k;
}

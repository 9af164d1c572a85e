/* User namespaces: which host ids the container's ids map to, and writing the maps. */
#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
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
            userns_copy_or_default(u->sec.gid_map, u->sec.n_gid_map, "/etc/subgid", &gm, &ng) <
                    0) {
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
        int k = snprintf(buf + off, len - off, "%u %u %u\n", m[i].inside, m[i].outside,
                m[i].count);
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

int userns_host_uid(const struct unit *u, uint32_t inside, uint32_t *ret_outside,
        struct err *err)
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

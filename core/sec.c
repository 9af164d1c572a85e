/* The security plan: decided in the parent before clone, applied by the container's init
 * just before execve. The order of sec_apply_child() is the point of this file; each step
 * says why it sits where it does. */
#include "sec.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "caps.h"
#include "err.h"
#include "log.h"
#include "unit.h"
#include "util.h"

static const struct {
    const char *name;
    int resource;
} sec_rlimit_tab[] = {
        {"cpu", RLIMIT_CPU},           {"fsize", RLIMIT_FSIZE},
        {"data", RLIMIT_DATA},         {"stack", RLIMIT_STACK},
        {"core", RLIMIT_CORE},         {"rss", RLIMIT_RSS},
        {"nproc", RLIMIT_NPROC},       {"nofile", RLIMIT_NOFILE},
        {"memlock", RLIMIT_MEMLOCK},   {"as", RLIMIT_AS},
        {"locks", RLIMIT_LOCKS},       {"sigpending", RLIMIT_SIGPENDING},
        {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
        {"rtprio", RLIMIT_RTPRIO},     {"rttime", RLIMIT_RTTIME},
};

const char *sec_rlimit_name(int resource)
{
    for (size_t i = 0; i < ARRAY_SIZE(sec_rlimit_tab); i++)
        if (sec_rlimit_tab[i].resource == resource)
            return sec_rlimit_tab[i].name;
    return NULL;
}

int sec_rlimit_from_name(const char *name)
{
    if (name && strncasecmp(name, "RLIMIT_", 7) == 0)
        name += 7;
    for (size_t i = 0; name && i < ARRAY_SIZE(sec_rlimit_tab); i++)
        if (strcasecmp(sec_rlimit_tab[i].name, name) == 0)
            return sec_rlimit_tab[i].resource;
    return -EINVAL;
}

static bool sec_ns_private(const struct unit *u, enum ns_type t)
{
    /* NS_NONE (net: only lo) is a private namespace too. NS_CONTAINER shares another
     * container's namespace: a sysctl there would change that container, so refuse. */
    return u->ns[t].mode == NS_PRIVATE || (t == NS_NET && u->ns[t].mode == NS_NONE);
}

int sec_check_sysctl_key(const struct unit *u, const char *key_in, struct err *err)
{
    size_t n = key_in ? strlen(key_in) : 0;
    char key[256];

    /* Both "net.ipv4.ip_forward" and "net/ipv4/ip_forward" (the latter can name interfaces
     * with dots, as sysctl(8) does); checked in the dotted form. */
    if (n == 0 || n >= sizeof(key) || strchr("./", key_in[0]) || strchr("./", key_in[n - 1]) ||
        strstr(key_in, "..") || strstr(key_in, "//") || strstr(key_in, "/.") ||
        strstr(key_in, "./"))
        return err_setx(err, EINVAL, "sysctl: invalid key '%s'", key_in ? key_in : "");
    for (size_t i = 0; i <= n; i++) {
        if (key_in[i] && !isalnum((unsigned char)key_in[i]) && !strchr("._-/", key_in[i]))
            return err_setx(err, EINVAL, "sysctl: invalid key '%s'", key_in);
        key[i] = key_in[i] == '/' ? '.' : key_in[i];
    }

    if (strncmp(key, "net.", 4) == 0) {
        if (!sec_ns_private(u, NS_NET))
            return err_setx(err, EPERM,
                            "sysctl '%s' needs a private network namespace (namespaces.net is not "
                            "private: it would change the host or another container)",
                            key);
        return 0;
    }
    if (strncmp(key, "kernel.shm", 10) == 0 || strncmp(key, "kernel.msg", 10) == 0 ||
        STREQ(key, "kernel.sem") || strncmp(key, "fs.mqueue.", 10) == 0) {
        if (!sec_ns_private(u, NS_IPC))
            return err_setx(err, EPERM,
                            "sysctl '%s' needs a private ipc namespace (namespaces.ipc is not "
                            "private: it would change the host or another container)",
                            key);
        return 0;
    }
    if (STREQ(key, "kernel.domainname")) {
        if (!sec_ns_private(u, NS_UTS))
            return err_setx(err, EPERM, "sysctl '%s' needs a private uts namespace", key);
        return 0;
    }
    return err_setx(
            err, EPERM,
            "sysctl '%s' is not namespaced (only net.* with a private net namespace, "
            "kernel.shm*/kernel.msg*/kernel.sem/fs.mqueue.* with a private ipc namespace and "
            "kernel.domainname with a private uts namespace are allowed)",
            key);
}

int sec_validate_unit(const struct unit *u, struct err *err)
{
    const struct security *s = &u->sec;
    uint64_t m;
    int r;

    r = caps_compute(s->cap_add, s->cap_drop, &m, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < s->n_sysctl; i++) {
        r = sec_check_sysctl_key(u, s->sysctl[i].key, err);
        if (r < 0)
            return r;
    }
    for (size_t i = 0; i < s->n_rlimits; i++)
        if (s->rlimits[i].soft > s->rlimits[i].hard)
            return err_setx(err, EINVAL, "rlimits.%s: soft limit %llu is above hard limit %llu",
                            sec_rlimit_name(s->rlimits[i].resource) ?: "?",
                            (unsigned long long)s->rlimits[i].soft,
                            (unsigned long long)s->rlimits[i].hard);
    return 0;
}

static bool sec_have_cap(cap_value_t c)
{
    cap_flag_value_t v = CAP_CLEAR;
    cap_t caps = cap_get_proc();

    if (!caps)
        return false;
    (void)cap_get_flag(caps, c, CAP_EFFECTIVE, &v);
    cap_free(caps);
    return v == CAP_SET;
}

static bool sec_file_is(const char *path, const char *want)
{
    _cleanup_free_ char *s = NULL;
    size_t len = 0;

    if (read_file_at(AT_FDCWD, path, 64, &s, &len) < 0)
        return false;
    return strncmp(s, want, strlen(want)) == 0;
}

int sec_check_host(const struct unit *u, struct err *err)
{
    const struct security *s = &u->sec;
    uint64_t own = caps_own_bounding();

    /* A capability we do not have ourselves cannot be given ("ALL" means all we have). */
    for (size_t i = 0; s->cap_add && s->cap_add[i]; i++) {
        int c = caps_from_name(s->cap_add[i]);
        char name[64];
        if (c >= 0 && c != CAPS_ALL && !(own & (UINT64_C(1) << c)))
            return err_setx(err, EPERM,
                            "capabilities.add: %s is not in the supervisor's own bounding set, it "
                            "cannot be given to a container",
                            caps_to_name(c, name, sizeof(name)) ?: s->cap_add[i]);
    }

    if (s->apparmor && !sec_file_is("/sys/module/apparmor/parameters/enabled", "Y"))
        return err_setx(err, EOPNOTSUPP,
                        "security.apparmor: AppArmor is not enabled on this host, cannot apply "
                        "profile '%s'",
                        s->apparmor);
    if (s->selinux_label && access("/sys/fs/selinux/enforce", F_OK) < 0)
        return err_setx(err, EOPNOTSUPP,
                        "security.selinux_label: SELinux is not enabled on this host, cannot apply "
                        "label '%s'",
                        s->selinux_label);

    for (size_t i = 0; i < s->n_rlimits; i++) {
        const struct rlimit_spec *rl = &s->rlimits[i];
        const char *name = sec_rlimit_name(rl->resource) ?: "?";
        struct rlimit cur;

        if (rl->soft > rl->hard)
            return err_setx(err, EINVAL, "rlimits.%s: soft limit %llu is above hard limit %llu",
                            name, (unsigned long long)rl->soft, (unsigned long long)rl->hard);
        if (getrlimit(rl->resource, &cur) < 0)
            return err_set(err, errno, "rlimits.%s: getrlimit", name);
        /* Raising a hard limit needs CAP_SYS_RESOURCE in the initial user namespace; say so
         * now instead of failing inside the child. */
        if (rl->hard != RLIM_INFINITY && cur.rlim_max != RLIM_INFINITY && rl->hard <= cur.rlim_max)
            continue;
        if (cur.rlim_max == RLIM_INFINITY || sec_have_cap(CAP_SYS_RESOURCE))
            continue;
        char want[32];
        if (rl->hard == RLIM_INFINITY)
            snprintf(want, sizeof(want), "unlimited");
        else
            snprintf(want, sizeof(want), "%llu", (unsigned long long)rl->hard);
        return err_setx(
                err, EPERM,
                "rlimits.%s: hard limit %s is above the supervisor's own hard limit %llu and "
                "raising it needs CAP_SYS_RESOURCE",
                name, want, (unsigned long long)cur.rlim_max);
    }
    return 0;
}

struct sec_plan *sec_plan_free(struct sec_plan *p)
{
    if (!p)
        return NULL;
    free(p->unit_name);
    secfilter_done(&p->filter);
    free(p->rlimits);
    for (size_t i = 0; i < p->n_sysctl; i++) {
        free(p->sysctl[i].path);
        free(p->sysctl[i].value);
        free(p->sysctl[i].key);
    }
    free(p->sysctl);
    free(p->apparmor);
    free(p->selinux_label);
    free(p);
    return NULL;
}

static int sec_add_sysctl(struct sec_plan *p, const char *key, const char *value, struct err *err)
{
    struct sec_sysctl *s = &p->sysctl[p->n_sysctl];

    s->key = strdup(key);
    s->path = strdup(key);
    s->value = strdup(value ? value : "");
    p->n_sysctl++;
    if (!s->key || !s->path || !s->value)
        return err_set(err, ENOMEM, "sysctl");
    if (!strchr(s->path, '/'))
        for (char *c = s->path; *c; c++)
            if (*c == '.')
                *c = '/';
    return 0;
}

/* As podman's containers.conf: root in a private network namespace may open ICMP datagram
 * sockets (ping without CAP_NET_RAW), unless the unit sets the key itself. */
#define SEC_PING_KEY     "net.ipv4.ping_group_range"
#define SEC_PING_DEFAULT "0 0"

static int sec_prepare_sysctl(struct sec_plan *p, const struct unit *u, struct err *err)
{
    bool ping = sec_ns_private(u, NS_NET);
    int r;

    p->sysctl = calloc(u->sec.n_sysctl + 1, sizeof(*p->sysctl));
    if (!p->sysctl)
        return err_set(err, ENOMEM, "sysctl");
    for (size_t i = 0; i < u->sec.n_sysctl; i++) {
        const struct kv *kv = &u->sec.sysctl[i];
        r = sec_check_sysctl_key(u, kv->key, err);
        if (r < 0)
            return r;
        r = sec_add_sysctl(p, kv->key, kv->value, err);
        if (r < 0)
            return r;
        if (STREQ(p->sysctl[p->n_sysctl - 1].path, "net/ipv4/ping_group_range"))
            ping = false;
    }
    if (ping)
        return sec_add_sysctl(p, SEC_PING_KEY, SEC_PING_DEFAULT, err);
    return 0;
}

int sec_prepare(const struct unit *u, struct sec_plan **ret, struct err *err)
{
    struct sec_plan *p;
    int r;

    p = calloc(1, sizeof(*p));
    if (!p)
        return err_set(err, ENOMEM, "unit '%s': security plan", u->name);
    p->unit_name = strdup(u->name ? u->name : "?");
    if (!p->unit_name) {
        r = err_set(err, ENOMEM, "unit '%s': security plan", u->name);
        goto fail;
    }
    r = caps_compute(u->sec.cap_add, u->sec.cap_drop, &p->caps, err);
    if (r < 0)
        goto fail_wrap;
    r = caps_mask_from_names(u->sec.cap_add, "add", &p->caps_nonroot, err);
    if (r < 0)
        goto fail_wrap;
    p->caps &= caps_own_bounding(); /* "ALL": every capability we have */
    p->caps_nonroot &= p->caps;
    p->no_new_privs = u->sec.no_new_privileges;

    r = sec_check_host(u, err);
    if (r < 0)
        goto fail_wrap;
    r = sec_prepare_sysctl(p, u, err);
    if (r < 0)
        goto fail_wrap;

    if (u->sec.n_rlimits) {
        p->rlimits = calloc(u->sec.n_rlimits, sizeof(*p->rlimits));
        if (!p->rlimits) {
            r = err_set(err, ENOMEM, "rlimits");
            goto fail_wrap;
        }
        for (size_t i = 0; i < u->sec.n_rlimits; i++)
            p->rlimits[i] = (struct sec_rlimit){u->sec.rlimits[i].resource, u->sec.rlimits[i].soft,
                                                u->sec.rlimits[i].hard,
                                                sec_rlimit_name(u->sec.rlimits[i].resource) ?: "?"};
        p->n_rlimits = u->sec.n_rlimits;
    }
    if (u->sec.apparmor && !(p->apparmor = strdup(u->sec.apparmor))) {
        r = err_set(err, ENOMEM, "apparmor");
        goto fail_wrap;
    }
    if (u->sec.selinux_label && !(p->selinux_label = strdup(u->sec.selinux_label))) {
        r = err_set(err, ENOMEM, "selinux_label");
        goto fail_wrap;
    }

    switch (u->sec.seccomp) {
    case SECCOMP_UNCONFINED:
        break;
    case SECCOMP_PROFILE:
        if (!u->sec.seccomp_profile) {
            r = err_setx(err, EINVAL, "security.seccomp: no profile path");
            goto fail_wrap;
        }
        r = secfilter_build_file(u->sec.seccomp_profile, p->caps, &p->filter, err);
        if (r < 0)
            goto fail_wrap;
        p->seccomp = true;
        /* Non-fatal findings (a syscall this libseccomp does not know) must reach the user
         * and the start path has no channel for warnings: the one place core/ warns. */
        for (size_t i = 0; p->filter.warnings && p->filter.warnings[i]; i++)
            log_warn("unit '%s': %s", u->name, p->filter.warnings[i]);
        break;
    default:
        r = secfilter_build_default(p->caps, &p->filter, err);
        if (r < 0)
            goto fail_wrap;
        p->seccomp = true;
        break;
    }
    *ret = p;
    return 0;

fail_wrap:
    err_wrap(err, "unit '%s'", u->name);
fail:
    sec_plan_free(p);
    return r;
}

int sec_apply_sysctl(const struct sec_plan *p, int procsys_fd, struct err *err)
{
    for (size_t i = 0; i < p->n_sysctl; i++) {
        const struct sec_sysctl *s = &p->sysctl[i];
        size_t len = strlen(s->value);
        int fd;

        /* The key was checked to be a namespaced one; O_NOFOLLOW because /proc/sys has no
         * symlinks and a crafted key must not lead anywhere else. */
        fd = openat(procsys_fd, s->path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            return err_set(err, errno, "sysctl '%s': open /proc/sys/%s", s->key, s->path);
        if (write(fd, s->value, len) != (ssize_t)len) {
            int e = errno ? errno : EIO;
            close(fd);
            return err_set(err, e, "sysctl '%s': write '%s'", s->key, s->value);
        }
        close(fd);
    }
    return 0;
}

static int sec_write_attr(const char *path, const char *fallback, const char *data, struct err *err)
{
    size_t len = strlen(data);
    int fd = open(path, O_WRONLY | O_CLOEXEC);

    if (fd < 0 && fallback)
        fd = open(fallback, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(err, errno, "open %s", path);
    if (write(fd, data, len) != (ssize_t)len) {
        int e = errno ? errno : EIO;
        close(fd);
        return err_set(err, e, "write '%s' to %s", data, path);
    }
    close(fd);
    return 0;
}

int sec_apply_child(const struct sec_plan *p, uid_t uid, gid_t gid, const gid_t *groups,
                    size_t n_groups, struct err *err)
{
    int r;

    /* 1. rlimits first: they must hold for everything the container runs, and lowering
     * them needs no privilege while raising a hard limit needs CAP_SYS_RESOURCE, which
     * we are about to drop. */
    for (size_t i = 0; i < p->n_rlimits; i++) {
        const struct sec_rlimit *rl = &p->rlimits[i];
        struct rlimit v = {rl->soft, rl->hard};
        if (setrlimit(rl->resource, &v) < 0) {
            if (errno == EPERM) {
                struct rlimit cur = {0, 0};
                (void)getrlimit(rl->resource, &cur);
                return err_set(
                        err, EPERM,
                        "rlimits.%s: set %llu:%llu (our hard limit is %llu; raising it needs "
                        "CAP_SYS_RESOURCE)",
                        rl->name, rl->soft, rl->hard, (unsigned long long)cur.rlim_max);
            }
            return err_set(err, errno, "rlimits.%s: setrlimit %llu:%llu", rl->name, rl->soft,
                           rl->hard);
        }
    }

    /* 2. LSM exec labels take effect at execve; write them while we may still write our
     * own attr files (before the uid change and the capability drop). */
    if (p->apparmor) {
        char buf[300];
        snprintf(buf, sizeof(buf), "exec %s", p->apparmor);
        r = sec_write_attr("/proc/self/attr/apparmor/exec", "/proc/self/attr/exec", buf, err);
        if (r < 0)
            return err_wrap(err, "apparmor profile '%s'", p->apparmor);
    }
    if (p->selinux_label) {
        r = sec_write_attr("/proc/self/attr/exec", NULL, p->selinux_label, err);
        if (r < 0)
            return err_wrap(err, "selinux label '%s'", p->selinux_label);
    }

    /* Without no_new_privs the kernel only lets a process with CAP_SYS_ADMIN install a
     * filter: do it now, while we still hold it. The filter allows what follows (setgroups,
     * setres[ug]id, capset, prctl, execve). */
    if (p->seccomp && !p->no_new_privs) {
        r = secfilter_load(&p->filter, err);
        if (r < 0)
            return r;
    }

    /* 3. Keep the permitted set across the uid change, then become the unit's user.
     * Groups first: after setuid we could no longer drop supplementary groups inherited
     * from the supervisor. setres*id sets real, effective and saved ids, so nothing is left
     * to switch back to. */
    r = caps_keep_across_setuid(err);
    if (r < 0)
        return r;
    if (setgroups(n_groups, groups) < 0)
        return err_set(err, errno, "setgroups (%zu groups)", n_groups);
    if (setresgid(gid, gid, gid) < 0)
        return err_set(err, errno, "setresgid %u", (unsigned)gid);
    if (setresuid(uid, uid, uid) < 0)
        return err_set(err, errno, "setresuid %u", (unsigned)uid);

    /* 4. Capabilities: bounding, permitted/effective/inheritable, ambient. */
    r = caps_apply(p->caps, p->caps_nonroot, err);
    if (r < 0)
        return r;

    /* 5. no_new_privs: setuid binaries and file capabilities gain nothing at execve. */
    if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return err_set(err, errno, "prctl(PR_SET_NO_NEW_PRIVS)");

    /* 6. seccomp last: every syscall above is done, only execve follows. */
    if (p->seccomp && p->no_new_privs) {
        r = secfilter_load(&p->filter, err);
        if (r < 0)
            return r;
    }
    return 0;
}

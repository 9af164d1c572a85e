#pragma once
/* Security plan of a container: resolved in the parent before clone (capability mask,
 * exported seccomp program, rlimits, sysctl keys checked against the namespaces, LSM labels),
 * then applied in the child by sec_apply_sysctl() and sec_apply_child().
 *
 * Child order (see spawn.c): namespaces, id maps (parent: userns_write_maps), mounts,
 * sec_apply_sysctl (container /proc mounted, before /proc/sys is made read-only), pivot,
 * hostname, cgroup (parent), sec_apply_child (rlimits, keepcaps, setgroups/setgid/setuid,
 * caps, no_new_privs, LSM exec label, seccomp last), execve. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "secfilter.h"

struct unit;
struct err;

struct sec_rlimit {
    int resource;                  /* RLIMIT_* */
    unsigned long long soft, hard; /* RLIM_INFINITY for unlimited */
    const char *name;              /* "nofile", for messages (static string) */
};

struct sec_sysctl {
    char *path; /* relative to /proc/sys: "net/ipv4/ip_forward" */
    char *value;
    char *key; /* as written in the unit: "net.ipv4.ip_forward" */
};

struct sec_plan {
    char *unit_name;
    uint64_t caps;         /* bounding set; root's permitted = effective */
    uint64_t caps_nonroot; /* a non-root user's permitted/effective/ambient: the added ones */
    bool no_new_privs;
    bool seccomp; /* false = unconfined */
    struct secfilter filter;
    struct sec_rlimit *rlimits;
    size_t n_rlimits;
    struct sec_sysctl *sysctl;
    size_t n_sysctl;
    char *apparmor;      /* profile for "exec PROFILE", or NULL */
    char *selinux_label; /* label for /proc/self/attr/exec, or NULL */
};

/* Parent, before clone: builds the plan of u (caps mask, seccomp program, rlimits checked
 * against our own hard limits, sysctl keys checked against u's namespaces, LSM keys checked
 * against the host). *ret is caller-owned (sec_plan_free). Returns 0 or -errno with err set
 * ("unit 'web': ..."). Non-fatal warnings are in (*ret)->filter.warnings. */
int sec_prepare(const struct unit *u, struct sec_plan **ret, struct err *err);
/* Frees p and everything it owns; accepts NULL, returns NULL. */
struct sec_plan *sec_plan_free(struct sec_plan *p);

/* Child, after the container's /proc is mounted and before /proc/sys is made read-only:
 * writes each sysctl under procsys_fd (an fd of the container's /proc/sys directory). */
int sec_apply_sysctl(const struct sec_plan *p, int procsys_fd, struct err *err);
/* Child, after pivot_root, just before execve, in this order: rlimits; PR_SET_KEEPCAPS;
 * setgroups/setgid/setuid (n_groups may be 0); bounding drop; permitted/effective/inheritable;
 * ambient; PR_SET_NO_NEW_PRIVS; LSM exec label; seccomp (loaded before the cap drop instead
 * when no_new_privs is off, since loading then needs CAP_SYS_ADMIN). No allocation. */
int sec_apply_child(const struct sec_plan *p, uid_t uid, gid_t gid, const gid_t *groups,
                    size_t n_groups, struct err *err);

/* Pure checks usable by validation (unit_check / validate) without side effects: */
/* Is sysctl key allowed given u's namespaces? 0, or -EPERM with a message naming the key. */
int sec_check_sysctl_key(const struct unit *u, const char *key, struct err *err);
/* Pure checks of u's security keys for validation (no host access): capability names,
 * sysctl keys against u's namespaces, rlimit soft <= hard. 0, or -errno with err naming the
 * key (without the unit name). For unit_check / `mgr validate`. */
int sec_validate_unit(const struct unit *u, struct err *err);
/* Host check: apparmor/selinux keys of u on a host without that LSM -> -EOPNOTSUPP with a clear
 * message; rlimits above our own hard limit -> -EPERM naming key and limit. */
int sec_check_host(const struct unit *u, struct err *err);
/* Name of an RLIMIT_* resource ("nofile") or NULL; and the reverse (-EINVAL if unknown). */
const char *sec_rlimit_name(int resource);
int sec_rlimit_from_name(const char *name);

/* Seccomp filters: the built-in default profile (the podman/docker default in effect) and
 * OCI/Docker JSON profiles, both turned into one rule list and compiled by libseccomp in the
 * parent; the child only loads the exported BPF program. */
#include "secfilter.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/seccomp.h>

#include <jansson.h>
#include <seccomp.h>

#include "caps.h"
#include "err.h"
#include "util.h"

#define SF_MAX_ARGS     6
#define SF_PROFILE_MAX  (1024 * 1024)
#define SF_MAX_WARNINGS 64

/* One rule as the OCI/Docker format states it, after includes/excludes were evaluated. */
struct sf_arg {
    unsigned index;
    uint64_t value, value_two;
    enum scmp_compare op;
};

struct sf_rule {
    const char *const *names;
    uint32_t action;
    struct sf_arg args[SF_MAX_ARGS];
    size_t n_args;
};

#define CAPM(c) (UINT64_C(1) << (c))

/* ---- built-in default profile (moby profiles/seccomp/default.json, same effect) ---- */

static const char *const sf_allow[] = {
        "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget",
        "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64",
        "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64",
        "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range", "connect",
        "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1",
        "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old",
        "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat",
        "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod",
        "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync",
        "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64",
        "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex",
        "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake", "futimesat",
        "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32", "geteuid",
        "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer", "getpeername",
        "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid",
        "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list", "getrusage",
        "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday",
        "getuid", "getuid32", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1",
        "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents",
        "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit", "ipc", "kill",
        "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown",
        "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr", "_llseek",
        "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack",
        "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod",
        "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr",
        "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
        "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd",
        "msync", "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat",
        "_newselect", "open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal",
        "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll",
        "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease",
        "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead",
        "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64",
        "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat", "renameat2",
        "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
        "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
        "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
        "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
        "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
        "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select",
        "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile",
        "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid",
        "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer", "setpgid",
        "setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid",
        "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid",
        "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr",
        "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4",
        "sigprocmask", "sigreturn", "socketcall", "socketpair", "splice", "stat", "stat64",
        "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs",
        "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun",
        "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create",
        "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times",
        "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat",
        "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid",
        "waitpid", "write", "writev",
        /* io_uring_setup/enter/register are left out, as docker does since 25.0 and podman's
         * profile: a large kernel attack surface that also bypasses this filter for the
         * operations it submits. */
        /* ptrace family: allowed by docker on kernels >= 4.8 (seccomp can no longer be
         * bypassed through ptrace there) */
        "process_vm_readv", "process_vm_writev", "ptrace",
        /* x86 family only (names unknown on other arches are skipped) */
        "arch_prctl", "modify_ldt", NULL};

static const char *const sf_sys_admin[] = {"bpf",           "clone",           "clone3",
                                           "fanotify_init", "fsconfig",        "fsmount",
                                           "fsopen",        "fspick",          "lookup_dcookie",
                                           "mount",         "mount_setattr",   "move_mount",
                                           "open_tree",     "perf_event_open", "quotactl",
                                           "quotactl_fd",   "setdomainname",   "sethostname",
                                           "setns",         "syslog",          "umount",
                                           "umount2",       "unshare",         NULL};

struct sf_cap_group {
    int cap;
    const char *const names[8];
};

/* Syscalls allowed only when the capability that guards them is in the container's set. */
static const struct sf_cap_group sf_cap_groups[] = {
        {CAP_DAC_READ_SEARCH, {"open_by_handle_at"}},
        {CAP_SYS_BOOT, {"reboot"}},
        {CAP_SYS_CHROOT, {"chroot"}},
        {CAP_SYS_MODULE, {"delete_module", "init_module", "finit_module"}},
        {CAP_SYS_PACCT, {"acct"}},
        {CAP_SYS_PTRACE, {"kcmp", "pidfd_getfd", "process_madvise"}},
        {CAP_SYS_RAWIO, {"iopl", "ioperm"}},
        {CAP_SYS_TIME, {"settimeofday", "stime", "clock_settime", "clock_settime64"}},
        {CAP_SYS_TTY_CONFIG, {"vhangup"}},
        {CAP_SYS_NICE, {"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}},
        {CAP_SYSLOG, {"syslog"}},
        {CAP_BPF, {"bpf"}},
        {CAP_PERFMON, {"perf_event_open"}},
};

/* personality(2) values a container may set: PER_LINUX, PER_LINUX32, UNAME26,
 * UNAME26|PER_LINUX32, and 0xffffffff (query). Anything else (e.g. ADDR_NO_RANDOMIZE,
 * READ_IMPLIES_EXEC) is refused. */
static const uint64_t sf_personality_ok[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

/* CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET */
#define SF_CLONE_NS_FLAGS UINT64_C(0x7E020000)
#define AF_VSOCK_NR       40

/* ---- compiling rules ---- */

/* The native arch and the sub-arches (x86, x32) are built as two filters and merged at
 * export: rules by syscall number (the ENOSYS stub below) only make sense for the native
 * arch, and libseccomp merges filters only when their arches do not overlap. */
struct sf_builder {
    scmp_filter_ctx ctx;     /* native arch */
    scmp_filter_ctx ctx_sub; /* other arches, NULL when none */
    uint32_t default_action;
    const char *origin;
    char **warnings;
};

static void sf_warn(struct sf_builder *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void sf_warn(struct sf_builder *b, const char *fmt, ...)
{
    char buf[256];
    va_list ap;

    if (strv_len(b->warnings) >= SF_MAX_WARNINGS)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    (void)strv_push(&b->warnings, buf);
}

static int sf_add_one(scmp_filter_ctx ctx, const struct sf_rule *rule, int nr, bool same_index,
                      const struct scmp_arg_cmp *cmp)
{
    int r = 0;

    if (same_index) {
        /* Docker's semantics: several conditions on one argument mean "any of them";
         * libseccomp ANDs the conditions of one rule, so add one rule per condition. */
        for (size_t i = 0; i < rule->n_args && r == 0; i++)
            r = seccomp_rule_add_array(ctx, rule->action, nr, 1, &cmp[i]);
        return r;
    }
    return seccomp_rule_add_array(ctx, rule->action, nr, (unsigned)rule->n_args, cmp);
}

/* Adds one rule for every name. Names this libseccomp does not know are warnings (strict)
 * or skipped silently (the built-in table lists names of newer kernels and other arches). */
static int sf_add_rule(struct sf_builder *b, const struct sf_rule *rule, bool strict,
                       struct err *err)
{
    struct scmp_arg_cmp cmp[SF_MAX_ARGS];
    bool same_index = false;

    for (size_t i = 0; i < rule->n_args; i++) {
        cmp[i] = (struct scmp_arg_cmp){rule->args[i].index, rule->args[i].op, rule->args[i].value,
                                       rule->args[i].value_two};
        for (size_t j = 0; j < i; j++)
            if (rule->args[j].index == rule->args[i].index)
                same_index = true;
    }
    for (size_t k = 0; rule->names[k]; k++) {
        const char *name = rule->names[k];
        int nr = seccomp_syscall_resolve_name(name);
        int r;

        if (nr == __NR_SCMP_ERROR) {
            if (strict)
                sf_warn(b, "%s: unknown syscall '%s', ignoring", b->origin, name);
            continue;
        }
        /* The kernel rejects a rule that is the default action anyway: nothing to add. */
        if (rule->action == b->default_action)
            continue;
        r = sf_add_one(b->ctx, rule, nr, same_index, cmp);
        if (r >= 0 && b->ctx_sub)
            r = sf_add_one(b->ctx_sub, rule, nr, same_index, cmp);
        if (r == -ENOMEM)
            return err_set(err, ENOMEM, "%s: add rule for '%s'", b->origin, name);
        if (r < 0 && strict)
            sf_warn(b, "%s: rule for '%s' not added (%s), ignoring", b->origin, name, strerror(-r));
    }
    return 0;
}

static scmp_filter_ctx sf_ctx_new(uint32_t default_action)
{
    scmp_filter_ctx ctx = seccomp_init(default_action);

    if (!ctx)
        return NULL;
    /* A binary tree of syscall numbers keeps the per-syscall cost low with ~350 rules. */
    (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    /* The child sets no_new_privs itself (or keeps CAP_SYS_ADMIN); the exported program
     * carries no such attribute anyway. */
    (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    return ctx;
}

static int sf_builder_init(struct sf_builder *b, uint32_t default_action, const char *origin,
                           struct err *err)
{
    *b = (struct sf_builder){.default_action = default_action, .origin = origin};
    b->ctx = sf_ctx_new(default_action);
    if (!b->ctx)
        return err_setx(err, EINVAL, "%s: seccomp_init failed (bad default action?)", origin);
    return 0;
}

static void sf_builder_done(struct sf_builder *b)
{
    if (b->ctx)
        seccomp_release(b->ctx);
    if (b->ctx_sub)
        seccomp_release(b->ctx_sub);
    b->ctx = b->ctx_sub = NULL;
    b->warnings = strv_free(b->warnings);
}

static int sf_add_arch(struct sf_builder *b, uint32_t arch, bool strict, struct err *err)
{
    int r;

    if (arch == seccomp_arch_native())
        return 0;
    if (!b->ctx_sub) {
        b->ctx_sub = sf_ctx_new(b->default_action);
        if (!b->ctx_sub)
            return err_set(err, ENOMEM, "%s: seccomp_init", b->origin);
        r = seccomp_arch_remove(b->ctx_sub, SCMP_ARCH_NATIVE);
        if (r < 0)
            return err_set(err, -r, "%s: seccomp_arch_remove", b->origin);
    }
    r = seccomp_arch_add(b->ctx_sub, arch);
    if (r == -EEXIST || r == 0)
        return 0;
    if (r == -ENOMEM)
        return err_set(err, ENOMEM, "%s: seccomp_arch_add", b->origin);
    if (strict)
        sf_warn(b, "%s: architecture %#x not added (%s), ignoring", b->origin, arch, strerror(-r));
    return 0;
}

/* The x86 family on an x86_64 host, as docker's archMap: 32-bit and x32 binaries must not
 * be a way around the filter, so they get the same rules (libseccomp translates numbers). */
static int sf_add_native_family(struct sf_builder *b, struct err *err)
{
    uint32_t native = seccomp_arch_native();
    int r = 0;

    if (native == SCMP_ARCH_X86_64) {
        r = sf_add_arch(b, SCMP_ARCH_X86, false, err);
        if (r == 0)
            r = sf_add_arch(b, SCMP_ARCH_X32, false, err);
    } else if (native == SCMP_ARCH_AARCH64)
        r = sf_add_arch(b, SCMP_ARCH_ARM, false, err);
    return r;
}

/* Syscalls newer than this libseccomp (and than any profile written for it) get ENOSYS, not
 * the default EPERM: programs and libcs probe new syscalls (fchmodat2, statmount, ...) and
 * fall back only on ENOSYS. runc and crun do the same with a BPF stub; here they are plain
 * rules by number on the native arch, from the first number this libseccomp cannot name up
 * to SF_ENOSYS_SPAN past it. Not done when the default action allows anyway. */
#define SF_ENOSYS_SPAN 64

static int sf_add_enosys_stub(struct sf_builder *b, struct err *err)
{
    uint32_t native = seccomp_arch_native();
    int last = -1;

    if (b->default_action == SCMP_ACT_ALLOW || b->default_action == SCMP_ACT_LOG ||
        b->default_action == SCMP_ACT_ERRNO(ENOSYS))
        return 0;
    for (int nr = 0; nr < 1024; nr++) {
        char *name = seccomp_syscall_resolve_num_arch(native, nr);
        if (name)
            last = nr;
        free(name);
    }
    if (last < 0)
        return 0;
    for (int nr = last + 1; nr <= last + SF_ENOSYS_SPAN; nr++) {
        int r = seccomp_rule_add(b->ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
        if (r == -ENOMEM)
            return err_set(err, ENOMEM, "%s: add ENOSYS rule", b->origin);
    }
    return 0;
}

static int sf_export(struct sf_builder *b, struct secfilter *ret, struct err *err)
{
    _cleanup_close_ int fd = -1;
    struct stat st;
    struct sock_filter *insns;
    int r;

    r = sf_add_enosys_stub(b, err);
    if (r < 0)
        return r;
    if (b->ctx_sub) {
        /* Rules were added to both before the merge; an arch without rules is fine. */
        r = seccomp_merge(b->ctx, b->ctx_sub);
        if (r < 0)
            return err_set(err, -r, "%s: merge sub-architecture filter", b->origin);
        b->ctx_sub = NULL; /* consumed by the merge */
    }
    /* libseccomp 2.5 exports only to an fd: use an anonymous memory file. */
    fd = memfd_create("mgr-seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return err_set(err, errno, "%s: memfd_create", b->origin);
    r = seccomp_export_bpf(b->ctx, fd);
    if (r < 0)
        return err_set(err, -r, "%s: seccomp_export_bpf", b->origin);
    if (fstat(fd, &st) < 0)
        return err_set(err, errno, "%s: fstat exported filter", b->origin);
    if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0 ||
        st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS)
        return err_setx(err, E2BIG, "%s: exported filter has a bad size (%lld bytes)", b->origin,
                        (long long)st.st_size);
    insns = malloc((size_t)st.st_size);
    if (!insns)
        return err_set(err, ENOMEM, "%s: export filter", b->origin);
    if (pread(fd, insns, (size_t)st.st_size, 0) != st.st_size) {
        int e = errno ? errno : EIO;
        free(insns);
        return err_set(err, e, "%s: read exported filter", b->origin);
    }
    *ret = (struct secfilter){.insns = insns,
                              .n_insns = (size_t)st.st_size / sizeof(struct sock_filter),
                              .warnings = TAKE_PTR(b->warnings)};
    return 0;
}

static int sf_compile_default(uint64_t caps, struct secfilter *ret, struct err *err)
{
    struct sf_builder b;
    int r;

    r = sf_builder_init(&b, SCMP_ACT_ERRNO(EPERM), "default seccomp profile", err);
    if (r < 0)
        return r;
    r = sf_add_native_family(&b, err);

    if (r == 0)
        r = sf_add_rule(&b, &(struct sf_rule){sf_allow, SCMP_ACT_ALLOW}, false, err);
    /* socket: everything but AF_VSOCK (host communication channel). */
    if (r == 0)
        r = sf_add_rule(&b,
                        &(struct sf_rule){(const char *const[]){"socket", NULL},
                                          SCMP_ACT_ALLOW,
                                          {{0, AF_VSOCK_NR, 0, SCMP_CMP_NE}},
                                          1},
                        false, err);
    for (size_t i = 0; r == 0 && i < ARRAY_SIZE(sf_personality_ok); i++)
        r = sf_add_rule(&b,
                        &(struct sf_rule){(const char *const[]){"personality", NULL},
                                          SCMP_ACT_ALLOW,
                                          {{0, sf_personality_ok[i], 0, SCMP_CMP_EQ}},
                                          1},
                        false, err);
    if (r == 0 && (caps & CAPM(CAP_SYS_ADMIN)))
        r = sf_add_rule(&b, &(struct sf_rule){sf_sys_admin, SCMP_ACT_ALLOW}, false, err);
    if (r == 0 && !(caps & CAPM(CAP_SYS_ADMIN))) {
        /* clone without any namespace flag only: a container without CAP_SYS_ADMIN must
         * not create namespaces (user namespaces are the usual kernel attack surface). */
        r = sf_add_rule(&b,
                        &(struct sf_rule){(const char *const[]){"clone", NULL},
                                          SCMP_ACT_ALLOW,
                                          {{0, SF_CLONE_NS_FLAGS, 0, SCMP_CMP_MASKED_EQ}},
                                          1},
                        false, err);
        /* clone3 passes flags in memory that seccomp cannot read: ENOSYS makes glibc fall
         * back to clone(), which the rule above can check. */
        if (r == 0)
            r = sf_add_rule(&b,
                            &(struct sf_rule){(const char *const[]){"clone3", NULL},
                                              SCMP_ACT_ERRNO(ENOSYS)},
                            false, err);
    }
    for (size_t i = 0; r == 0 && i < ARRAY_SIZE(sf_cap_groups); i++)
        if (caps & CAPM(sf_cap_groups[i].cap))
            r = sf_add_rule(&b, &(struct sf_rule){sf_cap_groups[i].names, SCMP_ACT_ALLOW}, false,
                            err);
    if (r == 0)
        r = sf_export(&b, ret, err);
    sf_builder_done(&b);
    return r;
}

/* ---- cache of the compiled default profile ---- */

/* Bump when the table above changes: old cache files then no longer match. */
#define SF_TABLE_VERSION "mgr-default-seccomp-3"
#define SF_MEM_CACHE     8
#define SF_CACHE_MAGIC   "MGRBPF01"

#define SF_KEY_LEN 96

struct sf_cache_hdr {
    char magic[8];
    char key[SF_KEY_LEN]; /* the whole key, compared on load (the file name is a hash) */
    uint64_t n_insns;
};

static struct {
    bool used;
    char key[SF_KEY_LEN];
    struct sock_filter *insns;
    size_t n_insns;
} sf_mem_cache[SF_MEM_CACHE];
static char *sf_cache_dir;

void secfilter_set_cache_dir(const char *dir)
{
    if (dir && sf_cache_dir && STREQ(dir, sf_cache_dir))
        return;
    for (size_t i = 0; i < SF_MEM_CACHE; i++) {
        free(sf_mem_cache[i].insns);
        sf_mem_cache[i].insns = NULL;
        sf_mem_cache[i].used = false;
    }
    free(sf_cache_dir);
    sf_cache_dir = dir ? strdup(dir) : NULL;
}

/* The key: everything the compiled program depends on, as text (zero-padded). */
static void sf_cache_key(uint64_t caps, char key[SF_KEY_LEN])
{
    const struct scmp_version *v = seccomp_version();

    memset(key, 0, SF_KEY_LEN);
    snprintf(key, SF_KEY_LEN, "%s %u.%u.%u %#x %016llx", SF_TABLE_VERSION, v ? v->major : 0,
             v ? v->minor : 0, v ? v->micro : 0, seccomp_arch_native(), (unsigned long long)caps);
}

static int sf_dup_insns(const struct sock_filter *in, size_t n, struct secfilter *ret)
{
    struct sock_filter *c = malloc(n * sizeof(*c));

    if (!c)
        return -ENOMEM;
    memcpy(c, in, n * sizeof(*c));
    *ret = (struct secfilter){.insns = c, .n_insns = n};
    return 0;
}

static void sf_mem_put(const char key[SF_KEY_LEN], const struct secfilter *f)
{
    static size_t next;
    size_t i = next++ % SF_MEM_CACHE;
    struct sock_filter *c = malloc(f->n_insns * sizeof(*c));

    if (!c)
        return;
    memcpy(c, f->insns, f->n_insns * sizeof(*c));
    free(sf_mem_cache[i].insns);
    sf_mem_cache[i].used = true;
    memcpy(sf_mem_cache[i].key, key, SF_KEY_LEN);
    sf_mem_cache[i].insns = c;
    sf_mem_cache[i].n_insns = f->n_insns;
}

static void sf_cache_path(const char key[SF_KEY_LEN], char *buf, size_t len)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a: a file name, not a security check */

    for (size_t i = 0; i < SF_KEY_LEN && key[i]; i++)
        h = (h ^ (unsigned char)key[i]) * UINT64_C(0x100000001b3);
    snprintf(buf, len, "%s/seccomp/default-%016llx.bpf", sf_cache_dir, (unsigned long long)h);
}

static int sf_disk_get(const char key[SF_KEY_LEN], struct secfilter *ret)
{
    _cleanup_close_ int fd = -1;
    char path[PATH_MAX];
    struct sf_cache_hdr h;
    struct stat st;
    struct sock_filter *insns;

    sf_cache_path(key, path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    /* A program we load into every container: only trust a file we wrote ourselves. */
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0022))
        return -EPERM;
    if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
        memcmp(h.magic, SF_CACHE_MAGIC, 8) != 0 || memcmp(h.key, key, SF_KEY_LEN) != 0 ||
        h.n_insns == 0 || h.n_insns > BPF_MAXINSNS ||
        (uint64_t)st.st_size != sizeof(h) + h.n_insns * sizeof(struct sock_filter))
        return -EBADMSG;
    insns = malloc(h.n_insns * sizeof(*insns));
    if (!insns)
        return -ENOMEM;
    if (pread(fd, insns, h.n_insns * sizeof(*insns), sizeof(h)) !=
        (ssize_t)(h.n_insns * sizeof(*insns))) {
        free(insns);
        return -EIO;
    }
    *ret = (struct secfilter){.insns = insns, .n_insns = h.n_insns};
    return 0;
}

static void sf_disk_put(const char key[SF_KEY_LEN], const struct secfilter *f)
{
    char path[PATH_MAX], dir[PATH_MAX];
    size_t len = sizeof(struct sf_cache_hdr) + f->n_insns * sizeof(struct sock_filter);
    _cleanup_free_ char *buf = malloc(len);
    struct sf_cache_hdr h = {.n_insns = f->n_insns};

    if (!buf)
        return;
    memcpy(h.magic, SF_CACHE_MAGIC, 8);
    memcpy(h.key, key, SF_KEY_LEN);
    memcpy(buf, &h, sizeof(h));
    memcpy(buf + sizeof(h), f->insns, f->n_insns * sizeof(struct sock_filter));
    snprintf(dir, sizeof(dir), "%s/seccomp", sf_cache_dir);
    if (mkdir_p(dir, 0700) < 0)
        return;
    sf_cache_path(key, path, sizeof(path));
    /* Best effort: a failed write only costs the next start a compile. */
    (void)write_file_atomic_at(AT_FDCWD, path, buf, len, 0600, false);
}

int secfilter_build_default(uint64_t caps, struct secfilter *ret, struct err *err)
{
    char key[SF_KEY_LEN];
    int r;

    sf_cache_key(caps, key);
    for (size_t i = 0; i < SF_MEM_CACHE; i++)
        if (sf_mem_cache[i].used && memcmp(sf_mem_cache[i].key, key, SF_KEY_LEN) == 0) {
            if (sf_dup_insns(sf_mem_cache[i].insns, sf_mem_cache[i].n_insns, ret) < 0)
                return err_set(err, ENOMEM, "default seccomp profile");
            return 0;
        }
    if (sf_cache_dir && sf_disk_get(key, ret) == 0) {
        sf_mem_put(key, ret);
        return 0;
    }
    r = sf_compile_default(caps, ret, err);
    if (r < 0)
        return r;
    sf_mem_put(key, ret);
    if (sf_cache_dir)
        sf_disk_put(key, ret);
    return 0;
}

/* ---- OCI / Docker JSON profiles ---- */

static int sf_parse_action(const char *s, json_int_t errno_ret, bool has_errno, uint32_t *ret)
{
    static const struct {
        const char *name;
        uint32_t action;
    } tab[] = {
            {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW},
            {"SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD},
            {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD},
            {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS},
            {"SCMP_ACT_TRAP", SCMP_ACT_TRAP},
            {"SCMP_ACT_LOG", SCMP_ACT_LOG},
    };

    if (STREQ(s, "SCMP_ACT_ERRNO") || STREQ(s, "SCMP_ACT_TRACE")) {
        json_int_t v = has_errno ? errno_ret : EPERM;
        if (v < 0 || v > 0xffff)
            return -ERANGE;
        *ret = s[9] == 'E' ? SCMP_ACT_ERRNO((uint16_t)v) : SCMP_ACT_TRACE((uint16_t)v);
        return 0;
    }
    for (size_t i = 0; i < ARRAY_SIZE(tab); i++)
        if (STREQ(s, tab[i].name)) {
            *ret = tab[i].action;
            return 0;
        }
    return -EINVAL;
}

static int sf_parse_op(const char *s, enum scmp_compare *ret)
{
    static const struct {
        const char *name;
        enum scmp_compare op;
    } tab[] = {
            {"SCMP_CMP_NE", SCMP_CMP_NE},
            {"SCMP_CMP_LT", SCMP_CMP_LT},
            {"SCMP_CMP_LE", SCMP_CMP_LE},
            {"SCMP_CMP_EQ", SCMP_CMP_EQ},
            {"SCMP_CMP_GE", SCMP_CMP_GE},
            {"SCMP_CMP_GT", SCMP_CMP_GT},
            {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
    };

    for (size_t i = 0; i < ARRAY_SIZE(tab); i++)
        if (STREQ(s, tab[i].name)) {
            *ret = tab[i].op;
            return 0;
        }
    return -EINVAL;
}

/* Docker names architectures as Go does (GOARCH) in includes/excludes. */
static const char *sf_native_goarch(void)
{
    switch (seccomp_arch_native()) {
    case SCMP_ARCH_X86_64:
        return "amd64";
    case SCMP_ARCH_X86:
        return "386";
    case SCMP_ARCH_AARCH64:
        return "arm64";
    case SCMP_ARCH_ARM:
        return "arm";
    case SCMP_ARCH_PPC64LE:
        return "ppc64le";
    case SCMP_ARCH_S390X:
        return "s390x";
    case SCMP_ARCH_RISCV64:
        return "riscv64";
    default:
        return "";
    }
}

/* "SCMP_ARCH_X86_64" -> libseccomp token, 0 if unknown. */
static uint32_t sf_arch_from_json(const char *s)
{
    char buf[32];
    size_t i;

    if (strncmp(s, "SCMP_ARCH_", 10) == 0)
        s += 10;
    for (i = 0; s[i] && i + 1 < sizeof(buf); i++)
        buf[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
    buf[i] = 0;
    return seccomp_arch_resolve_name(buf);
}

static int sf_kernel_at_least(const char *want)
{
    struct utsname u;
    unsigned a = 0, b = 0, x = 0, y = 0;

    if (sscanf(want, "%u.%u", &a, &b) < 1)
        return -EINVAL;
    if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &x, &y) < 1)
        return 1;
    return x > a || (x == a && y >= b);
}

/* Evaluates an includes/excludes object: 1 when it matches the container (all listed caps
 * present / native arch listed / kernel new enough), 0 otherwise; for excludes, "matches"
 * means any listed cap or arch applies. */
static int sf_filter_matches(json_t *obj, uint64_t caps, bool any, const char *origin, size_t idx,
                             struct err *err)
{
    json_t *a, *v;
    size_t i;
    bool matched_any = false, all = true, seen = false;

    if (!obj || json_is_null(obj))
        return any ? 0 : 1;
    if (!json_is_object(obj))
        return err_setx(err, EINVAL, "%s: syscalls[%zu]: includes/excludes must be objects", origin,
                        idx);
    a = json_object_get(obj, "caps");
    if (a && json_is_array(a))
        json_array_foreach(a, i, v)
        {
            int c = json_is_string(v) ? caps_from_name(json_string_value(v)) : -EINVAL;
            bool have;
            if (c < 0 || c == CAPS_ALL)
                return err_setx(err, EINVAL, "%s: syscalls[%zu]: unknown capability in caps",
                                origin, idx);
            have = caps & CAPM(c);
            seen = true;
            matched_any |= have;
            all &= have;
        }
    a = json_object_get(obj, "arches");
    if (a && json_is_array(a)) {
        bool arch_hit = false;
        json_array_foreach(a, i, v)
        {
            if (json_is_string(v) && STREQ(json_string_value(v), sf_native_goarch()))
                arch_hit = true;
        }
        if (json_array_size(a) > 0) {
            seen = true;
            matched_any |= arch_hit;
            all &= arch_hit;
        }
    }
    v = json_object_get(obj, "minKernel");
    if (v && json_is_string(v) && json_string_length(v) > 0) {
        int k = sf_kernel_at_least(json_string_value(v));
        if (k < 0)
            return err_setx(err, EINVAL, "%s: syscalls[%zu]: bad minKernel '%s'", origin, idx,
                            json_string_value(v));
        seen = true;
        matched_any |= k;
        all &= k;
    }
    if (any)
        return matched_any;
    return !seen || all;
}

static int sf_parse_args(json_t *args, struct sf_rule *rule, const char *origin, size_t idx,
                         struct err *err)
{
    json_t *a;
    size_t i;

    if (!args || json_is_null(args))
        return 0;
    if (!json_is_array(args) || json_array_size(args) > SF_MAX_ARGS)
        return err_setx(err, EINVAL, "%s: syscalls[%zu].args: expected an array of at most %d",
                        origin, idx, SF_MAX_ARGS);
    json_array_foreach(args, i, a)
    {
        json_t *ix = json_object_get(a, "index"), *val = json_object_get(a, "value");
        json_t *v2 = json_object_get(a, "valueTwo"), *op = json_object_get(a, "op");
        struct sf_arg *arg = &rule->args[i];

        if (!json_is_integer(ix) || json_integer_value(ix) < 0 || json_integer_value(ix) > 5)
            return err_setx(err, EINVAL, "%s: syscalls[%zu].args[%zu].index: expected 0..5", origin,
                            idx, i);
        /* jansson reads integers as signed 64-bit; values above INT64_MAX do not occur in
         * practice (0xffffffff does, and fits). */
        if (!json_is_integer(val) || (v2 && !json_is_null(v2) && !json_is_integer(v2)))
            return err_setx(err, EINVAL, "%s: syscalls[%zu].args[%zu]: value must be an integer",
                            origin, idx, i);
        if (!json_is_string(op) || sf_parse_op(json_string_value(op), &arg->op) < 0)
            return err_setx(err, EINVAL, "%s: syscalls[%zu].args[%zu]: unknown op '%s'", origin,
                            idx, i, json_is_string(op) ? json_string_value(op) : "?");
        arg->index = (unsigned)json_integer_value(ix);
        arg->value = (uint64_t)json_integer_value(val);
        arg->value_two = json_is_integer(v2) ? (uint64_t)json_integer_value(v2) : 0;
        rule->n_args = i + 1;
    }
    return 0;
}

static int sf_json_arches(struct sf_builder *b, json_t *root, struct err *err)
{
    json_t *archs = json_object_get(root, "architectures"), *v, *map;
    uint32_t native = seccomp_arch_native();
    size_t i;
    int r;

    if (archs && json_is_array(archs) && json_array_size(archs) > 0) {
        json_array_foreach(archs, i, v)
        {
            uint32_t a = json_is_string(v) ? sf_arch_from_json(json_string_value(v)) : 0;
            if (a == 0) {
                sf_warn(b, "%s: unknown architecture '%s', ignoring", b->origin,
                        json_is_string(v) ? json_string_value(v) : "?");
                continue;
            }
            if (a == native)
                continue;
            r = sf_add_arch(b, a, true, err);
            if (r < 0)
                return r;
        }
        return 0;
    }
    /* Docker's archMap: the entry of the native arch names its sub-architectures. */
    map = json_object_get(root, "archMap");
    if (map && json_is_array(map)) {
        json_array_foreach(map, i, v)
        {
            json_t *arch = json_object_get(v, "architecture"), *subs, *s;
            size_t j;
            if (!json_is_string(arch) || sf_arch_from_json(json_string_value(arch)) != native)
                continue;
            subs = json_object_get(v, "subArchitectures");
            if (json_is_array(subs))
                json_array_foreach(subs, j, s)
                {
                    uint32_t a = json_is_string(s) ? sf_arch_from_json(json_string_value(s)) : 0;
                    if (a == 0)
                        continue;
                    r = sf_add_arch(b, a, true, err);
                    if (r < 0)
                        return r;
                }
        }
    }
    return 0;
}

int secfilter_build_json(const char *json, size_t len, const char *origin, uint64_t caps,
                         struct secfilter *ret, struct err *err)
{
    json_error_t jerr;
    json_t *root, *da, *der, *calls, *c;
    uint32_t default_action;
    struct sf_builder b = {0};
    size_t i;
    int r;

    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return err_setx(err, EINVAL, "%s:%d:%d: %s", origin, jerr.line, jerr.column, jerr.text);
    if (!json_is_object(root)) {
        r = err_setx(err, EINVAL, "%s: expected a JSON object", origin);
        goto out;
    }
    da = json_object_get(root, "defaultAction");
    der = json_object_get(root, "defaultErrnoRet");
    if (!json_is_string(da) || sf_parse_action(json_string_value(da), json_integer_value(der),
                                               json_is_integer(der), &default_action) < 0) {
        r = err_setx(err, EINVAL, "%s: defaultAction: missing or unknown action", origin);
        goto out;
    }
    r = sf_builder_init(&b, default_action, origin, err);
    if (r < 0)
        goto out;
    r = sf_json_arches(&b, root, err);
    if (r < 0)
        goto out;

    calls = json_object_get(root, "syscalls");
    if (calls && !json_is_null(calls) && !json_is_array(calls)) {
        r = err_setx(err, EINVAL, "%s: syscalls: expected an array", origin);
        goto out;
    }
    json_array_foreach(calls, i, c)
    {
        json_t *names = json_object_get(c, "names"), *name = json_object_get(c, "name");
        json_t *act = json_object_get(c, "action"), *er = json_object_get(c, "errnoRet");
        struct sf_rule rule = {0};
        char **nv = NULL;
        json_t *n;
        size_t j;

        if (!json_is_object(c)) {
            r = err_setx(err, EINVAL, "%s: syscalls[%zu]: expected an object", origin, i);
            goto out;
        }
        if (!json_is_string(act) || sf_parse_action(json_string_value(act), json_integer_value(er),
                                                    json_is_integer(er), &rule.action) < 0) {
            r = err_setx(err, EINVAL, "%s: syscalls[%zu].action: missing or unknown action '%s'",
                         origin, i, json_is_string(act) ? json_string_value(act) : "?");
            goto out;
        }
        r = sf_filter_matches(json_object_get(c, "includes"), caps, false, origin, i, err);
        if (r < 0)
            goto out;
        if (r == 0)
            continue;
        r = sf_filter_matches(json_object_get(c, "excludes"), caps, true, origin, i, err);
        if (r < 0)
            goto out;
        if (r == 1)
            continue;
        r = sf_parse_args(json_object_get(c, "args"), &rule, origin, i, err);
        if (r < 0)
            goto out;
        if (json_is_string(name) && strv_push(&nv, json_string_value(name)) < 0) {
            r = err_set(err, ENOMEM, "%s", origin);
            goto out;
        }
        if (json_is_array(names))
            json_array_foreach(names, j, n)
            {
                if (!json_is_string(n) || strv_push(&nv, json_string_value(n)) < 0) {
                    strv_free(nv);
                    r = err_setx(err, EINVAL, "%s: syscalls[%zu].names: expected strings", origin,
                                 i);
                    goto out;
                }
            }
        if (!nv) {
            r = err_setx(err, EINVAL, "%s: syscalls[%zu]: no names", origin, i);
            goto out;
        }
        rule.names = (const char *const *)nv;
        r = sf_add_rule(&b, &rule, true, err);
        strv_free(nv);
        if (r < 0)
            goto out;
    }
    r = sf_export(&b, ret, err);
out:
    sf_builder_done(&b);
    json_decref(root);
    return r;
}

int secfilter_build_file(const char *path, uint64_t caps, struct secfilter *ret, struct err *err)
{
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    int r;

    r = read_file_at(AT_FDCWD, path, SF_PROFILE_MAX, &text, &len);
    if (r < 0)
        return err_set(err, -r, "read seccomp profile '%s'", path);
    return secfilter_build_json(text, len, path, caps, ret, err);
}

void secfilter_done(struct secfilter *f)
{
    if (!f)
        return;
    free(f->insns);
    strv_free(f->warnings);
    *f = (struct secfilter){0};
}

int secfilter_load(const struct secfilter *f, struct err *err)
{
    struct sock_fprog prog = {.len = (unsigned short)f->n_insns, .filter = f->insns};

    if (!f->insns || f->n_insns == 0)
        return err_setx(err, EINVAL, "load seccomp filter: empty program");
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
        return err_set(err, errno, "load seccomp filter (%zu instructions)", f->n_insns);
    return 0;
}

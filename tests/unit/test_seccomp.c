/* Seccomp filters: the built-in default and JSON profiles are built, then loaded in a forked
 * child (with no_new_privs, so no root is needed) and probed with real syscalls. */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>
#include <linux/sched.h>
#include <linux/capability.h>

#include "harness.h"
#include "caps.h"
#include "err.h"
#include "sec.h"
#include "secfilter.h"
#include "unit.h"

/* Probes run in the child after the filter is loaded; each returns the errno observed
 * (0 = success). */
enum probe { P_GETPID, P_KEYCTL, P_ADD_KEY, P_UNSHARE_USER, P_MOUNT, P_BPF, P_KEXEC,
    P_INIT_MODULE, P_CLONE3, P_PERSONALITY_BAD, P_PERSONALITY_OK, P_MKDIR, P_CLONE_NEWUSER,
    P_I386_KEYCTL, P_I386_GETPID, P_FORK, P_FCHMODAT2 };

static int probe_run(enum probe p)
{
    long r = 0;

    switch (p) {
    case P_GETPID:
        r = syscall(SYS_getpid);
        break;
    case P_KEYCTL:
        r = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0);
        break;
    case P_ADD_KEY:
        r = syscall(SYS_add_key, "user", "mgrt", "x", 1, -3);
        break;
    case P_UNSHARE_USER:
        r = unshare(CLONE_NEWUSER);
        break;
    case P_MOUNT:
        r = syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, NULL);
        break;
    case P_BPF:
        r = syscall(SYS_bpf, 0, NULL, 0);
        break;
    case P_KEXEC:
        r = syscall(SYS_kexec_load, 0, 0, NULL, 0);
        break;
    case P_INIT_MODULE:
        r = syscall(SYS_init_module, NULL, 0, "");
        break;
    case P_CLONE3: {
        struct clone_args a = {.exit_signal = SIGCHLD};
        r = syscall(SYS_clone3, &a, sizeof(a));
        if (r == 0)
            _exit(0);
        if (r > 0)
            waitpid((pid_t)r, NULL, 0);
        break;
    }
    case P_PERSONALITY_BAD:
        r = syscall(SYS_personality, ADDR_NO_RANDOMIZE);
        break;
    case P_PERSONALITY_OK:
        r = syscall(SYS_personality, 0xffffffff);
        break;
    case P_MKDIR:
        r = mkdir("/nonexistent-mgrt/x", 0755);
        break;
    case P_CLONE_NEWUSER:
        r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0);
        if (r == 0)
            _exit(0);
        if (r > 0)
            waitpid((pid_t)r, NULL, 0);
        break;
    case P_I386_KEYCTL:
    case P_I386_GETPID: {
        /* The 32-bit ABI through int $0x80: the filter must cover it too. */
#if defined(__x86_64__)
        long nr = p == P_I386_KEYCTL ? 288 : 20, ret;
        __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(0), "c"(-3), "d"(0) : "memory");
        if (ret < 0 && ret > -4096) {
            errno = (int)-ret;
            r = -1;
        } else
            r = ret;
#else
        errno = 0;
        r = 0;
#endif
        break;
    }
    case P_FCHMODAT2:
        /* fchmodat2 (x86_64 452, kernel 6.6): newer than libseccomp 2.5 */
        r = syscall(452, AT_FDCWD, "/nonexistent-mgrt", 0644, 0);
        break;
    case P_FORK: {
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        if (pid > 0)
            waitpid(pid, NULL, 0);
        r = pid;
        break;
    }
    }
    return r < 0 ? errno : 0;
}

/* Loads f in a child with no_new_privs, runs probe p there and returns its errno (or -1). */
static int probe(const struct secfilter *f, enum probe p)
{
    int st;
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid == 0) {
        struct err e = {0};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || secfilter_load(f, &e) < 0)
            _exit(255);
        int r = probe_run(p);
        _exit(r > 250 ? 250 : r);
    }
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) == 255)
        return -1;
    return WEXITSTATUS(st);
}

static int test_default_profile(void)
{
    struct secfilter f = {0};
    struct err e = {0};

    CHECK_INT(secfilter_build_default(caps_default_mask(), &f, &e), 0);
    CHECK(f.n_insns > 10 && f.n_insns < 4096);
    CHECK_INT(probe(&f, P_GETPID), 0);
    CHECK_INT(probe(&f, P_FORK), 0);
    CHECK_INT(probe(&f, P_KEYCTL), EPERM);
    CHECK_INT(probe(&f, P_ADD_KEY), EPERM);
    CHECK_INT(probe(&f, P_UNSHARE_USER), EPERM);
    CHECK_INT(probe(&f, P_CLONE_NEWUSER), EPERM);
    CHECK_INT(probe(&f, P_MOUNT), EPERM);
    CHECK_INT(probe(&f, P_BPF), EPERM);
    CHECK_INT(probe(&f, P_KEXEC), EPERM);
    CHECK_INT(probe(&f, P_INIT_MODULE), EPERM);
    CHECK_INT(probe(&f, P_CLONE3), ENOSYS);
    CHECK_INT(probe(&f, P_PERSONALITY_BAD), EPERM);
    CHECK_INT(probe(&f, P_PERSONALITY_OK), 0);
    CHECK_INT(probe(&f, P_MKDIR), ENOENT); /* allowed: the kernel's own error */
#if defined(__x86_64__)
    /* A syscall newer than libseccomp must look absent (ENOSYS) so libc falls back, or be
     * allowed by name (ENOENT from the kernel) with a newer libseccomp: never EPERM. */
    int e2 = probe(&f, P_FCHMODAT2);
    CHECK(e2 == ENOSYS || e2 == ENOENT);
#endif
#if defined(__x86_64__)
    CHECK_INT(probe(&f, P_I386_GETPID), 0);
    CHECK_INT(probe(&f, P_I386_KEYCTL), EPERM);
#endif
    secfilter_done(&f);
    CHECK(f.insns == NULL);
    return 0;
}

static int test_default_with_sys_admin(void)
{
    struct secfilter f = {0};
    struct err e = {0};
    uint64_t caps = caps_default_mask() | (UINT64_C(1) << CAP_SYS_ADMIN);

    CHECK_INT(secfilter_build_default(caps, &f, &e), 0);
    /* CAP_SYS_ADMIN in the set opens unshare/clone3 in the filter; the kernel then decides
     * (here: an unprivileged user namespace is allowed or refused by the host's policy, but
     * never EPERM from the filter with clone3's ENOSYS). */
    CHECK(probe(&f, P_CLONE3) != ENOSYS);
    CHECK_INT(probe(&f, P_KEYCTL), EPERM); /* keyctl is never allowed */
    secfilter_done(&f);
    CHECK_INT(secfilter_build_default(0, &f, &e), 0);
    CHECK_INT(probe(&f, P_GETPID), 0);
    secfilter_done(&f);
    return 0;
}

static const char deny_mkdir[] =
        "{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n"
        " \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"],\n"
        " \"syscalls\": [\n"
        "  {\"names\": [\"mkdir\", \"mkdirat\", \"no_such_syscall_mgrt\"],\n"
        "   \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13},\n"
        "  {\"names\": [\"keyctl\"], \"action\": \"SCMP_ACT_ERRNO\",\n"
        "   \"args\": [{\"index\": 0, \"value\": 0, \"op\": \"SCMP_CMP_EQ\"}]},\n"
        "  {\"names\": [\"bpf\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 22,\n"
        "   \"excludes\": {\"caps\": [\"CAP_SYS_ADMIN\"]}},\n"
        "  {\"names\": [\"kexec_load\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 7,\n"
        "   \"includes\": {\"arches\": [\"s390x\"]}}\n"
        " ]}\n";

static int test_json_profile(void)
{
    struct secfilter f = {0};
    struct err e = {0};

    CHECK_INT(secfilter_build_json(deny_mkdir, sizeof(deny_mkdir) - 1, "deny.json",
                      caps_default_mask(), &f, &e),
            0);
    /* The unknown syscall is a warning, not an error. */
    CHECK(f.warnings && f.warnings[0]);
    CHECK(strstr(f.warnings[0], "no_such_syscall_mgrt") != NULL);
    CHECK_INT(probe(&f, P_MKDIR), EACCES);
    CHECK_INT(probe(&f, P_KEYCTL), EPERM); /* errnoRet absent: EPERM, arg 0 == 0 matched */
    CHECK_INT(probe(&f, P_BPF), 22);       /* excludes CAP_SYS_ADMIN: not in the set */
    /* includes another arch only: rule not added, the kernel's own answer comes back. */
    CHECK(probe(&f, P_KEXEC) != 7);
    CHECK_INT(probe(&f, P_GETPID), 0);
    secfilter_done(&f);
    return 0;
}

static int test_json_errors(void)
{
    struct secfilter f = {0};
    struct err e = {0};
    static const char *bad[] = {
            "{",
            "[]",
            "{\"defaultAction\": \"SCMP_ACT_FLY\"}",
            "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": {}}",
            "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\"]}]}",
            "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\"],"
            " \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 9, \"value\": 1,"
            " \"op\": \"SCMP_CMP_EQ\"}]}]}",
            "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\"],"
            " \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": 1,"
            " \"op\": \"SCMP_CMP_SOMETIMES\"}]}]}",
            "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [1],"
            " \"action\": \"SCMP_ACT_ERRNO\"}]}",
            "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"action\": \"SCMP_ACT_ERRNO\"}]}",
            "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 99999}",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int r = secfilter_build_json(bad[i], strlen(bad[i]), "bad.json", 0, &f, &e);
        if (r != -EINVAL)
            fprintf(stderr, "  case %zu: %d %s\n", i, r, e.msg);
        CHECK_INT(r, -EINVAL);
        CHECK(strncmp(e.msg, "bad.json", 8) == 0);
        CHECK(f.insns == NULL);
    }
    CHECK(secfilter_build_file("/nonexistent-mgrt.json", 0, &f, &e) < 0);
    CHECK(strstr(e.msg, "/nonexistent-mgrt.json") != NULL);
    return 0;
}

/* A docker-style profile with archMap and the usual shape of includes/excludes. */
static const char docker_style[] =
        "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 38,\n"
        " \"archMap\": [{\"architecture\": \"SCMP_ARCH_X86_64\",\n"
        "   \"subArchitectures\": [\"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"]},\n"
        "  {\"architecture\": \"SCMP_ARCH_AARCH64\", \"subArchitectures\": [\"SCMP_ARCH_ARM\"]}],\n"
        " \"syscalls\": [\n"
        "  {\"names\": [\"keyctl\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1},\n"
        "  {\"name\": \"exit_group\", \"action\": \"SCMP_ACT_ALLOW\"},\n"
        "  {\"names\": [\"getpid\", \"exit\", \"wait4\", \"fork\", \"clone\", \"rt_sigreturn\",\n"
        "    \"mkdir\", \"futex\", \"brk\", \"mmap\", \"munmap\", \"clone3\", \"set_robust_list\",\n"
        "    \"rseq\", \"rt_sigprocmask\", \"madvise\", \"prctl\", \"getppid\",\n"
        /* what sanitizer runtimes call in the child (ASan/UBSan build of this test) */
        "    \"sigaltstack\", \"gettid\", \"open\", \"openat\", \"close\", \"read\",\n"
        "    \"write\", \"readlink\", \"fstat\", \"newfstatat\", \"getrlimit\",\n"
        "    \"prlimit64\", \"mprotect\", \"tgkill\", \"rt_sigaction\", \"sched_getaffinity\",\n"
        "    \"sched_yield\", \"lseek\", \"pread64\"],\n"
        "   \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"minKernel\": \"4.8\"}},\n"
        "  {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [\n"
        "    {\"index\": 0, \"value\": 0, \"op\": \"SCMP_CMP_EQ\"},\n"
        "    {\"index\": 0, \"value\": 4294967295, \"op\": \"SCMP_CMP_EQ\"}]}\n"
        " ]}\n";

static int test_json_docker_style(void)
{
    struct secfilter f = {0};
    struct err e = {0};

    CHECK_INT(secfilter_build_json(docker_style, sizeof(docker_style) - 1, "d.json", 0, &f, &e),
            0);
    CHECK_INT(probe(&f, P_GETPID), 0);
    CHECK_INT(probe(&f, P_KEYCTL), EPERM);
    CHECK_INT(probe(&f, P_BPF), ENOSYS); /* default */
    CHECK_INT(probe(&f, P_PERSONALITY_OK), 0);
    CHECK_INT(probe(&f, P_PERSONALITY_BAD), ENOSYS);
    secfilter_done(&f);
    return 0;
}

static int test_plan_from_unit(void)
{
    struct unit u = {.name = "mgrt-sec"};
    struct sec_plan *p = NULL;
    struct err e = {0};
    char *drop_all[] = {"ALL", NULL};

    u.sec.no_new_privileges = true;
    u.sec.cap_drop = drop_all;
    CHECK_INT(sec_prepare(&u, &p, &e), 0);
    CHECK_INT(p->caps, 0);
    CHECK(p->seccomp && p->filter.n_insns > 0);
    CHECK(p->no_new_privs);
    p = sec_plan_free(p);

    u.sec.seccomp = SECCOMP_UNCONFINED;
    CHECK_INT(sec_prepare(&u, &p, &e), 0);
    CHECK(!p->seccomp && p->filter.insns == NULL);
    p = sec_plan_free(p);

    u.sec.seccomp = SECCOMP_PROFILE;
    u.sec.seccomp_profile = "/nonexistent-mgrt.json";
    CHECK(sec_prepare(&u, &p, &e) < 0);
    CHECK(p == NULL);
    CHECK(strncmp(e.msg, "unit 'mgrt-sec': read seccomp profile '/nonexistent-mgrt.json'", 60) == 0);
    return 0;
}

/* Bad input never crashes: every prefix of a real profile and random byte mutations of it
 * either build or fail cleanly (run under ASan/UBSan by make test). */
static int test_json_mutations(void)
{
    size_t len = sizeof(docker_style) - 1;
    char *buf = malloc(len + 1);
    unsigned seed = 12345;
    struct secfilter f = {0};
    struct err e = {0};

    CHECK(buf != NULL);
    for (size_t n = 0; n < len; n += 7) {
        int r = secfilter_build_json(docker_style, n, "prefix.json", 0, &f, &e);
        CHECK(r == 0 || r == -EINVAL);
        secfilter_done(&f);
    }
    static const char junk[] = "{}[]\",:0123456789-eE.tfnul \\\x00\xff";
    for (int i = 0; i < 400; i++) {
        memcpy(buf, docker_style, len);
        for (int k = 0; k < 1 + i % 4; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % len;
            seed = seed * 1103515245u + 12345u;
            buf[at] = junk[(seed >> 8) % (sizeof(junk) - 1)];
        }
        int r = secfilter_build_json(buf, len, "mutant.json", caps_default_mask(), &f, &e);
        CHECK(r == 0 || r == -EINVAL || r == -ERANGE);
        if (r < 0)
            CHECK(e.msg[0] != 0);
        secfilter_done(&f);
    }
    free(buf);
    return 0;
}

/* In a fresh process (empty memory cache): builds the default with the disk cache in dir and
 * returns 0 when the program equals want. */
static int build_in_child(const char *dir, const struct secfilter *want)
{
    int st;
    pid_t pid = fork();

    if (pid == 0) {
        struct secfilter f = {0};
        struct err e = {0};
        secfilter_set_cache_dir(dir);
        if (secfilter_build_default(caps_default_mask(), &f, &e) < 0)
            _exit(2);
        _exit(f.n_insns == want->n_insns &&
                                memcmp(f.insns, want->insns, f.n_insns * sizeof(*f.insns)) == 0
                        ? 0
                        : 1);
    }
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static int test_cache(void)
{
    char dir[] = "/tmp/mgrt.sfcache.XXXXXX", path[600];
    struct secfilter a = {0}, b = {0};
    struct err e = {0};
    struct dirent *de;
    struct stat st;
    DIR *d;
    int fd;

    CHECK(mkdtemp(dir) != NULL);
    CHECK_INT(secfilter_build_default(caps_default_mask(), &a, &e), 0);
    CHECK_INT(secfilter_build_default(caps_default_mask(), &b, &e), 0); /* memory hit */
    CHECK_INT(a.n_insns, b.n_insns);
    CHECK(memcmp(a.insns, b.insns, a.n_insns * sizeof(*a.insns)) == 0);
    secfilter_done(&b);
    CHECK_INT(build_in_child(dir, &a), 0); /* compiles, writes the cache file */

    snprintf(path, sizeof(path), "%s/seccomp", dir);
    d = opendir(path);
    CHECK(d != NULL);
    path[0] = 0;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            snprintf(path, sizeof(path), "%s/seccomp/%s", dir, de->d_name);
    closedir(d);
    CHECK(path[0] != 0);
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0600);
    CHECK_INT(build_in_child(dir, &a), 0); /* disk hit, same program */
    /* Change one instruction behind a valid header: the child now loads the changed
     * program, which proves the file is what is used... */
    fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    CHECK(pwrite(fd, "\x7f", 1, st.st_size - 2) == 1);
    CHECK_INT(build_in_child(dir, &a), 1);
    /* ...unless it is group/world-writable, or its header is damaged: then recompiled. */
    CHECK_INT(chmod(path, 0666), 0);
    CHECK_INT(build_in_child(dir, &a), 0);
    CHECK_INT(chmod(path, 0600), 0);
    CHECK(pwrite(fd, "\xff\xff\xff\xff", 4, 20) == 4);
    close(fd);
    CHECK_INT(build_in_child(dir, &a), 0);
    unlink(path);
    snprintf(path, sizeof(path), "%s/seccomp", dir);
    rmdir(path);
    CHECK_INT(rmdir(dir), 0);
    secfilter_done(&a);
    return 0;
}

int main(void)
{
    RUN(test_default_profile);
    RUN(test_default_with_sys_admin);
    RUN(test_json_profile);
    RUN(test_json_errors);
    RUN(test_json_docker_style);
    RUN(test_json_mutations);
    RUN(test_plan_from_unit);
    RUN(test_cache);
    return HARNESS_END();
}

/* Static helper packed into test containers by the security tests (tests/integration/30-*).
 * Prints facts seen from inside; the scripts compare them with what they expect.
 *   status               Cap*, NoNewPrivs and Seccomp lines of /proc/self/status
 *   syscall NAME...      one line per NAME: "NAME ok" or "NAME errno=N"
 *   bind PORT            binds a TCP socket on 0.0.0.0:PORT: "bind ok" or "bind errno=N"
 *   fds PID              the fd numbers open in /proc/PID/fd with their targets
 *   exe                  readlink /proc/self/exe and its device:inode
 *   id                   "uid=R/E/S gid=R/E/S"
 *   mkdir PATH           "mkdir ok" or "mkdir errno=N"
 *   write PATH TEXT      "write ok" or "write errno=N"
 *   exec PATH ARGS...    execv (to run a setuid copy of this helper)
 *   limits nofile        "nofile SOFT HARD" (getrlimit)
 *   sleep SECS           sleeps (a long-running container)
 *   openexe PID|parent   opens /proc/PID/exe for reading and writing: "openexe ok" or errno
 *   getppid N            N getppid() calls: "ns_per_call X" (the cost of the seccomp filter) */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/sched.h>

static void report(const char *what, long r)
{
    if (r < 0)
        printf("%s errno=%d\n", what, errno);
    else
        printf("%s ok\n", what);
}

static long try_syscall(const char *name)
{
    if (!strcmp(name, "unshare_user"))
        return unshare(CLONE_NEWUSER);
    if (!strcmp(name, "unshare_net"))
        return unshare(CLONE_NEWNET);
    if (!strcmp(name, "mount"))
        return mount("none", "/tmp", "tmpfs", 0, NULL);
    if (!strcmp(name, "keyctl"))
        return syscall(SYS_keyctl, 0, -3, 0);
    if (!strcmp(name, "add_key"))
        return syscall(SYS_add_key, "user", "mgrt", "x", 1, -3);
    if (!strcmp(name, "bpf"))
        return syscall(SYS_bpf, 0, NULL, 0);
    if (!strcmp(name, "kexec_load"))
        return syscall(SYS_kexec_load, 0, 0, NULL, 0);
    if (!strcmp(name, "init_module"))
        return syscall(SYS_init_module, NULL, 0, "");
    if (!strcmp(name, "personality_bad"))
        return syscall(SYS_personality, 0x0040000 /* ADDR_NO_RANDOMIZE */);
    if (!strcmp(name, "chroot"))
        return chroot("/");
    if (!strcmp(name, "clone3")) {
        struct clone_args a = {.exit_signal = SIGCHLD};
        long r = syscall(SYS_clone3, &a, sizeof(a));
        if (r == 0)
            _exit(0);
        if (r > 0)
            waitpid((pid_t)r, NULL, 0);
        return r;
    }
    if (!strcmp(name, "io_uring_setup")) {
        char params[120] = {0};
        long fd = syscall(SYS_io_uring_setup, 4, params);
        if (fd >= 0)
            close((int)fd);
        return fd;
    }
    if (!strcmp(name, "getpid"))
        return syscall(SYS_getpid);
    if (!strcmp(name, "setuid0"))
        return setuid(0);
    errno = EINVAL;
    return -2;
}

static int cmd_status(void)
{
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");

    if (!f) {
        perror("open /proc/self/status");
        return 1;
    }
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs", 10) ||
                !strncmp(line, "Seccomp:", 8) || !strncmp(line, "Uid:", 4) ||
                !strncmp(line, "Gid:", 4))
            fputs(line, stdout);
    fclose(f);
    return 0;
}

static int cmd_fds(const char *pid)
{
    char path[64], target[512];
    DIR *d;
    struct dirent *de;

    snprintf(path, sizeof(path), "/proc/%s/fd", pid);
    d = opendir(path);
    if (!d) {
        printf("opendir errno=%d\n", errno);
        return 1;
    }
    while ((de = readdir(d))) {
        char p[600];
        ssize_t n;
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
        n = readlink(p, target, sizeof(target) - 1);
        target[n < 0 ? 0 : n] = 0;
        /* the directory fd of this very listing is not the container's */
        if (dirfd(d) == atoi(de->d_name) && (!strcmp(pid, "self") || atoi(pid) == getpid()))
            continue;
        printf("fd %s -> %s\n", de->d_name, target);
    }
    closedir(d);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        fprintf(stderr, "usage: sectest status|syscall|bind|fds|exe|id|mkdir|write|exec|sleep\n");
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "status"))
        return cmd_status();
    if (!strcmp(c, "syscall")) {
        for (int i = 2; i < argc; i++) {
            errno = 0;
            long r = try_syscall(argv[i]);
            if (r == -2 && errno == EINVAL)
                printf("%s unknown\n", argv[i]);
            else
                report(argv[i], r);
        }
        return 0;
    }
    if (!strcmp(c, "bind") && argc == 3) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) {
            report("socket", -1);
            return 1;
        }
        report("bind", bind(fd, (struct sockaddr *)&a, sizeof(a)));
        return 0;
    }
    if (!strcmp(c, "fds"))
        return cmd_fds(argc > 2 ? argv[2] : "self");
    if (!strcmp(c, "exe")) {
        char t[512];
        struct stat st;
        ssize_t n = readlink("/proc/self/exe", t, sizeof(t) - 1);
        t[n < 0 ? 0 : n] = 0;
        if (stat("/proc/self/exe", &st) < 0)
            return 1;
        printf("exe %s %llu:%llu\n", t, (unsigned long long)st.st_dev,
                (unsigned long long)st.st_ino);
        return 0;
    }
    if (!strcmp(c, "id")) {
        uid_t r, e, s;
        gid_t gr, ge, gs;
        getresuid(&r, &e, &s);
        getresgid(&gr, &ge, &gs);
        printf("uid=%u/%u/%u gid=%u/%u/%u\n", r, e, s, gr, ge, gs);
        return 0;
    }
    if (!strcmp(c, "mkdir") && argc == 3) {
        report("mkdir", mkdir(argv[2], 0755));
        return 0;
    }
    if (!strcmp(c, "write") && argc == 4) {
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, argv[3], strlen(argv[3])) < 0) {
            report("write", -1);
            return 0;
        }
        close(fd);
        report("write", 0);
        return 0;
    }
    if (!strcmp(c, "exec") && argc >= 3) {
        execv(argv[2], argv + 2);
        report("exec", -1);
        return 1;
    }
    if (!strcmp(c, "limits") && argc == 3 && !strcmp(argv[2], "nofile")) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
            return 1;
        printf("nofile %llu %llu\n", (unsigned long long)rl.rlim_cur,
                (unsigned long long)rl.rlim_max);
        return 0;
    }
    if (!strcmp(c, "openexe") && argc == 3) {
        char p[64];
        int pid = strcmp(argv[2], "parent") ? atoi(argv[2]) : (int)getppid();
        snprintf(p, sizeof(p), "/proc/%d/exe", pid);
        int fd = open(p, O_RDONLY);
        report("openexe-read", fd);
        if (fd >= 0)
            close(fd);
        fd = open(p, O_WRONLY);
        report("openexe-write", fd);
        return 0;
    }
    if (!strcmp(c, "getppid") && argc == 3) {
        long n = atol(argv[2]);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 0; i < n; i++)
            syscall(SYS_getppid);
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("ns_per_call %.1f\n",
                ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (double)(n > 0 ? n : 1));
        return 0;
    }
    if (!strcmp(c, "sleep") && argc == 3) {
        sleep((unsigned)atoi(argv[2]));
        return 0;
    }
    fprintf(stderr, "sectest: bad command '%s'\n", c);
    return 2;
}

/* Static helper program packed into test images as /payload: tiny subcommands that report
 * what the container sees, without needing a shell or a distro inside. Exit 0 on success,
 * 1 on failure (with a message on stderr), 2 on bad usage.
 *
 *   payload hostname            print the hostname
 *   payload ns                  print "TYPE INODE" for each /proc/self/ns entry
 *   payload cat FILE...         print files
 *   payload write FILE TEXT     write TEXT to FILE (created/truncated)
 *   payload exit N              exit with status N
 *   payload sleep SECS          sleep (fractions allowed)
 *   payload wait-signal FILE    install handlers for INT/TERM/HUP, write "ready" to FILE,
 *                               wait; on a signal print "got SIGNAME" and exit 10+signo
 *   payload caps                print the Cap* lines of /proc/self/status
 *   payload ls DIR              list directory entries, one per line
 *   payload id                  print "uid=U gid=G groups=G1,G2"
 *   payload env                 print the environment, one per line
 *   payload pwd                 print the working directory
 *   payload pid                 print getpid()
 *   payload fds                 list open fds (from /proc/self/fd)
 *   payload mkdir DIR           create a directory
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

extern char **environ;

static int cat(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "payload: open %s: %s\n", path, strerror(errno));
        return 1;
    }
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        fwrite(buf, 1, (size_t)n, stdout);
    close(fd);
    if (n < 0) {
        fprintf(stderr, "payload: read %s: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

static volatile sig_atomic_t got;
static void on_sig(int s)
{
    got = s;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: payload CMD [ARGS]\n");
        return 2;
    }
    const char *c = argv[1];
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(c, "hostname")) {
        char h[256];
        if (gethostname(h, sizeof(h)) < 0)
            return 1;
        printf("%s\n", h);
    } else if (!strcmp(c, "ns")) {
        static const char *t[] = {"pid", "net", "ipc", "uts", "mnt", "cgroup", "user", "time"};
        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
            char p[64];
            struct stat st;
            snprintf(p, sizeof(p), "/proc/self/ns/%s", t[i]);
            if (stat(p, &st) == 0)
                printf("%s %lu\n", t[i], (unsigned long)st.st_ino);
        }
    } else if (!strcmp(c, "cat") && argc >= 3) {
        int r = 0;
        for (int i = 2; i < argc; i++)
            r |= cat(argv[i]);
        return r;
    } else if (!strcmp(c, "write") && argc == 4) {
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, argv[3], strlen(argv[3])) < 0) {
            fprintf(stderr, "payload: write %s: %s\n", argv[2], strerror(errno));
            return 1;
        }
        close(fd);
    } else if (!strcmp(c, "mkdir") && argc == 3) {
        if (mkdir(argv[2], 0755) < 0) {
            fprintf(stderr, "payload: mkdir %s: %s\n", argv[2], strerror(errno));
            return 1;
        }
    } else if (!strcmp(c, "exit") && argc == 3) {
        return atoi(argv[2]);
    } else if (!strcmp(c, "sleep") && argc == 3) {
        double s = atof(argv[2]);
        struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    } else if (!strcmp(c, "wait-signal") && argc == 3) {
        struct sigaction sa = {.sa_handler = on_sig};
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, "ready\n", 6) < 0)
            return 1;
        close(fd);
        while (!got)
            pause();
        printf("got %s\n", sigabbrev_np(got));
        return 10 + got;
    } else if (!strcmp(c, "caps")) {
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        if (!f)
            return 1;
        while (fgets(line, sizeof(line), f))
            if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs", 10) ||
                    !strncmp(line, "Seccomp:", 8))
                fputs(line, stdout);
        fclose(f);
    } else if (!strcmp(c, "ls") && argc == 3) {
        DIR *d = opendir(argv[2]);
        struct dirent *de;
        if (!d) {
            fprintf(stderr, "payload: opendir %s: %s\n", argv[2], strerror(errno));
            return 1;
        }
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                printf("%s\n", de->d_name);
        closedir(d);
    } else if (!strcmp(c, "id")) {
        gid_t g[64];
        int n = getgroups(64, g);
        printf("uid=%u gid=%u groups=", (unsigned)getuid(), (unsigned)getgid());
        for (int i = 0; i < n; i++)
            printf("%s%u", i ? "," : "", (unsigned)g[i]);
        printf("\n");
    } else if (!strcmp(c, "env")) {
        for (char **e = environ; *e; e++)
            printf("%s\n", *e);
    } else if (!strcmp(c, "pwd")) {
        char b[4096];
        if (!getcwd(b, sizeof(b)))
            return 1;
        printf("%s\n", b);
    } else if (!strcmp(c, "pid")) {
        printf("%d\n", (int)getpid());
    } else if (!strcmp(c, "fds")) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        if (!d)
            return 1;
        int self = dirfd(d);
        while ((de = readdir(d)))
            if (de->d_name[0] != '.' && atoi(de->d_name) != self)
                printf("%s\n", de->d_name);
        closedir(d);
    } else {
        fprintf(stderr, "payload: unknown command '%s'\n", c);
        return 2;
    }
    return 0;
}

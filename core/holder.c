/* See holder.h. The holder is forked from the daemon (no exec: nothing to install), moves
 * into its own session, keeps only its listening socket and then the fds it is given. It
 * polls held pipes with no events while a daemon is connected (only POLLHUP: the container's
 * writers are all gone, then the fd is dropped), and with POLLIN while none is. */
#include "holder.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sys.h"
#include "util.h"

#define HOLD_MAX 8192
#define NAME_LEN 64

struct holder {
    int fd;
};

struct held {
    int fd;
    char name[NAME_LEN];
    const char *stream;
    bool midline;
};

static int sock_path(const char *run, struct sockaddr_un *sa)
{
    *sa = (struct sockaddr_un){.sun_family = AF_UNIX};
    int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/holder.sock", run);
    return n > 0 && (size_t)n < sizeof(sa->sun_path) ? 0 : -ENAMETOOLONG;
}

/* Drains one pipe into ROOT/logs/NAME.log with timestamps (best effort). */
static void drain(const char *root, struct held *h)
{
    char buf[16384];
    ssize_t n = read(h->fd, buf, sizeof(buf));
    if (n <= 0)
        return;
    char path[4096];
    snprintf(path, sizeof(path), "%s/logs/%s.log", root, h->name);
    int lf = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (lf < 0)
        return;
    char out[16384 + 4096];
    size_t o = 0;
    for (ssize_t i = 0; i < n;) {
        if (!h->midline) {
            struct timespec ts;
            struct tm tm;
            clock_gettime(CLOCK_REALTIME, &ts);
            gmtime_r(&ts.tv_sec, &tm);
            o += strftime(out + o, sizeof(out) - o, "%Y-%m-%dT%H:%M:%S", &tm);
            o += (size_t)snprintf(out + o, sizeof(out) - o, ".%03ldZ %s ", ts.tv_nsec / 1000000,
                    h->stream);
        }
        const char *nl = memchr(buf + i, '\n', (size_t)(n - i));
        size_t l = nl ? (size_t)(nl - (buf + i)) + 1 : (size_t)(n - i);
        if (o + l > sizeof(out))
            l = sizeof(out) - o;
        memcpy(out + o, buf + i, l);
        o += l;
        i += (ssize_t)l;
        h->midline = !nl;
        if (o >= sizeof(out) - 64)
            break;
    }
    (void)!write(lf, out, o);
    close(lf);
}

static void note(const char *root, const char *name, const char *what)
{
    char path[4096], line[256];
    snprintf(path, sizeof(path), "%s/logs/%s.log", root, name);
    int lf = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (lf < 0)
        return;
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(line + n, sizeof(line) - n, ".%03ldZ mgr %s\n", ts.tv_nsec / 1000000, what);
    (void)!write(lf, line, strlen(line));
    close(lf);
}

static _Noreturn void holder_main(int lfd, const char *root)
{
    static struct held held[HOLD_MAX];
    static struct pollfd pf[HOLD_MAX + 2];
    size_t n = 0;
    int daemon_fd = -1;
    bool had_daemon = false;
    for (;;) {
        if (daemon_fd < 0 && n == 0 && had_daemon)
            _exit(0); /* nothing held, nobody to hold for */
        pf[0] = (struct pollfd){lfd, POLLIN, 0};
        pf[1] = (struct pollfd){daemon_fd, POLLIN, 0};
        for (size_t i = 0; i < n; i++)
            pf[i + 2] = (struct pollfd){held[i].fd, daemon_fd < 0 ? POLLIN : 0, 0};
        if (poll(pf, n + 2, -1) < 0)
            continue;
        if (pf[0].revents & POLLIN) {
            int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0) {
                if (daemon_fd >= 0)
                    close(daemon_fd); /* a new daemon replaces a stale connection */
                daemon_fd = c;
                had_daemon = true;
                for (size_t i = 0; i < n; i += 2)
                    note(root, held[i].name, "daemon connected: output goes to the daemon again");
            }
        }
        if (daemon_fd >= 0 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            char name[NAME_LEN] = "";
            union {
                struct cmsghdr h;
                char b[CMSG_SPACE(2 * sizeof(int))];
            } cm;
            struct iovec iov = {name, sizeof(name) - 1};
            struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = &cm,
                    .msg_controllen = sizeof(cm)};
            ssize_t r = recvmsg(daemon_fd, &msg, MSG_CMSG_CLOEXEC);
            if (r <= 0) {
                close(daemon_fd);
                daemon_fd = -1;
                for (size_t i = 0; i < n; i += 2)
                    note(root, held[i].name, "daemon gone: output kept by the holder");
            } else {
                struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
                if (c && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(2 * sizeof(int))) {
                    int fds[2];
                    memcpy(fds, CMSG_DATA(c), sizeof(fds));
                    for (int k = 0; k < 2; k++) {
                        if (n >= HOLD_MAX) {
                            close(fds[k]);
                            continue;
                        }
                        fcntl(fds[k], F_SETFL, O_NONBLOCK);
                        held[n] = (struct held){.fd = fds[k], .stream = k ? "stderr" : "stdout"};
                        snprintf(held[n].name, sizeof(held[n].name), "%s", name);
                        n++;
                    }
                }
            }
        }
        for (size_t i = 0; i < n;) {
            short re = pf[i + 2].revents;
            if (daemon_fd < 0 && (re & POLLIN))
                drain(root, &held[i]);
            if ((re & (POLLHUP | POLLERR | POLLNVAL)) && !(re & POLLIN)) {
                /* Every writer is gone: the container died. */
                close(held[i].fd);
                held[i] = held[--n];
                pf[i + 2] = pf[n + 2];
                continue;
            }
            i++;
        }
    }
}

static struct holder *try_connect(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
        close(fd);
        return NULL;
    }
    struct holder *h = malloc(sizeof(*h));
    if (!h) {
        close(fd);
        return NULL;
    }
    h->fd = fd;
    return h;
}

struct holder *holder_connect(const char *run, const char *root)
{
    struct sockaddr_un sa;
    if (sock_path(run, &sa) < 0)
        return NULL;
    struct holder *h = try_connect(&sa);
    if (h)
        return h;
    /* None runs (the daemon holds the run lock, so no other daemon starts one now). */
    (void)unlink(sa.sun_path);
    int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        return NULL;
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0) {
        close(lfd);
        return NULL;
    }
    (void)chmod(sa.sun_path, 0600);
    char *root_copy = strdup(root);
    /* Double fork: the holder must not stay the daemon's child (it would be a zombie of a
     * daemon that never reaps it, and daemon-reexec keeps the same pid). */
    pid_t mid = root_copy ? fork() : -1;
    if (mid == 0) {
        pid_t pid = fork();
        if (pid != 0)
            _exit(pid < 0);
        /* Child: its own session (no terminal signal reaches it), default signals, only the
         * listening socket kept. */
        setsid();
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        if (lfd != 3) {
            dup2(lfd, 3);
            lfd = 3;
        }
        (void)sys_close_range(4, ~0U, 0);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
            dup2(devnull, 2);
            if (devnull > 3)
                close(devnull);
        }
        prctl(PR_SET_NAME, "mgr-holder");
        char pidp[sizeof(sa.sun_path) + 16], pidt[32];
        snprintf(pidp, sizeof(pidp), "%s/holder.pid", run);
        snprintf(pidt, sizeof(pidt), "%d\n", (int)getpid());
        (void)write_file_atomic_at(AT_FDCWD, pidp, pidt, strlen(pidt), 0600, false);
        holder_main(lfd, root_copy);
    }
    free(root_copy);
    close(lfd);
    int st = 0;
    if (mid < 0 || waitpid(mid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return NULL;
    return try_connect(&sa);
}

int holder_give(struct holder *h, const char *name, int out_fd, int err_fd)
{
    if (!h || out_fd < 0 || err_fd < 0)
        return -EINVAL;
    int fds[2] = {out_fd, err_fd};
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(fds))];
    } cm;
    memset(&cm, 0, sizeof(cm));
    struct iovec iov = {(void *)name, strlen(name)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = &cm,
            .msg_controllen = sizeof(cm)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(fds));
    memcpy(CMSG_DATA(c), fds, sizeof(fds));
    return sendmsg(h->fd, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

struct holder *holder_free(struct holder *h)
{
    if (h) {
        close(h->fd);
        free(h);
    }
    return NULL;
}

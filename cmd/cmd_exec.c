/* mgr exec NAME [-i] [-t] -- CMD...: a process in a running container's namespaces, cgroup,
 * confinement and user (core/runtime rt_exec); with a pseudo-terminal when -t. The unit's
 * file comes from the daemon's status; the container is found from its runtime state. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "client.h"
#include "../core/err.h"
#include "../core/log.h"
#include "../core/runtime.h"
#include "../core/unit_parse.h"
#include "../core/util.h"

static void exec_usage(FILE *f)
{
    fprintf(f, "Usage: mgr exec NAME [-i] [-t] -- CMD [ARG...]\n\n"
               "Runs CMD inside the running container NAME: its namespaces, root, cgroup,\n"
               "capabilities, seccomp filter and user. Exits with CMD's status (128+N for a\n"
               "signal).\n\n"
               "Options:\n"
               "  -i, --interactive  connect standard input (default: /dev/null)\n"
               "  -t, --tty          allocate a pseudo-terminal\n"
               "  -h, --help         show this help\n");
}

static struct termios saved_tio;
static bool tio_saved;

static void restore_tty(void)
{
    if (tio_saved)
        tcsetattr(0, TCSANOW, &saved_tio);
}

/* Copies between our terminal and the pty master until the child exits. */
static void relay(int master, bool in, pid_t pid)
{
    char buf[4096];
    for (;;) {
        struct pollfd p[2] = {{master, POLLIN, 0}, {in ? 0 : -1, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(master, buf, sizeof(buf));
            if (r <= 0)
                return;
            if (write(1, buf, (size_t)r) < 0)
                return;
        }
        if (p[1].revents & POLLIN) {
            ssize_t r = read(0, buf, sizeof(buf));
            if (r <= 0)
                in = false;
            else if (write(master, buf, (size_t)r) < 0)
                return;
        }
    }
}

int cmd_exec(struct mgr_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
            {"interactive", no_argument, NULL, 'i'},
            {"tty", no_argument, NULL, 't'},
            {"help", no_argument, NULL, 'h'},
            {0},
    };
    bool interactive = false, tty = false;
    int c;
    while ((c = getopt_long(argc, argv, "+hit", opts, NULL)) != -1) {
        switch (c) {
        case 'i': interactive = true; break;
        case 't': tty = true; break;
        case 'h': exec_usage(stdout); return EXIT_OK;
        default: exec_usage(stderr); return EXIT_USAGE;
        }
    }
    /* NAME, then options may follow it, then -- CMD. */
    if (optind >= argc) {
        exec_usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[optind++];
    while (optind < argc && strcmp(argv[optind], "--") != 0) {
        if (strcmp(argv[optind], "-i") == 0)
            interactive = true;
        else if (strcmp(argv[optind], "-t") == 0)
            tty = true;
        else if (strcmp(argv[optind], "-it") == 0 || strcmp(argv[optind], "-ti") == 0)
            interactive = tty = true;
        else
            break;
        optind++;
    }
    if (optind < argc && strcmp(argv[optind], "--") == 0)
        optind++;
    if (optind >= argc) {
        exec_usage(stderr);
        return EXIT_USAGE;
    }
    char **cmdv = argv + optind;

    json_t *resp = NULL;
    int rc = client_call(ctx, json_pack("{s:s,s:s}", "cmd", "status", "name", name), &resp);
    if (rc != EXIT_OK)
        return rc;
    json_t *st = json_array_get(json_object_get(resp, "units"), 0);
    const char *path = json_string_value(json_object_get(st, "path"));
    if (!json_is_true(json_object_get(resp, "ok")) || !path ||
            json_integer_value(json_object_get(st, "pid")) <= 0) {
        if (!json_is_true(json_object_get(resp, "ok")))
            client_print_error(resp);
        else
            log_error("unit '%s' is not running", name);
        json_decref(resp);
        return EXIT_FAIL;
    }
    struct unit *u = NULL;
    struct diags d = {0};
    if (unit_parse_file(path, &u, &d) < 0) {
        diags_print(stderr, &d);
        diags_clear(&d);
        json_decref(resp);
        return EXIT_FAIL;
    }
    json_decref(resp);
    struct err e = {0};
    struct rt_container *ct = NULL;
    if (rt_adopt(ctx->run, name, &ct, &e) < 0) {
        log_error("%s", e.msg);
        unit_free(u);
        return EXIT_FAIL;
    }
    int master = -1, slave = -1;
    int stdio[3] = {interactive ? 0 : -1, 1, 2};
    if (tty) {
        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
            log_error("allocate a pseudo-terminal: %m");
            return EXIT_FAIL;
        }
        slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0) {
            log_error("open pty '%s': %m", ptsname(master));
            return EXIT_FAIL;
        }
        struct winsize ws;
        if (ioctl(0, TIOCGWINSZ, &ws) == 0)
            ioctl(slave, TIOCSWINSZ, &ws);
        stdio[0] = stdio[1] = stdio[2] = slave;
        if (interactive && isatty(0) && tcgetattr(0, &saved_tio) == 0) {
            struct termios raw = saved_tio;
            cfmakeraw(&raw);
            tio_saved = tcsetattr(0, TCSANOW, &raw) == 0;
            atexit(restore_tty);
        }
    }
    pid_t pid = -1;
    int r = rt_exec(ct, u, cmdv, NULL, stdio, &pid, NULL, &e);
    if (slave >= 0)
        close(slave);
    unit_free(u);
    rt_container_free(ct);
    if (r < 0) {
        restore_tty();
        log_error("%s", e.msg);
        return EXIT_FAIL;
    }
    if (tty)
        relay(master, interactive, pid);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    restore_tty();
    return rt_exit_code(status);
}

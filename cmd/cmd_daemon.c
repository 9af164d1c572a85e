/* mgr daemon: the supervisor (core/manager.c) in the foreground. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "../core/log.h"
#include "../core/manager.h"
#include "../core/util.h"

static void daemon_usage(FILE *f)
{
    fprintf(f, "Usage: mgr daemon [--stop-on-exit]\n\n"
               "Runs the supervisor in the foreground: applies the units directory, restarts\n"
               "containers by their policy, watches the directory (inotify), serves the control\n"
               "socket RUN/mgr.sock. Containers keep running when it exits (SIGTERM) and are\n"
               "adopted by the next daemon. SIGHUP re-executes it in place (as daemon-reexec),\n"
               "SIGUSR1 re-applies the units directory, SIGPWR stops every container in\n"
               "dependency order and exits.\n\n"
               "Options:\n"
               "  --stop-on-exit  stop every container (dependents first) on SIGTERM/SIGINT\n"
               "  -h, --help      show this help\n");
}

/* glibc's malloc keeps freed small chunks in a per-thread cache and in fast bins, which
 * malloc_trim cannot give back and which hand the chunks out again anywhere on the heap: the
 * daemon's long-lived per-container allocations end up spread over every page that an apply's
 * temporaries used. Without both its heap stays close to what is live (0.6 instead of 0.9 MiB
 * at 100 containers, 2.3 instead of 3.2 MiB at 500: tests/bench/supervisor.sh), and a daemon
 * that handles a few events at a time does not miss their speed. Tunables are read at exec
 * only, so the daemon executes itself once more with them set: same pid, argv and fds. */
#define MALLOC_TUNABLES "glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0"

static void exec_with_malloc_tunables(void)
{
    const char *cur = getenv("GLIBC_TUNABLES");
    if (cur && strstr(cur, "glibc.malloc.tcache_count="))
        return; /* done already, or chosen by whoever started us */
    _cleanup_free_ char *cmdline = NULL;
    size_t len = 0;
    if (read_file_at(AT_FDCWD, "/proc/self/cmdline", 65536, &cmdline, &len) < 0 || len == 0)
        return;
    _cleanup_strv_ char **args = NULL;
    for (size_t i = 0; i < len; i += strlen(cmdline + i) + 1)
        if (strv_push(&args, cmdline + i) < 0)
            return;
    _cleanup_free_ char *val = cur && *cur ? strdup_printf("%s:" MALLOC_TUNABLES, cur)
                                           : strdup(MALLOC_TUNABLES);
    if (!val || setenv("GLIBC_TUNABLES", val, 1) < 0)
        return;
    /* By its path, not /proc/self/exe: the process name (comm) comes from what is executed. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = 0;
        execv(exe, args);
    }
    execv("/proc/self/exe", args); /* e.g. the binary was replaced meanwhile */
    log_warn("execute with malloc tunables: %s; running without", strerror(errno));
}

int cmd_daemon(struct mgr_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
            {"stop-on-exit", no_argument, NULL, 's'},
            {"help", no_argument, NULL, 'h'},
            {0},
    };
    bool stop_on_exit = false;
    int c;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 's': stop_on_exit = true; break;
        case 'h': daemon_usage(stdout); return EXIT_OK;
        default: daemon_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        daemon_usage(stderr);
        return EXIT_USAGE;
    }
    exec_with_malloc_tunables();
    /* Remember the binary's path now: daemon-reexec runs what is installed there then. */
    static char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = 0;
        char *del = strstr(exe, " (deleted)");
        if (del && del[10] == 0)
            *del = 0;
    }
    log_set_timestamps(true);
    const char *init = getenv("MGR_INIT");
    struct mgr_opts o = {
            .root = ctx->root,
            .run = ctx->run,
            .units = ctx->units,
            .exe = n > 0 ? exe : NULL,
            .pid1 = init && strcmp(init, "1") == 0,
            .stop_on_exit = stop_on_exit,
    };
    enum mgr_exit r = manager_run(&o);
    return r == MGR_EXIT_ERROR ? EXIT_FAIL : EXIT_OK;
}

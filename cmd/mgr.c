/* The one mgr binary: global flags, subcommand dispatch, PID 1 detection. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "../core/log.h"

#ifndef MGR_VERSION
#define MGR_VERSION "0.1.0"
#endif

static int cmd_version(struct mgr_ctx *ctx, int argc, char **argv)
{
    (void)ctx, (void)argc, (void)argv;
    printf("mgr %s\n", MGR_VERSION);
    return EXIT_OK;
}

static int cmd_help(struct mgr_ctx *ctx, int argc, char **argv);

static const struct cmd_desc commands[] = {
        {"validate", cmd_validate, "check unit files and report every error"},
        {"run", cmd_run, "run one unit in the foreground, without a daemon"},
        {"daemon", cmd_daemon, "run the supervisor"},
        {"apply", cmd_apply, "reconcile the running containers with the unit files"},
        {"status", cmd_status, "show containers and their state"},
        {"start", cmd_control, "start a stopped unit"},
        {"stop", cmd_control, "stop a unit (persisted until start)"},
        {"restart", cmd_control, "restart a unit"},
        {"kill", cmd_control, "send a signal to a unit's processes"},
        {"reset-failed", cmd_control, "clear a unit's failed state"},
        {"logs", cmd_logs, "show a container's output"},
        {"exec", cmd_exec, "run a command inside a running container"},
        {"events", cmd_events, "stream state changes as JSON lines"},
        {"image", cmd_image, "import, list, inspect, remove images; collect unused layers"},
        {"doctor", cmd_doctor, "report what this host can enforce"},
        {"daemon-reexec", cmd_control, "re-execute the supervisor in place, keeping containers"},
        {"poweroff", cmd_control, "power off (when mgr is PID 1)"},
        {"reboot", cmd_control, "reboot (when mgr is PID 1)"},
        {"version", cmd_version, "print the version"},
        {"help", cmd_help, "show this help"},
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: mgr [--root DIR] [--run DIR] [--units DIR] COMMAND [ARGS...]\n\n"
               "A declarative container manager: units in YAML, one supervisor.\n\n"
               "Commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nGlobal options:\n"
               "  --root DIR     persistent state (default /var/lib/mgr, env MGR_ROOT)\n"
               "  --run DIR      runtime state and control socket (default /run/mgr, env MGR_RUN)\n"
               "  --units DIR    unit files (default /etc/units.d, env MGR_UNITS)\n"
               "  --cgroup-parent PATH  containers' cgroups go below PATH in each hierarchy\n"
               "                 (default mgr / mgr.slice, env MGR_CGROUP_PARENT)\n"
               "  -h, --help     show help; 'mgr COMMAND --help' for a command\n"
               "  --version      print the version\n\n"
               "Exit status: 0 success, 1 failure, 2 usage error, 3 daemon not running.\n"
               "See mgr(1) and mgr.unit(5).\n");
}

static int cmd_help(struct mgr_ctx *ctx, int argc, char **argv)
{
    (void)ctx, (void)argc, (void)argv;
    usage(stdout);
    return EXIT_OK;
}

bool cmd_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

int main(int argc, char **argv)
{
    struct mgr_ctx ctx = {
            .root = env_or("MGR_ROOT", "/var/lib/mgr"),
            .run = env_or("MGR_RUN", "/run/mgr"),
            .units = env_or("MGR_UNITS", "/etc/units.d"),
            .argv0 = argv[0],
    };

    /* As PID 1 (the kernel ran us as init), the command line is the kernel's, not ours. */
    if (getpid() == 1)
        return cmd_init(&ctx, argc, argv);

    static const struct option opts[] = {
            {"root", required_argument, NULL, 'R'},
            {"run", required_argument, NULL, 'r'},
            {"units", required_argument, NULL, 'u'},
            {"cgroup-parent", required_argument, NULL, 'C'},
            {"help", no_argument, NULL, 'h'},
            {"version", no_argument, NULL, 'V'},
            {0},
    };
    int c;
    /* "+" stops at the first non-option: the subcommand parses the rest. */
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'R': ctx.root = optarg; break;
        case 'r': ctx.run = optarg; break;
        case 'u': ctx.units = optarg; break;
        /* read by cg_manager_open() wherever a cgroup manager is opened (run, daemon, reclaim) */
        case 'C': setenv("MGR_CGROUP_PARENT", optarg, 1); break;
        case 'h': usage(stdout); return EXIT_OK;
        case 'V': return cmd_version(&ctx, 0, NULL);
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[optind];
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].name, name) == 0) {
            int sub_argc = argc - optind;
            char **sub_argv = argv + optind;
            optind = 0; /* 0 fully resets GNU getopt for the subcommand */
            return commands[i].fn(&ctx, sub_argc, sub_argv);
        }
    }
    log_error("unknown command '%s' (see 'mgr --help')", name);
    return EXIT_USAGE;
}

#pragma once
/* Shared by the subcommands of the one mgr binary. */
#include <stdbool.h>
#include <stdio.h>

/* Exit codes (documented in doc/mgr.1.md). */
enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,       /* the operation failed / invalid units */
    EXIT_USAGE = 2,      /* bad command line */
    EXIT_NO_DAEMON = 3,  /* the control socket is not there */
};

struct mgr_ctx {
    const char *root;  /* --root / MGR_ROOT, default /var/lib/mgr: persistent state */
    const char *run;   /* --run / MGR_RUN, default /run/mgr: runtime state, control socket */
    const char *units; /* --units / MGR_UNITS, default /etc/units.d */
    const char *argv0; /* how we were called, for re-exec */
};

typedef int (*cmd_fn)(struct mgr_ctx *ctx, int argc, char **argv);

struct cmd_desc {
    const char *name;
    cmd_fn fn;
    const char *summary;
};

/* Subcommands. argv[0] is the subcommand name; each handles --help itself. */
int cmd_validate(struct mgr_ctx *ctx, int argc, char **argv);
int cmd_run(struct mgr_ctx *ctx, int argc, char **argv);
int cmd_daemon(struct mgr_ctx *ctx, int argc, char **argv);
int cmd_apply(struct mgr_ctx *ctx, int argc, char **argv);
int cmd_status(struct mgr_ctx *ctx, int argc, char **argv);
int cmd_control(struct mgr_ctx *ctx, int argc, char **argv); /* start|stop|restart|kill|reset-failed|daemon-reexec|poweroff|reboot */
int cmd_logs(struct mgr_ctx *ctx, int argc, char **argv);
int cmd_exec(struct mgr_ctx *ctx, int argc, char **argv);
int cmd_events(struct mgr_ctx *ctx, int argc, char **argv);
int cmd_image(struct mgr_ctx *ctx, int argc, char **argv);
int cmd_doctor(struct mgr_ctx *ctx, int argc, char **argv);
/* PID 1 entry (cmd/cmd_init.c): called by main when getpid() == 1. Never returns. */
int cmd_init(struct mgr_ctx *ctx, int argc, char **argv);

/* True if argv has -h/--help before any "--". */
bool cmd_wants_help(int argc, char **argv);
/* Parses a subcommand whose only options are --json and -h/--help, with getopt's shortopts
 * ("h" permutes, "+h" stops at the first operand) and at most max_operands operands (-1: any).
 * Returns -1 to go on (operands start at optind, *ret_json set), else the exit code to return
 * after printing usage (help to stdout, misuse to stderr). */
int cmd_parse_json_help(int argc, char **argv, const char *shortopts, void (*usage)(FILE *),
                        int max_operands, bool *ret_json);

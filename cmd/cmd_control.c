/* mgr start|stop|restart|kill|reset-failed NAME, daemon-reexec, poweroff, reboot. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "../core/log.h"
#include "../core/unit_parse.h"

static void control_usage(FILE *f, const char *cmd)
{
    if (strcmp(cmd, "daemon-reexec") == 0 || strcmp(cmd, "poweroff") == 0 ||
            strcmp(cmd, "reboot") == 0)
        fprintf(f, "Usage: mgr %s\n\n%s\n", cmd,
                strcmp(cmd, "daemon-reexec") == 0
                        ? "Re-executes the supervisor in place (execve of the installed binary),\n"
                          "keeping every container running as its child and its output flowing."
                        : "Asks PID 1 to stop every container in order and power off or reboot\n"
                          "(only when mgr runs as PID 1).");
    else
        fprintf(f, "Usage: mgr %s%s NAME\n\n"
                   "  start         start a unit, clearing a stop by the user\n"
                   "  stop          stop it (stop.signal, SIGKILL after stop.timeout); the\n"
                   "                stop is remembered across daemon restarts and reboots\n"
                   "  restart       stop and start it (also clears failed)\n"
                   "  kill          send a signal (default SIGTERM) to all its processes\n"
                   "  reset-failed  clear the failed state (start rate limit hit)\n\n"
                   "Exit status: 0 done, 1 failed, 3 no daemon.\n",
                cmd, strcmp(cmd, "kill") == 0 ? " [-s SIGNAL]" : "");
}

int cmd_control(struct mgr_ctx *ctx, int argc, char **argv)
{
    const char *cmd = argv[0];
    static const struct option opts[] = {
            {"signal", required_argument, NULL, 's'},
            {"help", no_argument, NULL, 'h'},
            {0},
    };
    const char *sig = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "+hs:", opts, NULL)) != -1) {
        switch (c) {
        case 's': sig = optarg; break;
        case 'h': control_usage(stdout, cmd); return EXIT_OK;
        default: control_usage(stderr, cmd); return EXIT_USAGE;
        }
    }
    bool global = strcmp(cmd, "daemon-reexec") == 0 || strcmp(cmd, "poweroff") == 0 ||
                  strcmp(cmd, "reboot") == 0;
    if ((global && optind != argc) || (!global && optind + 1 != argc) ||
            (sig && strcmp(cmd, "kill") != 0)) {
        control_usage(stderr, cmd);
        return EXIT_USAGE;
    }
    if (sig && unit_signal_parse(sig) < 0) {
        log_error("unknown signal '%s'", sig);
        return EXIT_USAGE;
    }
    json_t *req = json_pack("{s:s}", "cmd", cmd);
    if (req && !global)
        json_object_set_new(req, "name", json_string(argv[optind]));
    if (req && sig)
        json_object_set_new(req, "signal", json_integer(unit_signal_parse(sig)));
    json_t *resp = NULL;
    int rc = client_call(ctx, req, &resp);
    if (rc != EXIT_OK)
        return rc;
    bool ok = json_is_true(json_object_get(resp, "ok"));
    if (!ok)
        client_print_error(resp);
    json_decref(resp);
    return ok ? EXIT_OK : EXIT_FAIL;
}

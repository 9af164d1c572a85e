/* mgr events: the daemon's state changes as JSON lines, until interrupted. */
#include <stdio.h>
#include <stdlib.h>

#include "client.h"
#include "../core/err.h"
#include "../core/log.h"
#include "../core/proto.h"
#include "../core/util.h"

int cmd_events(struct mgr_ctx *ctx, int argc, char **argv)
{
    if (cmd_wants_help(argc, argv)) {
        printf("Usage: mgr events\n\n"
               "Prints every state change as one JSON object per line:\n"
               "{\"time\":MS,\"unit\":NAME,\"event\":...,\"state\":...,\"health\":...}\n");
        return EXIT_OK;
    }
    if (argc > 1) {
        log_error("usage: mgr events");
        return EXIT_USAGE;
    }
    struct err e = {0};
    _cleanup_close_ int fd = proto_connect(ctx->run, &e);
    if (fd < 0) {
        log_error("no daemon is running (%s)", e.msg);
        return EXIT_NO_DAEMON;
    }
    json_t *req = json_pack("{s:s}", "cmd", "events");
    int r = proto_send(fd, req);
    json_decref(req);
    json_t *msg = NULL;
    if (r < 0 || proto_recv(fd, &msg) < 0 || !json_is_true(json_object_get(msg, "ok"))) {
        log_error("events: the daemon refused the subscription");
        json_decref(msg);
        return EXIT_FAIL;
    }
    json_decref(msg);
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (proto_recv(fd, &msg) == 0) {
        json_dumpf(msg, stdout, JSON_COMPACT | JSON_SORT_KEYS);
        putchar('\n');
        json_decref(msg);
    }
    return EXIT_OK;
}

/* Client side of the control socket for the thin CLI commands. */
#include "client.h"

#include <errno.h>
#include <stdio.h>

#include "../core/err.h"
#include "../core/log.h"
#include "../core/proto.h"

int client_call(struct mgr_ctx *ctx, json_t *req, json_t **ret)
{
    struct err e = {0};
    if (!req) {
        log_error("out of memory");
        return EXIT_FAIL;
    }
    int r = proto_call(ctx->run, req, ret, &e);
    json_decref(req);
    if (r == -ENOENT || r == -ECONNREFUSED) {
        log_error("no daemon is running (no control socket at %s/%s); start it with 'mgr daemon'",
                ctx->run, PROTO_SOCK_NAME);
        return EXIT_NO_DAEMON;
    }
    if (r == -EACCES) {
        log_error("%s (the control socket is root only)", e.msg);
        return EXIT_FAIL;
    }
    if (r < 0) {
        log_error("%s", e.msg);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

void client_print_error(json_t *resp)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(resp, "errors"), i, e)
        fprintf(stderr, "%s\n", json_string_value(e));
    const char *msg = json_string_value(json_object_get(resp, "error"));
    if (msg)
        log_error("%s", msg);
}

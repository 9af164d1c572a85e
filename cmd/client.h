#pragma once
/* Shared by the client subcommands: one request/response with the daemon. */
#include <jansson.h>

#include "cmd.h"

/* Sends req (reference stolen) and stores the response in *ret. Returns EXIT_OK, or prints
 * one clear line and returns EXIT_NO_DAEMON when no daemon listens, EXIT_FAIL on other
 * errors. A response with "ok": false is still EXIT_OK here (the caller reports it). */
int client_call(struct mgr_ctx *ctx, json_t *req, json_t **ret);
/* Prints the response's "error" (and "errors" lines) to stderr. */
void client_print_error(json_t *resp);

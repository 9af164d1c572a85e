#pragma once
/* Control protocol (doc/api.md): a unix stream socket at RUN/mgr.sock; every message is a
 * frame = 4-byte big-endian length + one compact JSON object. Requests {"cmd":"...",...};
 * responses {"ok":true,...} or {"ok":false,"error":"..."}. `events` streams frames. */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"

#define PROTO_FRAME_MAX (32u << 20) /* bytes per frame */
#define PROTO_SOCK_NAME "mgr.sock"

/* Growable input buffer for non-blocking readers. */
struct proto_buf {
    char *data;
    size_t len, cap;
};

/* Encodes msg as a frame (header included). *ret is malloc'ed. 0 or -ENOMEM. */
int proto_encode(const json_t *msg, char **ret, size_t *ret_len);
/* Appends bytes to b. 0 or -ENOMEM/-EMSGSIZE. */
int proto_buf_append(struct proto_buf *b, const void *p, size_t n);
/* Takes one complete frame out of b: 1 with *ret set (new reference), 0 if incomplete,
 * -EMSGSIZE for an oversized frame, -EBADMSG for invalid JSON or a non-object. */
int proto_buf_take(struct proto_buf *b, json_t **ret);
void proto_buf_free(struct proto_buf *b);

/* Blocking helpers for clients. */
int proto_send(int fd, const json_t *msg);
/* Reads one frame; 0 with *ret, -ECONNRESET on EOF, -EBADMSG/-EMSGSIZE, -errno. */
int proto_recv(int fd, json_t **ret);
/* Connects to RUN/mgr.sock. Returns fd, or -ENOENT/-ECONNREFUSED when no daemon runs. */
int proto_connect(const char *run_dir, struct err *e);
/* One request/response round trip. *ret is the response (new reference). */
int proto_call(const char *run_dir, json_t *req, json_t **ret, struct err *e);

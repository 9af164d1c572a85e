/* Control protocol framing: 4-byte big-endian length + compact JSON object. */
#include "proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

int proto_encode(const json_t *msg, char **ret, size_t *ret_len)
{
    size_t n = json_dumpb(msg, NULL, 0, JSON_COMPACT);
    if (n == 0 || n > PROTO_FRAME_MAX)
        return n ? -EMSGSIZE : -ENOMEM;
    char *buf = malloc(n + 4);
    if (!buf)
        return -ENOMEM;
    if (json_dumpb(msg, buf + 4, n, JSON_COMPACT) != n) {
        free(buf);
        return -ENOMEM;
    }
    uint32_t be = htonl((uint32_t)n);
    memcpy(buf, &be, 4);
    *ret = buf;
    *ret_len = n + 4;
    return 0;
}

int proto_buf_append(struct proto_buf *b, const void *p, size_t n)
{
    if (b->len + n > PROTO_FRAME_MAX + 4)
        return -EMSGSIZE;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *nd = realloc(b->data, cap);
        if (!nd)
            return -ENOMEM;
        b->data = nd;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int proto_buf_take(struct proto_buf *b, json_t **ret)
{
    if (b->len < 4)
        return 0;
    uint32_t be;
    memcpy(&be, b->data, 4);
    size_t n = ntohl(be);
    if (n > PROTO_FRAME_MAX)
        return -EMSGSIZE;
    if (b->len < n + 4)
        return 0;
    json_t *j = json_loadb(b->data + 4, n, JSON_REJECT_DUPLICATES, NULL);
    memmove(b->data, b->data + 4 + n, b->len - 4 - n);
    b->len -= 4 + n;
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return -EBADMSG;
    }
    *ret = j;
    return 1;
}

void proto_buf_free(struct proto_buf *b)
{
    free(b->data);
    *b = (struct proto_buf){0};
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            return -ECONNRESET;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int proto_send(int fd, const json_t *msg)
{
    _cleanup_free_ char *buf = NULL;
    size_t len;
    int r = proto_encode(msg, &buf, &len);
    if (r < 0)
        return r;
    return write_all(fd, buf, len);
}

int proto_recv(int fd, json_t **ret)
{
    char hdr[4];
    int r = read_all(fd, hdr, 4);
    if (r < 0)
        return r;
    uint32_t be;
    memcpy(&be, hdr, 4);
    size_t n = ntohl(be);
    if (n > PROTO_FRAME_MAX)
        return -EMSGSIZE;
    _cleanup_free_ char *buf = malloc(n ? n : 1);
    if (!buf)
        return -ENOMEM;
    r = read_all(fd, buf, n);
    if (r < 0)
        return r;
    json_t *j = json_loadb(buf, n, 0, NULL);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return -EBADMSG;
    }
    *ret = j;
    return 0;
}

int proto_connect(const char *run_dir, struct err *e)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", run_dir, PROTO_SOCK_NAME);
    if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
        return err_setx(e, ENAMETOOLONG, "control socket path '%s/%s' is too long", run_dir,
                PROTO_SOCK_NAME);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return err_set(e, errno, "socket");
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int r = errno;
        close(fd);
        return err_set(e, r, "connect to '%s'", sa.sun_path);
    }
    return fd;
}

int proto_call(const char *run_dir, json_t *req, json_t **ret, struct err *e)
{
    _cleanup_close_ int fd = proto_connect(run_dir, e);
    if (fd < 0)
        return fd;
    int r = proto_send(fd, req);
    if (r < 0)
        return err_set(e, -r, "send request");
    r = proto_recv(fd, ret);
    if (r < 0)
        return err_set(e, -r, "read response");
    return 0;
}

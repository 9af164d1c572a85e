/* Control protocol framing: round trip, partial and multiple frames, hostile input. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "proto.h"

static int test_roundtrip(void)
{
    json_t *m = json_pack("{s:s,s:i}", "cmd", "status", "n", 42);
    char *buf;
    size_t len;
    CHECK(proto_encode(m, &buf, &len) == 0);
    uint32_t be;
    memcpy(&be, buf, 4);
    CHECK_INT(ntohl(be), len - 4);
    /* Fed byte by byte: complete only at the last byte. */
    struct proto_buf b = {0};
    json_t *out = NULL;
    for (size_t i = 0; i < len; i++) {
        CHECK(proto_buf_append(&b, buf + i, 1) == 0);
        int r = proto_buf_take(&b, &out);
        CHECK_INT(r, i + 1 == len ? 1 : 0);
    }
    CHECK(json_equal(m, out));
    CHECK_INT(b.len, 0);
    json_decref(out);
    /* Two frames in one chunk. */
    CHECK(proto_buf_append(&b, buf, len) == 0);
    CHECK(proto_buf_append(&b, buf, len) == 0);
    CHECK_INT(proto_buf_take(&b, &out), 1);
    json_decref(out);
    CHECK_INT(proto_buf_take(&b, &out), 1);
    json_decref(out);
    CHECK_INT(proto_buf_take(&b, &out), 0);
    proto_buf_free(&b);
    free(buf);
    json_decref(m);
    return 0;
}

static int test_hostile(void)
{
    struct proto_buf b = {0};
    json_t *out = NULL;
    /* Oversized length header. */
    uint32_t be = htonl(PROTO_FRAME_MAX + 1);
    CHECK(proto_buf_append(&b, &be, 4) == 0);
    CHECK_INT(proto_buf_take(&b, &out), -EMSGSIZE);
    proto_buf_free(&b);
    /* Not JSON, and JSON that is not an object. */
    const char *bad[] = {"{nope", "[1,2]", "\"str\"", "{\"a\":1,\"a\":2}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        be = htonl((uint32_t)strlen(bad[i]));
        CHECK(proto_buf_append(&b, &be, 4) == 0);
        CHECK(proto_buf_append(&b, bad[i], strlen(bad[i])) == 0);
        CHECK_INT(proto_buf_take(&b, &out), -EBADMSG);
        CHECK_INT(b.len, 0); /* the bad frame is consumed */
    }
    proto_buf_free(&b);
    return 0;
}

int main(void)
{
    RUN(test_roundtrip);
    RUN(test_hostile);
    return HARNESS_END();
}

#pragma once
/* IPv4 literals for the net and ipam unit tests: A("10.0.0.1") -> struct in_addr, and back with
 * S(), which cycles through 4 static buffers so one CHECK can format several addresses. */
#include <arpa/inet.h>

static inline struct in_addr A(const char *s)
{
    struct in_addr a = {0};
    inet_pton(AF_INET, s, &a);
    return a;
}

static inline const char *S(struct in_addr a)
{
    static char buf[4][INET_ADDRSTRLEN];
    static int i;
    i = (i + 1) % 4;
    return inet_ntop(AF_INET, &a, buf[i], sizeof(buf[i]));
}

#include "ipam.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Arithmetic is done in host byte order; struct in_addr is converted at the edges. */
static uint32_t mask_of(unsigned prefix)
{
    return prefix == 0 ? 0 : UINT32_MAX << (32 - prefix);
}

static uint32_t h(struct in_addr a)
{
    return ntohl(a.s_addr);
}

static struct in_addr n(uint32_t x)
{
    return (struct in_addr){.s_addr = htonl(x)};
}

int ipam_subnet_init(struct in_addr net, unsigned prefix, struct in_addr gateway,
                     struct ipam_subnet *ret)
{
    uint32_t m, base, bcast, gw;

    if (prefix < 8 || prefix > 30)
        return -EINVAL;
    m = mask_of(prefix);
    base = h(net);
    if (base & ~m)
        return -EINVAL;
    bcast = base | ~m;
    gw = gateway.s_addr == 0 ? base + 1 : h(gateway);
    if ((gw & m) != base)
        return -ERANGE;
    if (gw == base || gw == bcast)
        return -ERANGE;
    *ret = (struct ipam_subnet){.net = net, .prefix = prefix, .gateway = n(gw)};
    return 0;
}

bool ipam_contains(const struct ipam_subnet *s, struct in_addr a)
{
    return (h(a) & mask_of(s->prefix)) == h(s->net);
}

struct in_addr ipam_broadcast(const struct ipam_subnet *s)
{
    return n(h(s->net) | ~mask_of(s->prefix));
}

int ipam_check(const struct ipam_subnet *s, struct in_addr a, const struct in_addr *used,
               size_t n_used)
{
    if (!ipam_contains(s, a))
        return -ERANGE;
    if (a.s_addr == s->net.s_addr || a.s_addr == ipam_broadcast(s).s_addr ||
        a.s_addr == s->gateway.s_addr)
        return -EADDRNOTAVAIL;
    for (size_t i = 0; i < n_used; i++)
        if (used[i].s_addr == a.s_addr)
            return -EADDRINUSE;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int ipam_alloc(const struct ipam_subnet *s, const struct in_addr *used, size_t n_used,
               struct in_addr *ret)
{
    _cleanup_free_ uint32_t *sorted = NULL;
    uint32_t first = h(s->net) + 1, last = h(ipam_broadcast(s)) - 1, gw = h(s->gateway);
    uint32_t cand = first;
    size_t k = 0, n_in = 0;

    /* Sort the used addresses that are inside the subnet, then walk candidates upwards
     * alongside them: O(n log n) however large the subnet. */
    if (n_used > 0) {
        sorted = malloc(n_used * sizeof(*sorted));
        if (!sorted)
            return -ENOMEM;
        for (size_t i = 0; i < n_used; i++)
            if (ipam_contains(s, used[i]))
                sorted[n_in++] = h(used[i]);
        qsort(sorted, n_in, sizeof(*sorted), cmp_u32);
    }
    for (;;) {
        while (k < n_in && sorted[k] < cand)
            k++;
        if (cand > last)
            return -ENOSPC;
        if (cand == gw || (k < n_in && sorted[k] == cand)) {
            cand++;
            continue;
        }
        *ret = n(cand);
        return 0;
    }
}

int ipam_parse_cidr(const char *s, struct in_addr *ret_addr, unsigned *ret_prefix)
{
    char buf[INET_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    struct in_addr a;
    unsigned p = 0;
    size_t len;

    if (!slash)
        return -EINVAL;
    len = (size_t)(slash - s);
    if (len == 0 || len >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, &a) != 1)
        return -EINVAL;
    slash++;
    if (*slash < '0' || *slash > '9' || strlen(slash) > 2)
        return -EINVAL;
    for (; *slash; slash++) {
        if (*slash < '0' || *slash > '9')
            return -EINVAL;
        p = p * 10 + (unsigned)(*slash - '0');
    }
    if (p > 32)
        return -EINVAL;
    *ret_addr = a;
    *ret_prefix = p;
    return 0;
}

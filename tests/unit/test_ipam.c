/* Unit tests for core/ipam.c: subnet validation, address checks, lowest-free allocation. */
#include <arpa/inet.h>
#include <errno.h>

#include "harness.h"
#include "inet4.h"
#include "ipam.h"

static int test_subnet_init(void)
{
    struct ipam_subnet s;

    CHECK_INT(ipam_subnet_init(A("10.88.0.0"), 24, A("0.0.0.0"), &s), 0);
    CHECK_STR(S(s.gateway), "10.88.0.1");
    CHECK_INT(s.prefix, 24);
    CHECK_STR(S(ipam_broadcast(&s)), "10.88.0.255");
    CHECK_INT(ipam_subnet_init(A("10.88.0.0"), 24, A("10.88.0.254"), &s), 0);
    CHECK_STR(S(s.gateway), "10.88.0.254");
    /* host bits set, bad prefixes */
    CHECK_INT(ipam_subnet_init(A("10.88.0.1"), 24, A("0.0.0.0"), &s), -EINVAL);
    CHECK_INT(ipam_subnet_init(A("10.88.0.0"), 31, A("0.0.0.0"), &s), -EINVAL);
    CHECK_INT(ipam_subnet_init(A("10.0.0.0"), 7, A("0.0.0.0"), &s), -EINVAL);
    /* gateway outside, or network/broadcast */
    CHECK_INT(ipam_subnet_init(A("10.88.0.0"), 24, A("10.88.1.1"), &s), -ERANGE);
    CHECK_INT(ipam_subnet_init(A("10.88.0.0"), 24, A("10.88.0.0"), &s), -ERANGE);
    CHECK_INT(ipam_subnet_init(A("10.88.0.0"), 24, A("10.88.0.255"), &s), -ERANGE);
    /* s untouched by failures */
    CHECK_STR(S(s.gateway), "10.88.0.254");
    return 0;
}

static int test_check(void)
{
    struct ipam_subnet s;
    struct in_addr used[] = {A("10.88.0.7"), A("10.88.0.9")};

    CHECK_INT(ipam_subnet_init(A("10.88.0.0"), 24, A("0.0.0.0"), &s), 0);
    CHECK_INT(ipam_check(&s, A("10.88.0.10"), used, 2), 0);
    CHECK_INT(ipam_check(&s, A("10.88.0.254"), used, 2), 0);
    CHECK_INT(ipam_check(&s, A("10.88.0.9"), used, 2), -EADDRINUSE);
    CHECK_INT(ipam_check(&s, A("10.88.0.1"), used, 2), -EADDRNOTAVAIL);
    CHECK_INT(ipam_check(&s, A("10.88.0.0"), used, 2), -EADDRNOTAVAIL);
    CHECK_INT(ipam_check(&s, A("10.88.0.255"), used, 2), -EADDRNOTAVAIL);
    CHECK_INT(ipam_check(&s, A("10.88.1.5"), used, 2), -ERANGE);
    CHECK_INT(ipam_check(&s, A("10.87.255.255"), NULL, 0), -ERANGE);
    CHECK(ipam_contains(&s, A("10.88.0.0")));
    CHECK(!ipam_contains(&s, A("10.89.0.0")));
    return 0;
}

static int test_alloc_lowest(void)
{
    struct ipam_subnet s;
    struct in_addr r;

    CHECK_INT(ipam_subnet_init(A("10.88.0.0"), 24, A("0.0.0.0"), &s), 0);
    CHECK_INT(ipam_alloc(&s, NULL, 0, &r), 0);
    CHECK_STR(S(r), "10.88.0.2");
    {
        /* unsorted, duplicated, and out-of-subnet entries are tolerated */
        struct in_addr used[] = {A("10.88.0.4"), A("10.88.0.2"), A("192.168.0.3"),
                A("10.88.0.3"), A("10.88.0.2")};
        CHECK_INT(ipam_alloc(&s, used, 5, &r), 0);
        CHECK_STR(S(r), "10.88.0.5");
    }
    {
        /* a hole is filled first: lowest free wins */
        struct in_addr used[] = {A("10.88.0.2"), A("10.88.0.4")};
        CHECK_INT(ipam_alloc(&s, used, 2, &r), 0);
        CHECK_STR(S(r), "10.88.0.3");
    }
    /* gateway in the middle is skipped */
    CHECK_INT(ipam_subnet_init(A("10.88.0.0"), 24, A("10.88.0.2"), &s), 0);
    CHECK_INT(ipam_alloc(&s, NULL, 0, &r), 0);
    CHECK_STR(S(r), "10.88.0.1");
    {
        struct in_addr used[] = {A("10.88.0.1")};
        CHECK_INT(ipam_alloc(&s, used, 1, &r), 0);
        CHECK_STR(S(r), "10.88.0.3");
    }
    return 0;
}

static int test_alloc_full(void)
{
    struct ipam_subnet s;
    struct in_addr r = A("1.2.3.4");

    /* /30: hosts .1 (gateway) and .2 */
    CHECK_INT(ipam_subnet_init(A("10.0.0.0"), 30, A("0.0.0.0"), &s), 0);
    CHECK_INT(ipam_alloc(&s, NULL, 0, &r), 0);
    CHECK_STR(S(r), "10.0.0.2");
    {
        struct in_addr used[] = {A("10.0.0.2")};
        r = A("1.2.3.4");
        CHECK_INT(ipam_alloc(&s, used, 1, &r), -ENOSPC);
        CHECK_STR(S(r), "1.2.3.4"); /* ret written only on success */
    }
    /* a full /24 (253 hosts besides the gateway) */
    {
        struct in_addr used[253];
        CHECK_INT(ipam_subnet_init(A("10.9.0.0"), 24, A("0.0.0.0"), &s), 0);
        for (int i = 0; i < 253; i++)
            used[i].s_addr = htonl(ntohl(A("10.9.0.2").s_addr) + (uint32_t)i);
        CHECK_INT(ipam_alloc(&s, used, 253, &r), -ENOSPC);
        CHECK_INT(ipam_alloc(&s, used, 252, &r), 0);
        CHECK_STR(S(r), "10.9.0.254");
    }
    /* a subnet at the top of the address space does not wrap */
    CHECK_INT(ipam_subnet_init(A("255.255.255.252"), 30, A("0.0.0.0"), &s), 0);
    {
        struct in_addr used[] = {A("255.255.255.254")};
        CHECK_INT(ipam_alloc(&s, used, 1, &r), -ENOSPC);
    }
    return 0;
}

static int test_alloc_large(void)
{
    struct ipam_subnet s;
    struct in_addr r;
    struct in_addr used[3] = {A("10.0.0.2"), A("10.0.0.3"), A("10.255.255.254")};

    CHECK_INT(ipam_subnet_init(A("10.0.0.0"), 8, A("0.0.0.0"), &s), 0);
    CHECK_INT(ipam_alloc(&s, used, 3, &r), 0);
    CHECK_STR(S(r), "10.0.0.4");
    return 0;
}

static int test_parse_cidr(void)
{
    struct in_addr a;
    unsigned p;

    CHECK_INT(ipam_parse_cidr("10.88.0.0/24", &a, &p), 0);
    CHECK_STR(S(a), "10.88.0.0");
    CHECK_INT(p, 24);
    CHECK_INT(ipam_parse_cidr("0.0.0.0/0", &a, &p), 0);
    CHECK_INT(p, 0);
    CHECK_INT(ipam_parse_cidr("10.88.0.0", &a, &p), -EINVAL);
    CHECK_INT(ipam_parse_cidr("10.88.0.0/33", &a, &p), -EINVAL);
    CHECK_INT(ipam_parse_cidr("10.88.0.0/", &a, &p), -EINVAL);
    CHECK_INT(ipam_parse_cidr("10.88.0.0/2x", &a, &p), -EINVAL);
    CHECK_INT(ipam_parse_cidr("10.88.0.0/-1", &a, &p), -EINVAL);
    CHECK_INT(ipam_parse_cidr("10.88.0/24", &a, &p), -EINVAL);
    CHECK_INT(ipam_parse_cidr("/24", &a, &p), -EINVAL);
    CHECK_INT(ipam_parse_cidr("10.88.0.0/024", &a, &p), -EINVAL);
    return 0;
}

int main(void)
{
    RUN(test_subnet_init);
    RUN(test_check);
    RUN(test_alloc_lowest);
    RUN(test_alloc_full);
    RUN(test_alloc_large);
    RUN(test_parse_cidr);
    return HARNESS_END();
}

#pragma once
/* IPv4 address management within one subnet: pure decisions, no I/O.
 * Addresses are struct in_addr in network byte order, as in struct unit. Leases (which
 * container holds which address) are persisted by net.c; this module only decides. */
#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>

/* A network's address plan. Host addresses are net+1 .. broadcast-1; the gateway is one of
 * them and never handed out. */
struct ipam_subnet {
    struct in_addr net;     /* network address (host bits zero) */
    unsigned prefix;        /* 8..30 */
    struct in_addr gateway; /* inside the subnet, not network/broadcast */
};

/* Fills ret from a network unit's fields; a zero gateway means "first host address".
 * Returns 0, -EINVAL (prefix not in 8..30, host bits set in net) or -ERANGE (gateway outside
 * the subnet or equal to its network/broadcast address). ret written only on success. */
int ipam_subnet_init(struct in_addr net, unsigned prefix, struct in_addr gateway,
                     struct ipam_subnet *ret);
/* True if a lies within the subnet (including network and broadcast addresses). */
bool ipam_contains(const struct ipam_subnet *s, struct in_addr a);
/* Broadcast address of the subnet. */
struct in_addr ipam_broadcast(const struct ipam_subnet *s);
/* Checks an address a container wants (static, or a remembered lease) against the subnet and
 * the addresses in use by others: 0 if usable, -ERANGE outside the subnet, -EADDRNOTAVAIL for
 * the network, broadcast or gateway address, -EADDRINUSE if it is in used[]. */
int ipam_check(const struct ipam_subnet *s, struct in_addr a, const struct in_addr *used,
               size_t n_used);
/* Lowest host address that is not the gateway and not in used[] (duplicates and addresses
 * outside the subnet in used[] are fine). Returns 0 or -ENOSPC (subnet full), -ENOMEM. */
int ipam_alloc(const struct ipam_subnet *s, const struct in_addr *used, size_t n_used,
               struct in_addr *ret);
/* Parses "a.b.c.d/len" (len 0..32). Returns 0 or -EINVAL. Does not require zero host bits. */
int ipam_parse_cidr(const char *s, struct in_addr *ret_addr, unsigned *ret_prefix);

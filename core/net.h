#pragma once
/* Container networking: bridges, veth pairs, addresses and routes through libnl-3 (no `ip`,
 * no shell), IPv4 leases and the /etc/hosts + /etc/resolv.conf files of containers.
 * doc/networking.md describes the behaviour; this header is the API.
 *
 * State on disk: leases under state_dir, mgr's persistent root (--root, e.g. /var/lib/mgr),
 * so that an address stays the same across restarts of mgr and of the machine; the files
 * containers mount under hosts_root, the runtime dir (--run, e.g. /run/mgr: a tmpfs, so that
 * starting a container writes nothing to the disk; they are rewritten at every start):
 *   <state_dir>/net/leases/<network>                "<container> 10.88.0.2\n" per lease
 *   <hosts_root>/net/hosts/<container>/hosts         bind-mounted over /etc/hosts
 *   <hosts_root>/net/hosts/<container>/resolv.conf   bind-mounted over /etc/resolv.conf
 * All functions return 0 (or a documented count) or a negative errno, with err filled. */
#include <stdbool.h>
#include <net/if.h>
#include <netinet/in.h>

#include "err.h"
#include "unit.h"

struct nl_sock;

/* Netlink handles of the calling process, plus what net_setup() needs to know. */
struct net_ctx {
    struct nl_sock *sk; /* NETLINK_ROUTE socket in mgr's own network namespace */
    int self_netns_fd;  /* mgr's network namespace, to return to after entering a container's */
    /* Set by the caller after net_open() (borrowed; used by net_setup/net_bind_files): */
    const char *state_dir;        /* mgr's persistent root (leases) */
    const char *run_dir;          /* runtime dir (hosts and resolv.conf files) */
    const struct unit_set *units; /* all units, to find network units and other containers */
};

/* Opens the rtnetlink socket. ctx is zeroed first; net_close() is safe after failure. */
int net_open(struct net_ctx *ctx, struct err *err);
/* Releases what net_open acquired; idempotent. */
void net_close(struct net_ctx *ctx);

/* ---- names (pure) ---- */

/* Bridge of a network unit: its `bridge:` key, else "mgr-<name>" when that fits IFNAMSIZ,
 * else "mgr-" + first 6 chars + "-" + 4 hex digits of a hash of the whole name. */
void net_bridge_name(const struct unit *netunit, char ret[IFNAMSIZ]);
/* Host-end veth name of a container's attachment to a network: "vm" + first 8 chars of the
 * container name + "-" + 4 hex digits of a hash of (container, network, attempt), so
 * `ip link` shows whose it is. attempt > 0 gives alternatives when a name is still taken by
 * a namespace being destroyed. */
void net_veth_name(const char *container, const char *network, unsigned attempt,
                   char ret[IFNAMSIZ]);
/* The network unit called name in units, or NULL (also NULL if that unit is a container). */
const struct unit *net_find_network(const struct unit_set *units, const char *name);

/* ---- bridges ---- */

/* Makes the network's bridge exist and be up. A missing bridge is created with the gateway
 * address (subnet prefix) and marked as mgr's: interface alias
 * "mgr:network:<name>@<ctx->state_dir>", the state dir telling installations apart. On mgr's
 * bridge a changed gateway replaces the old address. An existing bridge that is not mgr's is
 * used as it is, never reconfigured. Idempotent. */
int net_network_up(struct net_ctx *ctx, const struct unit *netunit, struct err *err);
/* Deletes the network's bridge if mgr created it. The caller guarantees that no running
 * container uses the network; mgr's own leftover veths (from namespaces still being
 * destroyed) do not keep it, a foreign port does (-EBUSY). Returns 1 if deleted, 0 if
 * there was nothing of mgr's to delete. */
int net_network_down(struct net_ctx *ctx, const struct unit *netunit, struct err *err);
/* Deletes every bridge marked by this instance (same ctx->state_dir) whose network is not in
 * units (crash recovery, networks removed while mgr was down). Returns the number deleted. */
int net_network_gc(struct net_ctx *ctx, const struct unit_set *units, struct err *err);

/* ---- leases (file-based, flock'ed per network, safe across processes) ---- */

/* Address for container on netunit: static_addr if given (checked: inside the subnet, not
 * network/broadcast/gateway, not leased to another container -> -EADDRINUSE naming it);
 * else its existing lease if still valid; else the lowest free address, skipping addresses
 * that other units in units (may be NULL) declare statically. Persists the lease. */
int net_lease_acquire(const char *state_dir, const struct unit *netunit, const char *container,
                      const char *static_addr, const struct unit_set *units, struct in_addr *ret,
                      struct err *err);
/* net_lease_acquire for each of c->networks (network units looked up in units); ret_addrs
 * has c->n_networks entries, in the order of c->networks. On failure nothing new is kept. */
int net_leases_acquire(const char *state_dir, const struct unit *c, const struct unit_set *units,
                       struct in_addr *ret_addrs, struct err *err);
/* The address container holds on network, without taking the lock (lease files are replaced
 * atomically). For status displays. Returns 0, -ENOENT when it holds none, or -errno. */
int net_lease_lookup(const char *state_dir, const char *network, const char *container,
                     struct in_addr *ret);
/* Drops container's lease on network (missing is fine). */
int net_lease_release(const char *state_dir, const char *network, const char *container,
                      struct err *err);
/* Drops leases (and hosts files under run_dir) of containers that are not in units or no
 * longer declare that network, except those of containers that have a runtime record
 * (run_dir/containers/NAME, e.g. a `mgr run` of a unit file outside the unit directory;
 * run_dir may be NULL: then hosts files are left alone).
 * Call after the desired set is loaded (crash recovery). Returns the number dropped. */
int net_lease_gc(const char *state_dir, const char *run_dir, const struct unit_set *units,
                 struct err *err);

/* ---- wiring a container's network namespace ---- */

/* For each of c->networks[i]: a veth pair created with its peer directly in netns_fd
 * (IFLA_NET_NS_FD at creation, no later move), host end (net_veth_name) enslaved to the
 * network's bridge and up, peer named eth<i> with the bridge's MTU; then, from inside the
 * namespace, lo up, addrs[i]/prefix on eth<i>, and the default route via the first
 * network's gateway. Brings the bridge up first if needed. On failure, the host ends
 * created so far are deleted. */
int net_wire(struct net_ctx *ctx, const struct unit *c, const struct unit_set *units, int netns_fd,
             const struct in_addr *addrs, struct err *err);
/* Brings lo up in netns_fd (every new network namespace: net: private without networks and
 * net: none). */
int net_lo_up(int netns_fd, struct err *err);
/* The container is removed (not merely stopped): releases its leases, removes its hosts
 * files and rewrites the other members' hosts. Does not delete veths: the namespace's
 * destruction removes them asynchronously (an explicit delete costs an RCU grace period). */
int net_unwire(const char *state_dir, const char *hosts_root, const char *container,
               const struct unit_set *units, struct err *err);

/* The runtime's one call, from the parent after clone while the child waits, with the
 * child's /proc/PID/ns/net fd. By c->ns[NS_NET].mode: private with networks -> leases,
 * net_wire and hosts files; private without networks and none -> lo up and hosts files;
 * host and container:NAME -> nothing. Needs ctx->state_dir, ctx->run_dir and ctx->units. Every error
 * message starts with "unit 'NAME': " (callers do not add it again). */
int net_setup(struct net_ctx *ctx, const struct unit *c, int netns_fd, struct err *err);
/* Files the runtime bind-mounts over /etc/hosts and /etc/resolv.conf (caller frees), or both
 * NULL when none (net: host keeps the host's files; container:NAME gets NAME's if NAME has
 * them). A container's own files exist once net_setup() returned. Returns 0 or -ENOMEM. */
int net_bind_files(const struct net_ctx *ctx, const struct unit *c, char **ret_hosts,
                   char **ret_resolv);

/* ---- /etc/hosts and /etc/resolv.conf ---- */

/* Paths of the container's hosts and resolv.conf files (caller frees). Returns 0 or -ENOMEM. */
int net_hosts_paths(const char *hosts_root, const char *container, char **ret_hosts,
                    char **ret_resolv);
/* Writes c's hosts (localhost, itself, and every container holding a lease on one of its
 * networks, by unit name and hostname) and resolv.conf (c->dns, else the host's
 * /etc/resolv.conf) under hosts_root, from the leases under state_dir. Call after
 * net_leases_acquire, before the runtime bind-mounts them. Existing files are rewritten in
 * place (bind mounts keep the inode). */
int net_hosts_write(const char *state_dir, const char *hosts_root, const struct unit *c,
                    const struct unit_set *units, struct err *err);
/* Rewrites the hosts file of every container that has one (membership changed). */
int net_hosts_refresh(const char *state_dir, const char *hosts_root, const struct unit_set *units,
                      struct err *err);

/* One line of a hosts file; render is pure (unit-tested). */
struct net_host_entry {
    struct in_addr addr;
    const char *name;  /* unit name */
    const char *alias; /* hostname if it differs from name, else NULL */
};
/* Renders a hosts file: localhost lines, then entries (self first as given), one address per
 * line, names deduplicated (the first entry for a name wins). Caller frees *ret. */
int net_hosts_render(const struct net_host_entry *e, size_t n, char **ret);

/* Bridges, veth pairs, addresses and routes through libnl-3 / libnl-route-3.
 *
 * Wiring order for one container (net_wire), chosen for speed:
 *   1. look up the bridge (ifindex, MTU) in mgr's namespace;
 *   2. one RTM_NEWLINK creates the veth pair: the host end with IFLA_MASTER = bridge and
 *      IFF_UP, the peer with IFLA_NET_NS_FD = the container's namespace, its final name
 *      (eth<i>), the bridge's MTU and IFF_UP. Creating the peer directly in the target
 *      namespace avoids a later move, which costs an RCU grace period (~30 ms);
 *   3. a second rtnetlink socket opened inside the container's namespace (setns there,
 *      socket(), setns back: a socket stays bound to the namespace it was created in) sets
 *      lo up, the addresses and the default route.
 * Teardown deletes nothing: destroying the namespace removes the peer and with it the host
 * end, asynchronously (an explicit delete would again wait for a grace period). */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>

#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include "ipam.h"
#include "log.h"
#include "unit_parse.h"
#include "util.h"

#define MGR_ALIAS_PREFIX "mgr:network:"
#define VETH_ATTEMPTS    8

static void nl_sock_freep(struct nl_sock **p)
{
    if (*p)
        nl_socket_free(*p);
}
static void rtnl_link_putp(struct rtnl_link **p)
{
    if (*p)
        rtnl_link_put(*p);
}
static void nl_addr_putp(struct nl_addr **p)
{
    if (*p)
        nl_addr_put(*p);
}
static void rtnl_addr_putp(struct rtnl_addr **p)
{
    if (*p)
        rtnl_addr_put(*p);
}
static void rtnl_route_putp(struct rtnl_route **p)
{
    if (*p)
        rtnl_route_put(*p);
}
static void nl_cache_freep(struct nl_cache **p)
{
    if (*p)
        nl_cache_free(*p);
}
#define _cleanup_nl_sock_    _cleanup_(nl_sock_freep)
#define _cleanup_rtnl_link_  _cleanup_(rtnl_link_putp)
#define _cleanup_nl_addr_    _cleanup_(nl_addr_putp)
#define _cleanup_rtnl_addr_  _cleanup_(rtnl_addr_putp)
#define _cleanup_rtnl_route_ _cleanup_(rtnl_route_putp)
#define _cleanup_nl_cache_   _cleanup_(nl_cache_freep)

/* libnl folds kernel errnos into its own NLE_* codes; map them back so that struct err
 * carries a real errno (and strerror makes sense). */
static int nle_errno(int nle)
{
    static const struct {
        int nle, err;
    } map[] = {
            {NLE_INTR, EINTR},
            {NLE_BAD_SOCK, EBADF},
            {NLE_AGAIN, EAGAIN},
            {NLE_NOMEM, ENOMEM},
            {NLE_EXIST, EEXIST},
            {NLE_INVAL, EINVAL},
            {NLE_RANGE, ERANGE},
            {NLE_MSGSIZE, EMSGSIZE},
            {NLE_OPNOTSUPP, EOPNOTSUPP},
            {NLE_AF_NOSUPPORT, EAFNOSUPPORT},
            {NLE_OBJ_NOTFOUND, ENOENT},
            {NLE_NOATTR, EINVAL},
            {NLE_MISSING_ATTR, EINVAL},
            {NLE_AF_MISMATCH, EAFNOSUPPORT},
            {NLE_SEQ_MISMATCH, EPROTO},
            {NLE_MSG_OVERFLOW, EOVERFLOW},
            {NLE_MSG_TRUNC, EMSGSIZE},
            {NLE_NOADDR, EADDRNOTAVAIL},
            {NLE_SRCRT_NOSUPPORT, EOPNOTSUPP},
            {NLE_MSG_TOOSHORT, EPROTO},
            {NLE_MSGTYPE_NOSUPPORT, EOPNOTSUPP},
            {NLE_OBJ_MISMATCH, EINVAL},
            {NLE_NOCACHE, ENOENT},
            {NLE_BUSY, EBUSY},
            {NLE_PROTO_MISMATCH, EPROTONOSUPPORT},
            {NLE_NOACCESS, EACCES},
            {NLE_PERM, EPERM},
            {NLE_PKTLOC_FILE, ENOENT},
            {NLE_PARSE_ERR, EINVAL},
            {NLE_NODEV, ENODEV},
            {NLE_IMMUTABLE, EPERM},
            {NLE_DUMP_INTR, EINTR},
            {NLE_ATTRSIZE, EINVAL},
    };
    int n = nle < 0 ? -nle : nle;

    if (n == NLE_SUCCESS)
        return 0;
    for (size_t i = 0; i < ARRAY_SIZE(map); i++)
        if (map[i].nle == n)
            return map[i].err;
    return EIO;
}

/* ---- names ---- */

static uint32_t fnv1a(uint32_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

void net_bridge_name(const struct unit *netunit, char ret[IFNAMSIZ])
{
    if (netunit->bridge && netunit->bridge[0]) {
        snprintf(ret, IFNAMSIZ, "%s", netunit->bridge);
        return;
    }
    /* The parser fills `bridge:` with this default; units built in code may not. */
    unit_default_bridge(netunit->name, ret);
}

void net_veth_name(const char *container, const char *network, unsigned attempt, char ret[IFNAMSIZ])
{
    char salt[16];
    uint32_t h = fnv1a(2166136261u, container);

    h = fnv1a(h, "/");
    h = fnv1a(h, network);
    snprintf(salt, sizeof(salt), "#%u", attempt);
    if (attempt > 0)
        h = fnv1a(h, salt);
    snprintf(ret, IFNAMSIZ, "vm%.8s-%04x", container, (unsigned)(h & 0xffff));
}

const struct unit *net_find_network(const struct unit_set *units, const char *name)
{
    const struct unit *u;

    if (!units || !name)
        return NULL;
    u = unit_set_find(units, name);
    return u && u->kind == UNIT_NETWORK ? u : NULL;
}

/* ---- sockets ---- */

static int sock_open(struct nl_sock **ret, struct err *err)
{
    _cleanup_nl_sock_ struct nl_sock *sk = nl_socket_alloc();
    int r;

    if (!sk)
        return err_set(err, ENOMEM, "allocate netlink socket");
    r = nl_connect(sk, NETLINK_ROUTE);
    if (r < 0)
        return err_set(err, nle_errno(r), "connect rtnetlink socket");
    /* one recvmsg per reply instead of a MSG_PEEK to size the buffer first: with a 32 KiB
     * buffer no reply to our requests is truncated (dumps come in parts anyway) */
    nl_socket_disable_msg_peek(sk);
    (void)nl_socket_set_msg_buf_size(sk, 32768);
    *ret = TAKE_PTR(sk);
    return 0;
}

int net_open(struct net_ctx *ctx, struct err *err)
{
    int r;

    *ctx = (struct net_ctx){.sk = NULL, .self_netns_fd = -1};
    ctx->self_netns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (ctx->self_netns_fd < 0)
        return err_set(err, errno, "open /proc/thread-self/ns/net");
    r = sock_open(&ctx->sk, err);
    if (r < 0) {
        net_close(ctx);
        return r;
    }
    return 0;
}

void net_close(struct net_ctx *ctx)
{
    if (ctx->sk)
        nl_socket_free(ctx->sk);
    ctx->sk = NULL;
    if (ctx->self_netns_fd >= 0)
        close(ctx->self_netns_fd);
    ctx->self_netns_fd = -1;
}

/* Opens an rtnetlink socket that lives in netns_fd's namespace. The calling thread enters
 * the namespace only for socket() (a netlink socket is bound to the namespace it is created
 * in) and returns at once, so nothing else runs in the container's namespace. Failing to
 * return would leave mgr operating on the container's network: that is not survivable. */
static int sock_open_in(int self_fd, int netns_fd, struct nl_sock **ret, struct err *err)
{
    int r;

    if (setns(netns_fd, CLONE_NEWNET) < 0)
        return err_set(err, errno, "enter the container's network namespace");
    r = sock_open(ret, err);
    if (setns(self_fd, CLONE_NEWNET) < 0) {
        log_error("net: cannot return to mgr's network namespace: %m");
        abort();
    }
    return r;
}

/* ---- links ---- */

static int link_get(struct nl_sock *sk, const char *name, struct rtnl_link **ret)
{
    int r = rtnl_link_get_kernel(sk, 0, name, ret);
    if (r < 0) {
        r = nle_errno(r);
        /* the kernel says ENODEV for an unknown name; libnl may report it as not found */
        return -(r == ENOENT ? ENODEV : r);
    }
    return 0;
}

/* The mark on a bridge mgr created: "mgr:network:<name>@<state_dir>". The state directory
 * tells installations apart (isolated instances, e.g. tests, share the host's links): an
 * instance only ever deletes or garbage-collects bridges it marked itself. */
static char *mark_for(const struct net_ctx *ctx, const char *network)
{
    return strdup_printf(MGR_ALIAS_PREFIX "%s@%s", network, ctx->state_dir ? ctx->state_dir : "");
}

/* Network name in a mark (into buf), or NULL if l carries no mgr mark. */
static const char *mark_network(struct rtnl_link *l, char *buf, size_t len)
{
    const char *alias = rtnl_link_get_ifalias(l), *at;

    if (!alias || strncmp(alias, MGR_ALIAS_PREFIX, strlen(MGR_ALIAS_PREFIX)) != 0)
        return NULL;
    alias += strlen(MGR_ALIAS_PREFIX);
    at = strchr(alias, '@');
    snprintf(buf, len, "%.*s", (int)(at ? (size_t)(at - alias) : strlen(alias)), alias);
    return buf;
}

/* Any mgr mark (network NULL), or this instance's mark for network. */
static bool link_is_mgrs(const struct net_ctx *ctx, struct rtnl_link *l, const char *network)
{
    const char *alias = rtnl_link_get_ifalias(l);
    _cleanup_free_ char *want = NULL;

    if (!network)
        return alias && strncmp(alias, MGR_ALIAS_PREFIX, strlen(MGR_ALIAS_PREFIX)) == 0;
    if (!alias)
        return false;
    /* a mark without "@" (older mgr) names the network only: accepted for up/down */
    if (!strchr(alias, '@') && strncmp(alias, MGR_ALIAS_PREFIX, strlen(MGR_ALIAS_PREFIX)) == 0)
        return STREQ(alias + strlen(MGR_ALIAS_PREFIX), network);
    want = mark_for(ctx, network);
    return want && STREQ(alias, want);
}

/* This instance's mark, for any network. */
static bool link_is_ours(const struct net_ctx *ctx, struct rtnl_link *l)
{
    const char *alias = rtnl_link_get_ifalias(l);
    char net[256];

    /* an older mark without "@" could be any instance's: never collected */
    return alias && strchr(alias, '@') && mark_network(l, net, sizeof(net)) &&
           link_is_mgrs(ctx, l, net);
}

static bool link_is_bridge(struct rtnl_link *l)
{
    const char *type = rtnl_link_get_type(l);
    return type && STREQ(type, "bridge");
}

/* Host ends of mgr's veths: "vm" + up to 8 chars + "-" + 4 hex digits, type veth. */
static bool link_is_mgr_veth(struct rtnl_link *l)
{
    const char *name = rtnl_link_get_name(l), *type = rtnl_link_get_type(l), *dash;

    if (!name || !type || !STREQ(type, "veth") || strncmp(name, "vm", 2) != 0)
        return false;
    dash = strrchr(name, '-');
    if (!dash || strlen(dash + 1) != 4 || dash - name < 3 || dash - name > 10)
        return false;
    return strspn(dash + 1, "0123456789abcdef") == 4;
}

static int link_set_up(struct nl_sock *sk, int ifindex)
{
    _cleanup_rtnl_link_ struct rtnl_link *orig = rtnl_link_alloc(), *chg = rtnl_link_alloc();

    if (!orig || !chg)
        return -ENOMEM;
    rtnl_link_set_ifindex(orig, ifindex);
    rtnl_link_set_flags(chg, IFF_UP);
    return -nle_errno(rtnl_link_change(sk, orig, chg, 0));
}

static int link_delete(struct nl_sock *sk, const char *name)
{
    _cleanup_rtnl_link_ struct rtnl_link *l = rtnl_link_alloc();

    if (!l)
        return -ENOMEM;
    rtnl_link_set_name(l, name);
    return -nle_errno(rtnl_link_delete(sk, l));
}

static int addr_add(struct nl_sock *sk, int ifindex, struct in_addr a, unsigned prefix,
                    struct in_addr bcast)
{
    _cleanup_rtnl_addr_ struct rtnl_addr *ra = rtnl_addr_alloc();
    _cleanup_nl_addr_ struct nl_addr *local = nl_addr_build(AF_INET, &a, sizeof(a));
    _cleanup_nl_addr_ struct nl_addr *brd = nl_addr_build(AF_INET, &bcast, sizeof(bcast));

    if (!ra || !local || !brd)
        return -ENOMEM;
    nl_addr_set_prefixlen(local, (int)prefix);
    rtnl_addr_set_ifindex(ra, ifindex);
    rtnl_addr_set_family(ra, AF_INET);
    rtnl_addr_set_local(ra, local);
    rtnl_addr_set_prefixlen(ra, prefix);
    rtnl_addr_set_broadcast(ra, brd);
    /* NLM_F_REPLACE: re-adding the same address (bridge brought up again) is not an error */
    return -nle_errno(rtnl_addr_add(sk, ra, NLM_F_CREATE | NLM_F_REPLACE));
}

static int route_add_default(struct nl_sock *sk, int ifindex, struct in_addr gw)
{
    struct in_addr any = {0};
    _cleanup_rtnl_route_ struct rtnl_route *rt = rtnl_route_alloc();
    _cleanup_nl_addr_ struct nl_addr *dst = nl_addr_build(AF_INET, &any, sizeof(any));
    _cleanup_nl_addr_ struct nl_addr *via = nl_addr_build(AF_INET, &gw, sizeof(gw));
    struct rtnl_nexthop *nh;

    if (!rt || !dst || !via)
        return -ENOMEM;
    nl_addr_set_prefixlen(dst, 0);
    rtnl_route_set_family(rt, AF_INET);
    rtnl_route_set_table(rt, RT_TABLE_MAIN);
    rtnl_route_set_scope(rt, RT_SCOPE_UNIVERSE);
    rtnl_route_set_protocol(rt, RTPROT_STATIC);
    rtnl_route_set_type(rt, RTN_UNICAST);
    if (rtnl_route_set_dst(rt, dst) < 0)
        return -EINVAL;
    nh = rtnl_route_nh_alloc();
    if (!nh)
        return -ENOMEM;
    rtnl_route_nh_set_ifindex(nh, ifindex);
    rtnl_route_nh_set_gateway(nh, via);
    rtnl_route_add_nexthop(rt, nh); /* rt owns nh from here */
    return -nle_errno(rtnl_route_add(sk, rt, NLM_F_CREATE | NLM_F_EXCL));
}

/* ---- bridges ---- */

static int subnet_of(const struct unit *netunit, struct ipam_subnet *ret, struct err *err)
{
    char net[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN];
    int r = ipam_subnet_init(netunit->subnet, netunit->prefix_len, netunit->gateway, ret);

    if (r < 0) {
        inet_ntop(AF_INET, &netunit->subnet, net, sizeof(net));
        inet_ntop(AF_INET, &netunit->gateway, gw, sizeof(gw));
        return err_setx(err, -r, "network '%s': invalid subnet %s/%u or gateway %s", netunit->name,
                        net, netunit->prefix_len, gw);
    }
    return 0;
}

static int bridge_create(struct net_ctx *ctx, const struct unit *netunit, const char *name,
                         const struct ipam_subnet *s, struct err *err)
{
    _cleanup_rtnl_link_ struct rtnl_link *br = rtnl_link_bridge_alloc();
    _cleanup_rtnl_link_ struct rtnl_link *cur = NULL, *chg = rtnl_link_alloc();
    _cleanup_free_ char *alias = mark_for(ctx, netunit->name);
    int r;

    if (!br || !chg || !alias)
        return err_set(err, ENOMEM, "network '%s': allocate bridge", netunit->name);
    rtnl_link_set_name(br, name);
    r = rtnl_link_add(ctx->sk, br, NLM_F_CREATE | NLM_F_EXCL);
    if (r < 0)
        return -nle_errno(r); /* EEXIST handled by the caller (a concurrent mgr won) */

    /* The kernel ignores IFLA_IFALIAS on creation, so the mark is a second request. It is
     * what tells later runs (and a restarted mgr) that this bridge is mgr's to delete. */
    r = link_get(ctx->sk, name, &cur);
    if (r < 0) {
        err_set(err, -r, "network '%s': look up new bridge '%s'", netunit->name, name);
        goto undo_bridge;
    }
    rtnl_link_set_ifalias(chg, alias);
    rtnl_link_set_flags(chg, IFF_UP);
    r = -nle_errno(rtnl_link_change(ctx->sk, cur, chg, 0));
    if (r < 0) {
        err_set(err, -r, "network '%s': mark and bring up bridge '%s'", netunit->name, name);
        goto undo_bridge;
    }
    r = addr_add(ctx->sk, rtnl_link_get_ifindex(cur), s->gateway, s->prefix, ipam_broadcast(s));
    if (r < 0) {
        err_set(err, -r, "network '%s': add gateway address to bridge '%s'", netunit->name, name);
        goto undo_bridge;
    }
    log_debug("net: created bridge '%s' for network '%s'", name, netunit->name);
    return 0;
undo_bridge:
    (void)link_delete(ctx->sk, name);
    return r;
}

/* The subnet or gateway of a network changed: remove the other IPv4 addresses from mgr's
 * bridge, so that the host does not keep routing the old subnet to it. */
static int drop_stale_addrs(struct net_ctx *ctx, int ifindex, const struct ipam_subnet *s)
{
    _cleanup_nl_cache_ struct nl_cache *cache = NULL;
    int r;

    r = rtnl_addr_alloc_cache(ctx->sk, &cache);
    if (r < 0)
        return -nle_errno(r);
    for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        struct rtnl_addr *a = (struct rtnl_addr *)o;
        struct nl_addr *local = rtnl_addr_get_local(a);
        struct in_addr v;

        if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != AF_INET || !local ||
            nl_addr_get_len(local) != sizeof(v))
            continue;
        memcpy(&v, nl_addr_get_binary_addr(local), sizeof(v));
        if (v.s_addr == s->gateway.s_addr && rtnl_addr_get_prefixlen(a) == (int)s->prefix)
            continue;
        r = rtnl_addr_delete(ctx->sk, a, 0);
        if (r < 0 && r != -NLE_NOADDR)
            return -nle_errno(r);
    }
    return 0;
}

int net_network_up(struct net_ctx *ctx, const struct unit *netunit, struct err *err)
{
    char name[IFNAMSIZ];
    struct ipam_subnet s;
    int r;

    r = subnet_of(netunit, &s, err);
    if (r < 0)
        return r;
    net_bridge_name(netunit, name);
    for (int attempt = 0; attempt < 2; attempt++) {
        _cleanup_rtnl_link_ struct rtnl_link *l = NULL;

        r = link_get(ctx->sk, name, &l);
        if (r == -ENODEV) {
            r = bridge_create(ctx, netunit, name, &s, err);
            if (r == -EEXIST)
                continue; /* created concurrently: look again */
            return r;
        }
        if (r < 0)
            return err_set(err, -r, "network '%s': look up bridge '%s'", netunit->name, name);
        if (!link_is_bridge(l))
            return err_setx(err, EEXIST, "network '%s': interface '%s' exists and is not a bridge",
                            netunit->name, name);
        if (!link_is_mgrs(ctx, l, NULL))
            return 0; /* the administrator's bridge: used as it is */
        if (!link_is_mgrs(ctx, l, netunit->name))
            return err_setx(err, EEXIST,
                            "network '%s': bridge '%s' is marked '%s' by another mgr network",
                            netunit->name, name, rtnl_link_get_ifalias(l));
        /* ours: make sure it is up and has the gateway address (idempotent) */
        if (!(rtnl_link_get_flags(l) & IFF_UP)) {
            r = link_set_up(ctx->sk, rtnl_link_get_ifindex(l));
            if (r < 0)
                return err_set(err, -r, "network '%s': bring up bridge '%s'", netunit->name, name);
        }
        r = addr_add(ctx->sk, rtnl_link_get_ifindex(l), s.gateway, s.prefix, ipam_broadcast(&s));
        if (r < 0)
            return err_set(err, -r, "network '%s': add gateway address to bridge '%s'",
                           netunit->name, name);
        r = drop_stale_addrs(ctx, rtnl_link_get_ifindex(l), &s);
        if (r < 0)
            return err_set(err, -r, "network '%s': remove old addresses from bridge '%s'",
                           netunit->name, name);
        return 0;
    }
    return err_setx(err, EEXIST, "network '%s': bridge '%s' appears and disappears", netunit->name,
                    name);
}

/* Deletes bridge l (mgr's) unless a port that is not one of mgr's veths is attached. */
static int bridge_delete_if_unused(struct net_ctx *ctx, struct rtnl_link *br, struct err *err)
{
    _cleanup_nl_cache_ struct nl_cache *cache = NULL;
    const char *name = rtnl_link_get_name(br);
    int ifindex = rtnl_link_get_ifindex(br), r;

    r = rtnl_link_alloc_cache(ctx->sk, AF_UNSPEC, &cache);
    if (r < 0)
        return err_set(err, nle_errno(r), "list links");
    for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        struct rtnl_link *l = (struct rtnl_link *)o;
        if (rtnl_link_get_master(l) != ifindex)
            continue;
        /* mgr's veths still attached belong to namespaces being destroyed */
        if (!link_is_mgr_veth(l))
            return err_setx(err, EBUSY, "bridge '%s': interface '%s' is still attached", name,
                            rtnl_link_get_name(l));
    }
    r = link_delete(ctx->sk, name);
    if (r == -ENODEV)
        return 0;
    if (r < 0)
        return err_set(err, -r, "delete bridge '%s'", name);
    log_debug("net: deleted bridge '%s'", name);
    return 1;
}

int net_network_down(struct net_ctx *ctx, const struct unit *netunit, struct err *err)
{
    _cleanup_rtnl_link_ struct rtnl_link *l = NULL;
    char name[IFNAMSIZ];
    int r;

    net_bridge_name(netunit, name);
    r = link_get(ctx->sk, name, &l);
    if (r == -ENODEV)
        return 0;
    if (r < 0)
        return err_set(err, -r, "network '%s': look up bridge '%s'", netunit->name, name);
    if (!link_is_bridge(l) || !link_is_mgrs(ctx, l, netunit->name))
        return 0;
    r = bridge_delete_if_unused(ctx, l, err);
    if (r < 0)
        return err_wrap(err, "network '%s'", netunit->name);
    return r;
}

int net_network_gc(struct net_ctx *ctx, const struct unit_set *units, struct err *err)
{
    _cleanup_nl_cache_ struct nl_cache *cache = NULL;
    int r, n = 0;

    r = rtnl_link_alloc_cache(ctx->sk, AF_UNSPEC, &cache);
    if (r < 0)
        return err_set(err, nle_errno(r), "list links");
    for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        struct rtnl_link *l = (struct rtnl_link *)o;
        const struct unit *nu;
        char want[IFNAMSIZ];
        struct err e2 = {0};

        char net[256];

        if (!link_is_bridge(l) || !link_is_ours(ctx, l))
            continue;
        nu = net_find_network(units, mark_network(l, net, sizeof(net)));
        if (nu) {
            net_bridge_name(nu, want);
            if (STREQ(want, rtnl_link_get_name(l)))
                continue; /* still wanted */
        }
        r = bridge_delete_if_unused(ctx, l, &e2);
        if (r < 0)
            log_debug("net: gc: %s, ignoring", e2.msg);
        else
            n += r;
    }
    return n;
}

/* ---- wiring ---- */

/* Creates one veth pair: host end attached to the bridge, peer straight into the container's
 * namespace under its final name. Returns 0 with the host name in ret_host. */
static int veth_create(struct net_ctx *ctx, const char *container, const char *network,
                       int br_ifindex, unsigned mtu, int netns_fd, const char *peer_name,
                       char ret_host[IFNAMSIZ], struct err *err)
{
    char host[IFNAMSIZ];
    int r = -EEXIST;

    for (unsigned attempt = 0; attempt < VETH_ATTEMPTS && r == -EEXIST; attempt++) {
        _cleanup_rtnl_link_ struct rtnl_link *l = rtnl_link_veth_alloc();
        struct rtnl_link *peer;

        if (!l)
            return err_set(err, ENOMEM, "allocate veth");
        net_veth_name(container, network, attempt, host);
        rtnl_link_set_name(l, host);
        rtnl_link_set_master(l, br_ifindex);
        rtnl_link_set_mtu(l, mtu);
        rtnl_link_set_flags(l, IFF_UP);
        peer = rtnl_link_veth_get_peer(l);
        rtnl_link_set_name(peer, peer_name);
        rtnl_link_set_mtu(peer, mtu);
        /* no IFF_UP for the peer here: veth_open() fails with ENOTCONN while the pair is
         * still being assembled; it is brought up from inside the namespace */
        rtnl_link_set_ns_fd(peer, netns_fd);
        rtnl_link_put(peer); /* get_peer took a reference */
        /* EEXIST: the name is still held by the previous instance's host end while its
         * namespace is being destroyed; take the next alternative name. */
        r = -nle_errno(rtnl_link_add(ctx->sk, l, NLM_F_CREATE | NLM_F_EXCL));
    }
    if (r < 0)
        return err_set(err, -r, "create veth '%s' (peer '%s' in the container)", host, peer_name);
    memcpy(ret_host, host, IFNAMSIZ);
    return 0;
}

/* Inside the container's namespace: lo up, address on each eth<i>, default route. */
static int configure_inside(struct nl_sock *sk, const struct unit *c, const struct unit_set *units,
                            const struct in_addr *addrs, struct err *err)
{
    int r;

    r = link_set_up(sk, 1 /* lo is always ifindex 1 in a new namespace */);
    if (r < 0)
        return err_set(err, -r, "bring up lo");
    for (size_t i = 0; i < c->n_networks; i++) {
        _cleanup_rtnl_link_ struct rtnl_link *l = NULL;
        const struct unit *nu = net_find_network(units, c->networks[i].name);
        struct ipam_subnet s;
        char eth[IFNAMSIZ], a[INET_ADDRSTRLEN];
        int ifindex;

        r = subnet_of(nu, &s, err);
        if (r < 0)
            return r;
        snprintf(eth, sizeof(eth), "eth%zu", i);
        r = link_get(sk, eth, &l);
        if (r < 0)
            return err_set(err, -r, "look up '%s' in the container", eth);
        ifindex = rtnl_link_get_ifindex(l);
        r = link_set_up(sk, ifindex);
        if (r < 0)
            return err_set(err, -r, "bring up '%s'", eth);
        inet_ntop(AF_INET, &addrs[i], a, sizeof(a));
        if (!ipam_contains(&s, addrs[i]))
            return err_setx(err, ERANGE, "address %s is outside network '%s'", a, nu->name);
        r = addr_add(sk, ifindex, addrs[i], s.prefix, ipam_broadcast(&s));
        if (r < 0)
            return err_set(err, -r, "add address %s/%u to '%s'", a, s.prefix, eth);
        if (i == 0) {
            r = route_add_default(sk, ifindex, s.gateway);
            if (r < 0)
                return err_set(err, -r, "add default route via %s",
                               inet_ntop(AF_INET, &s.gateway, a, sizeof(a)));
        }
    }
    return 0;
}

int net_wire(struct net_ctx *ctx, const struct unit *c, const struct unit_set *units, int netns_fd,
             const struct in_addr *addrs, struct err *err)
{
    char hosts[8][IFNAMSIZ];
    _cleanup_nl_sock_ struct nl_sock *inner = NULL;
    size_t made = 0;
    int r;

    if (c->n_networks > ARRAY_SIZE(hosts))
        return err_setx(err, E2BIG, "unit '%s': at most %zu networks", c->name, ARRAY_SIZE(hosts));
    for (size_t i = 0; i < c->n_networks; i++) {
        _cleanup_rtnl_link_ struct rtnl_link *br = NULL;
        const struct unit *nu = net_find_network(units, c->networks[i].name);
        char brname[IFNAMSIZ], peer[IFNAMSIZ];

        if (!nu) {
            r = err_setx(err, ENOENT, "network '%s' is not defined", c->networks[i].name);
            goto undo_veths;
        }
        net_bridge_name(nu, brname);
        r = link_get(ctx->sk, brname, &br);
        if (r == -ENODEV) {
            r = net_network_up(ctx, nu, err);
            if (r < 0)
                goto undo_veths;
            r = link_get(ctx->sk, brname, &br);
        }
        if (r < 0) {
            err_set(err, -r, "network '%s': look up bridge '%s'", nu->name, brname);
            goto undo_veths;
        }
        /* `bridge: lo` or any other existing non-bridge: enslaving to it would only fail
         * as "create veth: Invalid argument" */
        if (!link_is_bridge(br)) {
            r = err_setx(err, EEXIST, "network '%s': interface '%s' exists and is not a bridge",
                         nu->name, brname);
            goto undo_veths;
        }
        snprintf(peer, sizeof(peer), "eth%zu", i);
        r = veth_create(ctx, c->name, nu->name, rtnl_link_get_ifindex(br), rtnl_link_get_mtu(br),
                        netns_fd, peer, hosts[made], err);
        if (r < 0) {
            err_wrap(err, "network '%s'", nu->name);
            goto undo_veths;
        }
        made++;
    }
    r = sock_open_in(ctx->self_netns_fd, netns_fd, &inner, err);
    if (r < 0)
        goto undo_veths;
    r = configure_inside(inner, c, units, addrs, err);
    if (r < 0)
        goto undo_veths;
    return 0;
undo_veths:
    /* Only on failure: the explicit delete waits for a grace period, acceptable here. */
    for (size_t i = 0; i < made; i++)
        (void)link_delete(ctx->sk, hosts[i]);
    return err_wrap(err, "unit '%s': wire network", c->name);
}

static int lo_up_in(int self_fd, int netns_fd, struct err *err)
{
    _cleanup_nl_sock_ struct nl_sock *sk = NULL;
    int r;

    r = sock_open_in(self_fd, netns_fd, &sk, err);
    if (r < 0)
        return r;
    r = link_set_up(sk, 1);
    if (r < 0)
        return err_set(err, -r, "bring up lo");
    return 0;
}

int net_lo_up(int netns_fd, struct err *err)
{
    _cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

    if (self < 0)
        return err_set(err, errno, "open /proc/thread-self/ns/net");
    return lo_up_in(self, netns_fd, err);
}

/* net_setup's messages name the unit exactly once: most steps below do it themselves. */
static int name_unit(struct err *err, const struct unit *c, int r)
{
    char pfx[UNIT_NAME_MAX + 16];
    snprintf(pfx, sizeof(pfx), "unit '%s'", c->name);
    if (err && strncmp(err->msg, pfx, strlen(pfx)) != 0)
        return err_wrap(err, "%s", pfx);
    return r;
}

static int net_setup_steps(struct net_ctx *ctx, const struct unit *c, int netns_fd,
                           struct err *err)
{
    struct in_addr addrs[8];
    int r;

    switch (c->ns[NS_NET].mode) {
    case NS_HOST:
    case NS_CONTAINER:
        return 0;
    case NS_NONE:
        r = lo_up_in(ctx->self_netns_fd, netns_fd, err);
        break;
    case NS_PRIVATE:
    default:
        if (c->n_networks == 0) {
            r = lo_up_in(ctx->self_netns_fd, netns_fd, err);
            break;
        }
        if (c->n_networks > ARRAY_SIZE(addrs))
            return err_setx(err, E2BIG, "unit '%s': at most %zu networks", c->name,
                            ARRAY_SIZE(addrs));
        if (!ctx->state_dir)
            return err_setx(err, EINVAL, "unit '%s': no state directory for leases", c->name);
        r = net_leases_acquire(ctx->state_dir, c, ctx->units, addrs, err);
        if (r < 0)
            return r;
        r = net_wire(ctx, c, ctx->units, netns_fd, addrs, err);
        break;
    }
    if (r < 0)
        return r;
    if (ctx->state_dir && ctx->run_dir)
        return net_hosts_write(ctx->state_dir, ctx->run_dir, c, ctx->units, err);
    return 0;
}

int net_setup(struct net_ctx *ctx, const struct unit *c, int netns_fd, struct err *err)
{
    int r = net_setup_steps(ctx, c, netns_fd, err);
    return r < 0 ? name_unit(err, c, r) : r;
}

int net_bind_files(const struct net_ctx *ctx, const struct unit *c, char **ret_hosts,
                   char **ret_resolv)
{
    const char *owner = c->name;

    switch (c->ns[NS_NET].mode) {
    case NS_HOST:
        *ret_hosts = *ret_resolv = NULL;
        return 0;
    case NS_CONTAINER:
        owner = c->ns[NS_NET].target;
        break;
    default:
        break;
    }
    if (!ctx->state_dir || !ctx->run_dir || !owner) {
        *ret_hosts = *ret_resolv = NULL;
        return 0;
    }
    if (c->ns[NS_NET].mode == NS_CONTAINER) {
        /* the target runs already: share its files if it has them (not when it uses the
         * host's network, or was started without a network context) */
        _cleanup_free_ char *h = NULL, *rs = NULL;
        int r = net_hosts_paths(ctx->run_dir, owner, &h, &rs);
        if (r < 0)
            return r;
        if (access(h, F_OK) < 0 || access(rs, F_OK) < 0) {
            *ret_hosts = *ret_resolv = NULL;
            return 0;
        }
        *ret_hosts = TAKE_PTR(h);
        *ret_resolv = TAKE_PTR(rs);
        return 0;
    }
    /* written by net_setup() before the child mounts them */
    return net_hosts_paths(ctx->run_dir, owner, ret_hosts, ret_resolv);
}

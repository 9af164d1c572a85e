/* Set-level checks over parsed units (pure): names, references, cycles, addresses. Every
 * error points at the key that causes it, using the positions unit_parse recorded.
 * Lookups go through a sorted name index so a full directory (UNIT_MAX_PER_DIR) stays fast. */
#include "unit_parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct name_ent {
    const char *name;
    enum unit_kind kind;
    size_t idx; /* position in the set (load order) */
};

/* A static address claim: unit idx puts address on network net. */
struct addr_ent {
    const char *net;
    const char *addr;
    size_t idx, k; /* unit index, networks[] index */
};

struct cctx {
    const struct unit_set *s;
    struct diags *d;
    int nerr;
    struct name_ent *names; /* sorted by kind, name, idx */
    size_t n_names;
};

__attribute__((format(printf, 4, 5))) static void cerr(struct cctx *c, const struct unit *u,
        const char *kp, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct unit_pos p = kp ? unit_pos_of(u, kp) : (struct unit_pos){0, 0};
    if (p.line == 0)
        p = (struct unit_pos){1, 1};
    diags_add(c->d, u->path, p.line, p.col, "%s", msg);
    c->nerr++;
}

static const char *kind_name(enum unit_kind k)
{
    return k == UNIT_NETWORK ? "network" : "container";
}

static int name_cmp(const void *a, const void *b)
{
    const struct name_ent *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    int r = strcmp(x->name, y->name);
    if (r)
        return r;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* First-loaded unit of that kind and name, or NULL. */
static const struct unit *find_kind(const struct cctx *c, const char *name, enum unit_kind k,
        size_t *ret_idx)
{
    size_t lo = 0, hi = c->n_names;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct name_ent *e = &c->names[mid];
        int r = e->kind != k ? (e->kind < k ? -1 : 1) : strcmp(e->name, name);
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < c->n_names && c->names[lo].kind == k && STREQ(c->names[lo].name, name)) {
        if (ret_idx)
            *ret_idx = c->names[lo].idx;
        return c->s->units[c->names[lo].idx];
    }
    return NULL;
}

/* Key path of dependency i: "depends_on.NAME" (mapping form) or "depends_on[i]" (list). */
static void dep_kp(const struct unit *u, size_t i, char *out, size_t len)
{
    snprintf(out, len, "depends_on.%s", u->deps[i].name);
    if (unit_pos_of(u, out).line == 0)
        snprintf(out, len, "depends_on[%zu]", i);
}

static void net_kp(const struct unit *u, size_t i, const char *field, char *out, size_t len)
{
    /* "networks[i].name" in the mapping form, "networks[i]" for a plain name. */
    snprintf(out, len, "networks[%zu].%s", i, field);
    if (unit_pos_of(u, out).line == 0)
        snprintf(out, len, "networks[%zu]", i);
}

static uint32_t mask_of(unsigned plen)
{
    return plen ? 0xffffffffu << (32 - plen) : 0;
}

static void check_names(struct cctx *c)
{
    for (size_t i = 1; i < c->n_names; i++) {
        const struct name_ent *a = &c->names[i - 1], *b = &c->names[i];
        if (a->kind != b->kind || !STREQ(a->name, b->name))
            continue;
        /* Report every later one against the first of the run. */
        size_t first = i - 1;
        while (first > 0 && c->names[first - 1].kind == b->kind &&
                STREQ(c->names[first - 1].name, b->name))
            first--;
        const struct unit *o = c->s->units[c->names[first].idx], *u = c->s->units[b->idx];
        struct unit_pos p = unit_pos_of(o, "name");
        cerr(c, u, "name", "duplicate %s name '%s' (also defined in %s:%d:%d)",
                kind_name(u->kind), u->name, o->path, p.line ? p.line : 1, p.col ? p.col : 1);
    }
}

/* Unit names are one namespace across kinds: `mgr status NAME`, the control API and the
 * state directories name a unit by its name alone. */
static void check_names_across_kinds(struct cctx *c)
{
    for (size_t i = 0; i < c->n_names; i++) {
        const struct name_ent *e = &c->names[i];
        if (e->kind != UNIT_NETWORK)
            continue;
        size_t idx;
        const struct unit *o = find_kind(c, e->name, UNIT_CONTAINER, &idx);
        if (!o)
            continue;
        struct unit_pos p = unit_pos_of(o, "name");
        cerr(c, c->s->units[e->idx], "name",
                "network name '%s' is also the name of a container (%s:%d:%d): unit names must "
                "be unique across kinds",
                e->name, o->path, p.line ? p.line : 1, p.col ? p.col : 1);
    }
}

static void check_networks(struct cctx *c)
{
    const struct unit_set *s = c->s;
    /* Networks are few (each needs its own subnet): pairwise is fine. */
    for (size_t i = 0; i < s->n; i++) {
        const struct unit *u = s->units[i];
        if (u->kind != UNIT_NETWORK)
            continue;
        for (size_t j = 0; j < i; j++) {
            const struct unit *o = s->units[j];
            if (o->kind != UNIT_NETWORK || STREQ(o->name, u->name))
                continue; /* a duplicate name is reported once, as such */
            if (o->bridge && u->bridge && STREQ(o->bridge, u->bridge))
                cerr(c, u, "bridge", "bridge '%s' is also used by network '%s' (%s)", u->bridge,
                        o->name, o->path);
            if (o->prefix_len && u->prefix_len) {
                unsigned pl = o->prefix_len < u->prefix_len ? o->prefix_len : u->prefix_len;
                uint32_t m = mask_of(pl);
                if ((ntohl(o->subnet.s_addr) & m) == (ntohl(u->subnet.s_addr) & m)) {
                    char a[INET_ADDRSTRLEN];
                    cerr(c, u, "subnet", "subnet overlaps network '%s' (%s/%u in %s)", o->name,
                            inet_ntop(AF_INET, &o->subnet, a, sizeof(a)), o->prefix_len, o->path);
                }
            }
        }
    }
}

static int addr_cmp(const void *a, const void *b)
{
    const struct addr_ent *x = a, *y = b;
    int r = strcmp(x->net, y->net);
    if (!r)
        r = strcmp(x->addr, y->addr);
    if (!r)
        r = x->idx < y->idx ? -1 : x->idx > y->idx;
    return r;
}

static int check_refs(struct cctx *c)
{
    const struct unit_set *s = c->s;
    char kp[300];
    size_t n_addr = 0, cap = 0;
    struct addr_ent *addrs = NULL;

    for (size_t i = 0; i < s->n; i++) {
        const struct unit *u = s->units[i];
        if (u->kind != UNIT_CONTAINER)
            continue;
        for (size_t k = 0; k < u->n_networks; k++) {
            const struct net_attach *na = &u->networks[k];
            const struct unit *net = find_kind(c, na->name, UNIT_NETWORK, NULL);
            if (!net) {
                net_kp(u, k, "name", kp, sizeof(kp));
                cerr(c, u, kp, "network '%s' is not defined (no unit with kind: network and "
                               "that name)",
                        na->name);
                continue;
            }
            if (!na->address || !net->prefix_len)
                continue;
            struct in_addr a;
            if (inet_pton(AF_INET, na->address, &a) != 1)
                continue;
            net_kp(u, k, "address", kp, sizeof(kp));
            uint32_t m = mask_of(net->prefix_len), h = ntohl(a.s_addr),
                     sn = ntohl(net->subnet.s_addr);
            char sb[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &net->subnet, sb, sizeof(sb));
            if ((h & m) != sn) {
                cerr(c, u, kp, "address %s is outside network '%s' (%s/%u)", na->address,
                        net->name, sb, net->prefix_len);
            } else if (h == sn || h == (sn | ~m)) {
                cerr(c, u, kp, "address %s is the network or broadcast address of '%s'",
                        na->address, net->name);
            } else if (a.s_addr == net->gateway.s_addr) {
                cerr(c, u, kp, "address %s is the gateway of network '%s'", na->address,
                        net->name);
            } else {
                if (n_addr == cap) {
                    cap = cap ? 2 * cap : 64;
                    struct addr_ent *nv = realloc(addrs, cap * sizeof(*nv));
                    if (!nv) {
                        free(addrs);
                        return -ENOMEM;
                    }
                    addrs = nv;
                }
                addrs[n_addr++] = (struct addr_ent){na->name, na->address, i, k};
            }
        }
        for (size_t k = 0; k < u->n_deps; k++)
            if (!find_kind(c, u->deps[k].name, UNIT_CONTAINER, NULL)) {
                dep_kp(u, k, kp, sizeof(kp));
                cerr(c, u, kp, "depends on '%s', which is not defined", u->deps[k].name);
            }
        for (int k = 0; k < _NS_MAX; k++) {
            if (u->ns[k].mode != NS_CONTAINER || !u->ns[k].target)
                continue;
            snprintf(kp, sizeof(kp), "namespaces.%s", ns_type_name((enum ns_type)k));
            if (STREQ(u->ns[k].target, u->name))
                cerr(c, u, kp, "a container cannot join its own namespace");
            else if (!find_kind(c, u->ns[k].target, UNIT_CONTAINER, NULL))
                cerr(c, u, kp, "container '%s' (to join its %s namespace) is not defined",
                        u->ns[k].target, ns_type_name((enum ns_type)k));
        }
    }

    /* Same static address on the same network: sorted, so clashes are neighbours. */
    if (n_addr > 1)
        qsort(addrs, n_addr, sizeof(*addrs), addr_cmp);
    for (size_t i = 1; i < n_addr; i++) {
        const struct addr_ent *a = &addrs[i - 1], *b = &addrs[i];
        if (!STREQ(a->net, b->net) || !STREQ(a->addr, b->addr))
            continue;
        const struct unit *o = s->units[a->idx], *u = s->units[b->idx];
        net_kp(u, b->k, "address", kp, sizeof(kp));
        cerr(c, u, kp, "address %s on network '%s' is also used by '%s' (%s)", b->addr, b->net,
                o->name, o->path);
    }
    free(addrs);
    return 0;
}

enum { WHITE, GREY, BLACK };

/* Start-order graph over container indexes: depends_on and namespaces container:NAME.
 * adj[off[i] .. off[i+1]) are the units i waits for. */
static int build_graph(const struct cctx *c, size_t **ret_off, size_t **ret_adj)
{
    const struct unit_set *s = c->s;
    size_t total = 0;
    for (size_t i = 0; i < s->n; i++)
        total += s->units[i]->n_deps + _NS_MAX;
    size_t *off = calloc(s->n + 1, sizeof(size_t));
    size_t *adj = calloc(total ? total : 1, sizeof(size_t));
    if (!off || !adj) {
        free(off);
        free(adj);
        return -ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct unit *u = s->units[i];
        off[i] = n;
        if (u->kind != UNIT_CONTAINER)
            continue;
        size_t t;
        for (size_t k = 0; k < u->n_deps; k++)
            if (find_kind(c, u->deps[k].name, UNIT_CONTAINER, &t))
                adj[n++] = t;
        for (int k = 0; k < _NS_MAX; k++)
            if (u->ns[k].mode == NS_CONTAINER && u->ns[k].target &&
                    find_kind(c, u->ns[k].target, UNIT_CONTAINER, &t) && t != i)
                adj[n++] = t;
    }
    off[s->n] = n;
    *ret_off = off;
    *ret_adj = adj;
    return 0;
}

static void report_cycle(struct cctx *c, const size_t *stack, size_t sp, size_t v)
{
    const struct unit_set *s = c->s;
    char path[1024] = "", kp[300] = "";
    size_t k = 0;
    while (stack[k] != v)
        k++;
    for (size_t j = k; j <= sp; j++) {
        strncat(path, s->units[stack[j]]->name, sizeof(path) - strlen(path) - 1);
        strncat(path, " -> ", sizeof(path) - strlen(path) - 1);
    }
    strncat(path, s->units[v]->name, sizeof(path) - strlen(path) - 1);
    /* Point at the edge that closes the cycle, in the unit on top of the stack. */
    const struct unit *from = s->units[stack[sp]];
    const char *to = s->units[v]->name;
    for (size_t i = 0; i < from->n_deps && !kp[0]; i++)
        if (STREQ(from->deps[i].name, to))
            dep_kp(from, i, kp, sizeof(kp));
    for (int i = 0; i < _NS_MAX && !kp[0]; i++)
        if (from->ns[i].mode == NS_CONTAINER && from->ns[i].target &&
                STREQ(from->ns[i].target, to))
            snprintf(kp, sizeof(kp), "namespaces.%s", ns_type_name((enum ns_type)i));
    cerr(c, from, kp[0] ? kp : NULL, "dependency cycle: %s", path);
}

/* Iterative DFS (no recursion on user-controlled depth); one report per back edge. */
static int find_cycles(struct cctx *c)
{
    size_t n = c->s->n, *off = NULL, *adj = NULL;
    int r = build_graph(c, &off, &adj);
    if (r < 0)
        return r;
    unsigned char *color = calloc(n ? n : 1, 1);
    size_t *stack = calloc(n + 1, sizeof(size_t));
    size_t *next = calloc(n + 1, sizeof(size_t));
    if (!color || !stack || !next) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t root = 0; root < n; root++) {
        if (color[root] != WHITE)
            continue;
        size_t sp = 0;
        stack[0] = root;
        next[0] = off[root];
        color[root] = GREY;
        for (;;) {
            size_t u = stack[sp];
            if (next[sp] < off[u + 1]) {
                size_t v = adj[next[sp]++];
                if (color[v] == GREY) {
                    report_cycle(c, stack, sp, v);
                } else if (color[v] == WHITE) {
                    color[v] = GREY;
                    stack[++sp] = v;
                    next[sp] = off[v];
                }
            } else {
                color[u] = BLACK;
                if (sp == 0)
                    break;
                sp--;
            }
        }
    }
out:
    free(color);
    free(stack);
    free(next);
    free(off);
    free(adj);
    return r;
}

int unit_check_set(const struct unit_set *s, struct diags *d)
{
    struct cctx c = {.s = s, .d = d};
    c.names = calloc(s->n ? s->n : 1, sizeof(*c.names));
    if (!c.names) {
        diags_add(d, NULL, 0, 0, "checking units: out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < s->n; i++)
        c.names[c.n_names++] = (struct name_ent){s->units[i]->name, s->units[i]->kind, i};
    qsort(c.names, c.n_names, sizeof(*c.names), name_cmp);

    check_names(&c);
    check_names_across_kinds(&c);
    check_networks(&c);
    int r = check_refs(&c);
    if (r == 0)
        r = find_cycles(&c);
    free(c.names);
    if (r < 0) {
        diags_add(d, NULL, 0, 0, "checking units: out of memory");
        return r;
    }
    return c.nerr ? -EINVAL : 0;
}

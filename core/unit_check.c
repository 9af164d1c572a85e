/* Set-level checks over parsed units (pure): names, references, cycles, addresses. Every
 * error points at the key that causes it, using the positions unit_parse recorded. */
#include "unit_parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void cerr(struct diags *d, const struct unit *u, const char *kp, int *nerr,
        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void cerr(struct diags *d, const struct unit *u, const char *kp, int *nerr,
        const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct unit_pos p = kp ? unit_pos_of(u, kp) : (struct unit_pos){0, 0};
    if (p.line == 0)
        p = (struct unit_pos){1, 1};
    diags_add(d, u->path, p.line, p.col, "%s", msg);
    (*nerr)++;
}

static const char *kind_name(enum unit_kind k)
{
    return k == UNIT_NETWORK ? "network" : "container";
}

static struct unit *find_kind(const struct unit_set *s, const char *name, enum unit_kind k)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->units[i]->kind == k && STREQ(s->units[i]->name, name))
            return s->units[i];
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

enum { WHITE, GREY, BLACK };

/* Edges of the start-order graph: depends_on and namespaces container:NAME. */
static size_t edges(const struct unit_set *s, const struct unit *u, struct unit **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < u->n_deps && n < max; i++) {
        struct unit *t = find_kind(s, u->deps[i].name, UNIT_CONTAINER);
        if (t)
            out[n++] = t;
    }
    for (int i = 0; i < _NS_MAX && n < max; i++)
        if (u->ns[i].mode == NS_CONTAINER && u->ns[i].target) {
            struct unit *t = find_kind(s, u->ns[i].target, UNIT_CONTAINER);
            if (t && t != u)
                out[n++] = t;
        }
    return n;
}

static size_t index_of(const struct unit_set *s, const struct unit *u)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->units[i] == u)
            return i;
    return 0;
}

/* Iterative DFS (the set can be large; no recursion on user-controlled depth). */
static void find_cycles(const struct unit_set *s, struct diags *d, int *nerr)
{
    size_t n = s->n;
    unsigned char *color = calloc(n, 1);
    size_t *stack = calloc(n + 1, sizeof(size_t));
    size_t *next = calloc(n + 1, sizeof(size_t));
    if (!color || !stack || !next)
        goto out;
    for (size_t root = 0; root < n; root++) {
        if (color[root] != WHITE || s->units[root]->kind != UNIT_CONTAINER)
            continue;
        size_t sp = 0;
        stack[sp] = root;
        next[sp] = 0;
        color[root] = GREY;
        while (true) {
            struct unit *u = s->units[stack[sp]];
            struct unit *adj[256 + _NS_MAX];
            size_t na = edges(s, u, adj, ARRAY_SIZE(adj));
            if (next[sp] < na) {
                size_t v = index_of(s, adj[next[sp]++]);
                if (color[v] == GREY) {
                    /* Cycle: from v on the stack to the top, back to v. */
                    char path[1024] = "";
                    size_t k = 0;
                    while (stack[k] != v)
                        k++;
                    for (size_t j = k; j <= sp; j++) {
                        strncat(path, s->units[stack[j]]->name, sizeof(path) - strlen(path) - 1);
                        strncat(path, " -> ", sizeof(path) - strlen(path) - 1);
                    }
                    strncat(path, s->units[v]->name, sizeof(path) - strlen(path) - 1);
                    char kp[300];
                    const struct unit *from = u;
                    kp[0] = '\0';
                    for (size_t i = 0; i < from->n_deps; i++)
                        if (STREQ(from->deps[i].name, s->units[v]->name))
                            dep_kp(from, i, kp, sizeof(kp));
                    if (!kp[0])
                        for (int i = 0; i < _NS_MAX; i++)
                            if (from->ns[i].mode == NS_CONTAINER && from->ns[i].target &&
                                    STREQ(from->ns[i].target, s->units[v]->name))
                                snprintf(kp, sizeof(kp), "namespaces.%s",
                                        ns_type_name((enum ns_type)i));
                    cerr(d, from, kp, nerr, "dependency cycle: %s", path);
                } else if (color[v] == WHITE) {
                    color[v] = GREY;
                    sp++;
                    stack[sp] = v;
                    next[sp] = 0;
                }
            } else {
                color[stack[sp]] = BLACK;
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
}

int unit_check_set(const struct unit_set *s, struct diags *d)
{
    int nerr = 0;
    char kp[300];

    /* Duplicate names (per kind) and bridges. */
    for (size_t i = 0; i < s->n; i++) {
        const struct unit *u = s->units[i];
        for (size_t j = 0; j < i; j++) {
            const struct unit *o = s->units[j];
            if (o->kind == u->kind && STREQ(o->name, u->name)) {
                struct unit_pos p = unit_pos_of(o, "name");
                cerr(d, u, "name", &nerr, "duplicate %s name '%s' (also defined in %s:%d:%d)",
                        kind_name(u->kind), u->name, o->path, p.line ? p.line : 1,
                        p.col ? p.col : 1);
                break;
            }
            if (o->kind == UNIT_NETWORK && u->kind == UNIT_NETWORK && o->bridge && u->bridge &&
                    STREQ(o->bridge, u->bridge))
                cerr(d, u, "bridge", &nerr, "bridge '%s' is also used by network '%s' (%s)",
                        u->bridge, o->name, o->path);
            if (o->kind == UNIT_NETWORK && u->kind == UNIT_NETWORK && o->prefix_len &&
                    u->prefix_len) {
                unsigned pl = o->prefix_len < u->prefix_len ? o->prefix_len : u->prefix_len;
                uint32_t m = mask_of(pl);
                if ((ntohl(o->subnet.s_addr) & m) == (ntohl(u->subnet.s_addr) & m)) {
                    char a[INET_ADDRSTRLEN];
                    cerr(d, u, "subnet", &nerr,
                            "subnet overlaps network '%s' (%s/%u in %s)", o->name,
                            inet_ntop(AF_INET, &o->subnet, a, sizeof(a)), o->prefix_len, o->path);
                }
            }
        }
    }

    /* References. */
    for (size_t i = 0; i < s->n; i++) {
        const struct unit *u = s->units[i];
        if (u->kind != UNIT_CONTAINER)
            continue;
        for (size_t k = 0; k < u->n_networks; k++) {
            const struct net_attach *na = &u->networks[k];
            const struct unit *net = find_kind(s, na->name, UNIT_NETWORK);
            if (!net) {
                net_kp(u, k, "name", kp, sizeof(kp));
                cerr(d, u, kp, &nerr, "network '%s' is not defined (no unit with kind: network "
                                      "and that name)", na->name);
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
                cerr(d, u, kp, &nerr, "address %s is outside network '%s' (%s/%u)", na->address,
                        net->name, sb, net->prefix_len);
            } else if (h == sn || h == (sn | ~m)) {
                cerr(d, u, kp, &nerr, "address %s is the network or broadcast address of '%s'",
                        na->address, net->name);
            } else if (a.s_addr == net->gateway.s_addr) {
                cerr(d, u, kp, &nerr, "address %s is the gateway of network '%s'", na->address,
                        net->name);
            } else {
                /* Same static address on the same network in an earlier unit. */
                for (size_t j = 0; j < i; j++) {
                    const struct unit *o = s->units[j];
                    if (o->kind != UNIT_CONTAINER)
                        continue;
                    for (size_t l = 0; l < o->n_networks; l++)
                        if (o->networks[l].address && STREQ(o->networks[l].name, na->name) &&
                                STREQ(o->networks[l].address, na->address))
                            cerr(d, u, kp, &nerr,
                                    "address %s on network '%s' is also used by '%s' (%s)",
                                    na->address, na->name, o->name, o->path);
                }
            }
        }
        for (size_t k = 0; k < u->n_deps; k++)
            if (!find_kind(s, u->deps[k].name, UNIT_CONTAINER)) {
                dep_kp(u, k, kp, sizeof(kp));
                cerr(d, u, kp, &nerr, "depends on '%s', which is not defined",
                        u->deps[k].name);
            }
        for (int k = 0; k < _NS_MAX; k++) {
            if (u->ns[k].mode != NS_CONTAINER || !u->ns[k].target)
                continue;
            snprintf(kp, sizeof(kp), "namespaces.%s", ns_type_name((enum ns_type)k));
            if (STREQ(u->ns[k].target, u->name))
                cerr(d, u, kp, &nerr, "a container cannot join its own namespace");
            else if (!find_kind(s, u->ns[k].target, UNIT_CONTAINER))
                cerr(d, u, kp, &nerr, "container '%s' (to join its %s namespace) is not defined",
                        u->ns[k].target, ns_type_name((enum ns_type)k));
        }
    }

    find_cycles(s, d, &nerr);
    return nerr ? -EINVAL : 0;
}

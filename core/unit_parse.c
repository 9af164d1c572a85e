/* Node tree (yaml_load.c) -> struct unit. Strict: every key known, every value checked,
 * every error reported (FILE:LINE:COLUMN) before giving up on the unit. No I/O here. */
#include "unit_parse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <sys/capability.h>

#include "util.h"
#include "yaml_load.h"

/* ---- diagnostics ---- */

void diags_add(struct diags *d, const char *file, int line, int col, const char *fmt, ...)
{
    if (!d)
        return;
    if (d->n >= UNIT_DIAGS_MAX) {
        d->n_dropped++;
        return;
    }
    struct diag *nv = realloc(d->v, (d->n + 1) * sizeof(*nv));
    if (!nv) {
        d->n_dropped++;
        return;
    }
    d->v = nv;
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (!msg) {
        d->n_dropped++;
        return;
    }
    /* Messages quote user input: keep terminal control characters out of them. */
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    d->v[d->n++] = (struct diag){.file = file ? strdup(file) : NULL, .line = line, .col = col,
            .msg = msg};
}

size_t diags_count(const struct diags *d)
{
    return d ? d->n + d->n_dropped : 0;
}

void diags_sort(struct diags *d)
{
    /* Insertion sort: stable, and lists are short (<= UNIT_DIAGS_MAX). */
    for (size_t i = 1; i < d->n; i++) {
        struct diag t = d->v[i];
        size_t j = i;
        while (j > 0) {
            const struct diag *p = &d->v[j - 1];
            int c = strcmp(p->file ? p->file : "", t.file ? t.file : "");
            if (c == 0)
                c = p->line != t.line ? (p->line < t.line ? -1 : 1)
                                      : (p->col != t.col ? (p->col < t.col ? -1 : 1) : 0);
            if (c <= 0)
                break;
            d->v[j] = d->v[j - 1];
            j--;
        }
        d->v[j] = t;
    }
}

void diags_print(FILE *f, const struct diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct diag *g = &d->v[i];
        if (g->file && g->line > 0)
            fprintf(f, "%s:%d:%d: error: %s\n", g->file, g->line, g->col, g->msg);
        else if (g->file)
            fprintf(f, "%s: error: %s\n", g->file, g->msg);
        else
            fprintf(f, "error: %s\n", g->msg);
    }
    if (d->n_dropped)
        fprintf(f, "error: %zu more errors not shown\n", d->n_dropped);
}

void diags_clear(struct diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].file);
        free(d->v[i].msg);
    }
    free(d->v);
    d->v = NULL;
    d->n = 0;
    d->n_dropped = 0;
}

/* ---- names: capabilities, signals ---- */

const char *unit_cap_canonical(const char *s)
{
    static char names[CAP_LAST_CAP + 64][32];
    char buf[40];
    size_t i = 0;

    if (!s)
        return NULL;
    if (strncasecmp(s, "CAP_", 4) == 0)
        s += 4;
    if (strcasecmp(s, "ALL") == 0)
        return "ALL";
    if (!*s || strlen(s) > 30)
        return NULL;
    for (const char *p = s; *p; p++)
        if (!isalpha((unsigned char)*p) && *p != '_')
            return NULL; /* no numbers: cap_from_name would take "12" */
    memcpy(buf, "cap_", 4);
    for (i = 0; s[i]; i++)
        buf[4 + i] = (char)tolower((unsigned char)s[i]);
    buf[4 + i] = '\0';
    cap_value_t v;
    if (cap_from_name(buf, &v) < 0 || v < 0 || (size_t)v >= ARRAY_SIZE(names))
        return NULL;
    if (!names[v][0]) {
        for (i = 0; s[i] && i < sizeof(names[v]) - 1; i++)
            names[v][i] = (char)toupper((unsigned char)s[i]);
        names[v][i] = '\0';
    }
    return names[v];
}

const char *unit_signal_name(int sig)
{
    static char names[NSIG][16];
    if (sig <= 0 || sig >= NSIG)
        return NULL;
    const char *a = sigabbrev_np(sig);
    if (!a)
        return NULL;
    if (!names[sig][0])
        snprintf(names[sig], sizeof(names[sig]), "SIG%s", a);
    return names[sig];
}

int unit_signal_parse(const char *s)
{
    if (!s || !*s)
        return -1;
    if (isdigit((unsigned char)*s)) {
        uint64_t v;
        if (parse_uint64(s, &v) < 0 || v == 0 || v >= NSIG)
            return -1;
        return (int)v;
    }
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    for (int i = 1; i < SIGRTMIN; i++) {
        const char *a = sigabbrev_np(i);
        if (a && strcasecmp(a, s) == 0)
            return i;
    }
    return -1;
}

/* ---- parse context ---- */

struct pctx {
    const char *path;
    struct diags *d;
    struct unit *u;
    int errors;
    bool oom;
};

#define KP_MAX 256

__attribute__((format(printf, 3, 4))) static void perr(struct pctx *c, const struct ynode *n,
        const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    diags_add(c->d, c->path, n ? n->line : 1, n ? n->col : 1, "%s", msg);
    c->errors++;
}

static void loc_add(struct pctx *c, const char *kp, const struct ynode *n)
{
    struct unit *u = c->u;
    if (!n)
        return;
    struct unit_loc *nl = realloc(u->locs, (u->n_locs + 1) * sizeof(*nl));
    if (!nl) {
        c->oom = true;
        return;
    }
    u->locs = nl;
    char *p = strdup(kp);
    if (!p) {
        c->oom = true;
        return;
    }
    u->locs[u->n_locs++] = (struct unit_loc){.path = p, .pos = {n->line, n->col}};
}

static void kp_join(char *out, const char *kp, const char *key)
{
    if (kp && *kp)
        snprintf(out, KP_MAX, "%s.%s", kp, key);
    else
        snprintf(out, KP_MAX, "%s", key);
}

static void kp_index(char *out, const char *kp, size_t i)
{
    snprintf(out, KP_MAX, "%s[%zu]", kp, i);
}

static const char *type_name(const struct ynode *n)
{
    if (!n || ynode_is_null(n))
        return "nothing (null)";
    switch (n->type) {
    case YN_SEQ: return "a list";
    case YN_MAP: return "a mapping";
    default: return "a scalar";
    }
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return SIZE_MAX;
    size_t prev[41], cur[41];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (tolower((unsigned char)a[i - 1]) !=
                                        tolower((unsigned char)b[j - 1]));
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(prev));
    }
    return prev[lb];
}

/* Nearest of cands to s, if close enough to be a plausible typo. */
static const char *suggest(const char *s, const char *const *cands)
{
    const char *best = NULL;
    size_t bd = SIZE_MAX;
    for (size_t i = 0; cands[i]; i++) {
        size_t dd = edit_distance(s, cands[i]);
        if (dd < bd) {
            bd = dd;
            best = cands[i];
        }
    }
    size_t len = strlen(s);
    size_t limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
    return bd <= limit ? best : NULL;
}

static void err_unknown_value(struct pctx *c, const struct ynode *n, const char *kp,
        const char *what, const char *const *cands)
{
    const char *sug = suggest(n->str, cands);
    char list[512] = "";
    for (size_t i = 0; cands[i]; i++) {
        if (i)
            strncat(list, ", ", sizeof(list) - strlen(list) - 1);
        strncat(list, cands[i], sizeof(list) - strlen(list) - 1);
    }
    if (sug)
        perr(c, n, "'%s': unknown %s '%.64s'; did you mean '%s'?", kp, what, n->str, sug);
    else
        perr(c, n, "'%s': unknown %s '%.64s' (expected one of: %s)", kp, what, n->str, list);
}

/* Keys people bring from docker compose or systemd, mapped to ours (top level only). */
static const char *compose_hint(const char *key, const char *const *keys)
{
    static const struct {
        const char *from, *to;
    } hints[] = {
            {"environment", "env"}, {"working_dir", "workdir"}, {"workingdir", "workdir"},
            {"entrypoint", "command"}, {"cmd", "command"}, {"volumes", "mounts"},
            {"tmpfs", "mounts"}, {"healthcheck", "health"}, {"network_mode", "namespaces"},
            {"pid", "namespaces"}, {"ipc", "namespaces"}, {"cap_add", "security"},
            {"cap_drop", "security"}, {"security_opt", "security"}, {"privileged", "security"},
            {"read_only", "security"}, {"ulimits", "security"}, {"sysctls", "security"},
            {"mem_limit", "resources"}, {"cpus", "resources"}, {"pids_limit", "resources"},
            {"deploy", "resources"}, {"stop_signal", "stop"}, {"stop_grace_period", "stop"},
            {"container_name", "name"}, {"domainname", "hostname"}, {"dns_servers", "dns"},
            {"devices", "resources"}, {"network", "networks"}, {"depends", "depends_on"},
            {"after", "depends_on"}, {"requires", "depends_on"}, {"image_name", "image"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(hints); i++)
        if (STREQ(hints[i].from, key))
            for (size_t j = 0; keys[j]; j++)
                if (STREQ(keys[j], hints[i].to))
                    return keys[j];
    return NULL;
}

/* Checks that n is a mapping whose keys are all in keys[]; reports the others. */
static bool expect_map(struct pctx *c, const struct ynode *n, const char *kp,
        const char *const *keys)
{
    if (!n || n->type != YN_MAP) {
        if (kp && *kp && n && n->type == YN_SCALAR && !ynode_is_null(n))
            perr(c, n, "'%s': expected a mapping ({key: value, ...}), got '%.64s'", kp, n->str);
        else if (kp && *kp)
            perr(c, n, "'%s': expected a mapping, got %s", kp, type_name(n));
        else
            perr(c, n, "a unit file must be a mapping of keys, got %s", type_name(n));
        return false;
    }
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *k = n->items[2 * i];
        if (k->type != YN_SCALAR)
            continue; /* already reported by yaml_load */
        bool known = false;
        for (size_t j = 0; keys[j]; j++)
            if (STREQ(keys[j], k->str)) {
                known = true;
                break;
            }
        if (known)
            continue;
        const char *sug = suggest(k->str, keys);
        const char *in = kp && *kp ? kp : NULL;
        if (!sug && !in)
            sug = compose_hint(k->str, keys);
        if (sug && in)
            perr(c, k, "unknown key '%.64s' in '%s'; did you mean '%s'?", k->str, in, sug);
        else if (sug)
            perr(c, k, "unknown key '%.64s'; did you mean '%s'?", k->str, sug);
        else if (in)
            perr(c, k, "unknown key '%.64s' in '%s'", k->str, in);
        else
            perr(c, k, "unknown key '%.64s'", k->str);
    }
    return true;
}

/* Value of key in map m (or NULL); records the position under kp.key. */
static const struct ynode *mget(struct pctx *c, const struct ynode *m, const char *kp,
        const char *key)
{
    if (!m || m->type != YN_MAP)
        return NULL;
    for (size_t i = 0; i < m->n; i++) {
        const struct ynode *k = m->items[2 * i];
        if (k->type == YN_SCALAR && STREQ(k->str, key)) {
            const struct ynode *v = m->items[2 * i + 1];
            char p[KP_MAX];
            kp_join(p, kp, key);
            loc_add(c, p, v && v->type == YN_SCALAR ? v : k);
            return v;
        }
    }
    return NULL;
}

static bool is_scalar(struct pctx *c, const struct ynode *n, const char *kp, const char *what)
{
    if (!n || n->type != YN_SCALAR || ynode_is_null(n)) {
        perr(c, n, "'%s': expected %s, got %s", kp, what, type_name(n));
        return false;
    }
    return true;
}

static bool get_str(struct pctx *c, const struct ynode *n, const char *kp, char **out)
{
    if (!is_scalar(c, n, kp, "a string"))
        return false;
    free(*out);
    *out = strdup(n->str);
    if (!*out)
        c->oom = true;
    return *out != NULL;
}

static bool get_bool(struct pctx *c, const struct ynode *n, const char *kp, bool *out)
{
    if (!is_scalar(c, n, kp, "true or false"))
        return false;
    if (n->plain && (STREQ(n->str, "true") || STREQ(n->str, "True") || STREQ(n->str, "TRUE"))) {
        *out = true;
        return true;
    }
    if (n->plain && (STREQ(n->str, "false") || STREQ(n->str, "False") || STREQ(n->str, "FALSE"))) {
        *out = false;
        return true;
    }
    perr(c, n, "'%s': expected true or false, got '%.64s'", kp, n->str);
    return false;
}

static bool get_uint(struct pctx *c, const struct ynode *n, const char *kp, uint64_t min,
        uint64_t max, uint64_t *out)
{
    if (!is_scalar(c, n, kp, "an integer"))
        return false;
    uint64_t v;
    if (parse_uint64(n->str, &v) < 0) {
        perr(c, n, "'%s': expected an integer, got '%.64s'", kp, n->str);
        return false;
    }
    if (v < min || v > max) {
        perr(c, n, "'%s': %" PRIu64 " is out of range (%" PRIu64 "..%" PRIu64 ")", kp, v, min, max);
        return false;
    }
    *out = v;
    return true;
}

static bool get_size(struct pctx *c, const struct ynode *n, const char *kp, uint64_t *out)
{
    if (!is_scalar(c, n, kp, "a size"))
        return false;
    uint64_t v;
    int r = parse_size(n->str, &v);
    if (r == -ERANGE || (r == 0 && v > (UINT64_C(1) << 62))) {
        perr(c, n, "'%s': size '%.64s' is too large", kp, n->str);
        return false;
    }
    if (r < 0) {
        perr(c, n, "'%s': invalid size '%.64s' (expected bytes or a number with K, M, G or T, "
                   "like 256M)",
                kp, n->str);
        return false;
    }
    *out = v;
    return true;
}

static bool get_duration(struct pctx *c, const struct ynode *n, const char *kp, uint64_t *out)
{
    if (!is_scalar(c, n, kp, "a duration"))
        return false;
    uint64_t v;
    int r = parse_duration_ms(n->str, &v);
    if (r == -ERANGE || (r == 0 && v > 365ULL * 86400 * 1000)) {
        perr(c, n, "'%s': duration '%.64s' is too long (at most 365d)", kp, n->str);
        return false;
    }
    if (r < 0) {
        perr(c, n, "'%s': invalid duration '%.64s' (expected like 100ms, 5s, 1m30s, 2h)", kp,
                n->str);
        return false;
    }
    *out = v;
    return true;
}

static bool get_enum(struct pctx *c, const struct ynode *n, const char *kp, const char *what,
        const char *const *names, int *out)
{
    if (!is_scalar(c, n, kp, what))
        return false;
    for (int i = 0; names[i]; i++)
        if (STREQ(names[i], n->str)) {
            *out = i;
            return true;
        }
    err_unknown_value(c, n, kp, what, names);
    return false;
}

/* A list of strings (each non-empty unless allow_empty). */
static bool get_strv(struct pctx *c, const struct ynode *n, const char *kp, bool allow_empty_list,
        char ***out)
{
    if (!n || n->type != YN_SEQ) {
        perr(c, n, "'%s': expected a list of strings, got %s", kp, type_name(n));
        return false;
    }
    if (n->n == 0 && !allow_empty_list) {
        perr(c, n, "'%s': the list must not be empty", kp);
        return false;
    }
    char **v = calloc(n->n + 1, sizeof(char *));
    if (!v) {
        c->oom = true;
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < n->n; i++) {
        char p[KP_MAX];
        kp_index(p, kp, i);
        if (!is_scalar(c, n->items[i], p, "a string")) {
            ok = false;
            continue;
        }
        v[i] = strdup(n->items[i]->str);
        if (!v[i]) {
            c->oom = true;
            ok = false;
            break;
        }
    }
    if (!ok) {
        /* free what was set (holes possible) */
        for (size_t i = 0; i < n->n; i++)
            free(v[i]);
        free(v);
        return false;
    }
    strv_free(*out);
    *out = v;
    return true;
}

static bool valid_name(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > UNIT_NAME_MAX)
        return false;
    if (!(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
        return false;
    for (const char *p = s; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' ||
                    *p == '.' || *p == '-'))
            return false;
    return true;
}

static bool check_name(struct pctx *c, const struct ynode *n, const char *kp, const char *s)
{
    if (valid_name(s))
        return true;
    perr(c, n, "'%s': invalid name '%.64s' (use [a-z0-9][a-z0-9_.-]*, at most %d characters)",
            kp, s, UNIT_NAME_MAX);
    return false;
}

static bool abs_path_ok(const char *s)
{
    if (s[0] != '/')
        return false;
    /* No ".." components: targets are resolved inside the container root. */
    for (const char *p = s; (p = strstr(p, "..")); p += 2)
        if ((p == s || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
            return false;
    return true;
}

static bool get_abs_path(struct pctx *c, const struct ynode *n, const char *kp, char **out)
{
    if (!is_scalar(c, n, kp, "an absolute path"))
        return false;
    if (!abs_path_ok(n->str)) {
        perr(c, n, "'%s': expected an absolute path without '..', got '%.64s'", kp, n->str);
        return false;
    }
    return get_str(c, n, kp, out);
}

static bool parse_ipv4(const char *s, struct in_addr *out)
{
    return inet_pton(AF_INET, s, out) == 1;
}

/* ---- sections ---- */

static const char *const ns_keys[] = {"pid", "net", "ipc", "uts", "cgroup", "user", "time", NULL};
static const enum ns_type ns_key_types[] = {NS_PID, NS_NET, NS_IPC, NS_UTS, NS_CGROUP, NS_USER,
        NS_TIME};

static void parse_namespaces(struct pctx *c, const struct ynode *m, const char *kp)
{
    if (!expect_map(c, m, kp, ns_keys))
        return;
    for (size_t i = 0; ns_keys[i]; i++) {
        char p[KP_MAX];
        kp_join(p, kp, ns_keys[i]);
        const struct ynode *v = mget(c, m, kp, ns_keys[i]);
        if (!v)
            continue;
        if (!is_scalar(c, v, p, "private, host or container:NAME"))
            continue;
        struct ns_spec *ns = &c->u->ns[ns_key_types[i]];
        if (STREQ(v->str, "private")) {
            ns->mode = NS_PRIVATE;
        } else if (STREQ(v->str, "host")) {
            ns->mode = NS_HOST;
        } else if (STREQ(v->str, "none") && ns_key_types[i] == NS_NET) {
            ns->mode = NS_NONE;
        } else if (strncmp(v->str, "container:", 10) == 0) {
            if (!check_name(c, v, p, v->str + 10))
                continue;
            ns->mode = NS_CONTAINER;
            free(ns->target);
            ns->target = strdup(v->str + 10);
            if (!ns->target)
                c->oom = true;
        } else {
            perr(c, v, "'%s': expected private, host%s or container:NAME, got '%.64s'", p,
                    ns_key_types[i] == NS_NET ? ", none" : "", v->str);
        }
    }
}

static void parse_networks(struct pctx *c, const struct ynode *n, const char *kp)
{
    struct unit *u = c->u;
    if (!n || n->type != YN_SEQ) {
        perr(c, n, "'%s': expected a list of network names or {name, address}, got %s", kp,
                type_name(n));
        return;
    }
    u->networks = calloc(n->n ? n->n : 1, sizeof(*u->networks));
    if (!u->networks) {
        c->oom = true;
        return;
    }
    static const char *const keys[] = {"name", "address", NULL};
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *it = n->items[i];
        char p[KP_MAX], pn[KP_MAX];
        kp_index(p, kp, i);
        loc_add(c, p, it);
        struct net_attach *na = &u->networks[u->n_networks];
        const struct ynode *namen = it;
        if (it->type == YN_MAP) {
            if (!expect_map(c, it, p, keys))
                continue;
            namen = mget(c, it, p, "name");
            kp_join(pn, p, "name");
            if (!namen) {
                perr(c, it, "'%s': missing 'name'", p);
                continue;
            }
            const struct ynode *addr = mget(c, it, p, "address");
            if (addr) {
                char pa[KP_MAX];
                kp_join(pa, p, "address");
                struct in_addr a;
                if (get_str(c, addr, pa, &na->address) && !parse_ipv4(addr->str, &a)) {
                    perr(c, addr, "'%s': invalid IPv4 address '%.64s'", pa, addr->str);
                }
            }
        } else {
            snprintf(pn, sizeof(pn), "%s", p);
        }
        if (!get_str(c, namen, pn, &na->name) || !check_name(c, namen, pn, na->name)) {
            free(na->name);
            free(na->address);
            *na = (struct net_attach){0};
            continue;
        }
        for (size_t j = 0; j < u->n_networks; j++)
            if (STREQ(u->networks[j].name, na->name)) {
                perr(c, namen, "'%s': network '%s' is listed twice", pn, na->name);
                break;
            }
        u->n_networks++;
    }
}

static void parse_mounts(struct pctx *c, const struct ynode *n, const char *kp)
{
    struct unit *u = c->u;
    if (!n || n->type != YN_SEQ) {
        perr(c, n, "'%s': expected a list of mounts, got %s", kp, type_name(n));
        return;
    }
    u->mounts = calloc(n->n ? n->n : 1, sizeof(*u->mounts));
    if (!u->mounts) {
        c->oom = true;
        return;
    }
    static const char *const keys[] = {"type", "source", "target", "readonly", "size", "mode",
            "recursive", NULL};
    static const char *const types[] = {"bind", "tmpfs", NULL};
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *it = n->items[i];
        char p[KP_MAX], q[KP_MAX];
        kp_index(p, kp, i);
        loc_add(c, p, it);
        if (!expect_map(c, it, p, keys))
            continue;
        struct mount_spec *ms = &u->mounts[u->n_mounts++];
        ms->size = UNIT_UNSET;
        ms->recursive = true;
        int t = -1;
        const struct ynode *v = mget(c, it, p, "type");
        kp_join(q, p, "type");
        if (!v) {
            perr(c, it, "'%s': missing 'type' (bind or tmpfs)", p);
            continue;
        }
        if (!get_enum(c, v, q, "mount type", types, &t))
            continue;
        ms->type = (enum mount_type)t;
        if ((v = mget(c, it, p, "target"))) {
            kp_join(q, p, "target");
            get_abs_path(c, v, q, &ms->target);
            if (ms->target && STREQ(ms->target, "/"))
                perr(c, v, "'%s': cannot mount over the container's root", q);
        } else {
            perr(c, it, "'%s': missing 'target'", p);
        }
        if ((v = mget(c, it, p, "readonly"))) {
            kp_join(q, p, "readonly");
            get_bool(c, v, q, &ms->readonly);
        }
        if (ms->type == MOUNT_BIND) {
            if ((v = mget(c, it, p, "source"))) {
                kp_join(q, p, "source");
                get_abs_path(c, v, q, &ms->source);
            } else {
                perr(c, it, "'%s': a bind mount needs 'source'", p);
            }
            if ((v = mget(c, it, p, "recursive"))) {
                kp_join(q, p, "recursive");
                get_bool(c, v, q, &ms->recursive);
            }
            if ((v = mget(c, it, p, "size")))
                perr(c, v, "'%s': 'size' applies only to tmpfs mounts", p);
            if ((v = mget(c, it, p, "mode")))
                perr(c, v, "'%s': 'mode' applies only to tmpfs mounts", p);
        } else {
            ms->mode = 01777;
            if ((v = mget(c, it, p, "source")))
                perr(c, v, "'%s': a tmpfs mount takes no 'source'", p);
            if ((v = mget(c, it, p, "recursive")))
                perr(c, v, "'%s': 'recursive' applies only to bind mounts", p);
            if ((v = mget(c, it, p, "size"))) {
                kp_join(q, p, "size");
                if (get_size(c, v, q, &ms->size) && ms->size == 0)
                    perr(c, v, "'%s': size must be greater than 0", q);
            }
            if ((v = mget(c, it, p, "mode"))) {
                kp_join(q, p, "mode");
                if (is_scalar(c, v, q, "an octal mode")) {
                    char *end;
                    errno = 0;
                    unsigned long m = strtoul(v->str, &end, 8);
                    if (!isdigit((unsigned char)v->str[0]) || *end || errno || m > 07777)
                        perr(c, v, "'%s': invalid octal mode '%.64s' (like 1777 or 0755)", q,
                                v->str);
                    else
                        ms->mode = (uint32_t)m;
                }
            }
        }
        for (size_t j = 0; j + 1 < u->n_mounts && ms->target; j++)
            if (u->mounts[j].target && STREQ(u->mounts[j].target, ms->target)) {
                perr(c, it, "'%s': target '%s' is mounted twice", p, ms->target);
                break;
            }
    }
}

static bool valid_cpuset(const char *s)
{
    /* "0-3,5,7-8": numbers, ranges with lo <= hi, comma separated. */
    const char *p = s;
    if (!*p)
        return false;
    for (;;) {
        char *end;
        if (!isdigit((unsigned char)*p))
            return false;
        unsigned long lo = strtoul(p, &end, 10), hi = lo;
        p = end;
        if (*p == '-') {
            p++;
            if (!isdigit((unsigned char)*p))
                return false;
            hi = strtoul(p, &end, 10);
            p = end;
        }
        if (lo > hi || hi > 8192)
            return false;
        if (*p == '\0')
            return true;
        if (*p != ',')
            return false;
        p++;
    }
}

static void parse_resources(struct pctx *c, const struct ynode *m, const char *kp)
{
    struct resources *r = &c->u->res;
    static const char *const keys[] = {"memory", "cpu", "pids", "io", "devices", "hugetlb", NULL};
    if (!expect_map(c, m, kp, keys))
        return;
    const struct ynode *v, *s;
    char p[KP_MAX], q[KP_MAX];

    if ((s = mget(c, m, kp, "memory"))) {
        static const char *const mk[] = {"max", "high", "low", "min", "swap_max", "oom_group",
                NULL};
        kp_join(p, kp, "memory");
        if (expect_map(c, s, p, mk)) {
            uint64_t *dst[] = {&r->mem_max, &r->mem_high, &r->mem_low, &r->mem_min,
                    &r->mem_swap_max};
            for (size_t i = 0; i < 5; i++)
                if ((v = mget(c, s, p, mk[i]))) {
                    kp_join(q, p, mk[i]);
                    get_size(c, v, q, dst[i]);
                }
            if ((v = mget(c, s, p, "oom_group"))) {
                bool b;
                kp_join(q, p, "oom_group");
                if (get_bool(c, v, q, &b))
                    r->mem_oom_group = b;
            }
            if (r->mem_max != UNIT_UNSET && r->mem_max < 4096)
                perr(c, mget(c, s, p, "max"), "'%s.max': %" PRIu64 " bytes is too small (at least 4K)",
                        p, r->mem_max);
            if (r->mem_high != UNIT_UNSET && r->mem_max != UNIT_UNSET && r->mem_high > r->mem_max)
                perr(c, mget(c, s, p, "high"), "'%s.high' is above '%s.max'", p, p);
            if (r->mem_low != UNIT_UNSET && r->mem_max != UNIT_UNSET && r->mem_low > r->mem_max)
                perr(c, mget(c, s, p, "low"), "'%s.low' is above '%s.max'", p, p);
            if (r->mem_min != UNIT_UNSET && r->mem_max != UNIT_UNSET && r->mem_min > r->mem_max)
                perr(c, mget(c, s, p, "min"), "'%s.min' is above '%s.max'", p, p);
        }
    }
    if ((s = mget(c, m, kp, "cpu"))) {
        static const char *const ck[] = {"weight", "max", "period", "cpus", "mems", NULL};
        kp_join(p, kp, "cpu");
        if (expect_map(c, s, p, ck)) {
            if ((v = mget(c, s, p, "weight"))) {
                kp_join(q, p, "weight");
                get_uint(c, v, q, 1, 10000, &r->cpu_weight);
            }
            if ((v = mget(c, s, p, "max"))) {
                kp_join(q, p, "max");
                if (is_scalar(c, v, q, "a number of CPUs")) {
                    /* Parse "1.25" as milli-CPUs exactly, without floating point. */
                    const char *t = v->str;
                    uint64_t whole = 0, frac = 0;
                    int fd = 0;
                    bool ok = isdigit((unsigned char)*t);
                    while (ok && isdigit((unsigned char)*t) && whole < 100000)
                        whole = whole * 10 + (uint64_t)(*t++ - '0');
                    if (ok && *t == '.') {
                        t++;
                        ok = isdigit((unsigned char)*t);
                        while (ok && isdigit((unsigned char)*t)) {
                            if (fd < 3)
                                frac = frac * 10 + (uint64_t)(*t - '0'), fd++;
                            else if (*t != '0')
                                ok = false; /* finer than 1/1000 CPU */
                            t++;
                        }
                    }
                    while (fd < 3)
                        frac *= 10, fd++;
                    uint64_t milli = whole * 1000 + frac;
                    if (!ok || *t || whole >= 100000)
                        perr(c, v, "'%s': expected a number of CPUs like 0.5 or 2, got '%.64s'",
                                q, v->str);
                    else if (milli == 0)
                        perr(c, v, "'%s': must be greater than 0", q);
                    else
                        r->cpu_max_milli = milli;
                }
            }
            if ((v = mget(c, s, p, "period"))) {
                uint64_t ms;
                kp_join(q, p, "period");
                if (get_duration(c, v, q, &ms)) {
                    if (ms < 1 || ms > 1000)
                        perr(c, v, "'%s': must be between 1ms and 1s", q);
                    else
                        r->cpu_period_us = ms * 1000;
                }
            }
            if ((v = mget(c, s, p, "cpus"))) {
                kp_join(q, p, "cpus");
                if (get_str(c, v, q, &r->cpus) && !valid_cpuset(r->cpus))
                    perr(c, v, "'%s': invalid CPU list '%.64s' (like 0-1,3)", q, r->cpus);
            }
            if ((v = mget(c, s, p, "mems"))) {
                kp_join(q, p, "mems");
                if (get_str(c, v, q, &r->mems) && !valid_cpuset(r->mems))
                    perr(c, v, "'%s': invalid memory node list '%.64s' (like 0-1)", q, r->mems);
            }
        }
    }
    if ((s = mget(c, m, kp, "pids"))) {
        static const char *const pk[] = {"max", NULL};
        kp_join(p, kp, "pids");
        if (expect_map(c, s, p, pk) && (v = mget(c, s, p, "max"))) {
            kp_join(q, p, "max");
            get_uint(c, v, q, 1, 4194304, &r->pids_max);
        }
    }
    if ((s = mget(c, m, kp, "io"))) {
        static const char *const ik[] = {"weight", "max", NULL};
        kp_join(p, kp, "io");
        if (expect_map(c, s, p, ik)) {
            if ((v = mget(c, s, p, "weight"))) {
                kp_join(q, p, "weight");
                get_uint(c, v, q, 1, 10000, &r->io_weight);
            }
            if ((v = mget(c, s, p, "max"))) {
                kp_join(q, p, "max");
                if (v->type != YN_SEQ) {
                    perr(c, v, "'%s': expected a list of {device, rbps, wbps, riops, wiops}, got %s",
                            q, type_name(v));
                } else if (v->n) {
                    r->io_max = calloc(v->n, sizeof(*r->io_max));
                    if (!r->io_max)
                        c->oom = true;
                    static const char *const xk[] = {"device", "rbps", "wbps", "riops", "wiops",
                            NULL};
                    for (size_t i = 0; r->io_max && i < v->n; i++) {
                        char e[KP_MAX], f[KP_MAX];
                        const struct ynode *it = v->items[i], *w;
                        kp_index(e, q, i);
                        loc_add(c, e, it);
                        if (!expect_map(c, it, e, xk))
                            continue;
                        struct io_max *im = &r->io_max[r->n_io_max++];
                        im->rbps = im->wbps = im->riops = im->wiops = UNIT_UNSET;
                        if ((w = mget(c, it, e, "device"))) {
                            kp_join(f, e, "device");
                            unsigned maj, min;
                            char tail;
                            if (is_scalar(c, w, f, "MAJOR:MINOR") &&
                                    sscanf(w->str, "%u:%u%c", &maj, &min, &tail) != 2)
                                perr(c, w, "'%s': expected MAJOR:MINOR like 8:0, got '%.64s'", f,
                                        w->str);
                            else if (w->type == YN_SCALAR)
                                im->major = maj, im->minor = min;
                        } else {
                            perr(c, it, "'%s': missing 'device' (MAJOR:MINOR)", e);
                        }
                        uint64_t *dst[] = {&im->rbps, &im->wbps};
                        for (size_t j = 0; j < 2; j++)
                            if ((w = mget(c, it, e, xk[1 + j]))) {
                                kp_join(f, e, xk[1 + j]);
                                get_size(c, w, f, dst[j]);
                            }
                        uint64_t *dst2[] = {&im->riops, &im->wiops};
                        for (size_t j = 0; j < 2; j++)
                            if ((w = mget(c, it, e, xk[3 + j]))) {
                                kp_join(f, e, xk[3 + j]);
                                get_uint(c, w, f, 1, UINT32_MAX, dst2[j]);
                            }
                    }
                }
            }
        }
    }
    if ((s = mget(c, m, kp, "devices"))) {
        kp_join(p, kp, "devices");
        if (s->type != YN_SEQ) {
            perr(c, s, "'%s': expected a list of {path, access}, got %s", p, type_name(s));
        } else if (s->n) {
            static const char *const dk[] = {"path", "access", NULL};
            r->devices = calloc(s->n, sizeof(*r->devices));
            if (!r->devices)
                c->oom = true;
            for (size_t i = 0; r->devices && i < s->n; i++) {
                const struct ynode *it = s->items[i], *w;
                kp_index(q, p, i);
                loc_add(c, q, it);
                if (!expect_map(c, it, q, dk))
                    continue;
                struct device_rule *dr = &r->devices[r->n_devices++];
                strcpy(dr->access, "rwm");
                char f[KP_MAX];
                if ((w = mget(c, it, q, "path"))) {
                    kp_join(f, q, "path");
                    if (get_abs_path(c, w, f, &dr->path) && strncmp(dr->path, "/dev/", 5) != 0)
                        perr(c, w, "'%s': device path must be under /dev/, got '%.64s'", f,
                                dr->path);
                } else {
                    perr(c, it, "'%s': missing 'path'", q);
                }
                if ((w = mget(c, it, q, "access"))) {
                    kp_join(f, q, "access");
                    if (is_scalar(c, w, f, "a subset of rwm")) {
                        bool ok = w->len >= 1 && w->len <= 3;
                        for (size_t j = 0; ok && j < w->len; j++)
                            ok = strchr("rwm", w->str[j]) && !memchr(w->str, w->str[j], j);
                        if (!ok)
                            perr(c, w, "'%s': expected a subset of 'rwm', got '%.64s'", f,
                                    w->str);
                        else
                            snprintf(dr->access, sizeof(dr->access), "%s", w->str);
                    }
                }
            }
        }
    }
    if ((s = mget(c, m, kp, "hugetlb"))) {
        kp_join(p, kp, "hugetlb");
        if (s->type != YN_MAP) {
            perr(c, s, "'%s': expected a mapping of page size to limit (2MB: 64M), got %s", p,
                    type_name(s));
        } else if (s->n) {
            r->hugetlb_sizes = calloc(s->n, sizeof(char *));
            r->hugetlb_limits = calloc(s->n, sizeof(uint64_t));
            if (!r->hugetlb_sizes || !r->hugetlb_limits)
                c->oom = true;
            for (size_t i = 0; !c->oom && i < s->n; i++) {
                const struct ynode *k = s->items[2 * i], *w = s->items[2 * i + 1];
                if (k->type != YN_SCALAR)
                    continue;
                kp_join(q, p, k->str);
                loc_add(c, q, w);
                unsigned num;
                char unit[3] = "", tail;
                if (sscanf(k->str, "%u%2[KMG]B%c", &num, unit, &tail) != 2 || num == 0 ||
                        strlen(unit) != 1) {
                    perr(c, k, "'%s': invalid huge page size '%.64s' (like 2MB or 1GB)", p,
                            k->str);
                    continue;
                }
                uint64_t lim;
                if (!get_size(c, w, q, &lim))
                    continue;
                r->hugetlb_sizes[r->n_hugetlb] = strdup(k->str);
                if (!r->hugetlb_sizes[r->n_hugetlb])
                    c->oom = true;
                r->hugetlb_limits[r->n_hugetlb++] = lim;
            }
        }
    }
}

static const struct {
    const char *name;
    int res;
} rlimit_names[] = {
        {"as", RLIMIT_AS}, {"core", RLIMIT_CORE}, {"cpu", RLIMIT_CPU}, {"data", RLIMIT_DATA},
        {"fsize", RLIMIT_FSIZE}, {"locks", RLIMIT_LOCKS}, {"memlock", RLIMIT_MEMLOCK},
        {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE}, {"nofile", RLIMIT_NOFILE},
        {"nproc", RLIMIT_NPROC}, {"rss", RLIMIT_RSS}, {"rtprio", RLIMIT_RTPRIO},
        {"rttime", RLIMIT_RTTIME}, {"sigpending", RLIMIT_SIGPENDING}, {"stack", RLIMIT_STACK},
};

const char *unit_rlimit_name(int res)
{
    for (size_t i = 0; i < ARRAY_SIZE(rlimit_names); i++)
        if (rlimit_names[i].res == res)
            return rlimit_names[i].name;
    return NULL;
}

static bool parse_rlim_value(const char *s, uint64_t *out)
{
    if (STREQ(s, "unlimited") || STREQ(s, "infinity")) {
        *out = RLIM_INFINITY;
        return true;
    }
    return parse_uint64(s, out) == 0 && *out != RLIM_INFINITY;
}

static void parse_rlimits(struct pctx *c, const struct ynode *m, const char *kp)
{
    struct security *sec = &c->u->sec;
    if (!m || m->type != YN_MAP) {
        perr(c, m, "'%s': expected a mapping like {nofile: \"1024:4096\"}, got %s", kp,
                type_name(m));
        return;
    }
    if (!m->n)
        return;
    sec->rlimits = calloc(m->n, sizeof(*sec->rlimits));
    if (!sec->rlimits) {
        c->oom = true;
        return;
    }
    const char *names[ARRAY_SIZE(rlimit_names) + 1];
    for (size_t i = 0; i < ARRAY_SIZE(rlimit_names); i++)
        names[i] = rlimit_names[i].name;
    names[ARRAY_SIZE(rlimit_names)] = NULL;
    expect_map(c, m, kp, names);
    for (size_t i = 0; i < m->n; i++) {
        const struct ynode *k = m->items[2 * i], *v = m->items[2 * i + 1];
        if (k->type != YN_SCALAR)
            continue;
        int res = -1;
        for (size_t j = 0; j < ARRAY_SIZE(rlimit_names); j++)
            if (STREQ(rlimit_names[j].name, k->str))
                res = rlimit_names[j].res;
        if (res < 0)
            continue; /* reported by expect_map */
        char p[KP_MAX];
        kp_join(p, kp, k->str);
        loc_add(c, p, v);
        if (!is_scalar(c, v, p, "a limit like 1024, \"1024:4096\" or unlimited"))
            continue;
        uint64_t soft, hard;
        const char *colon = strchr(v->str, ':');
        bool ok;
        if (colon) {
            char *a = strndup(v->str, (size_t)(colon - v->str));
            if (!a) {
                c->oom = true;
                return;
            }
            ok = parse_rlim_value(a, &soft) && parse_rlim_value(colon + 1, &hard);
            free(a);
        } else {
            ok = parse_rlim_value(v->str, &soft);
            hard = soft;
        }
        if (!ok) {
            perr(c, v, "'%s': expected a limit like 1024, \"1024:4096\" or unlimited, got '%.64s'",
                    p, v->str);
            continue;
        }
        if (soft != RLIM_INFINITY && (hard == RLIM_INFINITY ? false : soft > hard)) {
            perr(c, v, "'%s': soft limit %" PRIu64 " is above the hard limit %" PRIu64, p, soft,
                    hard);
            continue;
        }
        if (soft == RLIM_INFINITY && hard != RLIM_INFINITY) {
            perr(c, v, "'%s': soft limit unlimited is above the hard limit", p);
            continue;
        }
        sec->rlimits[sec->n_rlimits++] = (struct rlimit_spec){res, soft, hard};
    }
}

static void parse_idmap(struct pctx *c, const struct ynode *n, const char *kp,
        struct id_map **out, size_t *n_out)
{
    if (!n || n->type != YN_SEQ || n->n == 0) {
        perr(c, n, "'%s': expected a non-empty list of \"INSIDE:OUTSIDE:COUNT\" or "
                   "{inside, outside, count}, got %s",
                kp, type_name(n));
        return;
    }
    *out = calloc(n->n, sizeof(**out));
    if (!*out) {
        c->oom = true;
        return;
    }
    static const char *const keys[] = {"inside", "outside", "count", NULL};
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *it = n->items[i];
        char p[KP_MAX];
        kp_index(p, kp, i);
        loc_add(c, p, it);
        uint64_t v[3] = {0, 0, 0};
        if (it->type == YN_MAP) {
            if (!expect_map(c, it, p, keys))
                continue;
            bool ok = true;
            for (size_t j = 0; j < 3; j++) {
                const struct ynode *w = mget(c, it, p, keys[j]);
                char q[KP_MAX];
                kp_join(q, p, keys[j]);
                if (!w) {
                    perr(c, it, "'%s': missing '%s'", p, keys[j]);
                    ok = false;
                } else if (!get_uint(c, w, q, j == 2 ? 1 : 0, UINT32_MAX - (j == 2 ? 0 : 1),
                                   &v[j])) {
                    ok = false;
                }
            }
            if (!ok)
                continue;
        } else if (it->type == YN_SCALAR) {
            char tail;
            if (sscanf(it->str, "%" SCNu64 ":%" SCNu64 ":%" SCNu64 "%c", &v[0], &v[1], &v[2],
                        &tail) != 3 ||
                    it->str[0] == '-' || v[0] >= UINT32_MAX || v[1] >= UINT32_MAX ||
                    v[2] == 0 || v[2] > UINT32_MAX) {
                perr(c, it, "'%s': expected \"INSIDE:OUTSIDE:COUNT\", got '%.64s'", p, it->str);
                continue;
            }
        } else {
            perr(c, it, "'%s': expected \"INSIDE:OUTSIDE:COUNT\", got %s", p, type_name(it));
            continue;
        }
        if (v[0] + v[2] > (uint64_t)UINT32_MAX + 1 || v[1] + v[2] > (uint64_t)UINT32_MAX + 1) {
            perr(c, it, "'%s': range overflows 32-bit ids", p);
            continue;
        }
        (*out)[(*n_out)++] = (struct id_map){(uint32_t)v[0], (uint32_t)v[1], (uint32_t)v[2]};
    }
}

static void parse_caps(struct pctx *c, const struct ynode *n, const char *kp, char ***out)
{
    char **v = NULL;
    if (!get_strv(c, n, kp, true, &v))
        return;
    char **res = calloc(strv_len(v) + 1, sizeof(char *));
    if (!res) {
        strv_free(v);
        c->oom = true;
        return;
    }
    size_t k = 0;
    for (size_t i = 0; v[i]; i++) {
        const char *canon = unit_cap_canonical(v[i]);
        if (!canon) {
            char p[KP_MAX];
            kp_index(p, kp, i);
            perr(c, n->items[i], "'%s': unknown capability '%.64s'", p, v[i]);
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < k; j++)
            dup = dup || STREQ(res[j], canon);
        if (dup)
            continue;
        res[k] = strdup(canon);
        if (!res[k]) {
            c->oom = true;
            break;
        }
        k++;
    }
    strv_free(v);
    strv_free(*out);
    *out = res;
}

static void parse_security(struct pctx *c, const struct ynode *m, const char *kp)
{
    struct security *sec = &c->u->sec;
    static const char *const keys[] = {"capabilities", "seccomp", "no_new_privileges",
            "readonly_rootfs", "masked_paths", "readonly_paths", "rlimits", "sysctl", "apparmor",
            "selinux_label", "uid_map", "gid_map", NULL};
    if (!expect_map(c, m, kp, keys))
        return;
    const struct ynode *v, *s;
    char p[KP_MAX], q[KP_MAX];
    if ((s = mget(c, m, kp, "capabilities"))) {
        static const char *const ck[] = {"add", "drop", NULL};
        kp_join(p, kp, "capabilities");
        if (expect_map(c, s, p, ck)) {
            if ((v = mget(c, s, p, "add"))) {
                kp_join(q, p, "add");
                parse_caps(c, v, q, &sec->cap_add);
            }
            if ((v = mget(c, s, p, "drop"))) {
                kp_join(q, p, "drop");
                parse_caps(c, v, q, &sec->cap_drop);
            }
        }
    }
    if ((v = mget(c, m, kp, "seccomp"))) {
        kp_join(p, kp, "seccomp");
        if (is_scalar(c, v, p, "default, unconfined or an absolute path")) {
            if (STREQ(v->str, "default"))
                sec->seccomp = SECCOMP_DEFAULT;
            else if (STREQ(v->str, "unconfined"))
                sec->seccomp = SECCOMP_UNCONFINED;
            else if (abs_path_ok(v->str)) {
                sec->seccomp = SECCOMP_PROFILE;
                get_str(c, v, p, &sec->seccomp_profile);
            } else
                perr(c, v, "'%s': expected default, unconfined or an absolute path to a JSON "
                           "profile, got '%.64s'",
                        p, v->str);
        }
    }
    if ((v = mget(c, m, kp, "no_new_privileges"))) {
        kp_join(p, kp, "no_new_privileges");
        get_bool(c, v, p, &sec->no_new_privileges);
    }
    if ((v = mget(c, m, kp, "readonly_rootfs"))) {
        kp_join(p, kp, "readonly_rootfs");
        get_bool(c, v, p, &sec->readonly_rootfs);
    }
    const char *pk[] = {"masked_paths", "readonly_paths"};
    char **(*pdst[]) = {&sec->masked_paths, &sec->readonly_paths};
    for (size_t i = 0; i < 2; i++) {
        if (!(v = mget(c, m, kp, pk[i])))
            continue;
        kp_join(p, kp, pk[i]);
        if (get_strv(c, v, p, true, pdst[i]))
            for (size_t j = 0; (*pdst[i])[j]; j++)
                if (!abs_path_ok((*pdst[i])[j])) {
                    kp_index(q, p, j);
                    perr(c, v->items[j], "'%s': expected an absolute path, got '%.64s'", q,
                            (*pdst[i])[j]);
                }
    }
    if ((v = mget(c, m, kp, "rlimits"))) {
        kp_join(p, kp, "rlimits");
        parse_rlimits(c, v, p);
    }
    if ((s = mget(c, m, kp, "sysctl"))) {
        kp_join(p, kp, "sysctl");
        if (s->type != YN_MAP) {
            perr(c, s, "'%s': expected a mapping of sysctl name to value, got %s", p, type_name(s));
        } else if (s->n) {
            sec->sysctl = calloc(s->n, sizeof(*sec->sysctl));
            if (!sec->sysctl)
                c->oom = true;
            for (size_t i = 0; sec->sysctl && i < s->n; i++) {
                const struct ynode *k = s->items[2 * i], *w = s->items[2 * i + 1];
                if (k->type != YN_SCALAR)
                    continue;
                kp_join(q, p, k->str);
                loc_add(c, q, w);
                bool ok = k->len > 0 && k->str[0] != '.' && k->str[0] != '/';
                for (size_t j = 0; ok && j < k->len; j++)
                    ok = isalnum((unsigned char)k->str[j]) || strchr("_.-/", k->str[j]);
                if (!ok || strstr(k->str, "..")) {
                    perr(c, k, "'%s': invalid sysctl name '%.64s'", p, k->str);
                    continue;
                }
                if (!is_scalar(c, w, q, "a value"))
                    continue;
                struct kv *e = &sec->sysctl[sec->n_sysctl];
                e->key = strdup(k->str);
                e->value = strdup(w->str);
                sec->n_sysctl++;
                if (!e->key || !e->value)
                    c->oom = true;
            }
        }
    }
    if ((v = mget(c, m, kp, "apparmor"))) {
        kp_join(p, kp, "apparmor");
        get_str(c, v, p, &sec->apparmor);
    }
    if ((v = mget(c, m, kp, "selinux_label"))) {
        kp_join(p, kp, "selinux_label");
        get_str(c, v, p, &sec->selinux_label);
    }
    if ((v = mget(c, m, kp, "uid_map"))) {
        kp_join(p, kp, "uid_map");
        parse_idmap(c, v, p, &sec->uid_map, &sec->n_uid_map);
    }
    if ((v = mget(c, m, kp, "gid_map"))) {
        kp_join(p, kp, "gid_map");
        parse_idmap(c, v, p, &sec->gid_map, &sec->n_gid_map);
    }
}

static void parse_restart(struct pctx *c, const struct ynode *m, const char *kp)
{
    struct restart_spec *rs = &c->u->restart;
    static const char *const keys[] = {"policy", "delay", "max_delay", "reset_after", "burst",
            "interval", "prevent_exit_codes", "on_give_up", NULL};
    static const char *const policies[] = {"no", "on-failure", "always", "unless-stopped", NULL};
    static const char *const give_up[] = {"stay-failed", "reboot", NULL};
    const struct ynode *v;
    char p[KP_MAX];
    /* `restart: always` shorthand, as in compose. */
    if (m && m->type == YN_SCALAR && !ynode_is_null(m)) {
        int x;
        /* YAML 1.1 readers turn a bare `no` into false; accept that spelling too. */
        if (m->plain && STREQ(m->str, "false"))
            rs->policy = RESTART_NO;
        else if (get_enum(c, m, kp, "restart policy", policies, &x))
            rs->policy = (enum restart_policy)x;
        return;
    }
    if (!expect_map(c, m, kp, keys))
        return;
    if ((v = mget(c, m, kp, "policy"))) {
        int x;
        kp_join(p, kp, "policy");
        if (v->type == YN_SCALAR && v->plain && STREQ(v->str, "false"))
            rs->policy = RESTART_NO;
        else if (get_enum(c, v, p, "restart policy", policies, &x))
            rs->policy = (enum restart_policy)x;
    }
    const char *dk[] = {"delay", "max_delay", "reset_after", "interval"};
    uint64_t *dd[] = {&rs->delay_ms, &rs->max_delay_ms, &rs->reset_after_ms, &rs->interval_ms};
    for (size_t i = 0; i < 4; i++)
        if ((v = mget(c, m, kp, dk[i]))) {
            kp_join(p, kp, dk[i]);
            get_duration(c, v, p, dd[i]);
        }
    if (rs->max_delay_ms < rs->delay_ms)
        perr(c, mget(c, m, kp, "max_delay") ? mget(c, m, kp, "max_delay") : m,
                "'%s.max_delay' is shorter than '%s.delay'", kp, kp);
    if ((v = mget(c, m, kp, "burst"))) {
        kp_join(p, kp, "burst");
        get_uint(c, v, p, 1, 1000000, &rs->burst);
    }
    if ((v = mget(c, m, kp, "prevent_exit_codes"))) {
        kp_join(p, kp, "prevent_exit_codes");
        if (v->type != YN_SEQ) {
            perr(c, v, "'%s': expected a list of exit codes, got %s", p, type_name(v));
        } else if (v->n) {
            rs->prevent_exit_codes = calloc(v->n, sizeof(int));
            if (!rs->prevent_exit_codes)
                c->oom = true;
            for (size_t i = 0; rs->prevent_exit_codes && i < v->n; i++) {
                char q[KP_MAX];
                uint64_t x;
                kp_index(q, p, i);
                if (get_uint(c, v->items[i], q, 0, 255, &x))
                    rs->prevent_exit_codes[rs->n_prevent_exit_codes++] = (int)x;
            }
        }
    }
    if ((v = mget(c, m, kp, "on_give_up"))) {
        int x;
        kp_join(p, kp, "on_give_up");
        if (get_enum(c, v, p, "on_give_up action", give_up, &x))
            rs->on_give_up = (enum give_up_action)x;
    }
}

static void parse_stop(struct pctx *c, const struct ynode *m, const char *kp)
{
    static const char *const keys[] = {"signal", "timeout", NULL};
    const struct ynode *v;
    char p[KP_MAX];
    if (!expect_map(c, m, kp, keys))
        return;
    if ((v = mget(c, m, kp, "signal"))) {
        kp_join(p, kp, "signal");
        if (is_scalar(c, v, p, "a signal name")) {
            int sig = unit_signal_parse(v->str);
            if (sig < 0)
                perr(c, v, "'%s': unknown signal '%.64s' (like SIGTERM or SIGINT)", p, v->str);
            else if (sig == SIGKILL || sig == SIGSTOP)
                perr(c, v, "'%s': %s cannot be the stop signal (SIGKILL follows the timeout)", p,
                        unit_signal_name(sig));
            else
                c->u->stop.signal = sig;
        }
    }
    if ((v = mget(c, m, kp, "timeout"))) {
        kp_join(p, kp, "timeout");
        get_duration(c, v, p, &c->u->stop.timeout_ms);
    }
}

static void parse_port_probe(struct pctx *c, const struct ynode *m, const char *kp, bool http)
{
    static const char *const hk[] = {"port", "path", NULL};
    static const char *const tk[] = {"port", NULL};
    struct health_spec *h = &c->u->health;
    const struct ynode *v;
    char p[KP_MAX];
    if (!expect_map(c, m, kp, http ? hk : tk))
        return;
    if ((v = mget(c, m, kp, "port"))) {
        uint64_t port;
        kp_join(p, kp, "port");
        if (get_uint(c, v, p, 1, 65535, &port))
            h->port = (uint16_t)port;
    } else {
        perr(c, m, "'%s': missing 'port'", kp);
    }
    if (http && (v = mget(c, m, kp, "path"))) {
        kp_join(p, kp, "path");
        if (get_str(c, v, p, &h->path) && h->path[0] != '/')
            perr(c, v, "'%s': expected a path starting with '/', got '%.64s'", p, h->path);
    }
}

static void parse_health(struct pctx *c, const struct ynode *m, const char *kp)
{
    struct health_spec *h = &c->u->health;
    static const char *const keys[] = {"command", "http", "tcp", "interval", "timeout",
            "retries", "start_period", "on_unhealthy", NULL};
    static const char *const actions[] = {"restart", "none", NULL};
    const struct ynode *v;
    char p[KP_MAX];
    if (!expect_map(c, m, kp, keys))
        return;
    int kinds = 0;
    if ((v = mget(c, m, kp, "command"))) {
        kinds++;
        h->kind = HEALTH_COMMAND;
        kp_join(p, kp, "command");
        get_strv(c, v, p, false, &h->command);
    }
    if ((v = mget(c, m, kp, "http"))) {
        if (kinds++)
            perr(c, v, "'%s': give exactly one probe: 'command', 'http' or 'tcp'", kp);
        h->kind = HEALTH_HTTP;
        kp_join(p, kp, "http");
        parse_port_probe(c, v, p, true);
        if (!h->path)
            h->path = strdup("/");
        if (!h->path)
            c->oom = true;
    }
    if ((v = mget(c, m, kp, "tcp"))) {
        if (kinds++)
            perr(c, v, "'%s': give exactly one probe: 'command', 'http' or 'tcp'", kp);
        h->kind = HEALTH_TCP;
        kp_join(p, kp, "tcp");
        parse_port_probe(c, v, p, false);
    }
    if (!kinds)
        perr(c, m, "'%s': needs a probe: 'command', 'http' or 'tcp'", kp);
    const char *dk[] = {"interval", "timeout", "start_period"};
    uint64_t *dd[] = {&h->interval_ms, &h->timeout_ms, &h->start_period_ms};
    for (size_t i = 0; i < 3; i++)
        if ((v = mget(c, m, kp, dk[i]))) {
            kp_join(p, kp, dk[i]);
            if (get_duration(c, v, p, dd[i]) && i < 2 && *dd[i] == 0)
                perr(c, v, "'%s': must be greater than 0", p);
        }
    if ((v = mget(c, m, kp, "retries"))) {
        kp_join(p, kp, "retries");
        get_uint(c, v, p, 1, 1000, &h->retries);
    }
    if ((v = mget(c, m, kp, "on_unhealthy"))) {
        int x;
        kp_join(p, kp, "on_unhealthy");
        if (get_enum(c, v, p, "on_unhealthy action", actions, &x))
            h->on_unhealthy_restart = x == 0;
    }
}

static void parse_depends(struct pctx *c, const struct ynode *n, const char *kp)
{
    struct unit *u = c->u;
    static const char *const conds[] = {"started", "healthy", "completed", NULL};
    static const char *const keys[] = {"condition", "restart", NULL};
    if (!n || (n->type != YN_SEQ && n->type != YN_MAP)) {
        perr(c, n, "'%s': expected a list of unit names or a mapping {name: {condition, "
                   "restart}}, got %s",
                kp, type_name(n));
        return;
    }
    if (!n->n)
        return;
    u->deps = calloc(n->n, sizeof(*u->deps));
    if (!u->deps) {
        c->oom = true;
        return;
    }
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *namen, *val = NULL;
        char p[KP_MAX];
        if (n->type == YN_SEQ) {
            namen = n->items[i];
            kp_index(p, kp, i);
        } else {
            namen = n->items[2 * i];
            val = n->items[2 * i + 1];
            if (namen->type != YN_SCALAR)
                continue;
            kp_join(p, kp, namen->str);
        }
        loc_add(c, p, namen);
        if (!is_scalar(c, namen, p, "a unit name") || !check_name(c, namen, p, namen->str))
            continue;
        struct dependency dep = {.condition = DEP_STARTED};
        if (val) {
            int x;
            char q[KP_MAX];
            if (val->type == YN_SCALAR && !ynode_is_null(val)) {
                if (get_enum(c, val, p, "condition", conds, &x))
                    dep.condition = (enum dep_condition)x;
            } else if (val->type == YN_MAP) {
                if (expect_map(c, val, p, keys)) {
                    const struct ynode *w;
                    if ((w = mget(c, val, p, "condition"))) {
                        kp_join(q, p, "condition");
                        if (get_enum(c, w, q, "condition", conds, &x))
                            dep.condition = (enum dep_condition)x;
                    }
                    if ((w = mget(c, val, p, "restart"))) {
                        kp_join(q, p, "restart");
                        get_bool(c, w, q, &dep.restart);
                    }
                }
            } else if (!ynode_is_null(val)) {
                perr(c, val, "'%s': expected a condition or {condition, restart}, got %s", p,
                        type_name(val));
            }
        }
        if (u->name && STREQ(namen->str, u->name)) {
            perr(c, namen, "'%s': a unit cannot depend on itself", p);
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < u->n_deps; j++)
            dup = dup || STREQ(u->deps[j].name, namen->str);
        if (dup) {
            perr(c, namen, "'%s': '%s' is listed twice", p, namen->str);
            continue;
        }
        dep.name = strdup(namen->str);
        if (!dep.name) {
            c->oom = true;
            return;
        }
        u->deps[u->n_deps++] = dep;
    }
}

static void parse_env(struct pctx *c, const struct ynode *n, const char *kp)
{
    struct unit *u = c->u;
    if (!n || (n->type != YN_SEQ && n->type != YN_MAP)) {
        perr(c, n, "'%s': expected a mapping {KEY: value} or a list of KEY=value, got %s", kp,
                type_name(n));
        return;
    }
    u->env = calloc(n->n + 1, sizeof(char *));
    if (!u->env) {
        c->oom = true;
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n->n; i++) {
        char p[KP_MAX];
        char *entry = NULL;
        const struct ynode *at;
        size_t keylen;
        if (n->type == YN_MAP) {
            const struct ynode *key = n->items[2 * i], *val = n->items[2 * i + 1];
            if (key->type != YN_SCALAR)
                continue;
            kp_join(p, kp, key->str);
            loc_add(c, p, val);
            at = key;
            if (!is_scalar(c, val, p, "a string value (quote it if empty: \"\")"))
                continue;
            keylen = key->len;
            entry = strdup_printf("%s=%s", key->str, val->str);
        } else {
            at = n->items[i];
            kp_index(p, kp, i);
            loc_add(c, p, at);
            if (!is_scalar(c, at, p, "KEY=value"))
                continue;
            const char *eq = strchr(at->str, '=');
            if (!eq) {
                perr(c, at, "'%s': expected KEY=value, got '%.64s'", p, at->str);
                continue;
            }
            keylen = (size_t)(eq - at->str);
            entry = strdup(at->str);
        }
        if (!entry) {
            c->oom = true;
            return;
        }
        bool ok = keylen > 0 && !isdigit((unsigned char)entry[0]);
        for (size_t j = 0; ok && j < keylen; j++)
            ok = entry[j] == '_' || isalnum((unsigned char)entry[j]) || entry[j] == '.' ||
                 entry[j] == '-';
        if (!ok) {
            perr(c, at, "'%s': invalid environment variable name '%.*s'", p, (int)keylen, entry);
            free(entry);
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++)
            dup = strncmp(u->env[j], entry, keylen + 1) == 0;
        if (dup) {
            perr(c, at, "'%s': variable '%.*s' is set twice", p, (int)keylen, entry);
            free(entry);
            continue;
        }
        u->env[k++] = entry;
    }
    if (k == 0)
        u->env = strv_free(u->env);
}

static bool valid_hostname(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > 64 || s[0] == '-' || s[0] == '.' || s[len - 1] == '.' ||
            s[len - 1] == '-')
        return false;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '.'))
            return false;
    return !strstr(s, "..");
}

static bool valid_ifname(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len >= 16 || STREQ(s, ".") || STREQ(s, ".."))
        return false;
    for (const char *p = s; *p; p++)
        if (*p == '/' || *p == ':' || isspace((unsigned char)*p) || !isprint((unsigned char)*p))
            return false;
    return true;
}

void unit_default_bridge(const char *name, char ret[16])
{
    /* IFNAMSIZ is 16 with the NUL. A plain truncation would give two long names that share a
     * prefix the same bridge; the hash of the whole name keeps them apart. */
    if (strlen("mgr-") + strlen(name) < 16) {
        snprintf(ret, 16, "mgr-%s", name);
        return;
    }
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = name; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 16777619u;
    }
    snprintf(ret, 16, "mgr-%.6s-%04x", name, (unsigned)(h & 0xffff));
}

static void parse_network_unit(struct pctx *c, const struct ynode *root)
{
    struct unit *u = c->u;
    const struct ynode *v;
    if ((v = mget(c, root, "", "bridge"))) {
        if (get_str(c, v, "bridge", &u->bridge) && !valid_ifname(u->bridge)) {
            perr(c, v, "'bridge': invalid interface name '%.64s' (1-15 characters, no '/', ':' "
                       "or spaces)",
                    u->bridge);
        }
    }
    v = mget(c, root, "", "subnet");
    if (!v) {
        perr(c, root, "a network unit needs 'subnet' (like 10.88.0.0/24)");
    } else if (is_scalar(c, v, "subnet", "an IPv4 subnet like 10.88.0.0/24")) {
        char addr[64];
        unsigned plen;
        char tail;
        struct in_addr a;
        if (v->len >= sizeof(addr) || sscanf(v->str, "%63[0-9.]/%u%c", addr, &plen, &tail) != 2 ||
                !parse_ipv4(addr, &a)) {
            perr(c, v, "'subnet': expected an IPv4 subnet like 10.88.0.0/24, got '%.64s'", v->str);
        } else if (plen < 8 || plen > 30) {
            perr(c, v, "'subnet': prefix length /%u is out of range (/8../30)", plen);
        } else {
            uint32_t mask = plen ? 0xffffffffu << (32 - plen) : 0;
            uint32_t h = ntohl(a.s_addr);
            if (h & ~mask) {
                struct in_addr net = {htonl(h & mask)};
                char nb[INET_ADDRSTRLEN];
                inet_ntop(AF_INET, &net, nb, sizeof(nb));
                perr(c, v, "'subnet': '%s' has host bits set; did you mean '%s/%u'?", v->str, nb,
                        plen);
            } else {
                u->subnet = a;
                u->prefix_len = plen;
            }
        }
    }
    if ((v = mget(c, root, "", "gateway")) && is_scalar(c, v, "gateway", "an IPv4 address")) {
        struct in_addr g;
        if (!parse_ipv4(v->str, &g)) {
            perr(c, v, "'gateway': invalid IPv4 address '%.64s'", v->str);
        } else if (u->prefix_len) {
            uint32_t mask = 0xffffffffu << (32 - u->prefix_len);
            uint32_t h = ntohl(g.s_addr), net = ntohl(u->subnet.s_addr);
            if ((h & mask) != net)
                perr(c, v, "'gateway': %s is outside the subnet", v->str);
            else if (h == net || h == (net | ~mask))
                perr(c, v, "'gateway': %s is the network or broadcast address", v->str);
            else
                u->gateway = g;
        }
    } else if (u->prefix_len) {
        u->gateway.s_addr = htonl(ntohl(u->subnet.s_addr) + 1);
    }
    if (!u->bridge && u->name) {
        char br[16];
        unit_default_bridge(u->name, br);
        u->bridge = strdup(br);
        if (!u->bridge)
            c->oom = true;
    }
}

static const char *const container_keys[] = {"kind", "name", "image", "command", "env", "workdir",
        "user", "hostname", "namespaces", "networks", "mounts", "resources", "security", "restart",
        "stop", "health", "depends_on", "critical", "dns", NULL};
static const char *const network_keys[] = {"kind", "name", "bridge", "subnet", "gateway", NULL};

static void parse_container_unit(struct pctx *c, const struct ynode *root)
{
    struct unit *u = c->u;
    const struct ynode *v;
    if ((v = mget(c, root, "", "image"))) {
        if (get_str(c, v, "image", &u->image)) {
            bool ok = u->image[0] != '\0';
            for (const char *p = u->image; ok && *p; p++)
                ok = !isspace((unsigned char)*p) && isprint((unsigned char)*p);
            static const char *const tr[] = {"oci:", "docker-archive:", "tar:", "dir:"};
            for (size_t i = 0; ok && i < ARRAY_SIZE(tr); i++)
                if (strncmp(u->image, tr[i], strlen(tr[i])) == 0 &&
                        (u->image[strlen(tr[i])] != '/'))
                    ok = false;
            if (!ok)
                perr(c, v, "'image': invalid image reference '%.64s' (expected oci:/DIR[:TAG], "
                           "docker-archive:/FILE, tar:/FILE, dir:/DIR or an imported name)",
                        u->image);
        }
    } else {
        perr(c, root, "a container unit needs 'image'");
    }
    if ((v = mget(c, root, "", "command"))) {
        if (v->type == YN_SCALAR && !ynode_is_null(v))
            perr(c, v, "'command': expected a list of strings (exec form), like [\"/bin/sh\", "
                       "\"-c\", \"...\"]");
        else
            get_strv(c, v, "command", false, &u->command);
    }
    if ((v = mget(c, root, "", "env")))
        parse_env(c, v, "env");
    if ((v = mget(c, root, "", "workdir")))
        get_abs_path(c, v, "workdir", &u->workdir);
    if ((v = mget(c, root, "", "user"))) {
        if (get_str(c, v, "user", &u->user)) {
            bool ok = u->user[0] && u->user[0] != ':' && strlen(u->user) < 128;
            for (const char *p = u->user; ok && *p; p++)
                ok = isalnum((unsigned char)*p) || strchr(":_.-", *p);
            if (!ok || strchr(strchr(u->user, ':') ? strchr(u->user, ':') + 1 : "", ':'))
                perr(c, v, "'user': expected USER[:GROUP] (names or numbers), got '%.64s'",
                        u->user);
        }
    }
    if ((v = mget(c, root, "", "hostname")))
        if (get_str(c, v, "hostname", &u->hostname) && !valid_hostname(u->hostname))
            perr(c, v, "'hostname': invalid host name '%.64s'", u->hostname);
    if ((v = mget(c, root, "", "namespaces")))
        parse_namespaces(c, v, "namespaces");
    if ((v = mget(c, root, "", "networks"))) {
        parse_networks(c, v, "networks");
        if (u->n_networks && u->ns[NS_NET].mode != NS_PRIVATE)
            perr(c, v, "'networks': needs 'namespaces.net: private' (it is %s)",
                    u->ns[NS_NET].mode == NS_HOST   ? "host"
                    : u->ns[NS_NET].mode == NS_NONE ? "none"
                                                    : "another container's");
    }
    if ((v = mget(c, root, "", "mounts")))
        parse_mounts(c, v, "mounts");
    if ((v = mget(c, root, "", "resources")))
        parse_resources(c, v, "resources");
    if ((v = mget(c, root, "", "security"))) {
        parse_security(c, v, "security");
        if ((u->sec.n_uid_map || u->sec.n_gid_map) && u->ns[NS_USER].mode != NS_PRIVATE)
            perr(c, v, "'security': uid_map/gid_map need 'namespaces.user: private'");
    }
    if ((v = mget(c, root, "", "restart")))
        parse_restart(c, v, "restart");
    if ((v = mget(c, root, "", "stop")))
        parse_stop(c, v, "stop");
    if ((v = mget(c, root, "", "health")))
        parse_health(c, v, "health");
    if ((v = mget(c, root, "", "depends_on")))
        parse_depends(c, v, "depends_on");
    if ((v = mget(c, root, "", "critical")))
        get_bool(c, v, "critical", &u->critical);
    if ((v = mget(c, root, "", "dns"))) {
        if (get_strv(c, v, "dns", true, &u->dns))
            for (size_t i = 0; u->dns[i]; i++) {
                unsigned char buf[sizeof(struct in6_addr)];
                if (inet_pton(AF_INET, u->dns[i], buf) != 1 &&
                        inet_pton(AF_INET6, u->dns[i], buf) != 1) {
                    char p[KP_MAX];
                    kp_index(p, "dns", i);
                    perr(c, v->items[i], "'%s': invalid IP address '%.64s'", p, u->dns[i]);
                }
            }
    }
}

static void unit_defaults(struct unit *u)
{
    u->kind = UNIT_CONTAINER;
    for (int i = 0; i < _NS_MAX; i++)
        u->ns[i].mode = NS_PRIVATE;
    u->ns[NS_USER].mode = NS_HOST;
    u->ns[NS_TIME].mode = NS_HOST;
    struct resources *r = &u->res;
    r->mem_max = r->mem_high = r->mem_low = r->mem_min = r->mem_swap_max = UNIT_UNSET;
    r->mem_oom_group = -1;
    r->cpu_weight = UNIT_UNSET;
    r->cpu_max_milli = UNIT_UNSET;
    r->cpu_period_us = 100000;
    r->pids_max = UNIT_UNSET;
    r->io_weight = UNIT_UNSET;
    u->sec.seccomp = SECCOMP_DEFAULT;
    u->sec.no_new_privileges = true;
    u->restart = (struct restart_spec){.policy = RESTART_ON_FAILURE, .delay_ms = 100,
            .max_delay_ms = 30000, .reset_after_ms = 60000, .burst = 5, .interval_ms = 60000,
            .on_give_up = GIVE_UP_STAY_FAILED};
    u->stop = (struct stop_spec){.signal = SIGTERM, .timeout_ms = 10000};
    u->health = (struct health_spec){.kind = HEALTH_NONE, .interval_ms = 10000,
            .timeout_ms = 5000, .retries = 3, .start_period_ms = 0, .on_unhealthy_restart = true};
}

/* Default name: the file name without directory and .yaml/.yml. */
static char *name_from_path(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t len = strlen(b);
    if (len > 5 && STREQ(b + len - 5, ".yaml"))
        len -= 5;
    else if (len > 4 && STREQ(b + len - 4, ".yml"))
        len -= 4;
    return strndup(b, len);
}

int unit_parse_buffer(const char *path, const char *buf, size_t len, struct unit **ret_unit,
        struct diags *d)
{
    struct ynode *root = NULL;
    size_t before = diags_count(d);
    int r = yaml_load(path, buf, len, &root, d);
    if (r < 0)
        return r;
    if (!root) {
        ynode_free(root);
        diags_add(d, path, 1, 1, "empty unit file (expected at least 'image:' or 'kind:')");
        return -EINVAL;
    }

    struct unit *u = calloc(1, sizeof(*u));
    if (!u) {
        ynode_free(root);
        return -ENOMEM;
    }
    unit_defaults(u);
    struct pctx c = {.path = path, .d = d, .u = u};
    u->path = strdup(path);
    if (!u->path)
        c.oom = true;

    if (root->type != YN_MAP) {
        perr(&c, root, "a unit file must be a mapping of keys, got %s", type_name(root));
        goto out;
    }
    const struct ynode *v;
    if ((v = mget(&c, root, "", "kind"))) {
        static const char *const kinds[] = {"container", "network", NULL};
        int k;
        if (get_enum(&c, v, "kind", "kind", kinds, &k))
            u->kind = (enum unit_kind)k;
    }
    if ((v = mget(&c, root, "", "name"))) {
        if (get_str(&c, v, "name", &u->name))
            check_name(&c, v, "name", u->name);
    } else {
        u->name = name_from_path(path);
        if (!u->name)
            c.oom = true;
        else if (!valid_name(u->name))
            perr(&c, root,
                    "the unit name '%.64s' comes from the file name and is invalid (use "
                    "[a-z0-9][a-z0-9_.-]*, at most %d characters, or set 'name:')",
                    u->name, UNIT_NAME_MAX);
    }
    if (u->kind == UNIT_NETWORK) {
        /* Container keys in a network unit get a precise message, not "unknown key". */
        for (size_t i = 0; i < root->n; i++) {
            const struct ynode *k = root->items[2 * i];
            bool is_net = false, is_ctr = false;
            for (size_t j = 0; k->type == YN_SCALAR && network_keys[j]; j++)
                is_net = is_net || STREQ(network_keys[j], k->str);
            for (size_t j = 0; k->type == YN_SCALAR && container_keys[j]; j++)
                is_ctr = is_ctr || STREQ(container_keys[j], k->str);
            if (is_ctr && !is_net)
                perr(&c, k, "key '%s' applies to kind: container, not to kind: network", k->str);
            else if (!is_net && k->type == YN_SCALAR) {
                const char *sug = suggest(k->str, network_keys);
                if (sug)
                    perr(&c, k, "unknown key '%.64s'; did you mean '%s'?", k->str, sug);
                else
                    perr(&c, k, "unknown key '%.64s' (a network unit has: kind, name, bridge, "
                                "subnet, gateway)",
                            k->str);
            }
        }
        parse_network_unit(&c, root);
    } else {
        /* Point at container-only keys in a network unit and vice versa precisely. */
        expect_map(&c, root, "", container_keys);
        parse_container_unit(&c, root);
    }
out:
    ynode_free(root);
    if (c.oom) {
        unit_free(u);
        diags_add(d, path, 0, 0, "out of memory");
        return -ENOMEM;
    }
    if (c.errors || diags_count(d) > before) {
        unit_free(u);
        return -EINVAL;
    }
    *ret_unit = u;
    return 0;
}

int unit_parse_file(const char *path, struct unit **ret_unit, struct diags *d)
{
    _cleanup_free_ char *buf = NULL;
    size_t len;
    int r = read_file_at(AT_FDCWD, path, UNIT_FILE_MAX, &buf, &len);
    if (r == -EFBIG) {
        diags_add(d, path, 0, 0, "file too large (at most %d bytes)", UNIT_FILE_MAX);
        return -EINVAL;
    }
    if (r < 0) {
        diags_add(d, path, 0, 0, "cannot read: %s", strerror(-r));
        return r;
    }
    return unit_parse_buffer(path, buf, len, ret_unit, d);
}

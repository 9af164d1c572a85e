/* Canonical JSON of a parsed unit and its spec hash. Everything that changes meaning is here,
 * defaults filled, in one normal form (sizes in bytes, durations in ms, capability names
 * upper-case and sorted, env as an object), so equal meaning gives an equal hash and
 * reconcile can diff two trees key by key. Nothing positional (file, line) goes in. */
#include "unit_parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP (see unit_hash). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "util.h"

static json_t *jstr(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *jint(uint64_t v)
{
    return v == UNIT_UNSET ? json_null() : json_integer((json_int_t)v);
}

static json_t *jstrv(char *const *v)
{
    if (!v)
        return json_null();
    json_t *a = json_array();
    for (size_t i = 0; a && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static json_t *jstrv_sorted(char *const *v)
{
    if (!v)
        return json_array();
    size_t n = strv_len(v);
    const char **t = calloc(n + 1, sizeof(char *));
    if (!t)
        return NULL;
    memcpy(t, v, n * sizeof(char *));
    qsort(t, n, sizeof(char *), cmp_str);
    json_t *a = jstrv((char *const *)t);
    free(t);
    return a;
}

static json_t *jaddr(struct in_addr a)
{
    char b[INET_ADDRSTRLEN];
    return json_string(inet_ntop(AF_INET, &a, b, sizeof(b)));
}

static json_t *ns_json(const struct unit *u)
{
    json_t *o = json_object();
    for (int i = 0; o && i < _NS_MAX; i++) {
        if (i == NS_MNT)
            continue; /* always private, not configurable */
        const struct ns_spec *ns = &u->ns[i];
        json_t *v;
        switch (ns->mode) {
        case NS_HOST: v = json_string("host"); break;
        case NS_NONE: v = json_string("none"); break;
        case NS_CONTAINER: {
            char *s = strdup_printf("container:%s", ns->target ? ns->target : "");
            v = s ? json_string(s) : NULL;
            free(s);
            break;
        }
        default: v = json_string("private"); break;
        }
        json_object_set_new(o, ns_type_name((enum ns_type)i), v);
    }
    return o;
}

static json_t *resources_json(const struct resources *r)
{
    json_t *mem = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "max", jint(r->mem_max), "high",
            jint(r->mem_high), "low", jint(r->mem_low), "min", jint(r->mem_min), "swap_max",
            jint(r->mem_swap_max), "oom_group",
            r->mem_oom_group < 0 ? json_null() : json_boolean(r->mem_oom_group));
    json_t *cpu = json_pack("{s:o,s:o,s:I,s:o,s:o}", "weight", jint(r->cpu_weight), "max",
            r->cpu_max_milli == UNIT_UNSET ? json_null()
                                           : json_real((double)r->cpu_max_milli / 1000.0),
            "period", (json_int_t)(r->cpu_period_us / 1000), "cpus", jstr(r->cpus), "mems",
            jstr(r->mems));
    json_t *iomax = json_array();
    for (size_t i = 0; iomax && i < r->n_io_max; i++) {
        const struct io_max *m = &r->io_max[i];
        char dev[32];
        snprintf(dev, sizeof(dev), "%u:%u", m->major, m->minor);
        json_array_append_new(iomax, json_pack("{s:s,s:o,s:o,s:o,s:o}", "device", dev, "rbps",
                                             jint(m->rbps), "wbps", jint(m->wbps), "riops",
                                             jint(m->riops), "wiops", jint(m->wiops)));
    }
    json_t *io = json_pack("{s:o,s:o}", "weight", jint(r->io_weight), "max", iomax);
    json_t *devs = json_array();
    for (size_t i = 0; devs && i < r->n_devices; i++)
        json_array_append_new(devs, json_pack("{s:s?,s:s}", "path", r->devices[i].path,
                                            "access", r->devices[i].access));
    json_t *huge = json_object();
    for (size_t i = 0; huge && i < r->n_hugetlb; i++)
        json_object_set_new(huge, r->hugetlb_sizes[i], jint(r->hugetlb_limits[i]));
    return json_pack("{s:o,s:o,s:{s:o},s:o,s:o,s:o}", "memory", mem, "cpu", cpu, "pids", "max",
            jint(r->pids_max), "io", io, "devices", devs, "hugetlb", huge);
}

static json_t *idmap_json(const struct id_map *m, size_t n)
{
    if (!m)
        return json_null();
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_pack("{s:I,s:I,s:I}", "inside", (json_int_t)m[i].inside,
                                         "outside", (json_int_t)m[i].outside, "count",
                                         (json_int_t)m[i].count));
    return a;
}

static json_t *rlim_val(uint64_t v)
{
    return v == RLIM_INFINITY ? json_string("unlimited") : json_integer((json_int_t)v);
}

static json_t *security_json(const struct security *s)
{
    const char *seccomp = s->seccomp == SECCOMP_UNCONFINED ? "unconfined"
                          : s->seccomp == SECCOMP_PROFILE  ? s->seccomp_profile
                                                           : "default";
    json_t *rl = json_object();
    for (size_t i = 0; rl && i < s->n_rlimits; i++) {
        const char *name = unit_rlimit_name(s->rlimits[i].resource);
        if (name)
            json_object_set_new(rl, name, json_pack("{s:o,s:o}", "soft",
                                                  rlim_val(s->rlimits[i].soft), "hard",
                                                  rlim_val(s->rlimits[i].hard)));
    }
    json_t *sc = json_object();
    for (size_t i = 0; sc && i < s->n_sysctl; i++)
        json_object_set_new(sc, s->sysctl[i].key, json_string(s->sysctl[i].value));
    return json_pack("{s:{s:o,s:o},s:s?,s:b,s:b,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
            "capabilities", "add", jstrv_sorted(s->cap_add), "drop", jstrv_sorted(s->cap_drop),
            "seccomp", seccomp, "no_new_privileges", s->no_new_privileges, "readonly_rootfs",
            s->readonly_rootfs, "masked_paths", jstrv(s->masked_paths), "readonly_paths",
            jstrv(s->readonly_paths), "rlimits", rl, "sysctl", sc, "apparmor", jstr(s->apparmor),
            "selinux_label", jstr(s->selinux_label), "uid_map", idmap_json(s->uid_map, s->n_uid_map),
            "gid_map", idmap_json(s->gid_map, s->n_gid_map));
}

static json_t *health_json(const struct health_spec *h)
{
    if (h->kind == HEALTH_NONE)
        return json_null();
    json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:s}", "interval", (json_int_t)h->interval_ms,
            "timeout", (json_int_t)h->timeout_ms, "retries", (json_int_t)h->retries,
            "start_period", (json_int_t)h->start_period_ms, "on_unhealthy",
            h->on_unhealthy_restart ? "restart" : "none");
    if (!o)
        return NULL;
    switch (h->kind) {
    case HEALTH_COMMAND: json_object_set_new(o, "command", jstrv(h->command)); break;
    case HEALTH_HTTP:
        json_object_set_new(o, "http", json_pack("{s:i,s:s}", "port", (int)h->port, "path",
                                               h->path ? h->path : "/"));
        break;
    case HEALTH_TCP: json_object_set_new(o, "tcp", json_pack("{s:i}", "port", (int)h->port)); break;
    default: break;
    }
    return o;
}

static json_t *container_json(const struct unit *u)
{
    json_t *env = json_null();
    if (u->env) {
        env = json_object();
        for (size_t i = 0; env && u->env[i]; i++) {
            const char *eq = strchr(u->env[i], '=');
            if (!eq)
                continue;
            char *k = strndup(u->env[i], (size_t)(eq - u->env[i]));
            if (k)
                json_object_set_new(env, k, json_string(eq + 1));
            free(k);
        }
    }
    json_t *nets = json_array();
    for (size_t i = 0; nets && i < u->n_networks; i++)
        json_array_append_new(nets, json_pack("{s:s?,s:o}", "name", u->networks[i].name,
                                            "address", jstr(u->networks[i].address)));
    json_t *mounts = json_array();
    for (size_t i = 0; mounts && i < u->n_mounts; i++) {
        const struct mount_spec *m = &u->mounts[i];
        json_t *o;
        if (m->type == MOUNT_BIND)
            o = json_pack("{s:s,s:s?,s:s?,s:b,s:b}", "type", "bind", "source", m->source,
                    "target", m->target, "readonly", m->readonly, "recursive", m->recursive);
        else
            o = json_pack("{s:s,s:s?,s:b,s:o,s:I}", "type", "tmpfs", "target", m->target,
                    "readonly", m->readonly, "size", jint(m->size), "mode", (json_int_t)m->mode);
        json_array_append_new(mounts, o);
    }
    json_t *codes = json_array();
    for (size_t i = 0; codes && i < u->restart.n_prevent_exit_codes; i++)
        json_array_append_new(codes, json_integer(u->restart.prevent_exit_codes[i]));
    const struct restart_spec *rs = &u->restart;
    json_t *restart = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:o,s:s}", "policy",
            restart_policy_name(rs->policy), "delay", (json_int_t)rs->delay_ms, "max_delay",
            (json_int_t)rs->max_delay_ms, "reset_after", (json_int_t)rs->reset_after_ms, "burst",
            (json_int_t)rs->burst, "interval", (json_int_t)rs->interval_ms, "prevent_exit_codes",
            codes, "on_give_up", rs->on_give_up == GIVE_UP_REBOOT ? "reboot" : "stay-failed");
    const char *sig = unit_signal_name(u->stop.signal);
    json_t *stop = json_pack("{s:s?,s:I}", "signal", sig, "timeout", (json_int_t)u->stop.timeout_ms);
    json_t *deps = json_object();
    for (size_t i = 0; deps && i < u->n_deps; i++)
        json_object_set_new(deps, u->deps[i].name,
                json_pack("{s:s,s:b}", "condition", dep_condition_name(u->deps[i].condition),
                        "restart", u->deps[i].restart));
    return json_pack("{s:s,s:s?,s:s?,s:o,s:o,s:o,s:o,s:s?,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,"
                     "s:b,s:o}",
            "kind", "container", "name", u->name, "image", u->image, "command", jstrv(u->command),
            "env", env, "workdir", jstr(u->workdir), "user", jstr(u->user), "hostname",
            u->hostname ? u->hostname : u->name, "namespaces", ns_json(u), "networks", nets,
            "mounts", mounts, "resources", resources_json(&u->res), "security",
            security_json(&u->sec), "restart", restart, "stop", stop, "health",
            health_json(&u->health), "depends_on", deps, "critical", u->critical, "dns",
            jstrv(u->dns));
}

static json_t *network_json(const struct unit *u)
{
    char subnet[INET_ADDRSTRLEN + 4];
    char a[INET_ADDRSTRLEN];
    snprintf(subnet, sizeof(subnet), "%s/%u", inet_ntop(AF_INET, &u->subnet, a, sizeof(a)),
            u->prefix_len);
    return json_pack("{s:s,s:s?,s:s?,s:s,s:o}", "kind", "network", "name", u->name, "bridge",
            u->bridge, "subnet", subnet, "gateway", jaddr(u->gateway));
}

json_t *unit_to_json(const struct unit *u)
{
    /* json_pack with "o" steals references, also on failure, and fails on a NULL member, so
     * an OOM anywhere gives NULL here without leaks. */
    return u->kind == UNIT_NETWORK ? network_json(u) : container_json(u);
}

int unit_hash(const struct unit *u, char out[65])
{
    json_t *j = unit_to_json(u);
    if (!j)
        return -ENOMEM;
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(j);
    if (!s)
        return -ENOMEM;
    /* The direct SHA-256 functions, not EVP: EVP_Digest first initializes OpenSSL 3's
     * provider machinery (config, name maps, method stores), which made the long-running
     * daemon touch ~1 MiB of libcrypto code and keep ~200 KiB of heap just to hash specs. */
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256_CTX c;
    int ok = SHA256_Init(&c) && SHA256_Update(&c, s, strlen(s)) && SHA256_Final(md, &c);
    free(s);
    if (!ok)
        return -ENOMEM;
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

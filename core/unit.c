#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static void resources_free(struct resources *r)
{
    free(r->cpus);
    free(r->mems);
    free(r->io_max);
    for (size_t i = 0; i < r->n_devices; i++)
        free(r->devices[i].path);
    free(r->devices);
    for (size_t i = 0; i < r->n_hugetlb; i++)
        free(r->hugetlb_sizes[i]);
    free(r->hugetlb_sizes);
    free(r->hugetlb_limits);
}

static void security_free(struct security *s)
{
    strv_free(s->cap_add);
    strv_free(s->cap_drop);
    free(s->seccomp_profile);
    strv_free(s->masked_paths);
    strv_free(s->readonly_paths);
    free(s->rlimits);
    for (size_t i = 0; i < s->n_sysctl; i++) {
        free(s->sysctl[i].key);
        free(s->sysctl[i].value);
    }
    free(s->sysctl);
    free(s->apparmor);
    free(s->selinux_label);
    free(s->uid_map);
    free(s->gid_map);
}

struct unit *unit_free(struct unit *u)
{
    if (!u)
        return NULL;
    free(u->name);
    free(u->path);
    free(u->image);
    strv_free(u->command);
    strv_free(u->env);
    free(u->workdir);
    free(u->user);
    free(u->hostname);
    for (int i = 0; i < _NS_MAX; i++)
        free(u->ns[i].target);
    for (size_t i = 0; i < u->n_networks; i++) {
        free(u->networks[i].name);
        free(u->networks[i].address);
    }
    free(u->networks);
    for (size_t i = 0; i < u->n_mounts; i++) {
        free(u->mounts[i].source);
        free(u->mounts[i].target);
    }
    free(u->mounts);
    resources_free(&u->res);
    security_free(&u->sec);
    free(u->restart.prevent_exit_codes);
    strv_free(u->health.command);
    free(u->health.path);
    for (size_t i = 0; i < u->n_deps; i++)
        free(u->deps[i].name);
    free(u->deps);
    strv_free(u->dns);
    free(u->bridge);
    unit_drop_locs(u);
    free(u);
    return NULL;
}

void unit_drop_locs(struct unit *u)
{
    for (size_t i = 0; i < u->n_locs; i++)
        free(u->locs[i].path);
    free(u->locs);
    u->locs = NULL;
    u->n_locs = 0;
}

void unit_set_clear(struct unit_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        unit_free(s->units[i]);
    free(s->units);
    s->units = NULL;
    s->n = 0;
}

struct unit *unit_set_find(const struct unit_set *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (STREQ(s->units[i]->name, name))
            return s->units[i];
    return NULL;
}

struct unit_pos unit_pos_of(const struct unit *u, const char *path)
{
    for (size_t i = 0; i < u->n_locs; i++)
        if (STREQ(u->locs[i].path, path))
            return u->locs[i].pos;
    return (struct unit_pos){0, 0};
}

const char *ns_type_name(enum ns_type t)
{
    static const char *names[_NS_MAX] = {
            [NS_PID] = "pid",
            [NS_NET] = "net",
            [NS_IPC] = "ipc",
            [NS_UTS] = "uts",
            [NS_MNT] = "mnt",
            [NS_CGROUP] = "cgroup",
            [NS_USER] = "user",
            [NS_TIME] = "time",
    };
    return t < _NS_MAX ? names[t] : "?";
}

const char *restart_policy_name(enum restart_policy p)
{
    static const char *names[] = {"no", "on-failure", "always", "unless-stopped"};
    return p <= RESTART_UNLESS_STOPPED ? names[p] : "?";
}

const char *dep_condition_name(enum dep_condition c)
{
    static const char *names[] = {"started", "healthy", "completed"};
    return c <= DEP_COMPLETED ? names[c] : "?";
}

/* Reconcile: pure diff of desired units against existing containers, ordered by dependencies.
 * Keys compare by canonical JSON so that comments, key order and spelled-out defaults in the
 * unit file never cause a restart. */
#include "reconcile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

const char *rec_kind_name(enum rec_kind k)
{
    static const char *names[_REC_KIND_MAX] = {
            [REC_KEEP] = "keep",
            [REC_CREATE] = "create",
            [REC_UPDATE] = "update",
            [REC_REPLACE] = "replace",
            [REC_REMOVE] = "remove",
    };
    return k < _REC_KIND_MAX ? names[k] : "?";
}

bool rec_path_is_live(const char *path)
{
    /* cgroup limits are written in place; the rest are read by the supervisor itself. */
    static const char *live[] = {"resources.memory", "resources.cpu", "resources.pids",
            "resources.io", "restart", "stop", "health", "depends_on", "critical"};
    for (size_t i = 0; i < ARRAY_SIZE(live); i++) {
        size_t n = strlen(live[i]);
        if (strncmp(path, live[i], n) == 0 && (path[n] == 0 || path[n] == '.' || path[n] == '['))
            return true;
    }
    return false;
}

static bool path_is_size(const char *path)
{
    return strncmp(path, "resources.memory.", 17) == 0 || strstr(path, "size") != NULL;
}

static char *value_str(const json_t *v, const char *path)
{
    if (!v)
        return strdup("(absent)");
    if (json_is_integer(v) && path_is_size(path) && json_integer_value(v) >= 0) {
        char buf[64];
        format_size((uint64_t)json_integer_value(v), buf, sizeof(buf));
        return strdup(buf);
    }
    if (json_is_string(v))
        return strdup(json_string_value(v));
    return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

static int push_change(struct rec_change **v, size_t *n, const char *path, const json_t *a,
        const json_t *b)
{
    struct rec_change *nv = realloc(*v, (*n + 1) * sizeof(**v));
    if (!nv)
        return -ENOMEM;
    *v = nv;
    struct rec_change *c = &nv[*n];
    c->path = strdup(path);
    c->old_value = value_str(a, path);
    c->new_value = value_str(b, path);
    if (!c->path || !c->old_value || !c->new_value) {
        free(c->path);
        free(c->old_value);
        free(c->new_value);
        return -ENOMEM;
    }
    (*n)++;
    return 0;
}

static int diff_at(const char *path, const json_t *a, const json_t *b, struct rec_change **v,
        size_t *n)
{
    if (a && b && json_is_object(a) && json_is_object(b)) {
        const char *key;
        json_t *va;
        /* Sorted key walk keeps the output deterministic. */
        json_t *keys = json_array();
        if (!keys)
            return -ENOMEM;
        json_object_foreach((json_t *)a, key, va) json_array_append_new(keys, json_string(key));
        json_object_foreach((json_t *)b, key, va) if (!json_object_get(a, key))
                json_array_append_new(keys, json_string(key));
        size_t nk = json_array_size(keys);
        const char **ks = calloc(nk ? nk : 1, sizeof(*ks));
        if (!ks) {
            json_decref(keys);
            return -ENOMEM;
        }
        for (size_t i = 0; i < nk; i++)
            ks[i] = json_string_value(json_array_get(keys, i));
        for (size_t i = 1; i < nk; i++)
            for (size_t j = i; j > 0 && strcmp(ks[j - 1], ks[j]) > 0; j--) {
                const char *t = ks[j];
                ks[j] = ks[j - 1];
                ks[j - 1] = t;
            }
        int r = 0;
        for (size_t i = 0; i < nk && r >= 0; i++) {
            char *sub = *path ? strdup_printf("%s.%s", path, ks[i]) : strdup(ks[i]);
            if (!sub) {
                r = -ENOMEM;
                break;
            }
            r = diff_at(sub, json_object_get(a, ks[i]), json_object_get(b, ks[i]), v, n);
            free(sub);
        }
        free(ks);
        json_decref(keys);
        return r;
    }
    if (a && b && json_is_array(a) && json_is_array(b) && json_array_size(a) == json_array_size(b)
            && json_array_size(a) > 0 && json_is_object(json_array_get(a, 0))) {
        /* Same-length lists of mappings: name the element and key (networks[1].address). */
        for (size_t i = 0; i < json_array_size(a); i++) {
            char *sub = strdup_printf("%s[%zu]", path, i);
            if (!sub)
                return -ENOMEM;
            int r = diff_at(sub, json_array_get(a, i), json_array_get(b, i), v, n);
            free(sub);
            if (r < 0)
                return r;
        }
        return 0;
    }
    if (a && b && json_equal((json_t *)a, (json_t *)b))
        return 0;
    if (!a && !b)
        return 0;
    return push_change(v, n, *path ? path : "*", a, b);
}

int rec_json_diff(const json_t *old, const json_t *new, struct rec_change **v, size_t *n)
{
    return diff_at("", old, new, v, n);
}

static void action_clear(struct rec_action *a)
{
    free(a->name);
    for (size_t i = 0; i < a->n_changes; i++) {
        free(a->changes[i].path);
        free(a->changes[i].old_value);
        free(a->changes[i].new_value);
    }
    free(a->changes);
}

void rec_plan_clear(struct rec_plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        action_clear(&p->v[i]);
    free(p->v);
    p->v = NULL;
    p->n = 0;
}

size_t rec_plan_n_changes(const struct rec_plan *p)
{
    size_t c = 0;
    for (size_t i = 0; i < p->n; i++)
        c += p->v[i].kind != REC_KEEP;
    return c;
}

/* Dependency depth of node i (0 = depends on nothing in the set); cycles (rejected by the
 * parser already) are cut by the visiting mark. */
struct node {
    const char *name;
    const char *const *deps;
    size_t n_deps;
    int depth;  /* -1 unknown */
    bool visiting;
};

static int node_find(const struct node *nodes, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (STREQ(nodes[i].name, name))
            return (int)i;
    return -1;
}

static int node_depth(struct node *nodes, size_t n, size_t i)
{
    if (nodes[i].depth >= 0)
        return nodes[i].depth;
    if (nodes[i].visiting)
        return 0;
    nodes[i].visiting = true;
    int d = 0;
    for (size_t k = 0; k < nodes[i].n_deps; k++) {
        int j = node_find(nodes, n, nodes[i].deps[k]);
        if (j >= 0 && (size_t)j != i) {
            int dj = node_depth(nodes, n, (size_t)j) + 1;
            if (dj > d)
                d = dj;
        }
    }
    nodes[i].visiting = false;
    nodes[i].depth = d;
    return d;
}

struct ordered {
    size_t idx;
    int depth;
};

static int cmp_asc(const void *x, const void *y)
{
    const struct ordered *a = x, *b = y;
    if (a->depth != b->depth)
        return a->depth - b->depth;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int cmp_desc(const void *x, const void *y)
{
    const struct ordered *a = x, *b = y;
    if (a->depth != b->depth)
        return b->depth - a->depth;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Name lookups through an index sorted by name (plans of thousands of units stay cheap). */
struct by_name {
    const char *name;
    size_t idx;
};

static int cmp_by_name(const void *a, const void *b)
{
    return strcmp(((const struct by_name *)a)->name, ((const struct by_name *)b)->name);
}

static long lookup(const struct by_name *ix, size_t n, const char *name)
{
    struct by_name key = {name, 0};
    const struct by_name *f = bsearch(&key, ix, n, sizeof(*ix), cmp_by_name);
    return f ? (long)f->idx : -1;
}

static int plan_push(struct rec_plan *p, enum rec_kind k, const char *name, long want_index,
        struct rec_change *ch, size_t n_ch)
{
    struct rec_action *nv = realloc(p->v, (p->n + 1) * sizeof(*nv));
    if (!nv)
        return -ENOMEM;
    p->v = nv;
    nv[p->n] = (struct rec_action){.kind = k, .name = strdup(name), .want_index = want_index,
            .changes = ch, .n_changes = n_ch};
    if (!nv[p->n].name)
        return -ENOMEM;
    p->n++;
    return 0;
}

int rec_diff(const struct rec_want *want, size_t n_want, const struct rec_have *have,
        size_t n_have, struct rec_plan *ret_plan)
{
    struct rec_plan plan = {0};
    int r = -ENOMEM;
    struct node *wn = calloc(n_want + 1, sizeof(*wn));
    struct node *hn = calloc(n_have + 1, sizeof(*hn));
    struct ordered *wo = calloc(n_want + 1, sizeof(*wo));
    struct ordered *ho = calloc(n_have + 1, sizeof(*ho));
    struct by_name *wix = calloc(n_want + 1, sizeof(*wix));
    struct by_name *hix = calloc(n_have + 1, sizeof(*hix));
    if (!wn || !hn || !wo || !ho || !wix || !hix)
        goto out;
    for (size_t i = 0; i < n_want; i++)
        wix[i] = (struct by_name){want[i].name, i};
    for (size_t i = 0; i < n_have; i++)
        hix[i] = (struct by_name){have[i].name, i};
    qsort(wix, n_want, sizeof(*wix), cmp_by_name);
    qsort(hix, n_have, sizeof(*hix), cmp_by_name);

    for (size_t i = 0; i < n_want; i++)
        wn[i] = (struct node){want[i].name, want[i].deps, want[i].n_deps, -1, false};
    for (size_t i = 0; i < n_have; i++)
        hn[i] = (struct node){have[i].name, have[i].deps, have[i].n_deps, -1, false};
    for (size_t i = 0; i < n_want; i++)
        wo[i] = (struct ordered){i, node_depth(wn, n_want, i)};
    for (size_t i = 0; i < n_have; i++)
        ho[i] = (struct ordered){i, node_depth(hn, n_have, i)};
    qsort(wo, n_want, sizeof(*wo), cmp_asc);
    qsort(ho, n_have, sizeof(*ho), cmp_desc);

    /* Removals first, dependents before their dependencies. Only what mgr created. */
    for (size_t k = 0; k < n_have; k++) {
        const struct rec_have *h = &have[ho[k].idx];
        if (h->ours && lookup(wix, n_want, h->name) < 0) {
            r = plan_push(&plan, REC_REMOVE, h->name, -1, NULL, 0);
            if (r < 0)
                goto out;
        }
    }
    for (size_t k = 0; k < n_want; k++) {
        const struct rec_want *w = &want[wo[k].idx];
        long hi = lookup(hix, n_have, w->name);
        const struct rec_have *h = hi >= 0 ? &have[hi] : NULL;
        struct rec_change *ch = NULL;
        size_t n_ch = 0;
        enum rec_kind kind;
        if (!h) {
            kind = REC_CREATE;
        } else if (h->hash && w->hash && STREQ(h->hash, w->hash)) {
            kind = REC_KEEP;
        } else {
            if (h->spec && w->spec)
                r = rec_json_diff(h->spec, w->spec, &ch, &n_ch);
            else
                r = push_change(&ch, &n_ch, "*", NULL, NULL);
            if (r < 0) {
                struct rec_action tmp = {.changes = ch, .n_changes = n_ch};
                action_clear(&tmp);
                goto out;
            }
            kind = n_ch > 0 ? REC_UPDATE : REC_KEEP;
            for (size_t i = 0; i < n_ch; i++)
                if (!rec_path_is_live(ch[i].path))
                    kind = REC_REPLACE;
            /* A hash change without a visible JSON difference (e.g. hash algorithm bump):
             * replace, to be safe, naming the hash. */
            if (n_ch == 0) {
                kind = REC_REPLACE;
                r = push_change(&ch, &n_ch, "hash", NULL, NULL);
                if (r < 0)
                    goto out;
            }
        }
        r = plan_push(&plan, kind, w->name, (long)wo[k].idx, ch, n_ch);
        if (r < 0) {
            struct rec_action tmp = {.changes = ch, .n_changes = n_ch};
            action_clear(&tmp);
            goto out;
        }
    }
    *ret_plan = plan;
    plan = (struct rec_plan){0};
    r = 0;
out:
    rec_plan_clear(&plan);
    free(wn);
    free(hn);
    free(wo);
    free(ho);
    free(wix);
    free(hix);
    return r;
}

json_t *rec_plan_to_json(const struct rec_plan *p)
{
    json_t *a = json_array();
    if (!a)
        return NULL;
    for (size_t i = 0; i < p->n; i++) {
        const struct rec_action *ac = &p->v[i];
        json_t *ch = json_array();
        for (size_t k = 0; ch && k < ac->n_changes; k++)
            json_array_append_new(ch, json_pack("{s:s,s:s,s:s}", "path", ac->changes[k].path,
                    "old", ac->changes[k].old_value, "new", ac->changes[k].new_value));
        json_t *o = json_pack("{s:s,s:s,s:o*}", "action", rec_kind_name(ac->kind), "name",
                ac->name, "changes", ch);
        if (!o || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

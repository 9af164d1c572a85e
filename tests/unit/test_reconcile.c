/* Table-driven tests of the pure reconcile diff: create/keep/update/replace/remove, key paths
 * named, dependency order. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "reconcile.h"

struct spec {
    const char *name;
    const char *json; /* spec; hash is the JSON text itself (distinct text = distinct hash) */
    const char *deps[3];
    bool ours;
};

struct rcase {
    const char *title;
    struct spec want[4];
    struct spec have[4];
    const char *expect; /* "kind name[path,...]; ..." in plan order */
};

static const struct rcase cases[] = {
        {"empty", {{0}}, {{0}}, ""},
        {"create", {{"a", "{\"image\":\"x\"}"}}, {{0}}, "create a"},
        {"keep", {{"a", "{\"image\":\"x\"}"}}, {{"a", "{\"image\":\"x\"}", .ours = true}},
                "keep a"},
        {"live memory update",
                {{"a", "{\"image\":\"x\",\"resources\":{\"memory\":{\"max\":67108864}}}"}},
                {{"a", "{\"image\":\"x\",\"resources\":{\"memory\":{\"max\":134217728}}}",
                        .ours = true}},
                "update a[resources.memory.max:128M->64M]"},
        {"image change replaces",
                {{"a", "{\"image\":\"y\",\"restart\":{\"delay\":1}}"}},
                {{"a", "{\"image\":\"x\",\"restart\":{\"delay\":2}}", .ours = true}},
                "replace a[image:x->y,restart.delay:2->1]"},
        {"list of mappings names the index",
                {{"a", "{\"networks\":[{\"name\":\"n\"},{\"name\":\"m\",\"address\":\"10.0.0.3\"}]}"}},
                {{"a", "{\"networks\":[{\"name\":\"n\"},{\"name\":\"m\",\"address\":\"10.0.0.2\"}]}",
                        .ours = true}},
                "replace a[networks[1].address:10.0.0.2->10.0.0.3]"},
        {"added key", {{"a", "{\"env\":[\"A=1\"]}"}}, {{"a", "{}", .ours = true}},
                "replace a[env:(absent)->[\"A=1\"]]"},
        {"remove only ours", {{0}},
                {{"a", "{}", .ours = true}, {"b", "{}", .ours = false}}, "remove a"},
        {"create in dependency order",
                {{"web", "{}", {"app"}}, {"app", "{}", {"db"}}, {"db", "{}"}}, {{0}},
                "create db; create app; create web"},
        {"remove dependents first", {{0}},
                {{"db", "{}", .ours = true}, {"web", "{}", {"app"}, true},
                        {"app", "{}", {"db"}, true}},
                "remove web; remove app; remove db"},
        {"mixed",
                {{"app", "{\"v\":2}", {"db"}}, {"db", "{}"}, {"new", "{}"}},
                {{"db", "{}", .ours = true}, {"app", "{\"v\":1}", {"db"}, true},
                        {"old", "{}", .ours = true}},
                "remove old; keep db; create new; replace app[v:1->2]"},
};

static size_t load(const struct spec *s, json_t **specs)
{
    size_t n = 0;
    while (n < 4 && s[n].name) {
        specs[n] = json_loads(s[n].json, 0, NULL);
        n++;
    }
    return n;
}

static void render(const struct rec_plan *p, char *buf, size_t len)
{
    buf[0] = 0;
    for (size_t i = 0; i < p->n; i++) {
        const struct rec_action *a = &p->v[i];
        size_t l = strlen(buf);
        snprintf(buf + l, len - l, "%s%s %s", i ? "; " : "", rec_kind_name(a->kind), a->name);
        for (size_t k = 0; k < a->n_changes; k++) {
            l = strlen(buf);
            snprintf(buf + l, len - l, "%s%s:%s->%s%s", k ? "," : "[", a->changes[k].path,
                    a->changes[k].old_value, a->changes[k].new_value,
                    k + 1 == a->n_changes ? "]" : "");
        }
    }
}

static int test_cases(void)
{
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        json_t *ws[4] = {0}, *hs[4] = {0};
        size_t nw = load(cases[c].want, ws), nh = load(cases[c].have, hs);
        struct rec_want w[4];
        struct rec_have h[4];
        for (size_t i = 0; i < nw; i++) {
            const struct spec *s = &cases[c].want[i];
            size_t nd = 0;
            while (nd < 3 && s->deps[nd])
                nd++;
            w[i] = (struct rec_want){s->name, s->json, ws[i], s->deps, nd};
        }
        for (size_t i = 0; i < nh; i++) {
            const struct spec *s = &cases[c].have[i];
            size_t nd = 0;
            while (nd < 3 && s->deps[nd])
                nd++;
            h[i] = (struct rec_have){s->name, s->json, hs[i], s->deps, nd, s->ours};
        }
        struct rec_plan p = {0};
        CHECK(rec_diff(w, nw, h, nh, &p) == 0);
        char buf[1024];
        render(&p, buf, sizeof(buf));
        if (strcmp(buf, cases[c].expect) != 0)
            fprintf(stderr, "  case '%s'\n", cases[c].title);
        CHECK_STR(buf, cases[c].expect);
        json_t *j = rec_plan_to_json(&p);
        CHECK(j && json_array_size(j) == p.n);
        json_decref(j);
        rec_plan_clear(&p);
        for (size_t i = 0; i < 4; i++) {
            json_decref(ws[i]);
            json_decref(hs[i]);
        }
    }
    return 0;
}

static int test_live_paths(void)
{
    CHECK(rec_path_is_live("resources.memory.max"));
    CHECK(rec_path_is_live("resources.cpu.weight"));
    CHECK(rec_path_is_live("restart.delay"));
    CHECK(rec_path_is_live("health"));
    CHECK(!rec_path_is_live("resources.devices[0].path"));
    CHECK(!rec_path_is_live("image"));
    CHECK(!rec_path_is_live("restarts"));
    CHECK(!rec_path_is_live("command"));
    return 0;
}

int main(void)
{
    RUN(test_cases);
    RUN(test_live_paths);
    return HARNESS_END();
}

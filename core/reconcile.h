#pragma once
/* Reconcile: (desired units, actual containers) -> an ordered, explainable plan. Pure: no I/O,
 * no clock. The spec of a unit is its canonical JSON (unit_to_json) and its hash (unit_hash);
 * a changed hash means create-new (replace) unless every changed key path can be applied live
 * (rec_path_is_live), which makes it an in-place update. */
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

enum rec_kind { REC_KEEP, REC_CREATE, REC_UPDATE, REC_REPLACE, REC_REMOVE, _REC_KIND_MAX };

/* One desired unit (borrowed pointers). deps: names this unit must follow when starting
 * (depends_on and networks); a dependency not in the desired set is ignored for ordering. */
struct rec_want {
    const char *name;
    const char *hash;
    const json_t *spec;
    const char *const *deps;
    size_t n_deps;
};

/* One existing container/network as recorded in state (borrowed pointers). ours: created by
 * mgr (only those are ever removed). spec may be NULL when the record has none (then any hash
 * change is a replace naming the path "*"). */
struct rec_have {
    const char *name;
    const char *hash;
    const json_t *spec;
    const char *const *deps;
    size_t n_deps;
    bool ours;
};

/* One changed key path with compact JSON (or formatted size) of old and new ("(absent)"). */
struct rec_change {
    char *path;
    char *old_value;
    char *new_value;
};

struct rec_action {
    enum rec_kind kind;
    char *name;
    long want_index; /* index into the desired array, -1 for REC_REMOVE */
    struct rec_change *changes; /* REC_UPDATE / REC_REPLACE */
    size_t n_changes;
};

/* Ordered: removals first (dependents before what they depend on), then creates, replaces,
 * updates and keeps in dependency order (dependencies first). Within one dependency level
 * actions are independent and may run concurrently. */
struct rec_plan {
    struct rec_action *v;
    size_t n;
};

/* Computes the plan. Returns 0 or -ENOMEM (*ret_plan untouched on error). */
int rec_diff(const struct rec_want *want, size_t n_want, const struct rec_have *have,
        size_t n_have, struct rec_plan *ret_plan);
/* Frees the plan's contents; the struct is left empty. */
void rec_plan_clear(struct rec_plan *p);
/* Number of actions that change something (everything but REC_KEEP). */
size_t rec_plan_n_changes(const struct rec_plan *p);
/* Tree diff of two JSON values: appends "a.b[2].c" paths whose values differ. 0 or -ENOMEM. */
int rec_json_diff(const json_t *old, const json_t *new, struct rec_change **v, size_t *n);
/* True if a change at this key path can be applied to a running container without restart
 * (resources.* cgroup limits, and supervisor-only settings: restart, stop, health,
 * depends_on, critical). */
bool rec_path_is_live(const char *path);
/* "create", "replace", ... */
const char *rec_kind_name(enum rec_kind k);
/* The plan as JSON: [{"action":"update","name":"web","changes":[{"path":..,"old":..,"new":..}]}].
 * New reference; NULL on OOM. */
json_t *rec_plan_to_json(const struct rec_plan *p);

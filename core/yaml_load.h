#pragma once
/* libyaml event stream -> a small node tree with positions, with hard bounds enforced while
 * parsing (size, depth, node count, scalar length). Aliases and anchors are refused, never
 * expanded; duplicate mapping keys are errors. One document per file. */
#include <stdbool.h>
#include <stddef.h>

struct diags;

enum ynode_type { YN_SCALAR, YN_SEQ, YN_MAP };

struct ynode {
    enum ynode_type type;
    int line, col; /* 1-based start position */
    /* YN_SCALAR */
    char *str;
    size_t len;
    bool plain; /* unquoted, untagged: may be null/bool/number */
    /* YN_SEQ: items[0..n); YN_MAP: keys[i] = items[2i], values[i] = items[2i+1], n pairs */
    struct ynode **items;
    size_t n;
    size_t n_items; /* entries in items[] (a map may end with a lone key on error) */
};

/* Parses buf. On success (0) *ret is the root node (NULL for an empty document) owned by the
 * caller (ynode_free). On error returns -EINVAL and adds "path:line:col" errors to d;
 * *ret untouched. Returns -ENOMEM on OOM. */
int yaml_load(const char *path, const char *buf, size_t len, struct ynode **ret,
        struct diags *d);
/* Frees the tree; accepts NULL; returns NULL. */
struct ynode *ynode_free(struct ynode *n);
/* True if n is a plain null scalar ("", "~", "null", "Null", "NULL"). */
bool ynode_is_null(const struct ynode *n);

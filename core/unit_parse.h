#pragma once
/* Unit files: YAML -> struct unit (strict, every error with FILE:LINE:COLUMN), set-level
 * checks over a directory, canonical JSON and spec hash.
 *
 * Error convention: functions return 0 when no error was found, -EINVAL when input errors
 * were reported in the diagnostics list, or another negative errno (-ENOMEM, -EACCES...)
 * for system errors (also reported in the list, with the path). Diagnostics accumulate:
 * callers pass one list through several calls and print it once. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "unit.h"

/* Bounds on hostile input, enforced while parsing (stop early). */
#define UNIT_FILE_MAX    (1024 * 1024) /* bytes per unit file */
#define UNIT_DEPTH_MAX   64            /* nesting of mappings/sequences */
#define UNIT_NODES_MAX   65536         /* YAML nodes per file */
#define UNIT_SCALAR_MAX  65536         /* bytes per scalar */
#define UNIT_DIAGS_MAX   1000          /* diagnostics kept (further ones are counted only) */

struct diag {
    char *file; /* NULL when not about a file */
    int line;   /* 1-based; 0 when unknown */
    int col;    /* 1-based; 0 when unknown */
    char *msg;  /* without "error: " prefix */
};

struct diags {
    struct diag *v;
    size_t n;
    size_t n_dropped; /* beyond UNIT_DIAGS_MAX */
};

/* Appends an error. Never fails visibly (OOM drops the message but still counts it). */
void diags_add(struct diags *d, const char *file, int line, int col, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
/* Number of errors recorded (including dropped ones). */
size_t diags_count(const struct diags *d);
/* Sorts by file, line, column (stable), for deterministic output. */
void diags_sort(struct diags *d);
/* Prints each as "FILE:LINE:COLUMN: error: MSG" (GCC style; parts omitted when unknown). */
void diags_print(FILE *f, const struct diags *d);
/* Frees the entries; d stays usable (empty). */
void diags_clear(struct diags *d);

/* Parses one unit from memory. path is used for messages and for the default name (file name
 * without .yaml/.yml). On success *ret_unit is a defaults-filled unit owned by the caller.
 * On input errors returns -EINVAL, adds every error found to d, and *ret_unit is untouched. */
int unit_parse_buffer(const char *path, const char *buf, size_t len, struct unit **ret_unit,
        struct diags *d);
/* Reads path (at most UNIT_FILE_MAX bytes) and parses it. No ownership/mode checks. */
int unit_parse_file(const char *path, struct unit **ret_unit, struct diags *d);

/* Loads every *.yaml / *.yml in dir (not recursive, sorted by name) into set (which the caller
 * zero-initialises and later frees with unit_set_clear), then runs unit_check_set().
 * Refuses (as an error, like sshd StrictModes) files that are group/world-writable or owned
 * by anyone but root or the current user; symlinks are followed and the target is checked.
 * Units with errors are not added to set; valid ones are, so a caller may decide to keep
 * going. Returns 0 when everything is valid, -EINVAL when d got errors, -errno when the
 * directory cannot be read. */
int unit_load_dir(const char *dir, struct unit_set *set, struct diags *d);
/* For `mgr validate FILE|DIR...`: each path is a unit file (any name; mode checked as above)
 * or a directory (as unit_load_dir); all go into one set, then unit_check_set(). */
int unit_load_paths(char *const *paths, size_t n_paths, struct unit_set *set, struct diags *d);

/* Set-level checks (pure): duplicate names, dependency cycles, references to missing
 * networks/containers, static addresses outside the subnet or clashing, overlapping subnets,
 * duplicate bridge names. Returns 0 or -EINVAL with errors added to d. */
int unit_check_set(const struct unit_set *set, struct diags *d);

/* Canonical, defaults-filled JSON of the spec (no positions, no file path; sizes in bytes,
 * durations in ms). Keys match the YAML keys. New reference owned by the caller; NULL on OOM. */
json_t *unit_to_json(const struct unit *u);
/* sha256 hex (64 chars + NUL) of the compact, sorted-keys unit_to_json(). 0 or -ENOMEM. */
int unit_hash(const struct unit *u, char out[65]);

/* Canonical upper-case capability name without "CAP_" for s (any case, with or without CAP_;
 * "ALL" accepted), or NULL when unknown. Static storage. */
const char *unit_cap_canonical(const char *s);
/* Default bridge of network NAME: "mgr-NAME" when it fits IFNAMSIZ (15 characters), else
 * "mgr-" + first 6 characters + "-" + 4 hex digits of a hash of the whole name. */
void unit_default_bridge(const char *name, char ret[16]);
/* Signal number for "SIGTERM"/"TERM"/"term"/"15", or -1. */
int unit_signal_parse(const char *s);
/* "SIGTERM" for 15, or NULL. */
const char *unit_signal_name(int sig);
/* "nofile" for RLIMIT_NOFILE (the unit file key), or NULL. */
const char *unit_rlimit_name(int res);

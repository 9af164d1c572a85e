#pragma once
/* User namespaces: id map selection (pure), /etc/subuid parsing, and writing the maps of a
 * child from the parent. */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct unit;
struct err;
struct id_map;

/* User whose /etc/subuid and /etc/subgid ranges give the default mapping. */
#define USERNS_SUBID_USER "mgr"
/* Size of the default mapping: container ids 0..65535. */
#define USERNS_DEFAULT_COUNT 65536u
/* Host start of the default range when /etc/subuid (subgid) has no line for "mgr": far above
 * what useradd hands out (100000 + 65536 * n), documented in doc/security.md. */
#define USERNS_FALLBACK_START 1000000000u

/* Parses /etc/subuid-style text for user: the first "user:start:count" line with count >=
 * USERNS_DEFAULT_COUNT. Returns 0 with *ret_start, or -ENOENT when there is none. Pure. */
int userns_parse_subid(const char *text, const char *user, uint32_t *ret_start);
/* Resolves the uid and gid maps of u (namespaces.user: private): the unit's uid_map/gid_map,
 * else 0 -> start of the "mgr" range in /etc/subuid and /etc/subgid (65536 ids). The result
 * arrays are caller-owned (free()). */
int userns_resolve_maps(const struct unit *u, struct id_map **ret_uid, size_t *ret_n_uid,
        struct id_map **ret_gid, size_t *ret_n_gid, struct err *err);
/* Formats a map as the kernel wants it ("inside outside count\n" lines) into buf. */
int userns_format_map(const struct id_map *m, size_t n, char *buf, size_t len);
/* Parent side: writes /proc/PID/uid_map, setgroups "deny" only when we are not root (never
 * for mgr running as root), then gid_map. err does not name the unit (the caller wraps). */
int userns_write_maps(pid_t pid, const struct unit *u, struct err *err);
/* Host uid that container uid inside maps to under u's resolved map, or -ERANGE/-errno. */
int userns_host_uid(const struct unit *u, uint32_t inside, uint32_t *ret_outside,
        struct err *err);

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
/* Parent side: makes path and every directory up to and including base traversable by
 * others (adds o+x, never r or w), so the container's root, an unprivileged host uid, can
 * reach its rootfs mount point. base's own parents are left alone. */
int userns_allow_traverse(const char *base, const char *path, struct err *err);
/* Parent, before clone: idmapped copies of the rootfs layers, so that files owned by host
 * root in the layers belong to the container's root (and the container can write over them
 * through overlay copy-up). A throw-away helper user namespace with u's maps is the idmap
 * (open_tree + mount_setattr(MOUNT_ATTR_IDMAP) + move_mount to dst_dir/N, N = 0..). *ret is
 * a caller-owned strv of the new layer paths, in the order of lower. The mounts are only
 * needed until the child has mounted its overlay (its mount namespace keeps its copies):
 * call userns_idmap_cleanup() right after spawning. -EOPNOTSUPP/-EINVAL when the kernel or
 * the filesystem of a layer cannot idmap (the caller may go on without). */
int userns_idmap_layers(const struct unit *u, char *const *lower, const char *dst_dir, char ***ret,
                        struct err *err);
/* Detaches the mounts userns_idmap_layers() made under dst_dir and removes the directories
 * (and dst_dir). Missing ones are fine. */
void userns_idmap_cleanup(const char *dst_dir);
/* Parent side, for a kept upper dir (upper and work below dir) of a container with a user
 * namespace: a one-time recursive chown (lchown, not crossing into symlinks) of dir to the
 * host ids of the container's root, so that root can write its own layer; skipped when dir
 * already belongs to them. Also makes base..dir traversable (userns_allow_traverse). */
int userns_prepare_upper(const struct unit *u, const char *base, const char *dir, struct err *err);
/* Child side, first thing after the parent wrote the maps: setgroups(0), setresgid(0) and
 * setresuid(0) inside the new user namespace (keeps capabilities). */
int userns_become_root(struct err *err);
/* Host uid that container uid inside maps to under u's resolved map, or -ERANGE/-errno. */
int userns_host_uid(const struct unit *u, uint32_t inside, uint32_t *ret_outside, struct err *err);

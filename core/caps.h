#pragma once
/* Capabilities through libcap: name parsing, the default set, mask arithmetic (pure) and the
 * child-side apply (bounding, permitted/effective/inheritable, ambient, keep across setuid).
 * Masks are uint64_t with bit n = capability n. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

/* Returned by caps_from_name() for "ALL" (any case, with or without CAP_). */
#define CAPS_ALL 64

/* Capability number for a name ("net_bind_service", "CAP_NET_BIND_SERVICE", any case), or
 * CAPS_ALL for "ALL", or -EINVAL for a name unknown to libcap. Pure. */
int caps_from_name(const char *name);
/* Canonical name (upper case, without CAP_) of a capability number, into buf; returns buf, or
 * NULL for an unknown number. */
char *caps_to_name(int cap, char *buf, size_t len);
/* The OCI/podman default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL NET_BIND_SERVICE SETFCAP
 * SETGID SETPCAP SETUID SYS_CHROOT. */
uint64_t caps_default_mask(void);
/* Mask of every capability the running kernel knows (CAP_LAST_CAP). */
uint64_t caps_all_mask(void);
/* Final set from the unit's add/drop lists (NULL = empty): start from the default, remove
 * drop ("ALL" empties it), then add ("ALL" = every known cap). Unknown names -> -EINVAL with
 * the name in err. Pure. */
int caps_compute(char *const *add, char *const *drop, uint64_t *ret_mask, struct err *err);
/* Mask of the named capabilities ("ALL" = every known one); what names the key in errors
 * ("add"). Unknown names -> -EINVAL. Pure. */
int caps_mask_from_names(char *const *names, const char *what, uint64_t *ret_mask, struct err *err);
/* Mask of the capabilities in our own bounding set (what a container can be given at all).
 * Reads the process state (prctl PR_CAPBSET_READ). */
uint64_t caps_own_bounding(void);
/* Formats a mask as /proc/PID/status prints it (16 hex digits), into buf; returns buf. */
char *caps_format_mask(uint64_t mask, char *buf, size_t len);

/* Child side, before setuid: PR_SET_KEEPCAPS so the permitted set survives the uid change. */
int caps_keep_across_setuid(struct err *err);
/* Child side, after setuid/setgid, before execve: drops every capability outside mask from
 * the bounding set. Root (euid 0): permitted = effective = mask, inheritable and ambient
 * empty (as podman: root gets the bounding set back at execve anyway). Non-root: permitted =
 * effective = inheritable = ambient = nonroot_mask (the capabilities the unit added
 * explicitly, within mask), so such a user keeps them across execve and has none otherwise,
 * as with podman. Clears PR_SET_KEEPCAPS. */
int caps_apply(uint64_t mask, uint64_t nonroot_mask, struct err *err);

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
/* Formats a mask as /proc/PID/status prints it (16 hex digits), into buf; returns buf. */
char *caps_format_mask(uint64_t mask, char *buf, size_t len);

/* Child side, before setuid: PR_SET_KEEPCAPS so the permitted set survives the uid change. */
int caps_keep_across_setuid(struct err *err);
/* Child side, after setuid/setgid, before execve: drops every capability outside mask from
 * the bounding set, sets permitted = effective = mask; for a non-root user also inheritable
 * and ambient = mask (so it keeps them across execve); root gets empty inheritable/ambient
 * as with podman. Clears PR_SET_KEEPCAPS. */
int caps_apply(uint64_t mask, struct err *err);

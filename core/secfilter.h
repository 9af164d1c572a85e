#pragma once
/* Seccomp filters built with libseccomp in the parent and exported to a classic BPF program,
 * so the child only needs prctl(PR_SET_SECCOMP) to load it (no allocation after clone).
 * (Named secfilter.h, not seccomp.h, so it never shadows libseccomp's <seccomp.h>.) */
#include <stddef.h>
#include <stdint.h>
#include <linux/filter.h>

struct err;

/* An exported BPF program; owns insns. */
struct secfilter {
    struct sock_filter *insns;
    size_t n_insns;
    char **warnings; /* strv of non-fatal messages (unknown syscalls in a profile), or NULL */
};

/* Builds the built-in default profile (podman/docker default allow-list, clone namespace-flag
 * and personality argument filters, x86_64 + x86 + x32) for the capability mask caps (rules
 * conditioned on capabilities follow it). Returns 0 or -errno with err set. */
int secfilter_build_default(uint64_t caps, struct secfilter *ret, struct err *err);
/* Compiling the default profile for three arches takes libseccomp tens of milliseconds, so
 * the exported program is cached per capability mask: in memory for the life of the process,
 * and on disk as DIR/seccomp/default-<hash>.bpf (0600; the file holds its full key: table
 * version, libseccomp version, arch and mask) when a directory is set (the runtime sets its run
 * dir). A cache file not owned by us, group/world-writable or not matching its key is ignored. dir
 * is copied; NULL disables the disk cache. A different directory empties the memory cache; the same
 * one again is a no-op (cheap to call before every sec_prepare). */
void secfilter_set_cache_dir(const char *dir);
/* Builds a filter from an OCI / Docker JSON seccomp profile text (defaultAction,
 * defaultErrnoRet, architectures, syscalls[] with names/action/errnoRet/args/includes/excludes).
 * Unknown syscall names become warnings. origin names the source in messages. */
int secfilter_build_json(const char *json, size_t len, const char *origin, uint64_t caps,
                         struct secfilter *ret, struct err *err);
/* Reads path (at most 1 MiB) and calls secfilter_build_json(). */
int secfilter_build_file(const char *path, uint64_t caps, struct secfilter *ret, struct err *err);
/* Releases what f owns and zeroes it; accepts a zeroed struct. */
void secfilter_done(struct secfilter *f);
/* Child side, last step before execve: loads the program (PR_SET_SECCOMP). Needs
 * no_new_privs or CAP_SYS_ADMIN. No allocation. */
int secfilter_load(const struct secfilter *f, struct err *err);

#pragma once
/* Per-container runtime state: RUN/containers/NAME/state, "key=value" lines, written
 * atomically. Written BEFORE anything is created (phase "creating") so that whatever a
 * SIGKILLed mgr leaves can be reclaimed, then updated with the pid once the child exists. */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "unit.h"

struct err;

#define STATE_FILE "state"

struct rt_state {
    char name[UNIT_NAME_MAX + 1];
    pid_t pid;                 /* 0 while creating */
    uint64_t start_time;       /* field 22 of /proc/PID/stat */
    pid_t owner_pid;           /* the mgr process that started it */
    uint64_t owner_start_time; /* its start time (a recycled pid is not the owner) */
    bool keep_upper;           /* upper dir is persistent (ROOT/containers/NAME) */
    char upper_dir[PATH_MAX];  /* "" = tmpfs inside the container's mount ns (nothing on host) */
    char cgroup[PATH_MAX];     /* cgroup path as the cgroup module names it, "" = none */
    uint64_t ns_ino[_NS_MAX];  /* /proc/PID/ns/<type> inodes, 0 = unknown */
};

/* Formats s as text into buf (pure). Returns the length, or -ENOSPC. */
int state_format(const struct rt_state *s, char *buf, size_t len);
/* Parses text (pure); unknown keys are ignored (newer writers). -EINVAL on a bad line. */
int state_parse(const char *text, struct rt_state *ret);
/* Writes dir/state atomically. Returns 0 or -errno with err set. */
int state_write(const char *dir, const struct rt_state *s, struct err *err);
/* Reads dir/state. -ENOENT when there is none. */
int state_read(const char *dir, struct rt_state *ret, struct err *err);
/* Field 22 (starttime) of a /proc/PID/stat line (pure; comm may hold spaces and ')'). */
int state_parse_stat_start_time(const char *stat, uint64_t *ret);
/* Start time of pid from /proc. -ESRCH when it does not exist. */
int state_proc_start_time(pid_t pid, uint64_t *ret);
/* True if pid is running and has start_time (same process, not a reused pid); a zombie
 * (exited, not reaped) is not alive. */
bool state_pid_alive(pid_t pid, uint64_t start_time);
/* Like state_pid_alive, but a zombie counts: the process (and its pidfd) still exists. */
bool state_pid_exists(pid_t pid, uint64_t start_time);

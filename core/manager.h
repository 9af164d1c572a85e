#pragma once
/* The supervisor daemon (`mgr daemon`, and the PID 1 main loop): loads units, reconciles,
 * supervises, serves the control socket. Logs what it does. */
#include <stdbool.h>

enum mgr_exit {
    MGR_EXIT_ERROR = -1,
    MGR_EXIT_STOP = 0,   /* SIGTERM/SIGINT: containers keep running (adopted next time) */
    MGR_EXIT_POWEROFF,   /* "poweroff" request (pid1 only): containers were stopped in order */
    MGR_EXIT_REBOOT,     /* "reboot" request or on_give_up: reboot (pid1 only): stopped in order */
};

struct mgr_opts {
    const char *root;  /* persistent state (stop intents, logs) */
    const char *run;   /* runtime state and control socket */
    const char *units; /* units directory watched with inotify */
    const char *exe;   /* binary to execve for daemon-reexec (default /proc/self/exe) */
    bool pid1;         /* reap every child (orphans included); allow poweroff/reboot */
    bool stop_on_exit; /* stop all containers (in dependency order) on SIGTERM */
};

/* Runs the supervisor until asked to end. Never returns on daemon-reexec (execve). */
enum mgr_exit manager_run(const struct mgr_opts *o);

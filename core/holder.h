#pragma once
/* The output holder: one small process per --run directory that keeps a read end of every
 * container's stdout/stderr pipe open, so that a container never gets EPIPE/SIGPIPE while no
 * daemon runs (after a crash or during daemon-reexec). While a daemon is connected it only
 * holds; while none is, it drains the pipes into the containers' logs (so no writer blocks),
 * marking the gap. It exits when it holds nothing and no daemon is connected. Its pid is in
 * RUN/holder.pid, its socket RUN/holder.sock. */

struct holder;

/* Connects to RUN/holder.sock, starting the holder (a fork of the caller) if none runs.
 * root is where logs are (for draining). Returns a handle or NULL (then the daemon runs
 * without; logged by the caller). */
struct holder *holder_connect(const char *run, const char *root);
/* Hands the holder a copy of a container's pipe read ends (fds stay ours too). */
int holder_give(struct holder *h, const char *name, int out_fd, int err_fd);
/* Closes the connection (the holder keeps what it holds); accepts NULL, returns NULL. */
struct holder *holder_free(struct holder *h);

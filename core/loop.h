#pragma once
/* Single-threaded event loop: epoll over fds (signalfd, pidfds, sockets, pipes, inotify)
 * plus one timerfd multiplexing any number of one-shot timers. No threads, no polling. */
#include <stdbool.h>
#include <stdint.h>

struct loop;
struct loop_timer;

/* Called with the fd's ready events (EPOLLIN, EPOLLHUP...). */
typedef void (*loop_fd_fn)(struct loop *l, int fd, uint32_t events, void *data);
typedef void (*loop_timer_fn)(struct loop *l, struct loop_timer *t, void *data);

/* New loop. 0 or -errno. */
int loop_new(struct loop **ret);
/* Frees the loop (does not close the watched fds); accepts NULL, returns NULL. */
struct loop *loop_free(struct loop *l);
/* Watches fd for events (EPOLLIN/EPOLLOUT). fd stays owned by the caller. 0 or -errno. */
int loop_add(struct loop *l, int fd, uint32_t events, loop_fd_fn fn, void *data);
/* Changes the watched events. 0 or -errno. */
int loop_mod(struct loop *l, int fd, uint32_t events);
/* Stops watching fd (call before closing it). */
void loop_del(struct loop *l, int fd);
/* Arms a one-shot timer at absolute monotonic time at_ms. Returns the timer (owned by the
 * loop until it fires or is cancelled) or NULL on OOM. */
struct loop_timer *loop_timer_at(struct loop *l, uint64_t at_ms, loop_timer_fn fn, void *data);
/* Cancels a pending timer; accepts NULL. Returns NULL for `t = loop_timer_cancel(l, t);`. */
struct loop_timer *loop_timer_cancel(struct loop *l, struct loop_timer *t);
/* fn runs after every fd or timer callback: work that callbacks queue (e.g. container
 * starts, done together) happens before the loop sleeps again. NULL = none. */
typedef void (*loop_after_fn)(struct loop *l, void *data);
void loop_set_after(struct loop *l, loop_after_fn fn, void *data);
/* Runs until loop_quit(). Returns 0 or -errno from epoll_wait. */
int loop_run(struct loop *l);
void loop_quit(struct loop *l);
/* Monotonic time of the current iteration (read once per wakeup). */
uint64_t loop_now(struct loop *l);

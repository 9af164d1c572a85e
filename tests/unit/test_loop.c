/* Event loop: timers fire in deadline order (FIFO on ties), cancelled ones never; fds
 * dispatch; quit. Uses real (short) time: every deadline is within a few ms. */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "harness.h"
#include "loop.h"
#include "util.h"

static char order[16];
static size_t n_order;

static void on_t(struct loop *l, struct loop_timer *t, void *data)
{
    order[n_order++] = *(const char *)data;
    if (*(const char *)data == 'z')
        loop_quit(l);
}

static int test_timers(void)
{
    struct loop *l = NULL;
    CHECK(loop_new(&l) == 0);
    uint64_t now = now_ms();
    n_order = 0;
    static const char c[] = "abcdxz";
    loop_timer_at(l, now + 6, on_t, (void *)&c[2]);
    loop_timer_at(l, now + 2, on_t, (void *)&c[0]);
    struct loop_timer *x = loop_timer_at(l, now + 3, on_t, (void *)&c[4]);
    loop_timer_at(l, now + 4, on_t, (void *)&c[1]);
    loop_timer_at(l, now + 6, on_t, (void *)&c[3]); /* same deadline as 'c': after it */
    loop_timer_at(l, now + 10, on_t, (void *)&c[5]);
    loop_timer_cancel(l, x);
    CHECK(loop_run(l) == 0);
    order[n_order] = 0;
    CHECK_STR(order, "abcdz");
    loop_free(l);
    return 0;
}

static int fired_fd;

static void on_fd(struct loop *l, int fd, uint32_t events, void *data)
{
    char b[8];
    fired_fd = (int)read(fd, b, sizeof(b));
    loop_quit(l);
}

static int test_fd(void)
{
    struct loop *l = NULL;
    int p[2];
    CHECK(loop_new(&l) == 0);
    CHECK(pipe(p) == 0);
    CHECK(loop_add(l, p[0], EPOLLIN, on_fd, NULL) == 0);
    CHECK(write(p[1], "hey", 3) == 3);
    CHECK(loop_run(l) == 0);
    CHECK_INT(fired_fd, 3);
    loop_del(l, p[0]);
    close(p[0]);
    close(p[1]);
    loop_free(l);
    return 0;
}

/* The after-hook runs once after every callback (fd or timer), after what the callback did:
 * the supervisor starts the containers an event queued there. */
static char trace[32];
static size_t n_trace;

static void on_t2(struct loop *l, struct loop_timer *t, void *data)
{
    trace[n_trace++] = *(const char *)data;
}

static void on_fd2(struct loop *l, int fd, uint32_t events, void *data)
{
    char b[8];
    (void)!read(fd, b, sizeof(b));
    trace[n_trace++] = 'f';
}

static void after(struct loop *l, void *data)
{
    trace[n_trace++] = '.';
    if (n_trace >= 6)
        loop_quit(l);
}

static int test_after_hook(void)
{
    struct loop *l = NULL;
    int p[2];
    static const char c[] = "ab";
    CHECK(loop_new(&l) == 0);
    CHECK(pipe(p) == 0);
    CHECK(loop_add(l, p[0], EPOLLIN, on_fd2, NULL) == 0);
    CHECK(write(p[1], "x", 1) == 1);
    uint64_t now = now_ms();
    loop_timer_at(l, now + 5, on_t2, (void *)&c[0]);
    loop_timer_at(l, now + 30, on_t2, (void *)&c[1]);
    loop_set_after(l, after, NULL);
    n_trace = 0;
    CHECK(loop_run(l) == 0);
    trace[n_trace] = 0;
    CHECK_STR(trace, "f.a.b.");
    loop_del(l, p[0]);
    close(p[0]);
    close(p[1]);
    loop_free(l);
    return 0;
}

int main(void)
{
    RUN(test_timers);
    RUN(test_fd);
    RUN(test_after_hook);
    return HARNESS_END();
}

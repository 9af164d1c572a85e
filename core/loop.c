/* epoll loop with one timerfd multiplexing one-shot timers (kept in a small binary heap). */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

struct watch {
    int fd;
    loop_fd_fn fn;
    void *data;
};

struct loop_timer {
    uint64_t at;
    uint64_t seq; /* FIFO among equal deadlines */
    size_t heap_idx;
    loop_timer_fn fn;
    void *data;
};

struct loop {
    int epfd;
    int tfd;
    bool quit;
    uint64_t now;
    uint64_t seq;
    uint64_t armed_at; /* deadline the timerfd is armed for, 0 = disarmed */
    struct watch **watches; /* indexed by fd */
    size_t n_watches;
    struct loop_timer **heap;
    size_t n_heap, cap_heap;
    loop_after_fn after; /* run after each callback (loop_set_after) */
    void *after_data;
};

static bool t_less(const struct loop_timer *a, const struct loop_timer *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void heap_swap(struct loop *l, size_t i, size_t j)
{
    struct loop_timer *t = l->heap[i];
    l->heap[i] = l->heap[j];
    l->heap[j] = t;
    l->heap[i]->heap_idx = i;
    l->heap[j]->heap_idx = j;
}

static void heap_up(struct loop *l, size_t i)
{
    while (i > 0 && t_less(l->heap[i], l->heap[(i - 1) / 2])) {
        heap_swap(l, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(struct loop *l, size_t i)
{
    for (;;) {
        size_t m = i, a = 2 * i + 1, b = 2 * i + 2;
        if (a < l->n_heap && t_less(l->heap[a], l->heap[m]))
            m = a;
        if (b < l->n_heap && t_less(l->heap[b], l->heap[m]))
            m = b;
        if (m == i)
            return;
        heap_swap(l, i, m);
        i = m;
    }
}

static void heap_remove(struct loop *l, size_t i)
{
    l->n_heap--;
    if (i != l->n_heap) {
        l->heap[i] = l->heap[l->n_heap];
        l->heap[i]->heap_idx = i;
        heap_down(l, i);
        heap_up(l, i);
    }
}

static void rearm(struct loop *l)
{
    uint64_t at = l->n_heap ? l->heap[0]->at : 0;
    if (at == l->armed_at)
        return;
    struct itimerspec its = {0};
    if (at) {
        /* Absolute CLOCK_MONOTONIC; 0 would disarm, so never pass it. */
        uint64_t a = at ? at : 1;
        its.it_value.tv_sec = (time_t)(a / 1000);
        its.it_value.tv_nsec = (long)(a % 1000) * 1000000L;
    }
    if (timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        l->armed_at = at;
}

static void on_timerfd(struct loop *l, int fd, uint32_t events, void *data)
{
    uint64_t n;
    (void)!read(fd, &n, sizeof(n));
    l->armed_at = 0;
    l->now = now_ms();
    while (l->n_heap && l->heap[0]->at <= l->now) {
        struct loop_timer *t = l->heap[0];
        heap_remove(l, 0);
        t->fn(l, t, t->data);
        free(t);
    }
    rearm(l);
}

int loop_new(struct loop **ret)
{
    struct loop *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (l->epfd < 0 || l->tfd < 0) {
        int r = -errno;
        loop_free(l);
        return r;
    }
    int r = loop_add(l, l->tfd, EPOLLIN, on_timerfd, NULL);
    if (r < 0) {
        loop_free(l);
        return r;
    }
    l->now = now_ms();
    *ret = l;
    return 0;
}

struct loop *loop_free(struct loop *l)
{
    if (!l)
        return NULL;
    for (size_t i = 0; i < l->n_watches; i++)
        free(l->watches[i]);
    free(l->watches);
    for (size_t i = 0; i < l->n_heap; i++)
        free(l->heap[i]);
    free(l->heap);
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->tfd >= 0)
        close(l->tfd);
    free(l);
    return NULL;
}

int loop_add(struct loop *l, int fd, uint32_t events, loop_fd_fn fn, void *data)
{
    if (fd < 0)
        return -EBADF;
    if ((size_t)fd >= l->n_watches) {
        size_t n = (size_t)fd + 64;
        struct watch **nw = realloc(l->watches, n * sizeof(*nw));
        if (!nw)
            return -ENOMEM;
        memset(nw + l->n_watches, 0, (n - l->n_watches) * sizeof(*nw));
        l->watches = nw;
        l->n_watches = n;
    }
    struct watch *w = l->watches[fd] ? l->watches[fd] : calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    bool existed = l->watches[fd] != NULL;
    *w = (struct watch){fd, fn, data};
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(l->epfd, existed ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0) {
        int r = -errno;
        if (!existed)
            free(w);
        return r;
    }
    l->watches[fd] = w;
    return 0;
}

int loop_mod(struct loop *l, int fd, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void loop_del(struct loop *l, int fd)
{
    if (fd < 0 || (size_t)fd >= l->n_watches || !l->watches[fd])
        return;
    (void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    free(l->watches[fd]);
    l->watches[fd] = NULL;
}

struct loop_timer *loop_timer_at(struct loop *l, uint64_t at_ms, loop_timer_fn fn, void *data)
{
    if (l->n_heap == l->cap_heap) {
        size_t n = l->cap_heap ? l->cap_heap * 2 : 64;
        struct loop_timer **nh = realloc(l->heap, n * sizeof(*nh));
        if (!nh)
            return NULL;
        l->heap = nh;
        l->cap_heap = n;
    }
    struct loop_timer *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    *t = (struct loop_timer){.at = at_ms ? at_ms : 1, .seq = l->seq++, .fn = fn, .data = data};
    t->heap_idx = l->n_heap;
    l->heap[l->n_heap++] = t;
    heap_up(l, t->heap_idx);
    rearm(l);
    return t;
}

struct loop_timer *loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
    if (!t)
        return NULL;
    heap_remove(l, t->heap_idx);
    free(t);
    rearm(l);
    return NULL;
}

int loop_run(struct loop *l)
{
    struct epoll_event evs[32];
    l->quit = false;
    while (!l->quit) {
        int n = epoll_wait(l->epfd, evs, (int)ARRAY_SIZE(evs), -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        l->now = now_ms();
        for (int i = 0; i < n && !l->quit; i++) {
            int fd = evs[i].data.fd;
            /* A callback earlier in this batch may have removed this fd. */
            if ((size_t)fd >= l->n_watches || !l->watches[fd])
                continue;
            struct watch *w = l->watches[fd];
            w->fn(l, fd, evs[i].events, w->data);
            if (l->after)
                l->after(l, l->after_data);
        }
    }
    return 0;
}

void loop_set_after(struct loop *l, loop_after_fn fn, void *data)
{
    l->after = fn;
    l->after_data = data;
}

void loop_quit(struct loop *l)
{
    l->quit = true;
}

uint64_t loop_now(struct loop *l)
{
    return l->now;
}

/* One layer: read, decompress, hash and write in a single streaming pass.
 *
 * The bytes flow through two libarchive readers:
 *   source (fd | outer archive entry | memory)  -- hashed: blob digest, size enforced
 *     -> reader A: every filter (gzip, zstd, xz, ... sniffed from content), "raw" format
 *     -> hashed: diff_id (the uncompressed tar stream), size limit enforced
 *     -> reader B: tar format only -> entries
 * and the entries are written by our own descriptor-relative writer, never by path strings:
 * every parent directory is opened component by component with O_NOFOLLOW from the layer
 * root, so nothing (symlink, "..", absolute path, hardlink) can reach outside it.
 * libarchive's archive_write_disk is not used: it would extract ".wh." entries as files, and
 * its path checks work on strings.
 *
 * Two CPUs do the work (see "sha256 on a second CPU" and "reader A on its own thread"):
 * uncompressed, this thread reads and writes while a helper hashes; compressed, a helper
 * reads, hashes the blob and decompresses while this thread hashes the tar stream and
 * writes. Helpers live only inside one layer_extract() call. */
#include "image_int.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <limits.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive_entry.h>

#include "image.h"
#include "log.h"
#include "util.h"

#define SRC_BUF   (256 * 1024) /* one read() of the source */
#define SRC_SLOTS 8
#define TAR_BUF   (1024 * 1024) /* decompressed bytes, copied for the hasher */
#define TAR_SLOTS 8

/* ---- sha256 on a second CPU ----
 *
 * Hashing is a third of an uncompressed layer's extraction time, so the blob's digest (an
 * uncompressed layer's only one) is computed by a helper thread while the bytes are parsed
 * and written (a compressed layer's tar stream is hashed by this thread: pump_read()). The
 * thread lives only inside one layer_extract() call (the daemon imports in-process on a
 * unit's first start): it is joined before the call returns, on every path, and touches
 * nothing but the digest contexts and the bytes it is handed. It hashes blocks without copying
 * them, in the order they were posted; a block's owner waits for its job (hasher_wait) before
 * reusing or releasing the memory. Without the thread (creation failed) posting hashes inline. */
#define HASH_Q 16

struct hash_job {
    SHA256_CTX *md;
    const void *p;
    size_t n;
};

struct hasher {
    pthread_mutex_t mu;
    pthread_cond_t work, done_cv;
    struct hash_job q[HASH_Q];
    uint64_t posted, done; /* job sequence numbers: job k is done when done >= k */
    bool stop, running;
    pthread_t thread;
};

static void *hasher_main(void *arg)
{
    struct hasher *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (h->posted == h->done && !h->stop)
            pthread_cond_wait(&h->work, &h->mu);
        if (h->posted == h->done)
            break;
        struct hash_job j = h->q[h->done % HASH_Q];
        pthread_mutex_unlock(&h->mu);
        SHA256_Update(j.md, j.p, j.n);
        pthread_mutex_lock(&h->mu);
        h->done++;
        pthread_cond_signal(&h->done_cv);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

static bool thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    /* No signal is ever delivered to a helper: the caller's handlers stay the caller's. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    bool ok = pthread_create(t, NULL, fn, arg) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return ok;
}

static void hasher_start(struct hasher *h)
{
    *h = (struct hasher){.mu = PTHREAD_MUTEX_INITIALIZER,
                         .work = PTHREAD_COND_INITIALIZER,
                         .done_cv = PTHREAD_COND_INITIALIZER};
    h->running = thread_start(&h->thread, hasher_main, h);
    if (!h->running)
        log_debug("image: no hashing thread, hashing inline");
}

/* Queues md += [p, p+n); returns the job's number for hasher_wait(). */
static uint64_t hasher_post(struct hasher *h, SHA256_CTX *md, const void *p, size_t n)
{
    if (!h->running) {
        SHA256_Update(md, p, n);
        return 0;
    }
    pthread_mutex_lock(&h->mu);
    while (h->posted - h->done == HASH_Q)
        pthread_cond_wait(&h->done_cv, &h->mu);
    h->q[h->posted % HASH_Q] = (struct hash_job){md, p, n};
    uint64_t seq = ++h->posted;
    pthread_cond_signal(&h->work);
    pthread_mutex_unlock(&h->mu);
    return seq;
}

/* Waits until job seq (and every job before it) is hashed. */
static void hasher_wait(struct hasher *h, uint64_t seq)
{
    if (!h->running)
        return;
    pthread_mutex_lock(&h->mu);
    while (h->done < seq)
        pthread_cond_wait(&h->done_cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
}

/* Finishes the queued jobs and joins the thread. Idempotent. */
static void hasher_stop(struct hasher *h)
{
    if (!h->running)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = true;
    pthread_cond_signal(&h->work);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    h->running = false;
}

/* Buffers used in turn, each reused only once the hasher is done with it: waking the
 * hasher takes a while on a virtual CPU, so it must be able to lag several blocks behind. */
struct ring {
    char *mem; /* n slots of size bytes */
    size_t size;
    unsigned n, cur;
    size_t fill, posted; /* bytes in the current slot; of which queued for hashing */
    uint64_t job[TAR_SLOTS > SRC_SLOTS ? TAR_SLOTS : SRC_SLOTS]; /* last job reading each */
};

static int ring_init(struct ring *r, unsigned n, size_t size)
{
    *r = (struct ring){.mem = malloc(n * size), .size = size, .n = n};
    return r->mem ? 0 : -ENOMEM;
}

/* Queues the current slot's bytes not yet queued. */
static void ring_post(struct ring *r, struct hasher *h, SHA256_CTX *md)
{
    if (r->fill > r->posted)
        r->job[r->cur] =
                hasher_post(h, md, r->mem + r->cur * r->size + r->posted, r->fill - r->posted);
    r->posted = r->fill;
}

/* Queues the current slot and moves to the next one, once the hasher is done with it. */
static char *ring_next(struct ring *r, struct hasher *h, SHA256_CTX *md)
{
    ring_post(r, h, md);
    r->cur = (r->cur + 1) % r->n;
    r->fill = r->posted = 0;
    hasher_wait(h, r->job[r->cur]);
    return r->mem + r->cur * r->size;
}

/* ---- reader A on its own thread ----
 *
 * Inflating a gzip layer costs four times what writing its files does, so for a compressed
 * layer reader A (read, hash the blob, decompress) runs on a helper thread that fills
 * tar_ring, and reader B (this thread) parses and writes from the slots it hands over: the
 * two overlap. The same lifetime rules as the hasher's: started and joined inside one
 * layer_extract() call, signals blocked; without it reader A runs inline in tar_read(). */
struct pump {
    pthread_t thread;
    bool running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t produced, consumed; /* tar_ring slots handed to reader B / given back */
    size_t len[TAR_SLOTS];
    bool held;           /* reader B still reads slot consumed % TAR_SLOTS */
    bool eof, failed;    /* the pump is done: all slots produced, or err is set */
    bool stop;           /* this thread gave up: the pump ends when it next waits */
    uint64_t blob_bytes; /* source bytes read, for progress */
    struct err err;
};

struct chain {
    struct layer_source *src;
    SHA256_CTX *blob_md, *tar_md;
    uint64_t blob_bytes, tar_bytes;
    bool src_eof;
    struct archive *a; /* decompressor */
    bool a_started, a_eof;
    uint64_t max_bytes;
    bool same_stream; /* no compression: the tar stream is the blob, hashed once */
    struct err *err;
    bool failed; /* err is set by a callback (this thread's view) */
    /* Where reader A's side (src_read, a_block) reports: err, or the pump's own. */
    struct err *src_err;
    bool src_failed;
    struct hasher *h;
    struct pump *pump;    /* non-NULL: reader A runs on the pump thread */
    struct ring src_ring; /* fd source: read() buffers */
    uint64_t outer_job;   /* outer source: the hash job reading its current block */
    /* Compressed: reader A's output block is only valid until A is called again, so the
     * bytes are copied into tar_ring, which reader B then reads. */
    struct ring tar_ring;
    const char *pend; /* what is left of A's current block (inline) */
    size_t pend_len;
};

/* Reader A's side failed; src_err is set. */
static void src_fail(struct chain *c)
{
    c->src_failed = true;
    if (!c->pump)
        c->failed = true;
}

void md_hex(SHA256_CTX *c, char ret_hex[65])
{
    unsigned char md[32];
    SHA256_Final(md, c);
    for (unsigned i = 0; i < 32; i++)
        snprintf(ret_hex + 2 * i, 3, "%02x", md[i]);
    ret_hex[64] = '\0';
}

void sha256_hex(const void *data, size_t len, char ret_hex[65])
{
    unsigned char md[32];
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, data, len);
    SHA256_Final(md, &c);
    for (unsigned i = 0; i < 32; i++)
        snprintf(ret_hex + 2 * i, 3, "%02x", md[i]);
    ret_hex[64] = '\0';
}

static la_ssize_t src_read(struct archive *ar, void *ud, const void **ret)
{
    struct chain *c = ud;
    struct layer_source *s = c->src;
    ssize_t n = 0;
    if (c->src_eof)
        return 0;
    if (s->fd >= 0) {
        /* libarchive is done with a block when it asks for the next one. */
        char *buf = ring_next(&c->src_ring, c->h, c->blob_md);
        do
            n = read(s->fd, buf, SRC_BUF);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            err_set(c->src_err, errno, "read");
            src_fail(c);
            return -1;
        }
        *ret = buf;
    } else if (s->outer) {
        const void *p;
        size_t size;
        la_int64_t off;
        /* The next block replaces the one the hasher may still be reading. */
        hasher_wait(c->h, c->outer_job);
        int r = archive_read_data_block(s->outer, &p, &size, &off);
        if (r == ARCHIVE_EOF) {
            n = 0;
        } else if (r < ARCHIVE_WARN) {
            err_setx(c->src_err, EIO, "read: %s", archive_error_string(s->outer));
            src_fail(c);
            return -1;
        } else {
            if ((uint64_t)off != c->blob_bytes) {
                err_setx(c->src_err, EINVAL, "sparse layer entry in the archive");
                src_fail(c);
                return -1;
            }
            *ret = p;
            n = (ssize_t)size;
        }
    } else {
        *ret = s->mem;
        n = c->blob_bytes == 0 ? (ssize_t)s->mem_len : 0;
    }
    if (n == 0) {
        c->src_eof = true;
        return 0;
    }
    c->blob_bytes += (uint64_t)n;
    if (s->expect_size != UINT64_MAX && c->blob_bytes > s->expect_size) {
        err_setx(c->src_err, EINVAL, "larger than its descriptor says (%" PRIu64 " bytes)",
                 s->expect_size);
        src_fail(c);
        return -1;
    }
    if (s->fd >= 0) {
        c->src_ring.fill = (size_t)n;
        ring_post(&c->src_ring, c->h, c->blob_md);
    } else {
        uint64_t job = hasher_post(c->h, c->blob_md, *ret, (size_t)n);
        if (s->outer)
            c->outer_job = job;
    }
    if (s->progress && !c->pump) /* else reported by pump_read(), on the caller's thread */
        s->progress(c->blob_bytes, s->userdata);
    return n;
}

/* Reader A's next block: 1, 0 at its end, -1 with src_err set. */
static int a_block(struct chain *c, const void **ret, size_t *ret_size)
{
    if (!c->a_started) {
        struct archive_entry *e;
        if (archive_read_next_header(c->a, &e) < ARCHIVE_WARN) {
            if (!c->src_failed) {
                err_setx(c->src_err, EINVAL, "%s", archive_error_string(c->a));
                src_fail(c);
            }
            return -1;
        }
        c->a_started = true;
    }
    la_int64_t off;
    int r = archive_read_data_block(c->a, ret, ret_size, &off);
    if (r == ARCHIVE_EOF)
        return 0;
    if (r < ARCHIVE_WARN) {
        if (!c->src_failed) {
            err_setx(c->src_err, EINVAL, "decompress: %s", archive_error_string(c->a));
            src_fail(c);
        }
        return -1;
    }
    c->tar_bytes += *ret_size;
    if (c->tar_bytes > c->max_bytes) {
        err_setx(c->src_err, EFBIG, "uncompressed size exceeds the limit of %" PRIu64 " bytes",
                 c->max_bytes);
        src_fail(c);
        return -1;
    }
    return 1;
}

/* Pump thread: hands the filled slot to reader B; with next, waits for a free one.
 * False when this thread gave up. */
static bool pump_publish(struct chain *c, bool next)
{
    struct pump *pm = c->pump;
    struct ring *tr = &c->tar_ring;
    pthread_mutex_lock(&pm->mu);
    pm->len[tr->cur] = tr->fill;
    pm->produced++;
    pm->blob_bytes = c->blob_bytes;
    pthread_cond_broadcast(&pm->cv);
    while (next && pm->produced - pm->consumed == TAR_SLOTS && !pm->stop)
        pthread_cond_wait(&pm->cv, &pm->mu);
    bool stop = pm->stop;
    pthread_mutex_unlock(&pm->mu);
    if (stop)
        return false;
    if (next) {
        tr->cur = (unsigned)(pm->produced % TAR_SLOTS); /* only this thread changes it */
        tr->fill = 0;
    }
    return true;
}

static void pump_end(struct pump *pm, bool failed)
{
    pthread_mutex_lock(&pm->mu);
    if (failed)
        pm->failed = true;
    else
        pm->eof = true;
    pthread_cond_broadcast(&pm->cv);
    pthread_mutex_unlock(&pm->mu);
}

static void *pump_main(void *arg)
{
    struct chain *c = arg;
    struct pump *pm = c->pump;
    struct ring *tr = &c->tar_ring;
    const void *p;
    size_t size;
    int r;
    while ((r = a_block(c, &p, &size)) > 0) {
        while (size > 0) {
            if (tr->fill == tr->size && !pump_publish(c, true))
                return NULL;
            size_t n = size < tr->size - tr->fill ? size : tr->size - tr->fill;
            memcpy(tr->mem + tr->cur * tr->size + tr->fill, p, n);
            p = (const char *)p + n, size -= n, tr->fill += n;
        }
    }
    if (r < 0) {
        pump_end(pm, true);
        return NULL;
    }
    if (tr->fill > 0 && !pump_publish(c, false))
        return NULL;
    /* What follows the compressed stream counts for the blob digest too. */
    while ((r = (int)src_read(c->a, c, &p)) > 0)
        ;
    pump_end(pm, r < 0);
    return NULL;
}

/* Starts reader A on the pump thread (it has been opened here). False: it stays inline. */
static bool pump_start(struct chain *c, struct pump *pm)
{
    *pm = (struct pump){.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    c->pump = pm;
    c->src_err = &pm->err;
    c->tar_ring.cur = 0;
    c->tar_ring.fill = c->tar_ring.posted = 0;
    pm->running = thread_start(&pm->thread, pump_main, c);
    if (!pm->running) {
        c->pump = NULL;
        c->src_err = c->err;
        c->tar_ring.cur = TAR_SLOTS - 1;
        c->tar_ring.fill = c->tar_ring.posted = TAR_BUF;
    }
    return pm->running;
}

/* Ends the pump thread wherever it is, and joins it. Idempotent. */
static void pump_stop(struct pump *pm)
{
    if (!pm->running)
        return;
    pthread_mutex_lock(&pm->mu);
    pm->stop = true;
    pthread_cond_broadcast(&pm->cv);
    pthread_mutex_unlock(&pm->mu);
    pthread_join(pm->thread, NULL);
    pm->running = false;
}

/* tar_read with the pump: gives back the slot reader B held, waits for the next one. */
static la_ssize_t pump_read(struct chain *c, const void **ret)
{
    struct pump *pm = c->pump;
    pthread_mutex_lock(&pm->mu);
    if (pm->held) {
        pm->consumed++;
        pm->held = false;
        pthread_cond_broadcast(&pm->cv);
    }
    while (!pm->failed && !pm->eof && pm->consumed == pm->produced)
        pthread_cond_wait(&pm->cv, &pm->mu);
    if (pm->failed) {
        pthread_mutex_unlock(&pm->mu);
        if (!c->failed) {
            *c->err = pm->err;
            c->failed = true;
        }
        return -1;
    }
    if (pm->consumed == pm->produced) {
        pthread_mutex_unlock(&pm->mu);
        c->a_eof = true;
        return 0;
    }
    unsigned slot = (unsigned)(pm->consumed % TAR_SLOTS);
    size_t n = pm->len[slot];
    uint64_t bytes = pm->blob_bytes;
    pm->held = true;
    pthread_mutex_unlock(&pm->mu);
    if (c->src->progress)
        c->src->progress(bytes, c->src->userdata);
    *ret = c->tar_ring.mem + (size_t)slot * TAR_BUF;
    /* Hashed here: this thread mostly waits for the pump, and a third busy thread would
     * take CPU time from the pump, which sets the pace. */
    SHA256_Update(c->tar_md, *ret, n);
    return (la_ssize_t)n;
}

/* Reader B's input: the decompressed bytes of reader A. Uncompressed, A's blocks are the
 * source's own (already hashed as the blob) and are passed through; compressed, they are
 * copied into tar_ring for the hasher, and B reads the copy. */
static la_ssize_t tar_read(struct archive *ar, void *ud, const void **ret)
{
    struct chain *c = ud;
    if (c->a_eof)
        return 0;
    if (c->pump)
        return pump_read(c, ret);
    if (c->pend_len == 0) {
        const void *p;
        size_t size;
        int r = a_block(c, &p, &size);
        if (r < 0)
            return -1;
        if (r == 0) {
            c->a_eof = true;
            if (!c->same_stream)
                ring_post(&c->tar_ring, c->h, c->tar_md);
            return 0;
        }
        if (c->same_stream) {
            *ret = p;
            return (la_ssize_t)size;
        }
        c->pend = p;
        c->pend_len = size;
        if (size == 0)
            return tar_read(ar, ud, ret);
    }
    struct ring *tr = &c->tar_ring;
    if (tr->fill == tr->size)
        ring_next(tr, c->h, c->tar_md);
    char *dst = tr->mem + tr->cur * tr->size + tr->fill;
    size_t n = c->pend_len < tr->size - tr->fill ? c->pend_len : tr->size - tr->fill;
    memcpy(dst, c->pend, n);
    c->pend += n, c->pend_len -= n, tr->fill += n;
    *ret = dst;
    return (la_ssize_t)n;
}

/* ---- the writer ---- */

struct dir_time {
    char *path;
    struct timespec ts[2];
};

struct writer {
    int root_fd;
    const char *what;
    struct err *err;
    /* The open directories of the last parent path, root first: tar streams list a tree
     * depth first, so the next entry's parent shares most of them. */
    char *cache_path; /* the path of the top of the stack ("" = the root) */
    int *stack;       /* fds, owned; depth 0 is root_fd, not on the stack */
    bool *stack_setgid;
    size_t depth, cap;
    int cache_fd;      /* top: stack[depth - 1] or root_fd */
    bool cache_setgid; /* new entries in the top dir inherit its group */
    bool root_setgid;
    uid_t euid;
    gid_t egid;
    mode_t umask;
    struct dir_time *dirs;
    size_t n_dirs, cap_dirs;
    uint64_t declared, max_bytes, written;
};

static void stack_pop_to(struct writer *w, size_t depth)
{
    while (w->depth > depth)
        close(w->stack[--w->depth]);
    w->cache_fd = w->depth ? w->stack[w->depth - 1] : w->root_fd;
    w->cache_setgid = w->depth ? w->stack_setgid[w->depth - 1] : w->root_setgid;
}

static void cache_drop(struct writer *w)
{
    stack_pop_to(w, 0);
    free(w->cache_path);
    w->cache_path = NULL;
}

static bool is_whiteout(const struct stat *st)
{
    return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* fd is a directory opened for reading (never O_PATH), so no /proc is needed. */
static int set_opaque_fd(int fd)
{
    if (fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0)
        return -errno;
    return 0;
}

/* Opens dir_fd/name as a directory, never following a symlink. With create, a missing
 * directory is made (0755, as docker and umoci do for implied parents) and a whiteout of
 * this layer is replaced by an opaque directory. */
static int open_dir_at(int dir_fd, const char *name, bool create)
{
    bool made = false;
    for (int tries = 0; tries < 3; tries++) {
        int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            /* 0755 whatever the process umask is. */
            if (made && fchmod(fd, 0755) < 0) {
                int r = -errno;
                close(fd);
                return r;
            }
            return fd;
        }
        if (errno == ENOENT && create) {
            if (mkdirat(dir_fd, name, 0755) < 0 && errno != EEXIST)
                return -errno;
            made = true;
            continue;
        }
        if (errno == ENOTDIR && create) {
            struct stat st;
            if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && is_whiteout(&st)) {
                if (unlinkat(dir_fd, name, 0) < 0 || mkdirat(dir_fd, name, 0755) < 0)
                    return -errno;
                int nfd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (nfd < 0)
                    return -errno;
                int r = set_opaque_fd(nfd);
                if (r < 0) {
                    close(nfd);
                    return r;
                }
                return nfd;
            }
            return -ENOTDIR;
        }
        return -errno;
    }
    return -EIO;
}

/* Puts directory fd on top of the stack (taking it), or fails with -ENOMEM (leaving it). */
static int stack_push(struct writer *w, int fd, bool setgid)
{
    if (w->depth == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 16;
        int *ns = realloc(w->stack, nc * sizeof(int));
        if (ns)
            w->stack = ns;
        bool *ng = realloc(w->stack_setgid, nc * sizeof(bool));
        if (ng)
            w->stack_setgid = ng;
        if (!ns || !ng)
            return -ENOMEM;
        w->cap = nc;
    }
    w->stack_setgid[w->depth] = setgid;
    w->stack[w->depth++] = fd;
    stack_pop_to(w, w->depth); /* refresh the top */
    return 0;
}

/* Returns an fd of the directory at relative clean path dir ("" = root); the fd is owned by
 * the writer's cache (do not close). */
static int walk(struct writer *w, const char *entry, const char *dir, bool create)
{
    if (w->cache_path && STREQ(w->cache_path, dir))
        return w->cache_fd;
    /* Keep the directories the old and the new path have in common. */
    size_t keep = 0, off = 0;
    if (w->cache_path) {
        const char *a = w->cache_path, *b = dir;
        size_t i = 0, comps = 0;
        for (;; i++) {
            bool ea = a[i] == '\0' || a[i] == '/', eb = b[i] == '\0' || b[i] == '/';
            if (ea || eb) {
                if (!(ea && eb) || i == 0)
                    break;
                comps++, keep = comps, off = b[i] ? i + 1 : i;
                if (!a[i] || !b[i])
                    break;
                continue;
            }
            if (a[i] != b[i])
                break;
        }
    }
    stack_pop_to(w, keep);
    free(w->cache_path);
    w->cache_path = NULL;
    _cleanup_free_ char *copy = strdup(dir + off);
    if (!copy)
        return err_set(w->err, ENOMEM, "walk");
    char *save = NULL;
    for (char *comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
        int nfd = open_dir_at(w->cache_fd, comp, create);
        if (nfd == -ELOOP || nfd == -ENOTDIR) {
            cache_drop(w);
            return err_setx(w->err, EINVAL,
                            "entry '%s': parent '%s' is a symlink or not a directory in this layer",
                            entry, comp);
        }
        if (nfd < 0) {
            cache_drop(w);
            return err_set(w->err, -nfd, "entry '%s': open parent '%s'", entry, comp);
        }
        struct stat st;
        if (stack_push(w, nfd, fstat(nfd, &st) < 0 || (st.st_mode & S_ISGID)) < 0) {
            close(nfd);
            cache_drop(w);
            return err_set(w->err, ENOMEM, "walk");
        }
    }
    w->cache_path = strdup(dir);
    if (!w->cache_path) {
        cache_drop(w);
        return err_set(w->err, ENOMEM, "walk");
    }
    return w->cache_fd;
}

/* Directory fd, just made or kept as dir/NAME (entry path), is opened as walk() would open
 * it: the next entries of a depth-first tar are most likely inside it, so it becomes the top
 * of the stack, which saves the walk an open and a stat. Takes fd; closes it when the stack
 * is not at dir. setgid may be true when the directory is not (it only costs a chown). */
static void walk_enter(struct writer *w, const char *dir, const char *entry, int fd, bool setgid)
{
    if (!w->cache_path || !STREQ(w->cache_path, dir) || stack_push(w, fd, setgid) < 0) {
        close(fd);
        return;
    }
    char *p = strdup(entry);
    if (!p) {
        cache_drop(w); /* closes fd too */
        return;
    }
    free(w->cache_path);
    w->cache_path = p;
}

static int proc_path(char *buf, size_t len, int dir_fd, const char *name)
{
    if (snprintf(buf, len, "/proc/self/fd/%d/%s", dir_fd, name) >= (int)len)
        return -ENAMETOOLONG;
    return 0;
}

/* Applies the entry's xattrs to fd (or to dir_fd/name when fd < 0, without following). */
static int apply_xattrs(struct writer *w, struct archive_entry *e, const char *entry, int fd,
                        int dir_fd, const char *name)
{
    const char *xn;
    const void *xv;
    size_t xs;
    if (archive_entry_xattr_reset(e) == 0)
        return 0;
    while (archive_entry_xattr_next(e, &xn, &xv, &xs) == ARCHIVE_OK) {
        /* overlay's own xattrs would turn a file into a redirect, a metacopy or an opaque dir
         * that the image never asked for: a layer never sets them, we do (from whiteouts). */
        if (strncmp(xn, "trusted.overlay.", 16) == 0 || strncmp(xn, "user.overlay.", 13) == 0)
            continue;
        int r;
        if (fd >= 0) {
            r = fsetxattr(fd, xn, xv, xs, 0);
        } else {
            char p[PATH_MAX + 32];
            if (proc_path(p, sizeof(p), dir_fd, name) < 0)
                return err_setx(w->err, ENAMETOOLONG, "entry '%s': path too long", entry);
            r = lsetxattr(p, xn, xv, xs, 0);
        }
        if (r < 0) {
            if (errno == ENOTSUP || errno == EPERM) {
                log_debug("%s: entry '%s': xattr '%s': %s, ignoring", w->what, entry, xn,
                          strerror(errno));
                continue;
            }
            return err_set(w->err, errno, "entry '%s': set xattr '%s'", entry, xn);
        }
    }
    return 0;
}

static int check_ids(struct writer *w, struct archive_entry *e, const char *entry, uid_t *uid,
                     gid_t *gid)
{
    la_int64_t u = archive_entry_uid(e), g = archive_entry_gid(e);
    if (u < 0 || g < 0 || u >= (la_int64_t)UINT32_MAX || g >= (la_int64_t)UINT32_MAX)
        return err_setx(w->err, EINVAL, "entry '%s': owner %lld:%lld out of range", entry,
                        (long long)u, (long long)g);
    *uid = (uid_t)u;
    *gid = (gid_t)g;
    return 0;
}

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
    ts[1].tv_sec = archive_entry_mtime(e);
    ts[1].tv_nsec = archive_entry_mtime_nsec(e);
    if (archive_entry_atime_is_set(e)) {
        ts[0].tv_sec = archive_entry_atime(e);
        ts[0].tv_nsec = archive_entry_atime_nsec(e);
    } else {
        ts[0] = ts[1];
    }
}

/* Removes what a previous entry of this layer left at dir_fd/name (tar: the later entry
 * wins). Keeps a directory when the new entry is one too. Returns 1 when a directory stays. */
static int clear_existing(struct writer *w, int dir_fd, const char *name, const char *entry,
                          bool new_is_dir, bool *ret_was_whiteout)
{
    struct stat st;
    *ret_was_whiteout = false;
    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 0;
        return err_set(w->err, errno, "entry '%s': stat", entry);
    }
    if (S_ISDIR(st.st_mode) && new_is_dir)
        return 1;
    *ret_was_whiteout = is_whiteout(&st);
    int r;
    if (S_ISDIR(st.st_mode)) {
        /* The cached parent may live below what goes away (and dir_fd may be the cache's
         * own fd): keep our own reference to dir_fd, drop the cache. */
        int keep = dup(dir_fd);
        if (keep < 0)
            return err_set(w->err, errno, "dup");
        cache_drop(w);
        r = rm_rf_at(keep, name);
        close(keep);
    } else {
        r = unlinkat(dir_fd, name, 0) < 0 ? -errno : 0;
    }
    if (r < 0)
        return err_set(w->err, -r, "entry '%s': replace earlier entry", entry);
    return 0;
}

static int write_data(struct writer *w, struct archive *b, int fd, const char *entry,
                      la_int64_t size)
{
    const void *p;
    size_t len;
    la_int64_t off;
    la_int64_t end = 0;
    for (;;) {
        int r = archive_read_data_block(b, &p, &len, &off);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN)
            return -EIO; /* caller reports the archive error */
        if (off < 0)
            return err_setx(w->err, EINVAL, "entry '%s': bad data offset", entry);
        const char *q = p;
        size_t left = len;
        la_int64_t o = off;
        while (left > 0) {
            ssize_t n = pwrite(fd, q, left, o);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return err_set(w->err, errno, "entry '%s': write", entry);
            }
            q += n, left -= (size_t)n, o += n;
        }
        w->written += len;
        if (off + (la_int64_t)len > end)
            end = off + (la_int64_t)len;
    }
    /* Sparse files: holes at the end are not data blocks. */
    if (size > end && ftruncate(fd, size) < 0)
        return err_set(w->err, errno, "entry '%s': truncate", entry);
    return 0;
}

static int remember_dir(struct writer *w, const char *clean, const struct timespec ts[2])
{
    if (w->n_dirs == w->cap_dirs) {
        size_t nc = w->cap_dirs ? w->cap_dirs * 2 : 64;
        struct dir_time *nd = realloc(w->dirs, nc * sizeof(*nd));
        if (!nd)
            return err_set(w->err, ENOMEM, "remember directory");
        w->dirs = nd;
        w->cap_dirs = nc;
    }
    char *p = strdup(clean);
    if (!p)
        return err_set(w->err, ENOMEM, "remember directory");
    w->dirs[w->n_dirs].path = p;
    w->dirs[w->n_dirs].ts[0] = ts[0];
    w->dirs[w->n_dirs].ts[1] = ts[1];
    w->n_dirs++;
    return 0;
}

static int do_whiteout(struct writer *w, enum image_wh wh, const char *clean, const char *target,
                       int parent_fd)
{
    if (wh == WH_OPAQUE) {
        /* The marker makes its directory opaque: lower layers' content is hidden, this
         * layer's own entries (before or after the marker) stay. */
        if (!*target)
            return err_setx(w->err, EINVAL, "entry '%s': opaque whiteout of the layer root", clean);
        int r = set_opaque_fd(parent_fd);
        if (r < 0)
            return err_set(w->err, -r, "entry '%s': set opaque xattr", clean);
        return 0;
    }
    const char *name = strrchr(target, '/');
    name = name ? name + 1 : target;
    struct stat st;
    if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        /* This layer has its own NAME: it wins over the lower one the whiteout deletes; a
         * directory of this layer must then hide the lower directory's content. */
        if (S_ISDIR(st.st_mode)) {
            _cleanup_close_ int dfd =
                    openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (dfd < 0 || set_opaque_fd(dfd) < 0)
                return err_set(w->err, errno, "entry '%s': make '%s' opaque", clean, name);
        }
        return 0;
    }
    if (mknodat(parent_fd, name, S_IFCHR | 0, makedev(0, 0)) < 0)
        return err_set(w->err, errno, "entry '%s': create whiteout", clean);
    return 0;
}

/* Creates the node of entry e at pfd/base: returns an fd for a regular file, 0 for other
 * types, -EEXIST when the name is taken, -errno on other errors. */
static int create_node(struct archive_entry *e, int pfd, const char *base, mode_t type,
                       mode_t cmode)
{
    int r;
    switch (type) {
    case AE_IFREG:
        r = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, cmode);
        break;
    case AE_IFDIR:
        r = mkdirat(pfd, base, 0700);
        break;
    case AE_IFLNK:
        /* The link is created, never followed: its target is the container's business. */
        r = symlinkat(archive_entry_symlink(e), pfd, base);
        break;
    default: {
        /* Device nodes are kept (images ship /dev/null and friends); they are inert: the
         * store is 0700, and containers get their own /dev and a device allow-list. */
        mode_t t = type == AE_IFCHR ? S_IFCHR : type == AE_IFBLK ? S_IFBLK : S_IFIFO;
        r = mknodat(pfd, base, t | 0600, type == AE_IFIFO ? 0 : archive_entry_rdev(e));
        break;
    }
    }
    return r < 0 ? -errno : r;
}

static int do_entry(struct writer *w, struct archive *b, struct archive_entry *e, const char *clean)
{
    _cleanup_free_ char *wh_target = NULL;
    enum image_wh wh = image_whiteout_classify(clean, &wh_target);
    if (wh == WH_INVALID)
        return err_setx(w->err, EINVAL, "entry '%s': invalid whiteout name", clean);

    uid_t uid;
    gid_t gid;
    struct timespec ts[2];
    int r;

    if (!*clean) {
        /* The layer root itself ("./"). */
        if (archive_entry_filetype(e) != AE_IFDIR)
            return err_setx(w->err, EINVAL, "entry '.': root is not a directory");
        if ((r = check_ids(w, e, ".", &uid, &gid)) < 0)
            return r;
        if (fchown(w->root_fd, uid, gid) < 0 || fchmod(w->root_fd, archive_entry_perm(e)) < 0)
            return err_set(w->err, errno, "entry '.': set owner/mode");
        if ((r = apply_xattrs(w, e, ".", w->root_fd, -1, NULL)) < 0)
            return r;
        entry_times(e, ts);
        return remember_dir(w, "", ts);
    }

    const char *slash = strrchr(clean, '/');
    _cleanup_free_ char *parent = slash ? strndup(clean, (size_t)(slash - clean)) : strdup("");
    const char *base = slash ? slash + 1 : clean;
    if (!parent)
        return err_set(w->err, ENOMEM, "entry");
    int pfd = walk(w, clean, parent, true);
    if (pfd < 0)
        return pfd;
    if (wh != WH_NONE)
        return do_whiteout(w, wh, clean, wh_target, pfd);

    if ((r = check_ids(w, e, clean, &uid, &gid)) < 0)
        return r;
    entry_times(e, ts);
    mode_t perm = archive_entry_perm(e) & 07777;
    const char *hl = archive_entry_hardlink(e);
    mode_t type = archive_entry_filetype(e);
    bool was_wh = false;

    if (hl) {
        _cleanup_free_ char *hclean = NULL;
        if (image_path_clean(hl, &hclean) < 0 || !*hclean)
            return err_setx(w->err, EINVAL, "entry '%s': hardlink target '%s' outside the layer",
                            clean, hl);
        const char *hs = strrchr(hclean, '/');
        _cleanup_free_ char *hparent = hs ? strndup(hclean, (size_t)(hs - hclean)) : strdup("");
        if (!hparent)
            return err_set(w->err, ENOMEM, "entry");
        /* The target's parent is walked without creating and without following symlinks:
         * a hardlink can only name an entry already extracted inside this layer. */
        int tfd = walk(w, clean, hparent, false);
        if (tfd < 0)
            return err_wrap(w->err, "hardlink target '%s'", hl);
        _cleanup_close_ int tdup = dup(tfd);
        if (tdup < 0)
            return err_set(w->err, errno, "dup");
        pfd = walk(w, clean, parent, true);
        if (pfd < 0)
            return pfd;
        const char *tbase = hs ? hs + 1 : hclean;
        if (linkat(tdup, tbase, pfd, base, 0) == 0)
            return 0;
        if (errno != EEXIST)
            return err_set(w->err, errno, "entry '%s': hardlink to '%s'", clean, hl);
        if ((r = clear_existing(w, pfd, base, clean, false, &was_wh)) < 0)
            return r;
        pfd = walk(w, clean, parent, true);
        if (pfd < 0)
            return pfd;
        if (linkat(tdup, tbase, pfd, base, 0) < 0)
            return err_set(w->err, errno, "entry '%s': hardlink to '%s'", clean, hl);
        return 0;
    }

    if (type == AE_IFSOCK) {
        log_debug("%s: entry '%s': socket, skipped", w->what, clean);
        return 0;
    }
    if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFCHR &&
        type != AE_IFBLK && type != AE_IFIFO)
        return err_setx(w->err, EINVAL, "entry '%s': unknown file type 0%o", clean, (unsigned)type);
    if (type == AE_IFLNK && (!archive_entry_symlink(e) || !*archive_entry_symlink(e)))
        return err_setx(w->err, EINVAL, "entry '%s': empty symlink target", clean);
    mode_t cmode = perm & 0777;
    /* Create first: an existing name (a duplicate entry, a changed type, this layer's own
     * whiteout) is the rare case, cleared and retried once. It saves a stat per entry. */
    int made = create_node(e, pfd, base, type, cmode);
    bool kept = false; /* a directory of an earlier entry stays, with its owner */
    if (made == -EEXIST) {
        r = clear_existing(w, pfd, base, clean, type == AE_IFDIR, &was_wh);
        if (r < 0)
            return r;
        pfd = walk(w, clean, parent, true); /* clear_existing may have dropped the cache */
        if (pfd < 0)
            return pfd;
        kept = r == 1;
        made = kept ? 0 : create_node(e, pfd, base, type, cmode); /* 1: the dir stays */
    }
    if (made < 0)
        return err_set(w->err, -made, "entry '%s': create", clean);

    switch (type) {
    case AE_IFREG: {
        la_int64_t size = archive_entry_size(e);
        if (size < 0)
            size = 0;
        w->declared += (uint64_t)size;
        if (w->declared > w->max_bytes)
            return err_setx(w->err, EFBIG,
                            "entry '%s': file sizes exceed the limit of %" PRIu64 " bytes", clean,
                            w->max_bytes);
        _cleanup_close_ int fd = made;
        if ((r = write_data(w, b, fd, clean, size)) < 0)
            return r;
        /* Most files of an image are root's with plain permission bits: the create already
         * gave them the right owner and mode, which saves two syscalls per file. */
        if ((uid != w->euid || gid != w->egid || w->cache_setgid) && fchown(fd, uid, gid) < 0)
            return err_set(w->err, errno, "entry '%s': chown", clean);
        /* After chown, which clears set-id bits. */
        if (((perm & ~0777) || (cmode & w->umask)) && fchmod(fd, perm) < 0)
            return err_set(w->err, errno, "entry '%s': chmod", clean);
        if ((r = apply_xattrs(w, e, clean, fd, -1, NULL)) < 0)
            return r;
        if (futimens(fd, ts) < 0)
            return err_set(w->err, errno, "entry '%s': set times", clean);
        return 0;
    }
    case AE_IFDIR: {
        _cleanup_close_ int fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return err_set(w->err, errno, "entry '%s': open directory", clean);
        /* Made here, it is ours already unless its parent is set-group-ID. */
        if ((kept || uid != w->euid || gid != w->egid || w->cache_setgid) &&
            fchown(fd, uid, gid) < 0)
            return err_set(w->err, errno, "entry '%s': set owner", clean);
        if (fchmod(fd, perm) < 0)
            return err_set(w->err, errno, "entry '%s': set mode", clean);
        if ((r = apply_xattrs(w, e, clean, fd, -1, NULL)) < 0)
            return r;
        /* A directory that replaces this layer's whiteout of the lower one is opaque. */
        if (was_wh && set_opaque_fd(fd) < 0)
            return err_set(w->err, errno, "entry '%s': set opaque", clean);
        if ((r = remember_dir(w, clean, ts)) < 0)
            return r;
        walk_enter(w, parent, clean, TAKE_FD(fd), perm & S_ISGID);
        return 0;
    }
    case AE_IFLNK: {
        /* As for files: the create gave most links the right owner already. */
        if ((uid != w->euid || gid != w->egid || w->cache_setgid) &&
            fchownat(pfd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
            return err_set(w->err, errno, "entry '%s': chown", clean);
        if ((r = apply_xattrs(w, e, clean, -1, pfd, base)) < 0)
            return r;
        if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
            return err_set(w->err, errno, "entry '%s': set times", clean);
        return 0;
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
        if (fchownat(pfd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
            fchmodat(pfd, base, perm, 0) < 0)
            return err_set(w->err, errno, "entry '%s': set owner/mode", clean);
        if ((r = apply_xattrs(w, e, clean, -1, pfd, base)) < 0)
            return r;
        if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
            return err_set(w->err, errno, "entry '%s': set times", clean);
        return 0;
    }
    default:
        return 0;
    }
}

static void fix_dir_times(struct writer *w)
{
    /* Last: creating entries inside a directory changes its mtime. */
    for (size_t i = w->n_dirs; i-- > 0;) {
        const char *p = w->dirs[i].path;
        if (!*p) {
            (void)futimens(w->root_fd, w->dirs[i].ts);
            continue;
        }
        const char *s = strrchr(p, '/');
        _cleanup_free_ char *parent = s ? strndup(p, (size_t)(s - p)) : strdup("");
        if (!parent)
            continue;
        struct err ignored = {0};
        struct err *saved = w->err;
        w->err = &ignored;
        int pfd = walk(w, p, parent, false);
        w->err = saved;
        if (pfd >= 0)
            (void)utimensat(pfd, s ? s + 1 : p, w->dirs[i].ts, AT_SYMLINK_NOFOLLOW);
    }
}

/* The umask without changing it (umask(2) would race with other threads). 0777 (always
 * chmod) when /proc is not there. */
static mode_t current_umask(void)
{
    _cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
    char line[128];
    while (f && fgets(line, sizeof(line), f)) {
        unsigned m;
        if (sscanf(line, "Umask: %o", &m) == 1)
            return (mode_t)m & 0777;
    }
    return 0777;
}

/* The streaming pass over the open readers: entries, then the drain. The hasher's jobs may
 * still be running when it returns. */
static int extract_run(struct chain *c, struct archive *a, struct archive *b, int root_fd,
                       const struct layer_limits *lim, struct layer_result *ret, char **ret_tar_mem,
                       struct pump *pm)
{
    struct err *err = c->err;
    struct layer_source *src = c->src;
    if (archive_read_open(a, c, NULL, src_read, NULL) != ARCHIVE_OK) {
        if (c->failed)
            return -err->code;
        return err_setx(err, EINVAL, "%s", archive_error_string(a));
    }
    c->same_stream =
            archive_filter_count(a) == 1 && archive_filter_code(a, 0) == ARCHIVE_FILTER_NONE;
    if (!c->same_stream) {
        if (ring_init(&c->tar_ring, TAR_SLOTS, TAR_BUF) < 0)
            return err_set(err, ENOMEM, "extract %s", src->what);
        *ret_tar_mem = c->tar_ring.mem;
        /* Starts on a full slot so that the first read moves to slot 0. */
        c->tar_ring.cur = TAR_SLOTS - 1;
        c->tar_ring.fill = c->tar_ring.posted = TAR_BUF;
        if (!pump_start(c, pm))
            log_debug("%s: no decompression thread, decompressing inline", src->what);
    }
    archive_read_support_format_tar(b);
    archive_read_support_format_gnutar(b);
    if (archive_read_open(b, c, NULL, tar_read, NULL) != ARCHIVE_OK) {
        if (c->failed)
            return -err->code;
        return err_setx(err, EINVAL, "not a tar stream: %s", archive_error_string(b));
    }

    struct writer w = {
            .root_fd = root_fd,
            .what = src->what,
            .err = err,
            .cache_fd = root_fd,
            .euid = geteuid(),
            .egid = getegid(),
            .umask = current_umask(),
            .max_bytes = lim->max_bytes,
    };
    struct stat rst;
    w.root_setgid = fstat(root_fd, &rst) < 0 || (rst.st_mode & S_ISGID);
    w.cache_setgid = w.root_setgid;
    uint64_t entries = 0;
    int r = 0;
    for (;;) {
        struct archive_entry *e;
        int ar = archive_read_next_header(b, &e);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar < ARCHIVE_WARN) {
            r = c->failed ? -err->code : err_setx(err, EINVAL, "%s", archive_error_string(b));
            break;
        }
        if (++entries > lim->max_entries) {
            r = err_setx(err, EFBIG, "more than %" PRIu64 " entries", lim->max_entries);
            break;
        }
        const char *path = archive_entry_pathname(e);
        _cleanup_free_ char *clean = NULL;
        r = image_path_clean(path, &clean);
        if (r < 0) {
            r = err_setx(err, EINVAL, "entry '%s': path is absolute, empty or climbs out ('..')",
                         path ? path : "(null)");
            break;
        }
        r = do_entry(&w, b, e, clean);
        if (r == -EIO && !err->code)
            r = c->failed ? -err->code
                          : err_setx(err, EIO, "entry '%s': %s", clean, archive_error_string(b));
        if (r < 0)
            break;
    }
    if (r >= 0)
        fix_dir_times(&w);
    cache_drop(&w);
    free(w.stack);
    free(w.stack_setgid);
    for (size_t i = 0; i < w.n_dirs; i++)
        free(w.dirs[i].path);
    free(w.dirs);
    if (r < 0)
        return r;

    /* Drain what the tar reader did not need (end-of-archive padding) and what follows the
     * compressed stream, so that both digests cover every byte. */
    const void *p;
    while ((r = (int)tar_read(b, c, &p)) > 0)
        ;
    if (r < 0)
        return -err->code;
    while (!c->pump && (r = (int)src_read(a, c, &p)) > 0) /* else the pump did */
        ;
    if (r < 0)
        return -err->code;
    if (src->expect_size != UINT64_MAX && c->blob_bytes != src->expect_size)
        return err_setx(err, EINVAL, "size %" PRIu64 " differs from its descriptor (%" PRIu64 ")",
                        c->blob_bytes, src->expect_size);
    ret->blob_size = c->blob_bytes;
    ret->tar_size = c->tar_bytes;
    ret->entries = entries;
    ret->written = w.written;
    return 0;
}

int layer_extract(struct layer_source *src, int root_fd, const struct layer_limits *lim,
                  struct layer_result *ret, struct err *err)
{
    _cleanup_md_ SHA256_CTX *blob_md = calloc(1, sizeof(SHA256_CTX));
    _cleanup_md_ SHA256_CTX *tar_md = calloc(1, sizeof(SHA256_CTX));
    struct chain c = {
            .src = src,
            .blob_md = blob_md,
            .tar_md = tar_md,
            .max_bytes = lim->max_bytes,
            .err = err,
            .src_err = err,
    };
    /* Freed at return, after the hasher is joined. */
    _cleanup_free_ char *src_mem = NULL, *tar_mem = NULL;
    _cleanup_archive_ struct archive *a = archive_read_new();
    _cleanup_archive_ struct archive *b = archive_read_new();
    if (!blob_md || !tar_md || !a || !b)
        return err_set(err, ENOMEM, "extract %s", src->what);
    if (src->fd >= 0) {
        if (ring_init(&c.src_ring, SRC_SLOTS, SRC_BUF) < 0)
            return err_set(err, ENOMEM, "extract %s", src->what);
        src_mem = c.src_ring.mem;
    }
    SHA256_Init(blob_md);
    SHA256_Init(tar_md);
    c.a = a;
    archive_read_support_filter_all(a);
    archive_read_support_format_raw(a);

    struct hasher h;
    hasher_start(&h);
    c.h = &h;
    struct pump pm = {0};
    int r = extract_run(&c, a, b, root_fd, lim, ret, &tar_mem, &pm);
    /* Joined here, on every path: before the digests are read and before what they use
     * (the rings, the readers, the outer archive's block) is freed or reused. The pump
     * first: it posts to the hasher. */
    pump_stop(&pm);
    hasher_stop(&h);
    if (r < 0)
        return r;
    md_hex(blob_md, ret->blob_hex);
    if (c.same_stream)
        memcpy(ret->diff_hex, ret->blob_hex, sizeof(ret->diff_hex));
    else
        md_hex(tar_md, ret->diff_hex);
    return 0;
}

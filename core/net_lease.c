/* Address leases and the hosts/resolv.conf files of containers (see net.h for the layout).
 * Every operation takes an exclusive flock on <state_dir>/net, so that several mgr
 * processes (`mgr run` next to the daemon) never hand out one address twice. Decisions are
 * made by ipam.c and net_hosts_render(); this file only reads and writes the files. */
#include "net.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "ipam.h"
#include "log.h"
#include "util.h"

#define LEASES_MAX      65536
#define LEASES_FILE_MAX (LEASES_MAX * 300) /* name (<= 255) + address per line */

struct lease {
    char *container;
    struct in_addr addr;
};

struct lease_list {
    struct lease *v;
    size_t n;
};

static void lease_list_clear(struct lease_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].container);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* A held lock on <state_dir>/net plus fds of its subdirectories. */
struct net_dirs {
    int net;    /* <state>/net, flock'ed (also guards the hosts files) */
    int leases; /* <state>/net/leases */
    int hosts;  /* <hosts_root>/net/hosts, -1 when not asked for */
};

static void net_dirs_close(struct net_dirs *d)
{
    closep(&d->hosts);
    closep(&d->leases);
    closep(&d->net); /* releases the flock */
}

static int open_subdir(int dirfd, const char *name, bool create)
{
    if (create && mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
        return -errno;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static int net_dirs_open(const char *state_dir, const char *hosts_root, struct net_dirs *ret,
                         struct err *err)
{
    _cleanup_free_ char *path = strdup_printf("%s/net", state_dir);
    _cleanup_free_ char *hpath = hosts_root ? strdup_printf("%s/net/hosts", hosts_root) : NULL;
    struct net_dirs d = {-1, -1, -1};
    int r;

    if (!path || (hosts_root && !hpath))
        return err_set(err, ENOMEM, "allocate path");
    r = mkdir_p(path, 0755);
    if (r < 0)
        return err_set(err, -r, "create '%s'", path);
    d.net = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d.net < 0)
        return err_set(err, errno, "open '%s'", path);
    if (flock(d.net, LOCK_EX) < 0) {
        r = err_set(err, errno, "lock '%s'", path);
        goto fail;
    }
    d.leases = open_subdir(d.net, "leases", true);
    if (d.leases < 0) {
        r = err_set(err, -d.leases, "open '%s/leases'", path);
        goto fail;
    }
    if (hpath) {
        r = mkdir_p(hpath, 0755);
        d.hosts = r < 0 ? r : open(hpath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (d.hosts < 0) {
            r = err_set(err, r < 0 ? -r : errno, "open '%s'", hpath);
            d.hosts = -1;
            goto fail;
        }
    }
    *ret = d;
    return 0;
fail:
    net_dirs_close(&d);
    return r;
}

/* A directory stream over a dup of dirfd (which stays open), positioned at the start: dups
 * share the offset, so a previous walk must be rewound. NULL with errno set on failure. */
static DIR *opendir_dup(int dirfd)
{
    _cleanup_close_ int fd = dup(dirfd);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;

    if (!dir)
        return NULL;
    TAKE_FD(fd);
    rewinddir(dir);
    return dir;
}

static bool skip_name(const char *name)
{
    /* dotfiles and write_file_atomic_at's temporaries */
    return name[0] == '.' || strstr(name, ".tmp.") != NULL;
}

static bool valid_file_name(const char *s)
{
    return s && s[0] && s[0] != '.' && !strpbrk(s, "/ \t\n") && strlen(s) <= 255;
}

/* Reads the lease file of one network: one "container address" line per lease. A missing
 * file is an empty list; a corrupt line holds no address and is skipped. */
static int leases_read(int leases_fd, const char *network, struct lease_list *ret)
{
    _cleanup_free_ char *buf = NULL;
    struct lease_list l = {0};
    char *save = NULL;
    size_t len;
    int r;

    r = read_file_at(leases_fd, network, LEASES_FILE_MAX, &buf, &len);
    if (r == -EISDIR) {
        /* a directory per network is the layout of early development builds: its leases
         * are dropped (the containers get addresses again) */
        (void)rm_rf_at(leases_fd, network);
        r = -ENOENT;
    }
    if (r == -ENOENT) {
        *ret = l;
        return 0;
    }
    if (r < 0)
        return r;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *sp = strchr(line, ' ');
        struct in_addr a;
        struct lease *nv;

        if (!sp)
            continue;
        *sp = '\0';
        if (!valid_file_name(line) || inet_pton(AF_INET, sp + 1, &a) != 1) {
            log_debug("net: corrupt lease line in '%s', ignoring", network);
            continue;
        }
        if (l.n >= LEASES_MAX)
            break;
        nv = realloc(l.v, (l.n + 1) * sizeof(*l.v));
        if (!nv)
            goto oom;
        l.v = nv;
        l.v[l.n].container = strdup(line);
        if (!l.v[l.n].container)
            goto oom;
        l.v[l.n++].addr = a;
    }
    *ret = l;
    return 0;
oom:
    lease_list_clear(&l);
    return -ENOMEM;
}

static const struct lease *lease_find(const struct lease_list *l, const char *container)
{
    for (size_t i = 0; i < l->n; i++)
        if (STREQ(l->v[i].container, container))
            return &l->v[i];
    return NULL;
}

/* Replaces the network's lease file with l (removes it when l is empty). Not fsync'ed: this
 * is on the start path, and a lease lost in a power cut only means a new address. */
static int leases_write(int leases_fd, const char *network, const struct lease_list *l)
{
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    FILE *f;

    if (l->n == 0)
        return unlinkat(leases_fd, network, 0) < 0 && errno != ENOENT ? -errno : 0;
    f = open_memstream(&buf, &len);
    if (!f)
        return -ENOMEM;
    for (size_t i = 0; i < l->n; i++) {
        char a[INET_ADDRSTRLEN];
        fprintf(f, "%s %s\n", l->v[i].container, inet_ntop(AF_INET, &l->v[i].addr, a, sizeof(a)));
    }
    if (fclose(f) != 0 || !buf)
        return -ENOMEM;
    return write_file_atomic_at(leases_fd, network, buf, len, 0644, false);
}

static int lease_write(int leases_fd, const char *network, const char *container, struct in_addr a)
{
    _cleanup_(lease_list_clear) struct lease_list l = {0};
    struct lease *nv;
    int r;

    r = leases_read(leases_fd, network, &l);
    if (r < 0)
        return r;
    for (size_t i = 0; i < l.n; i++)
        if (STREQ(l.v[i].container, container)) {
            l.v[i].addr = a;
            return leases_write(leases_fd, network, &l);
        }
    nv = realloc(l.v, (l.n + 1) * sizeof(*l.v));
    if (!nv)
        return -ENOMEM;
    l.v = nv;
    l.v[l.n].container = strdup(container);
    if (!l.v[l.n].container)
        return -ENOMEM;
    l.v[l.n++].addr = a;
    return leases_write(leases_fd, network, &l);
}

/* Returns 1 if container held a lease on network (now dropped), 0 if not. */
static int lease_remove(int leases_fd, const char *network, const char *container)
{
    _cleanup_(lease_list_clear) struct lease_list l = {0};
    int r;

    r = leases_read(leases_fd, network, &l);
    if (r < 0)
        return r;
    for (size_t i = 0; i < l.n; i++)
        if (STREQ(l.v[i].container, container)) {
            free(l.v[i].container);
            l.v[i] = l.v[--l.n];
            r = leases_write(leases_fd, network, &l);
            return r < 0 ? r : 1;
        }
    return 0;
}

static int lease_acquire_locked(const struct net_dirs *d, const struct unit *netunit,
                                const char *container, const char *static_addr,
                                const struct unit_set *units, struct in_addr *ret, struct err *err)
{
    _cleanup_(lease_list_clear) struct lease_list l = {0};
    _cleanup_free_ struct in_addr *used = NULL;
    size_t n_used = 0, cap;
    struct ipam_subnet s;
    const struct lease *own;
    struct in_addr a;
    char as[INET_ADDRSTRLEN], ns[INET_ADDRSTRLEN];
    int r;

    if (!valid_file_name(container) || !valid_file_name(netunit->name))
        return err_setx(err, EINVAL, "invalid container or network name");
    r = ipam_subnet_init(netunit->subnet, netunit->prefix_len, netunit->gateway, &s);
    if (r < 0)
        return err_setx(err, -r, "network '%s': invalid subnet or gateway", netunit->name);
    inet_ntop(AF_INET, &s.net, ns, sizeof(ns));
    r = leases_read(d->leases, netunit->name, &l);
    if (r < 0)
        return err_set(err, -r, "network '%s': read leases", netunit->name);
    own = lease_find(&l, container);

    /* used = other containers' leases, then (for dynamic allocation) other units' static
     * addresses on this network, so that a container started later keeps its address */
    cap = l.n + (units ? units->n : 0) + 1;
    used = calloc(cap, sizeof(*used));
    if (!used)
        return err_set(err, ENOMEM, "allocate lease table");
    for (size_t i = 0; i < l.n; i++)
        if (&l.v[i] != own)
            used[n_used++] = l.v[i].addr;

    if (static_addr) {
        if (inet_pton(AF_INET, static_addr, &a) != 1)
            return err_setx(err, EINVAL, "network '%s': address '%s' is not an IPv4 address",
                            netunit->name, static_addr);
        r = ipam_check(&s, a, used, n_used);
        if (r == -ERANGE)
            return err_setx(err, ERANGE, "network '%s': address %s is outside the subnet %s/%u",
                            netunit->name, static_addr, ns, s.prefix);
        if (r == -EADDRNOTAVAIL)
            return err_setx(err, EADDRNOTAVAIL,
                            "network '%s': address %s is the network, broadcast or gateway address",
                            netunit->name, static_addr);
        if (r == -EADDRINUSE) {
            for (size_t i = 0; i < l.n; i++)
                if (&l.v[i] != own && l.v[i].addr.s_addr == a.s_addr)
                    return err_setx(err, EADDRINUSE,
                                    "network '%s': address %s of '%s' is already used by '%s'",
                                    netunit->name, static_addr, container, l.v[i].container);
        }
        if (r < 0)
            return err_setx(err, -r, "network '%s': address %s", netunit->name, static_addr);
        /* another unit declaring the same static address is a conflict too, even when it
         * does not run yet: report both names */
        for (size_t i = 0; units && i < units->n; i++) {
            const struct unit *o = units->units[i];
            if (o->kind != UNIT_CONTAINER || STREQ(o->name, container))
                continue;
            for (size_t j = 0; j < o->n_networks; j++)
                if (STREQ(o->networks[j].name, netunit->name) && o->networks[j].address &&
                    STREQ(o->networks[j].address, static_addr))
                    return err_setx(err, EADDRINUSE,
                                    "network '%s': address %s is declared by both '%s' and '%s'",
                                    netunit->name, static_addr, container, o->name);
        }
    } else {
        for (size_t i = 0; units && i < units->n; i++) {
            const struct unit *o = units->units[i];
            struct in_addr sa;
            if (o->kind != UNIT_CONTAINER || STREQ(o->name, container))
                continue;
            for (size_t j = 0; j < o->n_networks && n_used < cap; j++)
                if (STREQ(o->networks[j].name, netunit->name) && o->networks[j].address &&
                    inet_pton(AF_INET, o->networks[j].address, &sa) == 1)
                    used[n_used++] = sa;
        }
        if (own && ipam_check(&s, own->addr, used, n_used) == 0) {
            *ret = own->addr; /* stable across restarts */
            return 0;
        }
        r = ipam_alloc(&s, used, n_used, &a);
        if (r == -ENOSPC)
            return err_setx(err, ENOSPC, "network '%s': no free address in %s/%u", netunit->name,
                            ns, s.prefix);
        if (r < 0)
            return err_set(err, -r, "network '%s': allocate address", netunit->name);
    }
    if (!own || own->addr.s_addr != a.s_addr) {
        r = lease_write(d->leases, netunit->name, container, a);
        if (r < 0)
            return err_set(err, -r, "network '%s': write lease of '%s'", netunit->name, container);
    }
    inet_ntop(AF_INET, &a, as, sizeof(as));
    log_debug("net: lease %s on '%s' for '%s'", as, netunit->name, container);
    *ret = a;
    return 0;
}

int net_lease_acquire(const char *state_dir, const struct unit *netunit, const char *container,
                      const char *static_addr, const struct unit_set *units, struct in_addr *ret,
                      struct err *err)
{
    _cleanup_(net_dirs_close) struct net_dirs d = {-1, -1, -1};
    int r = net_dirs_open(state_dir, NULL, &d, err);

    if (r < 0)
        return r;
    return lease_acquire_locked(&d, netunit, container, static_addr, units, ret, err);
}

int net_leases_acquire(const char *state_dir, const struct unit *c, const struct unit_set *units,
                       struct in_addr *ret_addrs, struct err *err)
{
    _cleanup_(net_dirs_close) struct net_dirs d = {-1, -1, -1};
    _cleanup_free_ struct in_addr *addrs = NULL;
    _cleanup_free_ bool *had = NULL;
    size_t i;
    int r;

    if (c->n_networks == 0)
        return 0;
    r = net_dirs_open(state_dir, NULL, &d, err);
    if (r < 0)
        return r;
    addrs = calloc(c->n_networks, sizeof(*addrs));
    had = calloc(c->n_networks, sizeof(*had));
    if (!addrs || !had)
        return err_set(err, ENOMEM, "allocate addresses");
    for (i = 0; i < c->n_networks; i++) {
        const struct unit *nu = net_find_network(units, c->networks[i].name);

        if (!nu) {
            r = err_setx(err, ENOENT, "network '%s' is not defined", c->networks[i].name);
            goto undo;
        }
        {
            _cleanup_(lease_list_clear) struct lease_list l = {0};
            had[i] = leases_read(d.leases, nu->name, &l) == 0 && lease_find(&l, c->name);
        }
        r = lease_acquire_locked(&d, nu, c->name, c->networks[i].address, units, &addrs[i], err);
        if (r < 0)
            goto undo;
    }
    memcpy(ret_addrs, addrs, c->n_networks * sizeof(*addrs));
    return 0;
undo:
    /* leases this call created are dropped; those the container already held stay */
    for (size_t j = 0; j < i; j++)
        if (!had[j])
            (void)lease_remove(d.leases, c->networks[j].name, c->name);
    return err_wrap(err, "unit '%s'", c->name);
}

int net_lease_lookup(const char *state_dir, const char *network, const char *container,
                     struct in_addr *ret)
{
    _cleanup_(lease_list_clear) struct lease_list l = {0};
    _cleanup_free_ char *path = strdup_printf("%s/net/leases", state_dir);
    _cleanup_close_ int fd = -1;
    const struct lease *own;
    int r;

    if (!path)
        return -ENOMEM;
    if (!valid_file_name(network) || !valid_file_name(container))
        return -EINVAL;
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    r = leases_read(fd, network, &l);
    if (r < 0)
        return r;
    own = lease_find(&l, container);
    if (!own)
        return -ENOENT;
    *ret = own->addr;
    return 0;
}

int net_lease_release(const char *state_dir, const char *network, const char *container,
                      struct err *err)
{
    _cleanup_(net_dirs_close) struct net_dirs d = {-1, -1, -1};
    int r;

    if (!valid_file_name(container) || !valid_file_name(network))
        return err_setx(err, EINVAL, "invalid container or network name");
    r = net_dirs_open(state_dir, NULL, &d, err);
    if (r < 0)
        return r;
    r = lease_remove(d.leases, network, container);
    if (r < 0)
        return err_set(err, -r, "network '%s': remove lease of '%s'", network, container);
    return 0;
}

/* ---- hosts files ---- */

/* Entry indices sorted by name, ties by position: the first of equal names comes first. */
static int cmp_entry(const void *a, const void *b, void *arg)
{
    const struct net_host_entry *e = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(e[x].name, e[y].name);
    return c ? c : (x < y ? -1 : x > y);
}

#define HOSTS_HEADER                                                            \
    "# generated by mgr; rewritten when containers join or leave the network\n" \
    "127.0.0.1\tlocalhost\n"                                                    \
    "::1\tlocalhost ip6-localhost ip6-loopback\n"

/* "a.b.c.d" into out (at least INET_ADDRSTRLEN bytes, not terminated); returns the length. */
static size_t format_ipv4(struct in_addr a, char *out)
{
    const unsigned char *b = (const unsigned char *)&a.s_addr;
    size_t len = 0;

    for (int i = 0; i < 4; i++) {
        unsigned v = b[i];
        if (v >= 100)
            out[len++] = (char)('0' + v / 100);
        if (v >= 10)
            out[len++] = (char)('0' + v / 10 % 10);
        out[len++] = (char)('0' + v % 10);
        if (i < 3)
            out[len++] = '.';
    }
    return len;
}

int net_hosts_render(const struct net_host_entry *e, size_t n, char **ret)
{
    _cleanup_free_ char *buf = NULL;
    _cleanup_free_ size_t *idx = NULL;
    _cleanup_free_ bool *dup = NULL;
    size_t len = 0, m = 0, cap;

    /* duplicates (a container met on two networks) are found by sorting, not by comparing
     * every pair: a file for n members costs O(n log n) */
    idx = calloc(n + 1, sizeof(*idx));
    dup = calloc(n + 1, sizeof(*dup));
    if (!idx || !dup)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (e[i].name)
            idx[m++] = i;
        else
            dup[i] = true;
    qsort_r(idx, m, sizeof(*idx), cmp_entry, (void *)e);
    for (size_t k = 1; k < m; k++)
        if (STREQ(e[idx[k]].name, e[idx[k - 1]].name))
            dup[idx[k]] = true;

    /* formatted by hand into one buffer: stdio formatting dominated the cost of rewriting
     * the files of a network with hundreds of members */
    cap = sizeof(HOSTS_HEADER);
    for (size_t i = 0; i < n; i++)
        if (!dup[i])
            cap += INET_ADDRSTRLEN + strlen(e[i].name) + (e[i].alias ? strlen(e[i].alias) : 0) + 3;
    buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    memcpy(buf, HOSTS_HEADER, sizeof(HOSTS_HEADER) - 1);
    len = sizeof(HOSTS_HEADER) - 1;
    for (size_t i = 0; i < n; i++) {
        size_t l;

        if (dup[i])
            continue;
        len += format_ipv4(e[i].addr, buf + len);
        buf[len++] = '\t';
        l = strlen(e[i].name);
        memcpy(buf + len, e[i].name, l);
        len += l;
        if (e[i].alias && !STREQ(e[i].alias, e[i].name)) {
            buf[len++] = ' ';
            l = strlen(e[i].alias);
            memcpy(buf + len, e[i].alias, l);
            len += l;
        }
        buf[len++] = '\n';
    }
    buf[len] = '\0';
    *ret = TAKE_PTR(buf);
    return 0;
}

/* Writes data over dirfd/name in place: the file is bind-mounted into a running container,
 * and a rename would leave the mount on the old inode. */
static int write_in_place(int dirfd, const char *name, const char *data)
{
    _cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    size_t len = strlen(data), off = 0;

    if (fd < 0)
        return -errno;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        off += (size_t)w;
    }
    if (ftruncate(fd, (off_t)len) < 0)
        return -errno;
    return 0;
}

/* Every network's leases, read once per locked operation: rewriting the hosts files of all
 * members of a network then costs one pass over the lease files, not one per member. */
struct lease_db {
    char **networks;
    struct lease_list *lists;
    size_t n;
    const struct unit **by_name; /* container units sorted by name, for hostname aliases */
    size_t n_units;
};

static void lease_db_clear(struct lease_db *db)
{
    for (size_t i = 0; i < db->n; i++) {
        free(db->networks[i]);
        lease_list_clear(&db->lists[i]);
    }
    free(db->networks);
    free(db->lists);
    free(db->by_name);
    *db = (struct lease_db){0};
}

static int lease_db_load(const struct net_dirs *d, struct lease_db *ret)
{
    DIR *dir = opendir_dup(d->leases);
    struct lease_db db = {0};
    struct dirent *de;
    int r = 0;

    if (!dir)
        return -errno;
    while ((de = readdir(dir))) {
        struct lease_list l = {0};
        char **nn;
        struct lease_list *nl;

        if (skip_name(de->d_name) || leases_read(d->leases, de->d_name, &l) < 0)
            continue;
        nn = realloc(db.networks, (db.n + 1) * sizeof(*nn));
        if (nn)
            db.networks = nn;
        nl = realloc(db.lists, (db.n + 1) * sizeof(*nl));
        if (nl)
            db.lists = nl;
        if (!nn || !nl || !(db.networks[db.n] = strdup(de->d_name))) {
            lease_list_clear(&l);
            r = -ENOMEM;
            break;
        }
        db.lists[db.n++] = l;
    }
    closedir(dir);
    if (r < 0) {
        lease_db_clear(&db);
        return r;
    }
    *ret = db;
    return 0;
}

static int cmp_unit_name(const void *a, const void *b)
{
    return strcmp((*(const struct unit *const *)a)->name, (*(const struct unit *const *)b)->name);
}

/* Indexes the container units by name once, so that each hosts line finds its alias in
 * O(log n) instead of scanning the set. */
static int lease_db_index_units(struct lease_db *db, const struct unit_set *units)
{
    if (!units || units->n == 0)
        return 0;
    db->by_name = calloc(units->n, sizeof(*db->by_name));
    if (!db->by_name)
        return -ENOMEM;
    for (size_t i = 0; i < units->n; i++)
        if (units->units[i]->kind == UNIT_CONTAINER)
            db->by_name[db->n_units++] = units->units[i];
    qsort(db->by_name, db->n_units, sizeof(*db->by_name), cmp_unit_name);
    return 0;
}

static const char *db_hostname(const struct lease_db *db, const char *name)
{
    struct unit key = {.name = (char *)name};
    const struct unit *k = &key, **u;

    if (db->n_units == 0)
        return NULL;
    u = bsearch(&k, db->by_name, db->n_units, sizeof(*db->by_name), cmp_unit_name);
    return u ? (*u)->hostname : NULL;
}

static const struct lease_list *lease_db_get(const struct lease_db *db, const char *network)
{
    for (size_t i = 0; i < db->n; i++)
        if (STREQ(db->networks[i], network))
            return &db->lists[i];
    return NULL;
}

/* Builds and writes the hosts file of container `name`: itself first (its address on its
 * first network, per c's order if the unit is known), then everyone on its networks. */
static int hosts_write_locked(const struct net_dirs *d, const struct lease_db *db, const char *name,
                              const struct unit_set *units)
{
    _cleanup_free_ struct net_host_entry *e = NULL;
    _cleanup_free_ char *text = NULL;
    _cleanup_close_ int hfd = -1;
    const struct lease_list *mine[16];
    const struct unit *c = units ? unit_set_find(units, name) : NULL;
    size_t n_nets = 0, n_e = 0, cap = 1;

    if (!valid_file_name(name))
        return -EINVAL;
    /* the networks name is on: from the unit (declared order) or else from the leases */
    if (c && c->kind == UNIT_CONTAINER) {
        for (size_t i = 0; i < c->n_networks && n_nets < ARRAY_SIZE(mine); i++) {
            const struct lease_list *l = lease_db_get(db, c->networks[i].name);
            if (l && lease_find(l, name))
                mine[n_nets++] = l;
        }
    } else {
        for (size_t i = 0; i < db->n && n_nets < ARRAY_SIZE(mine); i++)
            if (lease_find(&db->lists[i], name))
                mine[n_nets++] = &db->lists[i];
    }
    for (size_t i = 0; i < n_nets; i++)
        cap += mine[i]->n;
    e = calloc(cap, sizeof(*e));
    if (!e)
        return -ENOMEM;
    if (n_nets > 0)
        e[n_e++] = (struct net_host_entry){lease_find(mine[0], name)->addr, name,
                                           db_hostname(db, name)};
    else /* no network: the name still resolves, as on Debian */
        e[n_e++] = (struct net_host_entry){{htonl(0x7f000101)}, name, db_hostname(db, name)};
    for (size_t i = 0; i < n_nets; i++)
        for (size_t j = 0; j < mine[i]->n; j++)
            if (!STREQ(mine[i]->v[j].container, name))
                e[n_e++] = (struct net_host_entry){mine[i]->v[j].addr, mine[i]->v[j].container,
                                                   db_hostname(db, mine[i]->v[j].container)};
    if (net_hosts_render(e, n_e, &text) < 0)
        return -ENOMEM;
    hfd = open_subdir(d->hosts, name, true);
    if (hfd < 0)
        return hfd;
    return write_in_place(hfd, "hosts", text);
}

/* resolv.conf: the unit's dns servers, else the host's file without loopback nameservers
 * (a resolver on the host's 127.0.0.x is unreachable from a private network namespace). */
static int resolv_render(const struct unit *c, char **ret)
{
    _cleanup_free_ char *host = NULL, *buf = NULL;
    size_t len = 0, hlen = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return -ENOMEM;
    fputs("# generated by mgr\n", f);
    if (c && c->dns && c->dns[0]) {
        for (char **s = c->dns; *s; s++)
            fprintf(f, "nameserver %s\n", *s);
    } else if (read_file_at(AT_FDCWD, "/etc/resolv.conf", 65536, &host, &hlen) == 0) {
        char *save = NULL;
        for (char *line = strtok_r(host, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            const char *p = line + strspn(line, " \t");
            if (strncmp(p, "nameserver", 10) == 0) {
                const char *v = p + 10 + strspn(p + 10, " \t");
                if (strncmp(v, "127.", 4) == 0 || strncmp(v, "::1", 3) == 0)
                    continue;
            }
            fprintf(f, "%s\n", line);
        }
    }
    if (fclose(f) != 0 || !buf)
        return -ENOMEM;
    *ret = TAKE_PTR(buf);
    return 0;
}

int net_hosts_paths(const char *hosts_root, const char *container, char **ret_hosts,
                    char **ret_resolv)
{
    _cleanup_free_ char *h = strdup_printf("%s/net/hosts/%s/hosts", hosts_root, container);
    _cleanup_free_ char *rs = strdup_printf("%s/net/hosts/%s/resolv.conf", hosts_root, container);

    if (!h || !rs)
        return -ENOMEM;
    *ret_hosts = TAKE_PTR(h);
    *ret_resolv = TAKE_PTR(rs);
    return 0;
}

/* "network address" lines of c's leases, in c's order: what the others' files say about c. */
static int joined_signature(const struct lease_db *db, const struct unit *c, char **ret)
{
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return -ENOMEM;
    for (size_t i = 0; i < c->n_networks; i++) {
        const struct lease_list *l = lease_db_get(db, c->networks[i].name);
        const struct lease *own = l ? lease_find(l, c->name) : NULL;
        char a[INET_ADDRSTRLEN] = "-";
        if (own)
            inet_ntop(AF_INET, &own->addr, a, sizeof(a));
        fprintf(f, "%s %s\n", c->networks[i].name, a);
    }
    if (fclose(f) != 0 || !buf)
        return -ENOMEM;
    *ret = TAKE_PTR(buf);
    return 0;
}

int net_hosts_write(const char *state_dir, const char *hosts_root, const struct unit *c,
                    const struct unit_set *units, struct err *err)
{
    _cleanup_(net_dirs_close) struct net_dirs d = {-1, -1, -1};
    _cleanup_(lease_db_clear) struct lease_db db = {0};
    _cleanup_free_ char *resolv = NULL, *sig = NULL, *old_sig = NULL;
    _cleanup_close_ int hfd = -1;
    size_t old_len = 0;
    bool others = true;
    int r;

    r = net_dirs_open(state_dir, hosts_root, &d, err);
    if (r < 0)
        return r;
    if (!valid_file_name(c->name))
        return err_setx(err, EINVAL, "invalid container name '%s'", c->name);
    hfd = open_subdir(d.hosts, c->name, true);
    if (hfd < 0)
        return err_set(err, -hfd, "unit '%s': create hosts directory", c->name);
    r = resolv_render(c, &resolv);
    if (r < 0)
        return err_set(err, -r, "unit '%s': render resolv.conf", c->name);
    r = write_in_place(hfd, "resolv.conf", resolv);
    if (r < 0)
        return err_set(err, -r, "unit '%s': write resolv.conf", c->name);
    r = lease_db_load(&d, &db);
    if (r >= 0)
        r = lease_db_index_units(&db, units);
    if (r < 0)
        return err_set(err, -r, "unit '%s': read leases", c->name);
    /* Every member's view changes when c joins with new addresses: rewrite all of them.
     * A restart with the same leases (the usual case) changes nobody else's file, so only
     * c's own is written: "joined" records the addresses the others were told about. */
    r = joined_signature(&db, c, &sig);
    if (r < 0)
        return err_set(err, -r, "unit '%s': render addresses", c->name);
    if (read_file_at(hfd, "joined", 65536, &old_sig, &old_len) == 0 && STREQ(old_sig, sig))
        others = false;
    for (size_t i = 0; others && i < c->n_networks; i++) {
        const struct lease_list *l = lease_db_get(&db, c->networks[i].name);
        for (size_t j = 0; l && j < l->n; j++) {
            if (STREQ(l->v[j].container, c->name))
                continue;
            if (faccessat(d.hosts, l->v[j].container, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                continue; /* never started: no hosts file to update */
            r = hosts_write_locked(&d, &db, l->v[j].container, units);
            if (r < 0)
                log_debug("net: rewrite hosts of '%s': %s, ignoring", l->v[j].container,
                          strerror(-r));
        }
    }
    r = hosts_write_locked(&d, &db, c->name, units);
    if (r < 0)
        return err_set(err, -r, "unit '%s': write hosts file", c->name);
    if (others) {
        r = write_file_atomic_at(hfd, "joined", sig, strlen(sig), 0644, false);
        if (r < 0)
            return err_set(err, -r, "unit '%s': write hosts state", c->name);
    }
    return 0;
}

static int hosts_refresh_locked(const struct net_dirs *d, const struct unit_set *units)
{
    _cleanup_(lease_db_clear) struct lease_db db = {0};
    DIR *dir;
    struct dirent *de;
    int r;

    r = lease_db_load(d, &db);
    if (r >= 0)
        r = lease_db_index_units(&db, units);
    if (r < 0)
        return r;
    dir = opendir_dup(d->hosts);
    if (!dir)
        return -errno;
    while ((de = readdir(dir))) {
        int q;
        if (skip_name(de->d_name))
            continue;
        q = hosts_write_locked(d, &db, de->d_name, units);
        if (q < 0 && r == 0)
            r = q;
    }
    closedir(dir);
    return r;
}

int net_hosts_refresh(const char *state_dir, const char *hosts_root, const struct unit_set *units,
                      struct err *err)
{
    _cleanup_(net_dirs_close) struct net_dirs d = {-1, -1, -1};
    int r = net_dirs_open(state_dir, hosts_root, &d, err);

    if (r < 0)
        return r;
    r = hosts_refresh_locked(&d, units);
    if (r < 0)
        return err_set(err, -r, "rewrite hosts files");
    return 0;
}

/* Removes every lease of container (all networks). Returns the number removed. */
static int leases_remove_all(const struct net_dirs *d, const char *container)
{
    DIR *dir = opendir_dup(d->leases);
    struct dirent *de;
    int n = 0;

    if (!dir)
        return -errno;
    while ((de = readdir(dir))) {
        if (skip_name(de->d_name))
            continue;
        if (lease_remove(d->leases, de->d_name, container) > 0)
            n++;
    }
    closedir(dir);
    return n;
}

int net_unwire(const char *state_dir, const char *hosts_root, const char *container,
               const struct unit_set *units, struct err *err)
{
    _cleanup_(net_dirs_close) struct net_dirs d = {-1, -1, -1};
    int r, n;

    if (!valid_file_name(container))
        return err_setx(err, EINVAL, "invalid container name");
    r = net_dirs_open(state_dir, hosts_root, &d, err);
    if (r < 0)
        return r;
    r = leases_remove_all(&d, container);
    if (r < 0)
        return err_set(err, -r, "unit '%s': release leases", container);
    n = r;
    r = rm_rf_at(d.hosts, container);
    if (r < 0)
        return err_set(err, -r, "unit '%s': remove hosts files", container);
    if (n == 0)
        return 0; /* held no address: nobody else's file mentions it */
    r = hosts_refresh_locked(&d, units);
    if (r < 0)
        return err_set(err, -r, "rewrite hosts files");
    return 0;
}

static bool still_declared(const struct unit_set *units, const char *network, const char *container)
{
    const struct unit *c = units ? unit_set_find(units, container) : NULL;

    if (!net_find_network(units, network) || !c || c->kind != UNIT_CONTAINER)
        return false;
    for (size_t i = 0; i < c->n_networks; i++)
        if (STREQ(c->networks[i].name, network))
            return true;
    return false;
}

/* A container with a runtime record is running (or being reclaimed): keep what it holds. */
static bool has_runtime_record(const char *run_dir, const char *container)
{
    _cleanup_free_ char *p = NULL;

    if (!run_dir)
        return false;
    p = strdup_printf("%s/containers/%s", run_dir, container);
    return p && access(p, F_OK) == 0;
}

int net_lease_gc(const char *state_dir, const char *run_dir, const struct unit_set *units,
                 struct err *err)
{
    _cleanup_(net_dirs_close) struct net_dirs d = {-1, -1, -1};
    DIR *dir;
    struct dirent *de;
    int r, n = 0;

    r = net_dirs_open(state_dir, run_dir, &d, err);
    if (r < 0)
        return r;
    dir = opendir_dup(d.leases);
    if (!dir)
        return err_set(err, errno, "list leases");
    while ((de = readdir(dir))) {
        _cleanup_(lease_list_clear) struct lease_list l = {0};
        if (skip_name(de->d_name))
            continue;
        if (leases_read(d.leases, de->d_name, &l) < 0)
            continue;
        for (size_t i = 0; i < l.n; i++)
            if (!still_declared(units, de->d_name, l.v[i].container) &&
                !has_runtime_record(run_dir, l.v[i].container) &&
                lease_remove(d.leases, de->d_name, l.v[i].container) > 0)
                n++;
    }
    closedir(dir);

    if (d.hosts < 0)
        return n; /* no runtime dir given: hosts files are left alone */
    /* Before hosts files moved to the runtime dir they lived under the state root. */
    _cleanup_free_ char *legacy = strdup_printf("%s/net/hosts", state_dir);
    if (legacy && !STREQ(state_dir, run_dir))
        (void)rm_rf_at(AT_FDCWD, legacy);
    dir = opendir_dup(d.hosts);
    if (!dir)
        return err_set(err, errno, "list hosts files");
    while ((de = readdir(dir))) {
        const struct unit *c;
        if (skip_name(de->d_name))
            continue;
        c = units ? unit_set_find(units, de->d_name) : NULL;
        if ((!c || c->kind != UNIT_CONTAINER) && !has_runtime_record(run_dir, de->d_name))
            (void)rm_rf_at(d.hosts, de->d_name);
    }
    closedir(dir);
    if (n > 0)
        (void)hosts_refresh_locked(&d, units);
    return n;
}

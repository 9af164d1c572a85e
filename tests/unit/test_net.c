/* Unit tests for the parts of core/net.h that need no root: interface names, hosts file
 * rendering, and the file-based leases and hosts files in a scratch directory. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "inet4.h"
#include "net.h"
#include "util.h"

static char tmpl[] = "/tmp/mgrt-test-net.XXXXXX";
static const char *dir;

static struct unit *mknet(const char *name, const char *subnet, unsigned prefix)
{
    struct unit *u = calloc(1, sizeof(*u));
    u->kind = UNIT_NETWORK;
    u->name = strdup(name);
    u->subnet = A(subnet);
    u->prefix_len = prefix;
    return u;
}

/* mkctr("web", "front", NULL, "back", "10.2.0.9", NULL) */
static struct unit *mkctr(const char *name, ...)
{
    struct unit *u = calloc(1, sizeof(*u));
    va_list ap;
    const char *n;

    u->kind = UNIT_CONTAINER;
    u->name = strdup(name);
    va_start(ap, name);
    while ((n = va_arg(ap, const char *))) {
        const char *addr = va_arg(ap, const char *);
        u->networks = realloc(u->networks, (u->n_networks + 1) * sizeof(*u->networks));
        u->networks[u->n_networks].name = strdup(n);
        u->networks[u->n_networks].address = addr ? strdup(addr) : NULL;
        u->n_networks++;
    }
    va_end(ap);
    return u;
}

static void set_add(struct unit_set *s, struct unit *u)
{
    s->units = realloc(s->units, (s->n + 1) * sizeof(*s->units));
    s->units[s->n++] = u;
}

static int read_str(const char *path, char **ret)
{
    size_t len;
    return read_file_at(AT_FDCWD, path, 65536, ret, &len);
}

static int test_names(void)
{
    char a[IFNAMSIZ], b[IFNAMSIZ], c[IFNAMSIZ];
    struct unit *n = mknet("backend", "10.88.0.0", 24);

    net_bridge_name(n, a);
    CHECK_STR(a, "mgr-backend");
    free(n->name);
    n->name = strdup("a-very-long-network-name");
    net_bridge_name(n, a);
    CHECK(strlen(a) < IFNAMSIZ);
    CHECK(strncmp(a, "mgr-a-very-", 11) == 0);
    n->bridge = strdup("br0");
    net_bridge_name(n, a);
    CHECK_STR(a, "br0");
    unit_free(n);

    net_veth_name("webserver-frontend", "backend", 0, a);
    CHECK(strlen(a) < IFNAMSIZ);
    CHECK(strncmp(a, "vmwebserve-", 11) == 0);
    net_veth_name("webserver-frontend", "frontend", 0, b);
    CHECK(strcmp(a, b) != 0); /* one per network */
    net_veth_name("webserver-frontend", "backend", 1, c);
    CHECK(strcmp(a, c) != 0); /* alternatives differ */
    net_veth_name("webserver-frontend", "backend", 0, c);
    CHECK_STR(a, c); /* deterministic */
    net_veth_name("db", "backend", 0, a);
    CHECK(strncmp(a, "vmdb-", 5) == 0 && strlen(a) == 9);
    return 0;
}

static int test_hosts_render(void)
{
    struct net_host_entry e[] = {
            {A("10.88.0.2"), "web", "www"},
            {A("10.88.0.3"), "db", NULL},
            {A("10.89.0.7"), "web", NULL}, /* same name on a second network: first wins */
            {A("10.88.0.4"), "cache", "cache"},
    };
    _cleanup_free_ char *s = NULL;

    CHECK_INT(net_hosts_render(e, 4, &s), 0);
    CHECK(strstr(s, "127.0.0.1\tlocalhost\n"));
    CHECK(strstr(s, "\n10.88.0.2\tweb www\n"));
    CHECK(strstr(s, "\n10.88.0.3\tdb\n"));
    CHECK(strstr(s, "\n10.88.0.4\tcache\n"));
    CHECK(!strstr(s, "10.89.0.7"));

    /* self comes first, before the others */
    CHECK(strstr(s, "10.88.0.2") < strstr(s, "10.88.0.3"));
    free(s);
    s = NULL;
    {
        /* address formatting at the edges of each octet */
        struct net_host_entry f[] = {{A("0.9.10.255"), "x", NULL}, {A("100.99.1.0"), "y", NULL}};
        CHECK_INT(net_hosts_render(f, 2, &s), 0);
        CHECK(strstr(s, "\n0.9.10.255\tx\n100.99.1.0\ty\n"));
    }
    return 0;
}

static int test_lease_dynamic_stable(void)
{
    struct unit_set set = {0};
    struct err e = {0};
    struct in_addr a, b, c;

    set_add(&set, mknet("n1", "10.77.0.0", 24));
    set_add(&set, mkctr("a", "n1", NULL, NULL));
    set_add(&set, mkctr("b", "n1", NULL, NULL));
    set_add(&set, mkctr("s", "n1", "10.77.0.3", NULL)); /* static, not started yet */
    CHECK_INT(net_lease_acquire(dir, set.units[0], "a", NULL, &set, &a, &e), 0);
    CHECK_STR(S(a), "10.77.0.2");
    /* .3 is reserved by s's static declaration */
    CHECK_INT(net_lease_acquire(dir, set.units[0], "b", NULL, &set, &b, &e), 0);
    CHECK_STR(S(b), "10.77.0.4");
    CHECK_INT(net_lease_lookup(dir, "n1", "b", &c), 0);
    CHECK_STR(S(c), "10.77.0.4");
    CHECK_INT(net_lease_lookup(dir, "n1", "nobody", &c), -ENOENT);
    CHECK_INT(net_lease_lookup(dir, "nonet", "b", &c), -ENOENT);
    /* stable: asking again gives the same */
    CHECK_INT(net_lease_acquire(dir, set.units[0], "a", NULL, &set, &c, &e), 0);
    CHECK_STR(S(c), "10.77.0.2");
    /* a's lease released: the next new container takes .2, a coming back gets a new one */
    CHECK_INT(net_lease_release(dir, "n1", "a", &e), 0);
    CHECK_INT(net_lease_acquire(dir, set.units[0], "x", NULL, NULL, &c, &e), 0);
    CHECK_STR(S(c), "10.77.0.2");
    CHECK_INT(net_lease_acquire(dir, set.units[0], "a", NULL, NULL, &c, &e), 0);
    CHECK_STR(S(c), "10.77.0.3");
    CHECK_INT(net_lease_release(dir, "n1", "x", &e), 0);
    CHECK_INT(net_lease_release(dir, "n1", "a", &e), 0);
    CHECK_INT(net_lease_release(dir, "n1", "b", &e), 0);
    CHECK_INT(net_lease_release(dir, "n1", "nobody", &e), 0);
    unit_set_clear(&set);
    return 0;
}

static int test_lease_static(void)
{
    struct unit_set set = {0};
    struct err e = {0};
    struct in_addr a;

    set_add(&set, mknet("n2", "10.78.0.0", 24));
    set_add(&set, mkctr("a", "n2", "10.78.0.50", NULL));
    set_add(&set, mkctr("b", "n2", NULL, NULL));
    CHECK_INT(net_lease_acquire(dir, set.units[0], "a", "10.78.0.50", &set, &a, &e), 0);
    CHECK_STR(S(a), "10.78.0.50");
    /* taken by a */
    CHECK_INT(net_lease_acquire(dir, set.units[0], "b", "10.78.0.50", &set, &a, &e), -EADDRINUSE);
    CHECK(strstr(e.msg, "'a'") && strstr(e.msg, "'b'"));
    /* outside, reserved, malformed */
    CHECK_INT(net_lease_acquire(dir, set.units[0], "b", "10.79.0.5", &set, &a, &e), -ERANGE);
    CHECK(strstr(e.msg, "outside"));
    CHECK_INT(net_lease_acquire(dir, set.units[0], "b", "10.78.0.1", &set, &a, &e),
            -EADDRNOTAVAIL);
    CHECK_INT(net_lease_acquire(dir, set.units[0], "b", "10.78.0.255", &set, &a, &e),
            -EADDRNOTAVAIL);
    CHECK_INT(net_lease_acquire(dir, set.units[0], "b", "10.78.0", &set, &a, &e), -EINVAL);
    /* declared by another unit that has not started: still a conflict, naming both */
    {
        struct unit_set s2 = {0};
        set_add(&s2, mkctr("c", "n2", "10.78.0.60", NULL));
        CHECK_INT(net_lease_acquire(dir, set.units[0], "d", "10.78.0.60", &s2, &a, &e),
                -EADDRINUSE);
        CHECK(strstr(e.msg, "'c'") && strstr(e.msg, "'d'"));
        unit_set_clear(&s2);
    }
    /* net_leases_acquire: a failure on the second network keeps nothing new */
    {
        struct unit_set s3 = {0};
        struct in_addr addrs[2];
        set_add(&s3, mknet("n2", "10.78.0.0", 24));
        set_add(&s3, mknet("n3", "10.80.0.0", 24));
        set_add(&s3, mkctr("e", "n3", NULL, "n2", "10.78.0.50", NULL));
        CHECK_INT(net_leases_acquire(dir, s3.units[2], &s3, addrs, &e), -EADDRINUSE);
        _cleanup_free_ char *p = strdup_printf("%s/net/leases/n3", dir), *t = NULL;
        CHECK(access(p, F_OK) < 0 || (read_str(p, &t) == 0 && !strstr(t, "e ")));
        unit_set_clear(&s3);
    }
    CHECK_INT(net_lease_release(dir, "n2", "a", &e), 0);
    unit_set_clear(&set);
    return 0;
}

static int test_hosts_files_and_gc(void)
{
    struct unit_set set = {0};
    struct err e = {0};
    struct in_addr addrs[2];
    _cleanup_free_ char *hw = NULL, *rw = NULL, *hd = NULL, *rd = NULL, *s = NULL;
    /* leases under dir (persistent), the files containers mount under run (runtime dir) */
    _cleanup_free_ char *run = strdup_printf("%s/run", dir);

    set_add(&set, mknet("front", "10.81.0.0", 24));
    set_add(&set, mknet("back", "10.82.0.0", 24));
    set_add(&set, mkctr("web", "front", NULL, "back", NULL, NULL));
    set_add(&set, mkctr("db", "back", "10.82.0.9", NULL));
    set_add(&set, mkctr("other", "front", NULL, NULL));
    set.units[2]->hostname = strdup("www");
    set.units[3]->dns = NULL;
    strv_push(&set.units[2]->dns, "10.81.0.1");

    CHECK_INT(net_leases_acquire(dir, set.units[3], &set, addrs, &e), 0);
    CHECK_STR(S(addrs[0]), "10.82.0.9");
    CHECK_INT(net_hosts_write(dir, run, set.units[3], &set, &e), 0);
    CHECK_INT(net_leases_acquire(dir, set.units[2], &set, addrs, &e), 0);
    CHECK_STR(S(addrs[0]), "10.81.0.2");
    CHECK_STR(S(addrs[1]), "10.82.0.2");
    CHECK_INT(net_hosts_write(dir, run, set.units[2], &set, &e), 0);

    CHECK_INT(net_hosts_paths(run, "web", &hw, &rw), 0);
    CHECK_INT(net_hosts_paths(run, "db", &hd, &rd), 0);
    CHECK_INT(read_str(hw, &s), 0);
    CHECK(strstr(s, "10.81.0.2\tweb www\n"));
    CHECK(strstr(s, "10.82.0.9\tdb\n"));
    free(s);
    CHECK_INT(read_str(rw, &s), 0);
    CHECK(strstr(s, "nameserver 10.81.0.1\n"));
    free(s);
    /* db's file was rewritten when web joined: web by its back address */
    CHECK_INT(read_str(hd, &s), 0);
    CHECK(strstr(s, "10.82.0.9\tdb\n"));
    CHECK(strstr(s, "10.82.0.2\tweb www\n"));
    free(s);
    s = NULL;

    /* a restart of web with the same leases leaves db's file alone; a new address does not */
    CHECK_INT(write_file_atomic_at(AT_FDCWD, hd, "stale\n", 6, 0644, false), 0);
    CHECK_INT(net_leases_acquire(dir, set.units[2], &set, addrs, &e), 0);
    CHECK_INT(net_hosts_write(dir, run, set.units[2], &set, &e), 0);
    CHECK_INT(read_str(hd, &s), 0);
    CHECK_STR(s, "stale\n");
    free(s);
    CHECK_INT(net_lease_release(dir, "back", "web", &e), 0);
    free(set.units[2]->networks[1].address);
    set.units[2]->networks[1].address = strdup("10.82.0.33");
    CHECK_INT(net_leases_acquire(dir, set.units[2], &set, addrs, &e), 0);
    CHECK_INT(net_hosts_write(dir, run, set.units[2], &set, &e), 0);
    CHECK_INT(read_str(hd, &s), 0);
    CHECK(strstr(s, "10.82.0.33\tweb www\n"));
    free(s);
    s = NULL;

    /* web goes away: its leases and files go, db's hosts forgets it */
    CHECK_INT(net_unwire(dir, run, "web", &set, &e), 0);
    CHECK(access(hw, F_OK) < 0);
    CHECK_INT(read_str(hd, &s), 0);
    CHECK(!strstr(s, "web"));
    free(s);
    s = NULL;

    /* gc: db is no longer declared */
    CHECK_INT(net_leases_acquire(dir, set.units[4], &set, addrs, &e), 0);
    unit_free(set.units[3]);
    set.units[3] = mkctr("db2", NULL);
    {
        /* a container with a runtime record keeps its lease even when not declared */
        _cleanup_free_ char *rec = strdup_printf("%s/containers/db", run);
        _cleanup_free_ char *recs = strdup_printf("%s/containers", run);
        CHECK_INT(mkdir_p(rec, 0755), 0);
        CHECK_INT(net_lease_gc(dir, run, &set, &e), 0);
        CHECK(access(hd, F_OK) == 0);
        CHECK_INT(rm_rf_at(AT_FDCWD, recs), 0);
    }
    /* without a runtime dir, hosts files are left alone */
    CHECK_INT(net_lease_gc(dir, NULL, &set, &e), 1);
    CHECK(access(hd, F_OK) == 0);
    {
        /* hosts files of the old location (under the state root) are removed */
        _cleanup_free_ char *legacy = strdup_printf("%s/net/hosts/db", dir);
        _cleanup_free_ char *lroot = strdup_printf("%s/net/hosts", dir);
        CHECK_INT(mkdir_p(legacy, 0755), 0);
        CHECK_INT(net_lease_gc(dir, run, &set, &e), 0);
        CHECK(access(hd, F_OK) < 0);
        CHECK(access(lroot, F_OK) < 0);
    }
    {
        _cleanup_free_ char *p = strdup_printf("%s/net/leases/front", dir), *t = NULL;
        CHECK_INT(read_str(p, &t), 0);
        CHECK(strstr(t, "other 10.81.0.")); /* still declared */
    }
    CHECK_INT(net_unwire(dir, run, "other", &set, &e), 0);
    unit_set_clear(&set);
    return 0;
}

int main(void)
{
    dir = mkdtemp(tmpl);
    if (!dir)
        return 1;
    RUN(test_names);
    RUN(test_hosts_render);
    RUN(test_lease_dynamic_stable);
    RUN(test_lease_static);
    RUN(test_hosts_files_and_gc);
    (void)rm_rf_at(AT_FDCWD, dir);
    return HARNESS_END();
}

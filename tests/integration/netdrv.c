/* Test and benchmark driver for core/net.h, independent of the unit parser and the runtime:
 * units are built from the command line. Compiled by tests/integration/50-net*.sh and
 * tests/bench/net.sh against $B/libmgrcore.a.
 *
 *   netdrv [-s STATE] [-n NAME=A.B.C.D/LEN[,gw=G][,bridge=BR]]... [-c CONTAINER]
 *          [-a NET[=ADDR]]... [--dns SERVER]... CMD [ARGS]
 *   CMD: up | down | gc | wire NSPATH | lo NSPATH | unwire | hosts | lease | release NET
 *        | bench N     (N times: new netns, net_wire timed; prints the median in us)
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/wait.h>

#include "ipam.h"
#include "net.h"
#include "unit.h"
#include "util.h"

static struct unit_set set;
static struct unit *ctr;
static const char *state = "/tmp/mgrt-netdrv";

static void die(const char *what, const struct err *e)
{
    fprintf(stderr, "netdrv: %s: %s\n", what, e->msg);
    exit(1);
}

static void add_unit(struct unit *u)
{
    set.units = realloc(set.units, (set.n + 1) * sizeof(*set.units));
    set.units[set.n++] = u;
}

static void add_network(char *spec)
{
    struct unit *u = calloc(1, sizeof(*u));
    char *eq = strchr(spec, '='), *opt;

    if (!eq) {
        fprintf(stderr, "netdrv: -n NAME=CIDR\n");
        exit(2);
    }
    *eq = '\0';
    u->kind = UNIT_NETWORK;
    u->name = strdup(spec);
    opt = strchr(eq + 1, ',');
    if (opt)
        *opt++ = '\0';
    if (ipam_parse_cidr(eq + 1, &u->subnet, &u->prefix_len) < 0) {
        fprintf(stderr, "netdrv: bad subnet '%s'\n", eq + 1);
        exit(2);
    }
    while (opt && *opt) {
        char *next = strchr(opt, ',');
        if (next)
            *next++ = '\0';
        if (strncmp(opt, "gw=", 3) == 0)
            inet_pton(AF_INET, opt + 3, &u->gateway);
        else if (strncmp(opt, "bridge=", 7) == 0)
            u->bridge = strdup(opt + 7);
        opt = next;
    }
    add_unit(u);
}

static void attach(char *spec)
{
    char *eq = strchr(spec, '=');
    ctr->networks = realloc(ctr->networks, (ctr->n_networks + 1) * sizeof(*ctr->networks));
    if (eq)
        *eq = '\0';
    ctr->networks[ctr->n_networks].name = strdup(spec);
    ctr->networks[ctr->n_networks].address = eq ? strdup(eq + 1) : NULL;
    ctr->n_networks++;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A child in a new network namespace that waits for the pipe to close. */
static pid_t netns_child(int *ret_fd, int *ret_pipe)
{
    int p[2], q[2];
    char c;
    pid_t pid;

    if (pipe(p) < 0 || pipe(q) < 0)
        exit(1);
    pid = fork();
    if (pid == 0) {
        close(p[1]);
        close(q[0]);
        if (unshare(CLONE_NEWNET) < 0)
            _exit(1);
        (void)!write(q[1], "x", 1);
        (void)!read(p[0], &c, 1);
        _exit(0);
    }
    close(p[0]);
    close(q[1]);
    if (read(q[0], &c, 1) != 1)
        exit(1);
    close(q[0]);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
    *ret_fd = open(path, O_RDONLY | O_CLOEXEC);
    *ret_pipe = p[1];
    return pid;
}

/* Wires n fresh namespaces, timing lease+wire of each. All namespaces are created first and
 * destroyed only at the end, so that no namespace teardown (which takes the rtnl lock for a
 * while, asynchronously) falls into a timed section. */
static int cmd_bench(struct net_ctx *ctx, int n)
{
    uint64_t *wire = calloc((size_t)n, sizeof(*wire)), *lease = calloc((size_t)n, sizeof(*lease));
    uint64_t *hosts = calloc((size_t)n, sizeof(*hosts)), hosts_last = 0;
    int *fds = calloc((size_t)n, sizeof(*fds)), *pipes = calloc((size_t)n, sizeof(*pipes));
    pid_t *pids = calloc((size_t)n, sizeof(*pids));
    char **names = calloc((size_t)n, sizeof(*names));
    struct err e = {0};
    char *base = ctr->name;

    for (int i = 0; i < n; i++)
        pids[i] = netns_child(&fds[i], &pipes[i]);
    usleep(200 * 1000); /* let the system settle after creating the namespaces */
    for (int i = 0; i < n; i++) {
        struct in_addr addrs[8];
        uint64_t t0, t1, t2;

        names[i] = strdup_printf("%s%d", base, i);
        ctr->name = names[i];
        t0 = now_ns();
        if (net_leases_acquire(state, ctr, &set, addrs, &e) < 0)
            die("lease", &e);
        t1 = now_ns();
        if (net_wire(ctx, ctr, &set, fds[i], addrs, &e) < 0)
            die("wire", &e);
        t2 = now_ns();
        if (net_hosts_write(state, state, ctr, &set, &e) < 0)
            die("hosts", &e);
        hosts[i] = now_ns() - t2;
        lease[i] = t1 - t0;
        wire[i] = t2 - t1;
    }
    for (int i = 0; i < n; i++) {
        if (net_unwire(state, state, names[i], &set, &e) < 0)
            die("unwire", &e);
        close(fds[i]);
        close(pipes[i]);
        /* later children inherited this pipe's write end: EOF would not come, kill instead */
        kill(pids[i], SIGKILL);
        waitpid(pids[i], NULL, 0);
        free(names[i]);
    }
    ctr->name = base;
    hosts_last = hosts[n - 1];
    qsort(hosts, (size_t)n, sizeof(*hosts), cmp_u64);
    qsort(wire, (size_t)n, sizeof(*wire), cmp_u64);
    qsort(lease, (size_t)n, sizeof(*lease), cmp_u64);
    printf("wire_us %.1f\nlease_us %.1f\nhosts_us %.1f\nhosts_last_us %.1f\n",
            (double)wire[n / 2] / 1000.0, (double)lease[n / 2] / 1000.0,
            (double)hosts[n / 2] / 1000.0, (double)hosts_last / 1000.0);
    free(hosts);
    free(wire);
    free(lease);
    free(fds);
    free(pipes);
    free(pids);
    free(names);
    return 0;
}

int main(int argc, char **argv)
{
    struct net_ctx ctx;
    struct err e = {0};
    char **dns = NULL;
    int i, r;

    ctr = calloc(1, sizeof(*ctr));
    ctr->kind = UNIT_CONTAINER;
    ctr->name = strdup("mgrtc");
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (i + 1 >= argc)
            return 2;
        if (STREQ(argv[i], "-s"))
            state = argv[++i];
        else if (STREQ(argv[i], "-n"))
            add_network(argv[++i]);
        else if (STREQ(argv[i], "-c")) {
            free(ctr->name);
            ctr->name = strdup(argv[++i]);
        } else if (STREQ(argv[i], "-a"))
            attach(argv[++i]);
        else if (STREQ(argv[i], "-h"))
            ctr->hostname = strdup(argv[++i]);
        else if (STREQ(argv[i], "-m"))
            ctr->ns[NS_NET].mode = STREQ(argv[++i], "none") ? NS_NONE : NS_PRIVATE;
        else if (STREQ(argv[i], "--dns"))
            strv_push(&dns, argv[++i]);
        else
            return 2;
    }
    ctr->dns = dns;
    add_unit(ctr);
    if (i >= argc)
        return 2;
    if (net_open(&ctx, &e) < 0)
        die("open", &e);
    ctx.state_dir = state; /* also marks the bridges this instance creates */
    ctx.run_dir = state;   /* hosts files next to the leases: one scratch dir per test */
    ctx.units = &set;

    const char *cmd = argv[i];
    if (STREQ(cmd, "up") || STREQ(cmd, "down")) {
        for (size_t k = 0; k < set.n; k++) {
            if (set.units[k]->kind != UNIT_NETWORK)
                continue;
            r = STREQ(cmd, "up") ? net_network_up(&ctx, set.units[k], &e)
                                 : net_network_down(&ctx, set.units[k], &e);
            if (r < 0)
                die(cmd, &e);
            if (STREQ(cmd, "down"))
                printf("%s %s\n", set.units[k]->name, r ? "deleted" : "kept");
        }
    } else if (STREQ(cmd, "gc")) {
        r = net_network_gc(&ctx, &set, &e);
        if (r < 0)
            die("gc", &e);
        printf("bridges %d\n", r);
        r = net_lease_gc(state, state, &set, &e);
        if (r < 0)
            die("lease gc", &e);
        printf("leases %d\n", r);
    } else if (STREQ(cmd, "lease")) {
        struct in_addr addrs[8];
        char a[INET_ADDRSTRLEN];
        if (net_leases_acquire(state, ctr, &set, addrs, &e) < 0)
            die("lease", &e);
        for (size_t k = 0; k < ctr->n_networks; k++)
            printf("%s %s\n", ctr->networks[k].name, inet_ntop(AF_INET, &addrs[k], a, sizeof(a)));
    } else if (STREQ(cmd, "release") && i + 1 < argc) {
        if (net_lease_release(state, argv[i + 1], ctr->name, &e) < 0)
            die("release", &e);
    } else if (STREQ(cmd, "wire") && i + 1 < argc) {
        struct in_addr addrs[8];
        char a[INET_ADDRSTRLEN];
        int fd = open(argv[i + 1], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            perror(argv[i + 1]);
            return 1;
        }
        /* the runtime's path: net_setup() does leases, wiring (or lo) and hosts files */
        ctx.state_dir = state;
        ctx.run_dir = state;
        ctx.units = &set;
        if (net_setup(&ctx, ctr, fd, &e) < 0)
            die("setup", &e);
        if (net_leases_acquire(state, ctr, &set, addrs, &e) < 0) /* idempotent: same ones */
            die("lease", &e);
        for (size_t k = 0; k < ctr->n_networks; k++)
            printf("%s %s\n", ctr->networks[k].name, inet_ntop(AF_INET, &addrs[k], a, sizeof(a)));
    } else if (STREQ(cmd, "lo") && i + 1 < argc) {
        int fd = open(argv[i + 1], O_RDONLY | O_CLOEXEC);
        if (fd < 0 || net_lo_up(fd, &e) < 0)
            die("lo", &e);
    } else if (STREQ(cmd, "unwire")) {
        if (net_unwire(state, state, ctr->name, &set, &e) < 0)
            die("unwire", &e);
    } else if (STREQ(cmd, "hosts")) {
        char *h, *rs;
        if (net_hosts_paths(state, ctr->name, &h, &rs) < 0)
            return 1;
        printf("%s\n%s\n", h, rs);
    } else if (STREQ(cmd, "refresh")) {
        if (net_hosts_refresh(state, state, &set, &e) < 0)
            die("refresh", &e);
    } else if (STREQ(cmd, "bench") && i + 1 < argc) {
        cmd_bench(&ctx, atoi(argv[i + 1]));
    } else {
        fprintf(stderr, "netdrv: unknown command '%s'\n", cmd);
        return 2;
    }
    net_close(&ctx);
    unit_set_clear(&set);
    return 0;
}

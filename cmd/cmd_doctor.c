/* mgr doctor [--json] [UNITDIR]: what this host can enforce, in one screen, and every key of
 * every unit in UNITDIR that it cannot (a key is either enforced or refused). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <seccomp.h>

#include "cmd.h"
#include "../core/cgroup.h"
#include "../core/log.h"
#include "../core/pid1.h"
#include "../core/sys.h"
#include "../core/unit_parse.h"
#include "../core/util.h"

static void doctor_usage(FILE *f)
{
    fprintf(f, "Usage: mgr doctor [--json] [UNITDIR]\n\n"
               "Reports what this host can do: cgroup version per controller and delegation,\n"
               "overlayfs, idmapped mounts, namespaces, seccomp (and user notification), user\n"
               "namespace limits, bridge/veth support. Given a unit directory, lists every key\n"
               "of every unit that this host cannot enforce (mgr refuses such units at start).\n\n"
               "Options:\n"
               "  --json      machine-readable report\n"
               "  -h, --help  show this help\n\n"
               "Exit status: 0 everything in UNITDIR can be enforced (or no UNITDIR), 1 some key\n"
               "cannot or a unit is invalid, 2 usage error.\n");
}

/* True if the running kernel has the text symbol sym (built-in code without a /sys/module
 * entry: modules without parameters do not get one). */
static bool kernel_has_symbol(const char *sym)
{
    _cleanup_fclose_ FILE *f = fopen("/proc/kallsyms", "re");
    char line[512];
    size_t l = strlen(sym);
    while (f && fgets(line, sizeof(line), f)) {
        char *name = strrchr(line, ' ');
        if (name && strncmp(name + 1, sym, l) == 0 && (name[1 + l] == '\n' || name[1 + l] == '\t'))
            return true;
    }
    return false;
}

/* "built-in", "loaded", "module" (available, not loaded) or "missing". marker: a function of
 * the module, to recognise it when built in. */
static const char *module_state(const char *name, const char *marker)
{
    char path[128];
    snprintf(path, sizeof(path), "/sys/module/%s", name);
    if (access(path, F_OK) == 0) {
        snprintf(path, sizeof(path), "/sys/module/%s/initstate", name);
        return access(path, F_OK) == 0 ? "loaded" : "built-in";
    }
    if (marker && kernel_has_symbol(marker))
        return "built-in";
    return pid1_module_loadable(name) > 0 ? "module" : "missing";
}

static bool fs_registered(const char *fs)
{
    _cleanup_free_ char *text = NULL;
    if (read_file_at(AT_FDCWD, "/proc/filesystems", 1 << 16, &text, NULL) < 0)
        return false;
    char needle[64];
    snprintf(needle, sizeof(needle), "\t%s\n", fs);
    return strstr(text, needle) != NULL;
}

static long read_long(const char *path)
{
    char buf[64];
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

/* Tries an idmapped clone of dir: a child in a new user namespace (mapped 0 -> 100000)
 * supplies the namespace fd; the clone is never attached anywhere. Returns 0 or -errno. */
static int probe_idmap(const char *dir)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return -errno;
    }
    if (pid == 0) {
        close(pfd[1]);
        char c;
        if (unshare(CLONE_NEWUSER) < 0)
            _exit(1);
        (void)!read(pfd[0], &c, 1); /* until the parent is done */
        _exit(0);
    }
    close(pfd[0]);
    int r = 0;
    char path[64];
    /* wait until the child is in its namespace: its ns/user differs from ours */
    struct stat self, child;
    snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
    stat("/proc/self/ns/user", &self);
    for (int i = 0; i < 500; i++) {
        if (stat(path, &child) == 0 && child.st_ino != self.st_ino)
            break;
        usleep(1000);
    }
    static const char *const maps[] = {"uid_map", "gid_map"};
    for (size_t i = 0; i < 2 && r == 0; i++) {
        char mp[64];
        snprintf(mp, sizeof(mp), "/proc/%d/%s", (int)pid, maps[i]);
        if (write_string_at(AT_FDCWD, mp, "0 100000 65536") < 0)
            r = -EPERM;
    }
    int nsfd = r == 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (r == 0 && nsfd < 0)
        r = -errno;
    if (r == 0) {
        int tree = sys_open_tree(AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0) {
            r = tree;
        } else {
            struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)nsfd};
            r = sys_mount_setattr(tree, "", AT_EMPTY_PATH, &attr);
            close(tree);
        }
    }
    if (nsfd >= 0)
        close(nsfd);
    close(pfd[1]);
    waitpid(pid, NULL, 0);
    return r < 0 ? r : 0;
}

static const char *ver_name(enum cg_version v)
{
    return v == CG_V1 ? "v1" : v == CG_V2 ? "v2" : "none";
}

/* Host facts the unit checks need besides the cgroup manager. */
struct host {
    bool ns[_NS_MAX];
    bool seccomp;
    long max_userns;
    const char *bridge, *veth;
};

static void add_problem(json_t *arr, const struct unit *u, const char *key, const char *reason)
{
    json_array_append_new(arr, json_pack("{s:s, s:s?, s:s, s:s}", "unit", u->name, "file", u->path,
                                         "key", key, "reason", reason));
}

/* Every key of u this host cannot enforce, appended to arr. */
static void check_unit(const struct cg_manager *cgm, const struct host *h, const struct unit *u,
                       json_t *arr)
{
    if (u->kind != UNIT_CONTAINER) {
        if (u->kind == UNIT_NETWORK && strcmp(h->bridge, "missing") == 0)
            add_problem(arr, u, "bridge", "the kernel has no bridge support");
        return;
    }
    if (cgm) {
        _cleanup_free_ char *all = NULL;
        struct err e = {0};
        if (cg_check_resources(cgm, &u->res, &all, &e) < 0 && all) {
            for (char *line = strtok(all, "\n"); line; line = strtok(NULL, "\n")) {
                char *sep = strstr(line, ": ");
                if (sep) {
                    *sep = '\0';
                    add_problem(arr, u, line, sep + 2);
                }
            }
        }
    } else {
        add_problem(arr, u, "resources",
                    "no cgroup hierarchy is mounted: no limit can be enforced");
    }
    for (int t = 0; t < _NS_MAX; t++) {
        if (u->ns[t].mode != NS_PRIVATE || h->ns[t])
            continue;
        char key[64], reason[96];
        snprintf(key, sizeof(key), "namespaces.%s", ns_type_name(t));
        snprintf(reason, sizeof(reason), "the kernel has no %s namespace", ns_type_name(t));
        add_problem(arr, u, key, reason);
    }
    if (u->ns[NS_USER].mode == NS_PRIVATE && h->ns[NS_USER] && h->max_userns == 0)
        add_problem(arr, u, "namespaces.user", "user.max_user_namespaces is 0");
    if (u->sec.seccomp != SECCOMP_UNCONFINED && !h->seccomp)
        add_problem(arr, u, "security.seccomp", "the kernel has no seccomp filter support");
    if (u->n_networks && (strcmp(h->bridge, "missing") == 0 || strcmp(h->veth, "missing") == 0))
        add_problem(arr, u, "networks", "the kernel lacks bridge or veth support");
}

static void print_text(json_t *rep)
{
    json_t *cg = json_object_get(rep, "cgroup");
    printf("kernel          %s\n", json_string_value(json_object_get(rep, "kernel")));
    if (json_is_object(cg)) {
        printf("cgroup          v2 mount: %s%s; parents: v1 '%s', v2 '%s'\n",
               json_string_value(json_object_get(cg, "v2_mount")) ?: "none",
               json_is_true(json_object_get(cg, "delegated")) ? " (delegated)" : "",
               json_string_value(json_object_get(cg, "parent_v1")),
               json_string_value(json_object_get(cg, "parent_v2")));
        printf("  controllers  ");
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(cg, "controllers"), k, v)
                printf(" %s:%s", k, json_string_value(v));
        printf("\n");
    } else {
        printf("cgroup          unavailable: %s\n",
               json_string_value(json_object_get(rep, "cgroup_error")));
    }
    printf("overlayfs       %s\n", json_string_value(json_object_get(rep, "overlayfs")));
    json_t *idm = json_object_get(rep, "idmapped_mounts");
    printf("idmapped mounts %s (%s)\n",
           json_is_true(json_object_get(idm, "supported")) ? "yes" : "no",
           json_string_value(json_object_get(idm, "detail")));
    printf("namespaces     ");
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(rep, "namespaces"), k, v)
            printf(" %s%s", json_is_true(v) ? "" : "!", k);
    printf("\n");
    json_t *sc = json_object_get(rep, "seccomp");
    printf("seccomp         filter: %s, user notification: %s (libseccomp API level %d)\n",
           json_is_true(json_object_get(sc, "filter")) ? "yes" : "no",
           json_is_true(json_object_get(sc, "notify")) ? "yes" : "no",
           (int)json_integer_value(json_object_get(sc, "api_level")));
    json_t *un = json_object_get(rep, "user_namespaces");
    printf("user namespaces max %lld",
           (long long)json_integer_value(json_object_get(un, "max_user_namespaces")));
    json_t *clone = json_object_get(un, "unprivileged_userns_clone");
    if (json_is_integer(clone))
        printf(", unprivileged_userns_clone %lld", (long long)json_integer_value(clone));
    printf("\n");
    json_t *net = json_object_get(rep, "network");
    printf("network         bridge: %s, veth: %s\n",
           json_string_value(json_object_get(net, "bridge")),
           json_string_value(json_object_get(net, "veth")));
    json_t *units = json_object_get(rep, "units");
    if (!units)
        return;
    json_t *probs = json_object_get(units, "unenforceable");
    printf("units           %s: %zu unit(s), %zu key(s) this host cannot enforce\n",
           json_string_value(json_object_get(units, "dir")),
           (size_t)json_integer_value(json_object_get(units, "count")), json_array_size(probs));
    size_t i;
    json_array_foreach(probs, i, v)
            printf("  unit '%s': %s: %s\n", json_string_value(json_object_get(v, "unit")),
                   json_string_value(json_object_get(v, "key")),
                   json_string_value(json_object_get(v, "reason")));
    json_array_foreach(json_object_get(units, "errors"), i, v)
            printf("  invalid: %s\n", json_string_value(v));
}

int cmd_doctor(struct mgr_ctx *ctx, int argc, char **argv)
{
    bool as_json;
    int stop = cmd_parse_json_help(argc, argv, "+h", doctor_usage, 1, &as_json);
    if (stop >= 0)
        return stop;
    const char *unitdir = optind < argc ? argv[optind] : NULL;

    json_t *rep = json_object();
    if (!rep) {
        log_error("doctor: out of memory");
        return EXIT_FAIL;
    }
    struct utsname uts;
    uname(&uts);
    json_object_set_new(rep, "kernel", json_string(uts.release));

    /* cgroups */
    struct cg_manager *cgm = NULL;
    struct err e = {0};
    if (cg_manager_open(NULL, &cgm, &e) < 0) {
        json_object_set_new(rep, "cgroup", json_null());
        json_object_set_new(rep, "cgroup_error", json_string(e.msg));
    } else {
        json_t *ctrls = json_object();
        for (int k = 0; k < _CG_CTRL_MAX; k++)
            json_object_set_new(ctrls, cg_ctrl_name(k),
                                json_string(ver_name(cg_manager_version(cgm, k))));
        char v2path[256] = "";
        _cleanup_free_ char *mi = NULL;
        if (read_file_at(AT_FDCWD, "/proc/self/mountinfo", 1 << 22, &mi, NULL) >= 0) {
            char *p = strstr(mi, " - cgroup2 ");
            if (p) {
                char *ls = p;
                while (ls > mi && ls[-1] != '\n')
                    ls--;
                (void)sscanf(ls, "%*s %*s %*s %*s %255s", v2path);
            }
        }
        json_object_set_new(rep, "cgroup",
                            json_pack("{s:s?, s:b, s:s, s:s, s:o}", "v2_mount",
                                      *v2path ? v2path : NULL, "delegated",
                                      cg_manager_delegated(cgm), "parent_v1",
                                      cg_manager_parent(cgm, CG_V1), "parent_v2",
                                      cg_manager_parent(cgm, CG_V2), "controllers", ctrls));
    }

    /* filesystems and modules */
    const char *ovl =
            fs_registered("overlay") ? "yes" : module_state("overlay", "ovl_fill_super");
    json_object_set_new(rep, "overlayfs", json_string(ovl));
    const char *probe_dir = access(ctx->root, F_OK) == 0 ? ctx->root : "/tmp";
    int ir = probe_idmap(probe_dir);
    char detail[300];
    if (ir == 0)
        snprintf(detail, sizeof(detail), "tried on %s", probe_dir);
    else
        snprintf(detail, sizeof(detail), "on %s: %s", probe_dir, strerror(-ir));
    json_object_set_new(rep, "idmapped_mounts",
                        json_pack("{s:b, s:s}", "supported", ir == 0, "detail", detail));

    struct host h = {0};
    json_t *ns = json_object();
    for (int t = 0; t < _NS_MAX; t++) {
        char p[64];
        snprintf(p, sizeof(p), "/proc/self/ns/%s", ns_type_name(t));
        h.ns[t] = access(p, F_OK) == 0;
        json_object_set_new(ns, ns_type_name(t), json_boolean(h.ns[t]));
    }
    json_object_set_new(rep, "namespaces", ns);

    /* seccomp: filter mode is there when PR_GET_SECCOMP works; notify needs API level 5 */
    h.seccomp = prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0;
    int api = (int)seccomp_api_get();
    json_object_set_new(rep, "seccomp",
                        json_pack("{s:b, s:b, s:i}", "filter", h.seccomp, "notify",
                                  h.seccomp && api >= 5, "api_level", api));
    h.max_userns = read_long("/proc/sys/user/max_user_namespaces");
    long clone = read_long("/proc/sys/kernel/unprivileged_userns_clone");
    json_t *un = json_pack("{s:I}", "max_user_namespaces", (json_int_t)h.max_userns);
    if (clone >= 0)
        json_object_set_new(un, "unprivileged_userns_clone", json_integer(clone));
    json_object_set_new(rep, "user_namespaces", un);
    h.bridge = module_state("bridge", "br_dev_xmit");
    h.veth = module_state("veth", "veth_newlink");
    json_object_set_new(rep, "network",
                        json_pack("{s:s, s:s}", "bridge", h.bridge, "veth", h.veth));

    int rc = EXIT_OK;
    if (unitdir) {
        struct unit_set set = {0};
        struct diags d = {0};
        int r = unit_load_dir(unitdir, &set, &d);
        json_t *errs = json_array(), *probs = json_array();
        for (size_t i = 0; i < d.n; i++) {
            char line[600];
            snprintf(line, sizeof(line), "%s:%d:%d: %s", d.v[i].file ? d.v[i].file : unitdir,
                     d.v[i].line, d.v[i].col, d.v[i].msg);
            json_array_append_new(errs, json_string(line));
        }
        if (r < 0 && r != -EINVAL) {
            char line[300];
            snprintf(line, sizeof(line), "%s: %s", unitdir, strerror(-r));
            json_array_append_new(errs, json_string(line));
        }
        for (size_t i = 0; i < set.n; i++)
            check_unit(cgm, &h, set.units[i], probs);
        if (json_array_size(errs) || json_array_size(probs))
            rc = EXIT_FAIL;
        json_object_set_new(rep, "units",
                            json_pack("{s:s, s:I, s:o, s:o}", "dir", unitdir, "count",
                                      (json_int_t)set.n, "unenforceable", probs, "errors", errs));
        unit_set_clear(&set);
        diags_clear(&d);
    }

    if (as_json) {
        json_dumpf(rep, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("\n");
    } else {
        print_text(rep);
    }
    json_decref(rep);
    cg_manager_free(cgm);
    return rc;
}

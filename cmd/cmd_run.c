/* mgr run UNIT.yaml: one container in the foreground, no daemon (like systemd-nspawn).
 * stdio is ours; SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 are forwarded to the
 * container's init; we exit with its status (128+N when killed by signal N), after removing
 * everything it created. Exit 125 when the container could not be started. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/signalfd.h>

#include "cmd.h"
#include "../core/cgroup.h"
#include "../core/err.h"
#include "../core/image.h"
#include "../core/log.h"
#include "../core/net.h"
#include "../core/runtime.h"
#include "../core/unit_parse.h"
#include "../core/util.h"

#define EXIT_RUN_FAILED 125

static void usage(FILE *f)
{
    fprintf(f, "Usage: mgr run [--keep-upper] [--no-cgroup] UNIT.yaml\n\n"
               "Runs one container unit in the foreground, without a daemon: its output on the\n"
               "terminal, Ctrl-C and SIGTERM forwarded to it, and mgr exits with its exit status\n"
               "(128+N if killed by signal N; 125 if it could not be started).\n\n"
               "  --keep-upper   keep the container's writable layer under --root (default: a\n"
               "                 tmpfs that goes away with the container)\n"
               "  --no-cgroup    no cgroup of its own: no limits, no accounting (the unit's\n"
               "                 resources are refused)\n");
}

static const int fwd_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

int cmd_run(struct mgr_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
            {"keep-upper", no_argument, NULL, 'k'},
            {"no-cgroup", no_argument, NULL, 'C'},
            {"help", no_argument, NULL, 'h'},
            {0},
    };
    bool keep_upper = false, no_cgroup = false;
    int c;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            keep_upper = true;
            break;
        case 'C':
            no_cgroup = true;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *path = argv[optind];

    struct diags d = {0};
    struct unit *u = NULL;
    if (unit_parse_file(path, &u, &d) < 0) {
        diags_print(stderr, &d);
        diags_clear(&d);
        return EXIT_FAIL;
    }
    diags_clear(&d);
    if (u->kind != UNIT_CONTAINER) {
        log_error("%s: unit '%s' is not a container", path, u->name);
        unit_free(u);
        return EXIT_FAIL;
    }

    int ret = EXIT_RUN_FAILED;
    struct err err = {0};
    struct image_info *img = NULL;
    struct cg_manager *cgm = NULL;
    struct rt_container *ct = NULL;
    struct net_ctx net = {0};
    bool net_open_ok = false;
    struct unit_set units = {0};
    struct diags ud = {0};
    char *dir_layers[2] = {NULL, NULL};
    int sfd = -1;
    int r;

    struct rt_spec spec = {
            .unit = u,
            .root_dir = ctx->root,
            .run_dir = ctx->run,
            .stdio = {0, 1, 2},
            .keep_upper = keep_upper,
            .die_with_parent = true,
            .kill_orphan = true,
    };
    /* cgroup: every container gets its own group when the host has cgroups at all. */
    if (no_cgroup) {
        if (u->res.mem_max != UNIT_UNSET || u->res.pids_max != UNIT_UNSET ||
            u->res.cpu_max_milli != UNIT_UNSET || u->res.cpus) {
            log_error("unit '%s': --no-cgroup: the unit sets resource limits", u->name);
            goto out;
        }
        r = 0;
    } else
        r = cg_manager_open(NULL, &cgm, &err);
    if (r < 0) {
        log_warn("unit '%s': %s: running without a cgroup", u->name, err.msg);
        err_clear(&err);
        cgm = NULL;
    }
    spec.cgm = cgm;
    /* A limit this host cannot enforce refuses the run before anything is made. */
    if (cgm && cg_check_unit(cgm, u, &err) < 0) {
        log_error("%s", err.msg);
        goto out;
    }

    /* Image -> layers. dir:DIR is used in place, with no image config. */
    if (!u->image) {
        log_error("unit '%s': no image", u->name);
        goto out;
    }
    if (strncmp(u->image, "dir:", 4) == 0) {
        dir_layers[0] = u->image + 4;
        spec.lower_dirs = dir_layers;
    } else {
        r = image_prepare(ctx->root, u->image, u->name, NULL, &img, &err);
        if (r < 0) {
            log_error("unit '%s': %s", u->name, err.msg);
            goto out;
        }
        spec.lower_dirs = img->layers;
        spec.image_entrypoint = img->entrypoint;
        spec.image_cmd = img->cmd;
        spec.image_env = img->env;
        spec.image_workdir = img->workdir;
        spec.image_user = img->user;
    }

    /* Networks: only when the unit joins some (network units come from --units). */
    if (u->n_networks > 0) {
        r = unit_load_dir(ctx->units, &units, &ud);
        if (r < 0 && r != -EINVAL) {
            diags_print(stderr, &ud);
            goto out;
        }
        r = net_open(&net, &err);
        if (r < 0) {
            log_error("unit '%s': %s", u->name, err.msg);
            goto out;
        }
        net_open_ok = true;
        net.state_dir = ctx->root;
        net.run_dir = ctx->run;
        net.units = &units;
        spec.net = &net;
    }

    /* Block the forwarded signals before the child exists: none may be lost or kill us
     * half-way; the child unblocks them before execve. */
    sigset_t mask;
    sigemptyset(&mask);
    for (size_t i = 0; i < ARRAY_SIZE(fwd_signals); i++) {
        sigaddset(&mask, fwd_signals[i]);
        /* A shell starts background jobs with SIGINT/SIGQUIT ignored, and an ignored signal
         * never reaches a signalfd: restore the default (it stays blocked). */
        signal(fwd_signals[i], SIG_DFL);
    }
    sigprocmask(SIG_BLOCK, &mask, NULL);
    sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    if (sfd < 0) {
        log_error("signalfd: %s", strerror(errno));
        goto out;
    }

    r = rt_start(&spec, &ct, &err);
    if (r < 0) {
        log_error("%s", err.msg);
        goto out;
    }
    log_debug("unit '%s': started, pid %d", u->name, (int)ct->pid);

    int status = 0;
    for (;;) {
        struct pollfd p[2] = {{.fd = ct->pidfd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_error("poll: %s", strerror(errno));
            break;
        }
        if (p[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                /* A signal from the terminal (Ctrl-C) went to our whole process group, the
                 * container included: forwarding it would deliver it twice. */
                if (si.ssi_code != SI_KERNEL)
                    (void)rt_signal(ct, (int)si.ssi_signo, NULL);
            }
        }
        if (p[0].revents & (POLLIN | POLLHUP)) {
            r = rt_wait(ct, false, &status, &err);
            if (r < 0) {
                log_error("%s", err.msg);
                break;
            }
            ret = rt_exit_code(status);
            break;
        }
    }
    err_clear(&err);
    if (rt_destroy(ct, &err) < 0)
        log_warn("unit '%s': cleanup: %s", u->name, err.msg);
out:
    if (net_open_ok) {
        err_clear(&err);
        if (net_unwire(ctx->root, ctx->run, u->name, &units, &err) < 0)
            log_warn("unit '%s': network cleanup: %s", u->name, err.msg);
        net_close(&net);
    }
    if (img) {
        err_clear(&err);
        (void)image_release(ctx->root, u->name, &err);
        image_info_free(img);
    }
    if (sfd >= 0)
        close(sfd);
    rt_container_free(ct);
    cg_manager_free(cgm);
    unit_set_clear(&units);
    diags_clear(&ud);
    unit_free(u);
    return ret;
}

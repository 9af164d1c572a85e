/* mgr logs NAME [-f] [-n N] [--since WHEN]: reads ROOT/logs/NAME.log directly (no daemon
 * needed); -f follows it across rotations with inotify. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "../core/log.h"
#include "../core/logs.h"
#include "../core/util.h"

static void logs_usage(FILE *f)
{
    fprintf(f, "Usage: mgr logs NAME [-f] [-n N] [--since WHEN]\n\n"
               "Prints the container's captured output, one line per write, each prefixed with\n"
               "its UTC time and stream (stdout, stderr, or mgr for the supervisor's notes).\n\n"
               "Options:\n"
               "  -f, --follow    keep printing new lines\n"
               "  -n, --lines N   only the last N lines\n"
               "  --since WHEN    lines from WHEN on: a duration ago (10m, 1h) or a time\n"
               "                  prefix like 2026-11-26T10:44 (UTC)\n"
               "  -h, --help      show this help\n");
}

static char since_buf[64];

/* Lines start with an ISO time: a string compare against the cut-off is a time compare. */
static bool keep_line(const char *line, const char *since)
{
    return !since || strncmp(line, since, strlen(since)) >= 0;
}

static char *slurp(const char *path, size_t *len)
{
    char *buf = NULL;
    if (read_file_at(AT_FDCWD, path, 1u << 30, &buf, len) < 0)
        return NULL;
    return buf;
}

int cmd_logs(struct mgr_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
            {"follow", no_argument, NULL, 'f'},
            {"lines", required_argument, NULL, 'n'},
            {"since", required_argument, NULL, 's'},
            {"help", no_argument, NULL, 'h'},
            {0},
    };
    bool follow = false;
    int64_t nlines = -1;
    const char *since = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "hfn:", opts, NULL)) != -1) {
        switch (c) {
        case 'f': follow = true; break;
        case 'n':
            if (parse_int64(optarg, &nlines) < 0 || nlines < 0) {
                log_error("-n: not a line count: '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 's': since = optarg; break;
        case 'h': logs_usage(stdout); return EXIT_OK;
        default: logs_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        logs_usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[optind];
    if (since) {
        uint64_t ago;
        if (parse_duration_ms(since, &ago) == 0 && since[0] >= '0' && since[0] <= '9' &&
                !strchr(since, '-')) {
            time_t t = (time_t)((now_realtime_ms() - ago) / 1000);
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(since_buf, sizeof(since_buf), "%Y-%m-%dT%H:%M:%S", &tm);
            since = since_buf;
        }
    }
    _cleanup_free_ char *path = logs_path(ctx->root, name);
    _cleanup_free_ char *old = path ? strdup_printf("%s.1", path) : NULL;
    if (!path || !old)
        return EXIT_FAIL;
    size_t l1 = 0, l2 = 0;
    _cleanup_free_ char *a = slurp(old, &l1);
    _cleanup_free_ char *b = slurp(path, &l2);
    if (!b && !follow) {
        log_error("no logs for '%s' (%s: %s)", name, path, strerror(errno));
        return EXIT_FAIL;
    }
    /* Collect line starts of old + current, then print the selected ones. */
    size_t n = 0, cap = 1024;
    const char **starts = malloc(cap * sizeof(*starts));
    const char *bufs[2] = {a, b};
    size_t lens[2] = {l1, l2};
    for (int k = 0; k < 2 && starts; k++) {
        const char *p = bufs[k];
        if (!p)
            continue;
        const char *end = p + lens[k];
        while (p < end) {
            if (n == cap) {
                cap *= 2;
                const char **ns = realloc(starts, cap * sizeof(*starts));
                if (!ns)
                    break;
                starts = ns;
            }
            if (keep_line(p, since))
                starts[n++] = p;
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            p = nl ? nl + 1 : end;
        }
    }
    size_t first = nlines >= 0 && (size_t)nlines < n ? n - (size_t)nlines : 0;
    for (size_t i = first; starts && i < n; i++) {
        const char *p = starts[i];
        const char *nl = strchr(p, '\n');
        fwrite(p, 1, nl ? (size_t)(nl - p) + 1 : strlen(p), stdout);
    }
    free(starts);
    fflush(stdout);
    if (!follow)
        return EXIT_OK;

    /* Follow: read from the end of the current file; on rotation, reopen. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    off_t off = b ? (off_t)l2 : 0;
    _cleanup_close_ int ino = inotify_init1(IN_CLOEXEC);
    _cleanup_free_ char *dir = strdup_printf("%s/logs", ctx->root);
    if (ino < 0 || !dir)
        return EXIT_FAIL;
    (void)mkdir_p(dir, 0700);
    if (inotify_add_watch(ino, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0) {
        log_error("watch '%s': %m", dir);
        return EXIT_FAIL;
    }
    for (;;) {
        if (fd >= 0) {
            char buf[65536];
            ssize_t r;
            while ((r = pread(fd, buf, sizeof(buf), off)) > 0) {
                fwrite(buf, 1, (size_t)r, stdout);
                off += r;
            }
            fflush(stdout);
            struct stat st1, st2;
            /* Rotated: the path now names a new file. */
            if (stat(path, &st1) == 0 && fstat(fd, &st2) == 0 && st1.st_ino != st2.st_ino) {
                close(fd);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                off = 0;
                continue;
            }
        } else {
            fd = open(path, O_RDONLY | O_CLOEXEC);
            off = 0;
            if (fd >= 0)
                continue;
        }
        char ev[4096];
        if (read(ino, ev, sizeof(ev)) < 0 && errno != EINTR)
            break;
    }
    if (fd >= 0)
        close(fd);
    return EXIT_OK;
}

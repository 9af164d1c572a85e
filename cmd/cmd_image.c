/* mgr image import|ls|inspect|rm|gc: the image store from the command line. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cmd.h"
#include "../core/image.h"
#include "../core/log.h"
#include "../core/util.h"

static void usage(FILE *f)
{
    fprintf(f, "Usage: mgr image COMMAND [ARGS...]\n\n"
               "Commands:\n"
               "  import SOURCE [--name NAME[:TAG]] [--max-layer-size SIZE] [--max-entries N]\n"
               "                 import oci:DIR[:TAG], docker-archive:FILE or tar:FILE\n"
               "  ls [--json]    list stored images (name, id, size, layers, created)\n"
               "  inspect NAME   print an image's record as JSON\n"
               "  rm NAME...     remove names (an id removes the image record)\n"
               "  gc             remove layers that no image and no container uses\n"
               "  prepare REF [--holder NAME]\n"
               "                 resolve REF as a unit's image (importing a source on first use)\n"
               "                 and print its layer directories, lowest first; --holder NAME\n"
               "                 records NAME as using them (gc keeps them)\n"
               "  release NAME   forget NAME's use of layers\n\n"
               "Progress is shown on a terminal; --quiet hides it.\n");
}

/* Misuse: the usage on stderr, exit status 2. */
static int misuse(void)
{
    usage(stderr);
    return EXIT_USAGE;
}

/* A failed store operation: its message, exit status 1. */
static int failed(const struct err *err)
{
    log_error("%s", err->msg);
    return EXIT_FAIL;
}

static void human(uint64_t b, char *buf, size_t len)
{
    static const char *u[] = {"B", "KB", "MB", "GB", "TB"};
    double v = (double)b;
    unsigned i = 0;
    while (v >= 1000 && i < 4)
        v /= 1000, i++;
    snprintf(buf, len, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

static void progress(const struct image_progress *p, void *ud)
{
    uint64_t *last = ud;
    uint64_t now = now_ms();
    if (!p->done && now - *last < 100)
        return;
    *last = now;
    char done[32], total[32];
    human(p->total_done, done, sizeof(done));
    human(p->total_size, total, sizeof(total));
    fprintf(stderr, "\r\033[Klayer %zu/%zu %s  %s%s%s", p->layer + 1, p->n_layers,
            p->cached ? "(stored)"
            : p->done ? "done"
                      : "...",
            done, p->total_size ? " / " : " read", p->total_size ? total : "");
    if (p->done && p->layer + 1 == p->n_layers)
        fputc('\n', stderr);
    fflush(stderr);
}

static int do_import(struct mgr_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
            {"name", required_argument, NULL, 'n'},
            {"quiet", no_argument, NULL, 'q'},
            {"max-layer-size", required_argument, NULL, 'S'},
            {"max-entries", required_argument, NULL, 'E'},
            {0},
    };
    const char *name = NULL;
    bool quiet = !isatty(STDERR_FILENO);
    struct image_opts io = {0};
    int c;
    while ((c = getopt_long(argc, argv, "n:q", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            name = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'S':
            if (parse_size(optarg, &io.max_layer_bytes) < 0 || io.max_layer_bytes == 0) {
                log_error("invalid --max-layer-size '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'E':
            if (parse_uint64(optarg, &io.max_layer_entries) < 0 || io.max_layer_entries == 0) {
                log_error("invalid --max-entries '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        default:
            return misuse();
        }
    }
    if (optind + 1 != argc)
        return misuse();
    uint64_t last = 0;
    if (!quiet) {
        io.progress = progress;
        io.userdata = &last;
    }
    struct err err = {0};
    struct image_info *info = NULL;
    uint64_t t0 = now_ms();
    if (image_import(ctx->root, argv[optind], name, &io, &info, &err) < 0) {
        if (!quiet)
            fputc('\n', stderr);
        return failed(&err);
    }
    printf("%s\n", info->id);
    if (!quiet)
        fprintf(stderr, "imported %s%s%s (%zu layers) in %" PRIu64 " ms\n",
                info->name ? info->name : "", info->name ? " " : "", info->id,
                strv_len(info->layers), now_ms() - t0);
    image_info_free(info);
    return EXIT_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int do_ls(struct mgr_ctx *ctx, int argc, char **argv)
{
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (STREQ(argv[i], "--json")) {
            json = true;
        } else {
            return misuse();
        }
    }
    struct err err = {0};
    json_t *arr = NULL;
    if (image_list(ctx->root, &arr, &err) < 0)
        return failed(&err);
    if (json) {
        json_dumpf(arr, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(arr);
        return EXIT_OK;
    }
    printf("%-32s %-12s %10s %6s  %s\n", "NAME", "ID", "SIZE", "LAYERS", "CREATED");
    _cleanup_strv_ char **lines = NULL;
    size_t i;
    json_t *im;
    json_array_foreach(arr, i, im)
    {
        const char *id = json_string_value(json_object_get(im, "id"));
        const char *created = json_string_value(json_object_get(im, "created"));
        char size[32];
        human((uint64_t)json_integer_value(json_object_get(im, "size")), size, sizeof(size));
        json_t *names = json_object_get(im, "names");
        size_t k, nn = json_array_size(names);
        json_t *n;
        for (k = 0; k < (nn ? nn : 1); k++) {
            n = json_array_get(names, k);
            _cleanup_free_ char *line = strdup_printf(
                    "%-32s %-12.12s %10s %6" JSON_INTEGER_FORMAT "  %.19s",
                    n ? json_string_value(n) : "<none>", id ? id : "?", size,
                    json_integer_value(json_object_get(im, "layers")), created ? created : "");
            if (!line || strv_push(&lines, line) < 0) {
                log_error("out of memory");
                json_decref(arr);
                return EXIT_FAIL;
            }
        }
    }
    json_decref(arr);
    /* By name: the store's directory order means nothing to a reader. */
    if (lines)
        qsort(lines, strv_len(lines), sizeof(char *), cmp_str);
    for (i = 0; lines && lines[i]; i++)
        printf("%s\n", lines[i]);
    return EXIT_OK;
}

static int do_inspect(struct mgr_ctx *ctx, int argc, char **argv)
{
    if (argc != 2)
        return misuse();
    struct err err = {0};
    json_t *rec = NULL;
    if (image_inspect(ctx->root, argv[1], &rec, &err) < 0)
        return failed(&err);
    json_dumpf(rec, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
    putchar('\n');
    json_decref(rec);
    return EXIT_OK;
}

static int do_rm(struct mgr_ctx *ctx, int argc, char **argv)
{
    if (argc < 2)
        return misuse();
    int rc = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        struct err err = {0};
        if (image_remove(ctx->root, argv[i], &err) < 0) {
            log_error("%s", err.msg);
            rc = EXIT_FAIL;
        }
    }
    return rc;
}

static int do_gc(struct mgr_ctx *ctx, int argc, char **argv)
{
    if (argc != 1)
        return misuse();
    struct err err = {0};
    uint64_t freed = 0;
    int n = image_gc(ctx->root, NULL, &freed, &err);
    if (n < 0)
        return failed(&err);
    char f[32];
    human(freed, f, sizeof(f));
    printf("removed %d layer%s, %s freed\n", n, n == 1 ? "" : "s", f);
    return EXIT_OK;
}

static int do_prepare(struct mgr_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
            {"holder", required_argument, NULL, 'H'},
            {0},
    };
    const char *holder = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'H':
            holder = optarg;
            break;
        default:
            return misuse();
        }
    }
    if (optind + 1 != argc)
        return misuse();
    struct err err = {0};
    struct image_info *info = NULL;
    if (image_prepare(ctx->root, argv[optind], holder, NULL, &info, &err) < 0)
        return failed(&err);
    for (size_t i = 0; info->layers[i]; i++)
        printf("%s\n", info->layers[i]);
    image_info_free(info);
    return EXIT_OK;
}

static int do_release(struct mgr_ctx *ctx, int argc, char **argv)
{
    if (argc != 2)
        return misuse();
    struct err err = {0};
    if (image_release(ctx->root, argv[1], &err) < 0)
        return failed(&err);
    return EXIT_OK;
}

int cmd_image(struct mgr_ctx *ctx, int argc, char **argv)
{
    if (argc < 2 || STREQ(argv[1], "-h") || STREQ(argv[1], "--help") || STREQ(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (cmd_wants_help(argc - 1, argv + 1)) {
        usage(stdout);
        return EXIT_OK;
    }
    const char *sub = argv[1];
    argc--, argv++;
    optind = 0;
    if (STREQ(sub, "import"))
        return do_import(ctx, argc, argv);
    if (STREQ(sub, "ls") || STREQ(sub, "list"))
        return do_ls(ctx, argc, argv);
    if (STREQ(sub, "inspect"))
        return do_inspect(ctx, argc, argv);
    if (STREQ(sub, "rm") || STREQ(sub, "remove"))
        return do_rm(ctx, argc, argv);
    if (STREQ(sub, "gc"))
        return do_gc(ctx, argc, argv);
    if (STREQ(sub, "prepare"))
        return do_prepare(ctx, argc, argv);
    if (STREQ(sub, "release"))
        return do_release(ctx, argc, argv);
    log_error("unknown image command '%s' (see 'mgr image --help')", sub);
    return EXIT_USAGE;
}

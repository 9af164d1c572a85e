/* mgr apply [--dry-run] [--json] [DIR|FILE...]: reconcile, print the plan and the outcome. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "../core/log.h"

static void apply_usage(FILE *f)
{
    fprintf(f, "Usage: mgr apply [--dry-run] [--json] [DIR|FILE...]\n\n"
               "Makes the running containers match the units: creates, replaces (spec changed),\n"
               "updates in place (only live values such as resources.* changed), removes (unit\n"
               "gone) and keeps. Without arguments, the units directory. Every replace and\n"
               "update names the key paths that caused it. If any unit is invalid, nothing\n"
               "changes and every error is printed as FILE:LINE:COLUMN: error: MESSAGE.\n\n"
               "Options:\n"
               "  --dry-run   only print the plan\n"
               "  --json      print the daemon's JSON response\n"
               "  -h, --help  show this help\n\n"
               "Exit status: 0 done, 1 invalid units or something failed, 3 no daemon.\n");
}

static void print_plan(json_t *resp, bool dry)
{
    size_t i, kept = 0;
    json_t *a;
    json_array_foreach(json_object_get(resp, "plan"), i, a) {
        const char *act = json_string_value(json_object_get(a, "action"));
        const char *name = json_string_value(json_object_get(a, "name"));
        if (act && strcmp(act, "keep") == 0) {
            kept++;
            continue;
        }
        printf("%-8s %s\n", act, name);
        size_t k;
        json_t *ch;
        json_array_foreach(json_object_get(a, "changes"), k, ch)
            printf("         %s: %s -> %s\n", json_string_value(json_object_get(ch, "path")),
                    json_string_value(json_object_get(ch, "old")),
                    json_string_value(json_object_get(ch, "new")));
    }
    json_array_foreach(json_object_get(resp, "results"), i, a) {
        const char *err = json_string_value(json_object_get(a, "error"));
        if (err)
            printf("failed   %s: %s\n", json_string_value(json_object_get(a, "name")), err);
    }
    size_t changes = (size_t)json_integer_value(json_object_get(resp, "changes"));
    printf("%s%zu change%s, %zu unchanged\n", dry ? "(dry run) " : "", changes,
            changes == 1 ? "" : "s", kept);
}

int cmd_apply(struct mgr_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
            {"dry-run", no_argument, NULL, 'n'},
            {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},
            {0},
    };
    bool dry = false, json = false;
    int c;
    while ((c = getopt_long(argc, argv, "+hn", opts, NULL)) != -1) {
        switch (c) {
        case 'n': dry = true; break;
        case 'j': json = true; break;
        case 'h': apply_usage(stdout); return EXIT_OK;
        default: apply_usage(stderr); return EXIT_USAGE;
        }
    }
    json_t *paths = json_array();
    for (int i = optind; i < argc; i++) {
        /* The daemon resolves paths itself: send absolute ones. */
        char buf[PATH_MAX];
        if (!realpath(argv[i], buf)) {
            log_error("'%s': %m", argv[i]);
            json_decref(paths);
            return EXIT_FAIL;
        }
        json_array_append_new(paths, json_string(buf));
    }
    json_t *resp = NULL;
    int rc = client_call(ctx, json_pack("{s:s,s:o,s:b}", "cmd", "apply", "paths", paths,
            "dry_run", dry), &resp);
    if (rc != EXIT_OK)
        return rc;
    bool ok = json_is_true(json_object_get(resp, "ok"));
    if (json) {
        json_dumpf(resp, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        putchar('\n');
        if (!ok)
            client_print_error(resp);
    } else {
        if (json_object_get(resp, "plan"))
            print_plan(resp, dry);
        if (!ok)
            client_print_error(resp);
    }
    json_decref(resp);
    return ok ? EXIT_OK : EXIT_FAIL;
}

/* mgr validate [--json] FILE|DIR...: parse and check unit files, report every error. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "../core/log.h"
#include "../core/unit_parse.h"

static void validate_usage(FILE *f)
{
    fprintf(f, "Usage: mgr validate [--json] [FILE|DIR...]\n\n"
               "Parses unit files (a directory means its *.yaml and *.yml files) and checks them\n"
               "as one set: names, references, dependency cycles, addresses. Every error is\n"
               "printed as FILE:LINE:COLUMN: error: MESSAGE. Without arguments, checks the\n"
               "units directory (--units, default /etc/units.d).\n\n"
               "Options:\n"
               "  --json      print the parsed, defaults-filled units as a JSON array\n"
               "  -h, --help  show this help\n\n"
               "Exit status: 0 all valid, 1 errors found, 2 usage error. See mgr.unit(5).\n");
}

int cmd_validate(struct mgr_ctx *ctx, int argc, char **argv)
{
    bool json;
    int stop = cmd_parse_json_help(argc, argv, "+h", validate_usage, -1, &json);
    if (stop >= 0)
        return stop;
    char *def[] = {(char *)ctx->units};
    char **paths = optind < argc ? argv + optind : def;
    size_t n = optind < argc ? (size_t)(argc - optind) : 1;

    struct unit_set set = {0};
    struct diags d = {0};
    int r = unit_load_paths(paths, n, &set, &d);
    if (diags_count(&d)) {
        diags_sort(&d);
        diags_print(stderr, &d);
        fprintf(stderr, "%zu error%s\n", diags_count(&d), diags_count(&d) == 1 ? "" : "s");
    }
    int rc = r < 0 || diags_count(&d) ? EXIT_FAIL : EXIT_OK;
    if (rc == EXIT_OK && json) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < set.n; i++)
            if (json_array_append_new(a, unit_to_json(set.units[i])) < 0)
                rc = EXIT_FAIL;
        if (!a || json_dumpf(a, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) < 0) {
            log_error("validate: cannot write JSON: out of memory");
            rc = EXIT_FAIL;
        }
        fputc('\n', stdout);
        json_decref(a);
    } else if (rc == EXIT_OK) {
        printf("%zu unit%s valid\n", set.n, set.n == 1 ? "" : "s");
    }
    unit_set_clear(&set);
    diags_clear(&d);
    return rc;
}

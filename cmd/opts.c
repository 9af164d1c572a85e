/* Option parsing shared by the subcommands whose only options are --json and -h/--help. */
#include <getopt.h>
#include <stdio.h>

#include "cmd.h"

int cmd_parse_json_help(int argc, char **argv, const char *shortopts, void (*usage)(FILE *),
                        int max_operands, bool *ret_json)
{
    static const struct option opts[] = {
            {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},
            {0},
    };
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'h': usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (max_operands >= 0 && argc - optind > max_operands) {
        usage(stderr);
        return EXIT_USAGE;
    }
    *ret_json = json;
    return -1;
}

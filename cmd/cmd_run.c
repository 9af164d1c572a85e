/* Placeholder until the owning issue lands: refuses clearly instead of pretending. */
#include "cmd.h"
#include "../core/log.h"

int cmd_run(struct mgr_ctx *ctx, int argc, char **argv)
{
    (void)ctx, (void)argc;
    log_error("'%s' is not implemented yet", argv[0]);
    return EXIT_FAIL;
}

/* Test driver for rt_adopt + rt_exec: rtexec RUN_DIR NAME UNIT.yaml CMD [ARGS...]
 * Adopts the running container NAME, runs CMD inside it (its namespaces, root, cgroup and
 * confinement), waits, and exits with the command's status (125 on a runtime error). */
#include <stdio.h>
#include <sys/wait.h>

#include "err.h"
#include "runtime.h"
#include "unit_parse.h"

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: rtexec RUN_DIR NAME UNIT.yaml CMD [ARGS...]\n");
        return 2;
    }
    struct err err = {0};
    struct diags d = {0};
    struct unit *u = NULL;
    struct rt_container *c = NULL;
    if (unit_parse_file(argv[3], &u, &d) < 0) {
        diags_print(stderr, &d);
        return 125;
    }
    if (rt_adopt(argv[1], argv[2], &c, &err) < 0) {
        fprintf(stderr, "rtexec: %s\n", err.msg);
        return 125;
    }
    int stdio[3] = {0, 1, 2};
    pid_t pid;
    if (rt_exec(c, u, argv + 4, NULL, stdio, &pid, NULL, &err) < 0) {
        fprintf(stderr, "rtexec: %s\n", err.msg);
        return 125;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        ;
    rt_container_free(c);
    unit_free(u);
    diags_clear(&d);
    return rt_exit_code(st);
}

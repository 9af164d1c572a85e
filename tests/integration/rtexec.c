/* Test driver for the runtime library.
 *   rtexec RUN_DIR NAME UNIT.yaml CMD [ARGS...]
 *     Adopts the running container NAME, runs CMD inside it (its namespaces, root, cgroup and
 *     confinement), waits, and exits with the command's status (125 on a runtime error).
 *   rtexec --cycles N RUN_DIR ROOT_DIR UNIT.yaml
 *     In one process (as the supervisor does): N times rt_start (with a cgroup), rt_wait,
 *     rt_destroy; prints "fds BEFORE AFTER" (open fds of this process). The unit's image must
 *     be dir:DIR. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/wait.h>

#include "cgroup.h"

#include "err.h"
#include "runtime.h"
#include "unit_parse.h"

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += de->d_name[0] != '.';
    if (d)
        closedir(d);
    return n - 1; /* the directory's own fd */
}

static int cycles(int n, const char *run, const char *root, const char *path)
{
    struct err err = {0};
    struct diags d = {0};
    struct unit *u = NULL;
    struct cg_manager *cgm = NULL;
    if (unit_parse_file(path, &u, &d) < 0 || strncmp(u->image, "dir:", 4) != 0) {
        diags_print(stderr, &d);
        return 125;
    }
    if (cg_manager_open(NULL, &cgm, &err) < 0) {
        fprintf(stderr, "rtexec: %s\n", err.msg);
        return 125;
    }
    char *lower[] = {u->image + 4, NULL};
    struct rt_spec spec = {.unit = u, .root_dir = root, .run_dir = run, .stdio = {-1, 1, 2},
            .lower_dirs = lower, .cgm = cgm};
    int before = count_fds();
    for (int i = 0; i < n; i++) {
        struct rt_container *c = NULL;
        int st;
        if (rt_start(&spec, &c, &err) < 0 || rt_wait(c, false, &st, &err) < 0 ||
                rt_destroy(c, &err) < 0) {
            fprintf(stderr, "rtexec: cycle %d: %s\n", i, err.msg);
            return 125;
        }
        if (rt_exit_code(st) != 0) {
            fprintf(stderr, "rtexec: cycle %d: exit %d\n", i, rt_exit_code(st));
            return 1;
        }
        rt_container_free(c);
    }
    printf("fds %d %d\n", before, count_fds());
    cg_manager_free(cgm);
    unit_free(u);
    diags_clear(&d);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "--cycles") == 0)
        return cycles(atoi(argv[2]), argv[3], argv[4], argv[5]);
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

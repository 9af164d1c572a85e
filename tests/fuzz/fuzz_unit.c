/* libFuzzer entry for the unit parser. The input is one or more unit files separated by
 * "\n---\n" (each parsed on its own, named u0.yaml, u1.yaml, ... so the default names differ);
 * every unit is turned into canonical JSON and hashed, and the valid ones are checked as a
 * set (names, references, cycles, addresses). Built and run by `make fuzz` (bounded time);
 * the seed corpus is tests/fuzz/corpus. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit_parse.h"

#define MAX_PARTS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct unit *units[MAX_PARTS];
    struct unit_set set = {.units = units, .n = 0};
    struct diags d = {0};
    const char *p = (const char *)data, *end = p + size;

    for (int part = 0; part < MAX_PARTS && p <= end; part++) {
        const char *sep = memmem(p, (size_t)(end - p), "\n---\n", 5);
        const char *stop = sep && part < MAX_PARTS - 1 ? sep + 1 : end;
        char name[32];
        snprintf(name, sizeof(name), "u%d.yaml", part);
        struct unit *u = NULL;
        if (unit_parse_buffer(name, p, (size_t)(stop - p), &u, &d) == 0) {
            json_t *j = unit_to_json(u);
            char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
            free(s);
            json_decref(j);
            char h[65];
            (void)unit_hash(u, h);
            units[set.n++] = u;
        }
        if (stop == end)
            break;
        p = sep + 5;
    }
    (void)unit_check_set(&set, &d);
    for (size_t i = 0; i < set.n; i++)
        unit_free(units[i]);
    diags_sort(&d);
    FILE *f = fopen("/dev/null", "w");
    if (f) {
        diags_print(f, &d);
        fclose(f);
    }
    diags_clear(&d);
    return 0;
}

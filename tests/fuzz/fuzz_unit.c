/* libFuzzer entry for the unit parser: parse, canonical JSON, hash, free. Built and run by
 * `make fuzz` (bounded time); the seed corpus is tests/fuzz/corpus. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "unit_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct unit *u = NULL;
    struct diags d = {0};
    if (unit_parse_buffer("fuzz.yaml", (const char *)data, size, &u, &d) == 0) {
        json_t *j = unit_to_json(u);
        char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        free(s);
        json_decref(j);
        char h[65];
        (void)unit_hash(u, h);
        /* Set checks on a set of one (self references, addresses). */
        struct unit_set set = {.units = &u, .n = 1};
        (void)unit_check_set(&set, &d);
        unit_free(u);
    }
    diags_sort(&d);
    FILE *f = fopen("/dev/null", "w");
    if (f) {
        diags_print(f, &d);
        fclose(f);
    }
    diags_clear(&d);
    return 0;
}

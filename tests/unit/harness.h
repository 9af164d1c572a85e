#pragma once
/* Tiny test harness: CHECK/CHECK_STR/CHECK_INT inside test functions returning 0 (pass),
 * 1 (fail) or 77 (skip, with a reason printed); RUN() runs one; HARNESS_END() prints
 * "N passed, N failed, N skipped" and returns the exit code for main(). */
#include <stdio.h>
#include <string.h>

static int h_passed, h_failed, h_skipped;
static int h_cur_failed;

#define CHECK(cond)                                                                               \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);           \
            h_cur_failed = 1;                                                                     \
            return 1;                                                                             \
        }                                                                                         \
    } while (0)
#define CHECK_STR(a, b)                                                                           \
    do {                                                                                          \
        const char *_a = (a), *_b = (b);                                                          \
        if (!_a || !_b || strcmp(_a, _b) != 0) {                                                  \
            fprintf(stderr, "  %s:%d: '%s' != '%s'\n", __FILE__, __LINE__, _a ? _a : "(null)",    \
                    _b ? _b : "(null)");                                                          \
            h_cur_failed = 1;                                                                     \
            return 1;                                                                             \
        }                                                                                         \
    } while (0)
#define CHECK_INT(a, b)                                                                           \
    do {                                                                                          \
        long long _a = (long long)(a), _b = (long long)(b);                                       \
        if (_a != _b) {                                                                           \
            fprintf(stderr, "  %s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, _a,   \
                    _b);                                                                          \
            h_cur_failed = 1;                                                                     \
            return 1;                                                                             \
        }                                                                                         \
    } while (0)
#define SKIP(reason)                                                                              \
    do {                                                                                          \
        fprintf(stderr, "  skipped: %s\n", reason);                                               \
        return 77;                                                                                \
    } while (0)

#define RUN(fn)                                                                                   \
    do {                                                                                          \
        h_cur_failed = 0;                                                                         \
        int _r = fn();                                                                            \
        if (_r == 77) {                                                                           \
            h_skipped++;                                                                          \
            printf("skip %s\n", #fn);                                                             \
        } else if (_r != 0 || h_cur_failed) {                                                     \
            h_failed++;                                                                           \
            printf("FAIL %s\n", #fn);                                                             \
        } else {                                                                                  \
            h_passed++;                                                                           \
            printf("ok   %s\n", #fn);                                                             \
        }                                                                                         \
        fflush(stdout);                                                                           \
    } while (0)

#define HARNESS_END()                                                                             \
    (printf("%d passed, %d failed, %d skipped\n", h_passed, h_failed, h_skipped),                 \
            h_failed ? 1 : 0)

#pragma once
/* Error carrier: a positive errno plus a message with context.
 * Fixed-size so it works after clone() and can be written down a pipe as is. */
#include <stdarg.h>

struct err {
    int code;      /* positive errno value, 0 = no error */
    char msg[512]; /* "outer context: ...: inner cause: strerror" */
};

/* Sets e (if non-NULL) to code with a formatted message followed by ": strerror(code)".
 * Returns -code. */
int err_set(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like err_set but without the strerror suffix (for input errors whose errno is only a class). */
int err_setx(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefixes the existing message with context ("context: old"). Returns -e->code. */
int err_wrap(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Resets e to no error. */
void err_clear(struct err *e);

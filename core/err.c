#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int err_vset(struct err *e, int code, int with_cause, const char *fmt, va_list ap)
{
    if (code < 0)
        code = -code;
    if (code == 0)
        code = EINVAL;
    if (!e)
        return -code;
    e->code = code;
    int n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    if (with_cause && n >= 0 && (size_t)n < sizeof(e->msg))
        snprintf(e->msg + n, sizeof(e->msg) - (size_t)n, ": %s", strerror(code));
    return -code;
}

int err_set(struct err *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = err_vset(e, code, 1, fmt, ap);
    va_end(ap);
    return r;
}

int err_setx(struct err *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = err_vset(e, code, 0, fmt, ap);
    va_end(ap);
    return r;
}

int err_wrap(struct err *e, const char *fmt, ...)
{
    if (!e)
        return -EINVAL;
    char prefix[256];
    char old[sizeof(e->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof(old));
    snprintf(e->msg, sizeof(e->msg), "%s: %s", prefix, old);
    if (e->code == 0)
        e->code = EINVAL;
    return -e->code;
}

void err_clear(struct err *e)
{
    if (e) {
        e->code = 0;
        e->msg[0] = '\0';
    }
}

/* Error code messages and the error context helpers (see err.h). */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void sa_assert_fail(const char *file, int line, const char *cond)
{
    fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, cond);
    abort();
}

const char *sa_strerror(int code)
{
    switch (code) {
#define SA_ERR_MSG(name, val, msg)                                                                 \
    case (val): return (msg);
        SA_ERRNO_MAP(SA_ERR_MSG)
#undef SA_ERR_MSG
    }
    return "unknown error";
}

const char *sa_errname(int code)
{
    switch (code) {
#define SA_ERR_NAME(name, val, msg)                                                                \
    case (val): return #name;
        SA_ERRNO_MAP(SA_ERR_NAME)
#undef SA_ERR_NAME
    }
    return "EUNKNOWN";
}

int sa_err_set(struct sa_err *err, int code, const char *fmt, ...)
{
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

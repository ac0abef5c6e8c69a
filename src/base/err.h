/* Error codes shared by every layer, and the error context that carries the
 * human-readable detail beside a code (curl's failf). */
#ifndef SA_BASE_ERR_H
#define SA_BASE_ERR_H

#include <stddef.h>

#define SA_WUR __attribute__((warn_unused_result))

/* X(name, value, message): the one list of error codes and their messages. */
#define SA_ERRNO_MAP(X)                                                                            \
    X(OK, 0, "success")                                                                            \
    X(ENOMEM, -1, "out of memory")                                                                 \
    X(EINVAL, -2, "invalid argument")                                                              \
    X(ENOTFOUND, -3, "not found")                                                                  \
    X(EIO, -4, "input/output error")                                                               \
    X(ESTORE, -5, "storage error")                                                                 \
    X(ECONFIG, -6, "configuration error")                                                          \
    X(ETOOBIG, -7, "value too large")                                                              \
    X(ECONFLICT, -8, "conflict")                                                                   \
    X(ENOTIMPL, -9, "not implemented")                                                             \
    X(EINTERNAL, -10, "internal error")                                                            \
    X(ETIMEDOUT, -11, "timed out")                                                                 \
    X(ECANCELED, -12, "cancelled")                                                                 \
    X(EPRECONDITION, -13, "precondition failed")

enum sa_errno {
#define SA_ERR_ENUM(name, val, msg) SA_##name = (val),
    SA_ERRNO_MAP(SA_ERR_ENUM)
#undef SA_ERR_ENUM
};

/* Static message for a code; "unknown error" for codes outside the map. */
const char *sa_strerror(int code);
/* Stable name of a code ("ENOTFOUND"), for logs and metrics labels. */
const char *sa_errname(int code);

/* An error context: a code plus a message for the log and the API. Functions that
 * take one fill it on failure and leave it alone on success. */
struct sa_err {
    int code;
    char msg[256];
};

/* Sets err (when non-NULL) to code and a printf-formatted message; returns code so
 * callers can write `return sa_err_set(err, SA_EINVAL, "...")`. */
int sa_err_set(struct sa_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints the failed invariant and aborts. Called by SA_ASSERT. */
_Noreturn void sa_assert_fail(const char *file, int line, const char *cond);

/* Invariants, checked in debug and test builds. Includes nothing, so a header's includes
 * are the same in every build type. */
#ifdef SA_DEBUG
#define SA_ASSERT(cond) ((cond) ? (void)0 : sa_assert_fail(__FILE__, __LINE__, #cond))
#else
#define SA_ASSERT(cond) ((void)0)
#endif

#endif

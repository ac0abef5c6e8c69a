/* A growable byte buffer with a hard cap (curl's dynbuf): for bodies and output
 * whose size is driven by the network. */
#ifndef SA_BASE_BUF_H
#define SA_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "base/err.h"

struct sa_buf {
    char *data; /* always NUL-terminated when non-NULL; owned by the buffer */
    size_t len;
    size_t cap;
    size_t max; /* appends that would pass this many bytes fail with SA_ETOOBIG */
};

/* Initialises an empty buffer that may grow to max bytes. Allocates nothing. */
void sa_buf_init(struct sa_buf *b, size_t max);
/* Frees the storage and leaves an empty buffer with the same cap. */
void sa_buf_free(struct sa_buf *b);
/* Empties the buffer, keeping its storage. */
void sa_buf_reset(struct sa_buf *b);
/* Makes room for at least n bytes in total (within the cap). Returns 0, SA_ETOOBIG or
 * SA_ENOMEM. */
int sa_buf_reserve(struct sa_buf *b, size_t n) SA_WUR;
/* Appends len bytes. Returns 0, SA_ETOOBIG past the cap (buffer unchanged) or SA_ENOMEM. */
int sa_buf_append(struct sa_buf *b, const void *p, size_t len) SA_WUR;
/* Appends a NUL-terminated string; same returns as sa_buf_append. */
int sa_buf_puts(struct sa_buf *b, const char *s) SA_WUR;
/* Appends printf-formatted text; same returns as sa_buf_append. */
int sa_buf_printf(struct sa_buf *b, const char *fmt, ...) SA_WUR
    __attribute__((format(printf, 2, 3)));
/* Hands the storage to the caller (who frees it with free()) and empties the buffer.
 * Returns an allocated "" for an empty buffer, or NULL when out of memory. */
char *sa_buf_steal(struct sa_buf *b, size_t *len);

#endif

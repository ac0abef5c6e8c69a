/* A server-sent events parser (the WHATWG format both vendors stream): bytes go in as
 * they arrive, split anywhere; each complete event comes out through a callback.
 * Lines end in LF, CRLF or CR; "event:" names the event, "data:" lines are joined with
 * LF, lines starting with ':' are comments (keep-alives), a blank line dispatches. A
 * single leading space after the colon is dropped. An event larger than SA_SSE_MAX_EVENT
 * is an error, not a truncation. */
#ifndef SA_LLM_SSE_H
#define SA_LLM_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

#define SA_SSE_MAX_EVENT ((size_t)1 << 20)

/* One event: its name ("" when the stream gave none) and its data (NUL-terminated, len
 * bytes). Returns 0 to go on; anything else stops the parser, and sa_sse_feed returns it. */
typedef int (*sa_sse_event_fn)(void *arg, const char *event, const char *data, size_t len);

struct sa_sse {
    struct sa_buf line;  /* the line being read */
    struct sa_buf data;  /* the event's data so far */
    char event[64];      /* the event's name so far */
    bool has_data;       /* a data: line came (an empty one counts) */
    bool after_cr;       /* the last byte was CR: a following LF ends nothing */
    sa_sse_event_fn on_event;
    void *arg;
};

void sa_sse_init(struct sa_sse *p, sa_sse_event_fn on_event, void *arg);
void sa_sse_free(struct sa_sse *p);
/* Parses len more bytes. Returns 0, the callback's non-zero value, or SA_ETOOBIG /
 * SA_ENOMEM (err set). */
int sa_sse_feed(struct sa_sse *p, const char *bytes, size_t len, struct sa_err *err) SA_WUR;

#endif

#include "llm/sse.h"

#include <string.h>

void sa_sse_init(struct sa_sse *p, sa_sse_event_fn on_event, void *arg)
{
    memset(p, 0, sizeof *p);
    sa_buf_init(&p->line, SA_SSE_MAX_EVENT);
    sa_buf_init(&p->data, SA_SSE_MAX_EVENT);
    p->on_event = on_event;
    p->arg = arg;
}

void sa_sse_free(struct sa_sse *p)
{
    sa_buf_free(&p->line);
    sa_buf_free(&p->data);
}

static int too_big(int rc, struct sa_err *err)
{
    return rc == SA_ETOOBIG ? sa_err_set(err, SA_ETOOBIG, "stream: an event over %zu bytes",
                                         SA_SSE_MAX_EVENT)
                            : sa_err_set(err, rc, "stream: out of memory");
}

/* A blank line: hands the event over (when it had data) and starts the next. */
static int dispatch(struct sa_sse *p, struct sa_err *err)
{
    int rc = 0;
    if (p->has_data) {
        if (!p->data.data && sa_buf_reserve(&p->data, 1))
            return too_big(SA_ENOMEM, err);
        rc = p->on_event(p->arg, p->event, p->data.data, p->data.len);
    }
    sa_buf_reset(&p->data);
    p->event[0] = '\0';
    p->has_data = false;
    return rc;
}

/* One complete line (without its end). */
static int line(struct sa_sse *p, const char *s, size_t n, struct sa_err *err)
{
    if (n == 0)
        return dispatch(p, err);
    if (s[0] == ':')
        return 0; /* a comment: keep-alives */
    const char *colon = memchr(s, ':', n);
    size_t flen = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vlen = (size_t)(s + n - v);
    if (vlen && v[0] == ' ') {
        v++;
        vlen--;
    }
    if (flen == 5 && memcmp(s, "event", 5) == 0) {
        size_t k = vlen < sizeof p->event - 1 ? vlen : sizeof p->event - 1;
        memcpy(p->event, v, k);
        p->event[k] = '\0';
    } else if (flen == 4 && memcmp(s, "data", 4) == 0) {
        int rc = p->has_data ? sa_buf_append(&p->data, "\n", 1) : 0;
        if (!rc)
            rc = sa_buf_append(&p->data, v, vlen);
        if (rc)
            return too_big(rc, err);
        p->has_data = true;
    }
    return 0; /* id:, retry: and unknown fields mean nothing to a completion */
}

int sa_sse_feed(struct sa_sse *p, const char *bytes, size_t len, struct sa_err *err)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        char c = bytes[i];
        if (c != '\n' && c != '\r') {
            p->after_cr = false;
            continue;
        }
        bool lf_after_cr = c == '\n' && p->after_cr;
        p->after_cr = c == '\r';
        if (lf_after_cr) { /* the LF of a CRLF: the line already ended */
            start = i + 1;
            continue;
        }
        int rc = 0;
        if (p->line.len) { /* the line began in an earlier piece */
            rc = sa_buf_append(&p->line, bytes + start, i - start);
            if (rc)
                return too_big(rc, err);
            rc = line(p, p->line.data, p->line.len, err);
            sa_buf_reset(&p->line);
        } else {
            rc = line(p, bytes + start, i - start, err);
        }
        if (rc)
            return rc;
        start = i + 1;
    }
    if (start < len) {
        int rc = sa_buf_append(&p->line, bytes + start, len - start);
        if (rc)
            return too_big(rc, err);
    }
    return 0;
}

/* Capped growable buffer (see buf.h). */
#include "base/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sa_buf_init(struct sa_buf *b, size_t max)
{
    *b = (struct sa_buf){.max = max};
}

void sa_buf_free(struct sa_buf *b)
{
    free(b->data);
    sa_buf_init(b, b->max);
}

void sa_buf_reset(struct sa_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int grow(struct sa_buf *b, size_t need)
{
    if (need > b->max)
        return SA_ETOOBIG;
    if (need + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need + 1)
        cap *= 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *p = realloc(b->data, cap);
    if (!p)
        return SA_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int sa_buf_reserve(struct sa_buf *b, size_t n)
{
    return grow(b, n);
}

int sa_buf_append(struct sa_buf *b, const void *p, size_t len)
{
    if (len > b->max - b->len)
        return SA_ETOOBIG;
    int rc = grow(b, b->len + len);
    if (rc)
        return rc;
    if (len)
        memcpy(b->data + b->len, p, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int sa_buf_puts(struct sa_buf *b, const char *s)
{
    return sa_buf_append(b, s, strlen(s));
}

int sa_buf_printf(struct sa_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return SA_EINVAL;
    if ((size_t)n < sizeof small)
        return sa_buf_append(b, small, (size_t)n);
    if ((size_t)n > b->max - b->len)
        return SA_ETOOBIG;
    int rc = grow(b, b->len + (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *sa_buf_steal(struct sa_buf *b, size_t *len)
{
    char *p = b->data ? b->data : calloc(1, 1);
    if (len)
        *len = b->data ? b->len : 0;
    sa_buf_init(b, b->max);
    return p;
}

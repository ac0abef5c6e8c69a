/* The lead search in PostgreSQL (see search.h): the folded text stored per lead, and the
 * query argument the list and the export bind. */
#include "store/postgres/search.h"

#include <stdlib.h>
#include <string.h>

#include "base/fold.h"

int pg_search_arg(const char *q, char **arg, enum pg_search *mode, struct sa_err *err)
{
    *arg = NULL;
    *mode = PG_SEARCH_NONE;
    if (!q)
        return 0;
    size_t len = strlen(q);
    char *folded = malloc(len + 1);
    if (!folded)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    sa_fold(q, len, folded);
    if (sa_fold_chars(folded) < 3) {
        *arg = folded;
        *mode = PG_SEARCH_SCAN;
        return 0;
    }
    /* %pattern%: each \ % _ escaped, so at most 2 * len + 2 bytes and the NUL */
    char *pattern = malloc(2 * len + 3);
    if (!pattern) {
        free(folded);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    size_t o = 0;
    pattern[o++] = '%';
    for (const char *p = folded; *p; p++) {
        if (*p == '\\' || *p == '%' || *p == '_')
            pattern[o++] = '\\';
        pattern[o++] = *p;
    }
    pattern[o++] = '%';
    pattern[o] = '\0';
    free(folded);
    *arg = pattern;
    *mode = PG_SEARCH_INDEX;
    return 0;
}

char *pg_search_text(const struct sa_lead_row *l)
{
    const char *const f[] = {l->company_name, l->contact_name, l->contact_email, l->industry};
    size_t cap = 1;
    for (size_t i = 0; i < 4; i++)
        cap += f[i] ? strlen(f[i]) + 1 : 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < 4; i++) {
        if (!f[i])
            continue;
        if (o > 0) /* as sa_fold() in SQLite: no separator before the first folded text */
            out[o++] = '\n';
        o += sa_fold(f[i], strlen(f[i]), out + o);
    }
    out[o] = '\0';
    return out;
}

/* The lead search in SQLite (see search.h): the folding SQL function the index triggers
 * call, and the query argument the list and the export bind. */
#include "store/sqlite/search.h"

#include <stdlib.h>
#include <string.h>

#include "base/fold.h"

int db_search_arg(const char *q, char **arg, enum db_search *mode, struct sa_err *err)
{
    *arg = NULL;
    *mode = DB_SEARCH_NONE;
    if (!q)
        return 0;
    size_t len = strlen(q);
    char *folded = malloc(len + 1);
    if (!folded)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    sa_fold(q, len, folded);
    if (sa_fold_chars(folded) < 3) {
        *arg = folded;
        *mode = DB_SEARCH_SCAN;
        return 0;
    }
    /* "phrase": each " doubled, so at most 2 * len + 2 bytes and the NUL */
    char *phrase = malloc(2 * len + 3);
    if (!phrase) {
        free(folded);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    size_t o = 0;
    phrase[o++] = '"';
    for (const char *p = folded; *p; p++) {
        if (*p == '"')
            phrase[o++] = '"';
        phrase[o++] = *p;
    }
    phrase[o++] = '"';
    phrase[o] = '\0';
    free(folded);
    *arg = phrase;
    *mode = DB_SEARCH_INDEX;
    return 0;
}

/* sa_fold(a, b, ...): see search.h. */
static void fold_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    size_t cap = 1;
    for (int i = 0; i < argc; i++)
        cap += (size_t)sqlite3_value_bytes(argv[i]) + 1;
    char *out = sqlite3_malloc64(cap);
    if (!out) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    size_t o = 0;
    for (int i = 0; i < argc; i++) {
        const unsigned char *t = sqlite3_value_text(argv[i]);
        if (!t)
            continue;
        if (o > 0)
            out[o++] = '\n';
        o += sa_fold((const char *)t, (size_t)sqlite3_value_bytes(argv[i]), out + o);
    }
    out[o] = '\0';
    sqlite3_result_text64(ctx, out, o, sqlite3_free, SQLITE_UTF8);
}

int db_search_register(sqlite3 *db, struct sa_err *err)
{
    int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
    if (sqlite3_create_function_v2(db, "sa_fold", -1, flags, NULL, fold_fn, NULL, NULL, NULL) !=
        SQLITE_OK)
        return sa_err_set(err, SA_ESTORE, "sqlite: registering sa_fold: %s", sqlite3_errmsg(db));
    return 0;
}

/* Leads in PostgreSQL: an invocation's lead and execution written in one statement, an
 * import's leads in one transaction, reads by id, filtered pages, and the lookups an
 * import merges by. Part of the PostgreSQL backend (pg.h); called through store.h. Ported
 * statement by statement from store/sqlite/leads.c; "COLLATE NOCASE" becomes lower() over
 * the "C"-collated columns (ASCII only, as NOCASE), served by expression indexes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/uuid.h"
#include "store/postgres/pg.h"
#include "store/postgres/search.h"

#define LEAD_COLS                                                                                  \
    "id, company_name, industry, company_size, employees_min, employees_max, "                     \
    "annual_revenue, website, country, contact_name, contact_title, contact_email, "               \
    "contact_phone, linkedin_url, data, qualification_score, qualification_tier, "                 \
    "qualification_reasoning, qualified_at, created_at, updated_at"
/* What a read adds to LEAD_COLS: the lead's company (columns 21-23). */
#define LEAD_READ_COLS                                                                             \
    LEAD_COLS ", company_id, (SELECT domain FROM companies c WHERE c.id = leads.company_id), "     \
              "(SELECT name FROM companies c WHERE c.id = leads.company_id)"
/* A lead write is one statement, so it is atomic without BEGIN and COMMIT and costs one
 * round trip: its company, the lead, the lead's search text and its execution, each a
 * CTE. $1-$20 the lead (lead_args), $21 its company domain (NULL: none), $22 its folded
 * search text (search.h), $23 a new company id, $24-$33 the execution (exec_args; NULL
 * when there is none).
 *
 * The company: the one of $21 when it exists (read first, so the usual case writes
 * nothing), else inserted; when another transaction inserts the same domain meanwhile,
 * ON CONFLICT waits for it and DO UPDATE returns the row it committed (a plain subquery
 * would not see it: its snapshot is older). The search row and the execution are
 * written only when the lead row is (they select from l, the lead's CTE), and the
 * foreign keys are checked at the statement's end, when every row is there. The
 * statement answers how many lead rows it wrote.
 *
 * The statement lives in the function sa_write_lead (migration 055), which PostgreSQL
 * plans once per server connection; sent as it is, it was parsed and planned on every
 * call (the unnamed statement: PgBouncer's transaction mode allows no prepared one). */
#define WRITE_ARGS                                                                                 \
    "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, "       \
    "$20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33"
/* [only_new][with an execution] */
static const struct pg_sql WRITE_LEAD_SQL[2][2] = {
    {{"write lead", "SELECT sa_write_lead(" WRITE_ARGS ", false, false) AS n"},
     {"write lead", "SELECT sa_write_lead(" WRITE_ARGS ", false, true) AS n"}},
    {{"write lead", "SELECT sa_write_lead(" WRITE_ARGS ", true, false) AS n"},
     {"write lead", "SELECT sa_write_lead(" WRITE_ARGS ", true, true) AS n"}},
};
static const struct pg_sql GET_COMPANY = {
    "get company", "SELECT id, domain, name, created_at, updated_at, "
                   "(SELECT count(*) FROM leads l WHERE l.company_id = c.id) AS leads "
                   "FROM companies c WHERE domain = $1"};
/* The identity rule's match, without and with the lead's stored input. */
#define MATCH_LEAD_SQL(cols)                                                                   \
    "SELECT " cols " FROM leads WHERE lower(company_name) = lower($1::text COLLATE \"C\") "  \
    "AND contact_email IS NULL AND company_id IS NOT DISTINCT FROM (SELECT id FROM companies " \
    "WHERE domain = $2::text) AND lower(COALESCE(contact_name, '')) = "                        \
    "lower(COALESCE($3::text, '') COLLATE \"C\") ORDER BY created_at, id LIMIT 1"
static const struct pg_sql MATCH_LEAD[2] = {{"match lead", MATCH_LEAD_SQL("id")},
                                            {"match lead", MATCH_LEAD_SQL("id, data")}};
static const struct pg_sql BY_MAILBOX = {
    "leads by mailbox", "SELECT id, contact_name, data FROM leads WHERE lower(contact_email) = "
                        "lower($1::text COLLATE \"C\") ORDER BY created_at, id LIMIT $2::bigint "
                        "OFFSET $3::bigint"};
/* GET_LEAD and BY_EMAIL run through functions (migration 055) that hold their
 * statements, SELECT LEAD_READ_COLS FROM leads WHERE id = $1 and the lead with the
 * e-mail (ASCII case ignored, the earliest), so that PostgreSQL plans them once per
 * server connection: an invoke runs both, and planning cost four times their run. */
static const struct pg_sql GET_LEAD = {"get lead", "SELECT * FROM sa_get_lead($1)"};
/* The list's statements by search mode (search.h) and order (enum sa_lead_sort). */
#define LIST_FROM "SELECT " LEAD_READ_COLS " FROM leads"
#define LIST_PAGE " LIMIT $4::bigint OFFSET $5::bigint"
#define LIST_ORDERS(filter, what)                                                                  \
    {                                                                                              \
        {what, LIST_FROM filter " ORDER BY created_at DESC, id DESC" LIST_PAGE},                   \
            {what, LIST_FROM filter " ORDER BY created_at, id" LIST_PAGE},                         \
            {what, LIST_FROM filter " ORDER BY COALESCE(qualification_score, -1), id" LIST_PAGE},  \
            {what, LIST_FROM filter                                                                \
             " ORDER BY COALESCE(qualification_score, -1) DESC, id DESC" LIST_PAGE},               \
        {                                                                                          \
            what, LIST_FROM filter " ORDER BY lower(company_name), id" LIST_PAGE                   \
        }                                                                                          \
    }
static const struct pg_sql LIST_LEADS[PG_SEARCH_MODES][SA_LEAD_SORTS] = {
    LIST_ORDERS(PG_LEAD_FILTER_NONE, "list leads"),
    LIST_ORDERS(PG_LEAD_FILTER_INDEX, "search leads"),
    LIST_ORDERS(PG_LEAD_FILTER_SCAN, "search leads"),
};
static const struct pg_sql COUNT_LEADS[PG_SEARCH_MODES] = {
    {"count leads", "SELECT count(*) AS n FROM leads" PG_LEAD_FILTER_NONE},
    {"count leads", "SELECT count(*) AS n FROM leads" PG_LEAD_FILTER_INDEX},
    {"count leads", "SELECT count(*) AS n FROM leads" PG_LEAD_FILTER_SCAN},
};
/* with the lead's stored input: migration 056 */
static const struct pg_sql BY_EMAIL[2] = {
    {"lead by e-mail", "SELECT sa_lead_by_email($1) AS id"},
    {"lead by e-mail", "SELECT id, data FROM sa_lead_by_email_data($1)"}};
static const struct pg_sql BY_COMPANY = {"leads by company",
                                         "SELECT id, website, contact_email FROM leads WHERE "
                                         "lower(company_name) = lower($1::text COLLATE \"C\") "
                                         "ORDER BY created_at, id"};

/* ---- writes ------------------------------------------------------------------------- */

/* The 21 lead arguments of sa_write_lead ($1-$21); unknowns send NULL. */
static void lead_args(const struct sa_lead_row *l, const char *now, struct pg_arg a[21])
{
    bool q = l->score >= 0; /* qualified by this write */
    const struct pg_arg none = TXT(NULL);
    a[0] = TXT(l->id);
    a[1] = TXT(l->company_name);
    a[2] = TXT(l->industry);
    a[3] = TXT(l->company_size);
    a[4] = l->employees_min >= 0 ? NUM(l->employees_min) : none;
    a[5] = l->employees_max >= 0 ? NUM(l->employees_max) : none;
    a[6] = l->annual_revenue >= 0 ? DBL(l->annual_revenue) : none;
    a[7] = TXT(l->website);
    a[8] = TXT(l->country);
    a[9] = TXT(l->contact_name);
    a[10] = TXT(l->contact_title);
    a[11] = TXT(l->contact_email);
    a[12] = TXT(l->contact_phone);
    a[13] = TXT(l->linkedin_url);
    a[14] = TXT(l->data);
    a[15] = q ? NUM(l->score) : none;
    a[16] = q ? TXT(l->tier) : none;
    a[17] = q ? TXT(l->reasoning) : none;
    a[18] = q ? TXT(now) : none;
    a[19] = TXT(now);
    a[20] = TXT(l->company_domain && l->company_domain[0] ? l->company_domain : NULL);
}

/* The execution's 10 arguments ($24-$33), as sa_pg_exec_insert writes them, except its
 * input: NULL when it is the lead's own (lead_data), which the lead row holds once
 * (executions.c reads it from there). */
static void exec_args(const struct sa_exec_row *e, const char *lead_data, struct pg_arg a[10])
{
    const char *input = e->input;
    if (input && lead_data && (input == lead_data || strcmp(input, lead_data) == 0))
        input = NULL;
    a[0] = TXT(e->id);
    a[1] = TXT(e->lead_id);
    a[2] = TXT(e->agent_type);
    a[3] = TXT(e->thread_id);
    a[4] = TXT(e->success ? "success" : "error");
    a[5] = TXT(input);
    a[6] = TXT(e->output);
    a[7] = TXT(e->error_message);
    a[8] = DBL(e->processing_time_ms);
    a[9] = NUM(e->success);
}

/* One lead and (optionally) its execution. */
struct invocation {
    const struct sa_lead_row *lead;
    const struct sa_exec_row *exec; /* NULL: the lead alone */
    bool only_new;                  /* insert if the id is new, else write nothing */
    bool inserted;                  /* out: the lead row was written */
};

/* Writes w in one statement on c (inside a transaction), or on a pooled connection when c
 * is NULL (the statement is its own transaction). */
static int write_lead(struct sa_store *s, struct pg_conn *c, struct invocation *w, const char *now,
                      struct sa_err *err)
{
    w->inserted = false;
    struct pg_arg a[33];
    lead_args(w->lead, now, a);
    char *text = pg_search_text(w->lead);
    if (!text)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    a[21] = TXT(text);
    char cid[SA_UUID_LEN];
    sa_uuid_v7(cid);
    a[22] = TXT(cid);
    if (w->exec) {
        exec_args(w->exec, w->lead->data, a + 23);
    } else {
        for (int i = 23; i < 33; i++)
            a[i] = TXT(NULL);
    }
    PGresult *res = NULL;
    int rc = pg_query_raw(s, c, &WRITE_LEAD_SQL[w->only_new][w->exec != NULL], a, 33, &res, err);
    free(text);
    w->inserted = !rc && PQntuples(res) == 1 && strtol(PQgetvalue(res, 0, 0), NULL, 10) > 0;
    PQclear(res);
    return rc;
}

int sa_pg_save_invocation(struct sa_store *s, const struct sa_lead_row *l,
                          const struct sa_exec_row *e, struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    struct invocation w = {.lead = l, .exec = e};
    return write_lead(s, NULL, &w, now, err);
}

int sa_pg_insert_lead_if_new(struct sa_store *s, const struct sa_lead_row *l,
                             const struct sa_exec_row *e, bool *inserted, struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    struct invocation w = {.lead = l, .exec = e, .only_new = true};
    int rc = write_lead(s, NULL, &w, now, err);
    *inserted = !rc && w.inserted;
    return rc;
}

struct many {
    const struct sa_lead_row *leads;
    const struct sa_exec_row *execs; /* NULL, or one per lead */
    int n;
};

static int write_many(struct pg_conn *c, void *arg, const char *now, struct sa_err *err)
{
    struct many *m = arg;
    int rc = 0;
    for (int i = 0; i < m->n && !rc; i++) {
        struct invocation w = {.lead = &m->leads[i], .exec = m->execs ? &m->execs[i] : NULL};
        rc = write_lead(NULL, c, &w, now, err);
    }
    return rc;
}

int sa_pg_save_many(struct sa_store *s, const struct sa_lead_row *leads,
                    const struct sa_exec_row *execs, int n, struct sa_err *err)
{
    struct many m = {.leads = leads, .execs = execs, .n = n};
    return pg_transaction(s, write_many, &m, err);
}

/* ---- reads -------------------------------------------------------------------------- */

static json_t *col_real(const PGresult *res, int r, int col)
{
    return PQgetisnull(res, r, col) ? json_null()
                                    : json_real(strtod(PQgetvalue(res, r, col), NULL));
}

/* A row of LEAD_READ_COLS in the API's shape: contact_info and qualification nested. */
static json_t *lead_from_row(const PGresult *res, int r)
{
    json_t *contact =
        json_pack("{s:o, s:o, s:o, s:o, s:o}", "name", pg_col_text(res, r, 9), "title",
                  pg_col_text(res, r, 10), "email", pg_col_text(res, r, 11), "phone",
                  pg_col_text(res, r, 12), "linkedin_url", pg_col_text(res, r, 13));
    json_t *qual = PQgetisnull(res, r, 15)
                       ? json_null()
                       : json_pack("{s:o, s:o, s:o, s:o}", "score", pg_col_int(res, r, 15), "tier",
                                   pg_col_text(res, r, 16), "reasoning", pg_col_text(res, r, 17),
                                   "qualified_at", pg_col_text(res, r, 18));
    json_t *company = PQgetisnull(res, r, 21)
                          ? json_null()
                          : json_pack("{s:o, s:o, s:o}", "id", pg_col_text(res, r, 21), "domain",
                                      pg_col_text(res, r, 22), "name", pg_col_text(res, r, 23));
    return json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "company",
        company, "id", pg_col_text(res, r, 0), "company_name", pg_col_text(res, r, 1), "industry",
        pg_col_text(res, r, 2), "company_size", pg_col_text(res, r, 3), "employees_min",
        pg_col_int(res, r, 4), "employees_max", pg_col_int(res, r, 5), "annual_revenue",
        col_real(res, r, 6), "website", pg_col_text(res, r, 7), "country", pg_col_text(res, r, 8),
        "contact_info", contact, "data", pg_col_json(res, r, 14), "qualification", qual,
        "created_at", pg_col_text(res, r, 19), "updated_at", pg_col_text(res, r, 20));
}

int sa_pg_get_lead(struct sa_store *s, const char *id, json_t **out, struct sa_err *err)
{
    int rc = pg_query_one(s, &GET_LEAD, &TXT(id), 1, lead_from_row, out, err);
    if (!rc && !*out)
        rc = sa_err_set(err, SA_ENOTFOUND, "lead %s not found", id);
    return rc;
}

int sa_pg_list_leads(struct sa_store *s, const struct sa_lead_query *q, json_t **out,
                     struct sa_err *err)
{
    *out = NULL;
    char *arg = NULL;
    enum pg_search mode;
    int rc = pg_search_arg(q->search, &arg, &mode, err);
    if (rc)
        return rc;
    int sort = q->sort >= 0 && q->sort < SA_LEAD_SORTS ? (int)q->sort : SA_LEAD_SORT_NEWEST;
    const struct pg_arg a[] = {TXT(q->tier), NUM(q->min_score), TXT(arg), NUM(q->limit),
                               NUM(q->offset)};
    json_t *count = NULL, *items = NULL;
    rc = pg_query_one(s, &COUNT_LEADS[mode], a, 3, NULL, &count, err);
    if (!rc)
        rc = pg_query_rows(s, &LIST_LEADS[mode][sort], a, DB_N(a), lead_from_row, &items, err);
    if (!rc) {
        json_int_t total = json_integer_value(json_object_get(count, "n"));
        *out = json_pack("{s:O, s:I, s:i, s:i}", "items", items, "total", total, "limit", q->limit,
                         "offset", q->offset);
        rc = *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    json_decref(count);
    json_decref(items);
    free(arg);
    return rc;
}

/* Runs the identity query q[0] (id) or, when data is wanted, q[1] (id, data): the found
 * lead's id into id and its data into *data, or SA_ENOTFOUND. */
static int identify(struct sa_store *s, const struct pg_sql q[2], const struct pg_arg *a, int n,
                    char id[37], json_t **data, struct sa_err *err)
{
    id[0] = '\0';
    if (data)
        *data = NULL;
    json_t *row = NULL;
    int rc = pg_query_one(s, &q[data != NULL], a, n, NULL, &row, err);
    const char *got = json_string_value(json_object_get(row, "id"));
    if (!rc && !got)
        rc = sa_err_set(err, SA_ENOTFOUND, "no such lead");
    if (!rc)
        snprintf(id, 37, "%s", got);
    if (!rc && data)
        *data = json_incref(json_object_get(row, "data"));
    json_decref(row);
    return rc;
}

int sa_pg_lead_by_email(struct sa_store *s, const char *email, char id[37], json_t **data,
                        struct sa_err *err)
{
    return identify(s, BY_EMAIL, &TXT(email), 1, id, data, err);
}

int sa_pg_leads_by_mailbox(struct sa_store *s, const char *email, int limit, int offset,
                           json_t **out, struct sa_err *err)
{
    const struct pg_arg a[] = {TXT(email), NUM(limit), NUM(offset)};
    return pg_query_rows(s, &BY_MAILBOX, a, DB_N(a), NULL, out, err);
}

int sa_pg_leads_by_company(struct sa_store *s, const char *name, json_t **out, struct sa_err *err)
{
    return pg_query_rows(s, &BY_COMPANY, &TXT(name), 1, NULL, out, err);
}

int sa_pg_lead_match(struct sa_store *s, const char *name, const char *domain,
                     const char *contact_name, char id[37], json_t **data, struct sa_err *err)
{
    const struct pg_arg a[] = {TXT(name), TXT(domain && domain[0] ? domain : NULL),
                               TXT(contact_name)};
    return identify(s, MATCH_LEAD, a, DB_N(a), id, data, err);
}

int sa_pg_company_get(struct sa_store *s, const char *domain, json_t **out, struct sa_err *err)
{
    int rc = pg_query_one(s, &GET_COMPANY, &TXT(domain), 1, NULL, out, err);
    if (!rc && !*out)
        rc = sa_err_set(err, SA_ENOTFOUND, "no company with domain %s", domain);
    return rc;
}

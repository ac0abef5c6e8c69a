/* Leads in SQLite: an invocation's lead and execution written through the group commit,
 * an import's leads in one transaction, reads by id, filtered pages, and the lookups an
 * import merges by. Part of the SQLite backend (db.h); called through store.h. */
#include <stdio.h>
#include <stdlib.h>

#include "base/uuid.h"
#include "store/sqlite/db.h"
#include "store/sqlite/search.h"

#define LEAD_COLS                                                                                  \
    "id, company_name, industry, company_size, employees_min, employees_max, "                     \
    "annual_revenue, website, country, contact_name, contact_title, contact_email, "               \
    "contact_phone, linkedin_url, data, qualification_score, qualification_tier, "                 \
    "qualification_reasoning, qualified_at, created_at, updated_at"
/* What a read adds to LEAD_COLS: the lead's company (columns 21-23). */
#define LEAD_READ_COLS                                                                             \
    LEAD_COLS ", company_id, (SELECT domain FROM companies c WHERE c.id = leads.company_id), "     \
              "(SELECT name FROM companies c WHERE c.id = leads.company_id)"
/* The company of the domain bound to ?21 (NULL when ?21 is NULL: no company). */
#define COMPANY_OF_21 "(SELECT id FROM companies WHERE domain = ?21)"

static const struct db_sql UPSERT_LEAD = {
    "write lead",
    "INSERT INTO leads (" LEAD_COLS ", company_id) VALUES "
    "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?20," COMPANY_OF_21
    ") "
    "ON CONFLICT (id) DO UPDATE SET company_name=excluded.company_name, "
    "company_id=excluded.company_id, "
    "industry=excluded.industry, company_size=excluded.company_size, "
    "employees_min=excluded.employees_min, employees_max=excluded.employees_max, "
    "annual_revenue=excluded.annual_revenue, website=excluded.website, "
    "country=excluded.country, contact_name=excluded.contact_name, "
    "contact_title=excluded.contact_title, contact_email=excluded.contact_email, "
    "contact_phone=excluded.contact_phone, linkedin_url=excluded.linkedin_url, "
    "data=excluded.data, "
    "qualification_score=COALESCE(excluded.qualification_score, qualification_score), "
    "qualification_tier=COALESCE(excluded.qualification_tier, qualification_tier), "
    "qualification_reasoning=COALESCE(excluded.qualification_reasoning, "
    "qualification_reasoning), qualified_at=COALESCE(excluded.qualified_at, qualified_at), "
    "updated_at=excluded.updated_at"};
/* The usual write onto a stored lead: a new invocation of the same contact, whose
 * identity, search text and qualification are what the row holds. An UPSERT names every
 * column in its SET, and SQLite rewrites the entries of every index over a named column
 * (five of them) even when the value is the same: six pages to the WAL where one does.
 * This statement sets only the columns no index and no trigger reads, and only when the
 * others are equal to what UPSERT_LEAD would write (same binding numbers); when it
 * changes no row, UPSERT_LEAD runs. */
static const struct db_sql UPDATE_LEAD_SAME_KEYS = {
    "write lead",
    "UPDATE leads SET company_size=?4, employees_min=?5, employees_max=?6, "
    "annual_revenue=?7, website=?8, country=?9, contact_title=?11, contact_phone=?13, "
    "linkedin_url=?14, data=?15, "
    "qualification_reasoning=COALESCE(?18, qualification_reasoning), "
    "qualified_at=COALESCE(?19, qualified_at), updated_at=?20 "
    "WHERE id=?1 AND company_name IS ?2 AND industry IS ?3 AND contact_name IS ?10 "
    "AND contact_email IS ?12 AND qualification_score IS COALESCE(?16, qualification_score) "
    "AND qualification_tier IS COALESCE(?17, qualification_tier) "
    "AND company_id IS " COMPANY_OF_21};
static const struct db_sql INSERT_LEAD_NEW = {
    "write lead",
    "INSERT INTO leads (" LEAD_COLS ", company_id) VALUES "
    "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?20," COMPANY_OF_21
    ") "
    "ON CONFLICT (id) DO NOTHING"};
static const struct db_sql ADD_COMPANY = {
    "write company", "INSERT INTO companies (id, domain, name, created_at, updated_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (domain) DO NOTHING"};
static const struct db_sql GET_COMPANY = {
    "get company", "SELECT id, domain, name, created_at, updated_at, "
                   "(SELECT count(*) FROM leads l WHERE l.company_id = c.id) AS leads "
                   "FROM companies c WHERE domain = ?1"};
/* The identity rule's two queries, each with and without the lead's stored input. */
#define MATCH_LEAD_SQL(cols)                                                                   \
    "SELECT " cols " FROM leads WHERE company_name = ?1 COLLATE NOCASE "                      \
    "AND contact_email IS NULL AND company_id IS (SELECT id FROM companies "                  \
    "WHERE domain = ?2) AND ifnull(contact_name, '') = ifnull(?3, '') COLLATE "               \
    "NOCASE ORDER BY created_at, id LIMIT 1"
#define BY_EMAIL_SQL(cols)                                                                     \
    "SELECT " cols " FROM leads WHERE contact_email = ?1 COLLATE NOCASE ORDER BY created_at "  \
    "LIMIT 1"
static const struct db_sql MATCH_LEAD[2] = {{"match lead", MATCH_LEAD_SQL("id")},
                                            {"match lead", MATCH_LEAD_SQL("id, data")}};
static const struct db_sql BY_EMAIL[2] = {{"lead by e-mail", BY_EMAIL_SQL("id")},
                                          {"lead by e-mail", BY_EMAIL_SQL("id, data")}};
static const struct db_sql BY_MAILBOX = {
    "leads by mailbox", "SELECT id, contact_name, data FROM leads WHERE contact_email = ?1 COLLATE "
                        "NOCASE ORDER BY created_at, id LIMIT ?2 OFFSET ?3"};
static const struct db_sql GET_LEAD = {"get lead",
                                       "SELECT " LEAD_READ_COLS " FROM leads WHERE id = ?1"};
/* The list's statements by search mode (search.h) and order (enum sa_lead_sort). */
#define LIST_FROM "SELECT " LEAD_READ_COLS " FROM leads"
#define LIST_PAGE " LIMIT ?4 OFFSET ?5"
#define LIST_ORDERS(filter, what)                                                                  \
    {                                                                                              \
        {what, LIST_FROM filter " ORDER BY created_at DESC, id DESC" LIST_PAGE},                   \
            {what, LIST_FROM filter " ORDER BY created_at, id" LIST_PAGE},                         \
            {what, LIST_FROM filter " ORDER BY COALESCE(qualification_score, -1), id" LIST_PAGE},  \
            {what, LIST_FROM filter                                                                \
             " ORDER BY COALESCE(qualification_score, -1) DESC, id DESC" LIST_PAGE},               \
        {                                                                                          \
            what, LIST_FROM filter " ORDER BY company_name COLLATE NOCASE, id" LIST_PAGE           \
        }                                                                                          \
    }
static const struct db_sql LIST_LEADS[DB_SEARCH_MODES][SA_LEAD_SORTS] = {
    LIST_ORDERS(DB_LEAD_FILTER_NONE, "list leads"),
    LIST_ORDERS(DB_LEAD_FILTER_INDEX, "search leads"),
    LIST_ORDERS(DB_LEAD_FILTER_SCAN, "search leads"),
};
static const struct db_sql COUNT_LEADS[DB_SEARCH_MODES] = {
    {"count leads", "SELECT count(*) AS n FROM leads" DB_LEAD_FILTER_NONE},
    {"count leads", "SELECT count(*) AS n FROM leads" DB_LEAD_FILTER_INDEX},
    {"count leads", "SELECT count(*) AS n FROM leads" DB_LEAD_FILTER_SCAN},
};
static const struct db_sql BY_COMPANY = {"leads by company",
                                         "SELECT id, website, contact_email FROM leads WHERE "
                                         "company_name = ?1 COLLATE NOCASE ORDER BY created_at"};

/* ---- writes ------------------------------------------------------------------------- */

/* The 21 arguments of UPSERT_LEAD / INSERT_LEAD_NEW; unknowns bind NULL. */
static void lead_args(const struct sa_lead_row *l, const char *now, struct db_arg a[21])
{
    bool q = l->score >= 0; /* qualified by this write */
    const struct db_arg none = TXT(NULL);
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

/* One lead and (optionally) its execution. */
struct invocation {
    const struct sa_lead_row *lead;
    const struct sa_exec_row *exec; /* NULL: the lead alone */
    const struct db_arg *output;    /* exec's output made by db_json_arg, or NULL */
    bool only_new;                  /* insert if the id is new, else write nothing */
    bool inserted;                  /* out: the lead row was written */
};

static int write_invocation(struct db_conn *c, void *arg, const char *now, struct sa_err *err)
{
    struct invocation *w = arg;
    struct db_arg a[21];
    lead_args(w->lead, now, a);
    int rc = 0;
    if (a[20].text) {
        /* the company first, so the lead's subquery finds it (created or already there) */
        char cid[SA_UUID_LEN];
        sa_uuid_v7(cid);
        const struct db_arg ca[] = {TXT(cid), TXT(a[20].text), TXT(w->lead->company_name),
                                    TXT(now)};
        rc = db_exec_locked(c, &ADD_COMPANY, ca, DB_N(ca), NULL, err);
        if (rc)
            return rc;
    }
    int changed = 0;
    if (!w->only_new)
        rc = db_exec_locked(c, &UPDATE_LEAD_SAME_KEYS, a, 21, &changed, err);
    if (!rc && !changed)
        rc = db_exec_locked(c, w->only_new ? &INSERT_LEAD_NEW : &UPSERT_LEAD, a, 21, &changed, err);
    w->inserted = !rc && changed > 0;
    if (!rc && w->exec && (w->inserted || !w->only_new))
        rc = sa_sqlite_exec_insert(c, w->exec, w->lead->data, w->output, now, err);
    return rc;
}

/* w through the group commit, its execution's output compressed first (by this thread,
 * not by the leader while the batch waits). */
static int group_write_invocation(struct sa_store *s, struct invocation *w, struct sa_err *err)
{
    char *z = NULL;
    struct db_arg output;
    if (w->exec) {
        output = db_json_arg(w->exec->output, &z);
        w->output = &output;
    }
    int rc = db_group_write(s, write_invocation, w, err);
    free(z);
    return rc;
}

int sa_sqlite_save_invocation(struct sa_store *s, const struct sa_lead_row *l,
                              const struct sa_exec_row *e, struct sa_err *err)
{
    struct invocation w = {.lead = l, .exec = e};
    return group_write_invocation(s, &w, err);
}

int sa_sqlite_insert_lead_if_new(struct sa_store *s, const struct sa_lead_row *l,
                                 const struct sa_exec_row *e, bool *inserted, struct sa_err *err)
{
    struct invocation w = {.lead = l, .exec = e, .only_new = true};
    int rc = group_write_invocation(s, &w, err);
    *inserted = !rc && w.inserted;
    return rc;
}

struct many {
    const struct sa_lead_row *leads;
    const struct sa_exec_row *execs; /* NULL, or one per lead */
    int n;
};

static int write_many(struct db_conn *c, void *arg, const char *now, struct sa_err *err)
{
    struct many *m = arg;
    int rc = 0;
    for (int i = 0; i < m->n && !rc; i++) {
        struct invocation w = {.lead = &m->leads[i], .exec = m->execs ? &m->execs[i] : NULL};
        rc = write_invocation(c, &w, now, err);
    }
    return rc;
}

int sa_sqlite_save_many(struct sa_store *s, const struct sa_lead_row *leads,
                        const struct sa_exec_row *execs, int n, struct sa_err *err)
{
    struct many m = {.leads = leads, .execs = execs, .n = n};
    return db_transaction(s, write_many, &m, err);
}

/* ---- reads -------------------------------------------------------------------------- */

/* A row of LEAD_COLS in the API's shape: contact_info and qualification nested. */
static json_t *lead_from_row(sqlite3_stmt *st)
{
    json_t *contact = json_pack("{s:o, s:o, s:o, s:o, s:o}", "name", db_col_text(st, 9), "title",
                                db_col_text(st, 10), "email", db_col_text(st, 11), "phone",
                                db_col_text(st, 12), "linkedin_url", db_col_text(st, 13));
    json_t *qual = sqlite3_column_type(st, 15) == SQLITE_NULL
                       ? json_null()
                       : json_pack("{s:o, s:o, s:o, s:o}", "score", db_col_int(st, 15), "tier",
                                   db_col_text(st, 16), "reasoning", db_col_text(st, 17),
                                   "qualified_at", db_col_text(st, 18));
    json_t *company = sqlite3_column_type(st, 21) == SQLITE_NULL
                          ? json_null()
                          : json_pack("{s:o, s:o, s:o}", "id", db_col_text(st, 21), "domain",
                                      db_col_text(st, 22), "name", db_col_text(st, 23));
    json_t *rev = sqlite3_column_type(st, 6) == SQLITE_NULL
                      ? json_null()
                      : json_real(sqlite3_column_double(st, 6));
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                     "company", company, "id", db_col_text(st, 0), "company_name",
                     db_col_text(st, 1), "industry", db_col_text(st, 2), "company_size",
                     db_col_text(st, 3), "employees_min", db_col_int(st, 4), "employees_max",
                     db_col_int(st, 5), "annual_revenue", rev, "website", db_col_text(st, 7),
                     "country", db_col_text(st, 8), "contact_info", contact, "data",
                     db_col_json(st, 14), "qualification", qual, "created_at", db_col_text(st, 19),
                     "updated_at", db_col_text(st, 20));
}

int sa_sqlite_get_lead(struct sa_store *s, const char *id, json_t **out, struct sa_err *err)
{
    int rc = db_query_one(s, &GET_LEAD, &TXT(id), 1, lead_from_row, out, err);
    if (!rc && !*out)
        rc = sa_err_set(err, SA_ENOTFOUND, "lead %s not found", id);
    return rc;
}

int sa_sqlite_list_leads(struct sa_store *s, const struct sa_lead_query *q, json_t **out,
                         struct sa_err *err)
{
    *out = NULL;
    char *arg = NULL;
    enum db_search mode;
    int rc = db_search_arg(q->search, &arg, &mode, err);
    if (rc)
        return rc;
    int sort = q->sort >= 0 && q->sort < SA_LEAD_SORTS ? (int)q->sort : SA_LEAD_SORT_NEWEST;
    const struct db_arg a[] = {TXT(q->tier), NUM(q->min_score), TXT(arg), NUM(q->limit),
                               NUM(q->offset)};
    json_t *count = NULL, *items = NULL;
    rc = db_query_one(s, &COUNT_LEADS[mode], a, 3, NULL, &count, err);
    if (!rc)
        rc = db_query_rows(s, &LIST_LEADS[mode][sort], a, DB_N(a), lead_from_row, &items, err);
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

/* {id} or {id, data} of the identity queries, data decoded */
static json_t *identity_from_row(sqlite3_stmt *st)
{
    if (sqlite3_column_count(st) == 1)
        return json_pack("{s:o}", "id", db_col_text(st, 0));
    return json_pack("{s:o, s:o}", "id", db_col_text(st, 0), "data", db_col_json(st, 1));
}

/* Runs the identity query q[0] (id) or, when data is wanted, q[1] (id, data): the found
 * lead's id into id and its data into *data, or SA_ENOTFOUND. */
static int identify(struct sa_store *s, const struct db_sql q[2], const struct db_arg *a, int n,
                    char id[37], json_t **data, struct sa_err *err)
{
    id[0] = '\0';
    if (data)
        *data = NULL;
    json_t *row = NULL;
    int rc = db_query_one(s, &q[data != NULL], a, n, identity_from_row, &row, err);
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

int sa_sqlite_lead_by_email(struct sa_store *s, const char *email, char id[37], json_t **data,
                            struct sa_err *err)
{
    return identify(s, BY_EMAIL, &TXT(email), 1, id, data, err);
}

/* {id, contact_name, data} of BY_MAILBOX, data decoded */
static json_t *mailbox_row(sqlite3_stmt *st)
{
    return json_pack("{s:o, s:o, s:o}", "id", db_col_text(st, 0), "contact_name",
                     db_col_text(st, 1), "data", db_col_json(st, 2));
}

int sa_sqlite_leads_by_mailbox(struct sa_store *s, const char *email, int limit, int offset,
                               json_t **out, struct sa_err *err)
{
    const struct db_arg a[] = {TXT(email), NUM(limit), NUM(offset)};
    return db_query_rows(s, &BY_MAILBOX, a, DB_N(a), mailbox_row, out, err);
}

int sa_sqlite_leads_by_company(struct sa_store *s, const char *name, json_t **out,
                               struct sa_err *err)
{
    return db_query_rows(s, &BY_COMPANY, &TXT(name), 1, NULL, out, err);
}

int sa_sqlite_lead_match(struct sa_store *s, const char *name, const char *domain,
                         const char *contact_name, char id[37], json_t **data,
                         struct sa_err *err)
{
    const struct db_arg a[] = {TXT(name), TXT(domain && domain[0] ? domain : NULL),
                               TXT(contact_name)};
    return identify(s, MATCH_LEAD, a, DB_N(a), id, data, err);
}

int sa_sqlite_company_get(struct sa_store *s, const char *domain, json_t **out, struct sa_err *err)
{
    int rc = db_query_one(s, &GET_COMPANY, &TXT(domain), 1, NULL, out, err);
    if (!rc && !*out)
        rc = sa_err_set(err, SA_ENOTFOUND, "no company with domain %s", domain);
    return rc;
}

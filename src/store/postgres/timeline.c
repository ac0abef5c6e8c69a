/* A lead's timeline in PostgreSQL: its executions, approvals, e-mails (the outbox),
 * meetings and the audit records about it, as one list newest first. Part of the
 * PostgreSQL backend (pg.h). */
#include "store/postgres/pg.h"

#include <string.h>

static const struct pg_sql TIMELINE = {
    "read a lead's timeline",
    "SELECT * FROM ("
    " SELECT created_at AS at, 'execution' AS kind, id, thread_id, agent_type AS detail,"
    "  status FROM agent_executions WHERE lead_id = $1"
    " UNION ALL"
    " SELECT created_at, 'approval', id, thread_id, NULL, status FROM approvals"
    "  WHERE lead_id = $1"
    " UNION ALL"
    " SELECT created_at, 'outbox', id, thread_id, kind, status FROM outbox WHERE lead_id = $1"
    " UNION ALL"
    " SELECT created_at, 'meeting', id, thread_id, NULL, status FROM meetings WHERE lead_id = $1"
    " UNION ALL"
    " SELECT at, 'audit', CAST(id AS text), NULL, action, principal FROM audit_log"
    "  WHERE target = $1"
    " UNION ALL"
    " SELECT received_at, kind, id, thread_id, matched_by, status FROM inbound_messages"
    "  WHERE lead_id = $1"
    ") AS t ORDER BY at DESC, id DESC LIMIT $2::bigint"};

/* One row: {at, kind, id, thread_id, ...}: an execution's agent_type, an outbox item's
 * kind (email, followup) or an audit record's action and principal, named for what they
 * are. */
static json_t *timeline_row(const PGresult *res, int row)
{
    json_t *o = pg_row_object(res, row);
    if (!o)
        return NULL;
    const char *kind = json_string_value(json_object_get(o, "kind"));
    json_t *detail = json_incref(json_object_get(o, "detail"));
    json_t *status = json_incref(json_object_get(o, "status"));
    json_object_del(o, "detail");
    json_object_del(o, "status");
    if (kind && strcmp(kind, "execution") == 0) {
        json_object_set(o, "agent_type", detail);
        json_object_set(o, "status", status);
    } else if (kind && strcmp(kind, "outbox") == 0) {
        json_object_set(o, "outbox_kind", detail);
        json_object_set(o, "status", status);
    } else if (kind && strcmp(kind, "audit") == 0) {
        json_object_set(o, "action", detail);
        json_object_set(o, "principal", status);
    } else if (kind && (strcmp(kind, "reply_received") == 0 || strcmp(kind, "bounce") == 0 ||
                        strcmp(kind, "auto_reply") == 0)) { /* inbound mail */
        json_object_set(o, "matched_by", detail);
        json_object_set(o, "status", status);
    } else {
        json_object_set(o, "status", status);
    }
    json_decref(detail);
    json_decref(status);
    return o;
}

int sa_pg_lead_timeline(struct sa_store *s, const char *lead_id, int limit, json_t **out,
                        struct sa_err *err)
{
    const struct pg_arg a[] = {TXT(lead_id), NUM(limit)};
    return pg_query_rows(s, &TIMELINE, a, DB_N(a), timeline_row, out, err);
}

/* The one-draft rule (see drafts.h).
 *
 * A start is refused by what the store says (a pending approval, a run queued or running)
 * and by what this process is starting right now: between the check and the write that
 * makes a start visible in the store (the run's row; an invoke's approval, written when its
 * pipeline reaches the BDR step) a second start would see nothing. So the check and the
 * claim happen under one lock, and a claim stays in the list below until its start is in
 * the store or has failed. Claims are rare (an operator drafts outreach), so one lock for
 * the process costs nothing that matters; a lead's store check is one indexed query. */
#include "app/drafts.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "base/detail.h"
#include "store/store.h"

struct inflight {
    char lead_id[SA_UUID_LEN];
    char kind[16];
    char id[130];
    struct inflight *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct inflight *head;

static int refuse(const char *lead_id, const char *kind, const char *id, const char *thread_id,
                  struct sa_draft_blocker *b, struct sa_err *err)
{
    snprintf(b->kind, sizeof b->kind, "%s", kind);
    snprintf(b->id, sizeof b->id, "%s", id ? id : "");
    snprintf(b->thread_id, sizeof b->thread_id, "%s", thread_id ? thread_id : "");
    if (strcmp(kind, "approval") == 0)
        return sa_err_set(err, SA_ECONFLICT,
                          "Lead %s already has a draft waiting for approval (approval %s): "
                          "answer it in the inbox before drafting another",
                          lead_id, b->id);
    if (strcmp(kind, "run") == 0)
        return sa_err_set(err, SA_ECONFLICT,
                          "Lead %s already has a pipeline run under way (run %s): its draft "
                          "comes to the inbox when the run reaches the approval",
                          lead_id, b->id);
    return sa_err_set(err, SA_ECONFLICT,
                      "Lead %s already has a draft being written (thread %s): it comes to the "
                      "inbox when the pipeline reaches the approval",
                      lead_id, b->id);
}

int sa_app_draft_claim(struct sa_app *app, const char *lead_id, const char *kind, const char *id,
                       const char *thread_id, struct sa_draft_claim *c,
                       struct sa_draft_blocker *b, struct sa_err *err)
{
    memset(c, 0, sizeof *c);
    memset(b, 0, sizeof *b);
    struct inflight *mine = calloc(1, sizeof *mine);
    if (!mine)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    snprintf(mine->lead_id, sizeof mine->lead_id, "%s", lead_id);
    snprintf(mine->kind, sizeof mine->kind, "%s", kind);
    snprintf(mine->id, sizeof mine->id, "%s", id ? id : "");
    int rc = 0;
    pthread_mutex_lock(&lock);
    for (struct inflight *f = head; f && !rc; f = f->next)
        if (strcmp(f->lead_id, mine->lead_id) == 0)
            rc = refuse(lead_id, f->kind, f->id, strcmp(f->kind, "invoke") == 0 ? f->id : NULL, b,
                        err);
    json_t *found = NULL;
    if (!rc) {
        rc = sa_store_lead_draft_pending(app->store, lead_id, &found, err);
        const char *what = json_string_value(json_object_get(found, "kind"));
        const char *on = json_string_value(json_object_get(found, "thread_id"));
        if (rc == 0 && what && strcmp(what, "approval") == 0 && thread_id && on &&
            strcmp(on, thread_id) == 0)
            rc = SA_ENOTFOUND; /* the draft this start replaces on its own thread */
        if (rc == 0)
            rc = refuse(lead_id, what ? what : "run",
                        json_string_value(json_object_get(found, "id")),
                        json_string_value(json_object_get(found, "thread_id")), b, err);
        else if (rc == SA_ENOTFOUND)
            rc = 0;
    }
    if (!rc) {
        mine->next = head;
        head = mine;
        mine = NULL;
        snprintf(c->lead_id, sizeof c->lead_id, "%s", lead_id);
        c->held = true;
    }
    pthread_mutex_unlock(&lock);
    json_decref(found);
    free(mine);
    return rc;
}

void sa_app_draft_release(struct sa_draft_claim *c)
{
    if (!c->held)
        return;
    pthread_mutex_lock(&lock);
    for (struct inflight **p = &head; *p; p = &(*p)->next) {
        if (strcmp((*p)->lead_id, c->lead_id) == 0) {
            struct inflight *f = *p;
            *p = f->next;
            free(f);
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    c->held = false;
}

json_t *sa_draft_conflict_detail(const struct sa_draft_blocker *b, const char *lead_id,
                                 const char *loc, const char *msg)
{
    json_t *detail = json_array();
    sa_detail_add(detail, loc, "draft_pending", "%s", msg);
    json_t *ctx = json_pack("{s:s}", "lead_id", lead_id);
    const char *key = strcmp(b->kind, "approval") == 0 ? "approval_id"
                      : strcmp(b->kind, "run") == 0    ? "run_id"
                                                       : NULL;
    if (ctx && key && b->id[0])
        json_object_set_new(ctx, key, json_string(b->id));
    if (ctx && b->thread_id[0])
        json_object_set_new(ctx, "thread_id", json_string(b->thread_id));
    if (ctx)
        json_object_set_new(ctx, "kind", json_string(b->kind));
    json_t *e = json_array_get(detail, 0);
    if (e && ctx)
        json_object_set_new(e, "ctx", ctx);
    else
        json_decref(ctx);
    return detail;
}

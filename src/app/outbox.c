/* The outbox's delivery worker (see outbox.h). */
#include "app/outbox.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "app/app.h"
#include "app/invoke.h"
#include "base/log.h"
#include "connectors/mail/message.h"
#include "connectors/mail/transport.h"
#include "store/store.h"

#define MAX_ATTEMPTS 5

struct sa_outbox_worker {
    struct sa_app *app;
    struct sa_transport *transport;
    long poll_ms;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock; /* guards stop and kicked */
    pthread_cond_t cond;
    bool stop, kicked;
};

static void kick(void *arg)
{
    struct sa_outbox_worker *w = arg;
    pthread_mutex_lock(&w->lock);
    w->kicked = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* Sends one item; returns 1 when delivered, 0 when not (cancelled or retried later). */
static int send_item(struct sa_outbox_worker *w, const json_t *item, struct sa_err *err)
{
    struct sa_store *st = w->app->store;
    const char *id = json_string_value(json_object_get(item, "id"));
    const char *to = json_string_value(json_object_get(item, "to_email"));
    const json_t *p = json_object_get(item, "payload");
    if (!id || !to)
        return 0;
    /* consent is checked when the message leaves, not only when it was queued */
    json_t *c = NULL;
    struct sa_err e = {0};
    int rc = sa_store_contact_get(st, to, &c, &e);
    bool dnc = rc == 0 && json_is_true(json_object_get(c, "do_not_contact"));
    json_decref(c);
    if (rc && rc != SA_ENOTFOUND) {
        *err = e;
        return rc;
    }
    if (dnc)
        return sa_store_outbox_mark(st, id, "cancelled", NULL, "do_not_contact", 0, err) ? -1 : 0;
    if ((rc = sa_store_outbox_claim(st, id, err)))
        return rc == SA_ECONFLICT ? 0 : rc; /* another worker has it, or it is done */
    const json_t *from = json_object_get(p, "from");
    struct sa_mail m = {
        .from_name = json_string_value(json_object_get(from, "name")),
        .from_addr = json_string_value(json_object_get(from, "email")),
        .to_name = json_string_value(json_object_get(p, "to_name")),
        .to_addr = to,
        .subject = json_string_value(json_object_get(p, "subject")),
        .text = json_string_value(json_object_get(p, "body")),
        .ics = json_string_value(json_object_get(p, "ics")),
        .message_id_key = id,
        .date = sa_wall_time(),
    };
    char *msg = NULL;
    size_t len = 0;
    char delivered[SA_TRANSPORT_ID_MAX];
    bool already = false;
    rc = sa_mail_render(&m, &msg, &len, &e);
    bool permanent = rc == SA_EINVAL; /* a message that cannot be rendered never will be */
    if (!rc)
        rc = sa_transport_send_once(w->transport, id, to, msg, len, delivered, sizeof delivered,
                                    &already, &e);
    free(msg);
    if (rc == 0) {
        if (sa_store_outbox_mark(st, id, "sent", delivered, NULL, 0, err))
            return -1;
        sa_log(SA_LOG_INFO, "outbox sent",
               json_pack("{s:s, s:s, s:s, s:b}", "outbox_id", id, "to", to, "delivered_id",
                         delivered, "already_delivered", already));
        return 1;
    }
    long long attempts = json_integer_value(json_object_get(item, "attempts")) + 1;
    if (permanent || attempts >= MAX_ATTEMPTS) {
        sa_log(SA_LOG_ERROR, "outbox failed",
               json_pack("{s:s, s:s, s:I}", "outbox_id", id, "error", e.msg, "attempts",
                         (json_int_t)attempts));
        return sa_store_outbox_mark(st, id, "failed", NULL, e.msg, 0, err) ? -1 : 0;
    }
    long long retry = (long long)sa_wall_time() + 60LL * (1LL << (attempts - 1));
    sa_log(SA_LOG_WARN, "outbox retry",
           json_pack("{s:s, s:s, s:I}", "outbox_id", id, "error", e.msg, "retry_at",
                     (json_int_t)retry));
    return sa_store_outbox_mark(st, id, "queued", NULL, e.msg, retry, err) ? -1 : 0;
}

int sa_outbox_drain(struct sa_outbox_worker *w, int *sent, struct sa_err *err)
{
    *sent = 0;
    for (;;) {
        json_t *due = NULL;
        int rc = sa_store_outbox_due(w->app->store, (long long)sa_wall_time(), 20, &due, err);
        if (rc)
            return rc;
        size_t n = json_array_size(due), i;
        json_t *item;
        json_array_foreach(due, i, item)
        {
            int r = send_item(w, item, err);
            if (r < 0) {
                json_decref(due);
                return err->code ? err->code : SA_ESTORE;
            }
            *sent += r;
        }
        json_decref(due);
        if (n < 20)
            return 0;
    }
}

static void *worker(void *arg)
{
    struct sa_outbox_worker *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        if (!w->stop && !w->kicked) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += w->poll_ms / 1000;
            ts.tv_nsec += (w->poll_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&w->cond, &w->lock, &ts);
        }
        bool stop = w->stop;
        w->kicked = false;
        pthread_mutex_unlock(&w->lock);
        if (stop)
            return NULL;
        int sent = 0;
        struct sa_err err = {0};
        if (sa_outbox_drain(w, &sent, &err))
            sa_log(SA_LOG_ERROR, "outbox worker", json_pack("{s:s}", "error", err.msg));
    }
}

int sa_outbox_start(struct sa_app *app, const char *spec, long poll_ms,
                    struct sa_outbox_worker **out, struct sa_err *err)
{
    *out = NULL;
    struct sa_outbox_worker *w = calloc(1, sizeof *w);
    if (!w)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    w->app = app;
    w->poll_ms = poll_ms > 0 ? poll_ms : 1000;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    int rc = sa_transport_open(spec, &w->transport, err);
    if (!rc && pthread_create(&w->thread, NULL, worker, w) != 0)
        rc = sa_err_set(err, SA_ENOMEM, "cannot start the outbox worker");
    if (rc) {
        sa_outbox_stop(w);
        return rc;
    }
    w->started = true;
    app->outbox_kick_arg = w;
    app->outbox_kick = kick;
    *out = w;
    return 0;
}

void sa_outbox_stop(struct sa_outbox_worker *w)
{
    if (!w)
        return;
    if (w->started) {
        w->app->outbox_kick = NULL;
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
    }
    sa_transport_free(w->transport);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
}

int sa_app_outbox_list(struct sa_store *store, const char *status, const char *email, int limit,
                       json_t **out, struct sa_err *err)
{
    return sa_store_outbox_list(store, status, email, limit, out, err);
}

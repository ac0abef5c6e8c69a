/* Background pipeline runs (see runs.h).
 *
 * A run is a row in the store (its status, input and result: the store is shared by
 * every instance) and an entry in the run queue (store/queue.h). Worker threads take
 * entries, run the pipeline, publish its graph events as SSE text to the queue, record
 * the final status and acknowledge the entry. A stream client reads the run's events from
 * the queue from their start, so it may join late and on another instance than the one
 * running the run.
 *
 * A delivery that is not acknowledged is handed to another worker once the visibility
 * timeout passes (Redis), so the keeper thread touches every delivery this process holds
 * a few times per timeout; it also polls the queue's cancel flags of those runs and sets
 * the flag the graph checks between steps. A worker that learns its delivery was taken
 * over (its process stalled past the timeout) stops its run and leaves the result to the
 * new holder. A taken-over run continues its thread from the last checkpoint; what a
 * repeated step adds to the outbox carries the same idempotency keys, so nothing is sent
 * twice.
 *
 * A delivery is not what entitles a worker to execute a run: the store's lease is
 * (store.h run_claim). Two deliveries of one run exist more often than one would like: the
 * connection pool resends an XADD, the reconciler below queues a run again, a takeover
 * races a worker that was only slow. Each delivery first claims the run in the store, a
 * conditional update of which exactly one wins across every process; the others are
 * dropped (or, for a delivery taken over from a worker whose lease is still live, left
 * pending, so it comes back after the visibility timeout and finds the run finished or
 * its holder gone). The keeper renews the lease when it touches the delivery, and only
 * the holder records the final status (run_finish), so a worker that lost its lease
 * cannot overwrite the new holder's outcome.
 *
 * The reconciler (in the keeper, every visibility timeout) queues again the runs whose
 * queue entry may be gone: queued in the store for RECONCILE_GRACE visibility timeouts
 * (a Redis that restarted without its data), or running under a lease that ended (a
 * process that died with the memory queue). Queuing one twice costs a delivery that is
 * dropped at its claim. */
#include "app/runs.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"
#include "app/approvals.h"
#include "app/drafts.h"
#include "app/invoke.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/detail.h"
#include "base/json.h"
#include "base/log.h"
#include "base/uuid.h"
#include "domain/lead.h"
#include "store/queue.h"
#include "store/store.h"

#define RECONCILE_GRACE 10  /* visibility timeouts a queued run waits before it is re-queued */
#define RECONCILE_BATCH 100 /* runs re-queued per pass at most */
/* reconciler passes between two looks for decided approvals left uncontinued: each look
 * reads the recent approvals and the checkpoint of every decided one */
#define APPROVAL_RETRY_EVERY 4
#define TAKE_WAIT_MS 500   /* a worker looks at the stop flag at least this often */
#define CANCEL_POLL_MS 250 /* how soon a cancel request reaches the running run */
#define STREAM_CHUNK ((size_t)1 << 20)
#define STREAM_CHECK_MS 5000      /* a quiet stream asks the store whether its run finished */
#define STREAM_KEEPALIVE_CHECKS 3 /* quiet checks between keep-alives: ~15 s */
#define STREAM_WAIT_MS 100        /* the waiter's longest wait before it looks at its list */

/* A run this process is executing. */
struct run_job {
    struct sa_queue_delivery d;
    char lead_id[40], thread_id[SA_THREAD_ID_MAX + 1];
    json_t *input; /* the lead */
    bool resume;   /* started before (by a worker that stopped): continue its thread */
    volatile int cancel;
    bool lost;    /* another worker holds the delivery now: leave the result to it */
    bool unowned; /* another worker claimed the run (the store's lease) */
    char owner[SA_RUN_OWNER_MAX]; /* this execution's lease owner id (see host_ns) */
    struct run_job *next_active;
};

/* A finished run whose final status the store would not take. Kept until a retry writes
 * it (the workers retry every second), so GET /api/runs/{id} answers with the status the
 * run reached instead of the stored "running", also after the run left the table of
 * recent runs. Pushed at the head under the runs' lock; removed only by the one retrier. */
struct unrecorded {
    char id[40];
    char owner[SA_RUN_OWNER_MAX]; /* the lease it was executed under */
    char status[24];
    char *output, *error; /* owned; may be NULL */
    bool written;         /* set by the retrier, outside the lock, read by it under it */
    struct unrecorded *next;
};

struct sa_runs {
    struct sa_app *app;
    struct sa_queue *queue;
    struct unrecorded *unrecorded;
    bool retrying;        /* a worker is writing the unrecorded statuses */
    pthread_mutex_t lock; /* guards unrecorded, retrying, stop */
    pthread_cond_t cond;  /* signalled on stop */
    bool stop;
    pthread_mutex_t active_lock; /* guards active; held across the keeper's queue calls */
    struct run_job *active;      /* the runs this process executes */
    pthread_t *threads;
    int nthreads;
    pthread_t keeper;
    bool keeper_started;
    int touch_ms;
    int lease_ms;        /* a run's store lease: the visibility timeout */
    int reconcile_ms;    /* how often the keeper looks for stale runs */
    pthread_t continuer; /* continue_decided's thread, off the keeper's (see keeper) */
    bool continuer_started;
    bool continuing;   /* atomic: the continuer has not finished its pass */
    char host_ns[128]; /* "HOST/BOOT/PIDNS/": this process's place (see host_ns); "" unknown */
    struct stream_waiter *waiter; /* the stream clients', made at the first park (lock) */
};

struct sa_run_stream {
    struct sa_runs *r;
    char id[40];
    char pos[SA_QUEUE_POS_LEN];
    struct sa_buf pending; /* read from the queue, not yet handed out */
    size_t off;            /* of pending handed out */
    bool ended;
    int quiet_checks;        /* store checks since the last event or keep-alive */
    struct stream_waiter *w; /* set at its first park */
    /* parked with the waiter: guarded by its lock */
    void (*wake)(void *arg);
    void *wake_arg;
    bool parked;  /* in the waiter's list */
    bool waking;  /* taken off it, its wake being called: free waits for it */
    bool quiet;   /* woken at its deadline, not by news */
    uint64_t seq; /* its park's number: the list is in this order */
    uint64_t due_ns;
    struct sa_run_stream *prev, *next;
};

/* The one thread that waits for every parked stream client of this process (see
 * "Streams" below). */
struct stream_waiter {
    struct sa_runs *r;
    pthread_mutex_t lock;
    pthread_cond_t parked; /* a stream parked, or stop */
    pthread_cond_t woken;  /* a batch of wakes was made: free may go on */
    struct sa_run_stream *head, *tail;
    int n;
    uint64_t seq;
    bool stop;
    pthread_t thread;
    /* the thread's own: a snapshot of the list, and the batch it wakes */
    int cap;
    uint64_t *seqs;
    char (*ids)[40];
    char (*poss)[SA_QUEUE_POS_LEN];
    const char **id_ptrs, **pos_ptrs;
    bool *ready;
    struct sa_run_stream **batch;
};

static void waiter_stop(struct sa_runs *r);

/* Waits up to ms for stop; returns whether stop is set. */
static bool stop_wait(struct sa_runs *r, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->lock);
    if (!r->stop)
        pthread_cond_timedwait(&r->cond, &r->lock, &until);
    bool stop = r->stop;
    pthread_mutex_unlock(&r->lock);
    return stop;
}

static bool stopping(struct sa_runs *r)
{
    pthread_mutex_lock(&r->lock);
    bool stop = r->stop;
    pthread_mutex_unlock(&r->lock);
    return stop;
}

struct publisher {
    struct sa_queue *queue;
    const char *run_id;
    int failures; /* logged once */
};

static void publish(struct publisher *p, const char *event, const json_t *data)
{
    char *text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
    struct sa_buf b;
    sa_buf_init(&b, (size_t)16 << 20);
    struct sa_err err = {0};
    int rc = sa_buf_printf(&b, "event: %s\ndata: %s\n\n", event, text ? text : "null");
    if (rc)
        sa_err_set(&err, rc, "event too large");
    else
        rc = sa_queue_publish(p->queue, p->run_id, b.data, b.len, &err);
    if (rc && p->failures++ == 0)
        sa_log(SA_LOG_WARN, "run event not published",
               json_pack("{s:s, s:s, s:s}", "run_id", p->run_id, "event", event, "error", err.msg));
    sa_buf_free(&b);
    free(text);
}

static void on_event(enum graph_stream_mode mode, const json_t *data, void *arg)
{
    const char *name = mode == GRAPH_STREAM_UPDATES    ? "updates"
                       : mode == GRAPH_STREAM_CUSTOM   ? "custom"
                       : mode == GRAPH_STREAM_MESSAGES ? "messages"
                                                       : "values";
    json_t *d = json_deep_copy(data);
    if (mode == GRAPH_STREAM_VALUES)
        json_object_del(d, "lead_data");
    publish(arg, name, d);
    json_decref(d);
}

/* The leases' time: the real wall clock in unix milliseconds, never the business clock
 * (CLOCK_FILE): a lease measures real waiting, and another process compares it with its
 * own real clock (base/clock.h keeps waits on the real clock for the same reason). */
static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes a finished run's status as its lease holder (owner), retrying a failed write
 * (20 ms, 100 ms, 500 ms): a run whose status stays "running" in the store looks alive
 * forever. Returns 0; SA_ECONFLICT when the run is no longer the owner's (another worker
 * took it over: its outcome stands); or the error of the last attempt after logging it
 * (the caller keeps the status for later). */
static int record_status(struct sa_store *store, const char *id, const char *owner,
                         const char *status, const char *output, const char *error)
{
    static const long backoff_ms[] = {20, 100, 500};
    struct sa_err err = {0};
    int rc = 0;
    for (size_t attempt = 0;; attempt++) {
        if (!(rc = sa_store_run_finish(store, id, owner, status, output, error, &err)) ||
            rc == SA_ECONFLICT || attempt == sizeof backoff_ms / sizeof backoff_ms[0])
            break;
        struct timespec ts = {0, backoff_ms[attempt] * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (rc == SA_ECONFLICT)
        sa_log(SA_LOG_WARN, "run taken over by another worker; its outcome stands, not this one",
               json_pack("{s:s, s:s}", "run_id", id, "status", status));
    else if (rc)
        sa_log(SA_LOG_ERROR, "run status not recorded",
               json_pack("{s:s, s:s, s:s}", "run_id", id, "status", status, "error", err.msg));
    return rc;
}

static const char *client_error(int rc, const struct sa_err *err, const char *run_id, char *buf,
                                size_t cap)
{
    switch (rc) {
    case SA_ESTORE:
    case SA_EIO:
    case SA_ETIMEDOUT:
    case SA_ENOMEM:
    case SA_EINTERNAL:
        sa_log(SA_LOG_ERROR, "run failed",
               json_pack("{s:s, s:s, s:s}", "run_id", run_id, "error_code", sa_errname(rc), "error",
                         err->msg));
        snprintf(buf, cap, "%s (the server log has the details under run_id %s)", sa_strerror(rc),
                 run_id);
        return buf;
    default: return err->msg; /* the graph's and the agents' own words: no backend text */
    }
}

/* Keeps a status the store would not take (see struct unrecorded). Caller holds r->lock. */
static void keep_unrecorded(struct sa_runs *r, const char *id, const char *owner,
                            const char *status, const char *output, const char *error)
{
    struct unrecorded *u = calloc(1, sizeof *u);
    if (!u)
        return; /* the run stays "running" in the store and is resumed after its lease */
    snprintf(u->id, sizeof u->id, "%s", id);
    snprintf(u->owner, sizeof u->owner, "%s", owner);
    snprintf(u->status, sizeof u->status, "%s", status);
    u->output = output ? strdup(output) : NULL;
    u->error = error ? strdup(error) : NULL;
    u->next = r->unrecorded;
    r->unrecorded = u;
}

static void unrecorded_free(struct unrecorded *u)
{
    free(u->output);
    free(u->error);
    free(u);
}

/* Tries to write the kept statuses once more; drops the ones written. One worker at a
 * time; the writes run outside the lock (entries are never freed by anyone else, and
 * new ones go in at the head, so the chain from the snapshot stays valid). */
static void retry_unrecorded(struct sa_runs *r)
{
    pthread_mutex_lock(&r->lock);
    struct unrecorded *list = r->retrying ? NULL : r->unrecorded;
    r->retrying = list != NULL;
    pthread_mutex_unlock(&r->lock);
    if (!list)
        return;
    for (struct unrecorded *u = list; u; u = u->next) {
        struct sa_err err = {0};
        int rc = sa_store_run_finish(r->app->store, u->id, u->owner, u->status, u->output, u->error,
                                     &err);
        /* SA_ECONFLICT: the lease ended meanwhile and another worker took the run over;
         * its outcome is the one to keep, so this one is dropped too */
        u->written = rc == 0 || rc == SA_ECONFLICT;
    }
    pthread_mutex_lock(&r->lock);
    for (struct unrecorded **pp = &r->unrecorded; *pp;) {
        struct unrecorded *u = *pp;
        if (u->written) {
            sa_log(SA_LOG_INFO, "run status recorded late",
                   json_pack("{s:s, s:s}", "run_id", u->id, "status", u->status));
            *pp = u->next;
            unrecorded_free(u);
        } else {
            pp = &u->next;
        }
    }
    r->retrying = false;
    pthread_mutex_unlock(&r->lock);
}

/* Runs j's pipeline, publishes its events and result, records its status. Returns false
 * when the store would not take the status (kept for the retrier, see unrecorded). */
static bool execute(struct sa_runs *r, struct run_job *j)
{
    struct sa_app *app = r->app;
    struct sa_err err = {0};
    struct publisher pub = {r->queue, j->d.run_id, 0};
    json_t *meta = json_pack("{s:s, s:s, s:s}", "run_id", j->d.run_id, "thread_id", j->thread_id,
                             "lead_id", j->lead_id);
    if (j->resume)
        json_object_set_new(meta, "resumed", json_true());
    publish(&pub, "metadata", meta);
    json_decref(meta);
    json_t *detail = json_array();
    struct sa_lead lead;
    int rc = sa_lead_parse(j->input, "input", &lead, detail);
    json_decref(detail);
    struct sa_invoke_res res = {0};
    if (!rc) {
        struct sa_invoke_req req = {.type = SA_AGENT_PIPELINE,
                                    .lead = &lead,
                                    .lead_id = j->lead_id,
                                    .thread_id = j->thread_id,
                                    .stream_modes = GRAPH_STREAM_UPDATES | GRAPH_STREAM_CUSTOM |
                                                    GRAPH_STREAM_MESSAGES,
                                    .on_event = on_event,
                                    .event_arg = &pub,
                                    .cancel = &j->cancel,
                                    .continue_thread = j->resume,
                                    .run_id = j->d.run_id};
        rc = sa_app_invoke(app, &req, &res, &err);
        sa_lead_clear(&lead);
    } else {
        sa_err_set(&err, rc, "the stored input is not a valid lead");
    }
    if (__atomic_load_n(&j->lost, __ATOMIC_ACQUIRE) ||
        __atomic_load_n(&j->unowned, __ATOMIC_ACQUIRE)) {
        sa_log(SA_LOG_WARN, "run taken over by another worker; its result is left to it",
               json_pack("{s:s}", "run_id", j->d.run_id));
        /* the delivery went to another worker but the lease may still be ours: end it now
         * (a lease_until in the past), so that worker's claim need not wait for it */
        struct sa_err e2 = {0};
        int lrc = __atomic_load_n(&j->unowned, __ATOMIC_ACQUIRE)
                      ? 0
                      : sa_store_run_renew(app->store, j->d.run_id, j->owner, 0, &e2);
        if (lrc && lrc != SA_ECONFLICT)
            sa_log(SA_LOG_WARN, "run lease not released",
                   json_pack("{s:s, s:s}", "run_id", j->d.run_id, "error", e2.msg));
        sa_invoke_res_clear(&res);
        return true;
    }
    /* a pipeline that stopped at the BDR approval waits for a human (GET /api/approvals) */
    bool waiting = rc == 0 && strcmp(json_string_value(json_object_get(res.output, "status")) ?: "",
                                     "interrupted") == 0;
    const char *status = rc == 0              ? (waiting ? "awaiting_approval" : "done")
                         : rc == SA_ECANCELED ? "cancelled"
                                              : "failed";
    char *out = rc == 0 ? json_dumps(res.output, JSON_COMPACT) : NULL;
    /* The error as clients read it (the run's record and its stream): a storage or
     * internal failure is named by its kind, its detail (SQL, file names) goes to the log. */
    char safe[160];
    const char *error = rc ? client_error(rc, &err, j->d.run_id, safe, sizeof safe) : NULL;
    /* recorded before the stream ends: a client reading "end" sees the run finished */
    int rrc = record_status(app->store, j->d.run_id, j->owner, status, out, error);
    if (rrc == SA_ECONFLICT) { /* taken over after our last renewal: the stream is theirs */
        free(out);
        sa_invoke_res_clear(&res);
        return true;
    }
    bool recorded = rrc == 0;
    if (!recorded) {
        pthread_mutex_lock(&r->lock);
        keep_unrecorded(r, j->d.run_id, j->owner, status, out, error);
        pthread_mutex_unlock(&r->lock);
    }
    json_t *result = json_pack("{s:s, s:s, s:O?, s:s?}", "run_id", j->d.run_id, "status", status,
                               "output", res.output, "error", error);
    publish(&pub, "result", result);
    publish(&pub, "end", json_null());
    json_decref(result);
    if (sa_queue_end(r->queue, j->d.run_id, &err))
        sa_log(SA_LOG_WARN, "run stream not ended",
               json_pack("{s:s, s:s}", "run_id", j->d.run_id, "error", err.msg));
    free(out);
    sa_invoke_res_clear(&res);
    return recorded;
}

static bool finished_status(const char *status)
{
    return status && (strcmp(status, "done") == 0 || strcmp(status, "failed") == 0 ||
                      strcmp(status, "cancelled") == 0 || strcmp(status, "awaiting_approval") == 0);
}

static void active_add(struct sa_runs *r, struct run_job *j)
{
    pthread_mutex_lock(&r->active_lock);
    j->next_active = r->active;
    r->active = j;
    pthread_mutex_unlock(&r->active_lock);
}

static void active_remove(struct sa_runs *r, struct run_job *j)
{
    pthread_mutex_lock(&r->active_lock);
    for (struct run_job **pp = &r->active; *pp; pp = &(*pp)->next_active)
        if (*pp == j) {
            *pp = j->next_active;
            break;
        }
    pthread_mutex_unlock(&r->active_lock);
}

/* Lease owner ids say where their execution runs: "HOST/BOOT/PIDNS/PID/UUID" (the host
 * name, the kernel's boot id, the inode of the process's PID namespace, its pid, and a
 * UUID per execution). That lets a process restarted on the same machine take over at once
 * the runs of the one that crashed there, instead of waiting out a lease nobody renews: a
 * holder of this boot of this machine, in this PID namespace, whose pid no longer exists is
 * dead for sure. The boot id (random per machine and boot) tells apart machines cloned
 * from one image with the same host name, whose processes outside containers all share
 * the initial PID namespace's inode; the inode tells containers of one machine apart.
 * Without a boot id nothing is "here" and every holder counts as alive. Anything else, a
 * pid reused by another process included, counts as alive, and only its lease's end frees
 * the run. */
static void host_ns(char *out, size_t cap)
{
    char host[65] = "", boot[64] = "";
    struct stat st;
    out[0] = '\0';
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    bool have_boot = f && fgets(boot, sizeof boot, f);
    if (f)
        fclose(f);
    boot[strcspn(boot, "\n/")] = '\0';
    if (have_boot && strlen(boot) >= 32 && gethostname(host, sizeof host - 1) == 0 && host[0] &&
        !strchr(host, '/') && stat("/proc/self/ns/pid", &st) == 0)
        snprintf(out, cap, "%s/%s/%lu/", host, boot, (unsigned long)st.st_ino);
}

/* Whether holder (a lease owner id) is an execution of a process of this host and PID
 * namespace that no longer exists (see host_ns). */
static bool holder_dead(const struct sa_runs *r, const char *holder)
{
    size_t n = strlen(r->host_ns);
    if (!n || strncmp(holder, r->host_ns, n) != 0)
        return false;
    char *end = NULL;
    long pid = strtol(holder + n, &end, 10);
    return end != holder + n && *end == '/' && pid > 0 && pid != (long)getpid() &&
           kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

/* Claims the delivery's run in the store for a new execution of j (its owner id and
 * lease), over the lease of a holder that died on this host (see host_ns). Returns 0
 * (j->resume set when the run was taken over), SA_ECONFLICT when another execution holds
 * it or it finished, SA_ENOTFOUND, or a store error. */
static int claim(struct sa_runs *r, struct run_job *j, struct sa_err *err)
{
    char uuid[SA_UUID_LEN];
    sa_uuid_v7(uuid);
    snprintf(j->owner, sizeof j->owner, "%s%ld/%s", r->host_ns, (long)getpid(), uuid);
    long long now = wall_ms();
    bool took_over = false;
    char holder[SA_RUN_OWNER_MAX];
    int rc = sa_store_run_claim(r->app->store, j->d.run_id, j->owner, NULL, now, now + r->lease_ms,
                                &took_over, holder, err);
    if (rc == SA_ECONFLICT && holder_dead(r, holder)) {
        sa_log(SA_LOG_INFO, "run held by a process that died on this host; taken over",
               json_pack("{s:s, s:s}", "run_id", j->d.run_id, "holder", holder));
        rc = sa_store_run_claim(r->app->store, j->d.run_id, j->owner, holder, now,
                                now + r->lease_ms, &took_over, NULL, err);
    }
    j->resume = took_over;
    return rc;
}

/* Runs the run of one delivery and acknowledges it. A run the store no longer knows, or
 * that is already finished (its worker died between recording and acknowledging), is
 * only acknowledged; so is a delivery whose run another execution holds (a duplicate
 * entry), except one taken over from a stalled worker whose lease is still live: that
 * one is left pending and comes back after the visibility timeout. When the store cannot
 * be read the delivery is left unacknowledged: Redis hands it out again after the
 * visibility timeout; memory queues it again. */
static void handle(struct sa_runs *r, const struct sa_queue_delivery *d)
{
    struct sa_err err = {0};
    json_t *run = NULL;
    int rc = sa_store_run_get(r->app->store, d->run_id, &run, &err);
    bool ack = true;
    struct run_job *j = NULL;
    if (!rc && !finished_status(sa_json_str(run, "status"))) {
        if (!(j = calloc(1, sizeof *j))) {
            json_decref(run);
            return; /* unacknowledged: handed out again */
        }
        j->d = *d;
        rc = claim(r, j, &err);
    }
    if (rc == SA_ENOTFOUND) {
        sa_log(SA_LOG_WARN, "queued run not in the store; dropped",
               json_pack("{s:s}", "run_id", d->run_id));
    } else if (rc == SA_ECONFLICT) {
        /* a second delivery of a run some worker executes (or just finished) */
        ack = !(sa_queue_durable(r->queue) && d->reclaimed);
        sa_log(
            SA_LOG_INFO, "run held by another worker; this delivery is not executed",
            json_pack("{s:s, s:s, s:b}", "run_id", d->run_id, "detail", err.msg, "retried", !ack));
    } else if (rc) {
        sa_log(SA_LOG_ERROR, "queued run not readable; left for a retry",
               json_pack("{s:s, s:s}", "run_id", d->run_id, "error", err.msg));
        ack = false;
        if (!sa_queue_durable(r->queue) && sa_queue_submit(r->queue, d->run_id, &err))
            sa_log(SA_LOG_ERROR, "run not queued again",
                   json_pack("{s:s, s:s}", "run_id", d->run_id, "error", err.msg));
        stop_wait(r, 1000);
    } else if (j) {
        snprintf(j->lead_id, sizeof j->lead_id, "%s", sa_json_str(run, "lead_id") ?: "");
        snprintf(j->thread_id, sizeof j->thread_id, "%s", sa_json_str(run, "thread_id") ?: "");
        j->input = json_incref(json_object_get(run, "input"));
        if (j->resume)
            sa_log(SA_LOG_INFO, "resuming a run from its checkpoint",
                   json_pack("{s:s, s:b}", "run_id", d->run_id, "taken_over", d->reclaimed));
        bool cancelled = false;
        if (sa_queue_cancelled(r->queue, d->run_id, &cancelled, &err) == 0 && cancelled)
            j->cancel = 1; /* asked before it started: the graph stops before its first step */
        active_add(r, j);
        bool recorded = execute(r, j);
        active_remove(r, j);
        /* A status the store would not take is retried here, but should this process die
         * first, the unacknowledged delivery brings the run back to a worker, which
         * continues it from its final checkpoint and records it. */
        ack = !j->lost && (recorded || !sa_queue_durable(r->queue));
        json_decref(j->input);
    }
    free(j);
    json_decref(run);
    if (ack && sa_queue_ack(r->queue, d, &err))
        sa_log(SA_LOG_WARN, "run not acknowledged (it may run again; its side effects do not)",
               json_pack("{s:s, s:s}", "run_id", d->run_id, "error", err.msg));
}

static void *worker(void *arg)
{
    struct sa_runs *r = arg;
    int failures = 0;
    while (!stopping(r)) {
        struct sa_queue_delivery d;
        struct sa_err err = {0};
        int rc = sa_queue_take(r->queue, TAKE_WAIT_MS, &d, &err);
        if (rc == 0) {
            failures = 0;
            handle(r, &d);
        } else if (rc == SA_ETIMEDOUT) {
            failures = 0;
        } else {
            if (failures++ == 0) /* once per outage, not every half second */
                sa_log(SA_LOG_ERROR, "run queue unavailable; retrying",
                       json_pack("{s:s}", "error", err.msg));
            stop_wait(r, 1000);
        }
        pthread_mutex_lock(&r->lock);
        bool retry = r->unrecorded != NULL;
        pthread_mutex_unlock(&r->lock);
        if (retry)
            retry_unrecorded(r);
    }
    return NULL;
}

/* Renews j's store lease; a run another worker claimed meanwhile (this process stalled
 * past the lease) is stopped and left to it. Caller holds r->active_lock. */
static void renew(struct sa_runs *r, struct run_job *j)
{
    struct sa_err err = {0};
    int rc =
        sa_store_run_renew(r->app->store, j->d.run_id, j->owner, wall_ms() + r->lease_ms, &err);
    if (rc == SA_ECONFLICT) {
        __atomic_store_n(&j->unowned, true, __ATOMIC_RELEASE);
        __atomic_store_n(&j->cancel, 1, __ATOMIC_RELEASE);
    } else if (rc) { /* a store outage: the next renewal may get through before the end */
        sa_log(SA_LOG_WARN, "run lease not renewed",
               json_pack("{s:s, s:s}", "run_id", j->d.run_id, "error", err.msg));
    }
}

/* Queues again the runs whose queue entry may be gone (see the top of the file). The
 * store stamps each run it returns, so several processes doing this at once queue a run
 * once per grace between them. */
static void reconcile(struct sa_runs *r, int *failures)
{
    json_t *stale = NULL;
    struct sa_err err = {0};
    long long grace = (long long)r->lease_ms * RECONCILE_GRACE;
    int rc = sa_store_runs_stale(r->app->store, wall_ms(), grace, RECONCILE_BATCH, &stale, &err);
    size_t i, queued = 0;
    json_t *id;
    json_array_foreach(rc ? NULL : stale, i, id)
    {
        if ((rc = sa_queue_submit(r->queue, json_string_value(id), &err)))
            break; /* the rest come back after the grace */
        queued++;
    }
    if (queued)
        sa_log(SA_LOG_WARN,
               "stale runs queued again (their queue entry was lost or their "
               "worker stopped)",
               json_pack("{s:I}", "runs", (json_int_t)queued));
    if (rc && (*failures)++ == 0)
        sa_log(SA_LOG_ERROR, "stale runs not queued again; retrying",
               json_pack("{s:s}", "error", err.msg));
    if (!rc)
        *failures = 0;
    json_decref(stale);
}

/* Continues the decided approvals whose thread nobody continued: the request that answered
 * one died mid-way (its resumption claim then ends after its lease, app/approvals.c), and
 * no start-up came after that. Every process with run workers looks, so one crash is
 * repaired within a lease plus APPROVAL_RETRY_EVERY reconciler passes. */
static bool stop_asked(void *arg)
{
    return stopping(arg);
}

static void continue_decided(struct sa_runs *r)
{
    int resumed = 0;
    struct sa_err err = {0};
    if (sa_app_resume_decided(r->app, stop_asked, r, &resumed, &err))
        sa_log(SA_LOG_WARN, "decided approvals not continued; retrying later",
               json_pack("{s:s}", "error", err.msg));
    else if (resumed)
        sa_log(SA_LOG_WARN, "decided approvals continued (the request that answered them stopped)",
               json_pack("{s:i}", "runs", resumed));
}

static void *continuer_main(void *arg)
{
    struct sa_runs *r = arg;
    continue_decided(r);
    __atomic_store_n(&r->continuing, false, __ATOMIC_RELEASE);
    return NULL;
}

/* Starts a pass of continue_decided on a thread of its own unless the last one is still
 * going: a continuation runs the steps after an approval (model calls, in time), and the
 * keeper must meanwhile go on renewing the leases of the runs this process executes. */
static void start_continuer(struct sa_runs *r)
{
    if (__atomic_load_n(&r->continuing, __ATOMIC_ACQUIRE))
        return;
    if (r->continuer_started)
        pthread_join(r->continuer, NULL);
    r->continuer_started = false;
    __atomic_store_n(&r->continuing, true, __ATOMIC_RELEASE);
    if (pthread_create(&r->continuer, NULL, continuer_main, r) == 0)
        r->continuer_started = true;
    else
        __atomic_store_n(&r->continuing, false, __ATOMIC_RELEASE);
}

/* Keeps this process's deliveries and their store leases alive, carries cancel requests
 * to them, and runs the reconciler (see the top of the file). */
static void *keeper(void *arg)
{
    struct sa_runs *r = arg;
    int since_touch = 0, since_reconcile = 0, reconcile_failures = 0;
    unsigned reconciles = 0;
    while (!stop_wait(r, CANCEL_POLL_MS)) {
        since_touch += CANCEL_POLL_MS;
        since_reconcile += CANCEL_POLL_MS;
        /* this process's own leases are renewed before it looks for ended ones */
        bool touch = since_touch >= r->touch_ms || since_reconcile >= r->reconcile_ms;
        if (touch)
            since_touch = 0;
        pthread_mutex_lock(&r->active_lock);
        for (struct run_job *j = r->active; j; j = j->next_active) {
            struct sa_err err = {0};
            bool yes = false;
            if (sa_queue_cancelled(r->queue, j->d.run_id, &yes, &err) == 0 && yes)
                __atomic_store_n(&j->cancel, 1, __ATOMIC_RELEASE);
            if (touch && sa_queue_touch(r->queue, &j->d, &err) == SA_ECONFLICT) {
                __atomic_store_n(&j->lost, true, __ATOMIC_RELEASE);
                __atomic_store_n(&j->cancel, 1, __ATOMIC_RELEASE);
            }
            if (touch && !__atomic_load_n(&j->lost, __ATOMIC_ACQUIRE))
                renew(r, j);
        }
        pthread_mutex_unlock(&r->active_lock);
        if (since_reconcile >= r->reconcile_ms) {
            since_reconcile = 0;
            reconcile(r, &reconcile_failures);
            if (++reconciles % APPROVAL_RETRY_EVERY == 0)
                start_continuer(r);
        }
    }
    return NULL;
}

/* With the memory queue: queues the store's unfinished runs again (a previous process
 * stopped before running them). On a store shared with other processes some of them run
 * there now: their claim fails here and the delivery is dropped (handle). */
static int requeue_unfinished(struct sa_runs *r, struct sa_err *err)
{
    json_t *open = NULL;
    int rc = sa_store_runs_unfinished(r->app->store, &open, err);
    size_t i;
    json_t *o;
    json_array_foreach(rc ? NULL : open, i, o)
    {
        if ((rc = sa_queue_submit(r->queue, sa_json_str(o, "id"), err)))
            break;
    }
    if (!rc && json_array_size(open))
        sa_log(SA_LOG_INFO, "resuming unfinished runs",
               json_pack("{s:I}", "runs", (json_int_t)json_array_size(open)));
    json_decref(open);
    return rc;
}

int sa_runs_start(struct sa_app *app, int workers, struct sa_runs **out, struct sa_err *err)
{
    *out = NULL;
    struct sa_runs *r = calloc(1, sizeof *r);
    if (!r)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    r->app = app;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    pthread_mutex_init(&r->active_lock, NULL);
    int visibility = app->cfg.run_visibility_ms > 0 ? app->cfg.run_visibility_ms : 30000;
    r->touch_ms = visibility / 3 > CANCEL_POLL_MS ? visibility / 3 : CANCEL_POLL_MS;
    r->lease_ms = visibility;
    r->reconcile_ms = visibility;
    host_ns(r->host_ns, sizeof r->host_ns);
    struct sa_queue_opts opts = {.visibility_ms = visibility,
                                 .timeout_ms = app->cfg.redis_timeout_ms};
    int rc = sa_queue_open(app->cfg.redis_url, &opts, &r->queue, err);
    if (!rc && !sa_queue_durable(r->queue))
        rc = requeue_unfinished(r, err);
    if (!rc && workers > 0 && !(r->threads = calloc((size_t)workers, sizeof *r->threads)))
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    for (int k = 0; !rc && r->threads && k < workers; k++) {
        if (pthread_create(&r->threads[k], NULL, worker, r) != 0)
            rc = sa_err_set(err, SA_ENOMEM, "cannot start a run worker");
        else
            r->nthreads++;
    }
    if (!rc && workers > 0) {
        if (pthread_create(&r->keeper, NULL, keeper, r) != 0)
            rc = sa_err_set(err, SA_ENOMEM, "cannot start the run keeper");
        else
            r->keeper_started = true;
    }
    if (rc) {
        sa_runs_stop(r);
        return rc;
    }
    sa_log(SA_LOG_INFO, "run queue",
           json_pack("{s:s, s:i}", "queue", sa_queue_name(r->queue), "workers", workers));
    *out = r;
    return 0;
}

void sa_runs_stop(struct sa_runs *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    for (int k = 0; k < r->nthreads; k++)
        pthread_join(r->threads[k], NULL);
    if (r->keeper_started)
        pthread_join(r->keeper, NULL);
    if (r->continuer_started) /* the keeper started it; a continuation finishes first */
        pthread_join(r->continuer, NULL);
    free(r->threads);
    retry_unrecorded(r); /* a last try; what is left is resumed from its checkpoint */
    while (r->unrecorded) {
        struct unrecorded *u = r->unrecorded;
        r->unrecorded = u->next;
        sa_log(SA_LOG_WARN, "run status not recorded at exit",
               json_pack("{s:s, s:s}", "run_id", u->id, "status", u->status));
        unrecorded_free(u);
    }
    waiter_stop(r);
    sa_queue_free(r->queue);
    pthread_mutex_destroy(&r->active_lock);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r);
}

const char *sa_runs_queue_name(const struct sa_runs *r)
{
    return sa_queue_name(r->queue);
}

int sa_runs_submit(struct sa_runs *r, const struct sa_lead *lead, const char *lead_id,
                   const char *thread_id, char run_id[40], char lead_out[40], char thread_out[129],
                   struct sa_draft_blocker *one_draft, struct sa_err *err)
{
    sa_uuid_v7(run_id);
    if (lead_id) {
        snprintf(lead_out, 40, "%s", lead_id);
    } else {
        /* the identity rule (docs/leads.md): a run for a stored person updates that lead */
        char found[SA_UUID_LEN];
        int irc = sa_app_lead_identify(r->app, lead, found, NULL, err);
        if (irc == 0)
            snprintf(lead_out, 40, "%s", found);
        else if (irc == SA_ENOTFOUND)
            sa_uuid_v7(lead_out);
        else
            return irc;
    }
    if (thread_id)
        snprintf(thread_out, 129, "%s", thread_id);
    else
        sa_uuid_v7(thread_out);
    /* one draft at a time for a lead named by the caller: claimed until the run's row
     * (queued) is stored, which then keeps the next start out */
    struct sa_draft_claim claim = {0};
    int rc = lead_id && one_draft
                 ? sa_app_draft_claim(r->app, lead_out, "run", run_id, thread_out, &claim,
                                      one_draft, err)
                 : 0;
    if (rc)
        return rc;
    char *input = json_dumps(lead->raw, JSON_COMPACT);
    rc = input ? sa_store_run_create(r->app->store, run_id, lead_out, thread_out, input, err)
               : sa_err_set(err, SA_ENOMEM, "out of memory");
    free(input);
    sa_app_draft_release(&claim);
    if (rc)
        return rc;
    if ((rc = sa_queue_submit(r->queue, run_id, err))) {
        /* stored but not queued: nobody would ever run it, so it must not look queued */
        sa_log(SA_LOG_ERROR, "run not queued",
               json_pack("{s:s, s:s}", "run_id", run_id, "error", err->msg));
        struct sa_err e2 = {0};
        if (sa_store_run_update(r->app->store, run_id, "failed", NULL,
                                "the run could not be queued", &e2))
            sa_log(SA_LOG_ERROR, "run status",
                   json_pack("{s:s, s:s}", "run_id", run_id, "error", e2.msg));
        return rc;
    }
    return 0;
}

int sa_runs_cancel(struct sa_runs *r, const char *run_id, struct sa_err *err)
{
    json_t *run = NULL;
    int rc = sa_store_run_get(r->app->store, run_id, &run, err);
    if (rc == SA_ENOTFOUND)
        return sa_err_set(err, rc, "No run %s", run_id);
    if (rc)
        return rc;
    if (finished_status(sa_json_str(run, "status")))
        rc = sa_err_set(err, SA_ECONFLICT, "run %s has already finished", run_id);
    else
        rc = sa_queue_cancel(r->queue, run_id, err);
    json_decref(run);
    return rc;
}

/* ---- Streams --------------------------------------------------------------------------
 *
 * A stream client reads without waiting; when there is nothing new it parks: it joins the
 * waiter's list with a wake callback (the HTTP layer's, which resumes its suspended
 * connection) and holds no thread while it waits. One waiter thread per process serves
 * them all. It asks the queue once for the whole list (sa_queue_wait: memory, a
 * condition wait; Redis, one XREAD BLOCK over every parked run on one connection) and
 * wakes those with news; a stream parked STREAM_CHECK_MS without news is woken quiet, and
 * then asks the store whether its run finished elsewhere (its events published where
 * this queue cannot see them), and every STREAM_KEEPALIVE_CHECKS quiet wakes it returns 0
 * so its client gets a keep-alive (a client that left is only noticed by a write).
 *
 * A wake is called outside the waiter's lock (it takes the HTTP server's), so a stream
 * is taken off the list and marked `waking` first, and sa_run_stream_free waits until its
 * wake returned: the callback's argument dies with the stream. */

static void waiter_free(struct stream_waiter *w)
{
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->parked);
    pthread_cond_destroy(&w->woken);
    free(w->seqs);
    free(w->ids);
    free(w->poss);
    free(w->id_ptrs);
    free(w->pos_ptrs);
    free(w->ready);
    free(w->batch);
    free(w);
}

/* Lock held. */
static void unlink_stream(struct stream_waiter *w, struct sa_run_stream *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        w->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        w->tail = s->prev;
    s->prev = s->next = NULL;
    s->parked = false;
    w->n--;
}

/* Room for n in the thread's arrays. Lock held (the thread's own arrays: any lock will do,
 * but n is read under it). */
static bool reserve(struct stream_waiter *w, int n)
{
    if (n <= w->cap)
        return true;
    int cap = n > 2 * w->cap ? n : 2 * w->cap;
    size_t c = (size_t)cap;
    uint64_t *seqs = realloc(w->seqs, c * sizeof *seqs);
    if (seqs)
        w->seqs = seqs;
    char(*ids)[40] = realloc(w->ids, c * sizeof *ids);
    if (ids)
        w->ids = ids;
    char(*poss)[SA_QUEUE_POS_LEN] = realloc(w->poss, c * sizeof *poss);
    if (poss)
        w->poss = poss;
    const char **ip = realloc(w->id_ptrs, c * sizeof *ip);
    if (ip)
        w->id_ptrs = ip;
    const char **pp = realloc(w->pos_ptrs, c * sizeof *pp);
    if (pp)
        w->pos_ptrs = pp;
    bool *ready = realloc(w->ready, c * sizeof *ready);
    if (ready)
        w->ready = ready;
    struct sa_run_stream **batch = realloc(w->batch, c * sizeof(struct sa_run_stream *));
    if (batch)
        w->batch = batch;
    if (!seqs || !ids || !poss || !ip || !pp || !ready || !batch)
        return false;
    w->cap = cap;
    return true;
}

/* Wakes the k streams of w->batch, already off the list and marked waking. Lock held;
 * released while the wakes run. */
static void wake_batch(struct stream_waiter *w, int k)
{
    pthread_mutex_unlock(&w->lock);
    for (int i = 0; i < k; i++)
        w->batch[i]->wake(w->batch[i]->wake_arg);
    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < k; i++)
        w->batch[i]->waking = false;
    pthread_cond_broadcast(&w->woken);
}

/* Takes s off the list into the batch. Lock held. */
static void to_batch(struct stream_waiter *w, struct sa_run_stream *s, bool quiet, int *k)
{
    unlink_stream(w, s);
    s->waking = true;
    s->quiet = quiet;
    w->batch[(*k)++] = s;
}

/* Wakes the streams whose deadline passed (all of them when all is set). Lock held.
 * Returns how many it woke; *next_due the earliest deadline left. */
static int wake_due(struct stream_waiter *w, bool all, uint64_t *next_due)
{
    uint64_t now = sa_now_ns();
    *next_due = UINT64_MAX;
    int k = 0;
    for (struct sa_run_stream *s = w->head, *next; s; s = next) {
        next = s->next;
        if (all || s->due_ns <= now)
            to_batch(w, s, true, &k);
        else if (s->due_ns < *next_due)
            *next_due = s->due_ns;
    }
    if (k)
        wake_batch(w, k);
    return k;
}

/* The position of seq in the sorted snapshot, or -1. */
static int snapshot_index(const struct stream_waiter *w, int n, uint64_t seq)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (w->seqs[mid] == seq)
            return mid;
        if (w->seqs[mid] < seq)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static void *waiter_main(void *arg)
{
    struct stream_waiter *w = arg;
    struct sa_queue *queue = w->r->queue;
    int failures = 0;
    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        uint64_t next_due;
        if (!reserve(w, w->n)) { /* out of memory: the streams wait until there is some */
            pthread_mutex_unlock(&w->lock);
            struct timespec pause = {0, STREAM_WAIT_MS * 1000000L};
            nanosleep(&pause, NULL);
            pthread_mutex_lock(&w->lock);
            continue;
        }
        if (wake_due(w, false, &next_due))
            continue;
        if (!w->head) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            (void)pthread_cond_timedwait(&w->parked, &w->lock, &until);
            continue;
        }
        /* the list in park order (seqs ascending), copied: the queue is asked unlocked */
        int n = 0;
        for (struct sa_run_stream *s = w->head; s; s = s->next, n++) {
            w->seqs[n] = s->seq;
            memcpy(w->ids[n], s->id, sizeof w->ids[n]);
            memcpy(w->poss[n], s->pos, sizeof w->poss[n]);
            w->id_ptrs[n] = w->ids[n];
            w->pos_ptrs[n] = w->poss[n];
        }
        uint64_t now = sa_now_ns();
        uint64_t left_ms = next_due > now ? (next_due - now) / 1000000u + 1 : 1;
        int wait_ms = left_ms < STREAM_WAIT_MS ? (int)left_ms : STREAM_WAIT_MS;
        pthread_mutex_unlock(&w->lock);
        struct sa_err err = {0};
        int rc = sa_queue_wait(queue, n, w->id_ptrs, w->pos_ptrs, wait_ms, w->ready, &err);
        if (rc && failures++ % 100 == 0) /* the queue is down: each stream's read says so */
            sa_log(SA_LOG_WARN, "run streams: waiting on the queue failed",
                   json_pack("{s:s, s:i}", "error", err.msg, "times", failures));
        if (rc) {
            struct timespec pause = {0, STREAM_WAIT_MS * 1000000L};
            nanosleep(&pause, NULL);
        } else {
            failures = 0;
        }
        pthread_mutex_lock(&w->lock);
        /* those still parked (by seq: a stream freed meanwhile is gone from the list) */
        int k = 0;
        for (struct sa_run_stream *s = w->head, *next; s; s = next) {
            next = s->next;
            int i = snapshot_index(w, n, s->seq);
            if (i >= 0 && (rc || w->ready[i]))
                to_batch(w, s, false, &k);
        }
        if (k)
            wake_batch(w, k);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* r's waiter, started at the first park; NULL when it cannot be (out of memory, no
 * thread): the caller then waits the old way. */
static struct stream_waiter *waiter_get(struct sa_runs *r)
{
    pthread_mutex_lock(&r->lock);
    struct stream_waiter *w = r->waiter;
    if (!w && !r->stop && (w = calloc(1, sizeof *w))) {
        w->r = r;
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->parked, NULL);
        pthread_cond_init(&w->woken, NULL);
        if (pthread_create(&w->thread, NULL, waiter_main, w) != 0) {
            waiter_free(w);
            w = NULL;
        }
        r->waiter = w;
    }
    pthread_mutex_unlock(&r->lock);
    return w;
}

/* Called by sa_runs_stop after the HTTP server stopped: nothing is parked any more. */
static void waiter_stop(struct sa_runs *r)
{
    struct stream_waiter *w = r->waiter;
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_broadcast(&w->parked);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    uint64_t unused;
    pthread_mutex_lock(&w->lock);
    if (reserve(w, w->n)) /* none expected: a stream left parked is still woken */
        wake_due(w, true, &unused);
    pthread_mutex_unlock(&w->lock);
    waiter_free(w);
    r->waiter = NULL;
}

/* Parks s until news or its deadline. Returns false when it could not be parked. */
static bool park(struct sa_run_stream *s, void (*wake)(void *arg), void *arg)
{
    struct stream_waiter *w = s->w ? s->w : (s->w = waiter_get(s->r));
    if (!w)
        return false;
    pthread_mutex_lock(&w->lock);
    if (s->parked) { /* read again without a wake (the server resumed it to stop): still */
        pthread_mutex_unlock(&w->lock);
        return true;
    }
    /* it may still be `waking`: its wake came while its reader ran, and the reader asked
     * again at once; the flag only holds off free */
    s->wake = wake;
    s->wake_arg = arg;
    s->parked = true;
    s->quiet = false;
    s->seq = ++w->seq;
    s->due_ns = sa_now_ns() + (uint64_t)STREAM_CHECK_MS * 1000000u;
    s->prev = w->tail;
    s->next = NULL;
    if (w->tail)
        w->tail->next = s;
    else
        w->head = s;
    w->tail = s;
    w->n++;
    pthread_cond_signal(&w->parked);
    pthread_mutex_unlock(&w->lock);
    return true;
}

struct sa_run_stream *sa_run_stream_open(struct sa_runs *r, const char *run_id)
{
    json_t *run = NULL;
    struct sa_err err = {0};
    if (sa_store_run_get(r->app->store, run_id, &run, &err))
        return NULL;
    bool finished = finished_status(sa_json_str(run, "status"));
    json_decref(run);
    struct sa_run_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->r = r;
    snprintf(s->id, sizeof s->id, "%s", run_id);
    sa_buf_init(&s->pending, STREAM_CHUNK);
    /* a finished run streams its events while the queue keeps them whole, to their end;
     * else its stored result (the caller's fallback) */
    if (finished && (sa_queue_read(r->queue, s->id, s->pos, 0, &s->pending, &s->ended, &err) ||
                     (!s->ended && s->pending.len == 0))) {
        sa_run_stream_free(s);
        return NULL;
    }
    return s;
}

/* The stored result as the stream's last events, for a run the store says is finished
 * but whose events stopped without their end (they were published where this queue
 * cannot see them: another process's memory queue, or lost in a Redis outage). */
static void end_from_store(struct sa_run_stream *s)
{
    json_t *run = NULL;
    struct sa_err err = {0};
    if (sa_app_run_get(s->r->app->store, s->r, s->id, &run, &err))
        return;
    const char *status = sa_json_str(run, "status");
    if (finished_status(status)) {
        char *text = json_dumps(run, JSON_COMPACT);
        sa_buf_reset(&s->pending);
        s->off = 0;
        if (sa_buf_printf(&s->pending, "event: result\ndata: %s\n\nevent: end\ndata: null\n\n",
                          text ? text : "null") == 0)
            s->ended = true;
        free(text);
    }
    json_decref(run);
}

/* Reads what the queue has after s->pos into s->pending, waiting up to wait_ms. A run
 * with no events yet is not an error here (its first comes later). Returns 0 or -1 (the
 * queue failed: logged). */
static int fill(struct sa_run_stream *s, int wait_ms)
{
    sa_buf_reset(&s->pending);
    s->off = 0;
    struct sa_err err = {0};
    int rc = sa_queue_read(s->r->queue, s->id, s->pos, wait_ms, &s->pending, &s->ended, &err);
    if (rc && rc != SA_ENOTFOUND) {
        sa_log(SA_LOG_WARN, "run stream ended early",
               json_pack("{s:s, s:s}", "run_id", s->id, "error", err.msg));
        return -1;
    }
    return 0;
}

ssize_t sa_run_stream_read(struct sa_run_stream *s, char *buf, size_t max, void (*wake)(void *arg),
                           void *arg)
{
    if (s->off >= s->pending.len) {
        if (s->ended)
            return -1;
        bool quiet = false;
        if (s->w) { /* set when woken: read under the lock that guards it */
            pthread_mutex_lock(&s->w->lock);
            quiet = s->quiet;
            s->quiet = false;
            pthread_mutex_unlock(&s->w->lock);
        }
        if (fill(s, 0))
            return -1;
        if (s->pending.len == 0 && !s->ended && quiet) {
            end_from_store(s);
            if (!s->ended && ++s->quiet_checks >= STREAM_KEEPALIVE_CHECKS) {
                s->quiet_checks = 0;
                return 0; /* quiet for ~15 s: the caller sends a keep-alive */
            }
        }
        if (s->pending.len == 0 && !s->ended) {
            if (park(s, wake, arg))
                return SA_RUN_STREAM_PARKED;
            /* no waiter (out of memory, no thread): wait here a little, the old way, and
             * wake ourselves, so the caller asks again at once */
            if (fill(s, STREAM_WAIT_MS))
                return -1;
            if (s->pending.len == 0 && !s->ended) {
                wake(arg);
                return SA_RUN_STREAM_PARKED;
            }
        }
        if (s->pending.len == 0)
            return s->ended ? -1 : 0;
        s->quiet_checks = 0;
    }
    size_t take = s->pending.len - s->off < max ? s->pending.len - s->off : max;
    memcpy(buf, s->pending.data + s->off, take);
    s->off += take;
    return (ssize_t)take;
}

void sa_run_stream_free(struct sa_run_stream *s)
{
    if (!s)
        return;
    struct stream_waiter *w = s->w;
    if (w) {
        pthread_mutex_lock(&w->lock);
        if (s->parked)
            unlink_stream(w, s);
        while (s->waking)
            pthread_cond_wait(&w->woken, &w->lock);
        pthread_mutex_unlock(&w->lock);
    }
    sa_buf_free(&s->pending);
    free(s);
}

/* The stored run (consumed) in the API's shape: its id as run_id, first, then the other
 * fields in their stored order. NULL when out of memory. */
static json_t *run_for_api(json_t *run)
{
    json_t *out = json_pack("{s:O}", "run_id", json_object_get(run, "id"));
    const char *key;
    json_t *v;
    json_object_foreach(run, key, v)
    {
        if (out && strcmp(key, "id") != 0 && json_object_set(out, key, v)) {
            json_decref(out);
            out = NULL;
        }
    }
    json_decref(run);
    return out;
}

int sa_app_run_get(struct sa_store *store, struct sa_runs *r, const char *run_id, json_t **out,
                   struct sa_err *err)
{
    *out = NULL;
    json_t *stored = NULL;
    int rc = sa_store_run_get(store, run_id, &stored, err);
    if (rc == SA_ENOTFOUND)
        return sa_err_set(err, rc, "No run %s", run_id);
    if (rc)
        return rc;
    if (!(*out = run_for_api(stored)))
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    if (!r)
        return 0;
    pthread_mutex_lock(&r->lock);
    for (struct unrecorded *u = r->unrecorded; u; u = u->next) {
        if (strcmp(u->id, run_id) != 0)
            continue;
        json_object_set_new(*out, "status", json_string(u->status));
        if (u->error)
            json_object_set_new(*out, "error", json_string(u->error));
        json_object_set_new(*out, "status_recorded", json_false());
        json_object_set_new(*out, "status_note",
                            json_string("the run finished but its status could not be saved "
                                        "yet; the server writes it again every second"));
        break;
    }
    pthread_mutex_unlock(&r->lock);
    return 0;
}

int sa_app_runs_list(struct sa_store *store, const char *status, int limit, int offset,
                     json_t **out, struct sa_err *err)
{
    *out = NULL;
    json_t *page = NULL;
    int rc = sa_store_runs_list(store, status, limit, offset, &page, err);
    if (rc)
        return rc;
    json_t *items = json_array();
    size_t i;
    json_t *run;
    json_array_foreach(json_object_get(page, "items"), i, run)
    {
        json_t *one = run_for_api(json_incref(run));
        if (!one || json_array_append_new(items, one)) {
            json_decref(items);
            json_decref(page);
            return sa_err_set(err, SA_ENOMEM, "out of memory");
        }
    }
    *out = json_pack("{s:o, s:O, s:i, s:i}", "items", items, "total",
                     json_object_get(page, "total"), "limit", limit, "offset", offset);
    json_decref(page);
    return *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

/* CRM sync of N leads (default 10,000) through the outbox's CRM path against the fake
 * HubSpot (tests/fakes/fake_hubspot.h) and the fake Salesforce org on loopback: the pushes are
 * queued as outbox items in a temporary SQLite store, then delivered page by page as the worker
 * does (claim, batched calls, mark), batched (100 a call, HubSpot's batch limit) and, for
 * comparison, one lead per call on a tenth of them. Prints requests issued, seconds and leads/s.
 * Usage: bench_crm [N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"
#include "app/crm_sync.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/log.h"
#include "base/uuid.h"
#include "connectors/crm/crm.h"
#include "fake_hubspot.h"
#include "fake_salesforce.h"
#include "store/store.h"

#define TOKEN "pat-na1-bench-0000-0000-000000000000"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const struct sa_err *err)
{
    fprintf(stderr, "bench_crm: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

/* Queues n lead pushes (prefix keeps runs apart). */
static void queue(struct sa_store *st, int n, const char *prefix)
{
    static const char *const tiers[] = {"A", "B", "C", "D"};
    for (int i = 0; i < n; i++) {
        char id[SA_UUID_LEN], lead[SA_UUID_LEN], email[96], domain[64], key[128];
        sa_uuid_v7(id);
        sa_uuid_v7(lead);
        snprintf(email, sizeof email, "%s.contact%d@company%d.example", prefix, i, i / 3);
        snprintf(domain, sizeof domain, "%s-company%d.example", prefix, i / 3);
        snprintf(key, sizeof key, "crm_lead:%s:%s", lead, prefix);
        json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s}", "lead_id", lead,
                              "email", email, "first_name", "Alex", "last_name", "Rivera", "title",
                              "Head of Operations", "company", "Example Company", "domain", domain,
                              "score", 40 + i % 60, "tier", tiers[i % 4], "reasoning",
                              "mid-market logistics, hiring, recent funding");
        char *text = json_dumps(p, JSON_COMPACT);
        json_decref(p);
        struct sa_outbox_item it = {.id = id,
                                    .idempotency_key = key,
                                    .kind = "crm_lead",
                                    .lead_id = lead,
                                    .to_email = email,
                                    .payload = text,
                                    .due_at = (long long)sa_wall_time()};
        int added = 0;
        struct sa_err err = {0};
        if (sa_store_outbox_add(st, &it, 1, &added, &err))
            die("queue", &err);
        free(text);
    }
}

/* Delivers every due push as the worker does; returns how many landed. */
static int deliver(struct sa_app *app)
{
    int total = 0;
    for (;;) {
        json_t *due = NULL;
        struct sa_err err = {0};
        if (sa_store_outbox_due(app->store, (long long)sa_wall_time(), 100, &due, &err))
            die("due", &err);
        size_t n = json_array_size(due);
        json_t **items = calloc(n ? n : 1, sizeof *items);
        for (size_t i = 0; i < n; i++)
            items[i] = json_array_get(due, i);
        int sent = 0;
        if (sa_crm_sync_deliver(app, items, (int)n, 5, &sent, &err))
            die("deliver", &err);
        total += sent;
        free(items);
        json_decref(due);
        if (n < 100)
            return total;
    }
}

static size_t requests_of(struct fake_hubspot *hs, struct fake_salesforce *sf)
{
    return hs ? fake_hubspot_requests(hs, NULL) : fake_salesforce_requests(sf, NULL);
}

static void run(struct sa_app *app, struct fake_hubspot *fake, struct fake_salesforce *sf, int n,
                const char *label, const char *prefix)
{
    queue(app->store, n, prefix);
    size_t r0 = requests_of(fake, sf);
    double t0 = now_s();
    int sent = deliver(app);
    double s = now_s() - t0;
    size_t req = requests_of(fake, sf) - r0;
    printf("%-34s %6d leads  %6zu requests  %7.2f s  %8.0f leads/s  (%d pushed)\n", label, n, req,
           s, n / s, sent);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000; // NOLINT(cert-err34-c): a bench argument
    if (n < 10)
        n = 10;
    sa_log_setup(SA_LOG_ERROR, 2);
    struct fake_hubspot *fake = fake_hubspot_start(TOKEN);
    if (!fake)
        die("fake HubSpot", NULL);
    char dir[] = "/tmp/bench-crm-XXXXXX", url[128];
    if (!mkdtemp(dir))
        die("mkdtemp", NULL);
    snprintf(url, sizeof url, "sqlite://%s/bench.db", dir);
    struct sa_app app = {0};
    struct sa_err err = {0};
    if (sa_store_open(url, 2, &app.store, &err) || sa_store_migrate(app.store, &err))
        die("store", &err);
    struct sa_config cfg = {.crm_provider = SA_CRM_HUBSPOT,
                            .hubspot_access_token = TOKEN,
                            .hubspot_base_url = fake_hubspot_base_url(fake),
                            .crm_timeout_ms = 30000};
    if (sa_crm_open(&cfg, NULL, &app.crm, &err))
        die("crm", &err);
    run(&app, fake, NULL, n, "HubSpot batched (100 per call)", "b");
    /* one lead per call: a field map cannot change the batch size, so the backend is
     * asked for batches of one by delivering single-item pages */
    struct sa_crm *c = app.crm;
    int m = n / 10;
    queue(app.store, m, "s");
    size_t r0 = fake_hubspot_requests(fake, NULL);
    double t0 = now_s();
    int sent = 0;
    for (;;) {
        json_t *due = NULL;
        if (sa_store_outbox_due(app.store, (long long)sa_wall_time(), 1, &due, &err))
            die("due", &err);
        if (!json_array_size(due)) {
            json_decref(due);
            break;
        }
        json_t *one = json_array_get(due, 0);
        int s = 0;
        if (sa_crm_sync_deliver(&app, &one, 1, 5, &s, &err))
            die("deliver", &err);
        sent += s;
        json_decref(due);
    }
    double s = now_s() - t0;
    printf("%-34s %6d leads  %6zu requests  %7.2f s  %8.0f leads/s  (%d pushed)\n",
           "HubSpot unbatched (1 per call)", m, fake_hubspot_requests(fake, NULL) - r0, s, m / s,
           sent);
    printf("fake HubSpot: %zu contacts, %zu companies, %zu associations, largest batch %zu, "
           "%zu malformed requests\n",
           fake_hubspot_count(fake, "contacts"), fake_hubspot_count(fake, "companies"),
           fake_hubspot_count(fake, "associations"), fake_hubspot_max_batch(fake),
           fake_hubspot_invalid(fake, NULL));
    sa_crm_free(c);
    /* Salesforce: 25 upserts a composite request (one API call), after its token */
    struct fake_salesforce *sf =
        fake_salesforce_start("3MVG9.bench", "bench-secret", "62.0", "Email__c");
    if (!sf)
        die("fake Salesforce", NULL);
    struct sa_config sfc = {.crm_provider = SA_CRM_SALESFORCE,
                            .salesforce_login_url = fake_salesforce_url(sf),
                            .salesforce_client_id = "3MVG9.bench",
                            .salesforce_client_secret = "bench-secret",
                            .salesforce_api_version = "62.0",
                            .salesforce_external_id_field = "Email__c",
                            .crm_timeout_ms = 30000};
    if (sa_crm_open(&sfc, NULL, &app.crm, &err))
        die("crm", &err);
    run(&app, NULL, sf, n, "Salesforce batched (25 per call)", "f");
    printf("fake Salesforce: %zu Leads, %zu malformed requests\n",
           fake_salesforce_count(sf, "leads"), fake_salesforce_invalid(sf, NULL));
    sa_crm_free(app.crm);
    fake_salesforce_stop(sf);
    sa_store_close(app.store);
    fake_hubspot_stop(fake);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}

/* The settings table and its parser (see config.h). Called once by the CLI at start-up,
 * and by tests and benchmarks; the only place that reads the environment. */
#include "base/config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* An enum setting's field is written as an int (its index in values). */
static_assert(sizeof(enum sa_log_level) == sizeof(int), "enum settings are int-sized");
static_assert(SA_LOG_DEBUG == 0 && SA_LOG_INFO == 1 && SA_LOG_WARN == 2 && SA_LOG_ERROR == 3 &&
                  SA_LOG_OFF == 4,
              "log_levels[] lists the levels in enum order");
static const char *const log_levels[] = {"debug", "info", "warn", "error", "off", NULL};
static_assert(sizeof(enum sa_auth_mode) == sizeof(int) && SA_AUTH_ON == 0 && SA_AUTH_OFF == 1,
              "auth_modes[] lists the modes in enum order");
static const char *const auth_modes[] = {"on", "off", NULL};
static_assert(sizeof(enum sa_metrics_access) == sizeof(int) && SA_METRICS_KEY == 0 &&
                  SA_METRICS_OPEN == 1,
              "metrics_access[] lists the values in enum order");
static const char *const metrics_access[] = {"key", "open", NULL};
static_assert(sizeof(enum sa_checkpoint_store) == sizeof(int) && SA_CHECKPOINT_AUTO == 0 &&
                  SA_CHECKPOINT_REDIS == 1 && SA_CHECKPOINT_DATABASE == 2,
              "checkpoint_stores[] lists the values in enum order");
static const char *const checkpoint_stores[] = {"auto", "redis", "database", NULL};
static_assert(sizeof(enum sa_llm_choice) == sizeof(int) && SA_LLM_NONE == 0 &&
                  SA_LLM_OPENAI == 1 && SA_LLM_ANTHROPIC == 2 && SA_LLM_CEREBRAS == 3 &&
                  SA_LLM_GROQ == 4 && SA_LLM_VLLM == 5 && SA_LLM_OLLAMA == 6,
              "llm_providers[] lists the values in enum order");
static_assert(sizeof(enum sa_crm_choice) == sizeof(int) && SA_CRM_NONE == 0 &&
                  SA_CRM_HUBSPOT == 1 && SA_CRM_SALESFORCE == 2,
              "crm_providers[] lists the values in enum order");
static const char *const crm_providers[] = {"none", "hubspot", "salesforce", NULL};
static const char *const llm_providers[] = {"none",   "openai", "anthropic", "cerebras",
                                            "groq",   "vllm",   "ollama",    NULL};

/* The offset of member in struct sa_config; the build stops when the member's C type is
 * not the one its setting type writes (a _Generic with no matching association). */
/* ctype is a type name in a _Generic association: it cannot be parenthesised */
// NOLINTBEGIN(bugprone-macro-parentheses)
#define AT(member, ctype)                                                                          \
    _Generic(((struct sa_config *)0)->member, ctype : offsetof(struct sa_config, member))
// NOLINTEND(bugprone-macro-parentheses)
#define STRING(m) .type = SA_SETTING_STRING, .offset = AT(m, const char *)
#define URL(m) .type = SA_SETTING_URL, .offset = AT(m, const char *)
#define INT(m) .type = SA_SETTING_INT, .offset = AT(m, int)
#define BYTES(m) .type = SA_SETTING_BYTES, .offset = AT(m, size_t)
#define SECONDS(m) .type = SA_SETTING_SECONDS, .offset = AT(m, double)
#define FRACTION(m) .type = SA_SETTING_FRACTION, .offset = AT(m, double)
#define ENUM(m, ctype, names) .type = SA_SETTING_ENUM, .offset = AT(m, ctype), .values = names

enum {
    /* settings of the agents a pipeline runs */
    AGENTS = SA_CMD_SERVE | SA_CMD_PIPELINE | SA_CMD_WORKER | SA_CMD_INBOUND |
             SA_CMD_CRM, /* crm opens the app */
    /* every command that opens the store */
    STORE = AGENTS | SA_CMD_MIGRATE | SA_CMD_IMPORT | SA_CMD_KEYS | SA_CMD_PRUNE,
    /* the run workers and the outbox's delivery */
    BACKGROUND = SA_CMD_SERVE | SA_CMD_WORKER,
    /* every command that opens the app (sa_app_open: the CRM, whose pushes an import, a
     * pipeline or an inbound reply queue) */
    OPENS_APP = AGENTS | SA_CMD_IMPORT | SA_CMD_PRUNE,
    /* the HTTP server's address and access control: serve's, and the worker's metrics
     * listener's (WORKER_METRICS_PORT), which is the same server on two routes */
    LISTENS = SA_CMD_SERVE | SA_CMD_WORKER
};

static const struct sa_setting settings[] = {
    /* common */
    {.env = "LOG_LEVEL",
     .flag = "log-level",
     .metavar = "LEVEL",
     ENUM(log_level, enum sa_log_level, log_levels),
     .dflt = "info",
     .doc = "least severe level logged (JSON lines on stderr, PII masked)",
     .commands = SA_CMD_ALL},
    {.env = "DATA_DIR",
     .flag = "data-dir",
     .metavar = "DIR",
     STRING(data_dir),
     .dflt = "data",
     .range_doc = "a directory",
     .doc = "scoring model, tables and templates, validated at start-up",
     .commands = SA_CMD_ALL},
    {.env = "DATABASE_URL",
     .flag = "database-url",
     .metavar = "URL",
     URL(database_url),
     .secret = 1, /* a postgresql:// URL may carry a password: never echoed */
     .dflt = "sqlite://var/sales-agent.db",
     .range_doc = "sqlite://PATH, sqlite::memory: or postgresql://USER[:PASSWORD]@HOST[:PORT]/DB",
     .doc = "where leads, runs and the outbox are stored; the parent directory is created",
     .commands = STORE},
    /* the PostgreSQL store (store/postgres/) */
    {.env = "PG_CONNECT_TIMEOUT_MS",
     INT(pg_connect_timeout_ms),
     .dflt = "3000",
     .min = 100,
     .max = 600000,
     .doc = "PostgreSQL: how long opening a connection may take before the request fails (503)",
     .commands = STORE},
    {.env = "PG_STATEMENT_TIMEOUT_MS",
     INT(pg_statement_timeout_ms),
     .dflt = "5000",
     .min = 100,
     .max = 3600000,
     .doc = "PostgreSQL: how long one statement may run before it is cancelled (migrations "
            "have no limit)",
     .commands = STORE},
    {.env = "DB_POOL_SIZE",
     INT(db_pool_size),
     .dflt = "0",
     .dflt_doc = "HTTP threads + run workers + 2 (+1 with IMAP_URL)",
     .min = 0,
     .max = 1024,
     .range_doc = "0: one per HTTP thread and run worker, plus the outbox's, the retention "
                  "sweep's and the IMAP poller's",
     .doc = "database connections per process (PostgreSQL: keep instances x this under "
            "PgBouncer's max_client_conn or max_connections)",
     .commands = STORE},
    /* the HTTP server */
    {.env = "HOST",
     .flag = "host",
     .metavar = "HOST",
     STRING(host),
     .dflt = "127.0.0.1",
     .range_doc = "an IPv4 or IPv6 address or a host name",
     .doc = "address to bind",
     .commands = LISTENS},
    {.env = "PORT",
     .flag = "port",
     .metavar = "N",
     INT(port),
     .dflt = "8001",
     .min = 0,
     .max = 65535,
     .range_doc = "0: any free port, logged in the \"listening\" line",
     .doc = "port to listen on",
     .commands = SA_CMD_SERVE},
    {.env = "THREADS",
     .flag = "threads",
     .metavar = "N",
     INT(threads),
     .dflt = "0",
     .dflt_doc = "2 per CPU",
     .min = 0,
     .max = 256,
     .range_doc = "0: 2 per CPU",
     .doc = "HTTP worker threads",
     .commands = SA_CMD_SERVE},
    {.env = "MAX_BODY_BYTES",
     BYTES(max_body),
     .dflt = "1048576",
     .min = 1024,
     .max = 64L * 1024 * 1024,
     .doc = "request body cap",
     .commands = SA_CMD_SERVE},
    {.env = "MAX_IMPORT_BYTES",
     BYTES(max_import_bytes),
     .dflt = "52428800",
     .min = 1024,
     .max = 4096L * 1024 * 1024,
     .doc = "CSV body cap of POST /api/leads/import (bodies over MAX_BODY_BYTES go to a "
            "temporary file, not memory)",
     .commands = SA_CMD_SERVE},
    {.env = "TMPDIR",
     STRING(tmp_dir),
     .dflt = "/tmp",
     .range_doc = "a directory",
     .doc = "where large request bodies are spooled (unlinked at once)",
     .commands = SA_CMD_SERVE},
    {.env = "CLOCK_FILE",
     STRING(clock_file),
     .dflt_doc = "none (the system clock)",
     .range_doc = "a file holding an ISO 8601 UTC instant",
     .doc = "for tests: \"now\" is the instant in this file plus the time since it last "
            "changed (write a new instant to move time; re-read on change)",
     .commands = BACKGROUND | SA_CMD_PRUNE},
    {.env = "SEED_FILE",
     .flag = "seed",
     .metavar = "FILE",
     STRING(seed_file),
     .dflt_doc = "none (make run passes data/sample_leads.json)",
     .range_doc = "a JSON file {\"leads\": [{\"id\": UUID, ...}]}",
     .doc = "leads loaded and qualified at start-up when their id is not stored yet",
     .commands = SA_CMD_SERVE},
    /* the outbox */
    {.env = "MAIL_TRANSPORT",
     URL(mail_transport),
     .secret = 1, /* an smtp:// URL may carry a password: never echoed */
     .dflt = "maildir:var/mail",
     .range_doc = "maildir:DIR, smtp://[USER:PASS@]HOST[:PORT][?starttls=none] or "
                  "smtps://[USER:PASS@]HOST[:PORT] (README: Sending by SMTP)",
     .doc = "where the outbox delivers: a Maildir (tmp/, new/, cur/) or an SMTP server",
     .commands = BACKGROUND | SA_CMD_PRUNE},
    {.env = "OUTBOX_POLL_MS",
     INT(outbox_poll_ms),
     .dflt = "1000",
     .min = 0,
     .max = 3600000,
     .range_doc = "0 holds outgoing mail",
     .doc = "how often the delivery worker looks for due items (it is also woken when items "
            "are queued)",
     .commands = BACKGROUND},
    {.env = "OUTBOX_LEASE_SECONDS",
     INT(outbox_lease_seconds),
     .dflt = "300",
     .min = 10,
     .max = 86400,
     .doc = "an item claimed for delivery longer ago than this (its worker died) is queued "
            "again; longer than any delivery takes (docs/scale-out.md: the duplicate window)",
     .commands = BACKGROUND},
    /* CRM sync through the outbox (connectors/crm/crm.h, README "CRM sync") */
    {.env = "CRM_PROVIDER",
     ENUM(crm_provider, enum sa_crm_choice, crm_providers),
     .dflt = "none",
     .doc = "where qualified leads and their activities (e-mails sent, meetings booked, "
            "replies) are pushed through the outbox; none queues nothing",
     .commands = OPENS_APP},
    {.env = "CRM_DRY_RUN",
     INT(crm_dry_run),
     .dflt = "0",
     .min = 0,
     .max = 1,
     .range_doc = "0 or 1",
     .doc = "1: log what would be pushed and mark the items sent with delivered_id dry-run; "
            "nothing reaches the CRM",
     .commands = OPENS_APP},
    {.env = "CRM_FIELD_MAP",
     STRING(crm_field_map),
     .dflt_doc = "the provider's (README \"CRM sync\")",
     .range_doc = "a JSON file, inline JSON {\"score\": \"hs_lead_score\"}, or "
                  "score=hs_lead_score,tier=lead_tier",
     .doc = "our lead fields -> the CRM's property names, over the provider's defaults",
     .commands = OPENS_APP},
    {.env = "CRM_TIMEOUT_MS",
     INT(crm_timeout_ms),
     .dflt = "15000",
     .min = 100,
     .max = 600000,
     .doc = "one CRM call's deadline, its retries and rate-limit waits included",
     .commands = OPENS_APP},
    {.env = "HUBSPOT_ACCESS_TOKEN",
     STRING(hubspot_access_token),
     .doc = "a HubSpot private app's access token (crm.objects.contacts/companies.write); "
            "required with CRM_PROVIDER=hubspot",
     .secret = 1,
     .commands = OPENS_APP},
    {.env = "HUBSPOT_BASE_URL",
     URL(hubspot_base_url),
     .dflt = "https://api.hubapi.com",
     .doc = "HubSpot's API host (a test's fake)",
     .commands = OPENS_APP},
    {.env = "SALESFORCE_LOGIN_URL",
     URL(salesforce_login_url),
     .range_doc = "https://MyDomain.my.salesforce.com",
     .doc = "the org's My Domain host, where the OAuth token is asked for; required with "
            "CRM_PROVIDER=salesforce",
     .commands = OPENS_APP},
    {.env = "SALESFORCE_CLIENT_ID",
     STRING(salesforce_client_id),
     .doc = "the connected app's consumer key (client-credentials flow)",
     .commands = OPENS_APP},
    {.env = "SALESFORCE_CLIENT_SECRET",
     STRING(salesforce_client_secret),
     .doc = "the connected app's consumer secret",
     .secret = 1,
     .commands = OPENS_APP},
    {.env = "SALESFORCE_API_VERSION",
     STRING(salesforce_api_version),
     .dflt = "62.0",
     .range_doc = "NN.N",
     .doc = "the REST API version in /services/data/vNN.N/",
     .commands = OPENS_APP},
    {.env = "SALESFORCE_EXTERNAL_ID_FIELD",
     STRING(salesforce_external_id_field),
     .dflt = "Email__c",
     .range_doc = "a Lead field marked External ID",
     .doc = "the Lead field leads are upserted on (our contact e-mail)",
     .commands = OPENS_APP},
    /* sending by SMTP and DKIM signing (connectors/mail/smtp.h, dkim.h) */
    {.env = "SMTP_USERNAME",
     STRING(smtp_username),
     .dflt_doc = "none (the URL's user, else no AUTH)",
     .doc = "SMTP: the user to AUTH as when MAIL_TRANSPORT names none",
     .commands = BACKGROUND},
    {.env = "SMTP_PASSWORD",
     STRING(smtp_password),
     .secret = 1,
     .dflt_doc = "none",
     .doc = "SMTP: the password when MAIL_TRANSPORT has none (keeps it out of the URL)",
     .commands = BACKGROUND},
    {.env = "SMTP_MAIL_FROM",
     STRING(smtp_mail_from),
     .dflt_doc = "each message's From address",
     .range_doc = "an e-mail address",
     .doc = "SMTP: the envelope sender (MAIL FROM), where bounces go",
     .commands = BACKGROUND},
    {.env = "SMTP_CA_FILE",
     STRING(smtp_ca_file),
     .dflt_doc = "the system's CAs",
     .range_doc = "a PEM file",
     .doc = "SMTP: the CA bundle that verifies the server's certificate (a cafile= URL "
            "parameter wins)",
     .commands = BACKGROUND},
    {.env = "SMTP_CONNECT_TIMEOUT_MS",
     INT(smtp_connect_timeout_ms),
     .dflt = "10000",
     .min = 100,
     .max = 600000,
     .doc = "SMTP: how long connecting (TCP and TLS) may take",
     .commands = BACKGROUND},
    {.env = "SMTP_TIMEOUT_MS",
     INT(smtp_timeout_ms),
     .dflt = "60000",
     .min = 100,
     .max = 3600000,
     .range_doc = "with SMTP_CONNECT_TIMEOUT_MS, less than OUTBOX_LEASE_SECONDS",
     .doc = "SMTP: how long one message's whole delivery may take; then it is retried",
     .commands = BACKGROUND},
    {.env = "DKIM_KEY_FILE",
     STRING(dkim_key_file),
     .dflt_doc = "none (unsigned)",
     .range_doc = "a PEM private key: RSA of 1024 bits or more, or Ed25519",
     .doc = "DKIM-signs every message the outbox delivers (rsa-sha256 or ed25519-sha256, "
            "relaxed/relaxed)",
     .commands = BACKGROUND},
    {.env = "DKIM_SELECTOR",
     STRING(dkim_selector),
     .dflt_doc = "none (required with DKIM_KEY_FILE)",
     .range_doc = "letters, digits, '-', '_', '.'",
     .doc = "DKIM: the s= tag; the public key is published at SELECTOR._domainkey.DOMAIN",
     .commands = BACKGROUND},
    {.env = "DKIM_DOMAIN",
     STRING(dkim_domain),
     .dflt_doc = "each message's From domain",
     .range_doc = "a domain name",
     .doc = "DKIM: the d= tag, the domain that vouches for the mail",
     .commands = BACKGROUND},
    /* background runs and their queue (app/runs.c, store/queue.h) */
    {.env = "RUN_WORKERS",
     INT(run_workers),
     .dflt = "2",
     .min = 0,
     .max = 64,
     .range_doc = "0: this instance only queues runs (a `sales-agent worker` runs them)",
     .doc = "threads that take queued pipeline runs and run them",
     .commands = BACKGROUND},
    {.env = "RUN_VISIBILITY_TIMEOUT_MS",
     INT(run_visibility_ms),
     .dflt = "30000",
     .min = 100,
     .max = 3600000,
     .doc = "with REDIS_URL: a run whose worker has not reported for this long (it died) is "
            "taken over by another worker, continuing from its last checkpoint",
     .commands = BACKGROUND},
    /* enrichment */
    {.env = "ENRICHMENT_TTL_SECONDS",
     SECONDS(enrichment_ttl),
     .dflt = "86400",
     .min = 1,
     .max = 365L * 86400,
     .doc = "how long a cached enrichment is fresh",
     .commands = AGENTS},
    {.env = "COMPANIES_CSV",
     STRING(companies_csv),
     .range_doc = "a CSV file with data/companies.csv's columns",
     .doc = "your own company data, loaded after data/companies.csv (its rows win)",
     .commands = AGENTS},
    {.env = "BREAKER_FAILURES",
     INT(breaker_failures),
     .dflt = "5",
     .min = 1,
     .max = 1000,
     .doc = "consecutive failures that open a connector's circuit breaker (each enrichment "
            "provider, the SMTP server, the CRM)",
     .commands = OPENS_APP},
    {.env = "BREAKER_OPEN_SECONDS",
     SECONDS(breaker_open_seconds),
     .dflt = "30",
     .min = 1,
     .max = 86400,
     .doc = "how long an open circuit breaker stays open (mail and CRM pushes wait for it "
            "without using up attempts)",
     .commands = OPENS_APP},
    /* enrichment providers (README: Enrichment providers) */
    {.env = "ENRICHMENT_PROVIDERS",
     STRING(enrichment_providers),
     .dflt = "local",
     .range_doc = "local, apollo, comma-separated, in the order to ask them",
     .doc = "the enrichment waterfall: the first provider that knows a company answers",
     .commands = AGENTS},
    {.env = "APOLLO_API_KEY",
     STRING(apollo_api_key),
     .doc = "Apollo's API key (sent as X-Api-Key); required when ENRICHMENT_PROVIDERS names "
            "apollo",
     .secret = 1,
     .commands = AGENTS},
    {.env = "APOLLO_BASE_URL",
     URL(apollo_base_url),
     .dflt = "https://api.apollo.io",
     .doc = "where Apollo's API is (a proxy, a test fake); /api/v1/... is appended",
     .commands = AGENTS},
    {.env = "APOLLO_TIMEOUT_MS",
     INT(apollo_timeout_ms),
     .dflt = "5000",
     .min = 100,
     .max = 60000,
     .doc = "the deadline of one Apollo lookup, retries included",
     .commands = AGENTS},
    {.env = "APOLLO_HOURLY_LIMIT",
     INT(apollo_hourly_limit),
     .dflt = "600",
     .min = 1,
     .max = 1000000,
     .doc = "Apollo calls per hour this instance allows itself (lowered further by the "
            "x-hourly-requests-left Apollo sends)",
     .commands = AGENTS},
    {.env = "APOLLO_MINUTE_LIMIT",
     INT(apollo_minute_limit),
     .dflt = "50",
     .min = 1,
     .max = 100000,
     .doc = "Apollo calls per minute this instance allows itself (lowered further by the "
            "x-minute-requests-left Apollo sends)",
     .commands = AGENTS},
    /* the pipeline, marketing and BDR */
    {.env = "PIPELINE_STEP_DELAY_MS",
     INT(pipeline_step_delay_ms),
     .dflt = "0",
     .min = 0,
     .max = 60000,
     .doc = "a pause before each pipeline agent, to watch a run stream step by step (demos, "
            "tests)",
     .commands = AGENTS},
    {.env = "PRODUCT_PROFILE",
     STRING(product_profile),
     .dflt_doc = "DATA_DIR/product.json",
     .range_doc = "a JSON file (README: Product profile)",
     .doc = "what you sell and who writes: the copy, prices, offers and replies, validated at "
            "start-up",
     .commands = AGENTS},
    {.env = "SENDER_NAME",
     STRING(sender_name),
     .dflt_doc = "the profile's sender.name",
     .doc = "who signs the marketing and BDR messages and organises the meetings",
     .commands = AGENTS},
    {.env = "SENDER_TITLE",
     STRING(sender_title),
     .dflt_doc = "the profile's sender.title",
     .doc = "the signer's title in marketing messages",
     .commands = AGENTS},
    {.env = "SENDER_EMAIL",
     STRING(sender_email),
     .dflt_doc = "the profile's sender.email",
     .range_doc = "an e-mail address",
     .doc = "the BDR e-mails' From address and the invites' organizer",
     .commands = AGENTS},
    {.env = "MEETING_LINK",
     URL(meeting_link),
     .dflt_doc = "the profile's meeting_link",
     .range_doc = "http:// or https://",
     .doc = "the meeting link in marketing messages and replies, and the invites' LOCATION and URL",
     .commands = AGENTS},
    {.env = "CONVERSATION_REVIEW_THRESHOLD",
     FRACTION(conversation_review_threshold),
     .dflt = "0.6",
     .range_doc = "0: every turn is answered",
     .doc = "a conversation turn whose intent confidence is below this gets no automatic "
            "reply and is flagged for a human (needs_human, reason low_confidence)",
     .commands = AGENTS},
    {.env = "SESSION_TTL_SECONDS",
     SECONDS(session_ttl),
     .dflt = "2592000",
     .min = 60,
     .max = 10L * 365 * 86400,
     .range_doc = "2592000 is 30 days",
     .doc = "a conversation is remembered this long after its last turn: its session "
            "(GET /api/conversations/{thread_id}) and its history; then the next message "
            "starts a new conversation",
     .commands = AGENTS},
    {.env = "BDR_MAX_TOUCHES_PER_WEEK",
     INT(bdr_max_touches_per_week),
     .dflt = "2",
     .min = 0,
     .max = 1000,
     .range_doc = "0: no cap",
     .doc = "frequency cap: no new draft for a contact with this many e-mails sent or queued "
            "in 7 days",
     .commands = AGENTS},
    /* the sending policy and consent, applied when a message leaves (app/outbox.c) */
    {.env = "SEND_WINDOW",
     STRING(send_window),
     .dflt = "Mon-Fri 08:00-18:00",
     .range_doc = "DAYS HH:MM-HH:MM (days like CALENDAR_DAYS), or any",
     .doc = "when e-mail may leave, in the recipient's time zone (the lead's timezone, state, "
            "city, country or phone, else CALENDAR_TZ); outside it a message waits for the "
            "next window",
     .commands = BACKGROUND},
    {.env = "MAX_TOUCHES_PER_DOMAIN_PER_WEEK",
     INT(max_touches_per_domain_week),
     .dflt = "5",
     .min = 0,
     .max = 100000,
     .range_doc = "0: no cap",
     .doc = "e-mails sent to one company domain in any 7 days; more wait (the contact's own "
            "cap is BDR_MAX_TOUCHES_PER_WEEK, also applied when a message leaves)",
     .commands = BACKGROUND},
    {.env = "SENDER_DAILY_LIMIT",
     INT(sender_daily_limit),
     .dflt = "200",
     .min = 0,
     .max = 1000000,
     .range_doc = "0: no limit",
     .doc = "e-mails one sender address sends in any 24 hours; more wait",
     .commands = BACKGROUND},
    {.env = "PUBLIC_URL",
     URL(public_url),
     .dflt_doc = "http://HOST:PORT (required when MAIL_TRANSPORT is smtp or smtps)",
     .range_doc = "http:// or https://, no trailing slash",
     .doc = "the server's address as prospects reach it: the base of unsubscribe links",
     .commands = BACKGROUND},
    {.env = "UNSUBSCRIBE_SECRET",
     STRING(unsubscribe_secret),
     .dflt_doc = "generated once, kept in the database",
     .range_doc = "at least 32 bytes",
     .doc = "HMAC key signing the unsubscribe links' tokens",
     .secret = 1,
     .commands = BACKGROUND},
    {.env = "SENDER_ADDRESS",
     STRING(sender_address),
     .dflt_doc = "the profile's company.postal_address",
     .range_doc = "one line",
     .doc = "the sender's postal address, printed at the foot of every e-mail (CAN-SPAM)",
     .commands = BACKGROUND},
    /* inbound mail: replies and bounces (app/inbound.h) */
    {.env = "INBOUND_SECRET",
     STRING(inbound_secret),
     .dflt_doc = "none: only API keys with the inbound scope may post mail",
     .range_doc = "at least 16 bytes",
     .doc = "HMAC-SHA256 key of POST /api/inbound/email's X-Signature (README \"Inbound mail\")",
     .secret = 1,
     .commands = SA_CMD_SERVE},
    {.env = "INBOUND_MAX_AGE_SECONDS",
     INT(inbound_max_age_seconds),
     .dflt = "300",
     .min = 30,
     .max = 3600,
     .doc = "how far a signed inbound request's X-Timestamp may be from now (replays older "
            "than this are refused)",
     .commands = SA_CMD_SERVE},
    {.env = "INBOUND_MAX_BYTES",
     BYTES(inbound_max_bytes),
     .dflt = "10485760",
     .min = 1024,
     .max = 25L * 1024 * 1024,
     .doc = "body cap of POST /api/inbound/email (a message with its attachments, held in "
            "memory while it is read)",
     .commands = SA_CMD_SERVE},
    /* the IMAP poller (app/imap_poller.h, README "Inbound mail") */
    {.env = "IMAP_URL",
     URL(imap_url),
     .secret = 1, /* the URL may carry a password: never echoed */
     .dflt_doc = "none (no poller)",
     .range_doc = "imap://HOST[:PORT]/MAILBOX or imaps://HOST[:PORT]/MAILBOX",
     .doc = "the mailbox serve and worker poll for replies, each message processed as "
            "sales-agent inbound does",
     .commands = BACKGROUND},
    {.env = "IMAP_USER",
     STRING(imap_user),
     .dflt_doc = "the URL's user",
     .doc = "IMAP: the user to log in as (required unless IMAP_URL names one)",
     .commands = BACKGROUND},
    {.env = "IMAP_PASSWORD",
     STRING(imap_password),
     .secret = 1,
     .dflt_doc = "the URL's password",
     .doc = "IMAP: the password (keeps it out of the URL)",
     .commands = BACKGROUND},
    {.env = "IMAP_POLL_SECONDS",
     INT(imap_poll_seconds),
     .dflt = "60",
     .min = 1,
     .max = 86400,
     .doc = "IMAP: time between two polls of the mailbox (after failures the poller backs off "
            "up to 15 minutes)",
     .commands = BACKGROUND},
    /* the availability calendar: sa_calendar_parse checks the structure and keeps its own
     * defaults for what is unset */
    {.env = "MEETING_MINUTES",
     INT(meeting_minutes),
     .dflt = "30",
     .min = 5,
     .max = 480,
     .range_doc = "no longer than the working day",
     .doc = "length of a proposed meeting",
     .commands = AGENTS},
    {.env = "MEETING_HOLD_HOURS",
     INT(meeting_hold_hours),
     .dflt = "48",
     .min = 1,
     .max = 720,
     .doc = "how long a proposed meeting holds its slot for the prospect before others "
            "may get it",
     .commands = AGENTS},
    {.env = "CALENDAR_TZ",
     STRING(calendar_tz),
     .dflt_doc = "UTC",
     .range_doc = "an IANA zone such as Europe/Berlin (needs tzdata)",
     .doc = "time zone of the availability calendar (correct across DST)",
     .commands = AGENTS},
    {.env = "CALENDAR_DAYS",
     STRING(calendar_days),
     .dflt_doc = "Mon-Fri",
     .range_doc = "days and ranges such as Sun-Thu or Mon,Wed,Fri",
     .doc = "working days on which meetings are proposed",
     .commands = AGENTS},
    {.env = "CALENDAR_HOURS",
     STRING(calendar_hours),
     .dflt_doc = "09:00-17:00",
     .range_doc = "HH:MM-HH:MM, local time",
     .doc = "working hours (at most two slots a day, two hours' notice)",
     .commands = AGENTS},
    /* access control and the HTTP edge (docs/security.md) */
    {.env = "AUTH",
     ENUM(auth, enum sa_auth_mode, auth_modes),
     .dflt = "on",
     .range_doc = "off is refused unless HOST is a loopback address",
     .doc = "on: every /api/ route needs an API key or a JWT with the route's scope",
     .commands = LISTENS},
    {.env = "JWT_SECRET",
     STRING(jwt_secret),
     .range_doc = "at least 32 bytes",
     .doc = "accept HS256 bearer tokens signed with this secret",
     .secret = 1,
     .commands = LISTENS},
    {.env = "JWT_PUBLIC_KEY_FILE",
     STRING(jwt_public_key_file),
     .range_doc = "a PEM public key file (RSA or EC P-256)",
     .doc = "accept RS256/ES256 bearer tokens signed by this key",
     .commands = LISTENS},
    {.env = "JWT_JWKS_FILE",
     STRING(jwt_jwks_file),
     .range_doc = "a JSON Web Key Set file",
     .doc = "accept RS256/ES256 bearer tokens signed by a key of this set (by kid)",
     .commands = LISTENS},
    {.env = "JWT_ISSUER",
     STRING(jwt_issuer),
     .doc = "when set, a token's iss must equal it",
     .commands = LISTENS},
    {.env = "JWT_AUDIENCE",
     STRING(jwt_audience),
     .doc = "when set, a token's aud must be or contain it",
     .commands = LISTENS},
    {.env = "TRUSTED_HOSTS",
     STRING(trusted_hosts),
     .dflt_doc = "localhost, 127.0.0.1, [::1] and HOST",
     .range_doc = "comma-separated host names, without port",
     .doc = "Host header values accepted (others get 400: stops DNS rebinding)",
     .commands = LISTENS},
    {.env = "CORS_ORIGINS",
     STRING(cors_origins),
     .dflt_doc = "none",
     .range_doc = "comma-separated origins such as https://crm.example.com",
     .doc = "browser origins allowed to call the API (preflight answered, Vary: Origin)",
     .commands = LISTENS},
    {.env = "RATE_LIMIT_PER_MINUTE",
     INT(rate_limit_per_minute),
     .dflt = "600",
     .min = 0,
     .max = 10000000,
     .range_doc = "0: no limit",
     .doc = "requests per minute per principal (per client address with AUTH=off), as a "
            "token bucket",
     .commands = LISTENS},
    {.env = "AUTH_FAILURES_PER_MINUTE",
     INT(auth_failures_per_minute),
     .dflt = "20",
     .min = 0,
     .max = 10000000,
     .range_doc = "0: no limit",
     .doc = "failed authentications (invalid API key or token) per client address (IPv6: per "
            "/64) in a clock minute; past it a failing credential from that address is 429 "
            "instead of 401 until the minute ends (a valid one always passes)",
     .commands = LISTENS},
    {.env = "AGENT_RATE_LIMIT_PER_HOUR",
     STRING(agent_rate_limits),
     .dflt = "1000",
     .range_doc = "N or N,agent=N,...: 0 is no limit",
     .doc = "agent invocations per hour per principal and agent type (per-agent overrides)",
     .commands = SA_CMD_SERVE},
    {.env = "METRICS_AUTH",
     ENUM(metrics_access, enum sa_metrics_access, metrics_access),
     .dflt = "key",
     .doc = "key: /metrics needs a read key; open: anyone who reaches the port",
     .commands = LISTENS},
    {.env = "WORKER_METRICS_PORT",
     .flag = "metrics-port",
     .metavar = "N",
     INT(worker_metrics_port),
     .dflt = "-1",
     .dflt_doc = "none (no listener)",
     .min = -1,
     .max = 65535,
     .range_doc = "-1: none; 0: any free port, printed at start-up",
     .doc = "sales-agent worker serves GET /metrics and GET /health (only) on HOST:this port, "
            "with serve's access control (METRICS_AUTH, API keys)",
     .commands = SA_CMD_WORKER},
    {.env = "MAX_CONNECTIONS_PER_IP",
     INT(max_connections_per_ip),
     .dflt = "128",
     .min = 1,
     .max = 4096,
     .doc = "connections one client address may hold open (more are refused)",
     .commands = LISTENS},
    {.env = "REQUEST_TIMEOUT_SECONDS",
     SECONDS(request_timeout),
     .dflt = "30",
     .min = 1,
     .max = 3600,
     .doc = "a request's headers and body must arrive within this time (trickling does not "
            "extend it)",
     .commands = LISTENS},
    /* retention (app/retention.h): what the server's sweep and `sales-agent prune` delete */
    {.env = "EXECUTION_RETENTION_SECONDS",
     SECONDS(execution_retention),
     .dflt = "2592000",
     .min = 0,
     .max = 10L * 365 * 86400,
     .range_doc = "0 keeps them forever; 2592000 is 30 days",
     .doc = "agent executions older than this are deleted (kept at least as long as "
            "CHECKPOINT_RETENTION_SECONDS, which finds finished threads through them)",
     .commands = SA_CMD_SERVE | SA_CMD_PRUNE},
    {.env = "CHECKPOINT_RETENTION_SECONDS",
     SECONDS(checkpoint_retention),
     .dflt = "86400",
     .min = 0,
     .max = 10L * 365 * 86400,
     .range_doc = "0 keeps every checkpoint",
     .doc = "a finished thread idle this long keeps only its final state (one checkpoint); a "
            "thread waiting for an approval keeps all of them",
     .commands = SA_CMD_SERVE | SA_CMD_PRUNE},
    {.env = "MAIL_RETENTION_SECONDS",
     SECONDS(mail_retention),
     .dflt = "2592000",
     .min = 0,
     .max = 10L * 365 * 86400,
     .range_doc = "0 keeps them forever",
     .doc = "delivered mail files in MAIL_TRANSPORT's Maildir older than this are deleted",
     .commands = SA_CMD_SERVE | SA_CMD_PRUNE},
    {.env = "RETENTION_SWEEP_SECONDS",
     SECONDS(retention_sweep),
     .dflt = "300",
     .min = 0,
     .max = 86400,
     .range_doc = "0: no background sweep; run sales-agent prune instead",
     .doc = "how often the server deletes what the retention settings and the enrichment "
            "cache's expiry allow, and truncates SQLite's WAL",
     .commands = SA_CMD_SERVE},
    /* LLM providers (llm/provider.h) */
    {.env = "LLM_PROVIDER",
     ENUM(llm_provider, enum sa_llm_choice, llm_providers),
     .dflt = "none",
     .doc = "the model the agents may use: none keeps the deterministic engines alone; with "
            "one, agents add what a model does well and fall back to the rules when it fails",
     .commands = AGENTS},
    {.env = "LLM_BASE_URL",
     URL(llm_base_url),
     .dflt_doc = "the provider's",
     .range_doc = "as the vendor's SDK takes it: ending in /v1 for OpenAI-compatible servers, "
                  "the host root for Anthropic",
     .doc = "where the provider is (a vLLM or Ollama server, a proxy)",
     .commands = AGENTS},
    {.env = "LLM_MODEL",
     STRING(llm_model),
     .dflt_doc = "none",
     .range_doc = "the provider's model name",
     .doc = "the model every agent uses, unless LLM_MODEL_<AGENT> names another; required "
            "with LLM_PROVIDER",
     .commands = AGENTS},
    {.env = "LLM_API_KEY",
     STRING(llm_api_key),
     .dflt_doc = "the vendor's variable",
     .doc = "the provider's API key; unset: OPENAI_API_KEY, ANTHROPIC_API_KEY, "
            "CEREBRAS_API_KEY or GROQ_API_KEY for that vendor (vLLM and Ollama need none)",
     .secret = 1,
     .commands = AGENTS},
    {.env = "OPENAI_API_KEY",
     STRING(openai_api_key),
     .doc = "OpenAI's key, when LLM_API_KEY is unset",
     .secret = 1,
     .commands = AGENTS},
    {.env = "ANTHROPIC_API_KEY",
     STRING(anthropic_api_key),
     .doc = "Anthropic's key, when LLM_API_KEY is unset",
     .secret = 1,
     .commands = AGENTS},
    {.env = "CEREBRAS_API_KEY",
     STRING(cerebras_api_key),
     .doc = "Cerebras's key, when LLM_API_KEY is unset",
     .secret = 1,
     .commands = AGENTS},
    {.env = "GROQ_API_KEY",
     STRING(groq_api_key),
     .doc = "Groq's key, when LLM_API_KEY is unset",
     .secret = 1,
     .commands = AGENTS},
    {.env = "LLM_TIMEOUT_MS",
     INT(llm_timeout_ms),
     .dflt = "30000",
     .min = 100,
     .max = 600000,
     .doc = "one model call's deadline, its retries and their waits included; past it the "
            "agent answers with its rules (fallback reason timeout)",
     .commands = AGENTS},
    {.env = "LLM_MODEL_QUALIFICATION",
     STRING(llm_model_qualification),
     .dflt_doc = "LLM_MODEL",
     .doc = "the qualification agent's model (it writes the score's narrative)",
     .commands = AGENTS},
    {.env = "LLM_MODEL_GROWTH",
     STRING(llm_model_growth),
     .dflt_doc = "LLM_MODEL",
     .doc = "the growth agent's model (it writes the opportunity's narrative)",
     .commands = AGENTS},
    {.env = "LLM_MODEL_MARKETING",
     STRING(llm_model_marketing),
     .dflt_doc = "LLM_MODEL",
     .doc = "the marketing agent's model (it personalises the sequence's e-mails)",
     .commands = AGENTS},
    {.env = "LLM_MODEL_CONVERSATION",
     STRING(llm_model_conversation),
     .dflt_doc = "LLM_MODEL",
     .doc = "the conversation agent's model (it rewords the replies)",
     .commands = AGENTS},
    {.env = "LLM_DAILY_BUDGET_USD",
     STRING(llm_daily_budget),
     .dflt_doc = "none",
     .range_doc = "a decimal number of US dollars, e.g. 5 or 12.50",
     .doc = "model spend per UTC day, of every instance together with REDIS_URL, else of this "
            "process (prices: DATA_DIR/llm_prices.json); a call that could pass it (its "
            "worst-case cost reserved first) uses the rules instead (fallback reason budget)",
     .commands = AGENTS},
    /* Redis (docs/redis.md) */
    {.env = "REDIS_URL",
     URL(redis_url),
     .dflt_doc = "none",
     .range_doc = "redis://[:password@]host:port[/db]",
     .doc = "Redis shared by every instance: checkpoints (see CHECKPOINT_STORE), rate limits, "
            "and the run queue (any instance's worker takes a run; its events reach stream "
            "clients on any instance); unset: none, runs queue in the process",
     .secret = 1, /* it may carry the password */
     .commands = AGENTS},
    {.env = "CHECKPOINT_STORE",
     ENUM(checkpoint_store, enum sa_checkpoint_store, checkpoint_stores),
     .dflt = "auto",
     .dflt_doc = "redis when REDIS_URL is set, else database",
     .doc = "where pipeline and conversation checkpoints are kept: Redis, or beside the store "
            "(DATABASE_URL)",
     .commands = AGENTS},
    {.env = "CHECKPOINT_TTL_SECONDS",
     SECONDS(checkpoint_ttl),
     .dflt = "3600",
     .min = 1,
     .max = 365L * 86400,
     .doc = "in Redis, a pipeline thread's checkpoints expire this long after its last one "
            "(threads waiting on an approval never do; a conversation's live "
            "SESSION_TTL_SECONDS)",
     .commands = AGENTS},
    {.env = "REDIS_TIMEOUT_MS",
     INT(redis_timeout_ms),
     .dflt = "1000",
     .min = 10,
     .max = 60000,
     .doc = "bounds a Redis connect, each command and the wait for a free connection",
     .commands = AGENTS},
};

const struct sa_setting *sa_config_settings(size_t *n)
{
    *n = sizeof settings / sizeof settings[0];
    return settings;
}

int sa_parse_long(const char *s, long min, long max, long *out)
{
    if (!s || !*s)
        return SA_EINVAL;
    errno = 0;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max)
        return SA_EINVAL;
    *out = v;
    return 0;
}

/* SCHEME ":" REST, with a scheme as RFC 3986 spells it and something after the colon. */
static bool looks_like_url(const char *s)
{
    if (!isalpha((unsigned char)*s))
        return false;
    while (isalnum((unsigned char)*s) || *s == '+' || *s == '-' || *s == '.')
        s++;
    return s[0] == ':' && s[1] != '\0';
}

/* Parses text as s's type into its field of cfg. Returns 0 or SA_EINVAL. */
static int set_value(const struct sa_setting *s, const char *text, struct sa_config *cfg)
{
    void *field = (char *)cfg + s->offset;
    long v;
    switch (s->type) {
    case SA_SETTING_URL:
        if (!looks_like_url(text))
            return SA_EINVAL;
        /* fall through */
    case SA_SETTING_STRING: memcpy(field, &text, sizeof text); return 0;
    case SA_SETTING_INT:
        if (sa_parse_long(text, s->min, s->max, &v))
            return SA_EINVAL;
        *(int *)field = (int)v;
        return 0;
    case SA_SETTING_BYTES:
        if (sa_parse_long(text, s->min, s->max, &v))
            return SA_EINVAL;
        *(size_t *)field = (size_t)v;
        return 0;
    case SA_SETTING_SECONDS:
        if (sa_parse_long(text, s->min, s->max, &v))
            return SA_EINVAL;
        *(double *)field = (double)v;
        return 0;
    case SA_SETTING_FRACTION: {
        errno = 0;
        char *end = NULL;
        double d = strtod(text, &end);
        if (errno || end == text || *end != '\0' || !(d >= 0 && d <= 1))
            return SA_EINVAL;
        *(double *)field = d;
        return 0;
    }
    case SA_SETTING_ENUM:
        for (int i = 0; s->values[i]; i++) {
            if (strcasecmp(text, s->values[i]) == 0) {
                memcpy(field, &i, sizeof i);
                return 0;
            }
        }
        return SA_EINVAL;
    }
    return SA_EINVAL;
}

const char *sa_setting_range(const struct sa_setting *s, char *buf, size_t n)
{
    const char *note = s->range_doc;
    int len = 0;
    switch (s->type) {
    case SA_SETTING_STRING:
        len = snprintf(buf, n, "%s", note ? note : "any text");
        note = NULL;
        break;
    case SA_SETTING_URL: len = snprintf(buf, n, "a URL"); break;
    case SA_SETTING_INT:
    case SA_SETTING_BYTES:
    case SA_SETTING_SECONDS: len = snprintf(buf, n, "an integer %ld-%ld", s->min, s->max); break;
    case SA_SETTING_FRACTION: len = snprintf(buf, n, "a number 0-1"); break;
    case SA_SETTING_ENUM:
        for (int i = 0; s->values[i] && len >= 0 && (size_t)len < n; i++) {
            const char *sep = i == 0 ? "" : s->values[i + 1] ? ", " : " or ";
            len += snprintf(buf + len, n - (size_t)len, "%s%s", sep, s->values[i]);
        }
        break;
    }
    if (note && len >= 0 && (size_t)len < n)
        snprintf(buf + len, n - (size_t)len, s->type == SA_SETTING_URL ? ": %s" : " (%s)", note);
    return buf;
}

const char *sa_setting_default(const struct sa_setting *s)
{
    return s->dflt_doc ? s->dflt_doc : s->dflt ? s->dflt : "none";
}

/* Sets s's field to its default: dflt parsed, or NULL for a string with none. Returns 0,
 * or SA_EINVAL when the table is wrong (a bad default, or no default for a non-string). */
static int set_default(const struct sa_setting *s, struct sa_config *cfg)
{
    if (s->dflt)
        return set_value(s, s->dflt, cfg);
    if (s->type != SA_SETTING_STRING && s->type != SA_SETTING_URL)
        return SA_EINVAL;
    const char *none = NULL;
    memcpy((char *)cfg + s->offset, &none, sizeof none);
    return 0;
}

/* Sets s from text, the value given as `name` ("PORT" or "--port") joined by sep; an
 * empty text means the default. */
static int apply(const struct sa_setting *s, const char *name, const char *sep, const char *text,
                 struct sa_config *cfg, struct sa_err *err)
{
    if (!*text)
        return set_default(s, cfg);
    if (!set_value(s, text, cfg))
        return 0;
    char range[200];
    if (s->secret)
        return sa_err_set(err, SA_ECONFIG, "%s: expected %s (the value is not shown)", name,
                          sa_setting_range(s, range, sizeof range));
    return sa_err_set(err, SA_ECONFIG, "%s%s%.60s%s: expected %s", name, sep, text,
                      strlen(text) > 60 ? "..." : "", sa_setting_range(s, range, sizeof range));
}

/* The setting of `commands` whose flag is name[0..len), or NULL. */
static const struct sa_setting *find_flag(const char *name, size_t len, unsigned commands)
{
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        const struct sa_setting *s = &settings[i];
        if (s->flag && (s->commands & commands) && strlen(s->flag) == len &&
            strncmp(s->flag, name, len) == 0)
            return s;
    }
    return NULL;
}

/* Applies the settings' flags in args and compacts the rest (see sa_config_load). */
static int apply_flags(struct sa_config *cfg, unsigned commands, int *argc, char **args,
                       struct sa_err *err)
{
    int kept = 0, i = 0;
    while (i < *argc && strcmp(args[i], "--") != 0) {
        const char *a = args[i];
        const struct sa_setting *s = NULL;
        const char *eq = NULL;
        if (strncmp(a, "--", 2) == 0) {
            eq = strchr(a + 2, '=');
            s = find_flag(a + 2, eq ? (size_t)(eq - (a + 2)) : strlen(a + 2), commands);
        }
        if (!s) {
            args[kept++] = args[i++];
            continue;
        }
        char name[64];
        snprintf(name, sizeof name, "--%s", s->flag);
        const char *value = eq ? eq + 1 : i + 1 < *argc ? args[i + 1] : NULL;
        if (!value) {
            char range[200];
            return sa_err_set(err, SA_ECONFIG, "%s: expected a value: %s", name,
                              sa_setting_range(s, range, sizeof range));
        }
        i += eq ? 1 : 2;
        int rc = apply(s, name, " ", value, cfg, err);
        if (rc)
            return rc;
    }
    while (i < *argc)
        args[kept++] = args[i++];
    *argc = kept;
    if (args)
        args[kept] = NULL;
    return 0;
}

/* IMAP_URL: imap:// or imaps://, a host, a mailbox, and a user (IMAP_USER or the URL's). */
static int check_imap(const struct sa_config *cfg, struct sa_err *err)
{
    const char *u = cfg->imap_url;
    size_t skip = strncasecmp(u, "imaps://", 8) == 0  ? 8
                  : strncasecmp(u, "imap://", 7) == 0 ? 7
                                                      : 0;
    if (!skip)
        return sa_err_set(err, SA_ECONFIG,
                          "IMAP_URL: expected imap://HOST/MAILBOX or "
                          "imaps://HOST/MAILBOX");
    const char *host = u + skip, *slash = strchr(host, '/');
    if (strcspn(host, "?#") < (slash ? (size_t)(slash - host) : strlen(host)))
        return sa_err_set(err, SA_ECONFIG,
                          "IMAP_URL: no '?' or '#' before the mailbox (libcurl would take "
                          "the host before it)");
    const char *at = memchr(host, '@', slash ? (size_t)(slash - host) : strlen(host));
    if (!slash || slash == host || !slash[1] || slash[1] == '/' || slash[1] == ';' ||
        slash[1] == '?')
        return sa_err_set(err, SA_ECONFIG, "IMAP_URL: name the mailbox (imaps://HOST/INBOX)");
    if (strpbrk(slash + 1, ";?#"))
        return sa_err_set(err, SA_ECONFIG,
                          "IMAP_URL: the mailbox only, without ;UID=, a "
                          "search or a fragment");
    if (!cfg->imap_user && !at)
        return sa_err_set(err, SA_ECONFIG, "IMAP_URL: set IMAP_USER (or a user in the URL)");
    return 0;
}

int sa_config_load(struct sa_config *cfg, unsigned commands, int *argc, char **args,
                   struct sa_err *err)
{
    *cfg = (struct sa_config){0};
    const size_t n = sizeof settings / sizeof settings[0];
    for (size_t i = 0; i < n; i++) {
        if (set_default(&settings[i], cfg))
            return sa_err_set(err, SA_ECONFIG, "%s: the built-in default is invalid",
                              settings[i].env);
    }
    int rc;
    for (size_t i = 0; i < n; i++) {
        const char *v = getenv(settings[i].env);
        if (v && (rc = apply(&settings[i], settings[i].env, "=", v, cfg, err)))
            return rc;
    }
    if ((rc = apply_flags(cfg, commands, argc, args, err)))
        return rc;
    if (cfg->checkpoint_store == SA_CHECKPOINT_AUTO)
        cfg->checkpoint_store = cfg->redis_url ? SA_CHECKPOINT_REDIS : SA_CHECKPOINT_DATABASE;
    else if (cfg->checkpoint_store == SA_CHECKPOINT_REDIS && !cfg->redis_url)
        return sa_err_set(err, SA_ECONFIG, "CHECKPOINT_STORE=redis: set REDIS_URL too");
    /* a delivery that may outlast the outbox's lease would be taken over by another worker
     * while it runs, and sent twice */
    if (cfg->mail_transport && strncmp(cfg->mail_transport, "smtp", 4) == 0 &&
        (long)cfg->smtp_connect_timeout_ms + cfg->smtp_timeout_ms >=
            1000L * cfg->outbox_lease_seconds)
        return sa_err_set(err, SA_ECONFIG,
                          "SMTP_CONNECT_TIMEOUT_MS + SMTP_TIMEOUT_MS (%d ms) must be shorter "
                          "than OUTBOX_LEASE_SECONDS (%d s)",
                          cfg->smtp_connect_timeout_ms + cfg->smtp_timeout_ms,
                          cfg->outbox_lease_seconds);
    if (cfg->imap_url && (rc = check_imap(cfg, err)))
        return rc;
    /* Two per CPU: while one thread waits on a commit, another parses and scores, and
     * the group commit gets more than one write per transaction. */
    if (cfg->threads == 0) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->threads = ncpu > 0 ? 2 * (int)ncpu : 4;
    }
    return 0;
}

int sa_config_from_env(struct sa_config *cfg, struct sa_err *err)
{
    int argc = 0;
    return sa_config_load(cfg, SA_CMD_ALL, &argc, NULL, err);
}

/* Markdown code span for a table cell. */
static void md_code(FILE *out, const char *s)
{
    fprintf(out, "`%s`", s);
}

void sa_config_write_markdown(FILE *out)
{
    fputs("| variable | flag | default | allowed | meaning |\n"
          "|---|---|---|---|---|\n",
          out);
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        const struct sa_setting *s = &settings[i];
        char range[200];
        fputs("| ", out);
        md_code(out, s->env);
        fputs(" | ", out);
        if (s->flag)
            fprintf(out, "`--%s %s`", s->flag, s->metavar);
        fputs(" | ", out);
        if (s->dflt_doc || !s->dflt)
            fputs(sa_setting_default(s), out);
        else
            md_code(out, s->dflt);
        fprintf(out, " | %s | %s |\n", sa_setting_range(s, range, sizeof range), s->doc);
    }
}

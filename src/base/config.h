/* Process configuration: one table (config.c) describes every setting: its environment
 * variable, its command-line flag, its type, default, allowed range, a one-line doc and
 * the subcommands that read it. One parser fills struct sa_config from defaults <
 * environment < flags, range-checked, at start-up; nothing else reads the environment.
 * Strings point into the environment, argv or static defaults and are not owned. */
#ifndef SA_BASE_CONFIG_H
#define SA_BASE_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "base/err.h"
#include "base/log.h"

/* AUTH: on asks every /api/ request for a key or token; off (local experiments) is refused
 * at start-up unless HOST is a loopback address. */
enum sa_auth_mode { SA_AUTH_ON, SA_AUTH_OFF };
/* METRICS_AUTH: key (a read key) or open (no credentials, for a scraper on a private
 * network). */
enum sa_metrics_access { SA_METRICS_KEY, SA_METRICS_OPEN };

/* CHECKPOINT_STORE: where pipeline and conversation checkpoints go. AUTO (the default)
 * never survives sa_config_load: it becomes REDIS when REDIS_URL is set, else DATABASE. */
enum sa_checkpoint_store { SA_CHECKPOINT_AUTO, SA_CHECKPOINT_REDIS, SA_CHECKPOINT_DATABASE };

/* LLM_PROVIDER: none (the deterministic engines only) or a preset (llm/provider.h). */
enum sa_llm_choice {
    SA_LLM_NONE,
    SA_LLM_OPENAI,
    SA_LLM_ANTHROPIC,
    SA_LLM_CEREBRAS,
    SA_LLM_GROQ,
    SA_LLM_VLLM,
    SA_LLM_OLLAMA
};

/* Defaults are the table's (config.c); README's configuration section lists them. */
/* CRM_PROVIDER's values, in settings order. */
enum sa_crm_choice { SA_CRM_NONE, SA_CRM_HUBSPOT, SA_CRM_SALESFORCE };

struct sa_config {
    /* the HTTP server */
    const char *host;            /* HOST, --host */
    int port;                    /* PORT, --port: 0 picks any free port */
    int threads;                 /* THREADS, --threads: default 2 x the number of CPUs */
    size_t max_body;             /* MAX_BODY_BYTES */
    size_t max_import_bytes;     /* MAX_IMPORT_BYTES: the CSV import's body cap */
    const char *tmp_dir;         /* TMPDIR: where large bodies are spooled */
    const char *clock_file;      /* CLOCK_FILE: tests move "now" by writing this file */
    const char *seed_file;       /* SEED_FILE, --seed: leads loaded at start-up, or NULL */
    enum sa_log_level log_level; /* LOG_LEVEL, --log-level */
    int db_pool_size;            /* DB_POOL_SIZE: store connections; 0: derived (app.c) */
    /* storage and data */
    const char *database_url;    /* DATABASE_URL, --database-url */
    int pg_connect_timeout_ms;   /* PG_CONNECT_TIMEOUT_MS: PostgreSQL connect deadline */
    int pg_statement_timeout_ms; /* PG_STATEMENT_TIMEOUT_MS: PostgreSQL statement deadline */
    const char *data_dir;        /* DATA_DIR, --data-dir: scoring model, tables, templates */
    const char *companies_csv;   /* COMPANIES_CSV: the user's own company data, or NULL */
    /* enrichment */
    double enrichment_ttl;        /* ENRICHMENT_TTL_SECONDS */
    double breaker_open_seconds;  /* BREAKER_OPEN_SECONDS: how long it stays open */
    int breaker_failures;         /* BREAKER_FAILURES: failures that open a breaker */
    /* enrichment providers */
    const char *enrichment_providers; /* ENRICHMENT_PROVIDERS: "local,apollo" */
    const char *apollo_api_key;       /* APOLLO_API_KEY (secret), or NULL */
    const char *apollo_base_url;      /* APOLLO_BASE_URL */
    int apollo_timeout_ms;            /* APOLLO_TIMEOUT_MS: one lookup's deadline */
    int apollo_hourly_limit;          /* APOLLO_HOURLY_LIMIT: client-side calls per hour */
    int apollo_minute_limit;          /* APOLLO_MINUTE_LIMIT: client-side calls per minute */
    int bdr_max_touches_per_week; /* BDR_MAX_TOUCHES_PER_WEEK: 0 = no cap */
    /* marketing and BDR */
    const char *sender_name;  /* SENDER_NAME: signs messages, organises meetings */
    const char *sender_email; /* SENDER_EMAIL: From of BDR e-mails, invite organiser */
    const char *sender_title; /* SENDER_TITLE */
    const char *meeting_link; /* MEETING_LINK */
    /* PRODUCT_PROFILE: the product profile's file, or NULL: DATA_DIR/product.json. The
     * four settings above are NULL unless set; set, they override the profile's values. */
    const char *product_profile;
    double conversation_review_threshold; /* CONVERSATION_REVIEW_THRESHOLD: 0-1 */
    double session_ttl; /* SESSION_TTL_SECONDS: a conversation's life after its last turn */
    /* the sending policy and consent (domain/send_policy.h, README "Sending policy") */
    const char *send_window;         /* SEND_WINDOW: "Mon-Fri 08:00-18:00" or "any" */
    int max_touches_per_domain_week; /* MAX_TOUCHES_PER_DOMAIN_PER_WEEK: 0 = no cap */
    int sender_daily_limit;          /* SENDER_DAILY_LIMIT: 0 = no limit */
    const char *public_url;          /* PUBLIC_URL: base of unsubscribe links, or NULL */
    const char *unsubscribe_secret;  /* UNSUBSCRIBE_SECRET: HMAC key, or NULL (generated) */
    const char *sender_address;      /* SENDER_ADDRESS: postal address in every e-mail */
    /* inbound mail (app/inbound.h, README "Inbound mail") */
    const char *inbound_secret;   /* INBOUND_SECRET: HMAC key of POST /api/inbound/email, or NULL */
    int inbound_max_age_seconds;  /* INBOUND_MAX_AGE_SECONDS: a signature's timestamp window */
    int imap_poll_seconds;        /* IMAP_POLL_SECONDS: between two polls (business clock) */
    size_t inbound_max_bytes;     /* INBOUND_MAX_BYTES: POST /api/inbound/email's body cap */
    const char *imap_url;         /* IMAP_URL: imap[s]://HOST[:PORT]/MAILBOX polled, or NULL */
    const char *imap_user;        /* IMAP_USER, or NULL: the URL's */
    const char *imap_password;    /* IMAP_PASSWORD (secret), or NULL: the URL's */
    /* the outbox */
    const char *mail_transport; /* MAIL_TRANSPORT: maildir:DIR, smtp://..., smtps://... */
    int outbox_poll_ms;         /* OUTBOX_POLL_MS: 0 holds outgoing mail */
    int outbox_lease_seconds;   /* OUTBOX_LEASE_SECONDS: a dead worker's claim expires */
    /* CRM sync through the outbox (connectors/crm/crm.h, README "CRM sync") */
    enum sa_crm_choice crm_provider;  /* CRM_PROVIDER */
    int crm_dry_run;                  /* CRM_DRY_RUN: 1 logs and records, sends nothing */
    const char *crm_field_map;        /* CRM_FIELD_MAP: a JSON file, inline JSON or a=b,c=d */
    int crm_timeout_ms;               /* CRM_TIMEOUT_MS: one call's deadline, retries included */
    const char *hubspot_access_token; /* HUBSPOT_ACCESS_TOKEN (secret) */
    const char *hubspot_base_url;     /* HUBSPOT_BASE_URL */
    const char *salesforce_login_url; /* SALESFORCE_LOGIN_URL: the My Domain host */
    const char *salesforce_client_id; /* SALESFORCE_CLIENT_ID */
    const char *salesforce_client_secret;     /* SALESFORCE_CLIENT_SECRET (secret) */
    const char *salesforce_api_version;       /* SALESFORCE_API_VERSION: "62.0" */
    const char *salesforce_external_id_field; /* SALESFORCE_EXTERNAL_ID_FIELD */
    /* sending by SMTP and DKIM signing (connectors/mail/transport.h) */
    const char *smtp_username;   /* SMTP_USERNAME, or NULL */
    const char *smtp_password;   /* SMTP_PASSWORD, or NULL */
    const char *smtp_mail_from;  /* SMTP_MAIL_FROM: envelope sender, or NULL: the From */
    const char *smtp_ca_file;    /* SMTP_CA_FILE, or NULL: the system's CAs */
    int smtp_connect_timeout_ms; /* SMTP_CONNECT_TIMEOUT_MS */
    int smtp_timeout_ms;         /* SMTP_TIMEOUT_MS: one whole delivery */
    const char *dkim_key_file;   /* DKIM_KEY_FILE, or NULL: unsigned */
    const char *dkim_selector;   /* DKIM_SELECTOR */
    const char *dkim_domain;     /* DKIM_DOMAIN, or NULL: the From domain */
    /* background runs and their queue (app/runs.c, store/queue.h) */
    int run_workers;            /* RUN_WORKERS: run worker threads; 0 = this instance only queues */
    int run_visibility_ms;      /* RUN_VISIBILITY_TIMEOUT_MS: a silent worker's run is reclaimed */
    int pipeline_step_delay_ms; /* PIPELINE_STEP_DELAY_MS: pause before each agent */
    /* the availability calendar: validated by sa_calendar_parse when the app opens */
    int meeting_minutes;        /* MEETING_MINUTES */
    int meeting_hold_hours;     /* MEETING_HOLD_HOURS: a proposal holds its slot this long */
    const char *calendar_tz;    /* CALENDAR_TZ: an IANA zone name */
    const char *calendar_days;  /* CALENDAR_DAYS: "Mon-Fri", "Mon,Wed,Fri" */
    const char *calendar_hours; /* CALENDAR_HOURS: "HH:MM-HH:MM" */
    /* access control and the HTTP edge (docs/security.md) */
    enum sa_auth_mode auth;                /* AUTH: on, or off (loopback HOST only) */
    int rate_limit_per_minute;             /* RATE_LIMIT_PER_MINUTE: per principal; 0 = none */
    const char *jwt_secret;                /* JWT_SECRET: HS256 key, or NULL */
    const char *jwt_public_key_file;       /* JWT_PUBLIC_KEY_FILE: PEM for RS256/ES256, or NULL */
    const char *jwt_jwks_file;             /* JWT_JWKS_FILE: a JWK Set for RS256/ES256, or NULL */
    const char *jwt_issuer;                /* JWT_ISSUER: required "iss", or NULL */
    const char *jwt_audience;              /* JWT_AUDIENCE: required in "aud", or NULL */
    const char *trusted_hosts;             /* TRUSTED_HOSTS: comma-separated Host names, or NULL */
    const char *cors_origins;              /* CORS_ORIGINS: comma-separated origins, or NULL */
    const char *agent_rate_limits;         /* AGENT_RATE_LIMIT_PER_HOUR: "N[,agent=N...]" */
    enum sa_metrics_access metrics_access; /* METRICS_AUTH: key or open */
    int worker_metrics_port;               /* WORKER_METRICS_PORT: the worker's listener, or -1 */
    int max_connections_per_ip;            /* MAX_CONNECTIONS_PER_IP */
    int auth_failures_per_minute;          /* AUTH_FAILURES_PER_MINUTE: per address; 0 = none */
    double request_timeout;                /* REQUEST_TIMEOUT_SECONDS: headers and body deadline */
    /* retention (app/retention.h): seconds; 0 keeps that kind forever */
    double execution_retention;  /* EXECUTION_RETENTION_SECONDS */
    double checkpoint_retention; /* CHECKPOINT_RETENTION_SECONDS: finished threads' history */
    double mail_retention;       /* MAIL_RETENTION_SECONDS: delivered mail files */
    double retention_sweep;      /* RETENTION_SWEEP_SECONDS: the server's sweep; 0: none */
    /* Redis (docs/redis.md) */
    /* LLM providers (llm/provider.h, README "LLM providers") */
    enum sa_llm_choice llm_provider; /* LLM_PROVIDER */
    const char *llm_base_url;        /* LLM_BASE_URL, or NULL: the preset's */
    const char *llm_model;           /* LLM_MODEL: required with a provider */
    const char *llm_api_key;         /* LLM_API_KEY, or NULL: the vendor's own variable */
    const char *openai_api_key;      /* OPENAI_API_KEY */
    const char *anthropic_api_key;   /* ANTHROPIC_API_KEY */
    const char *cerebras_api_key;    /* CEREBRAS_API_KEY */
    const char *groq_api_key;        /* GROQ_API_KEY */
    int llm_timeout_ms;              /* LLM_TIMEOUT_MS: one call's deadline, retries included */
    const char *llm_model_qualification; /* LLM_MODEL_QUALIFICATION: per-agent model, or NULL */
    const char *llm_model_growth;        /* LLM_MODEL_GROWTH */
    const char *llm_model_marketing;     /* LLM_MODEL_MARKETING */
    const char *llm_model_conversation;  /* LLM_MODEL_CONVERSATION */
    const char *llm_daily_budget;        /* LLM_DAILY_BUDGET_USD: a decimal, or NULL: none */
    const char *redis_url; /* REDIS_URL: redis://[:password@]host:port[/db], or NULL: none */
    enum sa_checkpoint_store checkpoint_store; /* CHECKPOINT_STORE: REDIS or DATABASE */
    int redis_timeout_ms;  /* REDIS_TIMEOUT_MS: connect, command and pool wait */
    double checkpoint_ttl; /* CHECKPOINT_TTL_SECONDS: life of a thread's Redis keys */
};

/* The subcommands, as bits: which ones read a setting (sa_setting.commands). */
enum {
    SA_CMD_SERVE = 1u << 0,
    SA_CMD_MIGRATE = 1u << 1,
    SA_CMD_QUALIFY = 1u << 2,
    SA_CMD_PIPELINE = 1u << 3,
    SA_CMD_IMPORT = 1u << 4,
    SA_CMD_KEYS = 1u << 5,
    SA_CMD_PRUNE = 1u << 6,
    SA_CMD_WORKER = 1u << 7,
    SA_CMD_INBOUND = 1u << 8, /* inbound mail (issue 15): `sales-agent inbound` */
    SA_CMD_CRM = 1u << 9,     /* sales-agent crm sync */
    SA_CMD_ALL = (1u << 10) - 1,
};

/* A setting's type: how its text is checked and which C type its field has. */
enum sa_setting_type {
    SA_SETTING_STRING,   /* const char *: any text */
    SA_SETTING_URL,      /* const char *: SCHEME:REST; the scheme is checked where it is used */
    SA_SETTING_INT,      /* int: a decimal integer in [min, max] */
    SA_SETTING_BYTES,    /* size_t: a decimal integer in [min, max] */
    SA_SETTING_SECONDS,  /* double: whole seconds in [min, max] */
    SA_SETTING_FRACTION, /* double: a number in [0, 1] */
    SA_SETTING_ENUM,     /* an int-sized enum: the index of one of values (any case) */
};

/* One row of the table. */
struct sa_setting {
    const char *env;           /* "OUTBOX_POLL_MS" */
    const char *flag;          /* "port" for --port, or NULL: environment only */
    const char *metavar;       /* the flag's value in --help: "N", "URL" */
    size_t offset;             /* of its field in struct sa_config */
    const char *dflt;          /* the default, as text parsed like a value; NULL: none */
    const char *dflt_doc;      /* the default in words when dflt does not say it, or NULL */
    long min, max;             /* INT, BYTES, SECONDS */
    const char *const *values; /* ENUM: the allowed names, NULL-terminated */
    const char *range_doc;     /* what a value may be, when min-max does not say it all:
                                * "0 holds outgoing mail", "sqlite://PATH or sqlite::memory:" */
    const char *doc;           /* one line: what it is for */
    int secret; /* a credential: its value is never echoed in an error, help or log */
    enum sa_setting_type type;
    unsigned commands; /* SA_CMD_* bits of the subcommands that read it */
};

/* The table, in the order --help and README list it; *n gets its length. */
const struct sa_setting *sa_config_settings(size_t *n);

/* Fills cfg from the defaults, then the environment, then the flags in args (argv after
 * the subcommand, *argc of them) that belong to settings of `commands` (SA_CMD_* bits):
 * --flag VALUE or --flag=VALUE. An empty value means the default, in the environment as
 * on the command line. The flags it applies are removed from args, whose other entries
 * (positional arguments, other options, everything from "--" on) stay in order; *argc is
 * updated and args[*argc] set to NULL, so args MUST have room for the original *argc + 1
 * pointers (main's argv does). args may be NULL when *argc is 0. Every setting's
 * environment variable is checked, whatever the subcommand. Returns 0, or SA_ECONFIG with
 * err naming the variable or flag, the value and the allowed range, e.g.
 * "OUTBOX_POLL_MS=abc: expected an integer 0-3600000 (0 holds outgoing mail)". */
int sa_config_load(struct sa_config *cfg, unsigned commands, int *argc, char **args,
                   struct sa_err *err) SA_WUR;

/* sa_config_load without flags: defaults and the environment. */
int sa_config_from_env(struct sa_config *cfg, struct sa_err *err) SA_WUR;

/* Writes what a value of s may be into buf (size n): "an integer 0-65535 (0: any free
 * port)", "debug, info, warn, error or off". Returns buf. */
const char *sa_setting_range(const struct sa_setting *s, char *buf, size_t n);
/* s's default in words: dflt_doc, else dflt, else "none". */
const char *sa_setting_default(const struct sa_setting *s);

/* Writes the Markdown table of every setting (README's configuration section):
 * | variable | flag | default | allowed | meaning |. */
void sa_config_write_markdown(FILE *out);

/* Parses a decimal integer in [min, max] from the whole of s. Returns 0 or SA_EINVAL. */
int sa_parse_long(const char *s, long min, long max, long *out) SA_WUR;

#endif

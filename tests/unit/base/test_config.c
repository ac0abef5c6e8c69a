/* Pins the settings table and its parser: the defaults, the environment overriding them,
 * flags overriding the environment, an empty value meaning the default, and every kind of
 * bad value rejected with the variable (or flag), the value and the allowed range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/config.h"

/* Every setting's variable unset, so the process environment cannot leak in. */
static int clear_env(void **state)
{
    (void)state;
    size_t n;
    const struct sa_setting *s = sa_config_settings(&n);
    for (size_t i = 0; i < n; i++)
        unsetenv(s[i].env);
    return 0;
}

static void test_defaults(void **state)
{
    (void)state;
    struct sa_config cfg;
    struct sa_err err = {0};
    assert_int_equal(sa_config_from_env(&cfg, &err), 0);
    assert_string_equal(cfg.host, "127.0.0.1");
    assert_int_equal(cfg.port, 8001);
    assert_true(cfg.threads >= 2); /* 2 per CPU */
    assert_true(cfg.max_body == 1024 * 1024);
    assert_null(cfg.seed_file);
    assert_int_equal(cfg.log_level, SA_LOG_INFO);
    assert_string_equal(cfg.database_url, "sqlite://var/sales-agent.db");
    assert_string_equal(cfg.data_dir, "data");
    assert_null(cfg.companies_csv);
    assert_true(cfg.enrichment_ttl == 86400);
    assert_int_equal(cfg.breaker_failures, 5);
    assert_true(cfg.breaker_open_seconds == 30);
    /* runs queue in this process, two workers take them */
    assert_null(cfg.redis_url);
    assert_int_equal(cfg.run_workers, 2);
    assert_int_equal(cfg.run_visibility_ms, 30000);
    /* unset, the product profile's sender and meeting link stand */
    assert_null(cfg.sender_name);
    assert_null(cfg.sender_email);
    assert_null(cfg.sender_title);
    assert_null(cfg.meeting_link);
    assert_null(cfg.product_profile);
    assert_true(cfg.conversation_review_threshold == 0.6);
    assert_int_equal(cfg.bdr_max_touches_per_week, 2);
    assert_int_equal(cfg.pipeline_step_delay_ms, 0);
    assert_string_equal(cfg.mail_transport, "maildir:var/mail");
    assert_int_equal(cfg.outbox_poll_ms, 1000);
    assert_int_equal(cfg.worker_metrics_port, -1); /* the worker has no listener */
    assert_int_equal(cfg.meeting_minutes, 30);
    /* the calendar keeps its own defaults for what is unset (sa_calendar_parse) */
    assert_null(cfg.calendar_tz);
    assert_null(cfg.calendar_days);
    assert_null(cfg.calendar_hours);
    /* no Redis: checkpoints beside the store */
    assert_null(cfg.redis_url);
    assert_int_equal(cfg.checkpoint_store, SA_CHECKPOINT_DATABASE);
    assert_true(cfg.checkpoint_ttl == 3600);
    assert_int_equal(cfg.redis_timeout_ms, 1000);
}

/* CHECKPOINT_STORE follows REDIS_URL unless set, and redis needs REDIS_URL. */
static void test_checkpoint_store(void **state)
{
    (void)state;
    struct sa_config cfg;
    struct sa_err err = {0};
    setenv("REDIS_URL", "redis://127.0.0.1:6379/0", 1);
    assert_int_equal(sa_config_from_env(&cfg, &err), 0);
    assert_int_equal(cfg.checkpoint_store, SA_CHECKPOINT_REDIS);
    setenv("CHECKPOINT_STORE", "database", 1);
    assert_int_equal(sa_config_from_env(&cfg, &err), 0);
    assert_int_equal(cfg.checkpoint_store, SA_CHECKPOINT_DATABASE);
    unsetenv("REDIS_URL");
    setenv("CHECKPOINT_STORE", "redis", 1);
    assert_int_equal(sa_config_from_env(&cfg, &err), SA_ECONFIG);
    assert_non_null(strstr(err.msg, "CHECKPOINT_STORE=redis: set REDIS_URL"));
    /* the URL may hold a password: a bad one is not echoed */
    setenv("REDIS_URL", "no-scheme-s3cret", 1);
    assert_int_equal(sa_config_from_env(&cfg, &err), SA_ECONFIG);
    assert_null(strstr(err.msg, "s3cret"));
    unsetenv("REDIS_URL");
    unsetenv("CHECKPOINT_STORE");
}

/* The table is complete and consistent: every row documented, names and flags unique. */
static void test_table(void **state)
{
    (void)state;
    size_t n;
    const struct sa_setting *s = sa_config_settings(&n);
    assert_int_equal(n, 113);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(s[i].env);
        assert_non_null(s[i].doc);
        assert_true(s[i].commands != 0);
        assert_true((s[i].flag == NULL) == (s[i].metavar == NULL));
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(s[i].env, s[j].env);
            if (s[i].flag && s[j].flag)
                assert_string_not_equal(s[i].flag, s[j].flag);
        }
    }
}

static void test_env_overrides(void **state)
{
    (void)state;
    struct sa_config cfg;
    struct sa_err err = {0};
    setenv("HOST", "0.0.0.0", 1);
    setenv("PORT", "0", 1); /* any free port */
    setenv("THREADS", "3", 1);
    setenv("MAX_BODY_BYTES", "2048", 1);
    setenv("LOG_LEVEL", "WARN", 1); /* any case */
    setenv("DATABASE_URL", "sqlite::memory:", 1);
    setenv("ENRICHMENT_TTL_SECONDS", "60", 1);
    setenv("SENDER_NAME", "Sam Lee", 1);
    setenv("OUTBOX_POLL_MS", "0", 1); /* holds mail */
    setenv("PIPELINE_STEP_DELAY_MS", "400", 1);
    setenv("CALENDAR_TZ", "Europe/Berlin", 1);
    setenv("CONVERSATION_REVIEW_THRESHOLD", "0.35", 1);
    assert_int_equal(sa_config_from_env(&cfg, &err), 0);
    assert_true(cfg.conversation_review_threshold == 0.35);
    assert_string_equal(cfg.host, "0.0.0.0");
    assert_int_equal(cfg.port, 0);
    assert_int_equal(cfg.threads, 3);
    assert_true(cfg.max_body == 2048);
    assert_int_equal(cfg.log_level, SA_LOG_WARN);
    assert_string_equal(cfg.database_url, "sqlite::memory:");
    assert_true(cfg.enrichment_ttl == 60);
    assert_string_equal(cfg.sender_name, "Sam Lee");
    assert_int_equal(cfg.outbox_poll_ms, 0);
    assert_int_equal(cfg.pipeline_step_delay_ms, 400);
    assert_string_equal(cfg.calendar_tz, "Europe/Berlin");
}

/* Flags win over the environment, in both spellings; what is not a setting's flag of the
 * command stays in args, in order, and "--" ends the flags. */
static void test_flags(void **state)
{
    (void)state;
    struct sa_config cfg;
    struct sa_err err = {0};
    setenv("PORT", "8500", 1);
    setenv("DATA_DIR", "/env/data", 1);
    char *args[] = {"--port",    "9000", "LEAD.json", "--data-dir=/flag/data", "--partial", "--",
                    "--threads", "4",    NULL};
    int argc = 8;
    assert_int_equal(sa_config_load(&cfg, SA_CMD_SERVE, &argc, args, &err), 0);
    assert_int_equal(cfg.port, 9000);
    assert_string_equal(cfg.data_dir, "/flag/data");
    assert_int_equal(argc, 5);
    assert_string_equal(args[0], "LEAD.json");
    assert_string_equal(args[1], "--partial");
    assert_string_equal(args[2], "--");
    assert_string_equal(args[3], "--threads");
    assert_string_equal(args[4], "4");
    assert_null(args[5]);

    /* a flag of a setting the command does not read is left for the command to refuse */
    char *q[] = {"--port", "9000", "LEAD.json", NULL};
    argc = 3;
    assert_int_equal(sa_config_load(&cfg, SA_CMD_QUALIFY, &argc, q, &err), 0);
    assert_int_equal(cfg.port, 8500);
    assert_int_equal(argc, 3);
    assert_string_equal(q[0], "--port");

    /* the worker's listener: --metrics-port and --host are the worker's flags, and only
     * its; 0 asks for any free port */
    char *w[] = {"--metrics-port", "0", "--host=0.0.0.0", NULL};
    argc = 3;
    assert_int_equal(sa_config_load(&cfg, SA_CMD_WORKER, &argc, w, &err), 0);
    assert_int_equal(cfg.worker_metrics_port, 0);
    assert_string_equal(cfg.host, "0.0.0.0");
    assert_int_equal(argc, 0);
    char *serve[] = {"--metrics-port", "9100", NULL};
    argc = 2;
    assert_int_equal(sa_config_load(&cfg, SA_CMD_SERVE, &argc, serve, &err), 0);
    assert_int_equal(cfg.worker_metrics_port, -1);
    assert_int_equal(argc, 2);

    /* the last one wins */
    char *twice[] = {"--log-level", "debug", "--log-level=error", NULL};
    argc = 3;
    assert_int_equal(sa_config_load(&cfg, SA_CMD_MIGRATE, &argc, twice, &err), 0);
    assert_int_equal(cfg.log_level, SA_LOG_ERROR);
    assert_int_equal(argc, 0);
}

/* An empty value means the default: in the environment, and on the command line (where
 * it overrides the environment). */
static void test_empty_is_default(void **state)
{
    (void)state;
    struct sa_config cfg;
    struct sa_err err = {0};
    setenv("PORT", "", 1);
    setenv("DATABASE_URL", "", 1);
    setenv("OUTBOX_POLL_MS", "", 1);
    setenv("LOG_LEVEL", "", 1);
    assert_int_equal(sa_config_from_env(&cfg, &err), 0);
    assert_int_equal(cfg.port, 8001);
    assert_string_equal(cfg.database_url, "sqlite://var/sales-agent.db");
    assert_int_equal(cfg.outbox_poll_ms, 1000);
    assert_int_equal(cfg.log_level, SA_LOG_INFO);

    setenv("SEED_FILE", "leads.json", 1);
    setenv("PORT", "9000", 1);
    char *args[] = {"--seed", "", "--port=", NULL};
    int argc = 3;
    assert_int_equal(sa_config_load(&cfg, SA_CMD_SERVE, &argc, args, &err), 0);
    assert_null(cfg.seed_file);
    assert_int_equal(cfg.port, 8001);
    assert_int_equal(argc, 0);
}

/* name=value in the environment gives err's message exactly. */
static void env_rejected(const char *name, const char *value, const char *msg)
{
    struct sa_config cfg;
    struct sa_err err = {0};
    setenv(name, value, 1);
    assert_int_equal(sa_config_from_env(&cfg, &err), SA_ECONFIG);
    assert_int_equal(err.code, SA_ECONFIG);
    assert_string_equal(err.msg, msg);
    unsetenv(name);
}

/* IMAP_URL: a mailbox of an imap:// or imaps:// server, with a user; the password never
 * echoed; IMAP_POLL_SECONDS defaults to 60 and is range-checked. */
static void test_imap_settings(void **state)
{
    (void)state;
    struct sa_config cfg;
    struct sa_err err = {0};
    assert_int_equal(sa_config_from_env(&cfg, &err), 0);
    assert_null(cfg.imap_url);
    assert_int_equal(cfg.imap_poll_seconds, 60);
    setenv("IMAP_USER", "replies@example.com", 1);
    env_rejected("IMAP_URL", "pop3://mail.example.com/INBOX",
                 "IMAP_URL: expected imap://HOST/MAILBOX or imaps://HOST/MAILBOX");
    env_rejected("IMAP_URL", "imaps://mail.example.com",
                 "IMAP_URL: name the mailbox (imaps://HOST/INBOX)");
    env_rejected("IMAP_URL", "imaps://mail.example.com/",
                 "IMAP_URL: name the mailbox (imaps://HOST/INBOX)");
    env_rejected("IMAP_URL", "imaps://mail.example.com/INBOX;UID=4",
                 "IMAP_URL: the mailbox only, without ;UID=, a search or a fragment");
    /* libcurl's host ends at '?' or '#': this is evil's, in clear, not the loopback's */
    env_rejected("IMAP_URL", "imap://evil?@localhost/INBOX",
                 "IMAP_URL: no '?' or '#' before the mailbox (libcurl would take the host "
                 "before it)");
    env_rejected("IMAP_URL", "imap://evil#@127.0.0.1:1143/INBOX",
                 "IMAP_URL: no '?' or '#' before the mailbox (libcurl would take the host "
                 "before it)");
    env_rejected("IMAP_POLL_SECONDS", "0", "IMAP_POLL_SECONDS=0: expected an integer 1-86400");
    unsetenv("IMAP_USER");
    env_rejected("IMAP_URL", "imaps://mail.example.com/INBOX",
                 "IMAP_URL: set IMAP_USER (or a user in the URL)");
    /* a password in the URL is never part of an error */
    setenv("IMAP_URL", "imaps://dana:hunter2-secret@mail.example.com", 1);
    assert_int_equal(sa_config_from_env(&cfg, &err), SA_ECONFIG);
    assert_null(strstr(err.msg, "hunter2"));
    setenv("IMAP_URL", "imaps://dana:hunter2-secret@mail.example.com/INBOX", 1);
    setenv("IMAP_PASSWORD", "s3cret", 1);
    setenv("IMAP_POLL_SECONDS", "15", 1);
    assert_int_equal(sa_config_from_env(&cfg, &err), 0);
    assert_int_equal(cfg.imap_poll_seconds, 15);
    assert_string_equal(cfg.imap_password, "s3cret");
    size_t n;
    const struct sa_setting *st = sa_config_settings(&n);
    int secrets = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(st[i].env, "IMAP_URL") == 0 || strcmp(st[i].env, "IMAP_PASSWORD") == 0)
            secrets += st[i].secret ? 1 : 0;
    assert_int_equal(secrets, 2);
    unsetenv("IMAP_URL");
    unsetenv("IMAP_PASSWORD");
    unsetenv("IMAP_POLL_SECONDS");
}

static void test_bad_env(void **state)
{
    (void)state;
    env_rejected("OUTBOX_POLL_MS", "abc",
                 "OUTBOX_POLL_MS=abc: expected an integer 0-3600000 (0 holds outgoing mail)");
    env_rejected("PORT", "99999",
                 "PORT=99999: expected an integer 0-65535 (0: any free port, logged in the "
                 "\"listening\" line)");
    env_rejected("PORT", "80x",
                 "PORT=80x: expected an integer 0-65535 (0: any free port, logged in the "
                 "\"listening\" line)");
    env_rejected("THREADS", "-1", "THREADS=-1: expected an integer 0-256 (0: 2 per CPU)");
    env_rejected("BDR_MAX_TOUCHES_PER_WEEK", "1001",
                 "BDR_MAX_TOUCHES_PER_WEEK=1001: expected an integer 0-1000 (0: no cap)");
    env_rejected("AUTH_FAILURES_PER_MINUTE", "-1",
                 "AUTH_FAILURES_PER_MINUTE=-1: expected an integer 0-10000000 (0: no limit)");
    env_rejected("MEETING_MINUTES", "4",
                 "MEETING_MINUTES=4: expected an integer 5-480 (no longer than the working day)");
    /* a fraction */
    env_rejected("CONVERSATION_REVIEW_THRESHOLD", "1.5",
                 "CONVERSATION_REVIEW_THRESHOLD=1.5: expected a number 0-1 (0: every turn is "
                 "answered)");
    env_rejected("CONVERSATION_REVIEW_THRESHOLD", "0.5x",
                 "CONVERSATION_REVIEW_THRESHOLD=0.5x: expected a number 0-1 (0: every turn is "
                 "answered)");
    env_rejected("PIPELINE_STEP_DELAY_MS", "60001",
                 "PIPELINE_STEP_DELAY_MS=60001: expected an integer 0-60000");
    /* bytes and seconds */
    env_rejected("MAX_BODY_BYTES", "1023",
                 "MAX_BODY_BYTES=1023: expected an integer 1024-67108864");
    env_rejected("ENRICHMENT_TTL_SECONDS", "0",
                 "ENRICHMENT_TTL_SECONDS=0: expected an integer 1-31536000");
    env_rejected("BREAKER_OPEN_SECONDS", "1.5",
                 "BREAKER_OPEN_SECONDS=1.5: expected an integer 1-86400");
    /* enum */
    env_rejected("LOG_LEVEL", "loud", "LOG_LEVEL=loud: expected debug, info, warn, error or off");
    /* URLs */
    env_rejected("DATABASE_URL", "var/x.db",
                 "DATABASE_URL: expected a URL: sqlite://PATH, sqlite::memory: or "
                        "postgresql://USER[:PASSWORD]@HOST[:PORT]/DB (the value is not shown)");
    /* by SMTP, a delivery may not outlast the outbox's lease (Maildir has no deadline) */
    setenv("OUTBOX_LEASE_SECONDS", "60", 1);
    env_rejected("MAIL_TRANSPORT", "smtp://u:pw@smtp.acme.io",
                 "SMTP_CONNECT_TIMEOUT_MS + SMTP_TIMEOUT_MS (70000 ms) must be shorter than "
                 "OUTBOX_LEASE_SECONDS (60 s)");
    {
        struct sa_config cfg;
        struct sa_err err = {0};
        setenv("MAIL_TRANSPORT", "maildir:var/mail", 1);
        assert_int_equal(sa_config_from_env(&cfg, &err), 0);
        setenv("MAIL_TRANSPORT", "smtps://u:pw@smtp.acme.io", 1);
        setenv("SMTP_TIMEOUT_MS", "45000", 1);
        setenv("SMTP_CONNECT_TIMEOUT_MS", "5000", 1);
        assert_int_equal(sa_config_from_env(&cfg, &err), 0);
        assert_int_equal(cfg.smtp_timeout_ms, 45000);
        unsetenv("MAIL_TRANSPORT");
        unsetenv("SMTP_TIMEOUT_MS");
        unsetenv("SMTP_CONNECT_TIMEOUT_MS");
    }
    unsetenv("OUTBOX_LEASE_SECONDS");
    /* an smtp:// URL may hold a password: a bad value is not echoed */
    env_rejected("MAIL_TRANSPORT", "maildir:",
                 "MAIL_TRANSPORT: expected a URL: maildir:DIR, "
                 "smtp://[USER:PASS@]HOST[:PORT][?starttls=none] or "
                 "smtps://[USER:PASS@]HOST[:PORT] (README: Sending by SMTP) (the value is not "
                 "shown)");
    /* a long value is cut in the message */
    char big[200];
    memset(big, '9', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    env_rejected("PORT", big,
                 "PORT=999999999999999999999999999999999999999999999999999999999999...: expected "
                 "an integer 0-65535 (0: any free port, logged in the \"listening\" line)");
}

static void test_bad_flags(void **state)
{
    (void)state;
    struct sa_config cfg;
    struct sa_err err = {0};
    char *port[] = {"--port", "99999", NULL};
    int argc = 2;
    assert_int_equal(sa_config_load(&cfg, SA_CMD_SERVE, &argc, port, &err), SA_ECONFIG);
    assert_string_equal(err.msg, "--port 99999: expected an integer 0-65535 (0: any free port, "
                                 "logged in the \"listening\" line)");
    char *level[] = {"--log-level=loud", NULL};
    argc = 1;
    assert_int_equal(sa_config_load(&cfg, SA_CMD_QUALIFY, &argc, level, &err), SA_ECONFIG);
    assert_string_equal(err.msg, "--log-level loud: expected debug, info, warn, error or off");
    char *metrics[] = {"--metrics-port", "-2", NULL};
    argc = 2;
    assert_int_equal(sa_config_load(&cfg, SA_CMD_WORKER, &argc, metrics, &err), SA_ECONFIG);
    assert_string_equal(err.msg, "--metrics-port -2: expected an integer -1-65535 (-1: none; 0: "
                                 "any free port, printed at start-up)");
    char *missing[] = {"--threads", NULL};
    argc = 1;
    assert_int_equal(sa_config_load(&cfg, SA_CMD_SERVE, &argc, missing, &err), SA_ECONFIG);
    assert_string_equal(err.msg, "--threads: expected a value: an integer 0-256 (0: 2 per CPU)");
    /* a bad variable stops start-up even when a flag overrides it */
    setenv("PORT", "x", 1);
    char *good[] = {"--port", "8002", NULL};
    argc = 2;
    assert_int_equal(sa_config_load(&cfg, SA_CMD_SERVE, &argc, good, &err), SA_ECONFIG);
    assert_non_null(strstr(err.msg, "PORT=x: expected an integer 0-65535"));
}

static void test_range_text(void **state)
{
    (void)state;
    size_t n;
    const struct sa_setting *s = sa_config_settings(&n);
    char buf[200];
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s[i].env, "HOST") == 0) {
            assert_string_equal(sa_setting_range(&s[i], buf, sizeof buf),
                                "an IPv4 or IPv6 address or a host name");
            assert_string_equal(sa_setting_default(&s[i]), "127.0.0.1");
        } else if (strcmp(s[i].env, "THREADS") == 0) {
            assert_string_equal(sa_setting_default(&s[i]), "2 per CPU");
        } else if (strcmp(s[i].env, "COMPANIES_CSV") == 0) {
            assert_string_equal(sa_setting_default(&s[i]), "none");
        }
    }
    /* a small buffer truncates, NUL-terminated */
    assert_string_equal(sa_setting_range(&s[0], buf, 6), "debug");
}

/* README's configuration table is the one the settings table writes. */
static void test_readme(void **state)
{
    (void)state;
    char *table = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&table, &len);
    assert_non_null(m);
    sa_config_write_markdown(m);
    assert_int_equal(fclose(m), 0);
    FILE *f = fopen(SA_SOURCE_DIR "/README.md", "r");
    assert_non_null(f);
    static char readme[1 << 20];
    size_t n = fread(readme, 1, sizeof readme - 1, f);
    fclose(f);
    readme[n] = '\0';
    bool same = strstr(readme, table) != NULL;
    if (!same)
        fprintf(stderr, "README.md's configuration table should be:\n%s", table);
    free(table);
    assert_true(same);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, clear_env),
        cmocka_unit_test_setup(test_table, clear_env),
        cmocka_unit_test_setup(test_checkpoint_store, clear_env),
        cmocka_unit_test_setup(test_env_overrides, clear_env),
        cmocka_unit_test_setup(test_flags, clear_env),
        cmocka_unit_test_setup(test_empty_is_default, clear_env),
        cmocka_unit_test_setup(test_bad_env, clear_env),
        cmocka_unit_test_setup(test_imap_settings, clear_env),
        cmocka_unit_test_setup(test_bad_flags, clear_env),
        cmocka_unit_test_setup(test_range_text, clear_env),
        cmocka_unit_test(test_readme),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

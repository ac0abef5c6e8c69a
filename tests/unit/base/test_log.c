/* Pins PII masking in logs: e-mail local parts (every RFC 5322 form) are masked whole but
 * for a first letter, phone numbers in the usual formats keep their last two digits, ids,
 * UUIDs, times and durations stay as they are, secrets are redacted by field name, and
 * nothing is cut however long. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"

static void check(const char *in, const char *want)
{
    char out[256];
    sa_mask_pii(in, out, sizeof out);
    assert_string_equal(out, want);
}

static void test_mask_email(void **state)
{
    (void)state;
    check("jane.doe@acme.io", "j***@acme.io");
    check("contact: bob+sales@example.co.uk, thanks", "contact: b***@example.co.uk, thanks");
    check("no at sign here", "no at sign here");
    check("@handle and a@b", "@handle and a@b");
}

static void test_mask_phone(void **state)
{
    (void)state;
    check("+1 (415) 555-0134", "+* (***) ***-**34");
    check("call 020 7946 0018 now", "call *** **** **18 now");
    check("order 12345", "order 12345");                   /* too short for a phone */
    check("id 3f2a1b9c12345678d", "id 3f2a1b9c12345678d"); /* digits glued to letters */
}

/* Every atext character and quoted local parts: the whole local part goes. */
static void test_mask_email_rfc5322(void **state)
{
    (void)state;
    check("o'brien@example.com", "o***@example.com");
    const char *specials = "!#$%&'*+-/=?^_`{|}~";
    for (const char *c = specials; *c; c++) {
        char in[64], lead[64];
        snprintf(in, sizeof in, "a%cb@example.com", *c);
        check(in, "a***@example.com");
        snprintf(lead, sizeof lead, "%cb@example.com", *c); /* not a letter: not kept */
        check(lead, *c == '/' ? "/b***@example.com" : "***@example.com"); /* '/': a path */
    }
    check("first.last+tag@sub.example.co.uk", "f***@sub.example.co.uk");
    check("\"john doe\"@x.com", "***@x.com");
    check("mail \"john doe\"@x.com now", "mail ***@x.com now");
    check("john.\"doe smith\"@x.com", "j***@x.com");
    check("say \"hi\" to \"a\\\"b\"@x.com", "say \"hi\" to ***@x.com"); /* escaped quote */
    check("{\"email\":\"jane@x.com\"}", "{\"email\":\"j***@x.com\"}");  /* quotes around */
    check("a@x.com,b@y.org", "a***@x.com,b***@y.org");
    check("write to jane@x.com.", "write to j***@x.com.");
    /* '/' is atext: in a URL path only the last segment is the address; elsewhere a '/'
     * is part of the local part */
    check("/api/contacts/jane@x.com/dnc", "/api/contacts/j***@x.com/dnc");
    check("GET /api/leads/zelda.quux@example-corp.com", "GET /api/leads/z***@example-corp.com");
    check("/api/leads?email=jane@x.com", "/api/l***@x.com");
    check("/api/@x.com", "/api/@x.com"); /* no local part after the last '/' */
    check("a/b@x.com", "a***@x.com");
}

/* Ids, UUIDs, hashes, times and durations are never masked, whatever digits they hold. */
static void test_ids_and_times_stay(void **state)
{
    (void)state;
    const char *same[] = {
        "/api/runs/01a23595-eb6e-7000-99aa-a4b654443322",
        "/api/runs/01a23595-1234-7000-9912-a4b654443322/stream",
        "run 01234567-8901-7234-8567-890123456789", /* a UUID of digits only */
        "lead 3f2a-12345678",
        "sha 9f86d081884c7d659a2feaa0c55ad015 and 1234567890abcdef",
        "v1.2.3-rc1 lead_1234567 build-20261202",
        "2026-12-02T07:10:00Z",
        "at 2026-12-02T07:10:00.123456Z",
        "2026-12-02 07:10:00",
        "on 02.12.2026 and 2026.12.02",
        "took 1234.5678 ms, 12.5ms, 1234567ns, 00:00:01.234567, PT1H30M",
        "from 10.0.12.254 and 192.168.100.200",
        "order 12345",
        "1234567890123456", /* 16 digits: longer than any phone number */
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        check(same[i], same[i]);
}

/* Phone numbers in the usual formats, exactly. */
static void test_mask_phone_formats(void **state)
{
    (void)state;
    check("+49 30 1234567", "+** ** *****67");
    check("(415) 555-0123", "(***) ***-**23");
    check("415.555.0123", "***.***.**23");
    check("+1-415-555-0123", "+*-***-***-**23");
    check("0049 (0)30 12345678", "**** (*)** ******78");
    check("tel:+14155550123", "tel:+*********23");
    check("call 4155550123 today", "call ********23 today");
    check("fax: +33 1 23 45 67 89.", "fax: +** * ** ** ** 89.");
    check("a 2026-12-02 call to 415-555-0123", "a 2026-12-02 call to ***-***-**23");
}

/* One log line written with fields, read back and parsed (new reference). */
static json_t *logged(const char *msg, json_t *fields)
{
    char path[] = "/tmp/sa_test_log_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    sa_log_setup(SA_LOG_INFO, fd);
    sa_log(SA_LOG_INFO, msg, fields);
    sa_log_setup(SA_LOG_INFO, 2);
    close(fd);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    json_error_t je;
    json_t *v = json_loadf(f, JSON_DISABLE_EOF_CHECK | JSON_ALLOW_NUL, &je);
    fclose(f);
    unlink(path);
    if (!v)
        fail_msg("log line: %s", je.text);
    return v;
}

/* Fields named like secrets are replaced whatever they hold, at any depth; other fields
 * are not; the caller's values are left as they were. */
static void test_secrets_redacted(void **state)
{
    (void)state;
    json_t *headers = json_pack("{s:s, s:s}", "Authorization", "Bearer abc.def", "accept", "*/*");
    json_t *fields = json_pack(
        "{s:s, s:s, s:i, s:{s:i}, s:n, s:s, s:O, s:s, s:i, s:s}", "x-api-key", "sk_live_1",
        "API_KEY", "k", "token", 12345678, "secret", "a", 1, "Secret", "PASSWORD", "hunter2",
        "headers", headers, "key", "0123456789abcdef", "tokens", 3, "password_hint", "pets");
    json_t *v = logged("login", fields);
    const char *redacted[] = {"x-api-key", "API_KEY", "token", "secret", "Secret", "PASSWORD"};
    for (size_t i = 0; i < sizeof redacted / sizeof redacted[0]; i++)
        assert_string_equal(json_string_value(json_object_get(v, redacted[i])), "[redacted]");
    json_t *h = json_object_get(v, "headers");
    assert_string_equal(json_string_value(json_object_get(h, "Authorization")), "[redacted]");
    assert_string_equal(json_string_value(json_object_get(h, "accept")), "*/*");
    assert_string_equal(json_string_value(json_object_get(v, "key")), "0123456789abcdef");
    assert_int_equal(json_integer_value(json_object_get(v, "tokens")), 3);
    assert_string_equal(json_string_value(json_object_get(v, "password_hint")), "pets");
    json_decref(v);
    /* the log masked a copy: the caller's headers still hold the credential */
    assert_string_equal(json_string_value(json_object_get(headers, "Authorization")),
                        "Bearer abc.def");
    json_decref(headers);
}

/* A long path, a long printf message and a string holding a NUL are logged whole. */
/* An API key pasted into a path or a message keeps its public id, loses its secret. */
/* An unsubscribe link's token (the address in base64 and a working opt-out) is masked. */
static void test_unsubscribe_token_masked(void **state)
{
    (void)state;
    char out[256];
    sa_mask_pii("POST /unsubscribe/cHJpeWFAaGFyYm9ybGlnaHQuaW8.76LmQx-_9a", out, sizeof out);
    assert_string_equal(out, "POST /unsubscribe/***");
    sa_mask_pii("/unsubscribe/ab and /unsubscribe/", out, sizeof out); /* too short: kept */
    assert_string_equal(out, "/unsubscribe/ab and /unsubscribe/");
}

static void test_api_keys_masked(void **state)
{
    (void)state;
    char out[256];
    sa_mask_pii("GET /api/leads/sa_0123456789abcdef_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde/x",
                out, sizeof out);
    assert_string_equal(out, "GET /api/leads/sa_0123456789abcdef_***/x");
    /* not a key: too short, or glued to more characters */
    sa_mask_pii("sa_0123456789abcdef_short and xsa_0123456789abcdef_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde",
                out, sizeof out);
    assert_string_equal(out, "sa_0123456789abcdef_short and xsa_0123456789abcdef_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde");
}

static void test_long_values_whole(void **state)
{
    (void)state;
    char path[6000];
    size_t n = 0;
    for (int i = 0; i < 500; i++)
        n += (size_t)snprintf(path + n, sizeof path - n, "/seg%05d", i);
    snprintf(path + n, sizeof path - n, "/01a23595-1234-7000-9912-a4b654443322/x");
    json_t *v = logged("request", json_pack("{s:s}", "path", path));
    assert_string_equal(json_string_value(json_object_get(v, "path")), path);
    json_decref(v);

    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char fpath[] = "/tmp/sa_test_logf_XXXXXX";
    int fd = mkstemp(fpath);
    assert_true(fd >= 0);
    sa_log_setup(SA_LOG_INFO, fd);
    sa_logf(SA_LOG_INFO, "%s end %d", big, 42);
    sa_log_setup(SA_LOG_INFO, 2);
    close(fd);
    FILE *f = fopen(fpath, "r");
    json_error_t je;
    v = json_loadf(f, JSON_DISABLE_EOF_CHECK, &je);
    fclose(f);
    unlink(fpath);
    assert_non_null(v);
    const char *msg = json_string_value(json_object_get(v, "msg"));
    assert_int_equal(strlen(msg), sizeof big - 1 + strlen(" end 42"));
    assert_string_equal(msg + sizeof big - 1, " end 42");
    json_decref(v);

    /* a NUL does not end the value: what follows it is kept, and masked */
    static const char nul[] = "a\0b jane@x.com 4155550123";
    v = logged("nul", json_pack("{s:s%}", "path", nul, sizeof nul - 1));
    json_t *got = json_object_get(v, "path");
    static const char want[] = "a\0b j***@x.com ********23";
    assert_int_equal(json_string_length(got), sizeof want - 1);
    assert_memory_equal(json_string_value(got), want, sizeof want - 1);
    json_decref(v);
}

static void test_log_line_is_json_and_masked(void **state)
{
    (void)state;
    char path[] = "/tmp/sa_test_log_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    sa_log_setup(SA_LOG_INFO, fd);
    sa_log(SA_LOG_DEBUG, "hidden", NULL);
    sa_log(SA_LOG_INFO, "lead from jane@acme.io",
           json_pack("{s:s, s:s}", "phone", "+44 20 7946 0018", "lead_id", "1234567890"));
    sa_log_setup(SA_LOG_INFO, 2);
    close(fd);
    FILE *f = fopen(path, "r");
    char line[1024] = "";
    assert_non_null(fgets(line, sizeof line, f));
    char extra[8];
    assert_null(fgets(extra, sizeof extra, f)); /* the debug line was filtered out */
    fclose(f);
    unlink(path);
    json_error_t je;
    json_t *v = json_loads(line, 0, &je);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "msg")), "lead from j***@acme.io");
    assert_string_equal(json_string_value(json_object_get(v, "phone")), "+** ** **** **18");
    assert_string_equal(json_string_value(json_object_get(v, "lead_id")), "1234567890");
    assert_string_equal(json_string_value(json_object_get(v, "level")), "info");
    json_decref(v);
}

/* An address whose '@' is still percent-encoded: a path escaped twice (%2540) reaches the
 * request log as "%40" after one decoding, and a query string keeps its "%40". */
static void test_mask_email_percent_encoded(void **state)
{
    (void)state;
    check("/api/contacts/erin.secret%40victim.example.com", "/api/contacts/e***%40victim.example.com");
    check("erin%40victim.example.com and bob%40x.org", "e***%40victim.example.com and b***%40x.org");
    check("to=jane.doe%40acme.io&x=1", "t***%40acme.io&x=1"); /* too much rather than too little */
    check("100%40 of them", "100%40 of them");             /* no domain: not an address */
    check("%40x.com", "%40x.com");                           /* no local part */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_email),
        cmocka_unit_test(test_mask_phone),
        cmocka_unit_test(test_log_line_is_json_and_masked),
        cmocka_unit_test(test_mask_email_rfc5322),
        cmocka_unit_test(test_ids_and_times_stay),
        cmocka_unit_test(test_mask_phone_formats),
        cmocka_unit_test(test_secrets_redacted),
        cmocka_unit_test(test_long_values_whole),
        cmocka_unit_test(test_api_keys_masked),
        cmocka_unit_test(test_unsubscribe_token_masked),
        cmocka_unit_test(test_mask_email_percent_encoded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

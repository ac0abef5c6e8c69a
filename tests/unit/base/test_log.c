/* Pins PII masking in logs: e-mails keep their first letter and domain, phone numbers
 * keep their last two digits, ids and timestamps-like tokens glued to letters stay. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_email),
        cmocka_unit_test(test_mask_phone),
        cmocka_unit_test(test_log_line_is_json_and_masked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

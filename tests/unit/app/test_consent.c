/* Unsubscribe links name the server's address: PUBLIC_URL, else http://HOST:PORT, and
 * with PORT 0 the port the server bound (sa_consent_bind), not ":0" (they said
 * http://127.0.0.1:0/unsubscribe/... with `serve --port 0`). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "app/consent.h"
#include "base/config.h"

static const char SECRET[] = "0123456789abcdef0123456789abcdef-test";

static void link_for(struct sa_config *cfg, int bound, char url[SA_CONSENT_URL_MAX])
{
    cfg->unsubscribe_secret = SECRET; /* no store needed */
    struct sa_consent *c = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_consent_open(cfg, NULL, "alex@pipewise.example", NULL, &c, &err), 0);
    if (bound)
        sa_consent_bind(c, bound);
    const char *mailto = NULL, *address = NULL;
    assert_int_equal(sa_consent_links(c, "maya@quorvianta.io", url, &mailto, &address), 0);
    sa_consent_free(c);
}

static void test_port_zero_takes_the_bound_port(void **state)
{
    (void)state;
    struct sa_config cfg = {.host = "127.0.0.1", .port = 0};
    char url[SA_CONSENT_URL_MAX];
    link_for(&cfg, 41234, url);
    assert_non_null(strstr(url, "http://127.0.0.1:41234/unsubscribe/"));
    link_for(&cfg, 0, url); /* not bound yet: what was configured */
    assert_non_null(strstr(url, "http://127.0.0.1:0/unsubscribe/"));
}

static void test_configured_address_stays(void **state)
{
    (void)state;
    char url[SA_CONSENT_URL_MAX];
    struct sa_config cfg = {.host = "127.0.0.1", .port = 8001};
    link_for(&cfg, 41234, url); /* a fixed port is the port */
    assert_non_null(strstr(url, "http://127.0.0.1:8001/unsubscribe/"));
    struct sa_config pub = {
        .host = "127.0.0.1", .port = 0, .public_url = "https://sales.example.com/"};
    link_for(&pub, 41234, url); /* PUBLIC_URL wins, its trailing '/' dropped */
    assert_non_null(strstr(url, "https://sales.example.com/unsubscribe/"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_zero_takes_the_bound_port),
        cmocka_unit_test(test_configured_address_stays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

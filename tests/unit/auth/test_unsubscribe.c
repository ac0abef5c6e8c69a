/* Pins unsubscribe tokens: a token names its e-mail and verifies only with its secret;
 * a changed character, another secret, a truncated or malformed token are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth/unsubscribe.h"

#define SECRET "0123456789abcdef0123456789abcdef"

static void test_round_trip(void **state)
{
    (void)state;
    char tok[SA_UNSUB_TOKEN_MAX], email[SA_UNSUB_EMAIL_MAX + 1];
    const char *addrs[] = {"maya@quorvianta.io", "a@b.co", "x+tag@sub.example.com"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(sa_unsub_token(SECRET, 32, addrs[i], tok), 0);
        assert_non_null(strchr(tok, '.'));
        assert_null(strpbrk(tok, "+/=@ ")); /* URL-safe as it is */
        assert_int_equal(sa_unsub_verify(SECRET, 32, tok, email), 0);
        assert_string_equal(email, addrs[i]);
    }
    /* the same input gives the same token; another address another one */
    char again[SA_UNSUB_TOKEN_MAX];
    assert_int_equal(sa_unsub_token(SECRET, 32, addrs[2], again), 0);
    assert_string_equal(tok, again);
}

static void test_refused(void **state)
{
    (void)state;
    char tok[SA_UNSUB_TOKEN_MAX], email[SA_UNSUB_EMAIL_MAX + 1];
    assert_int_equal(sa_unsub_token(SECRET, 32, "maya@quorvianta.io", tok), 0);
    /* another secret */
    assert_int_equal(sa_unsub_verify("another secret of 32 bytes......", 32, tok, email),
                     SA_ENOTFOUND);
    assert_string_equal(email, "");
    /* every single-character change of the signature */
    size_t dot = (size_t)(strchr(tok, '.') - tok);
    for (size_t i = dot + 1; tok[i]; i++) {
        char t[SA_UNSUB_TOKEN_MAX];
        memcpy(t, tok, sizeof t);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        assert_int_equal(sa_unsub_verify(SECRET, 32, t, email), SA_ENOTFOUND);
    }
    /* the last character carries bits no signature uses: changing only those is refused
     * too, so an address has exactly one token */
    char t2[SA_UNSUB_TOKEN_MAX];
    memcpy(t2, tok, sizeof t2);
    size_t last = strlen(t2) - 1;
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int v = (int)(strchr(alphabet, t2[last]) - alphabet);
    t2[last] = alphabet[v ^ 1]; /* a bit past the 128 of the signature */
    assert_int_equal(sa_unsub_verify(SECRET, 32, t2, email), SA_ENOTFOUND);
    /* someone else's address with this signature */
    char other[SA_UNSUB_TOKEN_MAX];
    assert_int_equal(sa_unsub_token(SECRET, 32, "ceo@quorvianta.io", other), 0);
    char forged[2 * SA_UNSUB_TOKEN_MAX];
    snprintf(forged, sizeof forged, "%.*s%s", (int)(strchr(other, '.') - other), other, tok + dot);
    assert_int_equal(sa_unsub_verify(SECRET, 32, forged, email), SA_ENOTFOUND);
    static const char *const bad[] = {"", ".", "abc", "bWF5YUB4LmlvCg.", ".AAAA", "b!!.AAAA",
                                      "bWF5YUB4Lmlv.AAAAAAAAAAAAAAAAAAAAAA=="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(sa_unsub_verify(SECRET, 32, bad[i], email), SA_ENOTFOUND);
    assert_int_equal(sa_unsub_token(SECRET, 32, "", tok), SA_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_round_trip),
                                       cmocka_unit_test(test_refused)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Pins API keys: the generated format, the parser's refusals (prefix, length, characters),
 * verification of the right key and refusal of a one-character change, fresh randomness
 * per key, and a hash fixed by salt and key (a known SHA-256 vector). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <string.h>

#include <cmocka.h>

#include "auth/apikey.h"

static bool all_of(const char *s, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr(set, s[i]))
            return false;
    return true;
}

#define HEX "0123456789abcdef"
#define B64URL "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

static void test_generate_format(void **state)
{
    (void)state;
    struct sa_apikey_secret s;
    struct sa_err err = {0};
    assert_int_equal(sa_apikey_generate(&s, &err), 0);
    assert_int_equal(strlen(s.key), SA_APIKEY_LEN);
    assert_int_equal(strlen(s.key), 63);
    assert_memory_equal(s.key, "sa_", 3);
    assert_true(all_of(s.key + 3, SA_APIKEY_ID_LEN, HEX));
    assert_int_equal(s.key[3 + SA_APIKEY_ID_LEN], '_');
    assert_true(all_of(s.key + 20, 43, B64URL));
    assert_memory_equal(s.id, s.key + 3, SA_APIKEY_ID_LEN);
    assert_int_equal(strlen(s.id), SA_APIKEY_ID_LEN);
    assert_int_equal(strlen(s.salt), SA_APIKEY_SALT_LEN);
    assert_true(all_of(s.salt, SA_APIKEY_SALT_LEN, HEX));
    assert_int_equal(strlen(s.hash), SA_APIKEY_HASH_LEN);
    assert_true(all_of(s.hash, SA_APIKEY_HASH_LEN, HEX));
    /* the key itself appears nowhere in what is stored */
    assert_null(strstr(s.hash, s.key + 20));

    char id[SA_APIKEY_ID_LEN + 1];
    assert_int_equal(sa_apikey_parse(s.key, id), 0);
    assert_string_equal(id, s.id);
    assert_true(sa_apikey_verify(s.key, s.salt, s.hash));
}

static void test_generated_keys_differ(void **state)
{
    (void)state;
    struct sa_apikey_secret a, b;
    assert_int_equal(sa_apikey_generate(&a, NULL), 0);
    assert_int_equal(sa_apikey_generate(&b, NULL), 0);
    assert_string_not_equal(a.key, b.key);
    assert_string_not_equal(a.id, b.id);
    assert_string_not_equal(a.salt, b.salt);
    assert_string_not_equal(a.hash, b.hash);
    assert_string_not_equal(a.key + 20, b.key + 20);
    /* one key's secret does not open the other's record */
    assert_false(sa_apikey_verify(a.key, b.salt, b.hash));
    assert_false(sa_apikey_verify(b.key, a.salt, a.hash));
}

static const char good[] = "sa_0123456789abcdef_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq";

static void test_parse_rejects(void **state)
{
    (void)state;
    char id[SA_APIKEY_ID_LEN + 1] = "x";
    assert_int_equal(strlen(good), SA_APIKEY_LEN);
    assert_int_equal(sa_apikey_parse(good, id), 0);
    assert_string_equal(id, "0123456789abcdef");

    char k[80];
    static const struct {
        const char *what;
        size_t pos;
        char c;
    } bad_chars[] = {
        {"prefix", 0, 'S'},         {"prefix", 2, '-'},        {"uppercase hex id", 3, 'A'},
        {"non-hex id", 18, 'g'},    {"separator", 19, '-'},    {"secret with '+'", 20, '+'},
        {"secret with '/'", 40, '/'}, {"secret with '='", 62, '='}, {"NUL in secret", 30, '\0'},
    };
    for (size_t i = 0; i < sizeof bad_chars / sizeof bad_chars[0]; i++) {
        memcpy(k, good, sizeof good);
        k[bad_chars[i].pos] = bad_chars[i].c;
        id[0] = 'x';
        id[1] = '\0';
        if (sa_apikey_parse(k, id) != SA_EINVAL)
            fail_msg("accepted a key with a bad %s", bad_chars[i].what);
        assert_string_equal(id, "");
    }
    /* length: one short, one long, empty, NULL, another prefix */
    memcpy(k, good, sizeof good);
    k[SA_APIKEY_LEN - 1] = '\0';
    assert_int_equal(sa_apikey_parse(k, id), SA_EINVAL);
    memcpy(k, good, sizeof good);
    k[SA_APIKEY_LEN] = 'a';
    k[SA_APIKEY_LEN + 1] = '\0';
    assert_int_equal(sa_apikey_parse(k, id), SA_EINVAL);
    assert_int_equal(sa_apikey_parse("", id), SA_EINVAL);
    assert_int_equal(sa_apikey_parse(NULL, id), SA_EINVAL);
    assert_int_equal(
        sa_apikey_parse("sk_0123456789abcdef_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq", id),
        SA_EINVAL);
}

static void test_verify_one_char_change(void **state)
{
    (void)state;
    struct sa_apikey_secret s;
    assert_int_equal(sa_apikey_generate(&s, NULL), 0);
    assert_true(sa_apikey_verify(s.key, s.salt, s.hash));
    /* every position of the secret, changed to another valid character, fails */
    for (size_t i = 20; i < SA_APIKEY_LEN; i++) {
        char k[SA_APIKEY_LEN + 1];
        memcpy(k, s.key, sizeof k);
        k[i] = k[i] == 'A' ? 'B' : 'A';
        if (sa_apikey_verify(k, s.salt, s.hash))
            fail_msg("a key changed at position %zu verified", i);
    }
    /* another salt or a changed hash fails; so does a malformed key or stored hash */
    char salt[SA_APIKEY_SALT_LEN + 1];
    memcpy(salt, s.salt, sizeof salt);
    salt[0] = salt[0] == '0' ? '1' : '0';
    assert_false(sa_apikey_verify(s.key, salt, s.hash));
    char hash[SA_APIKEY_HASH_LEN + 1];
    memcpy(hash, s.hash, sizeof hash);
    hash[63] = hash[63] == '0' ? '1' : '0';
    assert_false(sa_apikey_verify(s.key, s.salt, hash));
    hash[63] = '\0';
    assert_false(sa_apikey_verify(s.key, s.salt, hash));
    assert_false(sa_apikey_verify(s.key, s.salt, ""));
    assert_false(sa_apikey_verify(NULL, s.salt, s.hash));
    assert_false(sa_apikey_verify(s.key, NULL, s.hash));
    assert_false(sa_apikey_verify(s.key, s.salt, NULL));
    char truncated[SA_APIKEY_LEN + 1];
    memcpy(truncated, s.key, sizeof truncated);
    truncated[SA_APIKEY_LEN - 1] = '\0';
    assert_false(sa_apikey_verify(truncated, s.salt, s.hash));
}

static void test_hash_deterministic(void **state)
{
    (void)state;
    const char *salt = "000102030405060708090a0b0c0d0e0f";
    char h1[SA_APIKEY_HASH_LEN + 1], h2[SA_APIKEY_HASH_LEN + 1];
    sa_apikey_hash(salt, good, h1);
    sa_apikey_hash(salt, good, h2);
    assert_string_equal(h1, h2);
    /* SHA-256 of the salt text followed by the 43 secret characters, computed independently
     * (printf '%s%s' 000102...0f ABCD...opq | sha256sum): the id is not hashed. */
    assert_string_equal(h1, "869c7568f2aa069ed5afbfa385a3e7219bcbd9cb2e8054938f30d845e73b5912");
    assert_true(sa_apikey_verify(good, salt, h1));
    /* the same secret under another id hashes the same (the id is the lookup, not the proof) */
    char other_id[] = "sa_fedcba9876543210_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq";
    sa_apikey_hash(salt, other_id, h2);
    assert_string_equal(h1, h2);
    /* another salt, another hash */
    sa_apikey_hash("ffffffffffffffffffffffffffffffff", good, h2);
    assert_string_not_equal(h1, h2);
}

/* Each thread hashes with its own digest context (freed when the thread exits, which the
 * leak checker confirms): many threads at once get the same, right answer. */
static void *hash_many(void *arg)
{
    int *ok = arg;
    for (int i = 0; i < 500; i++) {
        char h[SA_APIKEY_HASH_LEN + 1];
        sa_apikey_hash("000102030405060708090a0b0c0d0e0f", good, h);
        if (strcmp(h, "869c7568f2aa069ed5afbfa385a3e7219bcbd9cb2e8054938f30d845e73b5912") == 0)
            (*ok)++;
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t th[4];
    int ok[4] = {0};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hash_many, &ok[i]), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(ok[i], 500);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_format),
        cmocka_unit_test(test_generated_keys_differ),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_verify_one_char_change),
        cmocka_unit_test(test_hash_deterministic),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

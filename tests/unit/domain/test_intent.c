/* Pins intent recognition: trained on data/intents/en.tsv alone it labels held-out examples
 * well, labels new phrasings of each intent, ranks its alternatives, and refuses a
 * malformed training file naming the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain/intent.h"

#define DATA SA_SOURCE_DIR "/data/intents/en.tsv"

/* The examples in a training file: lines other than blanks and # comments. */
static size_t example_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    size_t n = 0;
    while (fgets(line, sizeof line, f))
        n += line[0] != '#' && line[0] != '\n';
    fclose(f);
    return n;
}

static void test_heldout_accuracy(void **state)
{
    (void)state;
    struct sa_intent_model *m = NULL;
    struct sa_intent_eval ev = {0};
    struct sa_err err = {0};
    assert_int_equal(sa_intent_train(DATA, &m, &ev, &err), 0);
    assert_int_equal(ev.train + ev.test, example_lines(DATA));
    assert_true(ev.test >= 140);
    printf("held-out accuracy %.3f (%zu/%zu)\n", ev.accuracy, ev.correct, ev.test);
    /* 0.781 when written, on 18 labels (naive Bayes had 0.805 on the first 11): a drop is a
     * regression. test_intent_replies holds the model to 92 % on real replies. */
    assert_true(ev.accuracy >= 0.75);
    assert_true(ev.temperature > 0 && ev.ece >= 0 && ev.ece < 0.15);
    /* the confusion matrix accounts for every held-out example */
    size_t n = 0;
    const char *k, *k2;
    json_t *row, *v;
    json_object_foreach(ev.confusion, k, row) json_object_foreach(row, k2, v) n +=
        (size_t)json_integer_value(v);
    assert_int_equal(n, ev.test);
    json_decref(ev.confusion);
    sa_intent_free(m);
}

static void test_new_phrasings(void **state)
{
    (void)state;
    struct sa_intent_model *m = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_intent_train(DATA, &m, NULL, &err), 0);
    static const struct {
        const char *text, *label;
    } cases[] = {
        {"Good morning Priya!", "greeting"},
        {"What would 25 licenses cost per year?", "pricing"},
        {"Could you show us a live demo of the product?", "demo_request"},
        {"Are you free Thursday at 3pm for a quick call?", "meeting_scheduling"},
        {"This is far too pricey for a team our size", "objection_price"},
        {"Not the right time, circle back next quarter", "objection_timing"},
        {"I'd need to run this by my VP before anything", "objection_authority"},
        {"Please unsubscribe me from these emails", "unsubscribe"},
        {"My login stopped working after the update", "support"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double conf = 0;
        json_t *top = NULL;
        const char *got = sa_intent_classify(m, cases[i].text, &conf, &top);
        if (strcmp(got, cases[i].label) != 0)
            fail_msg("\"%s\": got %s (%.2f), expected %s", cases[i].text, got, conf,
                     cases[i].label);
        assert_true(conf > 0 && conf <= 1);
        /* alternatives: the best first, descending, the first being the answer */
        assert_true(json_array_size(top) >= 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(top, 0), "intent")),
                            got);
        double prev = 2;
        size_t j;
        json_t *t;
        json_array_foreach(top, j, t)
        {
            double p = json_number_value(json_object_get(t, "confidence"));
            assert_true(p <= prev);
            prev = p;
        }
        json_decref(top);
    }
    /* text with no known feature still gets a label, never a crash */
    double conf = 0;
    assert_non_null(sa_intent_classify(m, "", &conf, NULL));
    assert_non_null(sa_intent_classify(m, "\xe2\x9c\x93\xe2\x9c\x93 ???", &conf, NULL));
    sa_intent_free(m);
}

static void test_malformed_file(void **state)
{
    (void)state;
    char path[] = "/tmp/sa_intent_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("greeting\thello there\npricing how much\n", f);
    fclose(f);
    struct sa_intent_model *m = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_intent_train(path, &m, NULL, &err), SA_ECONFIG);
    assert_null(m);
    assert_non_null(strstr(err.msg, ":2"));
    remove(path);
    assert_int_not_equal(sa_intent_train("/nonexistent/intents.tsv", &m, NULL, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heldout_accuracy),
        cmocka_unit_test(test_new_phrasings),
        cmocka_unit_test(test_malformed_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

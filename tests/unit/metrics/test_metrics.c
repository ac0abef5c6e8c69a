/* Pins the Prometheus text exposition: HELP/TYPE lines, escaped labels, cumulative
 * histogram buckets with +Inf, _sum and _count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics/metrics.h"

static const double buckets[] = {0.001, 0.01, 0.1};
static const struct sa_metric_desc hist = {"op_seconds",   "Op time.", SA_HISTOGRAM,
                                           {"kind", NULL}, buckets,    3};
static const struct sa_metric_desc ctr = {"ops_total", "Ops.", SA_COUNTER, {"kind", "code", NULL},
                                          NULL,        0};

static void test_render(void **state)
{
    (void)state;
    struct sa_metrics *m = sa_metrics_new();
    int h = sa_metrics_register(m, &hist), c = sa_metrics_register(m, &ctr);
    const char *a[] = {"a"};
    sa_metrics_observe(m, h, a, 0.0005);
    sa_metrics_observe(m, h, a, 0.05);
    sa_metrics_observe(m, h, a, 3);
    const char *lv[] = {"we\"ird\\", "x\ny"};
    sa_metrics_add(m, c, lv, 2);
    sa_metrics_add(m, c, lv, 1);
    struct sa_buf b;
    sa_buf_init(&b, 1 << 20);
    assert_int_equal(sa_metrics_render(m, &b), 0);
    const char *want[] = {
        "# HELP op_seconds Op time.\n# TYPE op_seconds histogram\n",
        "op_seconds_bucket{kind=\"a\",le=\"0.001\"} 1\n",
        "op_seconds_bucket{kind=\"a\",le=\"0.01\"} 1\n",
        "op_seconds_bucket{kind=\"a\",le=\"0.1\"} 2\n",
        "op_seconds_bucket{kind=\"a\",le=\"+Inf\"} 3\n",
        "op_seconds_count{kind=\"a\"} 3\n",
        "# TYPE ops_total counter\n",
        "ops_total{kind=\"we\\\"ird\\\\\",code=\"x\\ny\"} 3\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(b.data, want[i]))
            fail_msg("missing %s in:\n%s", want[i], b.data);
    assert_non_null(strstr(b.data, "op_seconds_sum{kind=\"a\"} 3.0505"));
    sa_buf_free(&b);
    sa_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_render)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

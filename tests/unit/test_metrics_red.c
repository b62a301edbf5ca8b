/*  test_metrics_red — label values, what counts as a request, an error and
 *  latency per service, and histogram_quantile (services/metrics/labels.c,
 *  red.c).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common/metrics.h"
#include "services/metrics/labels.h"
#include "services/metrics/red.h"

static void
reset (void)
{
    cb_metrics_reset ();
}

TestSuite (metrics_red, .init = reset, .fini = reset);

Test (metrics_red, label_values_are_unescaped)
{
    char out[32];
    const char *text = "a=\"x\",b=\"q\\\"u\\\\o\\nte\",c=\"\"";
    cr_expect (labels_get (text, "a", out, sizeof out));
    cr_expect_str_eq (out, "x");
    cr_expect (labels_get (text, "b", out, sizeof out));
    cr_expect_str_eq (out, "q\"u\\o\nte");
    cr_expect (labels_get (text, "c", out, sizeof out));
    cr_expect_str_eq (out, "");
    cr_expect_not (labels_get (text, "d", out, sizeof out));
    cr_expect_not (labels_get ("a=\"x", "a", out, sizeof out), "unterminated is malformed");
    cr_expect_not (labels_get ("a=\"\\t\"", "a", out, sizeof out), "unknown escape");
    cr_expect_not (labels_get (NULL, "a", out, sizeof out));
    cr_expect (labels_is ("ab=\"1\",a=\"2\"", "a", "2"), "a prefix of a name is another name");
    char small[4];
    cr_expect (labels_get ("a=\"abcdef\"", "a", small, sizeof small));
    cr_expect_str_eq (small, "abc");
}

Test (metrics_red, label_pairs_iterate)
{
    char name[16], value[16];
    const char *p = "service=\"gateway\",instance=\"g-1\"";
    p = labels_next (p, name, sizeof name, value, sizeof value);
    cr_assert_not_null (p);
    cr_expect_str_eq (name, "service");
    cr_expect_str_eq (value, "gateway");
    p = labels_next (p, name, sizeof name, value, sizeof value);
    cr_assert_not_null (p);
    cr_expect_str_eq (value, "g-1");
    cr_expect_null (labels_next (p, name, sizeof name, value, sizeof value));
}

static void
count (const char *name, const char *labels, double value)
{
    cb_counter_add (cb_metrics_counter (name, "Test.", labels), value);
}

static red_point_t
extract (void)
{
    Cordbank__MetricsSnapshot *snap = cb_metrics_snapshot ();
    cr_assert_not_null (snap);
    red_point_t p = {0};
    red_extract (snap, &p);
    cb_metrics_snapshot_free (&snap);
    return p;
}

Test (metrics_red, gateway_outcomes)
{
    const char *name = "cordbank_gateway_interactions_total";
    count (name, "type=\"application_command\",outcome=\"ok\"", 90);
    count (name, "type=\"application_command\",outcome=\"dm\"", 2);
    count (name, "type=\"application_command\",outcome=\"unauthorized\"", 5);
    count (name, "type=\"application_command\",outcome=\"bad_request\"", 1);
    count (name, "type=\"application_command\",outcome=\"degraded\"", 3);
    count (name, "type=\"application_command\",outcome=\"lost\"", 1);
    count (name, "type=\"ping\",outcome=\"ok\"", 4);
    count ("cordbank_some_other_total", NULL, 1000);
    red_point_t p = extract ();
    cr_expect_eq (p.requests, 106);
    cr_expect_eq (p.errors, 4, "degraded and lost are errors: %g", p.errors);
    cr_expect_eq (p.slo_total, 96, "the client's faults are not in the SLO: %g", p.slo_total);
    cr_expect_eq (p.slo_bad, 4);
}

Test (metrics_red, rpc_statuses_and_command_errors)
{
    const char *name = "cordbank_rpc_server_requests_total";
    count (name, "method=\"transfer_request\",status=\"ok\"", 50);
    count (name, "method=\"transfer_request\",status=\"insufficient_funds\"", 10);
    count (name, "method=\"transfer_request\",status=\"unavailable\"", 2);
    count (name, "method=\"transfer_request\",status=\"deadline_exceeded\"", 1);
    count (name, "method=\"transfer_request\",status=\"internal\"", 1);
    count ("cordbank_commands_total", "command=\"pay\",outcome=\"error\"", 3);
    count ("cordbank_commands_total", "command=\"pay\",outcome=\"refused\"", 7);
    red_point_t p = extract ();
    cr_expect_eq (p.requests, 64);
    cr_expect_eq (p.errors, 7);
    cr_expect_eq (p.slo_bad, 3, "command errors count against availability");
}

Test (metrics_red, cache_hits)
{
    const char *name = "cordbank_cache_requests_total";
    count (name, "result=\"hit\"", 6);
    count (name, "result=\"negative_hit\"", 2);
    count (name, "result=\"miss\"", 2);
    red_point_t p = extract ();
    cr_expect_eq (p.cache_hits, 8);
    cr_expect_eq (p.cache_reads, 10);
}

Test (metrics_red, latency_histograms_and_slow_commands)
{
    cb_metric_t *h = cb_metrics_histogram ("cordbank_gateway_interaction_duration_seconds", "T.",
                                           "type=\"application_command\"", CB_LATENCY_BUCKETS,
                                           CB_LATENCY_BUCKETS_COUNT);
    cb_histogram_observe (h, 0.003);
    cb_histogram_observe (h, 0.4);
    cb_histogram_observe (h, 0.7);
    cb_histogram_observe (h, 30);
    red_point_t p = extract ();
    size_t n = red_bucket_count ();
    cr_expect_eq (p.latency[n], 4);
    cr_expect_eq (p.slo_latency_total, 4);
    cr_expect_eq (p.slo_latency_slow, 2, "0.7 s and 30 s are over 0.5 s");
    cr_expect_eq (p.latency[2], 0, "<= 0.0025: %g", p.latency[2]);
    cr_expect_eq (p.latency[3], 1, "<= 0.005: %g", p.latency[3]);
}

Test (metrics_red, other_bounds_fold_conservatively)
{
    static const double bounds[] = {0.001, 0.003, 1};
    cb_metric_t *h =
        cb_metrics_histogram ("cordbank_rpc_server_duration_seconds", "T.", NULL, bounds, 3);
    cb_histogram_observe (h, 0.002);
    red_point_t p = extract ();
    //  Fixed bounds 0.001, 0.0025, 0.005: 0.0025 takes 0.001's count (0), 0.005 takes 0.003's.
    cr_expect_eq (p.latency[2], 0);
    cr_expect_eq (p.latency[3], 1);
}

Test (metrics_red, quantile_as_prometheus)
{
    red_point_t d = {0};
    size_t n = red_bucket_count ();
    const double *b = red_bounds ();
    cr_expect (isnan (red_quantile (&d, 0.5)), "no observation");
    //  10 observations: 4 <= 0.001 (bucket 1), 6 in (0.001, 0.0025].
    for (size_t i = 0; i <= n; i++)
        d.latency[i] = i < 1 ? 0 : i < 2 ? 4 : 10;
    cr_expect_float_eq (red_quantile (&d, 0.2), 0.0005 + 0.0005 * (2.0 / 4), 1e-12);
    cr_expect_float_eq (red_quantile (&d, 0.5), 0.001 + 0.0015 * (1.0 / 6), 1e-12);
    cr_expect_float_eq (red_quantile (&d, 1), 0.0025, 1e-12);
    //  Everything above the largest bound: that bound.
    for (size_t i = 0; i < n; i++)
        d.latency[i] = 0;
    cr_expect_eq (red_quantile (&d, 0.99), b[n - 1]);
    //  First bucket: from 0.
    for (size_t i = 0; i <= n; i++)
        d.latency[i] = 2;
    cr_expect_float_eq (red_quantile (&d, 0.5), b[0] / 2, 1e-12);
}

Test (metrics_red, points_add_subtract_and_detect_resets)
{
    red_point_t a = {.requests = 10, .errors = 1}, b = {.requests = 4}, out;
    red_sub (&a, &b, &out);
    cr_expect_eq (out.requests, 6);
    cr_expect_eq (out.errors, 1);
    red_add (&out, &b);
    cr_expect_eq (out.requests, 10);
    cr_expect_not (red_reset (&a, &b));
    cr_expect (red_reset (&b, &a));
}

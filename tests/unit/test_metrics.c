/*  test_metrics — the metrics registry, label text, snapshots and the
 *  Prometheus text renderer (common/metrics*.c).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"

static void
reset (void)
{
    cb_metrics_reset ();
}

TestSuite (metrics, .init = reset, .fini = reset);

static const double BOUNDS[] = {1, 2, 5};

//  Renders the registry and checks that `expected` appears in it whole.
static void
assert_rendered (const char *expected)
{
    char *text = cb_metrics_render ();
    cr_assert_not_null (text);
    cr_expect_not_null (strstr (text, expected), "missing:\n%s\nin:\n%s", expected, text);
    free (text);
}

Test (metrics, counter_and_gauge_values)
{
    cb_metric_t *counter = cb_metrics_counter ("t_total", "A counter.", NULL);
    cb_counter_inc (counter);
    cb_counter_add (counter, 2.5);
    cr_expect_eq (cb_metric_value (counter), 3.5);
    cb_counter_set (counter, 10);
    cr_expect_eq (cb_metric_value (counter), 10);

    cb_metric_t *gauge = cb_metrics_gauge ("t_gauge", "A gauge.", "k=\"v\"");
    cb_gauge_set (gauge, 7);
    cb_gauge_add (gauge, -2.25);
    cr_expect_eq (cb_metric_value (gauge), 4.75);
    assert_rendered ("# HELP t_gauge A gauge.\n# TYPE t_gauge gauge\nt_gauge{k=\"v\"} 4.75\n");
    assert_rendered ("# HELP t_total A counter.\n# TYPE t_total counter\nt_total 10\n");
}

Test (metrics, same_name_and_labels_is_same_series)
{
    cb_metric_t *a = cb_metrics_counter ("t_total", "help", "x=\"1\"");
    cr_expect_eq (a, cb_metrics_counter ("t_total", "other help", "x=\"1\""));
    cr_expect_neq (a, cb_metrics_counter ("t_total", "help", "x=\"2\""));
    cb_metric_t *plain = cb_metrics_counter ("t_total", "help", NULL);
    cr_expect_eq (plain, cb_metrics_counter ("t_total", "help", ""));
    cr_expect_neq (plain, a);
    //  Many series: lookups still find each one after the tables grow.
    cb_metric_t *series[500];
    char labels[64];
    for (int i = 0; i < 500; i++) {
        snprintf (labels, sizeof labels, "i=\"%d\"", i);
        series[i] = cb_metrics_gauge ("t_many", "many", labels);
    }
    for (int i = 0; i < 500; i++) {
        snprintf (labels, sizeof labels, "i=\"%d\"", i);
        cr_expect_eq (series[i], cb_metrics_gauge ("t_many", "many", labels));
    }
    cr_expect_eq (a, cb_metrics_counter ("t_total", "help", "x=\"1\""));
}

Test (metrics, histogram_le_semantics)
{
    cb_metric_t *h = cb_metrics_histogram ("t_seconds", "h", NULL, BOUNDS, 3);
    const double values[] = {-1, 0.999, 1, 1.0000001, 2, 4.999, 5, 5.001, 1e9};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        cb_histogram_observe (h, values[i]);
    cr_expect_eq (cb_histogram_bucket (h, 0), 3); // -1, 0.999, 1
    cr_expect_eq (cb_histogram_bucket (h, 1), 5); // + 1.0000001, 2
    cr_expect_eq (cb_histogram_bucket (h, 2), 7); // + 4.999, 5
    cr_expect_eq (cb_histogram_bucket (h, 3), 9); // + 5.001, 1e9: +Inf
    cr_expect_eq (cb_histogram_count (h), 9);
    cb_histogram_observe (h, NAN);
    cr_expect_eq (cb_histogram_bucket (h, 2), 7);
    cr_expect_eq (cb_histogram_count (h), 10);
}

Test (metrics, histogram_renders_cumulative)
{
    cb_metric_t *h = cb_metrics_histogram ("t_seconds", "Latency.", "op=\"get\"", BOUNDS, 3);
    cb_histogram_observe (h, 0.5);
    cb_histogram_observe (h, 1);
    cb_histogram_observe (h, 3);
    cb_histogram_observe (h, 7.25);
    assert_rendered ("# HELP t_seconds Latency.\n"
                     "# TYPE t_seconds histogram\n"
                     "t_seconds_bucket{op=\"get\",le=\"1\"} 2\n"
                     "t_seconds_bucket{op=\"get\",le=\"2\"} 2\n"
                     "t_seconds_bucket{op=\"get\",le=\"5\"} 3\n"
                     "t_seconds_bucket{op=\"get\",le=\"+Inf\"} 4\n"
                     "t_seconds_sum{op=\"get\"} 11.75\n"
                     "t_seconds_count{op=\"get\"} 4\n");
    cb_metric_t *latency = cb_metrics_histogram ("t_latency_seconds", "L.", NULL,
                                                 CB_LATENCY_BUCKETS, CB_LATENCY_BUCKETS_COUNT);
    cb_histogram_observe (latency, 0.005);
    assert_rendered ("t_latency_seconds_bucket{le=\"0.0005\"} 0\n"
                     "t_latency_seconds_bucket{le=\"0.001\"} 0\n"
                     "t_latency_seconds_bucket{le=\"0.0025\"} 0\n"
                     "t_latency_seconds_bucket{le=\"0.005\"} 1\n");
    assert_rendered ("t_latency_seconds_bucket{le=\"10\"} 1\n"
                     "t_latency_seconds_bucket{le=\"+Inf\"} 1\n"
                     "t_latency_seconds_sum 0.005\n"
                     "t_latency_seconds_count 1\n");
}

Test (metrics, numbers_as_prometheus_reads_them)
{
    const struct {
        double value;
        const char *text;
    } cases[] = {{0, "t_n{c=\"0\"} 0\n"},
                 {-0.0, "t_n{c=\"1\"} 0\n"},
                 {3, "t_n{c=\"2\"} 3\n"},
                 {0.1, "t_n{c=\"3\"} 0.1\n"},
                 {1e20, "t_n{c=\"4\"} 1e+20\n"},
                 {INFINITY, "t_n{c=\"5\"} +Inf\n"},
                 {-INFINITY, "t_n{c=\"6\"} -Inf\n"},
                 {NAN, "t_n{c=\"7\"} NaN\n"},
                 {123456789012, "t_n{c=\"8\"} 123456789012\n"},
                 {1.0 / 3, "t_n{c=\"9\"} 0.3333333333333333\n"},
                 {-2.5e-7, "t_n{c=\"10\"} -2.5e-07\n"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char labels[32];
        snprintf (labels, sizeof labels, "c=\"%zu\"", i);
        cb_gauge_set (cb_metrics_gauge ("t_n", "n", labels), cases[i].value);
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_rendered (cases[i].text);
}

Test (metrics, label_escaping)
{
    char out[128];
    cb_metrics_labels (out, sizeof out, "a", "x\"y\\z\nw", "b", "", "c", NULL, NULL);
    cr_expect_str_eq (out, "a=\"x\\\"y\\\\z\\nw\",b=\"\",c=\"\"");
    cr_expect (cb_metrics_labels_valid (out));
    cb_metrics_labels (out, sizeof out, "u", "caf\xc3\xa9 \xff\xc3", NULL);
    cr_expect_str_eq (out, "u=\"caf\xc3\xa9 ??\"");
    cb_gauge_set (cb_metrics_gauge ("t_escaped", "Help with \\ and\nnewline \"q\".", out), 1);
    assert_rendered ("# HELP t_escaped Help with \\\\ and\\nnewline \"q\".\n# TYPE t_escaped "
                     "gauge\nt_escaped{u=\"caf\xc3\xa9 ??\"} 1\n");
}

Test (metrics, label_text_cut_stays_valid)
{
    char out[12];
    cb_metrics_labels (out, sizeof out, "a", "\"\"\"\"\"", NULL);
    cr_expect_str_eq (out, "a=\"\\\"\\\"\\\"\""); // three escapes fit, never half of one
    cb_metrics_labels (out, sizeof out, "ab", "1", "cd", "2", NULL);
    cr_expect_str_eq (out, "ab=\"1\""); // the pair that does not fit goes
    cb_metrics_labels (out, 9, "a", "\xc3\xa9\xc3\xa9\xc3\xa9", NULL);
    cr_expect_str_eq (out, "a=\"\xc3\xa9\xc3\xa9\""); // never half a UTF-8 sequence
    for (size_t size = 1; size <= sizeof out; size++)
        cr_expect (cb_metrics_labels_valid (
            cb_metrics_labels (out, size, "name", "v\\\"\n\xc3\xa9x", "k", "w", NULL)));
}

Test (metrics, label_text_validation)
{
    const char *valid[] = {NULL, "", "a=\"\"", "a=\"1\",b=\"x\\ny\"", "_a1=\"\\\\\\\"\""};
    const char *invalid[] = {
        "a",         "a=1",        "a=\"1\",",           ",a=\"1\"",      "a=\"1\",a=\"2\"",
        "1a=\"x\"",  "a=\"x\\t\"", "a=\"x\ny\"",         "a=\"x",         "a=\"1\" ",
        "a:b=\"1\"", "a=\"\xff\"", "a=\"\xed\xa0\x80\"", "a=\"\xc0\xaf\""};
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
        cr_expect (cb_metrics_labels_valid (valid[i]), "%s", valid[i] ? valid[i] : "NULL");
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        cr_expect_not (cb_metrics_labels_valid (invalid[i]), "%s", invalid[i]);
    cr_expect (cb_metrics_name_valid ("a:b_c9"));
    cr_expect_not (cb_metrics_name_valid ("9a"));
    cr_expect_not (cb_metrics_name_valid ("a-b"));
    cr_expect_not (cb_metrics_name_valid (""));
}

Test (metrics, snapshot_round_trip)
{
    cb_counter_add (cb_metrics_counter ("t_total", "c", "k=\"a\\\"b\""), 42);
    cb_gauge_set (cb_metrics_gauge ("t_gauge", "g", NULL), -1.5);
    cb_metric_t *h = cb_metrics_histogram ("t_seconds", "h", "op=\"x\"", BOUNDS, 3);
    cb_histogram_observe (h, 1.5);
    cb_histogram_observe (h, 9);
    Cordbank__MetricsSnapshot *snapshot = cb_metrics_snapshot ();
    cr_assert_not_null (snapshot);
    cr_expect_gt (snapshot->unix_ms, 0);
    size_t size = cordbank__metrics_snapshot__get_packed_size (snapshot);
    uint8_t *bytes = malloc (size);
    cordbank__metrics_snapshot__pack (snapshot, bytes);
    Cordbank__MetricsSnapshot *unpacked = cordbank__metrics_snapshot__unpack (NULL, size, bytes);
    free (bytes);
    cr_assert_not_null (unpacked);
    Cordbank__MetricsSnapshot *copy = cb_metrics_snapshot_copy (snapshot);
    cr_assert_not_null (copy);

    cb_metrics_source_t direct = {snapshot, NULL}, wire = {unpacked, NULL}, copied = {copy, NULL};
    char *expected = cb_metrics_render_snapshots (&direct, 1, NULL);
    char *text = cb_metrics_render_snapshots (&wire, 1, NULL);
    char *text_copy = cb_metrics_render_snapshots (&copied, 1, NULL);
    cr_expect_str_eq (text, expected);
    cr_expect_str_eq (text_copy, expected);
    cr_expect_not_null (strstr (expected, "t_seconds_bucket{op=\"x\",le=\"2\"} 1\n"));
    free (expected);
    free (text);
    free (text_copy);
    cb_metrics_snapshot_free (&unpacked);
    cb_metrics_snapshot_free (&copy);
    cb_metrics_snapshot_free (&snapshot);
    cr_expect_null (snapshot);
}

Test (metrics, snapshot_is_sorted_and_cumulative)
{
    cb_gauge_set (cb_metrics_gauge ("t_b", "b", "z=\"1\""), 1);
    cb_gauge_set (cb_metrics_gauge ("t_b", "b", "a=\"1\""), 2);
    cb_gauge_set (cb_metrics_gauge ("t_a", "a", NULL), 3);
    cb_metric_t *h = cb_metrics_histogram ("t_h", "h", NULL, BOUNDS, 3);
    cb_histogram_observe (h, 0);
    cb_histogram_observe (h, 3);
    Cordbank__MetricsSnapshot *snapshot = cb_metrics_snapshot ();
    cr_assert_not_null (snapshot);
    for (size_t i = 1; i < snapshot->n_families; i++)
        cr_expect_lt (strcmp (snapshot->families[i - 1]->name, snapshot->families[i]->name), 0);
    for (size_t i = 0; i < snapshot->n_families; i++) {
        const Cordbank__MetricFamily *family = snapshot->families[i];
        if (strcmp (family->name, "t_b") == 0)
            cr_expect_str_eq (family->samples[0]->labels, "a=\"1\"");
        if (strcmp (family->name, "t_h") == 0) {
            cr_assert_eq (family->samples[0]->n_bucket_counts, 3);
            cr_expect_eq (family->samples[0]->bucket_counts[0], 1);
            cr_expect_eq (family->samples[0]->bucket_counts[1], 1);
            cr_expect_eq (family->samples[0]->bucket_counts[2], 2);
            cr_expect_eq (family->samples[0]->count, 2);
            cr_expect_eq (family->samples[0]->sum, 3);
        }
    }
    cb_metrics_snapshot_free (&snapshot);
}

Test (metrics, process_metrics)
{
    assert_rendered ("# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes ");
    assert_rendered ("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total ");
    assert_rendered ("# TYPE process_open_fds gauge\nprocess_open_fds ");
    assert_rendered ("# TYPE cordbank_build_info gauge\ncordbank_build_info{version=\"" CB_VERSION
                     "\"} 1\n");
}

#define THREADS 4
#define ROUNDS  100000

static void *
hammer (void *arg)
{
    cb_metric_t *counter = arg;
    char labels[32];
    snprintf (labels, sizeof labels, "thread=\"%lu\"", (unsigned long) pthread_self ());
    for (int i = 0; i < ROUNDS; i++) {
        cb_counter_inc (counter);
        cb_gauge_add (cb_metrics_gauge ("t_shared", "s", NULL), 0.5);
        cb_histogram_observe (cb_metrics_histogram ("t_race", "r", labels, BOUNDS, 3), i % 7);
        cb_histogram_observe (cb_metrics_histogram ("t_race", "r", "", BOUNDS, 3), i % 7);
    }
    return NULL;
}

Test (metrics, concurrent_updates_sum_exactly)
{
    cb_metric_t *counter = cb_metrics_counter ("t_total", "c", NULL);
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq (pthread_create (&threads[i], NULL, hammer, counter), 0);
    //  Snapshots race the updates; each must be internally consistent.
    for (int i = 0; i < 20; i++) {
        char *text = cb_metrics_render ();
        cr_assert_not_null (text);
        free (text);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join (threads[i], NULL);
    cr_expect_eq (cb_metric_value (counter), THREADS * ROUNDS);
    cr_expect_eq (cb_metric_value (cb_metrics_gauge ("t_shared", "s", NULL)), THREADS * ROUNDS / 2);
    cb_metric_t *shared = cb_metrics_histogram ("t_race", "r", "", BOUNDS, 3);
    cr_expect_eq (cb_histogram_count (shared), THREADS * ROUNDS);
    //  i % 7 <= 1 twice in every seven rounds (0, 1), plus the remainder.
    uint64_t expected = 0;
    for (int i = 0; i < ROUNDS; i++)
        expected += i % 7 <= 1;
    cr_expect_eq (cb_histogram_bucket (shared, 0), THREADS * expected);
}

Test (metrics, type_clash_is_a_programming_error, .signal = SIGABRT)
{
    cb_metrics_counter ("t_clash", "c", NULL);
    cb_metrics_gauge ("t_clash", "g", "other=\"1\"");
}

Test (metrics, le_label_on_histogram_is_a_programming_error, .signal = SIGABRT)
{
    cb_metrics_histogram ("t_h", "h", "a=\"1\",le=\"2\"", BOUNDS, 3);
}

//  A hand-made family of a snapshot, as one could arrive off the wire.
typedef struct {
    Cordbank__MetricFamily family;
    Cordbank__MetricSample samples[4];
    Cordbank__MetricSample *pointers[4];
    uint64_t buckets[4][4];
} family_t;

static void
family_init (family_t *self, const char *name, Cordbank__MetricType type, const double *bounds,
             size_t bound_count)
{
    cordbank__metric_family__init (&self->family);
    self->family.name = (char *) name;
    self->family.help = (char *) "Help.";
    self->family.type = type;
    self->family.bounds = (double *) bounds;
    self->family.n_bounds = bound_count;
    self->family.samples = self->pointers;
}

static void
family_add (family_t *self, const char *labels, double value, const uint64_t *buckets,
            size_t bucket_count)
{
    size_t i = self->family.n_samples++;
    Cordbank__MetricSample *sample = &self->samples[i];
    cordbank__metric_sample__init (sample);
    sample->labels = (char *) labels;
    sample->value = value;
    sample->sum = value;
    if (bucket_count)
        memcpy (self->buckets[i], buckets, bucket_count * sizeof *buckets);
    sample->bucket_counts = self->buckets[i];
    sample->n_bucket_counts = bucket_count;
    sample->count = bucket_count ? buckets[bucket_count - 1] + 1 : 0;
    self->pointers[i] = sample;
}

#define COUNTER   CORDBANK__METRIC_TYPE__METRIC_TYPE_COUNTER
#define GAUGE     CORDBANK__METRIC_TYPE__METRIC_TYPE_GAUGE
#define HISTOGRAM CORDBANK__METRIC_TYPE__METRIC_TYPE_HISTOGRAM

Test (metrics, render_several_snapshots)
{
    static const double two[] = {1, 2}, unsorted[] = {2, 1};
    family_t a[3], b[6];
    family_init (&a[0], "zeta", GAUGE, NULL, 0);
    family_add (&a[0], "", 1, NULL, 0);
    family_add (&a[0], "service=\"x\"", 2, NULL, 0);
    family_init (&a[1], "alpha_total", COUNTER, NULL, 0);
    family_add (&a[1], "k=\"v\"", 5, NULL, 0);
    family_init (&a[2], "hist", HISTOGRAM, two, 2);
    family_add (&a[2], "", 6.5, (const uint64_t[]){1, 3}, 2);
    family_init (&b[0], "alpha_total", COUNTER, NULL, 0);
    family_add (&b[0], "", 7, NULL, 0);
    family_add (&b[0], "a=1", 7, NULL, 0);         // bad label text
    family_init (&b[1], "zeta", COUNTER, NULL, 0); // another type
    family_add (&b[1], "", 1, NULL, 0);
    family_init (&b[2], "bad name", GAUGE, NULL, 0);
    family_add (&b[2], "", 1, NULL, 0);
    family_init (&b[3], "hist", HISTOGRAM, two, 2);
    family_add (&b[3], "", 1, (const uint64_t[]){3, 1}, 2);         // not cumulative
    family_add (&b[3], "", 1, (const uint64_t[]){3}, 1);            // not one per bound
    family_add (&b[3], "le=\"1\"", 1, (const uint64_t[]){1, 1}, 2); // le is reserved
    family_init (&b[4], "hist_unsorted", HISTOGRAM, unsorted, 2);
    family_add (&b[4], "", 1, (const uint64_t[]){1, 1}, 2);
    family_init (&b[5], "empty", GAUGE, NULL, 0);

    Cordbank__MetricFamily *families_a[] = {&a[0].family, &a[1].family, &a[2].family};
    Cordbank__MetricFamily *families_b[6];
    for (size_t i = 0; i < 6; i++)
        families_b[i] = &b[i].family;
    Cordbank__MetricsSnapshot snapshot_a = CORDBANK__METRICS_SNAPSHOT__INIT;
    Cordbank__MetricsSnapshot snapshot_b = CORDBANK__METRICS_SNAPSHOT__INIT;
    snapshot_a.families = families_a;
    snapshot_a.n_families = 3;
    snapshot_b.families = families_b;
    snapshot_b.n_families = 6;
    cb_metrics_source_t sources[] = {{&snapshot_a, "service=\"balance\",instance=\"b-1\""},
                                     {&snapshot_b, "service=\"cache\",instance=\"c-1\""},
                                     {NULL, NULL}};
    size_t skipped = 0;
    char *text = cb_metrics_render_snapshots (sources, 3, &skipped);
    cr_assert_not_null (text);
    cr_expect_str_eq (text,
                      "# HELP alpha_total Help.\n"
                      "# TYPE alpha_total counter\n"
                      "alpha_total{service=\"balance\",instance=\"b-1\",k=\"v\"} 5\n"
                      "alpha_total{service=\"cache\",instance=\"c-1\"} 7\n"
                      "# HELP empty Help.\n"
                      "# TYPE empty gauge\n"
                      "# HELP hist Help.\n"
                      "# TYPE hist histogram\n"
                      "hist_bucket{service=\"balance\",instance=\"b-1\",le=\"1\"} 1\n"
                      "hist_bucket{service=\"balance\",instance=\"b-1\",le=\"2\"} 3\n"
                      "hist_bucket{service=\"balance\",instance=\"b-1\",le=\"+Inf\"} 4\n"
                      "hist_sum{service=\"balance\",instance=\"b-1\"} 6.5\n"
                      "hist_count{service=\"balance\",instance=\"b-1\"} 4\n"
                      "# HELP zeta Help.\n"
                      "# TYPE zeta gauge\n"
                      "zeta{service=\"balance\",instance=\"b-1\"} 1\n"
                      "zeta{service=\"balance\",instance=\"b-1\",exported_service=\"x\"} 2\n");
    //  bad label text 1, bad name 1, hist 3, hist_unsorted 1, zeta of another type 1
    cr_expect_eq (skipped, 7);
    free (text);

    text = cb_metrics_render_snapshots (NULL, 0, NULL);
    cr_assert_not_null (text);
    cr_expect_str_eq (text, "");
    free (text);
}

/*  test_metrics_alerts — the in-process alert rules: hold times, resolution,
 *  burn rates, gauges (services/metrics/alerts.c), and the JSON API built
 *  on the same sources (services/metrics/summary.c).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "common/metrics.h"
#include "services/metrics/alerts.h"
#include "services/metrics/summary.h"

static aggregate_t *aggregate;
static history_t *history;
static alerts_t *alerts;

static void
setup (void)
{
    cb_metrics_reset ();
    aggregate = aggregate_new (3000, 300000);
    history = history_new ();
    cr_assert (aggregate && history);
}

static void
teardown (void)
{
    alerts_destroy (&alerts);
    history_destroy (&history);
    aggregate_destroy (&aggregate);
    cb_metrics_reset ();
}

TestSuite (metrics_alerts, .init = setup, .fini = teardown);

//  The registry as it is now becomes (service, instance)'s latest snapshot
//  at t_ms, and a history point. The registry is then emptied.
static void
publish (const char *service, const char *instance, int64_t t_ms)
{
    Cordbank__MetricsSnapshot *snap = cb_metrics_snapshot ();
    cr_assert_not_null (snap);
    cr_assert_geq (aggregate_update (aggregate, service, instance, snap, t_ms), 0);
    red_point_t p = {0};
    red_extract (snap, &p);
    cr_assert_eq (history_observe (history, service, instance, &p), 0);
    cb_metrics_snapshot_free (&snap);
    cb_metrics_reset ();
}

typedef struct {
    char names[16][64];
    bool firing[16];
    size_t n;
} seen_t;

static void
on_alert (const alert_view_t *a, void *arg)
{
    seen_t *s = arg;
    if (s->n < 16) {
        snprintf (s->names[s->n], sizeof s->names[0], "%s", a->alertname);
        s->firing[s->n++] = a->firing;
    }
}

//  1 when `name` is firing, 0 when pending, -1 when not active.
static int
state_of (const char *name)
{
    seen_t s = {0};
    alerts_each (alerts, on_alert, &s);
    for (size_t i = 0; i < s.n; i++)
        if (strcmp (s.names[i], name) == 0)
            return s.firing[i];
    return -1;
}

static double
firing_gauge (const char *labels)
{
    return cb_metric_value (cb_metrics_gauge ("cordbank_alert_firing", "x", labels));
}

Test (metrics_alerts, instance_down_waits_for_its_hold_time_then_resolves)
{
    alerts = alerts_new (-1);
    publish ("cache", "cache-1", 0);
    publish ("cache", "cache-2", 0);
    alerts_evaluate (alerts, aggregate, history, 1000, 0);
    cr_expect_eq (state_of ("CordbankInstanceDown"), -1);
    publish ("cache", "cache-2", 4000);
    alerts_evaluate (alerts, aggregate, history, 4000, 0);
    cr_expect_eq (state_of ("CordbankInstanceDown"), 0, "pending: down, not for 1 min yet");
    alerts_evaluate (alerts, aggregate, history, 64000, 0);
    cr_expect_eq (state_of ("CordbankInstanceDown"), 1);
    cr_expect_eq (state_of ("CordbankServiceDown"), 0, "cache-2 too is silent since 4 s");
    cr_expect_eq (firing_gauge ("alertname=\"CordbankInstanceDown\",severity=\"ticket\""), 1,
                  "cache-2 was seen down only now: pending");
    publish ("cache", "cache-1", 65000);
    publish ("cache", "cache-2", 65000);
    alerts_evaluate (alerts, aggregate, history, 65000, 0);
    cr_expect_eq (state_of ("CordbankInstanceDown"), -1, "resolved when snapshots come back");
    cr_expect_eq (firing_gauge ("alertname=\"CordbankInstanceDown\",severity=\"ticket\""), 0);
}

Test (metrics_alerts, a_hold_time_override_fires_at_once)
{
    alerts = alerts_new (0);
    publish ("balance", "balance-1", 0);
    alerts_evaluate (alerts, aggregate, history, 3500, 0);
    cr_expect_eq (state_of ("CordbankInstanceDown"), 1);
    cr_expect_eq (state_of ("CordbankServiceDown"), 1);
}

Test (metrics_alerts, gauges_breaker_redis_ledger)
{
    alerts = alerts_new (0);
    cb_gauge_set (cb_metrics_gauge ("cordbank_breaker_state", "b", "target=\"redis\""), 1);
    cb_gauge_set (cb_metrics_gauge ("cordbank_cache_redis_up", "r", NULL), 0);
    publish ("cache", "cache-1", 0);
    cb_gauge_set (
        cb_metrics_gauge ("cordbank_ledger_invariant_violations", "v", "check=\"guild_sum\""), 2);
    cb_gauge_set (
        cb_metrics_gauge ("cordbank_ledger_invariant_checked_timestamp_seconds", "t", NULL), 1000);
    cb_gauge_set (cb_metrics_gauge ("cordbank_balance_db_up", "d", NULL), 1);
    publish ("balance", "balance-1", 0);
    alerts_evaluate (alerts, aggregate, history, 500, 1100);
    cr_expect_eq (state_of ("CordbankBreakerOpen"), 1);
    cr_expect_eq (state_of ("CordbankRedisUnreachable"), 1);
    cr_expect_eq (state_of ("CordbankLedgerInvariantViolated"), 1);
    cr_expect_eq (state_of ("CordbankPostgresUnreachable"), -1);
    cr_expect_eq (state_of ("CordbankLedgerInvariantCheckStale"), -1, "checked 100 s ago");
    alerts_evaluate (alerts, aggregate, history, 600, 2000);
    cr_expect_eq (state_of ("CordbankLedgerInvariantCheckStale"), 1, "checked 1000 s ago");
}

//  t seconds of gateway traffic: rate/s application commands, bad of them degraded.
static void
traffic (int seconds, double rate, double bad)
{
    double ok = 0, degraded = 0;
    for (int s = 0; s <= seconds; s++) {
        cb_counter_set (cb_metrics_counter ("cordbank_gateway_interactions_total", "i",
                                            "type=\"application_command\",outcome=\"ok\""),
                        ok);
        cb_counter_set (cb_metrics_counter ("cordbank_gateway_interactions_total", "i",
                                            "type=\"application_command\",outcome=\"degraded\""),
                        degraded);
        publish ("gateway", "gateway-1", s * 1000);
        history_tick (history, s * 1000);
        ok += rate - bad;
        degraded += bad;
    }
}

Test (metrics_alerts, availability_burn_rates)
{
    alerts = alerts_new (-1);
    traffic (120, 100, 1); // 1% errors: burn 10: slow page (6x), not fast (14.4x)
    alerts_evaluate (alerts, aggregate, history, 120000, 0);
    cr_expect_eq (state_of ("CordbankAvailabilityBurnFast"), -1);
    cr_expect_eq (state_of ("CordbankAvailabilityBurnSlow"), 1);
    cr_expect_eq (state_of ("CordbankAvailabilityBudgetBurn"), 1);
    cr_expect_eq (firing_gauge ("alertname=\"CordbankAvailabilityBurnSlow\",severity=\"page\""), 1);
}

Test (metrics_alerts, fast_burn)
{
    alerts = alerts_new (-1);
    traffic (60, 100, 5);
    alerts_evaluate (alerts, aggregate, history, 60000, 0);
    cr_expect_eq (state_of ("CordbankAvailabilityBurnFast"), 1);
}

Test (metrics_alerts, no_traffic_no_slo_alert)
{
    alerts = alerts_new (-1);
    traffic (60, 0, 0);
    alerts_evaluate (alerts, aggregate, history, 60000, 0);
    cr_expect_eq (state_of ("CordbankAvailabilityBurnFast"), -1);
    cr_expect_eq (state_of ("CordbankLatencyBurnFast"), -1);
}

Test (metrics_alerts, summary_shows_services_instances_and_alerts)
{
    alerts = alerts_new (0);
    traffic (20, 50, 0);
    publish ("cache", "cache-1", 0);
    alerts_evaluate (alerts, aggregate, history, 20000, 0);
    summary_source_t src = {aggregate, history, alerts, 20000, 1700000000000, 3000};
    char *text = summary_json (&src);
    cr_assert_not_null (text);
    json_error_t err;
    json_t *doc = json_loads (text, 0, &err);
    free (text);
    cr_assert_not_null (doc, "%s", err.text);
    json_t *services = json_object_get (doc, "services");
    cr_assert_eq (json_array_size (services), 2);
    json_t *cache = json_array_get (services, 0), *gw = json_array_get (services, 1);
    cr_expect_str_eq (json_string_value (json_object_get (cache, "service")), "cache");
    cr_expect (json_is_false (json_object_get (cache, "up")));
    cr_expect (json_is_true (json_object_get (gw, "up")));
    double rate = json_real_value (json_object_get (json_object_get (gw, "last_10s"), "rate"));
    cr_expect_float_eq (rate, 50, 1e-9);
    cr_expect (json_is_null (json_object_get (json_object_get (gw, "last_10s"), "p50_seconds")));
    json_t *list = json_object_get (doc, "alerts"), *alert = NULL;
    for (size_t i = 0; i < json_array_size (list); i++)
        if (strcmp (json_string_value (json_object_get (json_array_get (list, i), "alertname")),
                    "CordbankInstanceDown") == 0)
            alert = json_array_get (list, i);
    cr_assert_not_null (alert);
    cr_expect_str_eq (json_string_value (json_object_get (json_array_get (list, 0), "severity")),
                      "page", "pages come first");
    cr_expect_str_eq (json_string_value (json_object_get (alert, "state")), "firing");
    cr_expect_str_eq (
        json_string_value (json_object_get (json_object_get (alert, "labels"), "instance")),
        "cache-1");
    json_decref (doc);
}

Test (metrics_alerts, series_queries)
{
    alerts = alerts_new (-1);
    traffic (30, 10, 0);
    summary_source_t src = {aggregate, history, alerts, 30000, 1700000000000, 3000};
    const char *error = NULL;
    char *text = summary_series_json (&src, "service=gateway&window=20&step=5", &error);
    cr_assert_not_null (text, "%s", error);
    json_t *doc = json_loads (text, 0, NULL);
    free (text);
    json_t *rate =
        json_object_get (json_object_get (json_object_get (doc, "services"), "gateway"), "rate");
    cr_assert_eq (json_array_size (rate), 4);
    cr_expect_float_eq (json_real_value (json_array_get (rate, 3)), 10, 1e-9);
    json_decref (doc);
    const char *bad[] = {"window=5", "window=abc", "window=300&step=0", "window=100000&step=60"};
    for (size_t i = 0; i < 4; i++) {
        cr_expect_null (summary_series_json (&src, bad[i], &error), "%s", bad[i]);
        cr_expect_not_null (error);
    }
}

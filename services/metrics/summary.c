/*  summary — the JSON API (see summary.h).
 *
 *  Built with jansson from three read-only sources: the aggregate (who is
 *  up, the gauges of each instance's latest snapshot), the history (rates,
 *  ratios and quantiles over windows) and the alerts. Gauges of an
 *  instance that is down are not shown, as on /metrics: its last values
 *  would read as current.
 */
#include "services/metrics/summary.h"

#include <jansson.h>
#include <stdbool.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "services/metrics/labels.h"

#define SERIES_WINDOW_DEFAULT_S 300
#define SERIES_POINTS_DEFAULT   60
#define LEDGER_STALE_S          900

static json_t *
num (double value)
{
    return isfinite (value) ? json_real (value) : json_null ();
}

static double
ratio (double part, double whole)
{
    return whole > 0 ? part / whole : NAN;
}

//  rate, error ratio, P50, P99 of one increase over span_s seconds.
static json_t *
stats_of (const red_point_t *d, double span_s)
{
    return json_pack ("{s:o, s:o, s:o, s:o, s:o}", "rate",
                      num (span_s > 0 ? d->requests / span_s : NAN), "error_ratio",
                      num (ratio (d->errors, d->requests)), "p50_seconds",
                      num (red_quantile (d, 0.5)), "p99_seconds", num (red_quantile (d, 0.99)),
                      "requests", num (span_s > 0 ? d->requests : NAN));
}

static json_t *
window_stats (const history_t *history, const char *service, const char *instance,
              int64_t window_ms)
{
    red_point_t d = {0};
    double span = 0;
    if (history_window (history, service, instance, window_ms, &d, &span) != 0)
        span = 0;
    return stats_of (&d, span);
}

static void
add_windows (json_t *obj, const history_t *history, const char *service, const char *instance)
{
    json_object_set_new (obj, "last_10s", window_stats (history, service, instance, 10000));
    json_object_set_new (obj, "last_1m", window_stats (history, service, instance, 60000));
}

//  The value of the first sample of a gauge family, NAN when absent.
static double
gauge_value (const Cordbank__MetricsSnapshot *snapshot, const char *family)
{
    const Cordbank__MetricFamily *f = red_family (snapshot, family);
    return f && f->n_samples ? f->samples[0]->value : NAN;
}

typedef struct {
    const summary_source_t *src;
    json_t *services, *service, *instances;
    json_t *breakers, *dependencies, *cache_instances, *ledger_instances;
    double ledger_violations;
    size_t ledger_checked, ledger_stale, ledger_unchecked;
} walk_t;

static void
close_service (walk_t *w)
{
    if (!w->service)
        return;
    size_t up = 0, n = json_array_size (w->instances);
    for (size_t i = 0; i < n; i++)
        up += json_is_true (json_object_get (json_array_get (w->instances, i), "up"));
    json_object_set_new (w->service, "up", json_boolean (up > 0));
    json_object_set_new (w->service, "instances_up", json_integer ((json_int_t) up));
    json_object_set_new (w->service, "instances_total", json_integer ((json_int_t) n));
    json_object_set_new (w->service, "instances", w->instances);
    json_array_append_new (w->services, w->service);
    w->service = w->instances = NULL;
}

static void
open_service (walk_t *w, const char *service)
{
    close_service (w);
    w->service = json_pack ("{s:s}", "service", service);
    w->instances = json_array ();
    add_windows (w->service, w->src->history, service, NULL);
}

static void
add_breakers (walk_t *w, const char *service, const char *instance,
              const Cordbank__MetricsSnapshot *snapshot)
{
    static const char *const STATES[] = {"closed", "open", "half_open"};
    const Cordbank__MetricFamily *f = red_family (snapshot, "cordbank_breaker_state");
    for (size_t i = 0; f && i < f->n_samples; i++) {
        char target[128];
        labels_get (f->samples[i]->labels, "target", target, sizeof target);
        double v = f->samples[i]->value;
        const char *state = v >= 0 && v <= 2 && v == floor (v) ? STATES[(int) v] : "unknown";
        json_array_append_new (w->breakers,
                               json_pack ("{s:s, s:s, s:s, s:s}", "service", service, "instance",
                                          instance, "target", target, "state", state));
    }
}

static void
add_dependency (walk_t *w, const char *name, const char *service, const char *instance, double up)
{
    if (isnan (up))
        return;
    json_array_append_new (w->dependencies,
                           json_pack ("{s:s, s:s, s:s, s:b}", "name", name, "service", service,
                                      "instance", instance, "up", up != 0));
}

static void
add_cache (walk_t *w, const char *instance, const Cordbank__MetricsSnapshot *snapshot)
{
    double hit_ratio = gauge_value (snapshot, "cordbank_cache_hit_ratio");
    if (isnan (hit_ratio) && !red_family (snapshot, "cordbank_cache_requests_total"))
        return;
    json_array_append_new (w->cache_instances, json_pack ("{s:s, s:o}", "instance", instance,
                                                          "hit_ratio", num (hit_ratio)));
}

static void
add_ledger (walk_t *w, const char *service, const char *instance,
            const Cordbank__MetricsSnapshot *snapshot)
{
    const Cordbank__MetricFamily *f = red_family (snapshot, "cordbank_ledger_invariant_violations");
    if (!f)
        return;
    json_t *checks = json_object ();
    for (size_t i = 0; i < f->n_samples; i++) {
        char check[128];
        labels_get (f->samples[i]->labels, "check", check, sizeof check);
        json_object_set_new (checks, check, num (f->samples[i]->value));
        if (f->samples[i]->value > 0)
            w->ledger_violations += f->samples[i]->value;
    }
    double checked = gauge_value (snapshot, "cordbank_ledger_invariant_checked_timestamp_seconds");
    double age = checked > 0 ? (double) w->src->now_unix_ms / 1000.0 - checked : NAN;
    w->ledger_checked += checked > 0;
    w->ledger_unchecked += !(checked > 0);
    w->ledger_stale += age > LEDGER_STALE_S;
    json_array_append_new (w->ledger_instances,
                           json_pack ("{s:s, s:s, s:o, s:o, s:o}", "service", service, "instance",
                                      instance, "violations", checks, "checked_unix_s",
                                      num (checked > 0 ? checked : NAN), "age_seconds", num (age)));
}

static void
on_instance (const char *service, const char *instance, const Cordbank__MetricsSnapshot *snapshot,
             bool up, double age_s, void *arg)
{
    walk_t *w = arg;
    const char *current =
        w->service ? json_string_value (json_object_get (w->service, "service")) : NULL;
    if (!current || strcmp (current, service) != 0)
        open_service (w, service);
    double ready = up ? gauge_value (snapshot, "cordbank_ready") : NAN;
    json_t *obj = json_pack ("{s:s, s:b, s:o, s:o}", "instance", instance, "up", up,
                             "last_snapshot_age_seconds", num (age_s), "ready",
                             isnan (ready) ? json_null () : json_boolean (ready != 0));
    add_windows (obj, w->src->history, service, instance);
    //  The exemplar of its last snapshot: a trace id to grep the logs for.
    json_object_set_new (obj, "slowest_last_period",
                         snapshot && snapshot->slowest_trace_id && *snapshot->slowest_trace_id
                             ? json_pack ("{s:s, s:s, s:f}", "trace_id", snapshot->slowest_trace_id,
                                          "what",
                                          snapshot->slowest_what ? snapshot->slowest_what : "",
                                          "seconds", snapshot->slowest_seconds)
                             : json_null ());
    json_array_append_new (w->instances, obj);
    if (!up)
        return;
    add_breakers (w, service, instance, snapshot);
    add_dependency (w, "postgres", service, instance,
                    gauge_value (snapshot, "cordbank_balance_db_up"));
    add_dependency (w, "redis", service, instance,
                    gauge_value (snapshot, "cordbank_cache_redis_up"));
    add_cache (w, instance, snapshot);
    add_ledger (w, service, instance, snapshot);
}

static json_t *
cache_json (walk_t *w)
{
    json_t *obj = json_object ();
    static const struct {
        const char *key;
        int64_t ms;
    } WINDOWS[] = {{"hit_ratio_1m", 60000}, {"hit_ratio_10m", 600000}};
    for (size_t i = 0; i < 2; i++) {
        red_point_t d = {0};
        double span = 0;
        history_window (w->src->history, NULL, NULL, WINDOWS[i].ms, &d, &span);
        json_object_set_new (obj, WINDOWS[i].key, num (ratio (d.cache_hits, d.cache_reads)));
    }
    json_object_set_new (obj, "instances", w->cache_instances);
    return obj;
}

static json_t *
ledger_json (walk_t *w)
{
    const char *status = "unknown"; // no balance instance up reports checks
    if (w->ledger_violations > 0)
        status = "violated";
    else if (w->ledger_stale)
        status = "stale";
    else if (w->ledger_checked)
        status = "ok";
    else if (w->ledger_unchecked)
        status = "not_checked_yet";
    return json_pack ("{s:s, s:o}", "status", status, "instances", w->ledger_instances);
}

static json_t *
slo_json (const history_t *history)
{
    static const struct {
        const char *key;
        int64_t ms;
    } WINDOWS[] = {
        {"5m", 300000}, {"30m", 1800000}, {"1h", 3600000}, {"6h", 21600000}, {"3d", 259200000}};
    json_t *avail = json_object (), *latency = json_object (), *spans = json_object ();
    for (size_t i = 0; i < sizeof WINDOWS / sizeof WINDOWS[0]; i++) {
        red_point_t d = {0};
        double span = 0;
        history_window (history, NULL, NULL, WINDOWS[i].ms, &d, &span);
        json_object_set_new (avail, WINDOWS[i].key, num (ratio (d.slo_bad, d.slo_total)));
        json_object_set_new (latency, WINDOWS[i].key,
                             num (ratio (d.slo_latency_slow, d.slo_latency_total)));
        json_object_set_new (spans, WINDOWS[i].key, json_real (span));
    }
    return json_pack ("{s:{s:f, s:o}, s:{s:f, s:f, s:o}, s:o}", "availability", "objective", 0.999,
                      "error_ratio", avail, "latency", "objective", 0.99, "threshold_seconds",
                      RED_SLO_LATENCY_S, "slow_ratio", latency, "window_span_seconds", spans);
}

typedef struct {
    const summary_source_t *src;
    json_t *list;
} alert_walk_t;

static void
on_alert (const alert_view_t *a, void *arg)
{
    const summary_source_t *src = ((alert_walk_t *) arg)->src;
    json_t *list = ((alert_walk_t *) arg)->list;
    json_t *labels = json_object ();
    char name[128], value[512];
    for (const char *p = a->labels; (p = labels_next (p, name, sizeof name, value, sizeof value));)
        json_object_set_new (labels, name, json_string (value));
    json_array_append_new (
        list, json_pack ("{s:s, s:s, s:s, s:o, s:s, s:o, s:f}", "alertname", a->alertname,
                         "severity", a->severity, "state", a->firing ? "firing" : "pending",
                         "labels", labels, "summary", a->summary, "value", num (a->value),
                         "active_seconds", (double) (src->now_ms - a->active_ms) / 1000.0));
}

static json_t *
alerts_json (const summary_source_t *src)
{
    alert_walk_t w = {src, json_array ()};
    alerts_each (src->alerts, on_alert, &w);
    return w.list;
}

char *
summary_json (const summary_source_t *src)
{
    walk_t w = {.src = src,
                .services = json_array (),
                .breakers = json_array (),
                .dependencies = json_array (),
                .cache_instances = json_array (),
                .ledger_instances = json_array ()};
    aggregate_each (src->aggregate, src->now_ms, on_instance, &w);
    close_service (&w);
    json_t *doc =
        json_pack ("{s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "generated_unix_ms",
                   (json_int_t) src->now_unix_ms, "down_after_ms", (json_int_t) src->down_after_ms,
                   "services", w.services, "cache", cache_json (&w), "breakers", w.breakers,
                   "dependencies", w.dependencies, "ledger", ledger_json (&w), "slo",
                   slo_json (src->history), "alerts", alerts_json (src));
    char *text = doc ? json_dumps (doc, JSON_COMPACT) : NULL;
    json_decref (doc);
    return text;
}

//  The value of name in a query string (a=1&b=2), cut to size; false when
//  absent.
static bool
query_get (const char *query, const char *name, char *out, size_t size)
{
    size_t len = strlen (name);
    for (const char *p = query; p && *p; p = strchr (p, '&') ? strchr (p, '&') + 1 : NULL) {
        if (strncmp (p, name, len) != 0 || p[len] != '=')
            continue;
        const char *v = p + len + 1, *end = strchr (v, '&');
        size_t n = end ? (size_t) (end - v) : strlen (v);
        n = n < size - 1 ? n : size - 1;
        memcpy (out, v, n);
        out[n] = '\0';
        return true;
    }
    return false;
}

//  A whole number of seconds in [min, max] from the query; def when absent.
static int
query_seconds (const char *query, const char *name, int64_t def, int64_t min, int64_t max,
               int64_t *out)
{
    char text[32];
    *out = def;
    if (!query_get (query, name, text, sizeof text))
        return 0;
    char *end;
    long long v = strtoll (text, &end, 10);
    if (end == text || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

typedef struct {
    const summary_source_t *src;
    json_t *t, *rate, *error_ratio, *p50, *p99;
} columns_t;

static void
on_step (int64_t t_ms, const red_point_t *d, double span_s, void *arg)
{
    columns_t *c = arg;
    json_array_append_new (c->t, json_integer (c->src->now_unix_ms - (c->src->now_ms - t_ms)));
    json_array_append_new (c->rate, num (span_s > 0 ? d->requests / span_s : NAN));
    json_array_append_new (c->error_ratio, num (ratio (d->errors, d->requests)));
    json_array_append_new (c->p50, num (red_quantile (d, 0.5)));
    json_array_append_new (c->p99, num (red_quantile (d, 0.99)));
}

typedef struct {
    const summary_source_t *src;
    const char *only;
    int64_t window_ms, step_ms;
    json_t *services;
} series_walk_t;

static void
on_series_service (const char *service, void *arg)
{
    series_walk_t *w = arg;
    if (w->only && strcmp (w->only, service) != 0)
        return;
    columns_t c = {w->src,        json_array (), json_array (),
                   json_array (), json_array (), json_array ()};
    history_steps (w->src->history, service, NULL, w->window_ms, w->step_ms, on_step, &c);
    json_object_set_new (w->services, service,
                         json_pack ("{s:o, s:o, s:o, s:o, s:o}", "t_unix_ms", c.t, "rate", c.rate,
                                    "error_ratio", c.error_ratio, "p50_seconds", c.p50,
                                    "p99_seconds", c.p99));
}

char *
summary_series_json (const summary_source_t *src, const char *query, const char **error)
{
    int64_t window_s, step_s;
    char service[AGGREGATE_NAME_MAX + 1];
    bool one = query_get (query, "service", service, sizeof service);
    *error = "window must be whole seconds from 10 to 259200, step from 1 to the window";
    if (query_seconds (query, "window", SERIES_WINDOW_DEFAULT_S, 10, HISTORY_COARSE_S, &window_s) !=
        0)
        return NULL;
    int64_t def_step = window_s / SERIES_POINTS_DEFAULT > 0 ? window_s / SERIES_POINTS_DEFAULT : 1;
    if (query_seconds (query, "step", def_step, 1, window_s, &step_s) != 0)
        return NULL;
    if (window_s > HISTORY_FINE_S && step_s < HISTORY_COARSE_STEP_S)
        step_s = HISTORY_COARSE_STEP_S;
    if (window_s / step_s > 1000) {
        *error = "at most 1000 steps: make step larger";
        return NULL;
    }
    series_walk_t w = {src, one ? service : NULL, window_s * 1000, step_s * 1000, json_object ()};
    history_services (src->history, on_series_service, &w);
    json_t *doc = json_pack ("{s:I, s:I, s:I, s:o}", "generated_unix_ms",
                             (json_int_t) src->now_unix_ms, "window_seconds", (json_int_t) window_s,
                             "step_seconds", (json_int_t) step_s, "services", w.services);
    char *text = doc ? json_dumps (doc, JSON_COMPACT) : NULL;
    json_decref (doc);
    *error = text ? NULL : "out of memory";
    return text;
}

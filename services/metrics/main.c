/*  cordbank-metrics — every instance's metrics in one place.
 *
 *  Binds the SUB socket that every instance's snapshot PUB connects to
 *  (its own too: the default --metrics-endpoints is this very socket),
 *  keeps the latest snapshot of each instance (aggregate.c), and serves
 *  them all as one Prometheus exposition on its admin port's GET /metrics,
 *  each sample labelled with the service and instance it came from.
 *  Envelopes on the SUB that are not snapshots are counted and dropped.
 *
 *  Once a second it samples every instance's totals into the history
 *  (red.c, history.c); every --alert-interval-ms it evaluates the alert
 *  rules (alerts.c); on the admin port it serves the JSON API
 *  (summary.c) and the live dashboard (web/, compiled in: assets.h).
 *  Everything runs on the reactor, which owns all of that state.
 *  Ready as soon as the socket is bound and the reactor runs: it has no
 *  dependencies.
 */
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/service.h"
#include "services/metrics/aggregate.h"
#include "services/metrics/alerts.h"
#include "services/metrics/assets.h"
#include "services/metrics/history.h"
#include "services/metrics/summary.h"

#define EXPIRE_MS    1000
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define JSON_TYPE    "application/json"

#define SUMMARY                                                                                    \
    "every instance's metrics on one /metrics, a JSON API, alerts and a live dashboard\n\n"        \
    "Endpoints on the admin port (--admin-bind:--admin-port):\n"                                   \
    "  GET /                  live dashboard (HTML/JS/CSS compiled in; polls the JSON API every "  \
    "2 s)\n"                                                                                       \
    "  GET /metrics           Prometheus text of every instance, labelled service and instance,\n" \
    "                         with cordbank_instance_up and cordbank_alert_firing{alertname,"      \
    "severity}\n"                                                                                  \
    "  GET /api/v1/summary    JSON: per service and instance up, rate, error ratio, P50/P99\n"     \
    "                         over 10 s and 1 min; cache hit ratio, breakers, dependencies,\n"     \
    "                         ledger invariants, SLO error ratios, active alerts\n"                \
    "  GET /api/v1/series     JSON time series per service: "                                      \
    "?service=S&window=SECONDS&step=SECONDS\n"                                                     \
    "  GET /livez, /readyz    probes\n"                                                            \
    "Alert rules: the same as deploy/prometheus/rules/ (see docs/operations.md)"

typedef struct {
    cb_service_config_t base;
    char *bind;
    int64_t down_after_ms;
    int64_t forget_after_ms;
    int64_t alert_interval_ms;
    int64_t alert_for_ms;
} config_t;

typedef struct {
    const config_t *cfg;
    aggregate_t *aggregate;
    history_t *history;
    alerts_t *alerts;
    cb_metric_t *received, *not_snapshot, *refused;
    cb_metric_t *instances_up, *instances_down, *skipped;
    cb_log_limiter_t refused_log, history_log;
} state_t;

static void
state_metrics (state_t *state)
{
    const char *ignored = "Envelopes received on the snapshot socket and dropped.";
    state->received = cb_metrics_counter ("cordbank_metrics_snapshots_total",
                                          "Snapshots received and kept.", NULL);
    state->not_snapshot =
        cb_metrics_counter ("cordbank_metrics_ignored_total", ignored, "reason=\"not_snapshot\"");
    state->refused =
        cb_metrics_counter ("cordbank_metrics_ignored_total", ignored, "reason=\"refused\"");
    const char *instances = "Instances whose snapshots are tracked, by state.";
    state->instances_up =
        cb_metrics_gauge ("cordbank_metrics_instances", instances, "state=\"up\"");
    state->instances_down =
        cb_metrics_gauge ("cordbank_metrics_instances", instances, "state=\"down\"");
    state->skipped =
        cb_metrics_gauge ("cordbank_metrics_skipped_samples",
                          "Invalid samples left out of the last aggregate render.", NULL);
}

static void
on_envelope (const Cordbank__Envelope *env, void *arg)
{
    state_t *state = arg;
    if (env->body_case != CORDBANK__ENVELOPE__BODY_METRICS_SNAPSHOT || !env->metrics_snapshot) {
        cb_counter_inc (state->not_snapshot);
        return;
    }
    const char *service = env->sender ? env->sender->service : NULL;
    const char *instance = env->sender ? env->sender->instance : NULL;
    if (aggregate_update (state->aggregate, service, instance, env->metrics_snapshot,
                          cb_mono_ms ()) < 0) {
        cb_counter_inc (state->refused);
        uint64_t suppressed = 0;
        if (cb_log_limiter_allow (&state->refused_log, &suppressed))
            cb_log_warn (NULL, "snapshot refused: bad sender or too many instances", "{s:I, s:I}",
                         "instances",
                         (json_int_t) aggregate_size (state->aggregate, cb_mono_ms (), NULL),
                         "suppressed", (json_int_t) suppressed);
        return;
    }
    cb_counter_inc (state->received);
    //  The instance's slowest request of the last period, under its own
    //  trace id: from here an SRE can grep every service's logs for it.
    const Cordbank__MetricsSnapshot *s = env->metrics_snapshot;
    if (s->slowest_trace_id && *s->slowest_trace_id)
        cb_log_debug (s->slowest_trace_id, "slowest request", "{s:s, s:s, s:s, s:f}", "of_service",
                      service, "of_instance", instance, "what",
                      s->slowest_what ? s->slowest_what : "", "seconds", s->slowest_seconds);
}

static void
on_sample (const char *service, const char *instance, const Cordbank__MetricsSnapshot *snapshot,
           bool up, double age_s, void *arg)
{
    (void) age_s;
    state_t *state = arg;
    if (!up)
        return;
    red_point_t totals = {0};
    red_extract (snapshot, &totals);
    uint64_t suppressed = 0;
    if (history_observe (state->history, service, instance, &totals) != 0 &&
        cb_log_limiter_allow (&state->history_log, &suppressed))
        cb_log_warn (NULL, "instance left out of the history: too many, or out of memory",
                     "{s:s, s:s, s:I}", "sender_service", service, "sender_instance", instance,
                     "suppressed", (json_int_t) suppressed);
}

static void
on_forget (const char *service, const char *instance, void *arg)
{
    history_forget (arg, service, instance);
}

//  Every second: instances that went quiet, and a history point.
static int
on_expire (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id;
    state_t *state = arg;
    int64_t now = cb_mono_ms ();
    aggregate_expire (state->aggregate, now);
    aggregate_each (state->aggregate, now, on_sample, state);
    history_tick (state->history, now);
    size_t up = 0;
    size_t known = aggregate_size (state->aggregate, now, &up);
    cb_gauge_set (state->instances_up, (double) up);
    cb_gauge_set (state->instances_down, (double) (known - up));
    return 0;
}

static int
on_alerts (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id;
    state_t *state = arg;
    alerts_evaluate (state->alerts, state->aggregate, state->history, cb_mono_ms (),
                     (double) cb_now_ms () / 1000.0);
    return 0;
}

static summary_source_t
source_now (const state_t *state)
{
    return (summary_source_t){state->aggregate, state->history, state->alerts,
                              cb_mono_ms (),    cb_now_ms (),   state->cfg->down_after_ms};
}

static void
on_summary (cb_http_request_t *request, void *arg)
{
    summary_source_t src = source_now (arg);
    char *text = summary_json (&src);
    if (!text) {
        cb_http_respond_error (&request, 500, "out of memory");
        return;
    }
    cb_http_respond (&request, 200, JSON_TYPE, text, strlen (text));
    free (text);
}

static void
on_series (cb_http_request_t *request, void *arg)
{
    summary_source_t src = source_now (arg);
    const char *error = NULL;
    char *text = summary_series_json (&src, cb_http_request_query (request), &error);
    if (!text) {
        cb_http_respond_error (&request, strcmp (error, "out of memory") == 0 ? 500 : 400, error);
        return;
    }
    cb_http_respond (&request, 200, JSON_TYPE, text, strlen (text));
    free (text);
}

//  The dashboard's files, from the binary.
static void
on_asset (cb_http_request_t *request, void *arg)
{
    const metrics_asset_t *asset = arg;
    cb_http_respond (&request, 200, asset->content_type, (const char *) asset->data, asset->size);
}

//  GET /metrics on the admin port: the aggregate, rendered on the reactor
//  (which owns the aggregate).
static void
on_metrics (cb_http_request_t *request, void *arg)
{
    state_t *state = arg;
    size_t skipped = 0;
    char *text = aggregate_render (state->aggregate, cb_mono_ms (), &skipped);
    if (!text) {
        cb_http_respond_error (&request, 500, "out of memory");
        return;
    }
    cb_gauge_set (state->skipped, (double) skipped);
    cb_http_respond (&request, 200, CONTENT_TYPE, text, strlen (text));
    free (text);
}

static void
routes (cb_http_t *admin, state_t *state)
{
    cb_http_route (admin, "GET", "/metrics", on_metrics, state);
    cb_http_route (admin, "GET", "/api/v1/summary", on_summary, state);
    cb_http_route (admin, "GET", "/api/v1/series", on_series, state);
    for (size_t i = 0; i < metrics_assets_count; i++)
        cb_http_route (admin, "GET", metrics_assets[i].path, on_asset, (void *) &metrics_assets[i]);
}

static int
serve (cb_service_t *svc, const config_t *cfg)
{
    state_t state = {.cfg = cfg};
    state_metrics (&state);
    state.aggregate = aggregate_new (cfg->down_after_ms, cfg->forget_after_ms);
    state.history = history_new ();
    state.alerts = alerts_new (cfg->alert_for_ms);
    zloop_t *loop = cb_service_loop (svc);
    cb_subscriber_t *snapshots =
        cb_subscriber_new (cfg->bind, true, cb_service_curve (svc), loop, on_envelope, &state);
    int rc = 1;
    if (state.aggregate && state.history && state.alerts && snapshots) {
        aggregate_on_forget (state.aggregate, on_forget, state.history);
        routes (cb_service_admin (svc), &state);
        zloop_timer (loop, EXPIRE_MS, 0, on_expire, &state);
        zloop_timer (loop, (size_t) cfg->alert_interval_ms, 0, on_alerts, &state);
        cb_log_info (NULL, "collecting snapshots", "{s:s}", "bind", cfg->bind);
        rc = cb_service_run (svc) == 0 ? 0 : 1;
    }
    cb_subscriber_destroy (&snapshots);
    alerts_destroy (&state.alerts);
    history_destroy (&state.history);
    aggregate_destroy (&state.aggregate);
    return rc;
}

int
main (int argc, char **argv)
{
    config_t cfg = {0};
    cb_option_t opts[] = {
        CB_SERVICE_OPTIONS (cfg.base, "7501"),
        {"bind", CB_OPT_STRING, "tcp://127.0.0.1:7500", "SUB endpoint snapshots are published to",
         &cfg.bind, 0, 0, false, NULL},
        {"down-after-ms", CB_OPT_INT, "3000", "an instance silent this long is down",
         &cfg.down_after_ms, 100, 3600000, false, NULL},
        {"forget-after-ms", CB_OPT_INT, "300000",
         "an instance silent this long is forgotten (>= down-after-ms)", &cfg.forget_after_ms, 100,
         86400000, false, NULL},
        {"alert-interval-ms", CB_OPT_INT, "2000", "how often the alert rules are evaluated",
         &cfg.alert_interval_ms, 100, 60000, false, NULL},
        {"alert-for-ms", CB_OPT_INT, "-1",
         "-1: each alert rule's own hold time (for:); N: every rule fires after N ms (tests, "
         "demos)",
         &cfg.alert_for_ms, -1, 86400000, false, NULL},
    };
    size_t n = sizeof opts / sizeof opts[0];
    int rc =
        cb_service_config_main ("cordbank-metrics", SUMMARY, opts, n, argc, argv, &cfg.base, true);
    if (rc >= 0)
        return rc;
    if (cfg.forget_after_ms < cfg.down_after_ms) {
        fprintf (stderr, "cordbank-metrics: CORDBANK_FORGET_AFTER_MS/--forget-after-ms must be >= "
                         "CORDBANK_DOWN_AFTER_MS/--down-after-ms\n");
        cb_config_free (opts, n);
        return 2;
    }
    cb_service_t *svc = cb_service_new ("metrics", &cfg.base);
    rc = svc ? serve (svc, &cfg) : 1;
    cb_service_destroy (&svc);
    cb_config_free (opts, n);
    return rc;
}

/*  alert_rules — each alert rule's condition (see alert_rules.h and the
 *  list in alerts.h).
 *
 *  The same expressions as the files in deploy/prometheus/rules/, read off
 *  this service's own data: burn rates from the history's whole-system SLO
 *  counts, gauges from the latest snapshot of every instance that is up
 *  (a down instance's gauges are stale, and /metrics does not serve them
 *  either), instance liveness from the aggregate.
 */
#include "services/metrics/alert_rules.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/metrics.h"
#include "services/metrics/labels.h"

#define MIN_MS  (60 * 1000)
#define HOUR_MS (60 * MIN_MS)

static alert_rule_fn rule_slo, rule_service_down, rule_instance_down, rule_not_ready, rule_postgres,
    rule_redis, rule_breaker, rule_cache_ratio, rule_ledger_violated, rule_ledger_stale;

const alert_rule_t ALERT_RULES[] = {
    {"CordbankAvailabilityBurnFast", "page", 0, rule_slo, SLO_AVAILABILITY, HOUR_MS, 5 * MIN_MS,
     14.4 * 0.001},
    {"CordbankAvailabilityBurnSlow", "page", 0, rule_slo, SLO_AVAILABILITY, 6 * HOUR_MS,
     30 * MIN_MS, 6 * 0.001},
    {"CordbankAvailabilityBudgetBurn", "ticket", 0, rule_slo, SLO_AVAILABILITY, 72 * HOUR_MS,
     6 * HOUR_MS, 1 * 0.001},
    {"CordbankLatencyBurnFast", "page", 0, rule_slo, SLO_LATENCY, HOUR_MS, 5 * MIN_MS, 14.4 * 0.01},
    {"CordbankLatencyBurnSlow", "page", 0, rule_slo, SLO_LATENCY, 6 * HOUR_MS, 30 * MIN_MS,
     6 * 0.01},
    {"CordbankLatencyBudgetBurn", "ticket", 0, rule_slo, SLO_LATENCY, 72 * HOUR_MS, 6 * HOUR_MS,
     1 * 0.01},
    {"CordbankServiceDown", "page", MIN_MS, rule_service_down, 0, 0, 0, 0},
    {"CordbankInstanceDown", "ticket", MIN_MS, rule_instance_down, 0, 0, 0, 0},
    {"CordbankInstanceNotReady", "ticket", 5 * MIN_MS, rule_not_ready, 0, 0, 0, 0},
    {"CordbankPostgresUnreachable", "page", MIN_MS, rule_postgres, 0, 0, 0, 0},
    {"CordbankRedisUnreachable", "ticket", 2 * MIN_MS, rule_redis, 0, 0, 0, 0},
    {"CordbankBreakerOpen", "ticket", 5 * MIN_MS, rule_breaker, 0, 0, 0, 0},
    {"CordbankCacheHitRatioLow", "ticket", 15 * MIN_MS, rule_cache_ratio, 0, 10 * MIN_MS, 0, 0.5},
    {"CordbankLedgerInvariantViolated", "page", 0, rule_ledger_violated, 0, 0, 0, 0},
    {"CordbankLedgerInvariantCheckStale", "ticket", 5 * MIN_MS, rule_ledger_stale, 0, 0, 0, 900},
};
const size_t ALERT_RULE_COUNT = sizeof ALERT_RULES / sizeof ALERT_RULES[0];

static double
window_ratio (const history_t *history, slo_kind_t kind, int64_t window_ms)
{
    red_point_t d;
    double span;
    if (history_window (history, NULL, NULL, window_ms, &d, &span) != 0)
        return NAN;
    double total = kind == SLO_AVAILABILITY ? d.slo_total : d.slo_latency_total;
    double bad = kind == SLO_AVAILABILITY ? d.slo_bad : d.slo_latency_slow;
    return total > 0 ? bad / total : NAN;
}

//  "5 min", "6 h", "3 d".
static const char *
window_name (int64_t ms, char *out, size_t size)
{
    if (ms % (24 * HOUR_MS) == 0)
        snprintf (out, size, "%lld d", (long long) (ms / (24 * HOUR_MS)));
    else if (ms % HOUR_MS == 0)
        snprintf (out, size, "%lld h", (long long) (ms / HOUR_MS));
    else
        snprintf (out, size, "%lld min", (long long) (ms / MIN_MS));
    return out;
}

static void
rule_slo (alert_eval_t *ev)
{
    const alert_rule_t *r = &ALERT_RULES[ev->rule];
    double long_ratio = window_ratio (ev->history, r->kind, r->long_ms);
    double short_ratio = window_ratio (ev->history, r->kind, r->short_ms);
    if (!(long_ratio > r->threshold && short_ratio > r->threshold))
        return;
    char summary[ALERT_SUMMARY_MAX];
    char long_w[32], short_w[32];
    snprintf (summary, sizeof summary,
              "%.2f%% of application commands %s over %s, %.2f%% over %s (threshold %.2f%%)",
              100 * long_ratio, r->kind == SLO_AVAILABILITY ? "failed" : "took over 0.5 s",
              window_name (r->long_ms, long_w, sizeof long_w), 100 * short_ratio,
              window_name (r->short_ms, short_w, sizeof short_w), 100 * r->threshold);
    alert_emit (ev, r->kind == SLO_AVAILABILITY ? "slo=\"availability\"" : "slo=\"latency\"",
                long_ratio, summary);
}

//  Service down: a run of instances of one service (the aggregate is
//  sorted by service) with none up.
typedef struct {
    alert_eval_t *ev;
    char service[AGGREGATE_NAME_MAX + 1];
    size_t known, up;
} service_run_t;

static void
service_run_close (service_run_t *run)
{
    if (run->known && !run->up) {
        char labels[ALERT_LABELS_SIZE], summary[ALERT_SUMMARY_MAX];
        cb_metrics_labels (labels, sizeof labels, "service", run->service, NULL);
        snprintf (summary, sizeof summary, "no instance of cordbank-%s is up", run->service);
        alert_emit (run->ev, labels, 0, summary);
    }
    run->known = run->up = 0;
}

static void
on_service_instance (const char *service, const char *instance,
                     const Cordbank__MetricsSnapshot *snapshot, bool up, double age_s, void *arg)
{
    (void) instance, (void) snapshot, (void) age_s;
    service_run_t *run = arg;
    if (strcmp (run->service, service) != 0) {
        service_run_close (run);
        snprintf (run->service, sizeof run->service, "%s", service);
    }
    run->known++;
    run->up += up;
}

static void
rule_service_down (alert_eval_t *ev)
{
    service_run_t run = {.ev = ev};
    aggregate_each (ev->aggregate, ev->now_ms, on_service_instance, &run);
    service_run_close (&run);
}

//  An alert on one instance: labelled with it (and extra_name="extra_value"
//  when extra_name is not NULL), its summary from fmt.
static void __attribute__ ((format (printf, 7, 8)))
emit_instance (alert_eval_t *ev, const char *service, const char *instance, const char *extra_name,
               const char *extra_value, double value, const char *fmt, ...)
{
    char labels[ALERT_LABELS_SIZE], summary[ALERT_SUMMARY_MAX];
    cb_metrics_labels (labels, sizeof labels, "service", service, "instance", instance, extra_name,
                       extra_value, NULL);
    va_list args;
    va_start (args, fmt);
    vsnprintf (summary, sizeof summary, fmt, args);
    va_end (args);
    alert_emit (ev, labels, value, summary);
}

static void
on_instance_down (const char *service, const char *instance,
                  const Cordbank__MetricsSnapshot *snapshot, bool up, double age_s, void *arg)
{
    (void) snapshot;
    if (up)
        return;
    emit_instance (arg, service, instance, NULL, NULL, age_s,
                   "%s (%s) has sent no metrics snapshot for %.0f s", instance, service, age_s);
}

static void
rule_instance_down (alert_eval_t *ev)
{
    aggregate_each (ev->aggregate, ev->now_ms, on_instance_down, ev);
}

//  The gauge rules: every sample of one family in each instance that is up.
typedef void (sample_fn) (alert_eval_t *ev, const char *service, const char *instance,
                          const Cordbank__MetricSample *sample);
typedef struct {
    alert_eval_t *ev;
    const char *family;
    sample_fn *fn;
} gauge_walk_t;

static void
on_gauge_instance (const char *service, const char *instance,
                   const Cordbank__MetricsSnapshot *snapshot, bool up, double age_s, void *arg)
{
    (void) age_s;
    gauge_walk_t *walk = arg;
    const Cordbank__MetricFamily *f = up ? red_family (snapshot, walk->family) : NULL;
    if (!f || f->type == CORDBANK__METRIC_TYPE__METRIC_TYPE_HISTOGRAM)
        return;
    for (size_t i = 0; i < f->n_samples; i++)
        walk->fn (walk->ev, service, instance, f->samples[i]);
}

static void
each_gauge (alert_eval_t *ev, const char *family, sample_fn *fn)
{
    gauge_walk_t walk = {ev, family, fn};
    aggregate_each (ev->aggregate, ev->now_ms, on_gauge_instance, &walk);
}

static void
on_not_ready (alert_eval_t *ev, const char *service, const char *instance,
              const Cordbank__MetricSample *s)
{
    if (s->value != 0)
        return;
    emit_instance (ev, service, instance, NULL, NULL, s->value, "%s (%s) is not ready", instance,
                   service);
}

static void
rule_not_ready (alert_eval_t *ev)
{
    each_gauge (ev, "cordbank_ready", on_not_ready);
}

static void
on_db_up (alert_eval_t *ev, const char *service, const char *instance,
          const Cordbank__MetricSample *s)
{
    if (s->value != 0)
        return;
    emit_instance (ev, service, instance, NULL, NULL, 0, "%s has no PostgreSQL connection up",
                   instance);
}

static void
on_postgres_breaker (alert_eval_t *ev, const char *service, const char *instance,
                     const Cordbank__MetricSample *s)
{
    if (s->value != 1 || !labels_is (s->labels, "target", "postgres"))
        return;
    emit_instance (ev, service, instance, NULL, NULL, 1, "%s's PostgreSQL breaker is open",
                   instance);
}

static void
rule_postgres (alert_eval_t *ev)
{
    each_gauge (ev, "cordbank_balance_db_up", on_db_up);
    each_gauge (ev, "cordbank_breaker_state", on_postgres_breaker);
}

static void
on_redis_up (alert_eval_t *ev, const char *service, const char *instance,
             const Cordbank__MetricSample *s)
{
    if (s->value != 0)
        return;
    emit_instance (ev, service, instance, NULL, NULL, 0, "%s is disconnected from Redis", instance);
}

static void
rule_redis (alert_eval_t *ev)
{
    each_gauge (ev, "cordbank_cache_redis_up", on_redis_up);
}

static void
on_breaker (alert_eval_t *ev, const char *service, const char *instance,
            const Cordbank__MetricSample *s)
{
    if (s->value == 0)
        return;
    char target[128];
    labels_get (s->labels, "target", target, sizeof target);
    emit_instance (ev, service, instance, "target", target, s->value, "%s's breaker to %s is %s",
                   instance, target, s->value == 1 ? "open" : "half-open");
}

static void
rule_breaker (alert_eval_t *ev)
{
    each_gauge (ev, "cordbank_breaker_state", on_breaker);
}

static void
rule_cache_ratio (alert_eval_t *ev)
{
    const alert_rule_t *r = &ALERT_RULES[ev->rule];
    red_point_t d;
    double span;
    if (history_window (ev->history, NULL, NULL, r->long_ms, &d, &span) != 0 || span <= 0)
        return;
    double ratio = d.cache_reads > 0 ? d.cache_hits / d.cache_reads : NAN;
    if (!(ratio < r->threshold && d.cache_reads / span > 0.1))
        return;
    char summary[ALERT_SUMMARY_MAX];
    snprintf (summary, sizeof summary, "the cache answers only %.1f%% of balance reads",
              100 * ratio);
    alert_emit (ev, "", ratio, summary);
}

static void
on_violations (alert_eval_t *ev, const char *service, const char *instance,
               const Cordbank__MetricSample *s)
{
    if (!(s->value > 0))
        return;
    char check[128];
    labels_get (s->labels, "check", check, sizeof check);
    emit_instance (ev, service, instance, "check", check, s->value,
                   "the ledger is inconsistent: %.0f offender(s) of %s", s->value, check);
}

static void
rule_ledger_violated (alert_eval_t *ev)
{
    each_gauge (ev, "cordbank_ledger_invariant_violations", on_violations);
}

static void
on_checked (alert_eval_t *ev, const char *service, const char *instance,
            const Cordbank__MetricSample *s)
{
    double age = ev->now_unix_s - s->value;
    if (!(age > ALERT_RULES[ev->rule].threshold))
        return;
    if (s->value > 0)
        emit_instance (ev, service, instance, NULL, NULL, age,
                       "%s has not checked the ledger invariants for %.0f s", instance, age);
    else
        emit_instance (ev, service, instance, NULL, NULL, age,
                       "%s has not completed a ledger invariant check", instance);
}

static void
rule_ledger_stale (alert_eval_t *ev)
{
    each_gauge (ev, "cordbank_ledger_invariant_checked_timestamp_seconds", on_checked);
}

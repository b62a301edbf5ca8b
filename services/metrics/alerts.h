/*  alerts — the alert rules of deploy/prometheus/rules/, evaluated here.
 *
 *  Operators who run Prometheus get the rule files; a single machine
 *  (make run) has only this service, and the dashboard must still show
 *  what is firing. So the same conditions are evaluated in-process every
 *  few seconds, on the aggregate (the latest snapshot of each instance:
 *  gauges) and the history (rates and ratios over windows):
 *
 *    CordbankAvailabilityBurnFast  page    errors/commands > 14.4 x 0.1% over 1 h and 5 m
 *    CordbankAvailabilityBurnSlow  page    > 6 x 0.1% over 6 h and 30 m
 *    CordbankAvailabilityBudgetBurn ticket > 1 x 0.1% over 3 d and 6 h
 *    CordbankLatencyBurnFast/Slow, CordbankLatencyBudgetBurn: the same
 *                                  with commands slower than 0.5 s and a 1% budget
 *    CordbankServiceDown           page    every instance of a service down, for 1 m
 *    CordbankInstanceDown          ticket  no snapshot for --down-after-ms, for 1 m
 *    CordbankInstanceNotReady      ticket  cordbank_ready 0, for 5 m
 *    CordbankPostgresUnreachable   page    db_up 0 or postgres breaker open, for 1 m
 *    CordbankRedisUnreachable      ticket  cordbank_cache_redis_up 0, for 2 m
 *    CordbankBreakerOpen           ticket  a breaker not closed, for 5 m
 *    CordbankCacheHitRatioLow      ticket  hits/reads < 0.5 over 10 m (> 0.1 reads/s), for 15 m
 *    CordbankLedgerInvariantViolated page  an invariant check found offenders
 *    CordbankLedgerInvariantCheckStale ticket no completed check for 15 m, for 5 m
 *
 *  Differences from Prometheus, on purpose: windows longer than the
 *  history kept (3 days right after a start) use what there is (see
 *  history.h), so a young process judges its burn on a shorter span; and
 *  every `for:` can be overridden (--alert-for-ms) so that tests and demos
 *  need not wait minutes.
 *
 *  Each alert instance (rule + labels) is pending while its condition
 *  holds for less than its `for:`, then firing; it is logged once when it
 *  starts firing and once when it stops. cordbank_alert_firing{alertname,
 *  severity} counts the firing instances of each rule (0 when none).
 */
#ifndef METRICS_ALERTS_H
#define METRICS_ALERTS_H

#include <stdbool.h>
#include <stdint.h>

#include "services/metrics/aggregate.h"
#include "services/metrics/history.h"

typedef struct alerts alerts_t;

//  for_override_ms: -1 keeps each rule's own `for:`; >= 0 replaces them all.
alerts_t *alerts_new (int64_t for_override_ms);
void alerts_destroy (alerts_t **self_p);

//  Evaluates every rule at now_ms (monotonic) / now_unix_s (wall clock,
//  for the ledger check's timestamp). Returns how many alerts are firing.
size_t alerts_evaluate (alerts_t *self, const aggregate_t *aggregate, const history_t *history,
                        int64_t now_ms, double now_unix_s);

typedef struct {
    const char *alertname, *severity;
    const char *labels;  // Prometheus label text of the alert instance (service, instance, ...)
    const char *summary; // one line for humans
    double value;        // what the condition compared
    int64_t active_ms;   // since when the condition holds (monotonic)
    bool firing;         // else pending
} alert_view_t;

//  Calls fn for every active alert (pending or firing), firing first,
//  page before ticket.
typedef void (alerts_each_fn) (const alert_view_t *alert, void *arg);
void alerts_each (const alerts_t *self, alerts_each_fn *fn, void *arg);

#endif

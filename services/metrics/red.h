/*  red — what "requests", "errors" and "latency" mean for each service,
 *  read off one instance's snapshot as cumulative totals.
 *
 *  The dashboard and the alerts speak of rate, errors and duration (RED)
 *  per service; the instances export richer families. This file is the
 *  one place that decides which families count:
 *
 *  gateway  requests: cordbank_gateway_interactions_total (every type and
 *           outcome); errors: outcomes other than ok, dm, unauthorized and
 *           bad_request (degraded, lost, anything added later), as the
 *           availability SLO counts them; latency:
 *           cordbank_gateway_interaction_duration_seconds.
 *  command, balance, cache (any service with an RPC server)
 *           requests: cordbank_rpc_server_requests_total; errors: statuses
 *           internal, unavailable and deadline_exceeded (refusals such as
 *           insufficient_funds or cooldown are answers, not errors), plus
 *           cordbank_commands_total{outcome="error"} (a command answered
 *           with the trouble message); latency:
 *           cordbank_rpc_server_duration_seconds.
 *  metrics  requests: snapshots received plus envelopes ignored
 *           (cordbank_metrics_snapshots_total, _ignored_total); errors: the
 *           ignored ones; no latency.
 *
 *  Besides RED, the whole-system numbers the alerts need, the same as the
 *  Prometheus rules in deploy/prometheus/rules/: the availability SLO's
 *  total and bad application commands, the latency SLO's total and slow
 *  (over 0.5 s) ones, and the cache's hits (hit, negative_hit) and reads.
 *
 *  Latency histograms are kept on the fixed bounds CB_LATENCY_BUCKETS;
 *  a family with other bounds is folded onto them conservatively (each
 *  fixed bound gets the count of the largest source bound at or below it).
 */
#ifndef METRICS_RED_H
#define METRICS_RED_H

#include <stddef.h>

#include "metrics.pb-c.h"

#define RED_BUCKETS_MAX 24
//  The latency SLO's threshold, seconds (one of CB_LATENCY_BUCKETS).
#define RED_SLO_LATENCY_S 0.5

typedef struct {
    double requests, errors;
    double latency[RED_BUCKETS_MAX + 1]; // cumulative at red_bounds(); [red_bucket_count()] = +Inf
    double slo_total, slo_bad;           // availability SLO: application commands
    double slo_latency_total, slo_latency_slow;
    double cache_hits, cache_reads;
} red_point_t;

//  The fixed latency bounds (seconds) and how many there are.
const double *red_bounds (void);
size_t red_bucket_count (void);

//  The cumulative totals in one instance's snapshot, added to *point
//  (which the caller zeroes first).
void red_extract (const Cordbank__MetricsSnapshot *snapshot, red_point_t *point);

//  Every field of a, minus b's (a - b), into out.
void red_sub (const red_point_t *a, const red_point_t *b, red_point_t *out);
//  out += a.
void red_add (red_point_t *out, const red_point_t *a);
//  True when some total of now is below before's: the instance restarted
//  and its counters began again.
int red_reset (const red_point_t *now, const red_point_t *before);

//  The family called name in snapshot; NULL when absent.
const Cordbank__MetricFamily *red_family (const Cordbank__MetricsSnapshot *snapshot,
                                          const char *name);

//  The q-quantile (0..1) of the observations in cumulative bucket counts
//  (a delta between two points), as Prometheus' histogram_quantile: the
//  bucket it falls in, linear inside it (from 0 for the first); in the
//  +Inf bucket, the largest finite bound. NaN when there is no observation.
double red_quantile (const red_point_t *delta, double q);

#endif

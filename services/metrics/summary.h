/*  summary — the JSON API of the metrics service: what the dashboard
 *  polls and what a script or an operator can curl.
 *
 *  GET /api/v1/summary: the state of the system now, per service and per
 *  instance: up (a snapshot within --down-after-ms), request rate (/s),
 *  error ratio and P50/P99 latency (s) over the last 10 s and 1 min (see
 *  red.h for what each service's requests, errors and latency are); the
 *  cache hit ratio; breaker states by target; dependencies (PostgreSQL,
 *  Redis) as each instance sees them; the ledger invariant status; the SLO
 *  error ratios over the alert windows; and the active alerts.
 *
 *  GET /api/v1/series?service=S&window=W&step=T: per service (every one
 *  when service is absent), rate, error ratio, P50 and P99 over the last
 *  W seconds (default 300, at most 3 days) in steps of T seconds (default:
 *  W / 60, at least 1; 60 and up beyond 15 min), as column arrays.
 *
 *  Numbers that cannot be known (a ratio without requests, a quantile
 *  without observations, a window without two points) are JSON null.
 */
#ifndef METRICS_SUMMARY_H
#define METRICS_SUMMARY_H

#include <stdint.h>

#include "services/metrics/aggregate.h"
#include "services/metrics/alerts.h"
#include "services/metrics/history.h"

typedef struct {
    const aggregate_t *aggregate;
    const history_t *history;
    const alerts_t *alerts;
    int64_t now_ms;      // monotonic
    int64_t now_unix_ms; // wall clock at now_ms, to date points
    int64_t down_after_ms;
} summary_source_t;

//  The summary document; the caller frees it. NULL when out of memory.
char *summary_json (const summary_source_t *src);

//  The series document for a query string (service=..&window=..&step=..).
//  NULL with *error set (a static message) when the query is invalid, or
//  out of memory (*error "out of memory").
char *summary_series_json (const summary_source_t *src, const char *query, const char **error);

#endif

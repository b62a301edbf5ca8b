/*  history — per-service and per-instance time series of RED totals,
 *  sampled once a second, in bounded ring buffers.
 *
 *  Each instance's snapshot gives cumulative totals (red.h) that start
 *  again from 0 when it restarts, and instances come and go. So a series
 *  here does not sum the instances' totals: it accumulates their
 *  increases. Every tick, each instance's increase since its previous
 *  snapshot (its whole total after a restart, as Prometheus' rate() reads
 *  a counter reset; nothing for the first snapshot seen, whose history is
 *  unknown) is added to its own series, its service's and the system's
 *  (service "" : every instance of every service). The series' totals
 *  only go up, and a rate over any window is the difference of two points
 *  divided by the time between them.
 *
 *  Kept per series:
 *    service and system: a point a second for HISTORY_FINE_S (15 min),
 *                        and a point a minute for HISTORY_COARSE_S (3 days);
 *    instance:           a point a second for HISTORY_INSTANCE_S (330 s).
 *  A window longer than what is kept (3 days right after a start, or any
 *  window before the process has run that long) uses what there is: the
 *  oldest point kept, and says how long the span really was.
 *
 *  Times are monotonic milliseconds. Memory is bounded: at most
 *  HISTORY_SERVICES_MAX services and HISTORY_INSTANCES_MAX instances
 *  (about 1.3 MB per service, 90 kB per instance).
 */
#ifndef METRICS_HISTORY_H
#define METRICS_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "services/metrics/red.h"

#define HISTORY_FINE_S        900
#define HISTORY_COARSE_S      (3 * 86400)
#define HISTORY_COARSE_STEP_S 60
#define HISTORY_INSTANCE_S    330
#define HISTORY_SERVICES_MAX  64
#define HISTORY_INSTANCES_MAX 1024

typedef struct history history_t;

history_t *history_new (void);
void history_destroy (history_t **self_p);

//  The latest totals of (service, instance), read from its snapshot
//  (borrowed, copied). Call it for every instance that is up, then
//  history_tick once. -1 when the instance or its service is over the
//  bounds above or out of memory (its traffic is then not counted).
int history_observe (history_t *self, const char *service, const char *instance,
                     const red_point_t *totals);

//  Appends a point to every series at now_ms (a point less than half a
//  second after the newest replaces it).
void history_tick (history_t *self, int64_t now_ms);

//  Drops the series of an instance the aggregate forgot.
void history_forget (history_t *self, const char *service, const char *instance);

//  The increase of a series over the last window_ms before its newest
//  point: service NULL or "" is the whole system, instance NULL the whole
//  service. *span_s gets the seconds the increase was really measured
//  over (less than the window when history is shorter). -1 when the
//  series is unknown or has fewer than two points.
int history_window (const history_t *self, const char *service, const char *instance,
                    int64_t window_ms, red_point_t *delta, double *span_s);

//  Calls fn for consecutive steps of step_ms covering the last window_ms
//  of a series (oldest first), with each step's end time (monotonic ms),
//  its increase and its length in seconds. Steps shorter than a second
//  are rounded up; windows beyond the fine history use the coarse one
//  (steps of at least a minute). Returns the number of steps.
typedef void (history_step_fn) (int64_t t_ms, const red_point_t *delta, double span_s, void *arg);
size_t history_steps (const history_t *self, const char *service, const char *instance,
                      int64_t window_ms, int64_t step_ms, history_step_fn *fn, void *arg);

//  Services known, in name order: calls fn for each.
typedef void (history_service_fn) (const char *service, void *arg);
void history_services (const history_t *self, history_service_fn *fn, void *arg);

#endif

/*  metrics — the process's metrics registry: counters, gauges, histograms.
 *
 *  One registry per process (with the config, the only global state). A
 *  series is a metric name plus its label text; asking for the same pair
 *  again returns the same series, so hot paths look a series up once and
 *  keep the pointer. Values are atomics: the reactor thread updates them,
 *  the admin HTTP thread renders them, neither takes a lock on the hot path
 *  (registration, lookup and rendering take the registry mutex; lookup is
 *  a hash table probe, cheap enough for label sets built per request).
 *
 *  Labels are given as Prometheus label text without braces:
 *      cb_metrics_counter ("cordbank_requests_total", "Requests served.",
 *                          "method=\"balance_get\",status=\"ok\"");
 *  Use cb_metrics_labels() to build label text with escaped values.
 *
 *  There is one renderer: the registry is first turned into a
 *  MetricsSnapshot (the message every instance publishes), and snapshots
 *  are rendered to Prometheus text (exposition format 0.0.4) by
 *  cb_metrics_render_snapshots, which the metrics service also uses for
 *  its aggregate. Every snapshot and render first refreshes the process
 *  metrics: process_resident_memory_bytes, process_cpu_seconds_total,
 *  process_open_fds and cordbank_build_info{version=CB_VERSION}.
 */
#ifndef CB_METRICS_H
#define CB_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.pb-c.h"

#ifndef CB_VERSION
#define CB_VERSION "dev" // the Makefile passes VERSION
#endif

typedef struct cb_metric cb_metric_t;

//  Seconds: 0.5 ms .. 10 s, what a command's latency spans.
extern const double CB_LATENCY_BUCKETS[];
extern const size_t CB_LATENCY_BUCKETS_COUNT;

//  The series (created on first use). `labels` may be NULL or "".
//  A name registered with another type, or a histogram with other bounds,
//  is a programming error (assert), as are an invalid metric name, invalid
//  label text, an "le" label on a histogram, and histogram bounds that are
//  not finite and strictly increasing. The help text of the first
//  registration of a name is kept.
cb_metric_t *cb_metrics_counter (const char *name, const char *help, const char *labels);
cb_metric_t *cb_metrics_gauge (const char *name, const char *help, const char *labels);
cb_metric_t *cb_metrics_histogram (const char *name, const char *help, const char *labels,
                                   const double *bounds, size_t bound_count);

//  Updates take no lock. A NULL metric (its registration ran out of
//  memory) is ignored, so calls may be chained:
//      cb_counter_inc (cb_metrics_counter ("x_total", "X.", labels));
//  A counter only goes up: a negative delta is a programming error.
void cb_counter_add (cb_metric_t *metric, double delta);
void cb_counter_inc (cb_metric_t *metric);
//  For a total counted elsewhere (CPU time from the kernel, a library's
//  own counters): sets the counter to it. Totals never go down.
void cb_counter_set (cb_metric_t *metric, double total);
void cb_gauge_set (cb_metric_t *metric, double value);
void cb_gauge_add (cb_metric_t *metric, double delta);
//  Counts value in the first bucket whose bound is >= value (Prometheus
//  "le" semantics), or in +Inf.
void cb_histogram_observe (cb_metric_t *metric, double value);
double cb_metric_value (const cb_metric_t *metric); // counter/gauge; histogram: sum
uint64_t cb_histogram_count (const cb_metric_t *metric);
//  Cumulative count of observations <= bounds[index]; index == bound_count
//  is +Inf (the count).
uint64_t cb_histogram_bucket (const cb_metric_t *metric, size_t index);

//  Writes label text k1="v1",k2="v2" with values escaped (\\, \", \n) and
//  invalid UTF-8 bytes replaced by '?'. Arguments are name, value pairs
//  ending with NULL. Text that does not fit is cut so that the result is
//  still valid label text: a value is shortened (never inside an escape or
//  a UTF-8 sequence), a pair whose name does not fit is left out with
//  every pair after it. Returns out.
char *cb_metrics_labels (char *out, size_t outlen, ...);

//  True when text is valid label text as written above: names
//  [a-zA-Z_][a-zA-Z0-9_]*, each once, values quoted with only \\ \" \n
//  escapes and valid UTF-8. NULL and "" are valid.
bool cb_metrics_labels_valid (const char *text);
//  True when name is a valid metric name: [a-zA-Z_:][a-zA-Z0-9_:]*.
bool cb_metrics_name_valid (const char *name);

//  Refreshes process_resident_memory_bytes, process_cpu_seconds_total,
//  process_open_fds (from /proc/self) and cordbank_build_info. Every
//  snapshot (and so every render) calls it first.
void cb_metrics_process_update (void);

//  Prometheus text exposition (version 0.0.4) of the whole registry;
//  the caller frees it. NULL when out of memory.
char *cb_metrics_render (void);

//  The whole registry as a snapshot message: families sorted by name,
//  samples by label text, histogram bucket_counts cumulative. The caller
//  frees it with cb_metrics_snapshot_free. NULL when out of memory.
Cordbank__MetricsSnapshot *cb_metrics_snapshot (void);

//  The exemplar of the next snapshot: the slowest request answered since
//  the previous one. Servers offer every request they answer (trace id,
//  what it was, seconds); the snapshot takes the slowest and starts over.
//  Lets an SRE go from "this instance is slow" to one trace to grep.
void cb_metrics_exemplar_offer (const char *trace_id, const char *what, double seconds);
//  A deep copy of any snapshot (one borrowed from a decoded envelope);
//  free with cb_metrics_snapshot_free. NULL when out of memory.
Cordbank__MetricsSnapshot *cb_metrics_snapshot_copy (const Cordbank__MetricsSnapshot *snapshot);
void cb_metrics_snapshot_free (Cordbank__MetricsSnapshot **snapshot);

//  One snapshot to render and the label text (NULL or "") to put in front
//  of each of its samples' labels, e.g. service="balance",instance="b-1".
typedef struct {
    const Cordbank__MetricsSnapshot *snapshot;
    const char *extra_labels;
} cb_metrics_source_t;

//  Renders snapshots as one Prometheus text exposition; the caller frees
//  it. Families are ordered by name, and a family present in several
//  sources is written once, contiguous: HELP and TYPE from the first
//  source that has it, then its samples in source order. Snapshots may
//  come off the wire, so what Prometheus would refuse is left out rather
//  than written: a family with an invalid name, or whose type differs
//  from the first source's; histograms with bounds that are not finite and
//  strictly increasing; samples with invalid label text, an "le" label on
//  a histogram, or bucket counts that do not match the bounds or are not
//  cumulative. *skipped (may be NULL) counts the samples left out. A
//  sample label whose name is also in extra_labels is renamed
//  exported_<name>, as Prometheus does. NULL when out of memory.
char *cb_metrics_render_snapshots (const cb_metrics_source_t *sources, size_t count,
                                   size_t *skipped);

//  Forgets every series (unit tests only: pointers held earlier dangle).
void cb_metrics_reset (void);

#endif

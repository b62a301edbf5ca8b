/*  red — requests, errors and latency per service (see red.h).
 *
 *  A table maps family names to what they add to a point; each handler
 *  looks at one sample's labels. Families not in the table are ignored,
 *  so a new metric never changes what the dashboard shows by accident.
 */
#include "services/metrics/red.h"

#include <math.h>
#include <string.h>

#include "common/metrics.h"
#include "services/metrics/labels.h"

const double *
red_bounds (void)
{
    return CB_LATENCY_BUCKETS;
}

size_t
red_bucket_count (void)
{
    return CB_LATENCY_BUCKETS_COUNT < RED_BUCKETS_MAX ? CB_LATENCY_BUCKETS_COUNT : RED_BUCKETS_MAX;
}

static int
is_one_of (const char *value, const char *const *list)
{
    for (; *list; list++)
        if (strcmp (value, *list) == 0)
            return 1;
    return 0;
}

static const char *const CLIENT_FAULT[] = {"unauthorized", "bad_request", NULL};
static const char *const GOOD_OUTCOMES[] = {"ok", "dm", "unauthorized", "bad_request", NULL};
static const char *const SERVER_FAULTS[] = {"internal", "unavailable", "deadline_exceeded", NULL};

static void
on_interactions (const Cordbank__MetricSample *s, red_point_t *p)
{
    char outcome[64], type[64];
    labels_get (s->labels, "outcome", outcome, sizeof outcome);
    labels_get (s->labels, "type", type, sizeof type);
    int bad = !is_one_of (outcome, GOOD_OUTCOMES);
    p->requests += s->value;
    p->errors += bad ? s->value : 0;
    if (strcmp (type, "application_command") == 0 && !is_one_of (outcome, CLIENT_FAULT)) {
        p->slo_total += s->value;
        p->slo_bad += bad ? s->value : 0;
    }
}

static void
on_rpc_requests (const Cordbank__MetricSample *s, red_point_t *p)
{
    char status[64];
    labels_get (s->labels, "status", status, sizeof status);
    p->requests += s->value;
    p->errors += is_one_of (status, SERVER_FAULTS) ? s->value : 0;
}

static void
on_commands (const Cordbank__MetricSample *s, red_point_t *p)
{
    if (labels_is (s->labels, "outcome", "error")) {
        p->errors += s->value;
        p->slo_bad += s->value;
    }
}

static void
on_snapshots (const Cordbank__MetricSample *s, red_point_t *p)
{
    p->requests += s->value;
}

static void
on_ignored (const Cordbank__MetricSample *s, red_point_t *p)
{
    p->requests += s->value;
    p->errors += s->value;
}

static void
on_cache_requests (const Cordbank__MetricSample *s, red_point_t *p)
{
    char result[64];
    labels_get (s->labels, "result", result, sizeof result);
    p->cache_reads += s->value;
    if (strcmp (result, "hit") == 0 || strcmp (result, "negative_hit") == 0)
        p->cache_hits += s->value;
}

//  Cumulative count of the source histogram at bound (the largest source
//  bound <= bound; 0 below the first).
static double
count_at (const Cordbank__MetricFamily *f, const Cordbank__MetricSample *s, double bound)
{
    double count = 0;
    for (size_t i = 0; i < f->n_bounds && i < s->n_bucket_counts; i++) {
        if (f->bounds[i] > bound * (1 + 1e-9))
            break;
        count = (double) s->bucket_counts[i];
    }
    return count;
}

static void
add_histogram (const Cordbank__MetricFamily *f, const Cordbank__MetricSample *s, red_point_t *p)
{
    size_t n = red_bucket_count ();
    const double *bounds = red_bounds ();
    for (size_t i = 0; i < n; i++)
        p->latency[i] += count_at (f, s, bounds[i]);
    p->latency[n] += (double) s->count;
}

static void
on_latency (const Cordbank__MetricFamily *f, const Cordbank__MetricSample *s, red_point_t *p)
{
    add_histogram (f, s, p);
}

static void
on_gateway_latency (const Cordbank__MetricFamily *f, const Cordbank__MetricSample *s,
                    red_point_t *p)
{
    add_histogram (f, s, p);
    if (labels_is (s->labels, "type", "application_command")) {
        p->slo_latency_total += (double) s->count;
        p->slo_latency_slow += (double) s->count - count_at (f, s, RED_SLO_LATENCY_S);
    }
}

typedef struct {
    const char *family;
    void (*value_fn) (const Cordbank__MetricSample *, red_point_t *);
    void (*histogram_fn) (const Cordbank__MetricFamily *, const Cordbank__MetricSample *,
                          red_point_t *);
} handler_t;

static const handler_t HANDLERS[] = {
    {"cordbank_gateway_interactions_total", on_interactions, NULL},
    {"cordbank_gateway_interaction_duration_seconds", NULL, on_gateway_latency},
    {"cordbank_rpc_server_requests_total", on_rpc_requests, NULL},
    {"cordbank_rpc_server_duration_seconds", NULL, on_latency},
    {"cordbank_commands_total", on_commands, NULL},
    {"cordbank_metrics_snapshots_total", on_snapshots, NULL},
    {"cordbank_metrics_ignored_total", on_ignored, NULL},
    {"cordbank_cache_requests_total", on_cache_requests, NULL},
};

static int
sample_ok (const Cordbank__MetricFamily *f, const Cordbank__MetricSample *s, int histogram)
{
    if (!histogram)
        return isfinite (s->value) && s->value >= 0;
    return s->n_bucket_counts == f->n_bounds;
}

void
red_extract (const Cordbank__MetricsSnapshot *snapshot, red_point_t *point)
{
    for (size_t i = 0; snapshot && i < snapshot->n_families; i++) {
        const Cordbank__MetricFamily *f = snapshot->families[i];
        for (size_t h = 0; f && f->name && h < sizeof HANDLERS / sizeof HANDLERS[0]; h++) {
            if (strcmp (f->name, HANDLERS[h].family) != 0)
                continue;
            int histogram = HANDLERS[h].histogram_fn != NULL;
            if (histogram != (f->type == CORDBANK__METRIC_TYPE__METRIC_TYPE_HISTOGRAM))
                break;
            for (size_t j = 0; j < f->n_samples; j++) {
                const Cordbank__MetricSample *s = f->samples[j];
                if (!sample_ok (f, s, histogram))
                    continue;
                if (histogram)
                    HANDLERS[h].histogram_fn (f, s, point);
                else
                    HANDLERS[h].value_fn (s, point);
            }
            break;
        }
    }
}

const Cordbank__MetricFamily *
red_family (const Cordbank__MetricsSnapshot *snapshot, const char *name)
{
    for (size_t i = 0; snapshot && i < snapshot->n_families; i++)
        if (snapshot->families[i]->name && strcmp (snapshot->families[i]->name, name) == 0)
            return snapshot->families[i];
    return NULL;
}

//  The point as an array of doubles: every field is one.
#define FIELDS (sizeof (red_point_t) / sizeof (double))

void
red_sub (const red_point_t *a, const red_point_t *b, red_point_t *out)
{
    const double *x = (const double *) a, *y = (const double *) b;
    double *z = (double *) out;
    for (size_t i = 0; i < FIELDS; i++)
        z[i] = x[i] - y[i];
}

void
red_add (red_point_t *out, const red_point_t *a)
{
    const double *x = (const double *) a;
    double *z = (double *) out;
    for (size_t i = 0; i < FIELDS; i++)
        z[i] += x[i];
}

int
red_reset (const red_point_t *now, const red_point_t *before)
{
    const double *x = (const double *) now, *y = (const double *) before;
    for (size_t i = 0; i < FIELDS; i++)
        if (x[i] < y[i])
            return 1;
    return 0;
}

double
red_quantile (const red_point_t *delta, double q)
{
    size_t n = red_bucket_count ();
    const double *bounds = red_bounds ();
    double total = delta->latency[n];
    if (!(total > 0) || q < 0 || q > 1)
        return NAN;
    double rank = q * total;
    double below = 0, lower = 0;
    for (size_t i = 0; i < n; i++) {
        double count = delta->latency[i];
        if (count >= rank) {
            double in_bucket = count - below;
            if (in_bucket <= 0)
                return bounds[i];
            return lower + (bounds[i] - lower) * (rank - below) / in_bucket;
        }
        below = count;
        lower = bounds[i];
    }
    return bounds[n - 1];
}

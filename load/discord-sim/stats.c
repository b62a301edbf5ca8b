/*  stats — counters, histograms and the two report formats.
 *
 *  Error kinds are few (a dozen names plus one per HTTP status seen), so
 *  they live in a small array searched linearly; past KINDS_MAX distinct
 *  kinds the rest are counted as "other" rather than growing without end.
 */
#include "load/discord-sim/stats.h"
#include "load/discord-sim/histogram.h"
#include "load/discord-sim/selftest.h"

#include <assert.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KINDS_MAX 32

typedef struct {
    uint64_t sent, answered, ok, refused, errors;
    sim_hist_t *latency;
} counters_t;

struct sim_stats {
    counters_t total;
    counters_t window;
    struct {
        char name[SIM_KIND_SIZE];
        uint64_t count;
    } kinds[KINDS_MAX];
    size_t kind_count;
};

sim_stats_t *
sim_stats_new (void)
{
    sim_stats_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->total.latency = sim_hist_new ();
    self->window.latency = sim_hist_new ();
    if (!self->total.latency || !self->window.latency)
        sim_stats_destroy (&self);
    return self;
}

void
sim_stats_destroy (sim_stats_t **self_p)
{
    assert (self_p);
    sim_stats_t *self = *self_p;
    if (!self)
        return;
    sim_hist_destroy (&self->total.latency);
    sim_hist_destroy (&self->window.latency);
    free (self);
    *self_p = NULL;
}

void
sim_stats_on_sent (sim_stats_t *self)
{
    assert (self);
    self->total.sent++;
    self->window.sent++;
}

static void
count_kind (sim_stats_t *self, const char *kind)
{
    size_t i = 0;
    while (i < self->kind_count && strcmp (self->kinds[i].name, kind) != 0)
        i++;
    if (i == self->kind_count && i == KINDS_MAX) {
        i = KINDS_MAX - 1;
        snprintf (self->kinds[i].name, sizeof self->kinds[i].name, "other");
    } else if (i == self->kind_count) {
        snprintf (self->kinds[i].name, sizeof self->kinds[i].name, "%s", kind);
        self->kind_count++;
    }
    self->kinds[i].count++;
}

static void
count (counters_t *counters, const sim_verdict_t *verdict, uint64_t latency_us)
{
    if (verdict->answered) {
        counters->answered++;
        sim_hist_record (counters->latency, latency_us);
    }
    if (verdict->outcome == SIM_OUTCOME_OK)
        counters->ok++;
    else if (verdict->outcome == SIM_OUTCOME_REFUSED)
        counters->refused++;
    else
        counters->errors++;
}

void
sim_stats_on_verdict (sim_stats_t *self, const sim_verdict_t *verdict, uint64_t latency_us)
{
    assert (self && verdict);
    count (&self->total, verdict, latency_us);
    count (&self->window, verdict, latency_us);
    if (verdict->outcome == SIM_OUTCOME_ERROR)
        count_kind (self, verdict->kind);
}

uint64_t
sim_stats_errors (const sim_stats_t *self)
{
    assert (self);
    return self->total.errors;
}

//  "1.2ms", "0.35ms", or "-" when there is no sample.
static const char *
format_ms (const sim_hist_t *latency, double p, char *out, size_t size)
{
    if (sim_hist_count (latency) == 0)
        return "-";
    double ms = (double) sim_hist_percentile (latency, p) / 1000.0;
    snprintf (out, size, ms < 1.0 ? "%.2fms" : "%.1fms", ms);
    return out;
}

void
sim_stats_print_window (sim_stats_t *self, FILE *out, int64_t t, double window_s)
{
    assert (self && out && window_s > 0);
    counters_t *w = &self->window;
    char p50[32], p99[32];
    fprintf (out,
             "t=%" PRId64 "s sent=%" PRIu64 " ok=%" PRIu64 " refused=%" PRIu64 " errors=%" PRIu64
             " cmd/s=%.1f p50=%s p99=%s\n",
             t, w->sent, w->ok, w->refused, w->errors, (double) w->answered / window_s,
             format_ms (w->latency, 50, p50, sizeof p50),
             format_ms (w->latency, 99, p99, sizeof p99));
    fflush (out);
    sim_hist_t *latency = w->latency;
    sim_hist_reset (latency);
    memset (w, 0, sizeof *w);
    w->latency = latency;
}

static double
rounded (double value, double unit)
{
    return round (value / unit) * unit;
}

//  In ms to the microsecond; null when nothing was answered.
static json_t *
hist_ms (const sim_hist_t *latency, double p)
{
    if (sim_hist_count (latency) == 0)
        return json_null ();
    uint64_t us = sim_hist_percentile (latency, p);
    return json_real (rounded ((double) us / 1000.0, 0.001));
}

static json_t *
percentile_ms (const sim_stats_t *self, double p)
{
    return hist_ms (self->total.latency, p);
}

//  null for NaN; rounded to unit unless unit is 0.
static json_t *
real_or_null (double value, double unit)
{
    if (!isfinite (value))
        return json_null ();
    return json_real (unit > 0 ? rounded (value, unit) : value);
}

void
sim_stats_print_window_json (const sim_stats_t *self, FILE *out, int64_t t, double target_rate)
{
    assert (self && out);
    const counters_t *w = &self->window;
    json_t *line =
        json_pack ("{s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o}", "t", (json_int_t) t,
                   "target_rate", real_or_null (target_rate, 0.01), "sent", (json_int_t) w->sent,
                   "answered", (json_int_t) w->answered, "ok", (json_int_t) w->ok, "refused",
                   (json_int_t) w->refused, "errors", (json_int_t) w->errors, "p50_ms",
                   hist_ms (w->latency, 50), "p90_ms", hist_ms (w->latency, 90), "p99_ms",
                   hist_ms (w->latency, 99), "max_ms", hist_ms (w->latency, 100));
    if (line && json_dumpf (line, out, JSON_COMPACT | JSON_REAL_PRECISION (12)) == 0)
        fputc ('\n', out);
    json_decref (line);
    fflush (out);
}

//  [{"p":50,"ms":..},...] from the median to the maximum, on a nines scale.
static json_t *
percentile_curve (const sim_stats_t *self)
{
    static const double points[] = {50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100};
    json_t *curve = json_array ();
    for (size_t i = 0;
         curve && sim_hist_count (self->total.latency) > 0 && i < sizeof points / sizeof points[0];
         i++)
        json_array_append_new (
            curve, json_pack ("{s:f, s:o}", "p", points[i], "ms", percentile_ms (self, points[i])));
    return curve;
}

//  The labels of info that are set.
static int
add_labels (json_t *summary, const sim_run_info_t *info)
{
    int rc = 0;
    if (info->model)
        rc |= json_object_set_new (summary, "model", json_string (info->model));
    if (info->mix)
        rc |= json_object_set_new (summary, "mix", json_string (info->mix));
    if (info->popularity)
        rc |= json_object_set_new (summary, "popularity", json_string (info->popularity));
    if (info->model && strcmp (info->model, "closed") == 0)
        rc |= json_object_set_new (summary, "think_ms", json_integer (info->think_ms));
    return rc;
}

static json_t *
errors_json (const sim_stats_t *self)
{
    json_t *errors = json_object ();
    for (size_t i = 0; errors && i < self->kind_count; i++)
        if (json_object_set_new (errors, self->kinds[i].name,
                                 json_integer ((json_int_t) self->kinds[i].count)) != 0) {
            json_decref (errors);
            return NULL;
        }
    return errors;
}

int
sim_stats_print_summary (const sim_stats_t *self, FILE *out, const sim_run_info_t *info)
{
    assert (self && out && info);
    const counters_t *t = &self->total;
    double per_s = info->duration_s > 0 ? (double) t->answered / info->duration_s : 0;
    json_t *summary = json_pack (
        "{s:f, s:I, s:I, s:I, s:I, s:o, s:f, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:o, s:o}",
        "duration_s", rounded (info->duration_s, 0.001), "sent", (json_int_t) t->sent, "answered",
        (json_int_t) t->answered, "ok", (json_int_t) t->ok, "refused", (json_int_t) t->refused,
        "errors", errors_json (self), "commands_per_s", rounded (per_s, 0.01), "p50_ms",
        percentile_ms (self, 50), "p90_ms", percentile_ms (self, 90), "p99_ms",
        percentile_ms (self, 99), "p999_ms", percentile_ms (self, 99.9), "max_ms",
        percentile_ms (self, 100), "users", (json_int_t) info->users, "guilds",
        (json_int_t) info->guilds, "rate", real_or_null (info->rate, 0), "percentiles",
        percentile_curve (self));
    if (!summary || add_labels (summary, info) != 0) {
        json_decref (summary);
        return -1;
    }
    int rc = json_dumpf (summary, out, JSON_COMPACT | JSON_REAL_PRECISION (12));
    json_decref (summary);
    fputc ('\n', out);
    fflush (out);
    return rc;
}

static int
test_window_line (sim_stats_t *stats)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream (&text, &len);
    SIM_CHECK (out);
    sim_stats_print_window (stats, out, 3, 1.0);
    fclose (out);
    int same = strcmp (text, "t=3s sent=3 ok=1 refused=1 errors=1 cmd/s=3.0 p50=1.5ms "
                             "p99=250.0ms\n") == 0;
    if (!same)
        fprintf (stderr, "got: %s", text);
    free (text);
    SIM_CHECK (same);
    return 0;
}

static int
test_summary (sim_stats_t *stats)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream (&text, &len);
    SIM_CHECK (out);
    sim_run_info_t info = {.duration_s = 2.0, .users = 10, .guilds = 2, .rate = 1.5};
    SIM_CHECK (sim_stats_print_summary (stats, out, &info) == 0);
    fclose (out);
    json_t *summary = json_loads (text, 0, NULL);
    free (text);
    SIM_CHECK (summary);
    json_int_t sent = 0, answered = 0, http_503 = 0;
    double p50 = 0, max = 0, per_s = 0;
    int rc = json_unpack (summary, "{s:I, s:I, s:{s:I}, s:F, s:F, s:F}", "sent", &sent, "answered",
                          &answered, "errors", "http_503", &http_503, "p50_ms", &p50, "max_ms",
                          &max, "commands_per_s", &per_s);
    json_decref (summary);
    SIM_CHECK (rc == 0 && sent == 3 && answered == 3 && http_503 == 1);
    SIM_CHECK (fabs (p50 - 1.5) < 0.02 && fabs (max - 250.0) < 0.001 && per_s == 1.5);
    return 0;
}

int
sim_stats_test (void)
{
    sim_stats_t *stats = sim_stats_new ();
    SIM_CHECK (stats);
    sim_verdict_t ok = {.outcome = SIM_OUTCOME_OK, .answered = true};
    sim_verdict_t refused = {.outcome = SIM_OUTCOME_REFUSED, .answered = true};
    sim_verdict_t failed = {.outcome = SIM_OUTCOME_ERROR, .kind = "http_503", .answered = true};
    for (int i = 0; i < 3; i++)
        sim_stats_on_sent (stats);
    sim_stats_on_verdict (stats, &ok, 1000);
    sim_stats_on_verdict (stats, &refused, 1500);
    sim_stats_on_verdict (stats, &failed, 250000);
    SIM_CHECK (sim_stats_errors (stats) == 1);
    int rc = test_window_line (stats) == 0 ? test_summary (stats) : -1;
    sim_stats_destroy (&stats);
    return rc;
}

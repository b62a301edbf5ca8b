/*  reads — counters of a cache run's reads (see reads.h).
 *
 *  Per-second counts grow with the run like report.c's: second 0 is the
 *  first second of load, and a drain may add seconds past --duration-s.
 */
#include "load/ledger-load/reads.h"
#include "load/ledger-load/grow.h"
#include "load/ledger-load/selftest.h"
#include "load/discord-sim/histogram.h"
#include "common/envelope.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STATUSES 16 // Status values are below this; larger ones count as INTERNAL
#define SHOWN    10

typedef struct {
    uint64_t ok, hits, failed, violations;
} second_t;

struct ll_reads {
    uint64_t sent, ok, hits, written, abandoned, violations, mismatches;
    uint64_t statuses[STATUSES];
    sim_hist_t *latency; // of OK answers, us
    second_t *seconds;
    size_t second_count, second_cap;
};

ll_reads_t *
ll_reads_new (void)
{
    ll_reads_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->latency = sim_hist_new ();
    if (!self->latency)
        ll_reads_destroy (&self);
    return self;
}

void
ll_reads_destroy (ll_reads_t **self_p)
{
    assert (self_p);
    ll_reads_t *self = *self_p;
    if (!self)
        return;
    sim_hist_destroy (&self->latency);
    free (self->seconds);
    free (self);
    *self_p = NULL;
}

//  The counts of second `second`; NULL when out of memory (the second then
//  goes uncounted, the totals do not).
static second_t *
s_second (ll_reads_t *self, size_t second)
{
    second_t *seconds = ll_grow (self->seconds, &self->second_cap, sizeof *seconds, second);
    if (!seconds)
        return NULL;
    self->seconds = seconds;
    if (second >= self->second_count)
        self->second_count = second + 1;
    return &self->seconds[second];
}

void
ll_reads_sent (ll_reads_t *self)
{
    assert (self);
    self->sent++;
}

void
ll_reads_answer (ll_reads_t *self, uint32_t status, bool cached, uint64_t version,
                 uint64_t latency_us, size_t second)
{
    assert (self);
    self->statuses[status < STATUSES ? status : CORDBANK__STATUS__STATUS_INTERNAL]++;
    second_t *s = s_second (self, second);
    if (status != CORDBANK__STATUS__STATUS_OK) {
        if (s)
            s->failed++;
        return;
    }
    self->ok++;
    self->hits += cached;
    self->written += version > 0;
    sim_hist_record (self->latency, latency_us);
    if (s) {
        s->ok++;
        s->hits += cached;
    }
}

void
ll_reads_violation (ll_reads_t *self, const char *why, size_t second)
{
    assert (self && why);
    if (self->violations++ < SHOWN)
        fprintf (stderr, "cordbank-ledger-load: stale read: %s\n", why);
    second_t *s = s_second (self, second);
    if (s)
        s->violations++;
}

void
ll_reads_mismatch (ll_reads_t *self, const char *why)
{
    assert (self && why);
    if (self->mismatches++ < SHOWN)
        fprintf (stderr, "cordbank-ledger-load: wrong balance: %s\n", why);
}

void
ll_reads_abandoned (ll_reads_t *self)
{
    assert (self);
    self->abandoned++;
}

uint64_t
ll_reads_ok (const ll_reads_t *self)
{
    assert (self);
    return self->ok;
}

uint64_t
ll_reads_violations (const ll_reads_t *self)
{
    assert (self);
    return self->violations;
}

uint64_t
ll_reads_mismatches (const ll_reads_t *self)
{
    assert (self);
    return self->mismatches;
}

void
ll_reads_print_second (const ll_reads_t *self, FILE *out, size_t second)
{
    assert (self && out);
    second_t none = {0};
    const second_t *s = second < self->second_count ? &self->seconds[second] : &none;
    fprintf (out,
             "t=%zus reads ok=%" PRIu64 " hits=%" PRIu64 " failed=%" PRIu64 " violations=%" PRIu64
             "\n",
             second + 1, s->ok, s->hits, s->failed, s->violations);
    fflush (out);
}

static double
s_rounded (double value, double unit)
{
    return round (value / unit) * unit;
}

//  In ms to the microsecond; null when nothing was answered OK.
static json_t *
s_percentile_ms (const ll_reads_t *self, double p)
{
    if (sim_hist_count (self->latency) == 0)
        return json_null ();
    uint64_t us = p >= 100 ? sim_hist_max (self->latency) : sim_hist_percentile (self->latency, p);
    return json_real (s_rounded ((double) us / 1000.0, 0.001));
}

//  {"UNAVAILABLE": n, ...}: every failure seen (an empty object when none).
static json_t *
s_failed_json (const ll_reads_t *self)
{
    json_t *out = json_object ();
    for (uint32_t i = 0; out && i < STATUSES; i++)
        if (i != CORDBANK__STATUS__STATUS_OK && self->statuses[i] &&
            json_object_set_new (out, cb_status_name ((Cordbank__Status) i),
                                 json_integer ((json_int_t) self->statuses[i])) != 0) {
            json_decref (out);
            return NULL;
        }
    return out;
}

static json_t *
s_seconds_json (const ll_reads_t *self)
{
    json_t *ok = json_array (), *hits = json_array (), *failed = json_array ();
    json_t *violations = json_array ();
    for (size_t i = 0; ok && hits && failed && violations && i < self->second_count; i++) {
        const second_t *s = &self->seconds[i];
        json_array_append_new (ok, json_integer ((json_int_t) s->ok));
        json_array_append_new (hits, json_integer ((json_int_t) s->hits));
        json_array_append_new (failed, json_integer ((json_int_t) s->failed));
        json_array_append_new (violations, json_integer ((json_int_t) s->violations));
    }
    return json_pack ("{s:o*, s:o*, s:o*, s:o*}", "ok", ok, "hits", hits, "failed", failed,
                      "violations", violations);
}

static uint64_t
s_failed_total (const ll_reads_t *self)
{
    uint64_t failed = 0;
    for (uint32_t i = 0; i < STATUSES; i++)
        failed += i == CORDBANK__STATUS__STATUS_OK ? 0 : self->statuses[i];
    return failed;
}

json_t *
ll_reads_json (const ll_reads_t *self, double duration_s)
{
    assert (self);
    uint64_t failed = s_failed_total (self);
    double rps = duration_s > 0 ? (double) self->ok / duration_s : 0;
    double hit_ratio = self->ok ? (double) self->hits / (double) self->ok : 0;
    return json_pack (
        "{s:I, s:I, s:I, s:f, s:I, s:o*, s:I, s:I, s:I, s:I, s:f, s:o, s:o, s:o, s:o, s:o*}",
        "sent", (json_int_t) self->sent, "ok", (json_int_t) self->ok, "hits",
        (json_int_t) self->hits, "hit_ratio", s_rounded (hit_ratio, 0.0001), "failed",
        (json_int_t) failed, "failed_by_status", s_failed_json (self), "abandoned",
        (json_int_t) self->abandoned, "written", (json_int_t) self->written, "violations",
        (json_int_t) self->violations, "balance_mismatches", (json_int_t) self->mismatches, "rps",
        s_rounded (rps, 0.01), "p50_ms", s_percentile_ms (self, 50), "p90_ms",
        s_percentile_ms (self, 90), "p99_ms", s_percentile_ms (self, 99), "max_ms",
        s_percentile_ms (self, 100), "per_second", s_seconds_json (self));
}

void
ll_reads_print_summary (const ll_reads_t *self, FILE *out, double duration_s)
{
    assert (self && out);
    uint64_t failed = s_failed_total (self);
    double p99 = sim_hist_count (self->latency)
                     ? (double) sim_hist_percentile (self->latency, 99) / 1000.0
                     : 0;
    fprintf (out,
             "reads: %" PRIu64 " OK (%.0f/s, %" PRIu64 " from Redis), %" PRIu64
             " failed, p99 %.2f ms; %" PRIu64 " stale, %" PRIu64 " wrong balance\n",
             self->ok, duration_s > 0 ? (double) self->ok / duration_s : 0, self->hits, failed, p99,
             self->violations, self->mismatches);
    fflush (out);
}

int
ll_reads_test (void)
{
    ll_reads_t *reads = ll_reads_new ();
    LL_CHECK (reads);
    for (int i = 0; i < 4; i++)
        ll_reads_sent (reads);
    ll_reads_answer (reads, CORDBANK__STATUS__STATUS_OK, true, 3, 1000, 0);
    ll_reads_answer (reads, CORDBANK__STATUS__STATUS_OK, false, 0, 3000, 1);
    ll_reads_answer (reads, CORDBANK__STATUS__STATUS_UNAVAILABLE, false, 0, 0, 1);
    ll_reads_violation (reads, "self-test: not a real one", 1);
    LL_CHECK (ll_reads_ok (reads) == 2 && ll_reads_violations (reads) == 1);
    LL_CHECK (ll_reads_mismatches (reads) == 0);
    json_t *summary = ll_reads_json (reads, 2.0);
    LL_CHECK (summary);
    json_int_t ok = 0, hits = 0, failed = 0, unavailable = 0, written = 0, h0 = -1, h1 = -1;
    json_int_t v0 = -1, v1 = -1;
    double rps = 0, ratio = 0, max = 0;
    int rc =
        json_unpack (summary, "{s:I, s:I, s:I, s:{s:I}, s:I, s:F, s:F, s:F, s:{s:[II!], s:[II!]}}",
                     "ok", &ok, "hits", &hits, "failed", &failed, "failed_by_status", "UNAVAILABLE",
                     &unavailable, "written", &written, "rps", &rps, "hit_ratio", &ratio, "max_ms",
                     &max, "per_second", "hits", &h0, &h1, "violations", &v0, &v1);
    json_decref (summary);
    ll_reads_destroy (&reads);
    LL_CHECK (rc == 0 && reads == NULL);
    LL_CHECK (ok == 2 && hits == 1 && failed == 1 && unavailable == 1 && written == 1);
    LL_CHECK (rps == 1.0 && ratio == 0.5 && fabs (max - 3.0) < 0.001);
    LL_CHECK (h0 == 1 && h1 == 0 && v0 == 0 && v1 == 1);
    return 0;
}

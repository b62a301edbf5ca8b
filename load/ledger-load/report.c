/*  report — counters and outputs of a run (see report.h).
 *
 *  Per-second counts live in an array that grows with the run (a drain
 *  after a long outage may outlast --duration-s); a second is the run's
 *  clock, not the wall clock, so second 0 is the first second of load.
 */
#include "load/ledger-load/report.h"
#include "load/ledger-load/grow.h"
#include "load/ledger-load/selftest.h"
#include "load/discord-sim/histogram.h"
#include "common/envelope.h"

#include <assert.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STATUSES  16 // Status values are below this; larger ones count as INTERNAL
#define BAD_SHOWN 10

typedef struct {
    uint64_t ok, refused, failed;
} second_t;

struct ll_report {
    uint64_t sent, repeats, retries, acked, gave_up, abandoned;
    uint64_t attempts[STATUSES], outcomes[STATUSES];
    uint64_t failed_in_time, timed_out;
    uint64_t matched, mismatched, bad;
    uint64_t seed_ok, seed_failed;
    sim_hist_t *latency;
    second_t *seconds;
    size_t second_count, second_cap;
};

ll_report_t *
ll_report_new (void)
{
    ll_report_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->latency = sim_hist_new ();
    if (!self->latency)
        ll_report_destroy (&self);
    return self;
}

void
ll_report_destroy (ll_report_t **self_p)
{
    assert (self_p);
    ll_report_t *self = *self_p;
    if (!self)
        return;
    sim_hist_destroy (&self->latency);
    free (self->seconds);
    free (self);
    *self_p = NULL;
}

static uint32_t
s_status_index (uint32_t status)
{
    return status < STATUSES ? status : CORDBANK__STATUS__STATUS_INTERNAL;
}

static bool
s_is_failure (uint32_t status)
{
    return status != CORDBANK__STATUS__STATUS_OK &&
           status != CORDBANK__STATUS__STATUS_INSUFFICIENT_FUNDS &&
           status != CORDBANK__STATUS__STATUS_COOLDOWN &&
           status != CORDBANK__STATUS__STATUS_INVALID_ARGUMENT;
}

//  The counts of second `second`, growing the array; NULL when out of
//  memory (the second then goes uncounted, the totals do not).
static second_t *
s_second (ll_report_t *self, size_t second)
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
ll_report_sent (ll_report_t *self, bool repeat)
{
    assert (self);
    self->sent++;
    if (repeat)
        self->repeats++;
}

void
ll_report_retry (ll_report_t *self)
{
    assert (self);
    self->retries++;
}

void
ll_report_attempt (ll_report_t *self, uint32_t status, bool in_time, size_t second)
{
    assert (self);
    self->attempts[s_status_index (status)]++;
    if (!s_is_failure (status))
        return;
    if (in_time)
        self->failed_in_time++;
    else
        self->timed_out++;
    second_t *s = s_second (self, second);
    if (s)
        s->failed++;
}

void
ll_report_acked (ll_report_t *self, uint32_t status, uint64_t latency_us, size_t second)
{
    assert (self);
    self->acked++;
    self->outcomes[s_status_index (status)]++;
    sim_hist_record (self->latency, latency_us);
    second_t *s = s_second (self, second);
    if (s && status == CORDBANK__STATUS__STATUS_OK)
        s->ok++;
    else if (s)
        s->refused++;
}

void
ll_report_gave_up (ll_report_t *self)
{
    assert (self);
    self->gave_up++;
}

void
ll_report_abandoned (ll_report_t *self)
{
    assert (self);
    self->abandoned++;
}

void
ll_report_replay (ll_report_t *self, ll_answer_t answer)
{
    assert (self);
    if (answer == LL_ANSWER_MATCH)
        self->matched++;
    else if (answer == LL_ANSWER_MISMATCH)
        self->mismatched++;
}

void
ll_report_bad (ll_report_t *self, const char *key, const char *why)
{
    assert (self && key && why);
    if (self->bad++ < BAD_SHOWN)
        fprintf (stderr, "cordbank-ledger-load: key %s: %s\n", key, why);
}

void
ll_report_seeded (ll_report_t *self, bool ok)
{
    assert (self);
    if (ok)
        self->seed_ok++;
    else
        self->seed_failed++;
}

bool
ll_report_correct (const ll_report_t *self)
{
    assert (self);
    return self->mismatched == 0 && self->bad == 0;
}

uint64_t
ll_report_acked_count (const ll_report_t *self)
{
    assert (self);
    return self->acked;
}

void
ll_report_print_second (const ll_report_t *self, FILE *out, size_t second, size_t in_flight)
{
    assert (self && out);
    second_t none = {0};
    const second_t *s = second < self->second_count ? &self->seconds[second] : &none;
    fprintf (out, "t=%zus ok=%" PRIu64 " refused=%" PRIu64 " failed=%" PRIu64 " inflight=%zu\n",
             second + 1, s->ok, s->refused, s->failed, in_flight);
    fflush (out);
}

static double
s_rounded (double value, double unit)
{
    return round (value / unit) * unit;
}

//  In ms to the microsecond; null when nothing was acknowledged.
static json_t *
s_percentile_ms (const ll_report_t *self, double p)
{
    if (sim_hist_count (self->latency) == 0)
        return json_null ();
    uint64_t us = p >= 100 ? sim_hist_max (self->latency) : sim_hist_percentile (self->latency, p);
    return json_real (s_rounded ((double) us / 1000.0, 0.001));
}

//  {"OK": n, ...}: every status seen, and always the ones a reader looks
//  for (the two failures too when `failures`), so that a 0 is written.
static json_t *
s_status_json (const uint64_t counts[STATUSES], bool failures)
{
    json_t *out = json_object ();
    for (uint32_t i = 0; out && i < STATUSES; i++) {
        bool always = i == CORDBANK__STATUS__STATUS_OK ||
                      i == CORDBANK__STATUS__STATUS_INSUFFICIENT_FUNDS ||
                      (failures && (i == CORDBANK__STATUS__STATUS_UNAVAILABLE ||
                                    i == CORDBANK__STATUS__STATUS_DEADLINE_EXCEEDED));
        if ((counts[i] || always) &&
            json_object_set_new (out, cb_status_name ((Cordbank__Status) i),
                                 json_integer ((json_int_t) counts[i])) != 0) {
            json_decref (out);
            return NULL;
        }
    }
    return out;
}

static json_t *
s_seconds_json (const ll_report_t *self)
{
    json_t *ok = json_array (), *refused = json_array (), *failed = json_array ();
    for (size_t i = 0; ok && refused && failed && i < self->second_count; i++) {
        json_array_append_new (ok, json_integer ((json_int_t) self->seconds[i].ok));
        json_array_append_new (refused, json_integer ((json_int_t) self->seconds[i].refused));
        json_array_append_new (failed, json_integer ((json_int_t) self->seconds[i].failed));
    }
    return json_pack ("{s:o*, s:o*, s:o*}", "ok", ok, "refused", refused, "failed", failed);
}

static json_t *
s_config_json (const ll_report_info_t *info)
{
    return json_pack (
        "{s:s, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:s}", "balance_endpoints",
        info->endpoints ? info->endpoints : "", "concurrency", (json_int_t) info->concurrency,
        "accounts", (json_int_t) info->accounts, "guild", (json_int_t) info->guild_id,
        "repeat_ratio", info->repeat_ratio, "deadline_ms", (json_int_t) info->deadline_ms,
        "max_attempts", (json_int_t) info->max_attempts, "seed_balance",
        (json_int_t) info->seed_balance, "key_prefix", info->key_prefix ? info->key_prefix : "");
}

static json_t *
s_summary_json (const ll_report_t *self, const ll_report_info_t *info)
{
    double tps = info->duration_s > 0 ? (double) self->acked / info->duration_s : 0;
    json_t *counts =
        json_pack ("{s:I, s:I, s:I, s:I, s:I, s:I}", "requests", (json_int_t) self->sent, "acked",
                   (json_int_t) self->acked, "gave_up", (json_int_t) self->gave_up, "abandoned",
                   (json_int_t) self->abandoned, "retries", (json_int_t) self->retries,
                   "bad_replies", (json_int_t) self->bad);
    json_t *more = json_pack (
        "{s:o*, s:f, s:f, s:o, s:o, s:o, s:o, s:o*, s:o*, s:{s:I, s:I}, s:{s:I, s:I, s:I},"
        " s:{s:I, s:I}, s:o*, s:b}",
        "config", s_config_json (info), "duration_s", s_rounded (info->duration_s, 0.001), "tps",
        s_rounded (tps, 0.01), "p50_ms", s_percentile_ms (self, 50), "p90_ms",
        s_percentile_ms (self, 90), "p99_ms", s_percentile_ms (self, 99), "max_ms",
        s_percentile_ms (self, 100), "outcomes", s_status_json (self->outcomes, false), "attempts",
        s_status_json (self->attempts, true), "failures", "fast", (json_int_t) self->failed_in_time,
        "timed_out", (json_int_t) self->timed_out, "replays", "sent", (json_int_t) self->repeats,
        "matched", (json_int_t) self->matched, "mismatched", (json_int_t) self->mismatched, "seed",
        "ok", (json_int_t) self->seed_ok, "failed", (json_int_t) self->seed_failed, "per_second",
        s_seconds_json (self), "correct", ll_report_correct (self));
    if (!counts || !more || json_object_update (counts, more) != 0) {
        json_decref (counts);
        json_decref (more);
        return NULL;
    }
    json_decref (more);
    return counts;
}

int
ll_report_write_json (const ll_report_t *self, FILE *out, const ll_report_info_t *info)
{
    assert (self && out && info);
    json_t *summary = s_summary_json (self, info);
    if (!summary)
        return -1;
    int rc = json_dumpf (summary, out, JSON_COMPACT | JSON_REAL_PRECISION (12));
    json_decref (summary);
    fputc ('\n', out);
    return rc == 0 && fflush (out) == 0 ? 0 : -1;
}

static double
s_ms (const ll_report_t *self, double p)
{
    if (sim_hist_count (self->latency) == 0)
        return 0;
    return (double) (p >= 100 ? sim_hist_max (self->latency)
                              : sim_hist_percentile (self->latency, p)) /
           1000.0;
}

void
ll_report_print_summary (const ll_report_t *self, FILE *out, const ll_report_info_t *info)
{
    assert (self && out && info);
    double tps = info->duration_s > 0 ? (double) self->acked / info->duration_s : 0;
    const uint64_t *a = self->attempts;
    fprintf (out,
             "%.1f s, %" PRId64 " clients: %" PRIu64 " acked (%.0f/s), %" PRIu64
             " gave up, %" PRIu64 " abandoned\n",
             info->duration_s, info->concurrency, self->acked, tps, self->gave_up, self->abandoned);
    fprintf (out, "latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", s_ms (self, 50),
             s_ms (self, 90), s_ms (self, 99), s_ms (self, 100));
    fprintf (out,
             "outcomes: OK %" PRIu64 ", INSUFFICIENT_FUNDS %" PRIu64 "; attempts failed: "
             "UNAVAILABLE %" PRIu64 ", DEADLINE_EXCEEDED %" PRIu64 " (%" PRIu64
             " answered in time, %" PRIu64 " timed out), %" PRIu64 " retries\n",
             self->outcomes[CORDBANK__STATUS__STATUS_OK],
             self->outcomes[CORDBANK__STATUS__STATUS_INSUFFICIENT_FUNDS],
             a[CORDBANK__STATUS__STATUS_UNAVAILABLE], a[CORDBANK__STATUS__STATUS_DEADLINE_EXCEEDED],
             self->failed_in_time, self->timed_out, self->retries);
    fprintf (out,
             "replays: %" PRIu64 " sent, %" PRIu64 " matched, %" PRIu64 " mismatched; %" PRIu64
             " bad replies: %s\n",
             self->repeats, self->matched, self->mismatched, self->bad,
             ll_report_correct (self) ? "correct" : "INCORRECT");
    fflush (out);
}

static int
test_json (const ll_report_t *report)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream (&text, &len);
    LL_CHECK (out);
    ll_report_info_t info = {.duration_s = 2.0, .endpoints = "tcp://x:1", .concurrency = 4};
    int rc = ll_report_write_json (report, out, &info);
    fclose (out);
    json_t *summary = rc == 0 ? json_loads (text, 0, NULL) : NULL;
    free (text);
    LL_CHECK (summary);
    json_int_t acked = 0, ok = 0, unavailable = 0, fast = 0, timed_out = 0, mismatched = 0;
    json_int_t ok0 = 0, ok1 = -1, failed0 = -1, failed1 = -1;
    double tps = 0, max = 0;
    int correct = 1;
    rc = json_unpack (summary,
                      "{s:I, s:F, s:F, s:{s:I}, s:{s:I}, s:{s:I, s:I}, s:{s:I}, s:b,"
                      " s:{s:[II!], s:[II!]}}",
                      "acked", &acked, "tps", &tps, "max_ms", &max, "outcomes", "OK", &ok,
                      "attempts", "UNAVAILABLE", &unavailable, "failures", "fast", &fast,
                      "timed_out", &timed_out, "replays", "mismatched", &mismatched, "correct",
                      &correct, "per_second", "ok", &ok0, &ok1, "failed", &failed0, &failed1);
    json_decref (summary);
    LL_CHECK (rc == 0);
    LL_CHECK (acked == 2 && ok == 1 && tps == 1.0 && fabs (max - 250.0) < 0.001);
    LL_CHECK (unavailable == 2 && fast == 1 && timed_out == 1 && mismatched == 1 && !correct);
    LL_CHECK (ok0 == 1 && ok1 == 0 && failed0 == 0 && failed1 == 2);
    return 0;
}

int
ll_report_test (void)
{
    ll_report_t *report = ll_report_new ();
    LL_CHECK (report);
    LL_CHECK (ll_report_correct (report));
    ll_report_sent (report, false);
    ll_report_attempt (report, CORDBANK__STATUS__STATUS_OK, true, 0);
    ll_report_acked (report, CORDBANK__STATUS__STATUS_OK, 1000, 0);
    ll_report_attempt (report, CORDBANK__STATUS__STATUS_UNAVAILABLE, true, 1);
    ll_report_attempt (report, CORDBANK__STATUS__STATUS_UNAVAILABLE, false, 1);
    ll_report_acked (report, CORDBANK__STATUS__STATUS_INSUFFICIENT_FUNDS, 250000, 1);
    ll_report_replay (report, LL_ANSWER_MATCH);
    LL_CHECK (ll_report_correct (report));
    ll_report_replay (report, LL_ANSWER_MISMATCH);
    LL_CHECK (!ll_report_correct (report) && ll_report_acked_count (report) == 2);
    int rc = test_json (report);
    ll_report_destroy (&report);
    LL_CHECK (report == NULL);
    return rc;
}

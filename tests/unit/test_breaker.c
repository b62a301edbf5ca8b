/*  test_breaker — the circuit breaker (common/breaker.c): closed, open,
 *  half-open, the doubling cool-down, and its metrics.
 *
 *  Timing: the cool-down runs on cb_mono_ms(), so the tests that cross one
 *  use a short open_ms and sleep several times longer than the longest
 *  draw. Cool-down lengths are checked on retry_at_ms against clock reads
 *  taken around the call, which holds however slowly the test runs. The
 *  tests that need the breaker to stay open use a cool-down of seconds and
 *  never sleep.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/breaker.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"

#define TARGET  "test-dep"
#define LONG_MS 10000 // a cool-down no test outlives

static void
setup (void)
{
    cb_metrics_reset ();
    cb_log_set_level (CB_LOG_WARN); // no "breaker opened" lines in the output
}

TestSuite (breaker, .init = setup, .fini = cb_metrics_reset);

static void
sleep_ms (int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep (&ts, &ts) != 0)
        ;
}

//  `threshold` failures in a row, the breaker closed before each.
static void
fail_until_open (cb_breaker_t *b)
{
    for (uint32_t i = 0; i < b->threshold; i++) {
        cr_assert_eq (cb_breaker_state (b), CB_BREAKER_CLOSED, "open after %u failures", i);
        cr_assert (cb_breaker_allow (b));
        cb_breaker_failure (b);
    }
    cr_assert_eq (cb_breaker_state (b), CB_BREAKER_OPEN);
}

//  Fails the call that is out (the threshold-th one, or a probe) and checks
//  that the cool-down it starts is within [ceiling / 2, ceiling].
static void
fail_and_expect_cooldown (cb_breaker_t *b, int64_t ceiling)
{
    int64_t before = cb_mono_ms ();
    cb_breaker_failure (b);
    int64_t after = cb_mono_ms ();
    cr_assert_eq (cb_breaker_state (b), CB_BREAKER_OPEN);
    cr_expect_geq (b->retry_at_ms - before, ceiling / 2, "cool-down %lld ms, want >= %lld",
                   (long long) (b->retry_at_ms - before), (long long) (ceiling / 2));
    cr_expect_leq (b->retry_at_ms - after, ceiling, "cool-down %lld ms, want <= %lld",
                   (long long) (b->retry_at_ms - after), (long long) ceiling);
}

//  Sleeps past retry_at_ms (with a wide margin) and takes the probe.
static void
wait_and_probe (cb_breaker_t *b)
{
    int64_t wait = b->retry_at_ms - cb_mono_ms ();
    sleep_ms ((wait > 0 ? wait : 0) + 50);
    cr_assert (cb_breaker_allow (b), "no probe after the cool-down");
    cr_assert_eq (cb_breaker_state (b), CB_BREAKER_HALF_OPEN);
}

Test (breaker, starts_closed_and_lets_calls_through)
{
    cb_breaker_t b;
    cb_breaker_init (&b, TARGET, 3, 20, 80);
    cr_assert_eq (cb_breaker_state (&b), CB_BREAKER_CLOSED);
    for (int i = 0; i < 100; i++)
        cr_assert (cb_breaker_allow (&b));
    cr_assert_str_eq (cb_breaker_state_name (CB_BREAKER_CLOSED), "closed");
    cr_assert_str_eq (cb_breaker_state_name (CB_BREAKER_OPEN), "open");
    cr_assert_str_eq (cb_breaker_state_name (CB_BREAKER_HALF_OPEN), "half_open");
    cr_assert_str_eq (cb_breaker_state_name ((cb_breaker_state_t) 7), "unknown");
}

Test (breaker, opens_after_threshold_failures_in_a_row)
{
    cb_breaker_t b;
    cb_breaker_init (&b, TARGET, 3, LONG_MS, LONG_MS);
    cb_breaker_failure (&b);
    cb_breaker_failure (&b);
    cr_assert_eq (cb_breaker_state (&b), CB_BREAKER_CLOSED, "2 of 3 failures");
    cr_assert (cb_breaker_allow (&b));
    cb_breaker_failure (&b);
    cr_assert_eq (cb_breaker_state (&b), CB_BREAKER_OPEN);
}

Test (breaker, threshold_one_opens_on_the_first_failure)
{
    cb_breaker_t b;
    cb_breaker_init (&b, TARGET, 1, LONG_MS, LONG_MS);
    cb_breaker_failure (&b);
    cr_assert_eq (cb_breaker_state (&b), CB_BREAKER_OPEN);
}

Test (breaker, success_resets_the_count)
{
    cb_breaker_t b;
    cb_breaker_init (&b, TARGET, 3, LONG_MS, LONG_MS);
    for (int round = 0; round < 10; round++) {
        cb_breaker_failure (&b);
        cb_breaker_failure (&b);
        cb_breaker_success (&b);
        cr_assert_eq (b.failures, 0);
    }
    cr_assert_eq (cb_breaker_state (&b), CB_BREAKER_CLOSED, "20 failures, never 3 in a row");
    fail_until_open (&b);
}

Test (breaker, open_refuses_calls)
{
    cb_breaker_t b;
    cb_breaker_init (&b, TARGET, 2, LONG_MS, LONG_MS);
    fail_until_open (&b);
    for (int i = 0; i < 1000; i++)
        cr_assert_not (cb_breaker_allow (&b), "call %d let through while open", i);
    cr_assert_eq (cb_breaker_state (&b), CB_BREAKER_OPEN);
    //  More failures reported while open (calls that were out before it
    //  opened) neither close it nor move the cool-down.
    int64_t retry_at = b.retry_at_ms;
    cb_breaker_failure (&b);
    cr_assert_eq (cb_breaker_state (&b), CB_BREAKER_OPEN);
    cr_assert_eq (b.retry_at_ms, retry_at);
    cr_assert_not (cb_breaker_allow (&b));
}

Test (breaker, half_open_lets_exactly_one_probe_through)
{
    cb_breaker_t b;
    cb_breaker_init (&b, TARGET, 2, 20, 80);
    fail_until_open (&b);
    wait_and_probe (&b);
    for (int i = 0; i < 1000; i++)
        cr_assert_not (cb_breaker_allow (&b), "a second call (%d) while the probe is out", i);
    cr_assert_eq (cb_breaker_state (&b), CB_BREAKER_HALF_OPEN);
    //  Time alone does not let another through: only the probe's report.
    sleep_ms (200);
    cr_assert_not (cb_breaker_allow (&b));
}

Test (breaker, probe_success_closes)
{
    cb_breaker_t b;
    cb_breaker_init (&b, TARGET, 2, 20, 80);
    fail_until_open (&b);
    wait_and_probe (&b);
    cb_breaker_success (&b);
    cr_assert_eq (cb_breaker_state (&b), CB_BREAKER_CLOSED);
    for (int i = 0; i < 100; i++)
        cr_assert (cb_breaker_allow (&b));
    //  Closed again from scratch: threshold failures to open, and the
    //  cool-down starts over at open_ms.
    cb_breaker_failure (&b);
    cr_assert_eq (cb_breaker_state (&b), CB_BREAKER_CLOSED);
    fail_and_expect_cooldown (&b, 20);
}

Test (breaker, probe_failure_reopens_with_a_doubling_capped_cooldown)
{
    cb_breaker_t b;
    cb_breaker_init (&b, TARGET, 2, 20, 80);
    cb_breaker_failure (&b);
    fail_and_expect_cooldown (&b, 20);
    //  20, 40, 80, then capped at 80.
    const int64_t ceilings[] = {40, 80, 80, 80};
    for (size_t i = 0; i < sizeof ceilings / sizeof ceilings[0]; i++) {
        wait_and_probe (&b);
        fail_and_expect_cooldown (&b, ceilings[i]);
    }
    //  A probe that succeeds ends the doubling.
    wait_and_probe (&b);
    cb_breaker_success (&b);
    cr_assert_eq (b.opened, 0);
}

Test (breaker, long_cooldowns_stay_capped)
{
    //  Many failed probes in a row: the doubling must neither overflow nor
    //  pass max_open_ms. Seconds-long cool-downs, so no waiting: the probe
    //  is forced by moving retry_at_ms into the past.
    cb_breaker_t b;
    cb_breaker_init (&b, TARGET, 1, 1000, 60000);
    fail_and_expect_cooldown (&b, 1000);
    for (int i = 0; i < 100; i++) {
        b.retry_at_ms = cb_mono_ms () - 1;
        cr_assert (cb_breaker_allow (&b));
        cr_assert_eq (cb_breaker_state (&b), CB_BREAKER_HALF_OPEN);
        int64_t ceiling = i < 5 ? 2000 << i : 60000; // 2 s, 4 s, ... 32 s, then the cap
        fail_and_expect_cooldown (&b, ceiling);
    }
}

//  The value of a series looked up in the registry by name and labels.
static double
series_value (const char *name, bool counter, const char *k1, const char *v1, const char *k2,
              const char *v2)
{
    char labels[128];
    cb_metrics_labels (labels, sizeof labels, k1, v1, k2, v2, NULL);
    cb_metric_t *m =
        counter ? cb_metrics_counter (name, "", labels) : cb_metrics_gauge (name, "", labels);
    cr_assert_not_null (m);
    return cb_metric_value (m);
}

static double
state_gauge (void)
{
    return series_value ("cordbank_breaker_state", false, "target", TARGET, NULL, NULL);
}

static double
transitions (const char *to)
{
    return series_value ("cordbank_breaker_transitions_total", true, "target", TARGET, "to", to);
}

Test (breaker, gauge_and_transition_counters)
{
    cb_breaker_t b;
    cb_breaker_init (&b, TARGET, 2, 20, 80);
    //  The registry hands back the breaker's own series.
    char labels[64];
    cb_metrics_labels (labels, sizeof labels, "target", TARGET, NULL);
    cr_assert_eq (cb_metrics_gauge ("cordbank_breaker_state", "", labels), b.gauge);
    cr_expect_eq (state_gauge (), CB_BREAKER_CLOSED);
    cr_expect_eq (transitions ("open") + transitions ("half_open") + transitions ("closed"), 0);

    cb_breaker_success (&b); // closed to closed: no transition
    cr_expect_eq (transitions ("closed"), 0);
    fail_until_open (&b);
    cr_expect_eq (state_gauge (), CB_BREAKER_OPEN);
    cr_expect_eq (transitions ("open"), 1);

    wait_and_probe (&b);
    cr_expect_eq (state_gauge (), CB_BREAKER_HALF_OPEN);
    cr_expect_eq (transitions ("half_open"), 1);
    cb_breaker_failure (&b);
    cr_expect_eq (state_gauge (), CB_BREAKER_OPEN);
    cr_expect_eq (transitions ("open"), 2);

    wait_and_probe (&b);
    cr_expect_eq (transitions ("half_open"), 2);
    cb_breaker_success (&b);
    cr_expect_eq (state_gauge (), CB_BREAKER_CLOSED);
    cr_expect_eq (transitions ("closed"), 1);
    cr_expect_eq (transitions ("open"), 2);

    char *text = cb_metrics_render ();
    cr_assert_not_null (text);
    cr_expect_not_null (strstr (text, "cordbank_breaker_state{target=\"" TARGET "\"} 0\n"), "%s",
                        text);
    cr_expect_not_null (
        strstr (text, "cordbank_breaker_transitions_total{target=\"" TARGET "\",to=\"open\"} 2\n"),
        "%s", text);
    free (text);
}

Test (breaker, two_targets_keep_apart)
{
    cb_breaker_t a, other;
    cb_breaker_init (&a, TARGET, 1, LONG_MS, LONG_MS);
    cb_breaker_init (&other, "other-dep", 1, LONG_MS, LONG_MS);
    cb_breaker_failure (&a);
    cr_assert_eq (cb_breaker_state (&other), CB_BREAKER_CLOSED);
    cr_assert (cb_breaker_allow (&other));
    cr_expect_eq (cb_metric_value (a.gauge), CB_BREAKER_OPEN);
    cr_expect_eq (cb_metric_value (other.gauge), CB_BREAKER_CLOSED);
    cr_expect_eq (cb_metric_value (other.to_open), 0);
}

/*  test_metrics_history — series built from instances' totals: increases,
 *  restarts, windows longer than the history, coarse points, steps
 *  (services/metrics/history.c).
 */
#include <criterion/criterion.h>

#include "services/metrics/history.h"

static history_t *history;

static void
setup (void)
{
    history = history_new ();
    cr_assert_not_null (history);
}

static void
teardown (void)
{
    history_destroy (&history);
    cr_expect_null (history);
}

TestSuite (metrics_history, .init = setup, .fini = teardown);

static void
observe (const char *service, const char *instance, double requests)
{
    red_point_t p = {.requests = requests, .errors = requests / 10};
    cr_assert_eq (history_observe (history, service, instance, &p), 0);
}

//  One instance counting rate/s from t0 for seconds ticks.
static double
run (const char *service, const char *instance, double start, double rate, int64_t t0, int seconds)
{
    double total = start;
    for (int s = 0; s < seconds; s++) {
        observe (service, instance, total);
        history_tick (history, t0 + s * 1000);
        total += rate;
    }
    return total;
}

Test (metrics_history, rate_over_a_window)
{
    run ("gateway", "g-1", 500, 10, 0, 61);
    red_point_t d;
    double span;
    cr_assert_eq (history_window (history, "gateway", NULL, 10000, &d, &span), 0);
    cr_expect_eq (span, 10);
    cr_expect_eq (d.requests, 100, "the first snapshot's 500 are not counted: %g", d.requests);
    cr_expect_eq (d.errors, 10);
    cr_assert_eq (history_window (history, "gateway", "g-1", 60000, &d, &span), 0);
    cr_expect_eq (d.requests / span, 10);
    cr_assert_eq (history_window (history, NULL, NULL, 60000, &d, &span), 0);
    cr_expect_eq (d.requests, 600, "the system sums every service");
    cr_expect_eq (history_window (history, "nosuch", NULL, 1000, &d, &span), -1);
}

Test (metrics_history, a_window_longer_than_the_history_uses_what_there_is)
{
    run ("command", "c-1", 0, 5, 0, 21);
    red_point_t d;
    double span;
    cr_assert_eq (history_window (history, "command", NULL, 3 * 86400 * 1000LL, &d, &span), 0);
    cr_expect_eq (span, 20);
    cr_expect_eq (d.requests, 100);
}

Test (metrics_history, a_restart_counts_the_new_total_as_increase)
{
    run ("balance", "b-1", 0, 10, 0, 5); // totals 0..40 at t 0..4 s
    observe ("balance", "b-1", 7);       // restarted: 7 since
    history_tick (history, 5000);
    red_point_t d;
    double span;
    cr_assert_eq (history_window (history, "balance", NULL, 10000, &d, &span), 0);
    cr_expect_eq (d.requests, 47);
}

Test (metrics_history, instances_add_up_and_one_that_goes_away_keeps_its_past)
{
    for (int s = 0; s <= 10; s++) {
        observe ("cache", "a", 10.0 * s);
        if (s <= 5)
            observe ("cache", "b", 20.0 * s);
        history_tick (history, s * 1000);
    }
    history_forget (history, "cache", "b");
    red_point_t d;
    double span;
    cr_assert_eq (history_window (history, "cache", NULL, 10000, &d, &span), 0);
    cr_expect_eq (d.requests, 100 + 100);
    cr_expect_eq (history_window (history, "cache", "b", 10000, &d, &span), -1);
}

Test (metrics_history, the_fine_ring_is_bounded_and_the_coarse_ring_takes_over)
{
    //  20 minutes at 1 request/s: the fine ring holds 15.
    run ("gateway", "g-1", 0, 1, 0, 20 * 60 + 1);
    red_point_t d;
    double span;
    cr_assert_eq (history_window (history, "gateway", NULL, 900 * 1000, &d, &span), 0);
    cr_expect_eq (span, 900);
    cr_assert_eq (history_window (history, "gateway", NULL, 1200 * 1000, &d, &span), 0);
    cr_expect_eq (span, 1200, "coarse points reach back further: %g", span);
    cr_expect_eq (d.requests, 1200);
    //  Instances keep 330 s.
    cr_assert_eq (history_window (history, "gateway", "g-1", 1200 * 1000, &d, &span), 0);
    cr_expect_eq (span, HISTORY_INSTANCE_S);
}

typedef struct {
    size_t n, with_data;
    double rates[400];
} steps_t;

static void
on_step (int64_t t_ms, const red_point_t *d, double span_s, void *arg)
{
    (void) t_ms;
    steps_t *s = arg;
    if (span_s > 0)
        s->with_data++;
    s->rates[s->n++] = span_s > 0 ? d->requests / span_s : -1;
}

Test (metrics_history, steps_cover_the_window_oldest_first)
{
    run ("gateway", "g-1", 0, 2, 0, 31);
    run ("gateway", "g-1", 62, 8, 31000, 30);
    steps_t s = {0};
    cr_expect_eq (history_steps (history, "gateway", NULL, 120000, 10000, on_step, &s), 12);
    cr_expect_eq (s.n, 12);
    cr_expect_eq (s.with_data, 6, "the first minute has no history: %zu", s.with_data);
    cr_expect_eq (s.rates[11], 8);
    cr_expect_eq (s.rates[7], 2);
    cr_expect_eq (s.rates[0], -1);
}

Test (metrics_history, ticks_within_half_a_second_replace_the_point)
{
    observe ("x", "x-1", 0);
    history_tick (history, 0);
    observe ("x", "x-1", 5);
    history_tick (history, 1000);
    observe ("x", "x-1", 9);
    history_tick (history, 1200);
    red_point_t d;
    double span;
    cr_assert_eq (history_window (history, "x", NULL, 10000, &d, &span), 0);
    cr_expect_eq (span, 1.2);
    cr_expect_eq (d.requests, 9);
}

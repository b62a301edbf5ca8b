/*  backoff: exponential ceilings, full jitter, caps, and the retry budget. */
#include <criterion/criterion.h>

#include "common/backoff.h"

Test (backoff, ceiling_doubles_then_caps)
{
    cr_assert_eq (cb_backoff_ceiling_ms (1, 10, 1000), 10);
    cr_assert_eq (cb_backoff_ceiling_ms (2, 10, 1000), 20);
    cr_assert_eq (cb_backoff_ceiling_ms (5, 10, 1000), 160);
    cr_assert_eq (cb_backoff_ceiling_ms (8, 10, 1000), 1000);
    cr_assert_eq (cb_backoff_ceiling_ms (4000000000u, 10, 1000), 1000, "no overflow");
    cr_assert_eq (cb_backoff_ceiling_ms (0, 10, 1000), 10);
}

Test (backoff, full_jitter_spans_zero_to_ceiling)
{
    cr_assert_eq (cb_backoff_delay_ms (3, 10, 1000, 0.0), 0);
    cr_assert_eq (cb_backoff_delay_ms (3, 10, 1000, 0.5), 20);
    cr_assert_lt (cb_backoff_delay_ms (3, 10, 1000, 0.9999999), 40);
    cr_assert_geq (cb_backoff_delay_ms (3, 10, 1000, 2.0), 0, "out-of-range draws are clamped");
    for (int i = 0; i < 1000; i++) {
        int64_t d = cb_backoff_delay_ms (4, 10, 1000, cb_random01 ());
        cr_assert (d >= 0 && d < 80);
    }
}

Test (backoff, random01_in_range)
{
    double sum = 0;
    for (int i = 0; i < 10000; i++) {
        double r = cb_random01 ();
        cr_assert (r >= 0 && r < 1);
        sum += r;
    }
    cr_assert (sum > 4500 && sum < 5500, "mean %f far from 0.5", sum / 10000);
}

Test (backoff, budget_limits_retries_to_a_ratio)
{
    cb_retry_budget_t budget;
    cb_retry_budget_init (&budget, 0.1, 5);
    int allowed = 0;
    for (int i = 0; i < 5; i++)
        allowed += cb_retry_budget_spend (&budget);
    cr_assert_eq (allowed, 5, "starts full");
    cr_assert_not (cb_retry_budget_spend (&budget));
    for (int i = 0; i < 100; i++)
        cb_retry_budget_on_request (&budget);
    allowed = 0;
    while (cb_retry_budget_spend (&budget))
        allowed++;
    cr_assert_eq (allowed, 5, "capped at 5 tokens, got %d", allowed);
    cb_retry_budget_init (&budget, 0.1, 100);
    while (cb_retry_budget_spend (&budget))
        ;
    for (int i = 0; i < 100; i++)
        cb_retry_budget_on_request (&budget);
    allowed = 0;
    while (cb_retry_budget_spend (&budget))
        allowed++;
    cr_assert (allowed >= 9 && allowed <= 10, "100 requests earn ~10 retries, got %d", allowed);
}

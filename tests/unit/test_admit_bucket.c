/*  bucket (cache service): the token-bucket arithmetic that the admit
 *  script runs in Lua and admit_local.c runs in C. Header only: nothing
 *  to link.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "services/cache/bucket.h"

Test (admit_bucket, a_new_bucket_holds_its_burst)
{
    bucket_t b = bucket_full (5, 1000);
    cr_assert_eq (b.milli, 5000);
    cr_assert_eq (bucket_wait_ms (&b, 1), 0);
    cr_assert (bucket_idle (&b, 1000, 1, 5));
}

Test (admit_bucket, refills_at_rate_up_to_burst)
{
    bucket_t b = {0, 1000};
    bucket_refill (&b, 1250, 2, 5); // 2 tokens/s: 250 ms is half a token
    cr_assert_eq (b.milli, 500);
    cr_assert_eq (b.ts_ms, 1250);
    cr_assert_eq (bucket_wait_ms (&b, 2), 250);
    bucket_refill (&b, 1000000, 2, 5);
    cr_assert_eq (b.milli, 5000, "capped at the burst");
}

Test (admit_bucket, wait_rounds_up)
{
    bucket_t b = {999, 0};
    cr_assert_eq (bucket_wait_ms (&b, 1), 1);
    b.milli = 0;
    cr_assert_eq (bucket_wait_ms (&b, 3), 334, "1000/3 ms rounded up");
    b.milli = 1000;
    cr_assert_eq (bucket_wait_ms (&b, 3), 0);
}

Test (admit_bucket, a_clock_going_back_refills_nothing)
{
    bucket_t b = {100, 5000};
    bucket_refill (&b, 4000, 1, 5);
    cr_assert_eq (b.milli, 100);
    cr_assert_eq (b.ts_ms, 4000);
    bucket_refill (&b, 4100, 1, 5);
    cr_assert_eq (b.milli, 200);
}

Test (admit_bucket, extremes_do_not_overflow)
{
    bucket_t b = {0, 0};
    bucket_refill (&b, INT64_C (1) << 50, BUCKET_LIMIT_MAX, BUCKET_LIMIT_MAX);
    cr_assert_eq (b.milli, BUCKET_LIMIT_MAX * BUCKET_TOKEN);
    b = (bucket_t){-7, 0};
    bucket_refill (&b, 0, 1, 1);
    cr_assert_eq (b.milli, 0, "a corrupt negative level reads as empty");
}

Test (admit_bucket, idle_only_when_full_again)
{
    bucket_t b = {4000, 0}; // one token short of a burst of 5, at 1 token/s
    cr_assert_not (bucket_idle (&b, 999, 1, 5));
    cr_assert (bucket_idle (&b, 1000, 1, 5));
    cr_assert_eq (b.milli, 4000, "bucket_idle changes nothing");
}

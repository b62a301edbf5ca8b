/*  bucket — token-bucket arithmetic, in whole milli-tokens.
 *
 *  The admit script (admit.c) runs the same arithmetic in Lua against
 *  Redis's clock for the limits every instance shares; admit_local.c runs
 *  it here, against this process's monotonic clock, while Redis is down.
 *  Keeping it in one small header of pure functions is what lets the unit
 *  tests pin both down (tests/unit/test_admit_bucket.c).
 *
 *  Why milli-tokens: everything stays an integer (in Lua too, where numbers
 *  are doubles: every value here is far below 2^53), a refill of `rate`
 *  tokens per second is exactly `rate` milli-tokens per millisecond, and a
 *  stored value never needs a decimal point.
 *
 *  A bucket that is absent (never used, or expired) is full: that is what
 *  lets idle buckets vanish (an expiry in Redis, a sweep here) without
 *  changing any answer.
 */
#ifndef CACHE_BUCKET_H
#define CACHE_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

#define BUCKET_TOKEN INT64_C (1000) // one token, in milli-tokens

//  Rates and bursts are checked at start (1..BUCKET_LIMIT_MAX), which keeps
//  every product below well inside int64 and inside a double's exact range.
#define BUCKET_LIMIT_MAX INT64_C (1000000)

typedef struct {
    int64_t milli; // tokens held, in milli-tokens (0..burst * 1000)
    int64_t ts_ms; // when `milli` was last brought up to date
} bucket_t;

//  A full bucket as of now_ms.
static inline bucket_t
bucket_full (int64_t burst, int64_t now_ms)
{
    return (bucket_t){burst * BUCKET_TOKEN, now_ms};
}

//  Adds what `rate` tokens a second have refilled since ts_ms, up to burst.
//  A clock that went back refills nothing and restarts from now_ms.
static inline void
bucket_refill (bucket_t *self, int64_t now_ms, int64_t rate, int64_t burst)
{
    int64_t cap = burst * BUCKET_TOKEN;
    int64_t elapsed = now_ms - self->ts_ms;
    if (elapsed < 0)
        elapsed = 0;
    //  rate >= 1: after cap ms the bucket is full whatever it held, and the
    //  product below cannot overflow.
    if (elapsed > cap)
        elapsed = cap;
    self->milli += elapsed * rate;
    if (self->milli > cap)
        self->milli = cap;
    if (self->milli < 0)
        self->milli = 0;
    self->ts_ms = now_ms;
}

//  Milliseconds until the bucket holds one token at `rate` (0: it does).
static inline int64_t
bucket_wait_ms (const bucket_t *self, int64_t rate)
{
    if (self->milli >= BUCKET_TOKEN)
        return 0;
    return (BUCKET_TOKEN - self->milli + rate - 1) / rate;
}

//  True when the bucket is full at now_ms: it may be forgotten.
static inline bool
bucket_idle (const bucket_t *self, int64_t now_ms, int64_t rate, int64_t burst)
{
    bucket_t copy = *self;
    bucket_refill (&copy, now_ms, rate, burst);
    return copy.milli >= burst * BUCKET_TOKEN;
}

#endif

/*  histogram — log-linear buckets (the layout HdrHistogram uses).
 *
 *  Bucket index of v: below 2^SUB_BITS the value itself; otherwise, with
 *  k = floor(log2 v), group g = k - SUB_BITS + 1 and the SUB_BITS bits
 *  after the leading one as the sub-bucket. Group 1 still has width 1, so
 *  indexes 0..255 are exact and every later group doubles the width while
 *  keeping 128 buckets: relative width 1/128 at worst.
 */
#include "load/discord-sim/histogram.h"
#include "load/discord-sim/selftest.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SUB_BITS  7
#define SUB_COUNT (1u << SUB_BITS)
#define MAX_BITS  40 // values >= 2^40 are clamped
#define GROUPS    (MAX_BITS - SUB_BITS + 1)
#define BUCKETS   (GROUPS * SUB_COUNT + 1) // the last one holds the clamped values

struct sim_hist {
    uint64_t count;
    uint64_t min, max;
    uint64_t buckets[BUCKETS];
};

sim_hist_t *
sim_hist_new (void)
{
    sim_hist_t *self = calloc (1, sizeof *self);
    if (self)
        sim_hist_reset (self);
    return self;
}

void
sim_hist_destroy (sim_hist_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

void
sim_hist_reset (sim_hist_t *self)
{
    assert (self);
    memset (self, 0, sizeof *self);
    self->min = UINT64_MAX;
}

static size_t
bucket_of (uint64_t v)
{
    if (v >= (UINT64_C (1) << MAX_BITS))
        return BUCKETS - 1;
    if (v < SUB_COUNT)
        return (size_t) v;
    unsigned k = 63u - (unsigned) __builtin_clzll (v);
    unsigned group = k - SUB_BITS + 1;
    size_t sub = (size_t) ((v >> (group - 1)) & (SUB_COUNT - 1));
    return (size_t) group * SUB_COUNT + sub;
}

//  The middle of bucket i (its lowest value when it is one wide).
static uint64_t
bucket_value (size_t i)
{
    if (i < 2 * SUB_COUNT)
        return i;
    unsigned group = (unsigned) (i / SUB_COUNT);
    uint64_t sub = i % SUB_COUNT;
    uint64_t low = (SUB_COUNT + sub) << (group - 1);
    return low + (UINT64_C (1) << (group - 1)) / 2;
}

void
sim_hist_record (sim_hist_t *self, uint64_t value)
{
    assert (self);
    self->buckets[bucket_of (value)]++;
    self->count++;
    if (value < self->min)
        self->min = value;
    if (value > self->max)
        self->max = value;
}

void
sim_hist_merge (sim_hist_t *self, const sim_hist_t *src)
{
    assert (self && src);
    for (size_t i = 0; i < BUCKETS; i++)
        self->buckets[i] += src->buckets[i];
    self->count += src->count;
    if (src->min < self->min)
        self->min = src->min;
    if (src->max > self->max)
        self->max = src->max;
}

uint64_t
sim_hist_count (const sim_hist_t *self)
{
    assert (self);
    return self->count;
}

uint64_t
sim_hist_min (const sim_hist_t *self)
{
    assert (self);
    return self->count ? self->min : 0;
}

uint64_t
sim_hist_max (const sim_hist_t *self)
{
    assert (self);
    return self->max;
}

uint64_t
sim_hist_percentile (const sim_hist_t *self, double p)
{
    assert (self);
    if (self->count == 0)
        return 0;
    p = p < 0 ? 0 : p > 100 ? 100 : p;
    //  The rank-th smallest sample, 1-based (nearest-rank definition).
    uint64_t rank = (uint64_t) ceil (p / 100.0 * (double) self->count);
    if (rank == 0)
        rank = 1;
    if (rank >= self->count)
        return self->max;
    uint64_t seen = 0;
    size_t i = 0;
    for (; i < BUCKETS; i++) {
        seen += self->buckets[i];
        if (seen >= rank)
            break;
    }
    uint64_t v = bucket_value (i < BUCKETS ? i : BUCKETS - 1);
    return v < self->min ? self->min : v > self->max ? self->max : v;
}

static int
test_exact_and_precision (void)
{
    for (uint64_t v = 0; v < 2 * SUB_COUNT; v++)
        SIM_CHECK (bucket_value (bucket_of (v)) == v);
    for (uint64_t v = 256; v < (UINT64_C (1) << 36); v = v * 17 / 16 + 1) {
        double got = (double) bucket_value (bucket_of (v));
        SIM_CHECK (fabs (got - (double) v) / (double) v <= 1.0 / SUB_COUNT);
        SIM_CHECK (bucket_of (v) < BUCKETS - 1);
    }
    SIM_CHECK (bucket_of (UINT64_MAX) == BUCKETS - 1);
    return 0;
}

static int
test_percentiles (void)
{
    sim_hist_t *h = sim_hist_new ();
    SIM_CHECK (h);
    SIM_CHECK (sim_hist_percentile (h, 50) == 0 && sim_hist_min (h) == 0);
    for (uint64_t v = 1; v <= 10000; v++)
        sim_hist_record (h, v);
    SIM_CHECK (sim_hist_count (h) == 10000);
    SIM_CHECK (sim_hist_min (h) == 1 && sim_hist_max (h) == 10000);
    SIM_CHECK (fabs ((double) sim_hist_percentile (h, 50) - 5000) <= 5000.0 / SUB_COUNT);
    SIM_CHECK (fabs ((double) sim_hist_percentile (h, 99) - 9900) <= 9900.0 / SUB_COUNT);
    SIM_CHECK (sim_hist_percentile (h, 100) == 10000);
    SIM_CHECK (sim_hist_percentile (h, 0) == 1);
    sim_hist_t *other = sim_hist_new ();
    SIM_CHECK (other);
    sim_hist_record (other, UINT64_C (1) << 50);
    sim_hist_merge (h, other);
    SIM_CHECK (sim_hist_count (h) == 10001 && sim_hist_max (h) == UINT64_C (1) << 50);
    SIM_CHECK (sim_hist_percentile (h, 100) == UINT64_C (1) << 50);
    sim_hist_reset (h);
    SIM_CHECK (sim_hist_count (h) == 0 && sim_hist_max (h) == 0);
    sim_hist_destroy (&other);
    sim_hist_destroy (&h);
    SIM_CHECK (h == NULL);
    return 0;
}

int
sim_hist_test (void)
{
    if (test_exact_and_precision () != 0)
        return -1;
    return test_percentiles ();
}

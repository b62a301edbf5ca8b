/*  zipf — cumulative weights and a binary search (see zipf.h).
 *
 *  Uniform draws keep no table: rank = 1 + floor (u * n).
 */
#include "load/ledger-load/zipf.h"
#include "load/ledger-load/selftest.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

struct ll_zipf {
    uint64_t n;
    double s;
    double *cdf; // cdf[i]: share of ranks 1..i+1; NULL when uniform
};

ll_zipf_t *
ll_zipf_new (uint64_t n, double s)
{
    assert (n >= 1 && n <= LL_ZIPF_MAX_N && s >= 0 && s <= 10);
    ll_zipf_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->n = n;
    self->s = s;
    if (s == 0)
        return self;
    self->cdf = malloc (n * sizeof *self->cdf);
    if (!self->cdf) {
        free (self);
        return NULL;
    }
    double sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        sum += pow ((double) (i + 1), -s);
        self->cdf[i] = sum;
    }
    for (uint64_t i = 0; i < n; i++)
        self->cdf[i] /= sum;
    //  Rounding must not leave a gap above the last rank.
    self->cdf[n - 1] = 1.0;
    return self;
}

void
ll_zipf_destroy (ll_zipf_t **self_p)
{
    assert (self_p);
    ll_zipf_t *self = *self_p;
    if (!self)
        return;
    free (self->cdf);
    free (self);
    *self_p = NULL;
}

uint64_t
ll_zipf_rank (const ll_zipf_t *self, double u)
{
    assert (self && u >= 0 && u < 1);
    if (!self->cdf) {
        uint64_t rank = 1 + (uint64_t) (u * (double) self->n);
        return rank > self->n ? self->n : rank;
    }
    //  The first index whose cumulative share is above u.
    uint64_t low = 0, high = self->n - 1;
    while (low < high) {
        uint64_t mid = low + (high - low) / 2;
        if (self->cdf[mid] > u)
            high = mid;
        else
            low = mid + 1;
    }
    return low + 1;
}

double
ll_zipf_share (const ll_zipf_t *self, uint64_t k)
{
    assert (self);
    if (k == 0)
        return 0;
    if (k >= self->n)
        return 1;
    return self->cdf ? self->cdf[k - 1] : (double) k / (double) self->n;
}

static int
test_uniform (void)
{
    ll_zipf_t *zipf = ll_zipf_new (10, 0);
    LL_CHECK (zipf);
    LL_CHECK (ll_zipf_rank (zipf, 0) == 1 && ll_zipf_rank (zipf, 0.0999) == 1);
    LL_CHECK (ll_zipf_rank (zipf, 0.1) == 2 && ll_zipf_rank (zipf, 0.99999) == 10);
    LL_CHECK (fabs (ll_zipf_share (zipf, 3) - 0.3) < 1e-12 && ll_zipf_share (zipf, 99) == 1);
    ll_zipf_destroy (&zipf);
    LL_CHECK (zipf == NULL);
    return 0;
}

//  s = 1 over 4 ranks: weights 1, 1/2, 1/3, 1/4 of 25/12.
static int
test_small (void)
{
    ll_zipf_t *zipf = ll_zipf_new (4, 1.0);
    LL_CHECK (zipf);
    LL_CHECK (fabs (ll_zipf_share (zipf, 1) - 12.0 / 25) < 1e-12);
    LL_CHECK (fabs (ll_zipf_share (zipf, 2) - 18.0 / 25) < 1e-12);
    LL_CHECK (ll_zipf_rank (zipf, 0) == 1 && ll_zipf_rank (zipf, 0.479) == 1);
    LL_CHECK (ll_zipf_rank (zipf, 0.481) == 2 && ll_zipf_rank (zipf, 0.719) == 2);
    LL_CHECK (ll_zipf_rank (zipf, 0.721) == 3 && ll_zipf_rank (zipf, 0.9999999) == 4);
    ll_zipf_destroy (&zipf);
    return 0;
}

//  100,000 ranks at s = 1.1: the head carries most of the draws, and a
//  sweep of u lands on rank r about as often as P(r) says.
static int
test_large (void)
{
    ll_zipf_t *zipf = ll_zipf_new (100000, 1.1);
    LL_CHECK (zipf);
    double top = ll_zipf_share (zipf, 1);
    LL_CHECK (top > 0.12 && top < 0.15);
    LL_CHECK (ll_zipf_share (zipf, 10000) > 0.85 && ll_zipf_share (zipf, 10000) < 0.92);
    uint64_t hits[3] = {0};
    const uint64_t steps = 1000000;
    for (uint64_t i = 0; i < steps; i++) {
        uint64_t rank = ll_zipf_rank (zipf, ((double) i + 0.5) / (double) steps);
        LL_CHECK (rank >= 1 && rank <= 100000);
        if (rank <= 3)
            hits[rank - 1]++;
    }
    for (uint64_t r = 1; r <= 3; r++) {
        double want = ll_zipf_share (zipf, r) - ll_zipf_share (zipf, r - 1);
        LL_CHECK (fabs ((double) hits[r - 1] / (double) steps - want) < 1e-5);
    }
    ll_zipf_destroy (&zipf);
    return 0;
}

int
ll_zipf_test (void)
{
    return test_uniform () == 0 && test_small () == 0 && test_large () == 0 ? 0 : -1;
}

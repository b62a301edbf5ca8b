/*  zipf — which member a read is about: ranks 1..n drawn with Zipf
 *  popularity, P(rank r) proportional to r^-s, or uniformly when s is 0.
 *
 *  Real guilds are read like this: a few members (the ones who just paid,
 *  the ones on the leaderboard) many times, most members rarely. A cache
 *  benchmark with uniform reads over 100,000 members would measure misses;
 *  with Zipf(1.1) the hot head fits in the cache and the tail keeps some
 *  misses coming. The cumulative weights are computed once (8 bytes per
 *  rank) and a draw is a binary search.
 */
#ifndef LL_ZIPF_H
#define LL_ZIPF_H

#include <stdint.h>

#define LL_ZIPF_MAX_N 10000000

typedef struct ll_zipf ll_zipf_t;

//  n in 1..LL_ZIPF_MAX_N, s in [0, 10]; NULL when out of memory.
ll_zipf_t *ll_zipf_new (uint64_t n, double s);
void ll_zipf_destroy (ll_zipf_t **self_p);

//  The rank (1..n) that u, a uniform number in [0, 1), falls on.
uint64_t ll_zipf_rank (const ll_zipf_t *self, double u);
//  The share of draws that fall on ranks 1..k (0 for k = 0, 1 for k >= n).
double ll_zipf_share (const ll_zipf_t *self, uint64_t k);

int ll_zipf_test (void);

#endif

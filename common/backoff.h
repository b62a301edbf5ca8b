/*  backoff — exponential backoff with full jitter, and a retry budget.
 *
 *  Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"):
 *  the delay before retry n is uniform in [0, min(cap, base * 2^n)], which
 *  spreads a herd of retrying clients instead of synchronising them.
 *
 *  The budget keeps retries a small share of traffic: every request earns
 *  `ratio` of a token (up to `cap` tokens), every retry spends one. When a
 *  dependency is down, clients stop multiplying the load on it.
 */
#ifndef CB_BACKOFF_H
#define CB_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

//  Delay in ms before retry `attempt` (1 = the first retry). `random01`
//  is a uniform draw in [0, 1) (pass a fixed value in tests).
int64_t cb_backoff_delay_ms (uint32_t attempt, int64_t base_ms, int64_t cap_ms, double random01);

//  Upper bound of the delay for `attempt`: min(cap, base * 2^(attempt-1)), overflow-safe.
int64_t cb_backoff_ceiling_ms (uint32_t attempt, int64_t base_ms, int64_t cap_ms);

typedef struct {
    double tokens;
    double ratio; // tokens earned per request (0.1: retries <= 10% of requests)
    double cap;   // most tokens held
} cb_retry_budget_t;

void cb_retry_budget_init (cb_retry_budget_t *self, double ratio, double cap);
void cb_retry_budget_on_request (cb_retry_budget_t *self);
//  True and spends a token when a retry is allowed now.
bool cb_retry_budget_spend (cb_retry_budget_t *self);

//  Uniform double in [0, 1) from libsodium's CSPRNG-seeded generator.
double cb_random01 (void);

#endif

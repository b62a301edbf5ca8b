/*  backoff — exponential backoff with full jitter and a retry budget
 *  (see backoff.h for why both).
 */
#include "common/backoff.h"

#include <sodium.h>
#include <stdlib.h>

int64_t
cb_backoff_ceiling_ms (uint32_t attempt, int64_t base_ms, int64_t cap_ms)
{
    if (attempt == 0)
        attempt = 1;
    int64_t ceiling = base_ms;
    for (uint32_t i = 1; i < attempt && ceiling < cap_ms; i++)
        ceiling = ceiling > cap_ms / 2 ? cap_ms : ceiling * 2;
    return ceiling < cap_ms ? ceiling : cap_ms;
}

int64_t
cb_backoff_delay_ms (uint32_t attempt, int64_t base_ms, int64_t cap_ms, double random01)
{
    if (random01 < 0)
        random01 = 0;
    if (random01 >= 1)
        random01 = 0.999999;
    return (int64_t) ((double) cb_backoff_ceiling_ms (attempt, base_ms, cap_ms) * random01);
}

void
cb_retry_budget_init (cb_retry_budget_t *self, double ratio, double cap)
{
    self->ratio = ratio;
    self->cap = cap;
    self->tokens = cap;
}

void
cb_retry_budget_on_request (cb_retry_budget_t *self)
{
    self->tokens += self->ratio;
    if (self->tokens > self->cap)
        self->tokens = self->cap;
}

bool
cb_retry_budget_spend (cb_retry_budget_t *self)
{
    if (self->tokens < 1.0)
        return false;
    self->tokens -= 1.0;
    return true;
}

double
cb_random01 (void)
{
    //  53 random bits: every double in [0, 1) with 2^-53 spacing.
    //  sodium_init is idempotent and thread-safe; a racing double call is harmless.
    static int ready;
    if (!ready) {
        if (sodium_init () < 0)
            abort ();
        ready = 1;
    }
    uint64_t bits;
    randombytes_buf (&bits, sizeof bits);
    return (double) (bits >> 11) * (1.0 / 9007199254740992.0);
}

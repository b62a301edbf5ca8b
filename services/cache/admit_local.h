/*  admit_local — one cache instance's own dedup set and token buckets, for
 *  while Redis cannot decide (see admit.h).
 *
 *  The same rules as the Redis script, in this process's memory and on its
 *  monotonic clock: a duplicate takes no token, a request is admitted only
 *  when both its buckets hold a token, a refusal writes nothing. With N
 *  cache instances a member may get up to N times the configured rate while
 *  Redis is down; that is the price of staying up, and it ends when Redis
 *  returns (admit.c then clears this state).
 *
 *  Bounded memory: at most ADMIT_LOCAL_SEEN_MAX remembered ids (every id
 *  has the same TTL, so a FIFO ring holds them in expiry order: expired ids
 *  leave from its head, and when it is full the oldest leaves early, which
 *  only shortens the dedup window under a flood) and at most
 *  ADMIT_LOCAL_BUCKETS_MAX buckets (full ones are forgotten every
 *  ADMIT_LOCAL_SWEEP_MS; if the table is still full, it is emptied: every
 *  bucket starts full again, a brief leniency rather than unbounded growth).
 */
#ifndef CACHE_ADMIT_LOCAL_H
#define CACHE_ADMIT_LOCAL_H

#include <stdint.h>

#include "services/cache/admit.h"

#define ADMIT_LOCAL_SEEN_MAX    100000
#define ADMIT_LOCAL_BUCKETS_MAX 100000
#define ADMIT_LOCAL_SWEEP_MS    10000

typedef enum {
    ADMIT_OK = 0,
    ADMIT_DUPLICATE,
    ADMIT_RATE_LIMITED,
    ADMIT_RESULT_COUNT
} admit_result_t;
typedef enum { ADMIT_LIMIT_NONE = 0, ADMIT_LIMIT_USER, ADMIT_LIMIT_GUILD } admit_limit_t;

typedef struct {
    admit_result_t result;
    int64_t retry_after_ms; // RATE_LIMITED: until both buckets hold a token
    admit_limit_t limit;    // RATE_LIMITED: the bucket that waits longest
} admit_decision_t;

typedef struct admit_local admit_local_t;

//  config is copied. NULL when out of memory.
admit_local_t *admit_local_new (const cache_admit_config_t *config);
void admit_local_destroy (admit_local_t **self_p);

//  Decides one request at now_ms (monotonic milliseconds, never going back).
admit_decision_t admit_local_decide (admit_local_t *self, uint64_t interaction_id,
                                     uint64_t guild_id, uint64_t user_id, int64_t now_ms);

//  Forgets every id and bucket.
void admit_local_clear (admit_local_t *self);

#endif

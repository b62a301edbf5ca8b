/*  ratelimit — Discord's REST rate limits, as the server side counts them.
 *
 *  Three limits, as Discord documents them: a bucket per route and major
 *  parameter (a fixed window that opens with its first request), a global
 *  limit per second for every route except the interaction ones, and the
 *  invalid-request limit (401, 403 and 429s other than scope "shared",
 *  10,000 per 10 minutes per IP; past it every request is refused).
 *
 *  Pure accounting: time is passed in, nothing is sent. The REST layer asks
 *  for a verdict per request and turns it into X-RateLimit-* headers and,
 *  when limited, a 429. A request refused by the global window does not
 *  use its bucket; one refused by its bucket still counts as an arrival of
 *  the global second (max_global_per_s measures what the client sent).
 */
#ifndef SIM_RATELIMIT_H
#define SIM_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct srv_ratelimit srv_ratelimit_t;

//  What a route costs: its bucket and whether the global limit applies.
typedef struct {
    const char *route; // the route template, e.g. "PATCH /webhooks/:id/:token/messages/:id"
    const char *major; // the major parameter's value ("" when none)
    int64_t limit;     // requests per window
    int64_t window_ms;
    bool global; // counts toward the global limit
} srv_rl_request_t;

typedef enum { SRV_RL_OK, SRV_RL_BUCKET, SRV_RL_GLOBAL, SRV_RL_BLOCKED } srv_rl_outcome_t;

typedef struct {
    srv_rl_outcome_t outcome;
    char bucket[17]; // X-RateLimit-Bucket: hex hash of the route template
    int64_t limit, remaining;
    double reset_after_s; // X-RateLimit-Reset-After
    double reset_epoch_s; // X-RateLimit-Reset
    double retry_after_s; // when limited
} srv_rl_verdict_t;

typedef struct {
    uint64_t bucket_violations; // 429s because the bucket was empty
    uint64_t global_violations; // 429s because the global second was full
    uint64_t blocked;           // refused because of too many invalid requests
    uint64_t invalid_requests;  // 401, 403, 429 (not shared) answered
    uint64_t max_global_per_s;  // most arrivals under the global limit in one second
} srv_rl_stats_t;

//  global_per_s: the global limit; invalid_limit per 10 minutes.
srv_ratelimit_t *srv_ratelimit_new (int64_t global_per_s, int64_t invalid_limit);
void srv_ratelimit_destroy (srv_ratelimit_t **self_p);

//  The verdict for a request arriving at now_ms (monotonic) / now_epoch_ms
//  (wall clock, for X-RateLimit-Reset). A request that is let through
//  uses one unit of its bucket and of the global second.
void srv_ratelimit_check (srv_ratelimit_t *self, const srv_rl_request_t *req, int64_t now_ms,
                          int64_t now_epoch_ms, srv_rl_verdict_t *out);

//  An invalid request was answered (401, 403, or a 429 that was not shared).
void srv_ratelimit_invalid (srv_ratelimit_t *self, int64_t now_ms);

void srv_ratelimit_stats (const srv_ratelimit_t *self, srv_rl_stats_t *out);

//  The bucket id Discord would show for a route template (16 hex).
void srv_ratelimit_bucket_id (const char *route, char out[17]);

int srv_ratelimit_test (void);

#endif

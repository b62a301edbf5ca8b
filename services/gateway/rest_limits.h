/*  rest_limits — where gw_rest keeps Discord's rate limits: in Redis,
 *  shared by every gateway pod, while it answers; in this pod otherwise,
 *  with 1/replicas of the global limit (ratelimit.h has the rules, the
 *  same both ways).
 *
 *  Every request sent under Redis's limits is recorded in this pod's
 *  window too, so that a fall back to this pod's limits (Redis gone, its
 *  breaker open) does not start from an empty second. Each switch is
 *  logged once.
 */
#ifndef GW_REST_LIMITS_H
#define GW_REST_LIMITS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/redis.h"
#include "ratelimit.h"

typedef struct gw_limits gw_limits_t;

//  What an acquired request counted against, in this pod and in Redis.
typedef struct {
    gw_rl_ticket_t local;
    bool shared;
    char shared_key[GW_RL_KEY_MAX]; // its bucket in Redis
    bool shared_probe;
    char member[64]; // its place in Redis's global window
} gw_limits_ticket_t;

//  redis is borrowed (NULL: per pod only); global_per_s 0 means 50.
gw_limits_t *gw_limits_new (cb_redis_t *redis, int global_per_s, int replicas);
void gw_limits_destroy (gw_limits_t **self_p);

//  0: route's request may go now (counted; *ticket filled), else the ms
//  to wait before asking again.
int64_t gw_limits_acquire (gw_limits_t *self, const gw_route_t *route, gw_limits_ticket_t *ticket);
//  What the answer said (h NULL when there was none; status 0 then).
void gw_limits_release (gw_limits_t *self, const gw_route_t *route,
                        const gw_limits_ticket_t *ticket, const gw_rl_headers_t *h, int status);
//  Forgets idle buckets of this pod's limiter (now and then).
void gw_limits_sweep (gw_limits_t *self);

#endif

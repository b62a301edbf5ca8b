/*  shards — this gateway pod's Discord Gateway sessions: the reactor half.
 *
 *  Asks Discord (GET /gateway/bot, through gw_rest) for the Gateway URL,
 *  the recommended shard count and the session-start limit, picks the
 *  shards this pod owns (i % replicas == ordinal), and starts the lws
 *  thread (shard_client.c) that keeps one WebSocket per owned shard. On the
 *  reactor it then:
 *
 *  - hands every INTERACTION_CREATE the shards receive to
 *    gw_interactions_from_gateway;
 *  - grants IDENTIFY: one per 5 s per bucket (shard_id % max_concurrency)
 *    across every pod of the bot (Redis SET cb:identify:<bucket> <pod> NX
 *    PX 5500: Discord's 5 s and a margin; without Redis, the same spacing
 *    within this pod only), and none while the daily session-start budget
 *    is spent (logged once, then waited out);
 *  - knows whether every owned shard is connected (readiness).
 *
 *  A bot token Discord refuses (401 on /gateway/bot, close 4004) and the
 *  other fatal close codes stop the shards for good, with one error line:
 *  the pod stays up (HTTP interactions still work) but is not ready.
 */
#ifndef GW_SHARDS_H
#define GW_SHARDS_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/redis.h"
#include "interactions.h"
#include "rest.h"

typedef struct {
    const char *token; // bot token (secret)
    int64_t intents;   // Gateway intents bitmask
    int shard_count;   // 0: what /gateway/bot recommends
    int replicas;      // gateway pods (>= 1)
    int ordinal;       // this pod's index, 0 .. replicas - 1
    cb_redis_t *redis; // borrowed, shared with rest; NULL: spacing within this pod only
    const char *pod;   // this pod's name, written in the identify keys
} gw_shards_config_t;

typedef struct gw_shards gw_shards_t;

//  Starts asking /gateway/bot at once. loop, rest, interactions and redis
//  are borrowed: destroy the object before any of them (a /gateway/bot
//  answer that comes after the object is gone, as gw_rest_destroy gives
//  it, is ignored). Strings in cfg are copied. Never NULL.
gw_shards_t *gw_shards_new (zloop_t *loop, gw_rest_t *rest, gw_interactions_t *interactions,
                            const gw_shards_config_t *cfg);
//  Closes every shard's connection and ends the lws thread.
void gw_shards_destroy (gw_shards_t **self_p);

//  True when every shard this pod owns has a live session (READY or
//  RESUMED); false before /gateway/bot answered and after a fatal error.
bool gw_shards_ready (const gw_shards_t *self);

#endif

/*  cache — the cache service's state and its handlers.
 *
 *  reads.c answers BalanceGetRequest from Redis when it holds a version at
 *  least as new as the caller needs, and otherwise asks balance and stores
 *  the answer (read-through). updates.c applies versioned balances from
 *  balance's BalanceChanged events and from command's write-throughs. Both
 *  write only through cache_store (the versioned compare-and-set, with TTL
 *  jitter), so an older version can never replace a newer one.
 */
#ifndef CACHE_CACHE_H
#define CACHE_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include <czmq.h>

#include "common/client.h"
#include "common/metrics.h"
#include "common/pubsub.h"
#include "common/server.h"
#include "services/cache/redis.h"

enum { CACHE_SOURCE_EVENT = 0, CACHE_SOURCE_WRITE_THROUGH, CACHE_SOURCE_COUNT };

//  Warming after a flush (warm.c): the accounts balance named, stored a
//  few per tick.
typedef struct {
    uint64_t guild_id;
    uint64_t user_id;
    int64_t balance;
    uint64_t version;
} cache_warm_entry_t;

typedef struct {
    cache_warm_entry_t *entries;
    size_t count;
    size_t next; // the next one to store
    int timer;   // -1 unless storing
    bool asking; // a request to balance is out
} cache_warm_t;

#define CACHE_PENDING_MAX 64

typedef struct {
    cache_redis_t *redis;  // owned by main
    zloop_t *loop;         // the service's
    cb_client_t *balance;  // owned by the service
    int64_t ttl_s;         // TTL of a written account (before jitter)
    int64_t zero_ttl_s;    // TTL of an account never written (version 0)
    int64_t warm_accounts; // accounts stored after a flush (0: no warming)
    cache_warm_t warm;
    cb_metric_t *warmed;
    cb_metric_t *board_hits, *board_misses, *board_rebuilds, *board_rebuild_failures;
    cb_metric_t *hit, *negative_hit, *miss, *stale, *passthrough, *joins, *hit_ratio;
    uint64_t counts[3];                    // reads: hit, negative hit, not from Redis
    uint64_t ratio_served, ratio_total;    // at the last hit-ratio tick
    zhashx_t *flights;                     // "guild:user" -> the read on its way to balance
    bool closing;                          // the service has stopped: send nothing more
    cb_call_t *pending[CACHE_PENDING_MAX]; // reads of this burst: one pipelined round trip
    size_t pending_count;
    cb_metric_t *updates[CACHE_SOURCE_COUNT][2]; // [source][applied]
} cache_t;

//  Looks up the metric series and starts the hit-ratio timer on loop;
//  call once before serving. cache_reads_destroy after the service.
void cache_reads_init (cache_t *self, zloop_t *loop);
void cache_reads_destroy (cache_t *self);
void cache_updates_init (cache_t *self);
//  board.c: leaderboards, one sorted set per guild.
#define LEADERBOARD_PAGE_MAX 25
void cache_board_init (cache_t *self);
//  LeaderboardRequest handler (arg: cache_t *).
void cache_board_on_request (cb_call_t *call, void *arg);
//  A member's new state (events and write-throughs) onto its guild's board.
void cache_board_apply (cache_t *self, const Cordbank__BalanceChanged *change);
//  After a flush: every board is rebuilt on its next read.
void cache_board_forget_all (cache_t *self);

//  Warms Redis after every flush (self->redis and self->balance set).
void cache_warm_init (cache_t *self, zloop_t *loop);
void cache_warm_destroy (cache_t *self);

//  BalanceGetRequest handler (arg: cache_t *).
//  Reads gather during a burst of requests and go to Redis together in
//  cache_reads_flush, the burst's end (cb_service_on_burst_end).
void cache_on_get (cb_call_t *call, void *arg);
void cache_reads_flush (void *arg);
//  BalanceUpdate handler (arg: cache_t *): OK, or UNAVAILABLE when Redis is down.
void cache_on_update (cb_call_t *call, void *arg);
//  BalanceChanged events from balance's PUB (arg: cache_t *).
void cache_on_event (const Cordbank__Envelope *event, void *arg);

//  Stores a balance if its version is newer than the cached one, with the
//  TTL for its version plus 0..10% jitter. 1 stored, 0 refused as not
//  newer, -1 Redis down.
int cache_store (cache_t *self, uint64_t guild_id, uint64_t user_id, int64_t balance,
                 uint64_t version);

#endif

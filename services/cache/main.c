/*  cordbank-cache — balances from Redis, in front of balance.
 *
 *  Wires the pieces: the ROUTER that serves BalanceGetRequest (reads.c)
 *  and BalanceUpdate (updates.c), the client of balance for read-through,
 *  the SUB on balance's BalanceChanged events, and the Redis connection
 *  (redis.c). Redis is optional for readiness: without it every read
 *  passes through to balance; without a balance instance the cache can
 *  answer nothing reliably, so it is not ready.
 */
#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "common/service.h"
#include "services/cache/admit.h"
#include "services/cache/cache.h"
#include "services/cache/redis.h"

typedef struct {
    cb_service_config_t base;
    char *bind;
    char *redis_url;
    char *balance_endpoints;
    char *balance_events;
    int64_t ttl_s;
    int64_t zero_ttl_s;
    int64_t warm_accounts;
    cache_admit_config_t admit;
} config_t;

static bool
is_ready (void *arg)
{
    const cache_t *cache = (const cache_t *) arg;
    return cb_client_peers (cache->balance) >= 1;
}

//  The URL is checked up front: a typo must stop the pod at start, not
//  look like a Redis outage forever.
static int
parse_redis_url (const char *url, cache_redis_addr_t *addr)
{
    char err[160];
    if (cache_redis_parse_url (url, addr, err, sizeof err) == 0)
        return 0;
    //  The URL is a secret (it may carry a password): never echoed.
    fprintf (stderr, "cordbank-cache: invalid CORDBANK_REDIS_URL/--redis-url: %s\n", err);
    return -1;
}

//  cache outlives the service: destroying the service fails the reads still
//  waiting on balance, and their callbacks belong to cache.
static int
serve (cb_service_t *svc, const config_t *cfg, const cache_redis_addr_t *addr, cache_t *cache)
{
    cache_reads_init (cache, cb_service_loop (svc));
    cache_updates_init (cache);
    cache_board_init (cache);
    if (cb_service_serve (svc, cfg->bind) != 0)
        return 1;
    cache->balance = cb_service_client (svc, "balance", cfg->balance_endpoints);
    cache->redis = cache_redis_new (addr, cb_service_loop (svc));
    cache_admit_t *admit = cache->redis ? cache_admit_new (cache->redis, &cfg->admit) : NULL;
    cb_subscriber_t *events = cb_subscriber_new (cfg->balance_events, false, cb_service_curve (svc),
                                                 cb_service_loop (svc), cache_on_event, cache);
    int rc = 1;
    if (cache->balance && cache->redis && events && admit) {
        cb_service_handle (svc, CORDBANK__ENVELOPE__BODY_BALANCE_GET_REQUEST, cache_on_get, cache);
        cb_service_on_burst_end (svc, cache_reads_flush, cache);
        cb_service_handle (svc, CORDBANK__ENVELOPE__BODY_BALANCE_UPDATE, cache_on_update, cache);
        cb_service_handle (svc, CORDBANK__ENVELOPE__BODY_ADMIT_REQUEST, cache_admit_on_request,
                           admit);
        cb_service_handle (svc, CORDBANK__ENVELOPE__BODY_LEADERBOARD_REQUEST,
                           cache_board_on_request, cache);
        cb_service_set_ready_check (svc, is_ready, cache);
        cache_warm_init (cache, cb_service_loop (svc));
        rc = cb_service_run (svc) == 0 ? 0 : 1;
        cache_warm_destroy (cache);
    }
    //  Timers and readers on the service's loop go before the loop does.
    cb_subscriber_destroy (&events);
    cache_admit_destroy (&admit);
    cache_redis_destroy (&cache->redis);
    return rc;
}

int
main (int argc, char **argv)
{
    config_t cfg = {0};
    cb_option_t opts[] = {
        CB_SERVICE_OPTIONS (cfg.base, "7401"),
        {"bind", CB_OPT_STRING, "tcp://127.0.0.1:7400", "ROUTER endpoint", &cfg.bind, 0, 0, false,
         NULL},
        {"redis-url", CB_OPT_STRING, "redis://127.0.0.1:6379", "Redis: redis://host[:port][/db]",
         &cfg.redis_url, 0, 0, true, NULL},
        {"balance-endpoints", CB_OPT_ENDPOINTS, "tcp://127.0.0.1:7300",
         "balance ROUTER endpoints (read-through)", &cfg.balance_endpoints, 0, 0, false, NULL},
        {"balance-events", CB_OPT_ENDPOINTS, "tcp://127.0.0.1:7302",
         "balance PUB endpoints (BalanceChanged events)", &cfg.balance_events, 0, 0, false, NULL},
        {"ttl-s", CB_OPT_INT, "300", "TTL of a cached balance in seconds (+0..10% jitter)",
         &cfg.ttl_s, 1, 2592000, false, NULL},
        {"zero-ttl-s", CB_OPT_INT, "30", "TTL of an account never written (version 0), seconds",
         &cfg.zero_ttl_s, 1, 2592000, false, NULL},
        {"warm-accounts", CB_OPT_INT, "10000",
         "accounts that changed last, stored after every flush of Redis (0: no warming)",
         &cfg.warm_accounts, 0, 10000, false, NULL},
        //  Admission (admit.c). A member: bursts of 5, then one command a
        //  second, well above a human's pace. A guild: 50 a second, bursts
        //  of 200 (a busy server's event); both hold across every instance.
        {"user-rate", CB_OPT_INT, "1", "rate limit: commands per second per member of a guild",
         &cfg.admit.user_rate, 1, 1000000, false, NULL},
        {"user-burst", CB_OPT_INT, "5", "rate limit: commands a member may send at once",
         &cfg.admit.user_burst, 1, 1000000, false, NULL},
        {"guild-rate", CB_OPT_INT, "50", "rate limit: commands per second per guild",
         &cfg.admit.guild_rate, 1, 1000000, false, NULL},
        {"guild-burst", CB_OPT_INT, "200", "rate limit: commands a guild may send at once",
         &cfg.admit.guild_burst, 1, 1000000, false, NULL},
        {"dedup-ttl-s", CB_OPT_INT, "900",
         "seconds an admitted interaction id is remembered (Discord's interaction lifetime)",
         &cfg.admit.dedup_ttl_s, 1, 86400, false, NULL},
    };
    size_t n = sizeof opts / sizeof opts[0];
    int rc =
        cb_service_config_main ("cordbank-cache", "balances from Redis, read-through to balance",
                                opts, n, argc, argv, &cfg.base, true);
    if (rc >= 0)
        return rc;
    cache_redis_addr_t addr;
    if (parse_redis_url (cfg.redis_url, &addr) != 0) {
        cb_config_free (opts, n);
        return 2;
    }
    cache_t cache = {
        .ttl_s = cfg.ttl_s, .zero_ttl_s = cfg.zero_ttl_s, .warm_accounts = cfg.warm_accounts};
    cb_service_t *svc = cb_service_new ("cache", &cfg.base);
    rc = svc ? serve (svc, &cfg, &addr, &cache) : 1;
    cache.closing = true;
    cb_service_destroy (&svc);
    cache_reads_destroy (&cache);
    cb_config_free (opts, n);
    return rc;
}

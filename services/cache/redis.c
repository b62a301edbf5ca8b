/*  redis — connection, reconnect, flush, and the versioned balance store
 *  (see redis.h for the states and the contract).
 *
 *  Why synchronous hiredis on the reactor: every command is one round trip
 *  to a local Redis (well under a millisecond), and the socket timeout caps
 *  a hung Redis at CACHE_REDIS_TIMEOUT_MS per command, after which the
 *  connection is dropped and reads pass through to balance until the
 *  reconnect timer finds Redis again.
 *
 *  Why flush on (re)connect: while we were not connected, BalanceChanged
 *  events and write-throughs could not be applied, so anything Redis still
 *  holds may be older than what was acknowledged since. Every cached
 *  balance becomes a tombstone, "version:T" (SCAN and a small Lua script,
 *  a bounded batch per flush tick), before reads are served from Redis
 *  again: a tombstone reads as a miss but keeps its version, so an answer
 *  from balance that left before a newer write (a read-through, a late
 *  event) can still not be stored over it. Deleting the keys instead let
 *  exactly such late answers in: a flush by one instance removed a write
 *  another had just made, and an older answer then filled the gap.
 */
#include "services/cache/redis.h"

#include <assert.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/breaker.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"

#define KEY_PREFIX "cb:bal:"
//  The breaker decides when to try again: 0.5 s after a failure, doubling
//  up to 5 s while Redis stays away; this tick only asks it.
#define RECONNECT_MS     100
#define BREAKER_OPEN_MS  500
#define BREAKER_MAX_MS   5000
#define FLUSH_TICK_MS    10
#define FLUSH_SCAN_COUNT "1000"

//  KEYS[1] the balance key; ARGV version (decimal, no leading zeros),
//  balance, ttl seconds. Versions are compared as decimal strings (length,
//  then bytes), so the full uint64 range compares exactly (Lua numbers are
//  doubles). A value that does not parse is overwritten.
//  A tombstone ("version:T", see the flush) of the same version may be
//  replaced by the live value.
static const char SET_IF_NEWER_LUA[] =
    "local cur = redis.call('GET', KEYS[1])\n"
    "if cur then\n"
    "  local v = string.match(cur, '^(%d+):')\n"
    "  local tomb = string.sub(cur, -2) == ':T'\n"
    "  if v and (#v > #ARGV[1] or (#v == #ARGV[1] and (v > ARGV[1] or (v == ARGV[1] and not "
    "tomb)))) then\n"
    "    return 0\n"
    "  end\n"
    "end\n"
    "redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[2], 'EX', ARGV[3])\n"
    "return 1\n";

static cache_script_t s_set_if_newer = {.source = SET_IF_NEWER_LUA};

typedef enum { STATE_DOWN = 0, STATE_FLUSHING, STATE_UP } state_t;

//  The op label of a command's duration and of the log line when it fails.
typedef cache_redis_op_t op_t;
#define OP_CONNECT CACHE_OP_CONNECT
#define OP_GET     CACHE_OP_GET
#define OP_STORE   CACHE_OP_STORE
#define OP_FLUSH   CACHE_OP_FLUSH
#define OP_COUNT   CACHE_OP_COUNT
static const char *const OP_NAME[OP_COUNT] = {"connect", "get",   "store",
                                              "flush",   "admit", "leaderboard"};

struct cache_redis {
    cache_redis_addr_t addr;
    zloop_t *loop;     // borrowed
    redisContext *ctx; // NULL while DOWN
    state_t state;
    bool reported_down; // "redis unreachable" logged, "reachable again" not yet
    int reconnect_timer;
    int flush_timer;      // -1 unless FLUSHING
    char cursor[24];      // SCAN position while FLUSHING
    uint64_t flushed;     // keys deleted by the current flush
    cb_breaker_t breaker; // one failure opens it: the connection is gone then
    uint64_t epoch;       // + 1 on every change of state
    cache_redis_ready_fn *on_ready;
    void *ready_arg;
    cb_metric_t *up;
    cb_metric_t *duration[OP_COUNT];
};

static struct timeval
timeout_tv (void)
{
    return (struct timeval){.tv_sec = 0, .tv_usec = CACHE_REDIS_TIMEOUT_MS * 1000};
}

static void
observe (cache_redis_t *self, op_t op, int64_t started_us)
{
    cb_histogram_observe (self->duration[op], (double) (cb_mono_us () - started_us) / 1e6);
}

static void
flush_timer_stop (cache_redis_t *self)
{
    if (self->flush_timer >= 0)
        zloop_timer_end (self->loop, self->flush_timer);
    self->flush_timer = -1;
}

//  Drops the connection after a failed command; logs the first failure only.
static void
mark_down (cache_redis_t *self, op_t op, const char *why)
{
    if (self->ctx)
        redisFree (self->ctx);
    self->ctx = NULL;
    self->state = STATE_DOWN;
    self->epoch++;
    flush_timer_stop (self);
    cb_gauge_set (self->up, 0);
    cb_breaker_failure (&self->breaker);
    if (!self->reported_down)
        cb_log_warn (NULL, "redis unreachable", "{s:s, s:s, s:i, s:s}", "op", OP_NAME[op], "host",
                     self->addr.host, "port", self->addr.port, "error", why);
    self->reported_down = true;
}

//  One command; NULL (and DOWN) when it failed at the connection level.
//  An error reply is returned: the caller decides what it means.
static redisReply *
command (cache_redis_t *self, op_t op, int argc, const char **argv, const size_t *lens)
{
    if (!self->ctx)
        return NULL;
    int64_t started = cb_mono_us ();
    redisReply *reply = redisCommandArgv (self->ctx, argc, argv, lens);
    bool timed_out = !reply && (errno == EAGAIN || errno == EWOULDBLOCK);
    observe (self, op, started);
    if (!reply) {
        //  A socket timeout shows as EAGAIN: say what it means. The text is
        //  copied because mark_down frees the context that holds errstr.
        char why[128];
        if (self->ctx->err == REDIS_ERR_IO && timed_out)
            snprintf (why, sizeof why, "timed out after %d ms", CACHE_REDIS_TIMEOUT_MS);
        else
            snprintf (why, sizeof why, "%s", self->ctx->errstr[0] ? self->ctx->errstr : "no reply");
        mark_down (self, op, why);
    }
    return reply;
}

//  A command whose error reply also counts as failure (LOADING, READONLY,
//  OOM...: this Redis cannot serve us now). NULL then, and DOWN.
static redisReply *
error_means_down (cache_redis_t *self, op_t op, redisReply *reply)
{
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        char why[160];
        snprintf (why, sizeof why, "%s", reply->str);
        freeReplyObject (reply);
        mark_down (self, op, why);
        return NULL;
    }
    return reply;
}

static redisReply *
command_ok (cache_redis_t *self, op_t op, int argc, const char **argv, const size_t *lens)
{
    return error_means_down (self, op, command (self, op, argc, argv, lens));
}

static int
select_db (cache_redis_t *self)
{
    if (self->addr.db == 0)
        return 0;
    char db[16];
    snprintf (db, sizeof db, "%d", self->addr.db);
    const char *argv[] = {"SELECT", db};
    size_t lens[] = {6, strlen (db)};
    redisReply *reply = command_ok (self, OP_CONNECT, 2, argv, lens);
    int rc = reply ? 0 : -1;
    freeReplyObject (reply);
    return rc;
}

static int load_sha (cache_redis_t *self, cache_redis_op_t op, cache_script_t *script);

//  Every key: a live value becomes the tombstone of its version (its TTL
//  kept); anything unparsable goes.
static cache_script_t s_bury = {
    .source =
        "local n = 0\n"
        "for _, k in ipairs(KEYS) do\n"
        "  local cur = redis.call('GET', k)\n"
        "  if cur and string.sub(cur, -2) ~= ':T' then\n"
        "    local v = string.match(cur, '^(%d+):')\n"
        "    if v then redis.call('SET', k, v .. ':T', 'KEEPTTL') else redis.call('DEL', k) end\n"
        "    n = n + 1\n"
        "  end\n"
        "end\n"
        "return n\n"};

//  Tombstones for the keys one SCAN step found. 0, or -1 when Redis failed.
static int
unlink_keys (cache_redis_t *self, const redisReply *keys)
{
    if (keys->elements == 0)
        return 0;
    size_t argc = keys->elements;
    const char **argv = malloc (argc * sizeof *argv);
    size_t *lens = malloc (argc * sizeof *lens);
    int rc = -1;
    if (argv && lens) {
        for (size_t i = 0; i < keys->elements; i++) {
            argv[i] = keys->element[i]->str;
            lens[i] = keys->element[i]->len;
        }
        redisReply *done =
            cache_redis_eval (self, OP_FLUSH, &s_bury, (int) argc, (int) argc, argv, lens);
        if (done && done->type == REDIS_REPLY_INTEGER)
            self->flushed += (uint64_t) done->integer;
        rc = done ? 0 : -1;
        freeReplyObject (done);
    }
    free (argv);
    free (lens);
    return rc;
}

static bool
is_scan_reply (const redisReply *reply, size_t cursor_max)
{
    return reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
           reply->element[0]->type == REDIS_REPLY_STRING && reply->element[0]->len < cursor_max &&
           reply->element[1]->type == REDIS_REPLY_ARRAY;
}

//  One SCAN step and tombstones for what it found: bounded work per tick.
//  Returns 1 when the scan has completed, 0 to go on, -1 when Redis failed
//  (now DOWN).
static int
flush_step (cache_redis_t *self)
{
    const char *pattern = KEY_PREFIX "*";
    const char *argv[] = {"SCAN", self->cursor, "MATCH", pattern, "COUNT", FLUSH_SCAN_COUNT};
    size_t lens[] = {4, strlen (self->cursor), 5, strlen (pattern), 5, strlen (FLUSH_SCAN_COUNT)};
    redisReply *reply = command_ok (self, OP_FLUSH, 6, argv, lens);
    if (!reply)
        return -1;
    if (!is_scan_reply (reply, sizeof self->cursor)) {
        freeReplyObject (reply);
        mark_down (self, OP_FLUSH, "unexpected reply to SCAN");
        return -1;
    }
    snprintf (self->cursor, sizeof self->cursor, "%s", reply->element[0]->str);
    int rc = unlink_keys (self, reply->element[1]);
    freeReplyObject (reply);
    if (rc == 0 && strcmp (self->cursor, "0") == 0)
        rc = 1;
    return rc;
}

static int
on_flush_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    cache_redis_t *self = (cache_redis_t *) arg;
    if (self->state != STATE_FLUSHING)
        return 0;
    if (flush_step (self) != 1)
        return 0;
    flush_timer_stop (self);
    self->state = STATE_UP;
    self->epoch++;
    cb_log_info (NULL, "redis cache flushed, serving reads", "{s:I}", "keys",
                 (json_int_t) self->flushed);
    if (self->on_ready)
        self->on_ready (self->ready_arg);
    return 0;
}

static void
start_flush (cache_redis_t *self)
{
    self->state = STATE_FLUSHING;
    self->epoch++;
    snprintf (self->cursor, sizeof self->cursor, "0");
    self->flushed = 0;
    flush_timer_stop (self);
    self->flush_timer = zloop_timer (self->loop, FLUSH_TICK_MS, 0, on_flush_tick, self);
    if (self->flush_timer < 0)
        mark_down (self, OP_FLUSH, "could not start the flush timer");
}

//  Connects, selects the database, loads the script, starts a flush.
//  0 when connected, -1 (DOWN) otherwise.
static int
connect_now (cache_redis_t *self)
{
    int64_t started = cb_mono_us ();
    self->ctx = redisConnectWithTimeout (self->addr.host, self->addr.port, timeout_tv ());
    observe (self, OP_CONNECT, started);
    if (!self->ctx || self->ctx->err) {
        char why[128];
        snprintf (why, sizeof why, "%s", self->ctx ? self->ctx->errstr : "out of memory");
        mark_down (self, OP_CONNECT, why);
        return -1;
    }
    if (redisSetTimeout (self->ctx, timeout_tv ()) != REDIS_OK) {
        mark_down (self, OP_CONNECT, "could not set the socket timeout");
        return -1;
    }
    //  Loaded at once: a Redis that cannot run scripts is no use to us.
    if (select_db (self) != 0 || load_sha (self, OP_CONNECT, &s_set_if_newer) != 0)
        return -1;
    cb_gauge_set (self->up, 1);
    cb_breaker_success (&self->breaker);
    cb_log_info (NULL, self->reported_down ? "redis reachable again" : "redis connected",
                 "{s:s, s:i, s:i}", "host", self->addr.host, "port", self->addr.port, "db",
                 self->addr.db);
    self->reported_down = false;
    start_flush (self);
    return 0;
}

static int
on_reconnect_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    cache_redis_t *self = (cache_redis_t *) arg;
    if (self->state == STATE_DOWN && cb_breaker_allow (&self->breaker))
        connect_now (self);
    return 0;
}

cache_redis_t *
cache_redis_new (const cache_redis_addr_t *addr, zloop_t *loop)
{
    assert (addr && loop);
    cache_redis_t *self = (cache_redis_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->addr = *addr;
    self->loop = loop;
    self->flush_timer = -1;
    cb_breaker_init (&self->breaker, "redis", 1, BREAKER_OPEN_MS, BREAKER_MAX_MS);
    self->up = cb_metrics_gauge ("cordbank_cache_redis_up",
                                 "1 while the cache is connected to Redis.", NULL);
    for (int op = 0; op < OP_COUNT; op++) {
        char labels[32];
        cb_metrics_labels (labels, sizeof labels, "op", OP_NAME[op], NULL);
        self->duration[op] = cb_metrics_histogram (
            "cordbank_cache_redis_duration_seconds", "Time spent in Redis commands, by purpose.",
            labels, CB_LATENCY_BUCKETS, CB_LATENCY_BUCKETS_COUNT);
    }
    self->reconnect_timer = zloop_timer (loop, RECONNECT_MS, 0, on_reconnect_tick, self);
    if (self->reconnect_timer < 0) {
        free (self);
        return NULL;
    }
    connect_now (self);
    return self;
}

void
cache_redis_destroy (cache_redis_t **self_p)
{
    assert (self_p);
    cache_redis_t *self = *self_p;
    if (!self)
        return;
    flush_timer_stop (self);
    zloop_timer_end (self->loop, self->reconnect_timer);
    if (self->ctx)
        redisFree (self->ctx);
    free (self);
    *self_p = NULL;
}

void
cache_redis_on_ready (cache_redis_t *self, cache_redis_ready_fn *fn, void *arg)
{
    assert (self);
    self->on_ready = fn;
    self->ready_arg = arg;
}

uint64_t
cache_redis_epoch (const cache_redis_t *self)
{
    assert (self);
    return self->epoch;
}

bool
cache_redis_readable (const cache_redis_t *self)
{
    assert (self);
    return self->state == STATE_UP;
}

bool
cache_redis_writable (const cache_redis_t *self)
{
    assert (self);
    return self->state != STATE_DOWN;
}

static size_t
format_key (char *out, size_t outlen, uint64_t guild_id, uint64_t user_id)
{
    int n = snprintf (out, outlen, KEY_PREFIX "%" PRIu64 ":%" PRIu64, guild_id, user_id);
    return (size_t) n;
}

//  "version:balance" with nothing else around: 0, or -1 when malformed.
static int
parse_value (const char *text, cache_balance_t *out)
{
    char *end;
    if (*text < '0' || *text > '9')
        return -1;
    errno = 0;
    unsigned long long version = strtoull (text, &end, 10);
    if (errno || *end != ':')
        return -1;
    const char *at = end + 1;
    if (!((*at >= '0' && *at <= '9') || (*at == '-' && at[1] >= '0' && at[1] <= '9')))
        return -1;
    errno = 0;
    long long balance = strtoll (at, &end, 10);
    if (errno || *end != '\0')
        return -1;
    out->version = (uint64_t) version;
    out->balance = (int64_t) balance;
    return 0;
}

int
cache_redis_get_many (cache_redis_t *self, const uint64_t *guild_ids, const uint64_t *user_ids,
                      size_t n, cache_balance_t *out, int *found)
{
    assert (self && guild_ids && user_ids && out && found);
    if (!self->ctx)
        return -1;
    int64_t started = cb_mono_us ();
    for (size_t i = 0; i < n; i++) {
        char key[64];
        const char *argv[] = {"GET", key};
        size_t lens[] = {3, format_key (key, sizeof key, guild_ids[i], user_ids[i])};
        if (redisAppendCommandArgv (self->ctx, 2, argv, lens) != REDIS_OK) {
            mark_down (self, OP_GET, "out of memory");
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *reply = NULL;
        if (redisGetReply (self->ctx, (void **) &reply) != REDIS_OK || !reply) {
            char why[128];
            snprintf (why, sizeof why, "%s",
                      self->ctx->errstr[0] ? self->ctx->errstr : "no reply to a pipelined GET");
            mark_down (self, OP_GET, why);
            return -1;
        }
        if (reply->type == REDIS_REPLY_ERROR) {
            char why[160];
            snprintf (why, sizeof why, "%s", reply->str);
            freeReplyObject (reply);
            mark_down (self, OP_GET, why);
            return -1;
        }
        found[i] = reply->type == REDIS_REPLY_STRING && parse_value (reply->str, &out[i]) == 0;
        freeReplyObject (reply);
    }
    observe (self, OP_GET, started);
    return 0;
}

int
cache_redis_store (cache_redis_t *self, uint64_t guild_id, uint64_t user_id,
                   const cache_balance_t *value, int64_t ttl_s)
{
    assert (self && value && ttl_s > 0);
    if (!self->ctx)
        return -1;
    char key[64], version[24], balance[24], ttl[24];
    const char *args[] = {key, version, balance, ttl};
    size_t lens[] = {
        format_key (key, sizeof key, guild_id, user_id),
        (size_t) snprintf (version, sizeof version, "%" PRIu64, value->version),
        (size_t) snprintf (balance, sizeof balance, "%" PRId64, value->balance),
        (size_t) snprintf (ttl, sizeof ttl, "%" PRId64, ttl_s),
    };
    redisReply *reply = cache_redis_eval (self, OP_STORE, &s_set_if_newer, 1, 4, args, lens);
    if (!reply)
        return -1;
    int rc = reply->type == REDIS_REPLY_INTEGER ? (reply->integer == 1 ? 1 : 0) : -1;
    freeReplyObject (reply);
    return rc;
}

struct redisReply *
cache_redis_command (cache_redis_t *self, cache_redis_op_t op, int argc, const char **argv,
                     const size_t *lens)
{
    assert (self && op >= 0 && op < CACHE_OP_COUNT);
    return command_ok (self, op, argc, argv, lens);
}

//  SCRIPT LOAD: the script's SHA1 into script->sha. 0, or -1 (DOWN).
static int
load_sha (cache_redis_t *self, cache_redis_op_t op, cache_script_t *script)
{
    const char *argv[] = {"SCRIPT", "LOAD", script->source};
    size_t lens[] = {6, 4, strlen (script->source)};
    redisReply *reply = command_ok (self, op, 3, argv, lens);
    if (!reply)
        return -1;
    int rc = -1;
    if (reply->type == REDIS_REPLY_STRING && reply->len == 40) {
        memcpy (script->sha, reply->str, 40);
        script->sha[40] = '\0';
        rc = 0;
    }
    freeReplyObject (reply);
    if (rc != 0)
        mark_down (self, op, "unexpected reply to SCRIPT LOAD");
    return rc;
}

struct redisReply *
cache_redis_eval (cache_redis_t *self, cache_redis_op_t op, cache_script_t *script, int nkeys,
                  int argc, const char **argv, const size_t *lens)
{
    assert (self && script && script->source && nkeys >= 0 && nkeys <= argc);
    if (!self->ctx || (!script->sha[0] && load_sha (self, op, script) != 0))
        return NULL;
    char count[16];
    snprintf (count, sizeof count, "%d", nkeys);
    const char **all = malloc ((size_t) (argc + 3) * sizeof *all);
    size_t *all_lens = malloc ((size_t) (argc + 3) * sizeof *all_lens);
    if (!all || !all_lens) {
        free (all);
        free (all_lens);
        return NULL;
    }
    all[0] = "EVALSHA", all[1] = script->sha, all[2] = count;
    all_lens[0] = 7, all_lens[1] = 40, all_lens[2] = strlen (count);
    for (int i = 0; i < argc; i++) {
        all[3 + i] = argv[i];
        all_lens[3 + i] = lens[i];
    }
    redisReply *reply = command (self, op, argc + 3, all, all_lens);
    if (reply && reply->type == REDIS_REPLY_ERROR && strncmp (reply->str, "NOSCRIPT", 8) == 0) {
        //  Redis restarted or flushed its scripts: load it again, once.
        freeReplyObject (reply);
        script->sha[0] = '\0';
        if (load_sha (self, op, script) != 0) {
            free (all);
            free (all_lens);
            return NULL;
        }
        all[1] = script->sha;
        reply = command (self, op, argc + 3, all, all_lens);
    }
    free (all);
    free (all_lens);
    return error_means_down (self, op, reply);
}

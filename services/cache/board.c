/*  board — leaderboards as one sorted set per guild.
 *
 *  Keys, for guild G: cb:lb:G (members by -balance, so that ZRANGE gives
 *  the richest first; members are user ids zero-padded to 20 digits, so
 *  equal balances rank by user id, as balance ranks them), cb:lbv:G (each
 *  member's version), cb:lbok:G (the board is complete: present for
 *  BOARD_TTL_S after a rebuild). Only members with coins are on it, as on
 *  balance's.
 *
 *  A board is rebuilt from PostgreSQL when missing (or its marker expired:
 *  events can be lost, so no board lives longer than BOARD_TTL_S): one
 *  cache instance takes cb:lblock:G, pages through the guild's accounts
 *  (ActiveAccountsRequest with the guild) into cb:lbtmp:G / cb:lbtmpv:G,
 *  then renames them into place. Meanwhile reads of that board are asked
 *  of balance. BalanceChanged events and write-throughs update the live
 *  board and the one being rebuilt, each member only to a newer version,
 *  so an event and a page can arrive in either order.
 */
#include <assert.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "services/cache/cache.h"

#define BOARD_TTL_S       300
#define BOARD_LOCK_S      30
#define BOARD_PAGE        5000
#define BOARD_DEADLINE_MS 5000

//  ARGV[1] 'live' (events: the live board if complete, and a rebuild in
//  progress) or 'page' (a rebuild page); then user, version, balance
//  triples. KEYS: marker, zset, versions, tmp zset, tmp versions, lock.
//  Versions compare as decimal strings (length, then bytes).
static const char APPLY_LUA[] =
    "local function apply(z, h, i)\n"
    "  local u, v, b = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])\n"
    "  local cur = redis.call('HGET', h, u)\n"
    "  if cur and (#cur > #v or (#cur == #v and cur >= v)) then return end\n"
    "  redis.call('HSET', h, u, v)\n"
    "  if b > 0 then redis.call('ZADD', z, -b, u) else redis.call('ZREM', z, u) end\n"
    "end\n"
    "local live = ARGV[1] == 'live' and redis.call('EXISTS', KEYS[1]) == 1\n"
    "local tmp = ARGV[1] == 'page' or redis.call('EXISTS', KEYS[6]) == 1\n"
    "for i = 2, #ARGV, 3 do\n"
    "  if live then apply(KEYS[2], KEYS[3], i) end\n"
    "  if tmp then apply(KEYS[4], KEYS[5], i) end\n"
    "end\n"
    "return 1\n";

//  The rebuilt board goes live. ARGV[1] ttl.
static const char PUBLISH_LUA[] = "for i = 2, 3 do\n"
                                  "  if redis.call('EXISTS', KEYS[i + 2]) == 1 then\n"
                                  "    redis.call('RENAME', KEYS[i + 2], KEYS[i])\n"
                                  "    redis.call('EXPIRE', KEYS[i], 2 * tonumber(ARGV[1]))\n"
                                  "  else redis.call('DEL', KEYS[i]) end\n"
                                  "end\n"
                                  "redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])\n"
                                  "redis.call('DEL', KEYS[6])\n"
                                  "return 1\n";

//  A page of a complete board, with one member more (has_more), or false.
//  ARGV start, stop.
static const char READ_LUA[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return false end\n"
    "return redis.call('ZRANGE', KEYS[2], ARGV[1], ARGV[2], 'WITHSCORES')\n";

typedef enum { K_MARKER = 0, K_ZSET, K_VERSIONS, K_TMP, K_TMPV, K_LOCK, K_COUNT } key_t_;

typedef struct {
    char text[K_COUNT][48];
    const char *argv[K_COUNT];
    size_t lens[K_COUNT];
} keys_t;

static void
s_keys (keys_t *keys, uint64_t guild_id)
{
    static const char *const prefix[K_COUNT] = {
        "cb:lbok:", "cb:lb:", "cb:lbv:", "cb:lbtmp:", "cb:lbtmpv:", "cb:lblock:"};
    for (int k = 0; k < K_COUNT; k++) {
        keys->lens[k] = (size_t) snprintf (keys->text[k], sizeof keys->text[k], "%s%" PRIu64,
                                           prefix[k], guild_id);
        keys->argv[k] = keys->text[k];
    }
}

static cache_script_t s_apply = {.source = APPLY_LUA};
static cache_script_t s_publish = {.source = PUBLISH_LUA};
static cache_script_t s_read = {.source = READ_LUA};

//  Runs APPLY for up to n (user, version, balance) members. 0, or -1.
static int
s_apply_members (cache_t *self, uint64_t guild_id, const char *mode,
                 const Cordbank__BalanceChanged *const *members, size_t n)
{
    keys_t keys;
    s_keys (&keys, guild_id);
    size_t argc = K_COUNT + 1 + 3 * n;
    const char **argv = malloc (argc * sizeof *argv);
    size_t *lens = malloc (argc * sizeof *lens);
    char (*text)[3][24] = malloc ((n ? n : 1) * sizeof *text);
    int rc = -1;
    if (argv && lens && text) {
        memcpy (argv, keys.argv, sizeof keys.argv);
        memcpy (lens, keys.lens, sizeof keys.lens);
        argv[K_COUNT] = mode;
        lens[K_COUNT] = strlen (mode);
        for (size_t i = 0; i < n; i++) {
            size_t at = K_COUNT + 1 + 3 * i;
            lens[at] = (size_t) snprintf (text[i][0], 24, "%020" PRIu64, members[i]->user_id);
            lens[at + 1] = (size_t) snprintf (text[i][1], 24, "%" PRIu64, members[i]->version);
            lens[at + 2] = (size_t) snprintf (text[i][2], 24, "%" PRId64, members[i]->balance);
            argv[at] = text[i][0];
            argv[at + 1] = text[i][1];
            argv[at + 2] = text[i][2];
        }
        redisReply *reply = cache_redis_eval (self->redis, CACHE_OP_BOARD, &s_apply, K_COUNT,
                                              (int) argc, argv, lens);
        rc = reply ? 0 : -1;
        freeReplyObject (reply);
    }
    free (argv);
    free (lens);
    free (text);
    return rc;
}

void
cache_board_apply (cache_t *self, const Cordbank__BalanceChanged *change)
{
    assert (self && change);
    //  The mint is on no board.
    if (change->user_id == 0 || !self->redis || !cache_redis_writable (self->redis))
        return;
    (void) s_apply_members (self, change->guild_id, "live", &change, 1);
}

// ---------------------------------------------------------------------
//  Rebuild

typedef struct {
    cache_t *cache;
    uint64_t guild_id;
    uint64_t after; // last user id of the previous page
    size_t members;
} rebuild_t;

static void s_next_page (rebuild_t *rebuild);

static void
s_rebuild_end (rebuild_t *rebuild, bool ok)
{
    cache_t *self = rebuild->cache;
    keys_t keys;
    s_keys (&keys, rebuild->guild_id);
    char ttl[16];
    snprintf (ttl, sizeof ttl, "%d", BOARD_TTL_S);
    const char *argv[K_COUNT + 1];
    size_t lens[K_COUNT + 1];
    memcpy (argv, keys.argv, sizeof keys.argv);
    memcpy (lens, keys.lens, sizeof keys.lens);
    argv[K_COUNT] = ttl;
    lens[K_COUNT] = strlen (ttl);
    if (self->redis && cache_redis_writable (self->redis)) {
        redisReply *reply = ok ? cache_redis_eval (self->redis, CACHE_OP_BOARD, &s_publish, K_COUNT,
                                                   K_COUNT + 1, argv, lens)
                               : cache_redis_command (self->redis, CACHE_OP_BOARD, 2,
                                                      (const char *[]){"DEL", keys.text[K_LOCK]},
                                                      (size_t[]){3, keys.lens[K_LOCK]});
        freeReplyObject (reply);
    }
    if (ok)
        cb_log_info (NULL, "leaderboard rebuilt", "{s:I, s:i}", "guild",
                     (json_int_t) rebuild->guild_id, "members", (int) rebuild->members);
    cb_counter_inc (ok ? self->board_rebuilds : self->board_rebuild_failures);
    free (rebuild);
}

static void
on_page (const Cordbank__Envelope *reply, Cordbank__Status status, const char *error, void *arg)
{
    (void) status, (void) error;
    rebuild_t *rebuild = arg;
    cache_t *self = rebuild->cache;
    const Cordbank__ActiveAccountsReply *body =
        reply && reply->body_case == CORDBANK__ENVELOPE__BODY_ACTIVE_ACCOUNTS_REPLY
            ? reply->active_accounts_reply
            : NULL;
    if (!body || body->status != CORDBANK__STATUS__STATUS_OK || self->closing || !self->redis ||
        s_apply_members (self, rebuild->guild_id, "page",
                         (const Cordbank__BalanceChanged *const *) body->accounts,
                         body->n_accounts) != 0) {
        s_rebuild_end (rebuild, false);
        return;
    }
    rebuild->members += body->n_accounts;
    if (body->n_accounts < BOARD_PAGE) {
        s_rebuild_end (rebuild, true);
        return;
    }
    rebuild->after = body->accounts[body->n_accounts - 1]->user_id;
    s_next_page (rebuild);
}

static void
s_next_page (rebuild_t *rebuild)
{
    Cordbank__ActiveAccountsRequest body = CORDBANK__ACTIVE_ACCOUNTS_REQUEST__INIT;
    body.limit = BOARD_PAGE;
    body.guild_id = rebuild->guild_id;
    body.after_user = rebuild->after;
    Cordbank__Envelope envelope = CORDBANK__ENVELOPE__INIT;
    envelope.body_case = CORDBANK__ENVELOPE__BODY_ACTIVE_ACCOUNTS_REQUEST;
    envelope.active_accounts_request = &body;
    (void) cb_client_call (rebuild->cache->balance, &envelope, NULL,
                           cb_now_ms () + BOARD_DEADLINE_MS, true, on_page, rebuild);
}

//  Starts a rebuild unless another instance (or this one) is at it.
static void
s_rebuild (cache_t *self, uint64_t guild_id)
{
    keys_t keys;
    s_keys (&keys, guild_id);
    char lock_s[16];
    size_t lock_len = (size_t) snprintf (lock_s, sizeof lock_s, "%d", BOARD_LOCK_S);
    redisReply *reply =
        cache_redis_command (self->redis, CACHE_OP_BOARD, 6,
                             (const char *[]){"SET", keys.text[K_LOCK], "1", "NX", "EX", lock_s},
                             (size_t[]){3, keys.lens[K_LOCK], 1, 2, 2, lock_len});
    bool locked = reply && reply->type == REDIS_REPLY_STATUS;
    freeReplyObject (reply);
    if (!locked)
        return;
    reply = cache_redis_command (self->redis, CACHE_OP_BOARD, 3,
                                 (const char *[]){"DEL", keys.text[K_TMP], keys.text[K_TMPV]},
                                 (size_t[]){3, keys.lens[K_TMP], keys.lens[K_TMPV]});
    freeReplyObject (reply);
    rebuild_t *rebuild = calloc (1, sizeof *rebuild);
    if (!rebuild)
        return; // the lock expires
    *rebuild = (rebuild_t){.cache = self, .guild_id = guild_id};
    s_next_page (rebuild);
}

// ---------------------------------------------------------------------
//  Reads

static void
s_reply (cb_call_t **call_p, const Cordbank__LeaderboardReply *body)
{
    Cordbank__Envelope reply = CORDBANK__ENVELOPE__INIT;
    reply.body_case = CORDBANK__ENVELOPE__BODY_LEADERBOARD_REPLY;
    reply.leaderboard_reply = (Cordbank__LeaderboardReply *) body;
    cb_call_reply (call_p, &reply);
}

//  1 answered from the board, 0 no complete board, -1 Redis failed.
static int
s_serve (cache_t *self, cb_call_t **call_p, uint64_t guild_id, uint32_t page, uint32_t size)
{
    keys_t keys;
    s_keys (&keys, guild_id);
    char start[24], stop[24];
    uint64_t first = (uint64_t) (page - 1) * size;
    const char *argv[] = {keys.text[K_MARKER], keys.text[K_ZSET], start, stop};
    size_t lens[] = {keys.lens[K_MARKER], keys.lens[K_ZSET],
                     (size_t) snprintf (start, sizeof start, "%" PRIu64, first),
                     (size_t) snprintf (stop, sizeof stop, "%" PRIu64, first + size)};
    redisReply *reply = cache_redis_eval (self->redis, CACHE_OP_BOARD, &s_read, 2, 4, argv, lens);
    if (!reply)
        return -1;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2) {
        freeReplyObject (reply);
        return 0;
    }
    size_t rows = reply->elements / 2;
    Cordbank__LeaderboardEntry entries[LEADERBOARD_PAGE_MAX];
    Cordbank__LeaderboardEntry *pointers[LEADERBOARD_PAGE_MAX];
    Cordbank__LeaderboardReply body = CORDBANK__LEADERBOARD_REPLY__INIT;
    body.status = CORDBANK__STATUS__STATUS_OK;
    body.page = page;
    body.has_more = rows > size;
    for (size_t i = 0; i < rows && i < size && i < LEADERBOARD_PAGE_MAX; i++) {
        cordbank__leaderboard_entry__init (&entries[i]);
        entries[i].rank = (uint32_t) (first + i + 1);
        entries[i].user_id = strtoull (reply->element[2 * i]->str, NULL, 10);
        //  A score is a double: exact up to 2^53 coins.
        entries[i].balance = (int64_t) -strtod (reply->element[2 * i + 1]->str, NULL);
        pointers[i] = &entries[i];
        body.n_entries = i + 1;
    }
    body.entries = pointers;
    s_reply (call_p, &body);
    freeReplyObject (reply);
    return 1;
}

//  No board to read: balance answers, as it came.
static void
on_balance_board (const Cordbank__Envelope *reply, Cordbank__Status status, const char *error,
                  void *arg)
{
    cb_call_t *call = arg;
    if (reply && reply->body_case == CORDBANK__ENVELOPE__BODY_LEADERBOARD_REPLY &&
        reply->leaderboard_reply)
        s_reply (&call, reply->leaderboard_reply);
    else
        cb_call_fail (&call, reply ? reply->status : status,
                      reply && reply->error && *reply->error ? reply->error
                      : error                                ? error
                                                             : "no answer from balance");
}

void
cache_board_on_request (cb_call_t *call, void *arg)
{
    cache_t *self = arg;
    const Cordbank__LeaderboardRequest *request = cb_call_request (call)->leaderboard_request;
    uint32_t page = request->page ? request->page : 1;
    uint32_t size = request->page_size ? request->page_size : 10;
    bool valid = request->guild_id != 0 && page <= 1000 && size <= LEADERBOARD_PAGE_MAX;
    if (valid && self->redis && cache_redis_readable (self->redis)) {
        int served = s_serve (self, &call, request->guild_id, page, size);
        cb_counter_inc (served == 1 ? self->board_hits : self->board_misses);
        if (served == 1)
            return;
        if (served == 0)
            s_rebuild (self, request->guild_id);
    } else
        cb_counter_inc (self->board_misses);
    //  balance checks the arguments and says what is wrong with them.
    Cordbank__Envelope envelope = CORDBANK__ENVELOPE__INIT;
    envelope.body_case = CORDBANK__ENVELOPE__BODY_LEADERBOARD_REQUEST;
    envelope.leaderboard_request = (Cordbank__LeaderboardRequest *) request;
    (void) cb_client_call (self->balance, &envelope, cb_call_trace_id (call),
                           cb_call_deadline_ms (call), true, on_balance_board, call);
}

//  After a flush: every board may have missed events while this instance
//  could not apply them, so each is marked incomplete (its marker goes)
//  and rebuilt on its next read. SCAN in bounded steps.
void
cache_board_forget_all (cache_t *self)
{
    assert (self);
    char cursor[24] = "0";
    for (int step = 0; step < 10000; step++) {
        const char *argv[] = {"SCAN", cursor, "MATCH", "cb:lbok:*", "COUNT", "1000"};
        size_t lens[] = {4, strlen (cursor), 5, 9, 5, 4};
        redisReply *reply = cache_redis_command (self->redis, CACHE_OP_BOARD, 6, argv, lens);
        if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
            reply->element[0]->type != REDIS_REPLY_STRING ||
            reply->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject (reply);
            return;
        }
        snprintf (cursor, sizeof cursor, "%s", reply->element[0]->str);
        const redisReply *keys = reply->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            const char *del[] = {"DEL", keys->element[i]->str};
            size_t del_lens[] = {3, keys->element[i]->len};
            freeReplyObject (cache_redis_command (self->redis, CACHE_OP_BOARD, 2, del, del_lens));
        }
        freeReplyObject (reply);
        if (strcmp (cursor, "0") == 0)
            return;
    }
}

void
cache_board_init (cache_t *self)
{
    assert (self);
    self->board_hits =
        cb_metrics_counter ("cordbank_cache_leaderboard_requests_total",
                            "Leaderboard pages, by where they came from.", "result=\"hit\"");
    self->board_misses = cb_metrics_counter ("cordbank_cache_leaderboard_requests_total",
                                             "Leaderboard pages, by where they came from.",
                                             "result=\"passthrough\"");
    self->board_rebuilds =
        cb_metrics_counter ("cordbank_cache_leaderboard_rebuilds_total",
                            "Leaderboards rebuilt from PostgreSQL, by outcome.", "outcome=\"ok\"");
    self->board_rebuild_failures = cb_metrics_counter (
        "cordbank_cache_leaderboard_rebuilds_total",
        "Leaderboards rebuilt from PostgreSQL, by outcome.", "outcome=\"failed\"");
}

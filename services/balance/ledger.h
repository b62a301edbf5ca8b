/*  ledger — the balance service's only door to PostgreSQL.
 *
 *  Requests are queued and sent on a small pool of connections (pool.h).
 *  Group commit: while every connection is busy, or for up to
 *  batch_window_us after the first of them arrives, transfer requests
 *  gather; then up to batch_max of them go in one statement,
 *  ledger_batch() (migrations/004): one round trip, one transaction and
 *  one WAL flush for all of them, each with its own outcome. Balance reads
 *  are batched the same way; history and leaderboard pages go one by one.
 *
 *  Every request is answered exactly once, through its callback: with the
 *  ledger's outcome, or UNAVAILABLE when PostgreSQL is down (at once) or
 *  has not answered by the request's deadline (then the transfer may or
 *  may not have been applied, and a retry with the same key tells). A batch
 *  that fails as a whole on a conflict (deadlock, serialization, a twin's
 *  key) is retried; one that fails on anything else is split, so that one
 *  bad request never fails its neighbours.
 *
 *  The statements themselves, and their parameters and rows, are in
 *  ledger_sql.c.
 */
#ifndef BALANCE_LEDGER_H
#define BALANCE_LEDGER_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.pb-c.h"

typedef struct ledger ledger_t;

typedef struct {
    const char *pg_url;           // borrowed; may carry a password: never logged
    int pool_size;                // connections
    int64_t statement_timeout_ms; // server-side limit; the client waits 1 s more
    int64_t batch_window_us;      // how long a transfer may wait for others (0: no wait)
    int batch_max;                // requests in one statement at most
} ledger_config_t;

typedef struct {
    const char *idempotency_key; // copied
    uint64_t guild_id;
    int kind; // Cordbank__TransferKind
    uint64_t from_user;
    uint64_t to_user;
    int64_t amount; // PAY, GRANT: as requested; DAILY, WORK: as chosen by the service
    uint64_t actor;
    int64_t now_ms;      // the service's clock (cb_now_ms), for cooldowns
    int64_t cooldown_ms; // DAILY, WORK
} ledger_request_t;

#define LEDGER_MAX_ACCOUNTS 2
#define LEDGER_KEY_MAX      128 // bytes of an idempotency key
#define LEDGER_HISTORY_MAX  50
#define LEDGER_BOARD_MAX    25
#define LEDGER_BOARD_PAGES  1000

typedef struct {
    uint64_t user_id;
    int64_t balance;
    uint64_t version;
} ledger_account_t;

//  The outcome of a transfer: applied now, refused now, or recorded by an
//  earlier request with the same key (replayed).
typedef struct {
    Cordbank__Status status;
    char message[200];
    uint64_t transfer_id;                           // 0 when nothing was applied
    int64_t amount;                                 // moved (a burn is negative)
    ledger_account_t accounts[LEDGER_MAX_ACCOUNTS]; // member states, the payer first
    size_t account_count;
    int64_t retry_at_ms; // COOLDOWN
    bool replayed;
} ledger_outcome_t;

typedef struct {
    uint64_t transfer_id;
    int kind;
    uint64_t from_user;
    uint64_t to_user;
    int64_t amount; // > 0
    int64_t delta;  // the member's change
    uint64_t actor;
    int64_t created_ms;
} ledger_history_entry_t;

typedef struct {
    ledger_history_entry_t entries[LEDGER_HISTORY_MAX];
    size_t count;
    bool has_more;
} ledger_history_t;

typedef struct {
    uint32_t rank;
    uint64_t user_id;
    int64_t balance;
} ledger_board_entry_t;

typedef struct {
    ledger_board_entry_t entries[LEDGER_BOARD_MAX];
    size_t count;
    bool has_more;
} ledger_board_t;

//  The accounts that changed most recently (cache warming), newest first.
#define LEDGER_ACTIVE_MAX 10000
typedef struct {
    uint64_t guild_id;
    uint64_t user_id;
    int64_t balance;
    uint64_t version;
} ledger_active_entry_t;

typedef struct {
    ledger_active_entry_t *entries; // owned by the ledger during the callback
    size_t count;
} ledger_active_t;

typedef enum { LEDGER_OK = 0, LEDGER_UNAVAILABLE, LEDGER_INTERNAL } ledger_rc_t;

//  What a request's callback receives; only the part of its kind is set.
typedef struct {
    ledger_rc_t rc;
    const char *error;               // rc != LEDGER_OK: one line
    const ledger_outcome_t *outcome; // transfer
    int64_t balance;                 // get (a missing account reads 0, version 0)
    uint64_t version;                // get
    const ledger_history_t *history; // history
    const ledger_board_t *board;     // leaderboard
    const ledger_active_t *active;   // active accounts
} ledger_result_t;

typedef void (ledger_done_fn) (void *arg, const ledger_result_t *result);

//  True when url parses as a libpq connection string or URI.
bool ledger_url_valid (const char *url);

//  Starts connecting on loop. NULL on allocation failure.
ledger_t *ledger_new (zloop_t *loop, const ledger_config_t *config);
//  Answers every request still waiting UNAVAILABLE.
void ledger_destroy (ledger_t **self_p);

//  At least one connection is up and the schema migrated.
bool ledger_ready (const ledger_t *self);
//  Why the ledger is not ready.
const char *ledger_error (const ledger_t *self);

//  Each request's fn is called exactly once: later from the reactor, or
//  before returning when it can be answered at once (PostgreSQL down).
//  deadline_unix_ms is the caller's deadline (0: the statement timeout).
void ledger_transfer (ledger_t *self, const ledger_request_t *request, int64_t deadline_unix_ms,
                      ledger_done_fn *fn, void *arg);
void ledger_get (ledger_t *self, uint64_t guild_id, uint64_t user_id, int64_t deadline_unix_ms,
                 ledger_done_fn *fn, void *arg);
//  limit in 1..LEDGER_HISTORY_MAX; before_transfer_id 0 = from the newest.
void ledger_history (ledger_t *self, uint64_t guild_id, uint64_t user_id, uint32_t limit,
                     uint64_t before_transfer_id, int64_t deadline_unix_ms, ledger_done_fn *fn,
                     void *arg);
//  page in 1..LEDGER_BOARD_PAGES, page_size in 1..LEDGER_BOARD_MAX.
void ledger_leaderboard (ledger_t *self, uint64_t guild_id, uint32_t page, uint32_t page_size,
                         int64_t deadline_unix_ms, ledger_done_fn *fn, void *arg);

//  An applied transfer whose request was already answered UNAVAILABLE (its
//  deadline passed while the batch was on the wire): the caller's retry
//  will replay it, but its account changes must still be announced.
typedef void (ledger_late_fn) (void *arg, uint64_t guild_id, const ledger_outcome_t *outcome);
void ledger_set_late (ledger_t *self, ledger_late_fn *fn, void *arg);

//  limit in 1..LEDGER_ACTIVE_MAX. guild_id 0: the accounts that changed
//  last; otherwise the guild's members with coins, by user id after
//  after_user (a page of a leaderboard rebuild).
void ledger_active (ledger_t *self, uint32_t limit, uint64_t guild_id, uint64_t after_user,
                    int64_t deadline_unix_ms, ledger_done_fn *fn, void *arg);

//  Requests waiting for a connection, and in flight.
size_t ledger_pending (const ledger_t *self);

#endif

/*  ledger — the balance service's only door to PostgreSQL.
 *
 *  Holds one connection, set up (keepalives, statement_timeout, migrations,
 *  prepared statements) by ledger_connect and dropped as soon as it fails;
 *  the service calls ledger_connect again on a timer. Every statement runs
 *  with a client-side deadline (pg.h), so a dead or hung server costs a
 *  bounded wait and an error, never a hang. Money logic lives in the
 *  ledger_transfer() SQL function (migrations/002): one request is one
 *  round trip and one transaction.
 *
 *  All SQL the service runs at request time is in ledger.c, so that moving
 *  to a pool or group commit changes this module only.
 */
#ifndef BALANCE_LEDGER_H
#define BALANCE_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.pb-c.h"

typedef struct ledger ledger_t;

typedef struct {
    const char *pg_url;           // borrowed; may carry a password: never logged
    int64_t statement_timeout_ms; // server-side limit; the client waits 1 s more
    bool migrate;                 // apply migrations when connecting
} ledger_config_t;

typedef struct {
    const char *idempotency_key;
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

//  One row of ledger_invariant_violations (migrations/003).
typedef struct {
    const char *check; // "guild_sum" or "account_legs"
    uint64_t guild_id;
    bool has_user; // account_legs
    uint64_t user_id;
    const char *actual;   // numeric text
    const char *expected; // numeric text
} ledger_violation_t;
typedef void (ledger_violation_fn) (const ledger_violation_t *violation, void *arg);

//  True when url parses as a libpq connection string or URI.
bool ledger_url_valid (const char *url);

//  Does not connect. NULL on allocation failure.
ledger_t *ledger_new (const ledger_config_t *config);
void ledger_destroy (ledger_t **self_p);

//  Connects and sets up when not connected (blocks up to the connect
//  timeout, 2 s by default). 0 when ready, -1 with ledger_error otherwise.
int ledger_connect (ledger_t *self);
//  Connected, migrated and prepared.
bool ledger_ready (const ledger_t *self);
//  Without blocking: drops the connection if the server has closed it.
void ledger_watch (ledger_t *self);
//  Why the last call failed.
const char *ledger_error (const ledger_t *self);

//  A missing account reads as balance 0, version 0. 0 or -1 (ledger_error).
int ledger_get (ledger_t *self, uint64_t guild_id, uint64_t user_id, int64_t *balance,
                uint64_t *version);

//  Runs one transfer request. 0 with *outcome filled (whatever its
//  status), or -1 when the database could not answer (ledger_error): then
//  the transfer may or may not have been applied, and a retry with the
//  same key tells.
int ledger_transfer (ledger_t *self, const ledger_request_t *request, ledger_outcome_t *outcome);

//  Calls fn for every invariant violation. The number found, or -1.
int ledger_check_invariants (ledger_t *self, ledger_violation_fn *fn, void *arg);

#endif

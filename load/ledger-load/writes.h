/*  writes — transfers the way the command service makes them: a
 *  TransferRequest to balance, then, when it is OK, a BalanceUpdate
 *  write-through of the reply's account states to one cache instance, and
 *  only after that instance has answered is the transfer acknowledged to
 *  the caller (the user, in command's case).
 *
 *  The caller gets the transfer's status and a copy of the account states,
 *  and learns whether the write-through was applied. The write-through's
 *  failure does not undo the transfer: like command, the caller is told
 *  the transfer happened either way (its versions are acknowledged).
 *
 *  One attempt per call (no retry here): a cache test wants to see every
 *  failure, not hide it behind a retry.
 */
#ifndef LL_WRITES_H
#define LL_WRITES_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/curve.h"

//  A transfer touches the payer and the payee (and, for grants, the mint).
#define LL_WRITES_ACCOUNTS_MAX 4

typedef struct {
    uint64_t user_id;
    int64_t balance;
    uint64_t version;
} ll_account_t;

typedef struct {
    uint32_t status;      // balance's, or the transport's when no reply came
    bool written_through; // the cache answered the BalanceUpdate OK
    size_t count;         // accounts[] (only when status is OK)
    ll_account_t accounts[LL_WRITES_ACCOUNTS_MAX];
} ll_written_t;

//  result is borrowed for the call.
typedef void (ll_written_fn) (const ll_written_t *result, void *arg);

typedef struct ll_writer ll_writer_t;

//  Clients of balance (balance_spec: one or more endpoints) and of the
//  cache instance that gets the write-throughs; keys are PREFIX-w<N>. Each
//  call's deadline is deadline_ms. NULL when an endpoint is invalid.
//  curve: CURVE keys (borrowed), NULL for none.
ll_writer_t *ll_writer_new (zloop_t *loop, const char *balance_spec, const char *cache_endpoint,
                            const cb_curve_t *curve, const char *key_prefix, int64_t deadline_ms);
//  Transfers still open are dropped: their callbacks do not run.
void ll_writer_destroy (ll_writer_t **self_p);

//  Starts a transfer (kind: a TransferKind; GRANTs from the mint, 0). fn
//  runs exactly once unless the writer is destroyed first: later, or
//  before this returns when the request could not even be queued.
//  0, or -1 when out of memory (fn does not run).
int ll_writer_transfer (ll_writer_t *self, uint64_t guild_id, uint32_t kind, uint64_t from_user,
                        uint64_t to_user, int64_t amount, ll_written_fn *fn, void *arg);

//  Both balance and the cache instance are connected.
bool ll_writer_connected (const ll_writer_t *self);
size_t ll_writer_open (const ll_writer_t *self);
//  Write-throughs the cache did not apply (any status but OK, or no answer).
uint64_t ll_writer_write_through_failed (const ll_writer_t *self);

#endif

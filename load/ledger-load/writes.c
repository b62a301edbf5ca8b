/*  writes — a transfer, then its write-through (see writes.h).
 *
 *  Each open transfer is an op_t on a list, so that destroying the writer
 *  can free the ones whose clients have already called back (a client's
 *  destroy calls back every request it still holds; those callbacks see
 *  `stopping` and only free).
 */
#include "load/ledger-load/writes.h"
#include "common/client.h"
#include "common/clock.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define GRANT_ACTOR 1

typedef struct op op_t;
struct op {
    ll_writer_t *writer;
    op_t *prev, *next;
    uint64_t guild_id;
    ll_written_fn *fn;
    void *arg;
    ll_written_t result;
};

struct ll_writer {
    cb_client_t *balance;
    cb_client_t *cache;
    char *key_prefix;
    int64_t deadline_ms;
    uint64_t next_key;
    op_t *open;
    size_t open_count;
    uint64_t write_through_failed;
    bool stopping;
};

ll_writer_t *
ll_writer_new (zloop_t *loop, const char *balance_spec, const char *cache_endpoint,
               const cb_curve_t *curve, const char *key_prefix, int64_t deadline_ms)
{
    assert (loop && balance_spec && cache_endpoint && key_prefix && deadline_ms > 0);
    ll_writer_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->deadline_ms = deadline_ms;
    self->key_prefix = strdup (key_prefix);
    self->balance = cb_client_new ("balance", balance_spec, curve, loop);
    self->cache = cb_client_new ("cache", cache_endpoint, curve, loop);
    if (!self->key_prefix || !self->balance || !self->cache) {
        ll_writer_destroy (&self);
        return NULL;
    }
    cb_client_set_attempts (self->balance, deadline_ms, 1);
    cb_client_set_attempts (self->cache, deadline_ms, 1);
    return self;
}

static void
s_close (op_t *op)
{
    ll_writer_t *self = op->writer;
    if (op->prev)
        op->prev->next = op->next;
    else
        self->open = op->next;
    if (op->next)
        op->next->prev = op->prev;
    self->open_count--;
    free (op);
}

void
ll_writer_destroy (ll_writer_t **self_p)
{
    assert (self_p);
    ll_writer_t *self = *self_p;
    if (!self)
        return;
    self->stopping = true;
    cb_client_destroy (&self->balance);
    cb_client_destroy (&self->cache);
    while (self->open)
        s_close (self->open);
    free (self->key_prefix);
    free (self);
    *self_p = NULL;
}

//  Hands the result to the caller and ends the transfer.
static void
s_done (op_t *op)
{
    op->fn (&op->result, op->arg);
    s_close (op);
}

static void
s_on_updated (const Cordbank__Envelope *reply, Cordbank__Status status, const char *error,
              void *arg)
{
    (void) status, (void) error;
    op_t *op = arg;
    if (op->writer->stopping) {
        s_close (op);
        return;
    }
    op->result.written_through =
        reply && reply->body_case == CORDBANK__ENVELOPE__BODY_BALANCE_UPDATE_REPLY &&
        reply->balance_update_reply->status == CORDBANK__STATUS__STATUS_OK;
    if (!op->result.written_through)
        op->writer->write_through_failed++;
    s_done (op);
}

//  What command does after an OK transfer: every account state of the
//  reply to the cache, and wait for its answer.
static void
s_write_through (op_t *op)
{
    ll_writer_t *self = op->writer;
    Cordbank__BalanceChanged changes[LL_WRITES_ACCOUNTS_MAX];
    Cordbank__BalanceChanged *pointers[LL_WRITES_ACCOUNTS_MAX];
    for (size_t i = 0; i < op->result.count; i++) {
        cordbank__balance_changed__init (&changes[i]);
        changes[i].guild_id = op->guild_id;
        changes[i].user_id = op->result.accounts[i].user_id;
        changes[i].balance = op->result.accounts[i].balance;
        changes[i].version = op->result.accounts[i].version;
        pointers[i] = &changes[i];
    }
    Cordbank__BalanceUpdate update = CORDBANK__BALANCE_UPDATE__INIT;
    update.n_changes = op->result.count;
    update.changes = pointers;
    Cordbank__Envelope request = CORDBANK__ENVELOPE__INIT;
    request.body_case = CORDBANK__ENVELOPE__BODY_BALANCE_UPDATE;
    request.balance_update = &update;
    //  On a failure to queue, the callback has already run.
    (void) cb_client_call (self->cache, &request, NULL, cb_now_ms () + self->deadline_ms, true,
                           s_on_updated, op);
}

static void
s_on_transferred (const Cordbank__Envelope *reply, Cordbank__Status status, const char *error,
                  void *arg)
{
    (void) error;
    op_t *op = arg;
    if (op->writer->stopping) {
        s_close (op);
        return;
    }
    const Cordbank__TransferReply *body =
        reply && reply->body_case == CORDBANK__ENVELOPE__BODY_TRANSFER_REPLY ? reply->transfer_reply
                                                                             : NULL;
    op->result.status =
        body    ? (uint32_t) body->status
        : reply ? (uint32_t) (reply->status ? reply->status : CORDBANK__STATUS__STATUS_INTERNAL)
                : (uint32_t) status;
    if (!body || body->status != CORDBANK__STATUS__STATUS_OK || body->n_accounts == 0) {
        s_done (op);
        return;
    }
    size_t count =
        body->n_accounts < LL_WRITES_ACCOUNTS_MAX ? body->n_accounts : LL_WRITES_ACCOUNTS_MAX;
    for (size_t i = 0; i < count; i++)
        op->result.accounts[i] = (ll_account_t){
            body->accounts[i]->user_id, body->accounts[i]->balance, body->accounts[i]->version};
    op->result.count = count;
    s_write_through (op);
}

int
ll_writer_transfer (ll_writer_t *self, uint64_t guild_id, uint32_t kind, uint64_t from_user,
                    uint64_t to_user, int64_t amount, ll_written_fn *fn, void *arg)
{
    assert (self && fn && !self->stopping);
    op_t *op = calloc (1, sizeof *op);
    if (!op)
        return -1;
    *op = (op_t){.writer = self, .next = self->open, .guild_id = guild_id, .fn = fn, .arg = arg};
    if (self->open)
        self->open->prev = op;
    self->open = op;
    self->open_count++;
    char key[160];
    snprintf (key, sizeof key, "%s-w%" PRIu64, self->key_prefix, self->next_key++);
    Cordbank__TransferRequest transfer = CORDBANK__TRANSFER_REQUEST__INIT;
    transfer.idempotency_key = key;
    transfer.guild_id = guild_id;
    transfer.kind = (Cordbank__TransferKind) kind;
    transfer.from_user = from_user;
    transfer.to_user = to_user;
    transfer.amount = amount;
    transfer.actor = kind == CORDBANK__TRANSFER_KIND__TRANSFER_KIND_GRANT ? GRANT_ACTOR : from_user;
    Cordbank__Envelope request = CORDBANK__ENVELOPE__INIT;
    request.body_case = CORDBANK__ENVELOPE__BODY_TRANSFER_REQUEST;
    request.transfer_request = &transfer;
    (void) cb_client_call (self->balance, &request, NULL, cb_now_ms () + self->deadline_ms, true,
                           s_on_transferred, op);
    return 0;
}

bool
ll_writer_connected (const ll_writer_t *self)
{
    assert (self);
    return cb_client_peers (self->balance) > 0 && cb_client_peers (self->cache) > 0;
}

size_t
ll_writer_open (const ll_writer_t *self)
{
    assert (self);
    return self->open_count;
}

uint64_t
ll_writer_write_through_failed (const ll_writer_t *self)
{
    assert (self);
    return self->write_through_failed;
}

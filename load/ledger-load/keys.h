/*  keys — every idempotency key the tool has used, and the first answer
 *  each one got.
 *
 *  A key is named "<prefix>-<index>" and keeps the request it stands for,
 *  so that a repeat sends exactly the same transfer. The ledger promises
 *  that every answer to a key is its first outcome: the first final answer
 *  (OK or a refusal) is kept, and every later one (a repeat sent to another
 *  instance) is compared with it on status and transfer id. The table only
 *  grows; entries are addressed by index because adding may move them.
 */
#ifndef LL_KEYS_H
#define LL_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    uint64_t guild_id;
    uint64_t from_user;
    uint64_t to_user;
    int64_t amount;
    uint32_t kind;           // TransferKind
    uint32_t first_instance; // where the original was first sent
    uint32_t status;         // of the first final answer; 0 while there is none
    uint64_t transfer_id;    // of the first final answer
} ll_key_t;

typedef enum {
    LL_ANSWER_FIRST,    // the key's first final answer: kept
    LL_ANSWER_MATCH,    // a later answer that agrees with the first
    LL_ANSWER_MISMATCH, // a later answer that does not: a correctness failure
} ll_answer_t;

typedef struct ll_keys ll_keys_t;

//  prefix is copied; NULL when out of memory.
ll_keys_t *ll_keys_new (const char *prefix);
void ll_keys_destroy (ll_keys_t **self_p);

//  Adds a key for request (its status and transfer id are ignored);
//  returns its index, or -1 when out of memory.
int64_t ll_keys_add (ll_keys_t *self, const ll_key_t *request);
size_t ll_keys_count (const ll_keys_t *self);
//  Valid until the next ll_keys_add.
const ll_key_t *ll_keys_get (const ll_keys_t *self, size_t index);
//  "<prefix>-<index>" into out.
void ll_keys_name (const ll_keys_t *self, size_t index, char *out, size_t outlen);

//  Records a final answer for the key and says how it compares.
ll_answer_t ll_keys_answer (ll_keys_t *self, size_t index, uint32_t status, uint64_t transfer_id);

//  Writes "key transfer_id STATUS" for every key that got a final answer,
//  in index order, and flushes. 0, or -1 when the write failed.
int ll_keys_write_acked (const ll_keys_t *self, FILE *out);

int ll_keys_test (void);

#endif

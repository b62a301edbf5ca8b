/*  keys — a growing array of ll_key_t (see keys.h).
 *
 *  The acked file is written once at the end, from the table, rather than
 *  line by line as answers arrive: a key answered several times (original
 *  and repeats) then appears once, with its first outcome.
 */
#include "load/ledger-load/keys.h"
#include "load/ledger-load/selftest.h"
#include "common/envelope.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct ll_keys {
    char *prefix;
    ll_key_t *items;
    size_t count, cap;
};

ll_keys_t *
ll_keys_new (const char *prefix)
{
    assert (prefix);
    ll_keys_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->prefix = strdup (prefix);
    if (!self->prefix)
        ll_keys_destroy (&self);
    return self;
}

void
ll_keys_destroy (ll_keys_t **self_p)
{
    assert (self_p);
    ll_keys_t *self = *self_p;
    if (!self)
        return;
    free (self->prefix);
    free (self->items);
    free (self);
    *self_p = NULL;
}

int64_t
ll_keys_add (ll_keys_t *self, const ll_key_t *request)
{
    assert (self && request);
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 4096;
        ll_key_t *items = realloc (self->items, cap * sizeof *items);
        if (!items)
            return -1;
        self->items = items;
        self->cap = cap;
    }
    ll_key_t *key = &self->items[self->count];
    *key = *request;
    key->status = 0;
    key->transfer_id = 0;
    return (int64_t) self->count++;
}

size_t
ll_keys_count (const ll_keys_t *self)
{
    assert (self);
    return self->count;
}

const ll_key_t *
ll_keys_get (const ll_keys_t *self, size_t index)
{
    assert (self && index < self->count);
    return &self->items[index];
}

void
ll_keys_name (const ll_keys_t *self, size_t index, char *out, size_t outlen)
{
    assert (self && out);
    snprintf (out, outlen, "%s-%zu", self->prefix, index);
}

ll_answer_t
ll_keys_answer (ll_keys_t *self, size_t index, uint32_t status, uint64_t transfer_id)
{
    assert (self && index < self->count && status != 0);
    ll_key_t *key = &self->items[index];
    if (key->status == 0) {
        key->status = status;
        key->transfer_id = transfer_id;
        return LL_ANSWER_FIRST;
    }
    return key->status == status && key->transfer_id == transfer_id ? LL_ANSWER_MATCH
                                                                    : LL_ANSWER_MISMATCH;
}

int
ll_keys_write_acked (const ll_keys_t *self, FILE *out)
{
    assert (self && out);
    char name[160];
    for (size_t i = 0; i < self->count; i++) {
        const ll_key_t *key = &self->items[i];
        if (key->status == 0)
            continue;
        ll_keys_name (self, i, name, sizeof name);
        fprintf (out, "%s %" PRIu64 " %s\n", name, key->transfer_id,
                 cb_status_name ((Cordbank__Status) key->status));
    }
    //  A short write (disk full) shows up at the flush.
    return fflush (out) == 0 && !ferror (out) ? 0 : -1;
}

static int
test_answers (ll_keys_t *keys)
{
    ll_key_t pay = {.guild_id = 9, .from_user = 1, .to_user = 2, .amount = 5, .kind = 1};
    for (int i = 0; i < 5000; i++) // past the first growth
        LL_CHECK (ll_keys_add (keys, &pay) == i);
    LL_CHECK (ll_keys_count (keys) == 5000);
    LL_CHECK (ll_keys_get (keys, 4999)->amount == 5 && ll_keys_get (keys, 7)->status == 0);
    char name[64];
    ll_keys_name (keys, 42, name, sizeof name);
    LL_CHECK (strcmp (name, "t1-42") == 0);
    LL_CHECK (ll_keys_answer (keys, 1, 1, 77) == LL_ANSWER_FIRST);
    LL_CHECK (ll_keys_answer (keys, 1, 1, 77) == LL_ANSWER_MATCH);
    LL_CHECK (ll_keys_answer (keys, 1, 1, 78) == LL_ANSWER_MISMATCH);
    LL_CHECK (ll_keys_answer (keys, 1, 2, 0) == LL_ANSWER_MISMATCH);
    LL_CHECK (ll_keys_answer (keys, 3, 2, 0) == LL_ANSWER_FIRST);
    LL_CHECK (ll_keys_answer (keys, 3, 2, 0) == LL_ANSWER_MATCH);
    LL_CHECK (ll_keys_get (keys, 1)->transfer_id == 77);
    return 0;
}

static int
test_acked_file (ll_keys_t *keys)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream (&text, &len);
    LL_CHECK (out);
    int rc = ll_keys_write_acked (keys, out);
    fclose (out);
    int same = strcmp (text, "t1-1 77 OK\nt1-3 0 INSUFFICIENT_FUNDS\n") == 0;
    free (text);
    LL_CHECK (rc == 0 && same);
    return 0;
}

int
ll_keys_test (void)
{
    ll_keys_t *keys = ll_keys_new ("t1");
    LL_CHECK (keys);
    int rc = test_answers (keys) == 0 ? test_acked_file (keys) : -1;
    ll_keys_destroy (&keys);
    LL_CHECK (keys == NULL);
    return rc;
}

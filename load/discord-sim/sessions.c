/*  sessions — the session table and event logs (see sessions.h).
 *
 *  Session ids are 32 random hex characters, as Discord's are.
 */
#include "load/discord-sim/sessions.h"
#include "load/discord-sim/selftest.h"

#include <assert.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct srv_sessions {
    zhashx_t *by_id; // id -> srv_session_t (owned)
};

static void
event_free (void **item)
{
    srv_event_t *e = *item;
    if (e) {
        free (e->frame);
        free (e);
    }
    *item = NULL;
}

static void
session_free (void **item)
{
    srv_session_t *s = *item;
    if (s) {
        zlistx_destroy (&s->log);
        free (s);
    }
    *item = NULL;
}

srv_sessions_t *
srv_sessions_new (void)
{
    srv_sessions_t *self = calloc (1, sizeof *self);
    assert (self);
    self->by_id = zhashx_new ();
    zhashx_set_destructor (self->by_id, session_free);
    return self;
}

void
srv_sessions_destroy (srv_sessions_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    zhashx_destroy (&(*self_p)->by_id);
    free (*self_p);
    *self_p = NULL;
}

srv_session_t *
srv_sessions_create (srv_sessions_t *self, int shard_id, int shard_count, uint64_t intents)
{
    assert (self);
    srv_session_t *s = calloc (1, sizeof *s);
    assert (s);
    unsigned char random[16];
    randombytes_buf (random, sizeof random);
    sodium_bin2hex (s->id, sizeof s->id, random, sizeof random);
    s->shard_id = shard_id;
    s->shard_count = shard_count;
    s->intents = intents;
    s->log = zlistx_new ();
    zlistx_set_destructor (s->log, event_free);
    zhashx_insert (self->by_id, s->id, s);
    return s;
}

srv_session_t *
srv_sessions_find (srv_sessions_t *self, const char *id)
{
    assert (self);
    return id ? zhashx_lookup (self->by_id, id) : NULL;
}

srv_session_t *
srv_sessions_of_shard (srv_sessions_t *self, int shard_id)
{
    assert (self);
    for (srv_session_t *s = zhashx_first (self->by_id); s; s = zhashx_next (self->by_id))
        if (s->shard_id == shard_id)
            return s;
    return NULL;
}

void
srv_sessions_end (srv_sessions_t *self, srv_session_t **session_p)
{
    assert (self && session_p);
    if (*session_p)
        zhashx_delete (self->by_id, (*session_p)->id);
    *session_p = NULL;
}

zlistx_t *
srv_sessions_list (srv_sessions_t *self)
{
    assert (self);
    zlistx_t *list = zlistx_new ();
    for (srv_session_t *s = zhashx_first (self->by_id); s; s = zhashx_next (self->by_id))
        zlistx_add_end (list, s);
    return list;
}

srv_event_t *
srv_session_append (srv_session_t *self, const char *type, const char *d_json,
                    uint64_t interaction_id)
{
    assert (self && type && d_json);
    srv_event_t *e = calloc (1, sizeof *e);
    assert (e);
    e->seq = ++self->seq;
    e->interaction_id = interaction_id;
    size_t cap = strlen (type) + strlen (d_json) + 64;
    e->frame = malloc (cap);
    assert (e->frame);
    e->len = (size_t) snprintf (e->frame, cap, "{\"op\":0,\"t\":\"%s\",\"s\":%" PRId64 ",\"d\":%s}",
                                type, e->seq, d_json);
    zlistx_add_end (self->log, e);
    while (zlistx_size (self->log) > SRV_SESSION_LOG_MAX) {
        zlistx_first (self->log);
        zlistx_delete (self->log, zlistx_cursor (self->log));
    }
    return e;
}

bool
srv_session_can_resume (const srv_session_t *self, int64_t seq)
{
    assert (self);
    if (seq < 0 || seq > self->seq)
        return false;
    srv_event_t *oldest = zlistx_first (self->log);
    return !oldest || seq >= oldest->seq - 1;
}

int
srv_sessions_test (void)
{
    srv_sessions_t *table = srv_sessions_new ();
    srv_session_t *s = srv_sessions_create (table, 1, 2, 1);
    SIM_CHECK (strlen (s->id) == 32 && srv_sessions_find (table, s->id) == s);
    SIM_CHECK (srv_sessions_of_shard (table, 1) == s && srv_sessions_of_shard (table, 0) == NULL);
    srv_event_t *e = srv_session_append (s, "READY", "{\"v\":10}", 0);
    SIM_CHECK (e->seq == 1 &&
               strcmp (e->frame, "{\"op\":0,\"t\":\"READY\",\"s\":1,\"d\":{\"v\":10}}") == 0);
    for (int i = 0; i < SRV_SESSION_LOG_MAX + 9; i++)
        srv_session_append (s, "X", "{}", 7);
    SIM_CHECK (s->seq == SRV_SESSION_LOG_MAX + 10);
    SIM_CHECK (zlistx_size (s->log) == SRV_SESSION_LOG_MAX);
    //  The oldest kept is seq 11: a resume from 10 has everything after it.
    SIM_CHECK (srv_session_can_resume (s, 10) && !srv_session_can_resume (s, 9));
    SIM_CHECK (srv_session_can_resume (s, s->seq) && !srv_session_can_resume (s, s->seq + 1));
    zlistx_t *list = srv_sessions_list (table);
    SIM_CHECK (zlistx_size (list) == 1);
    zlistx_destroy (&list);
    srv_sessions_end (table, &s);
    SIM_CHECK (s == NULL && srv_sessions_of_shard (table, 1) == NULL);
    srv_sessions_destroy (&table);
    return 0;
}

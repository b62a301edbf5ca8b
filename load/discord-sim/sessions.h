/*  sessions — Gateway sessions and the dispatches each has sent.
 *
 *  Discord keeps a session after its connection closes so that the client
 *  can RESUME it: the dispatches sent (or meant to be sent) meanwhile are
 *  replayed, each with its original sequence number. A session here keeps
 *  its last SRV_SESSION_LOG_MAX dispatches; a RESUME from a sequence older
 *  than that, or newer than the session's, cannot be served. A shard has at
 *  most one live session: a new IDENTIFY for it replaces the old one.
 *
 *  Pure bookkeeping (no sockets): the gateway owns the connections and
 *  points `conn` at the one that currently carries a session.
 */
#ifndef SIM_SESSIONS_H
#define SIM_SESSIONS_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#define SRV_SESSION_LOG_MAX 5000

typedef struct {
    int64_t seq;
    char *frame; // the whole op 0 payload, JSON
    size_t len;
    uint64_t interaction_id; // 0 when not an INTERACTION_CREATE
    bool sent;               // written to a live connection at least once
} srv_event_t;

typedef struct {
    char id[33];
    int shard_id, shard_count;
    uint64_t intents;
    int64_t seq;         // the last sequence number given
    zlistx_t *log;       // srv_event_t, oldest first
    void *conn;          // the connection carrying it, or NULL
    int64_t detached_ms; // when conn went away
} srv_session_t;

typedef struct srv_sessions srv_sessions_t;

srv_sessions_t *srv_sessions_new (void);
void srv_sessions_destroy (srv_sessions_t **self_p);

//  A new session for shard_id (the caller ends any previous one first).
srv_session_t *srv_sessions_create (srv_sessions_t *self, int shard_id, int shard_count,
                                    uint64_t intents);
srv_session_t *srv_sessions_find (srv_sessions_t *self, const char *id);
//  The shard's session, or NULL.
srv_session_t *srv_sessions_of_shard (srv_sessions_t *self, int shard_id);
//  Forgets and frees a session.
void srv_sessions_end (srv_sessions_t *self, srv_session_t **session_p);
//  Sessions, for stats and sweeps (a new list of borrowed pointers).
zlistx_t *srv_sessions_list (srv_sessions_t *self);

//  Gives the next sequence number to an op 0 dispatch of type t with data
//  d_json and logs it. The event (borrowed, valid until the session ends).
srv_event_t *srv_session_append (srv_session_t *self, const char *type, const char *d_json,
                                 uint64_t interaction_id);
//  Whether a RESUME from seq can be served (every later event is logged).
bool srv_session_can_resume (const srv_session_t *self, int64_t seq);

int srv_sessions_test (void);

#endif

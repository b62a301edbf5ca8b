/*  server_gateway — what the two halves of the Gateway share:
 *  server_gateway.c (connections, sending, faults, time) and
 *  server_gateway_ops.c (the opcodes: HELLO, IDENTIFY, RESUME, heartbeats,
 *  READY and GUILD_CREATE, stats).
 */
#ifndef SIM_SERVER_GATEWAY_H
#define SIM_SERVER_GATEWAY_H

#include "load/discord-sim/server_int.h"
#include "load/discord-sim/zstream.h"

#define GW_PAYLOAD_MAX         4096 // Discord closes 4002 above this
#define GW_SESSION_START_TOTAL 1000
#define GW_EVENTS_PER_WINDOW   120
#define GW_EVENT_WINDOW_MS     60000

struct srv_gateway {
    srv_t *srv;
    srv_sessions_t *sessions;
    zlistx_t *conns;           // ws_conn_t (owned by their lws connection)
    int shard_count;           // routing: the last IDENTIFY's count
    int64_t *identify_buckets; // last IDENTIFY per shard_id % max_concurrency
    uint64_t identifies_remaining;
    uint64_t connections_total, identifies, resumes, resumed_at_resume_url, resume_failures;
    uint64_t heartbeats, acks, zombie_closes, dispatched, replayed;
    uint64_t identify_rate_limited, event_rate_limited, reconnects_sent, invalid_sessions_sent;
    uint64_t shard_identifies[SRV_MAX_SHARDS], shard_resumes[SRV_MAX_SHARDS];
    json_t *closes;        // close code -> count, ours
    json_t *client_closes; // close code -> count, the clients'
};

typedef struct {
    uint32_t kind; // SRV_CONN_WS
    struct lws *wsi;
    srv_gateway_t *gw;
    void *handle; // in gw->conns
    bool at_resume_url;
    bool payload_compress; // IDENTIFY "compress": true
    srv_zstream_t *z;      // compress=zlib-stream
    srv_session_t *session;
    zlistx_t *out;
    bool closing, dropped;
    int close_code;
    int peer_close_code; // the client's close frame, 0 when none
    char close_reason[96];
    int64_t opened_ms, last_heartbeat_ms;
    int64_t window_start_ms;
    int window_count;
    char *rx;
    size_t rx_len;
} ws_conn_t;

//  server_gateway.c
void gw_send (ws_conn_t *c, const char *json, size_t len);
//  Sends a logged dispatch (marks it sent; tells interactions).
void gw_send_event (ws_conn_t *c, srv_event_t *e);
//  Closes with a code after what is queued (once; counted by code).
void gw_close (ws_conn_t *c, int code, const char *reason);
//  Ends a session: unsent interactions go back to be sent again.
void gw_end_session (srv_gateway_t *self, srv_session_t **session_p);

//  server_gateway_ops.c
//  A new connection: its URL's v/encoding/compress, then HELLO.
void gw_open (ws_conn_t *c);
//  One complete client payload.
void gw_receive (ws_conn_t *c, const char *text, size_t len);
//  Whether a client may RESUME after this close code (Discord's table).
bool gw_close_code_resumable (int code);

#endif

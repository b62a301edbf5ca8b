/*  shard_int — what the two files of the gateway's lws thread share, and
 *  nothing else: shard_client.c (the thread, the lws context, connecting,
 *  reconnecting, the pipe to the reactor) and shard_session.c (one shard's
 *  Gateway session on a live connection: payloads, heartbeats, IDENTIFY and
 *  RESUME, the send window). Private to those two files; everything here
 *  belongs to the lws thread.
 */
#ifndef GW_SHARD_INT_H
#define GW_SHARD_INT_H

#include <czmq.h>
#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/log.h"
#include "common/metrics.h"
#include "gateway_proto.h"
#include "shard_client.h"
#include "zstream.h"

typedef enum {
    ST_WAITING,     // not connected: a connect is scheduled
    ST_CONNECTING,  // TCP/TLS/WebSocket handshake
    ST_HELLO,       // connected, waiting for HELLO
    ST_ASKING,      // waiting for the reactor's GRANT
    ST_IDENTIFYING, // IDENTIFY sent, waiting for READY
    ST_RESUMING,    // RESUME sent, waiting for RESUMED
    ST_CONNECTED,   // READY or RESUMED: dispatches flow
    ST_FATAL,       // stopped for good
} shard_state_t;

typedef struct shard_client shard_client_t;

//  One shard: its connection (wsi, NULL between connections) and the
//  session that outlives connections (session_id, resume_url, seq).
typedef struct {
    shard_client_t *client;
    int id;
    struct lws *wsi;
    shard_state_t state;
    gw_zstream_t *zstream;
    char session_id[128];
    char resume_url[512];
    int64_t seq;             // last dispatch sequence; -1 none
    int failed_resumes;      // resumes in a row that did not reach RESUMED
    uint32_t attempt;        // reconnects since the last READY/RESUMED
    bool resuming;           // this connection resumes a session
    int64_t next_delay_ms;   // set to override the backoff of the next connect
    const char *drop_reason; // why we closed it ourselves (a literal)
    int close_code;          // the server's close frame's code, 0 until one came
    int64_t interval_ms;
    bool ack_pending;
    int64_t beat_sent_us;
    bool beat_due; // a heartbeat to send when writable
    char *out;     // IDENTIFY or RESUME to send when writable
    gw_send_window_t window;
    lws_sorted_usec_list_t beat_timer, connect_timer, ask_timer, send_timer;
    cb_metric_t *events, *connected, *identifies, *latency, *rtt;
    char shard_label[32];
} shard_t;

//  The thread's state: the pipe, the context, every shard of this pod.
struct shard_client {
    zsock_t *pipe;
    struct lws_context *context;
    gw_shard_client_args_t cfg;
    shard_t *shards;
    bool stop, term;
    cb_metric_t *pipe_drops;
    cb_log_limiter_t connect_errors, drop_log;
};

//  shard_client.c: tells the reactor (see the pipe protocol in
//  shard_client.h); value may be NULL.
void shard_tell (shard_t *s, const char *command, const char *value, size_t value_len);
//  Moves to state; the reactor and the connected gauge hear of changes
//  into or out of ST_CONNECTED, and of ST_FATAL.
void shard_set_state (shard_t *s, shard_state_t state);
//  cordbank_gateway_resumes_total{shard, outcome}.
void shard_count_resume (shard_t *s, const char *outcome);

//  shard_session.c: the WebSocket is up (HELLO is awaited).
void shard_established (shard_t *s);
//  Received bytes (a frame or part of one); -1 to close the connection.
int shard_receive (shard_t *s, const uint8_t *in, size_t len);
//  The WRITEABLE callback; -1 to close the connection.
int shard_writable (shard_t *s);
//  The reactor's answer to ASK: identify now (0) or ask again after wait_ms.
void shard_grant (shard_t *s, int64_t wait_ms);
//  Forgets the session: the next connection identifies.
void shard_forget_session (shard_t *s);

#endif

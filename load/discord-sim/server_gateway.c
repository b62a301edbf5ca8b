/*  server_gateway — the Gateway WebSocket: connections, the opcodes, and
 *  what Discord does about a client that breaks the rules.
 *
 *  A connection gets HELLO at once; then IDENTIFY (checked: token 4004,
 *  intents 4013/4014, shard 4010/4011, the max_concurrency identify
 *  window and the session start limit 4008) makes a session and sends
 *  READY and a GUILD_CREATE per guild of the shard; or RESUME re-attaches
 *  a session and replays what the client missed, then RESUMED. Heartbeats
 *  are ACKed (unless the stop_acks fault says not); a connection silent
 *  for 1.5 heartbeat intervals is closed 4009 (a zombie). More than 120
 *  payloads in 60 s is 4008, a bad payload 4002, an unknown opcode 4001,
 *  anything but HEARTBEAT before IDENTIFY 4003, a second IDENTIFY 4005.
 *
 *  Outgoing payloads queue per connection and go out one per writeable
 *  callback, compressed on the connection's zlib stream when it asked for
 *  compress=zlib-stream (or one zlib stream each after IDENTIFY with
 *  "compress": true). Sessions outlive connections (sessions.c); the
 *  protocol's parsing and the session rules are in server_gateway_ops.c.
 */
#include "load/discord-sim/server_gateway.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SESSION_KEEP_MS (180 * 1000) // a detached session stays resumable this long

typedef struct {
    uint8_t *buf; // LWS_PRE bytes of headroom, then the payload
    size_t len;
    bool binary;
} out_t;

static void
out_free (void **item)
{
    out_t *o = *item;
    if (o) {
        free (o->buf);
        free (o);
    }
    *item = NULL;
}

static void
count_code (json_t *counts, int code)
{
    char key[8];
    snprintf (key, sizeof key, "%d", code);
    json_t *n = json_object_get (counts, key);
    json_object_set_new (counts, key, json_integer (n ? json_integer_value (n) + 1 : 1));
}

srv_gateway_t *
srv_gateway_new (srv_t *srv)
{
    srv_gateway_t *self = calloc (1, sizeof *self);
    assert (self);
    self->srv = srv;
    self->sessions = srv_sessions_new ();
    self->conns = zlistx_new ();
    self->shard_count = (int) srv->cfg->shards;
    self->identify_buckets = calloc ((size_t) srv->cfg->max_concurrency, sizeof (int64_t));
    assert (self->identify_buckets);
    for (int64_t i = 0; i < srv->cfg->max_concurrency; i++)
        self->identify_buckets[i] = INT64_MIN / 2;
    self->identifies_remaining = GW_SESSION_START_TOTAL;
    self->closes = json_object ();
    self->client_closes = json_object ();
    return self;
}

void
srv_gateway_destroy (srv_gateway_t **self_p)
{
    assert (self_p);
    srv_gateway_t *self = *self_p;
    if (!self)
        return;
    zlistx_destroy (&self->conns); // connections are freed by lws at context destroy
    srv_sessions_destroy (&self->sessions);
    free (self->identify_buckets);
    json_decref (self->closes);
    json_decref (self->client_closes);
    free (self);
    *self_p = NULL;
}

int
srv_gateway_shard_count (const srv_gateway_t *self)
{
    return self->shard_count;
}

uint64_t
srv_gateway_identifies_remaining (const srv_gateway_t *self)
{
    return self->identifies_remaining;
}

//  ---------------------------------------------------------------------------
//  Sending

void
gw_send (ws_conn_t *c, const char *json, size_t len)
{
    if (c->closing)
        return;
    out_t *o = calloc (1, sizeof *o);
    assert (o);
    if (c->z)
        o->buf = srv_zstream_push (c->z, json, len, LWS_PRE, &o->len);
    else if (c->payload_compress)
        o->buf = srv_zlib_once (json, len, LWS_PRE, &o->len);
    else {
        o->buf = malloc (LWS_PRE + len);
        assert (o->buf);
        memcpy (o->buf + LWS_PRE, json, len);
        o->len = len;
    }
    o->binary = c->z || c->payload_compress;
    if (!o->buf) {
        free (o);
        gw_close (c, 4000, "Unknown error.");
        return;
    }
    zlistx_add_end (c->out, o);
    lws_callback_on_writable (c->wsi);
}

void
gw_send_event (ws_conn_t *c, srv_event_t *e)
{
    if (c->closing)
        return;
    gw_send (c, e->frame, e->len);
    e->sent = true;
    c->gw->dispatched++;
    if (e->interaction_id)
        srv_interactions_sent (c->gw->srv->interactions, e->interaction_id, cb_mono_ms ());
}

void
gw_close (ws_conn_t *c, int code, const char *reason)
{
    if (c->closing)
        return;
    c->closing = true;
    c->close_code = code;
    snprintf (c->close_reason, sizeof c->close_reason, "%s", reason);
    count_code (c->gw->closes, code);
    cb_log_info (NULL, "close", "{s:i, s:s, s:i}", "code", code, "reason", reason, "shard",
                 c->session ? c->session->shard_id : -1);
    lws_callback_on_writable (c->wsi);
}

//  Closes the TCP connection under the WebSocket: no close frame.
static void
drop (ws_conn_t *c)
{
    c->closing = true;
    c->dropped = true;
    shutdown (lws_get_socket_fd (c->wsi), SHUT_RDWR);
    lws_callback_on_writable (c->wsi);
}

static int
on_writeable (ws_conn_t *c)
{
    if (c->dropped)
        return -1;
    out_t *o = zlistx_first (c->out);
    if (o) {
        int len = (int) o->len;
        int n = lws_write (c->wsi, o->buf + LWS_PRE, o->len,
                           o->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
        zlistx_delete (c->out, zlistx_cursor (c->out)); // frees o
        if (n < len)
            return -1;
        if (zlistx_size (c->out) > 0 || c->closing)
            lws_callback_on_writable (c->wsi);
        return 0;
    }
    if (c->closing) {
        lws_close_reason (c->wsi, (enum lws_close_status) c->close_code,
                          (unsigned char *) c->close_reason, strlen (c->close_reason));
        return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------------------
//  Sessions and connections

void
gw_end_session (srv_gateway_t *self, srv_session_t **session_p)
{
    srv_session_t *s = *session_p;
    if (!s)
        return;
    for (srv_event_t *e = zlistx_first (s->log); e; e = zlistx_next (s->log))
        if (e->interaction_id && !e->sent)
            srv_interactions_requeue (self->srv->interactions, e->interaction_id);
    //  session_p may be &conn->session itself: end through a copy.
    if (s->conn)
        ((ws_conn_t *) s->conn)->session = NULL;
    srv_sessions_end (self->sessions, &s);
    *session_p = NULL;
}

bool
srv_gateway_dispatch (srv_gateway_t *self, int shard, const char *type, const char *d_json,
                      uint64_t interaction_id)
{
    srv_session_t *s = srv_sessions_of_shard (self->sessions, shard);
    if (!s)
        return false;
    srv_event_t *e = srv_session_append (s, type, d_json, interaction_id);
    ws_conn_t *c = s->conn;
    if (c && !c->closing)
        gw_send_event (c, e);
    return true;
}

static void
conn_open (srv_gateway_t *self, struct lws *wsi)
{
    ws_conn_t *c = calloc (1, sizeof *c);
    assert (c);
    c->kind = SRV_CONN_WS;
    c->wsi = wsi;
    c->gw = self;
    c->out = zlistx_new ();
    zlistx_set_destructor (c->out, out_free);
    c->opened_ms = c->last_heartbeat_ms = c->window_start_ms = cb_mono_ms ();
    lws_set_opaque_user_data (wsi, c);
    c->handle = zlistx_add_end (self->conns, c);
    self->connections_total++;
    gw_open (c); // URL checks and HELLO
}

//  The client's close frame: 1000 and 1001 end the session (Discord: the
//  bot goes offline), any other code keeps it resumable.
static void
peer_close (srv_gateway_t *self, ws_conn_t *c, const uint8_t *in, size_t len)
{
    c->peer_close_code = len >= 2 ? in[0] << 8 | in[1] : 1005;
    count_code (self->client_closes, c->peer_close_code);
    if (c->peer_close_code == 1000 || c->peer_close_code == 1001)
        gw_end_session (self, &c->session);
}

static void
conn_closed (srv_gateway_t *self, struct lws *wsi)
{
    ws_conn_t *c = lws_get_opaque_user_data (wsi);
    if (!c || c->kind != SRV_CONN_WS)
        return;
    if (c->session) {
        c->session->conn = NULL;
        c->session->detached_ms = cb_mono_ms ();
    }
    zlistx_delete (self->conns, c->handle);
    zlistx_destroy (&c->out);
    srv_zstream_destroy (&c->z);
    free (c->rx);
    lws_set_opaque_user_data (wsi, NULL);
    free (c);
}

//  A message in pieces: lws hands over frames and fragments of frames.
static void
on_receive (ws_conn_t *c, const void *in, size_t len)
{
    if (c->closing)
        return;
    if (c->rx_len + len > GW_PAYLOAD_MAX) {
        gw_close (c, 4002, "Decode error: payload over 4096 bytes.");
        return;
    }
    c->rx = realloc (c->rx, c->rx_len + len + 1);
    assert (c->rx);
    memcpy (c->rx + c->rx_len, in, len);
    c->rx_len += len;
    c->rx[c->rx_len] = '\0';
    if (!lws_is_final_fragment (c->wsi) || lws_remaining_packet_payload (c->wsi) > 0)
        return;
    gw_receive (c, c->rx, c->rx_len);
    c->rx_len = 0;
}

int
srv_gateway_callback (srv_gateway_t *self, struct lws *wsi, enum lws_callback_reasons reason,
                      void *in, size_t len)
{
    ws_conn_t *c = lws_get_opaque_user_data (wsi);
    if (c && c->kind != SRV_CONN_WS)
        c = NULL;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        conn_open (self, wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (c)
            on_receive (c, in, len);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return c ? on_writeable (c) : 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (c)
            peer_close (self, c, in, len);
        return 0; // lws answers the close frame
    case LWS_CALLBACK_CLOSED:
        conn_closed (self, wsi);
        return 0;
    default:
        return 0;
    }
}

//  ---------------------------------------------------------------------------
//  Time

void
srv_gateway_tick (srv_gateway_t *self, int64_t now_ms)
{
    int64_t zombie_ms = self->srv->cfg->heartbeat_ms * 3 / 2 + 1000;
    for (ws_conn_t *c = zlistx_first (self->conns); c; c = zlistx_next (self->conns))
        if (!c->closing && now_ms - c->last_heartbeat_ms > zombie_ms) {
            self->zombie_closes++;
            gw_end_session (self, &c->session);
            gw_close (c, 4009, "Session timed out.");
        }
    zlistx_t *sessions = srv_sessions_list (self->sessions);
    for (srv_session_t *s = zlistx_first (sessions); s; s = zlistx_next (sessions))
        if (!s->conn && now_ms - s->detached_ms > SESSION_KEEP_MS)
            gw_end_session (self, &s);
    zlistx_destroy (&sessions);
}

//  ---------------------------------------------------------------------------
//  Faults

//  A dispatch larger than any client should take (cordbank's gateway
//  takes 32 MiB inflated): spaces, so it compresses to a few tens of KiB
//  on a zlib-stream connection, as a bomb would.
#define OVERSIZED_BYTES (33 * 1024 * 1024)

static void
send_oversized (ws_conn_t *c)
{
    static const char head[] = "{\"op\":0,\"t\":\"OVERSIZED\",\"s\":null,\"d\":{\"pad\":\"";
    static const char tail[] = "\"}}";
    char *json = malloc (OVERSIZED_BYTES);
    assert (json);
    memset (json, ' ', OVERSIZED_BYTES);
    memcpy (json, head, sizeof head - 1);
    memcpy (json + OVERSIZED_BYTES - (sizeof tail - 1), tail, sizeof tail - 1);
    gw_send (c, json, OVERSIZED_BYTES);
    free (json);
}

static void
fault_one (srv_gateway_t *self, ws_conn_t *c, const srv_fault_t *f)
{
    char text[64];
    switch (f->kind) {
    case SRV_FAULT_DROP:
        drop (c);
        break;
    case SRV_FAULT_RECONNECT:
        self->reconnects_sent++;
        gw_send (c, "{\"op\":7,\"d\":null}", 17);
        break;
    case SRV_FAULT_INVALID_SESSION:
        self->invalid_sessions_sent++;
        gw_end_session (self, &c->session);
        gw_send (c, "{\"op\":9,\"d\":false}", 18);
        break;
    case SRV_FAULT_INVALID_SESSION_RESUMABLE:
        self->invalid_sessions_sent++;
        gw_send (c, "{\"op\":9,\"d\":true}", 17);
        break;
    case SRV_FAULT_CLOSE:
        if (!gw_close_code_resumable (f->code))
            gw_end_session (self, &c->session);
        gw_close (c, f->code, "Closed by the simulator (fault).");
        break;
    case SRV_FAULT_HEARTBEAT_REQUEST:
        snprintf (text, sizeof text, "{\"op\":1,\"d\":%lld}",
                  (long long) (c->session ? c->session->seq : 0));
        gw_send (c, text, strlen (text));
        break;
    case SRV_FAULT_OVERSIZED:
        send_oversized (c);
        break;
    default:
        break;
    }
}

void
srv_gateway_fault (srv_gateway_t *self, const srv_fault_t *f)
{
    zlistx_t *targets = zlistx_new ();
    for (ws_conn_t *c = zlistx_first (self->conns); c; c = zlistx_next (self->conns))
        if (!c->closing && (f->shard == -1 || (c->session && c->session->shard_id == f->shard)))
            zlistx_add_end (targets, c);
    for (ws_conn_t *c = zlistx_first (targets); c; c = zlistx_next (targets))
        fault_one (self, c, f);
    zlistx_destroy (&targets);
}

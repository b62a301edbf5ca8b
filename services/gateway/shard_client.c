/*  shard_client — the lws thread of the gateway's shards: one lws client
 *  context, one WebSocket per shard this pod owns, and the pipe to the
 *  reactor (shard_client.h). What a shard does on a live connection is in
 *  shard_session.c; shard_int.h is what the two files share.
 *
 *  This file connects and reconnects: to the /gateway/bot URL for a new
 *  session, to resume_gateway_url to RESUME one, after a drop, with
 *  backoff and full jitter (reset once a session is live). Three failed
 *  resumes in a row, or a close code that ends the session (4003, 4007,
 *  4009), start over with a fresh IDENTIFY. Fatal close codes (4004,
 *  4010-4014) stop the shard with one error line, and it never reconnects:
 *  the reactor hears "fatal" and readiness says so.
 *
 *  Why IDENTIFY asks the reactor: identifies are limited per bucket
 *  (shard_id % max_concurrency, one per 5 s) across every pod of the bot,
 *  and by the daily session-start budget; the reactor holds both (Redis,
 *  /gateway/bot). Resumes need no permission.
 *
 *  Metrics are updated here directly: the registry's updates are atomics.
 */
#include "shard_client.h"

#include <assert.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <string.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/config.h"
#include "shard_int.h"

//  Reconnect backoff: full jitter up to 1 s for the first retry, then
//  doubling to 60 s while the connection keeps failing.
#define BACKOFF_BASE_MS    1000
#define BACKOFF_CAP_MS     60000
#define MAX_FAILED_RESUMES 3
//  How long the lws thread waits for the reactor to take a message.
#define PIPE_SEND_TIMEOUT_MS 2000

static void connect_later (shard_t *s, const char *reason);

//  ---------------------------------------------------------------------------
//  Talking to the reactor

void
shard_tell (shard_t *s, const char *command, const char *value, size_t value_len)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, command);
    zmsg_addstrf (msg, "%d", s->id);
    if (value)
        zmsg_addmem (msg, value, value_len);
    //  The reactor did not take it within PIPE_SEND_TIMEOUT_MS: it is
    //  overloaded, and an interaction this late would miss Discord's 3 s.
    if (zmsg_send (&msg, s->client->pipe) != 0) {
        zmsg_destroy (&msg);
        cb_counter_inc (s->client->pipe_drops);
        uint64_t suppressed;
        if (cb_log_limiter_allow (&s->client->drop_log, &suppressed))
            cb_log_error (NULL, "shard message to the reactor dropped", "{s:i, s:s, s:I}", "shard",
                          s->id, "command", command, "suppressed", (json_int_t) suppressed);
    }
}

void
shard_set_state (shard_t *s, shard_state_t state)
{
    bool was = s->state == ST_CONNECTED;
    s->state = state;
    bool is = state == ST_CONNECTED;
    if (was != is || state == ST_FATAL) {
        const char *text = is ? "connected" : state == ST_FATAL ? "fatal" : "down";
        shard_tell (s, GW_PIPE_STATE, text, strlen (text));
        cb_gauge_set (s->connected, is ? 1 : 0);
    }
}

static void
count_labelled (const char *name, const char *help, shard_t *s, const char *key, const char *value)
{
    char labels[128];
    cb_metrics_labels (labels, sizeof labels, "shard", s->shard_label, key, value, NULL);
    cb_counter_inc (cb_metrics_counter (name, help, labels));
}

static void
count_reconnect (shard_t *s, const char *reason)
{
    count_labelled ("cordbank_gateway_reconnects_total",
                    "Gateway reconnects by shard and reason (drop, zombie, reconnect, "
                    "invalid_session, a close code's name).",
                    s, "reason", reason);
}

void
shard_count_resume (shard_t *s, const char *outcome)
{
    count_labelled ("cordbank_gateway_resumes_total",
                    "Gateway RESUME attempts by shard and outcome (ok, failed, invalid).", s,
                    "outcome", outcome);
}

//  ---------------------------------------------------------------------------
//  Connection life

static void
stop_timers (shard_t *s)
{
    lws_sul_cancel (&s->beat_timer);
    lws_sul_cancel (&s->ask_timer);
    lws_sul_cancel (&s->send_timer);
}

//  The connection is gone (closed by either side, or never made). code is
//  the server's close code, 0 when there was none.
static void
on_closed (shard_t *s, int code)
{
    s->wsi = NULL;
    stop_timers (s);
    cb_secret_free (s->out);
    s->out = NULL;
    s->beat_due = false;
    if (s->client->stop || s->state == ST_FATAL)
        return;
    gw_close_action_t action = code ? gw_close_action (code) : GW_CLOSE_RESUME;
    if (action == GW_CLOSE_FATAL) {
        cb_log_error (NULL, "gateway closed the shard for good: fix the configuration",
                      "{s:i, s:i, s:s}", "shard", s->id, "close_code", code, "reason",
                      gw_close_name (code));
        shard_set_state (s, ST_FATAL);
        return;
    }
    const char *reason = s->drop_reason ? s->drop_reason : code ? gw_close_name (code) : "drop";
    s->drop_reason = NULL;
    if (action == GW_CLOSE_REIDENTIFY)
        shard_forget_session (s);
    if (s->resuming && s->state != ST_CONNECTED && s->session_id[0]) {
        shard_count_resume (s, "failed");
        if (++s->failed_resumes >= MAX_FAILED_RESUMES) {
            cb_log_warn (NULL, "resume failed 3 times: starting a new session", "{s:i}", "shard",
                         s->id);
            shard_forget_session (s);
        }
    }
    cb_log_info (NULL, "shard disconnected", "{s:i, s:s, s:i}", "shard", s->id, "reason", reason,
                 "close_code", code);
    connect_later (s, reason);
}

static void on_connect_timer (lws_sorted_usec_list_t *sul);

//  Counts the reconnect and schedules it, with backoff and full jitter.
static void
connect_later (shard_t *s, const char *reason)
{
    count_reconnect (s, reason);
    shard_set_state (s, ST_WAITING);
    s->attempt++;
    int64_t delay = s->next_delay_ms >= 0 ? s->next_delay_ms
                                          : cb_backoff_delay_ms (s->attempt, BACKOFF_BASE_MS,
                                                                 BACKOFF_CAP_MS, cb_random01 ());
    s->next_delay_ms = -1;
    lws_sul_schedule (s->client->context, 0, &s->connect_timer, on_connect_timer,
                      (delay > 0 ? delay : 1) * LWS_US_PER_MS);
}

//  Starts the WebSocket handshake to the resume URL (with a session) or
//  the /gateway/bot URL. -1 when lws refuses at once.
static int
shard_connect (shard_t *s)
{
    s->resuming = s->session_id[0] != '\0';
    const char *base = s->resuming && s->resume_url[0] ? s->resume_url : s->client->cfg.url;
    char *url = gw_connect_url (base);
    if (!url || gw_zstream_reset (s->zstream) != 0) {
        free (url);
        return -1;
    }
    const char *prot, *address, *path;
    int port;
    char host[300], full_path[1024];
    int rc = lws_parse_uri (url, &prot, &address, &port, &path);
    snprintf (host, sizeof host, "%s", address);
    snprintf (full_path, sizeof full_path, "/%s", path);
    struct lws_client_connect_info info;
    memset (&info, 0, sizeof info);
    info.context = s->client->context;
    info.address = host;
    info.port = port;
    info.path = full_path;
    info.host = host;
    info.origin = host;
    info.ietf_version_or_minus_one = -1;
    info.ssl_connection = streq (prot, "wss") ? LCCSCF_USE_SSL : 0;
    info.alpn = "http/1.1"; // a WebSocket upgrade, never h2
    info.opaque_user_data = s;
    info.pwsi = &s->wsi;
    gw_send_window_init (&s->window);
    s->close_code = 0;
    s->drop_reason = NULL;
    shard_set_state (s, ST_CONNECTING);
    struct lws *wsi = rc == 0 ? lws_client_connect_via_info (&info) : NULL;
    free (url);
    return wsi ? 0 : -1;
}

static void
on_connect_timer (lws_sorted_usec_list_t *sul)
{
    shard_t *s = lws_container_of (sul, shard_t, connect_timer);
    if (s->client->stop || s->state == ST_FATAL)
        return;
    if (shard_connect (s) != 0 && s->state == ST_CONNECTING) {
        s->wsi = NULL;
        connect_later (s, "connect_failed");
    }
}

static shard_t *
shard_of (struct lws *wsi)
{
    return lws_get_opaque_user_data (wsi);
}

//  The server's close code from a close frame's payload (0 when absent).
static int
close_code (const void *in, size_t len)
{
    const uint8_t *p = in;
    return p && len >= 2 ? (p[0] << 8) | p[1] : 0;
}

//  The handshake failed (no TCP, TLS or WebSocket upgrade); why is lws's
//  text. Logged at most once a second for all shards: reconnects_total
//  counts every one.
static void
on_connection_error (shard_t *s, const char *why)
{
    uint64_t suppressed;
    if (cb_log_limiter_allow (&s->client->connect_errors, &suppressed))
        cb_log_warn (NULL, "gateway connection failed", "{s:i, s:s, s:I}", "shard", s->id, "error",
                     why ? why : "", "suppressed", (json_int_t) suppressed);
    if (!s->drop_reason)
        s->drop_reason = "connect_failed";
    on_closed (s, 0);
}

//  ---------------------------------------------------------------------------
//  The pipe from the reactor

static void
drain_pipe (shard_client_t *c)
{
    zmsg_t *msg;
    while ((msg = zmsg_recv (c->pipe))) {
        char *command = zmsg_popstr (msg);
        char *id = zmsg_popstr (msg);
        char *wait = zmsg_popstr (msg);
        if (command && streq (command, GW_PIPE_STOP))
            c->stop = true;
        else if (command && streq (command, GW_PIPE_TERM))
            c->stop = c->term = true;
        else if (command && streq (command, GW_PIPE_GRANT) && id && wait) {
            long shard = strtol (id, NULL, 10);
            for (size_t i = 0; i < c->cfg.count; i++)
                if (c->shards[i].id == shard)
                    shard_grant (&c->shards[i], strtoll (wait, NULL, 10));
        }
        free (command);
        free (id);
        free (wait);
        zmsg_destroy (&msg);
    }
}

static int
on_lws (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    (void) user;
    shard_client_t *c = lws_context_user (lws_get_context (wsi));
    shard_t *s = reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED ? NULL : shard_of (wsi);
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        drain_pipe (c);
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (s)
            shard_established (s);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return s ? shard_receive (s, in, len) : -1;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return s ? shard_writable (s) : 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (s)
            s->close_code = close_code (in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (s)
            on_connection_error (s, in);
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (s)
            on_closed (s, s->close_code);
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols PROTOCOLS[] = {
    {"discord-gateway", on_lws, 0, GW_RX_BUFFER, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};

//  ---------------------------------------------------------------------------
//  The thread: its shards, the service loop, the two-step stop

static void
shard_init (shard_client_t *c, shard_t *s, int id)
{
    s->client = c;
    s->id = id;
    s->seq = -1;
    s->next_delay_ms = -1;
    s->state = ST_WAITING;
    s->zstream = gw_zstream_new (GW_MAX_GATEWAY_MESSAGE);
    snprintf (s->shard_label, sizeof s->shard_label, "%d", id);
    char labels[64];
    cb_metrics_labels (labels, sizeof labels, "shard", s->shard_label, NULL);
    s->events = cb_metrics_counter ("cordbank_gateway_events_total",
                                    "Gateway dispatches received, by shard.", labels);
    s->connected =
        cb_metrics_gauge ("cordbank_gateway_shard_connected",
                          "1 while the shard's session is live (READY or RESUMED).", labels);
    s->identifies = cb_metrics_counter ("cordbank_gateway_identifies_total",
                                        "IDENTIFY payloads sent, by shard.", labels);
    s->latency =
        cb_metrics_gauge ("cordbank_gateway_latency_seconds",
                          "Last heartbeat round trip (HEARTBEAT to ACK), by shard.", labels);
    s->rtt = cb_metrics_histogram ("cordbank_gateway_heartbeat_rtt_seconds",
                                   "Heartbeat round trips (HEARTBEAT to ACK), by shard.", labels,
                                   CB_LATENCY_BUCKETS, CB_LATENCY_BUCKETS_COUNT);
    cb_gauge_set (s->connected, 0);
}

//  Takes over args.
static shard_client_t *
client_new (zsock_t *pipe, gw_shard_client_args_t *args)
{
    shard_client_t *c = calloc (1, sizeof *c);
    assert (c);
    c->pipe = pipe;
    c->cfg = *args;
    free (args);
    c->shards = calloc (c->cfg.count ? c->cfg.count : 1, sizeof *c->shards);
    assert (c->shards);
    for (size_t i = 0; i < c->cfg.count; i++)
        shard_init (c, &c->shards[i], c->cfg.shards[i]);
    c->pipe_drops =
        cb_metrics_counter ("cordbank_gateway_pipe_drops_total",
                            "Shard messages the reactor did not take in time (lost).", NULL);
    return c;
}

static int
client_open (shard_client_t *c)
{
    for (size_t i = 0; i < c->cfg.count; i++)
        if (!c->shards[i].zstream)
            return -1;
    struct lws_context_creation_info info;
    memset (&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = PROTOCOLS;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.user = c;
    c->context = lws_create_context (&info);
    if (!c->context)
        return -1;
    //  Spread the first connects over a second: identifies are spaced by
    //  the reactor anyway, and a hundred handshakes at once help nobody.
    for (size_t i = 0; i < c->cfg.count; i++)
        lws_sul_schedule (c->context, 0, &c->shards[i].connect_timer, on_connect_timer,
                          (lws_usec_t) (1 + 1000.0 * cb_random01 ()) * LWS_US_PER_MS);
    return 0;
}

//  After the service loop: wait for $TERM (the reactor may still be
//  calling lws_cancel_service on the context).
static void
wait_term (shard_client_t *c)
{
    zsock_set_rcvtimeo (c->pipe, -1);
    while (!c->term) {
        char *command = zstr_recv (c->pipe);
        if (!command)
            break;
        c->term = streq (command, GW_PIPE_TERM);
        free (command);
    }
}

static void
client_destroy (shard_client_t **c_p)
{
    shard_client_t *c = *c_p;
    //  Closes every connection first: their CLOSED callbacks use the shards.
    if (c->context)
        lws_context_destroy (c->context);
    for (size_t i = 0; i < c->cfg.count; i++) {
        gw_zstream_destroy (&c->shards[i].zstream);
        cb_secret_free (c->shards[i].out);
        cb_gauge_set (c->shards[i].connected, 0);
    }
    free (c->shards);
    free (c->cfg.url);
    cb_secret_free (c->cfg.token);
    free (c->cfg.shards);
    free (c);
    *c_p = NULL;
}

void
gw_shard_client_actor (zsock_t *pipe, void *args)
{
    //  Named so that its CPU time can be told apart (load/bench-gateway.sh).
    pthread_setname_np (pthread_self (), "gw-shards");
    shard_client_t *c = client_new (pipe, args);
    zsock_set_sndtimeo (pipe, PIPE_SEND_TIMEOUT_MS);
    zsock_set_rcvtimeo (pipe, 0);
    int ok = client_open (c) == 0;
    zsock_signal (pipe, 0);
    zsock_send (pipe, GW_PIPE_READY, ok, ok ? (void *) c->context : NULL);
    while (ok && !c->stop)
        if (lws_service (c->context, 0) < 0)
            break;
    //  Closing happens before $TERM: nothing a shard does after STOP reaches
    //  the reactor (on_closed does nothing once stop is set).
    c->stop = true;
    wait_term (c);
    client_destroy (&c);
}

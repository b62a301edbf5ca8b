/*  shard_session — one shard's Gateway session on a live connection, on
 *  the gateway's lws thread (shard_client.c connects, reconnects and owns
 *  the thread; shard_int.h is what they share).
 *
 *    HELLO -> heartbeats (first after interval * random, then every
 *    interval) and ASK the reactor -> GRANT -> IDENTIFY -> READY
 *    (session_id, resume_gateway_url); or, with a session, RESUME ->
 *    replayed dispatches -> RESUMED. Dispatches keep the sequence;
 *    INTERACTION_CREATE's d goes to the reactor.
 *
 *  A heartbeat not ACKed when the next one is due marks a zombie
 *  connection: it is dropped (and resumed by shard_client.c). op 1 asks for
 *  a heartbeat now; op 7 RECONNECT drops and resumes; op 9 INVALID_SESSION
 *  drops and resumes (d=true) or forgets the session and identifies again
 *  after 1-5 s (d=false). Every event sent goes through the connection's
 *  send window (gateway_proto.h: 120 per 60 s, headroom kept for
 *  heartbeats), one lws_write per WRITEABLE callback. Our own closes use
 *  code 4000, never 1000/1001, which would end the session.
 */
#include <string.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/config.h"
#include "shard_int.h"

//  A connection that says nothing this long after the handshake is dropped.
#define HELLO_TIMEOUT_MS 30000
//  An ASK not answered this long is asked again.
#define ASK_AGAIN_MS 10000
//  Our payloads (IDENTIFY, RESUME, HEARTBEAT) are a few hundred bytes.
#define MAX_SEND 4096
//  Close code for closes of our own: anything but 1000/1001 keeps the
//  session resumable.
#define CLOSE_RESUMABLE 4000

//  ---------------------------------------------------------------------------
//  Sending: everything goes out from the WRITEABLE callback

static void
on_send_timer (lws_sorted_usec_list_t *sul)
{
    shard_t *s = lws_container_of (sul, shard_t, send_timer);
    if (s->wsi)
        lws_callback_on_writable (s->wsi);
}

//  Queues IDENTIFY or RESUME (takes text over; both carry the token, so
//  every copy is wiped when it goes).
static void
queue_out (shard_t *s, char *text)
{
    cb_secret_free (s->out);
    s->out = text;
    if (s->wsi)
        lws_callback_on_writable (s->wsi);
}

static int
write_text (shard_t *s, const char *text)
{
    size_t len = strlen (text);
    unsigned char buf[LWS_PRE + MAX_SEND];
    if (len > MAX_SEND)
        return -1;
    memcpy (buf + LWS_PRE, text, len);
    int rc = lws_write (s->wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT) < (int) len ? -1 : 0;
    explicit_bzero (buf + LWS_PRE, len);
    return rc;
}

static int
send_heartbeat (shard_t *s, int64_t now_ms)
{
    s->beat_due = false;
    if (!gw_send_window_take (&s->window, now_ms, true)) {
        cb_log_warn (NULL, "heartbeat skipped: send window full", "{s:i}", "shard", s->id);
        return 0;
    }
    char *text = gw_heartbeat_json (s->seq);
    int rc = text ? write_text (s, text) : -1;
    free (text);
    s->ack_pending = true;
    s->beat_sent_us = cb_mono_us ();
    return rc;
}

//  The WRITEABLE callback, one write per call (lws's rule): a heartbeat
//  first, then IDENTIFY/RESUME when the window allows it (else a timer
//  asks again when it will).
int
shard_writable (shard_t *s)
{
    int64_t now_ms = cb_mono_ms ();
    if (s->beat_due) {
        if (send_heartbeat (s, now_ms) != 0)
            return -1;
        if (s->out)
            lws_callback_on_writable (s->wsi);
        return 0;
    }
    if (!s->out)
        return 0;
    if (!gw_send_window_take (&s->window, now_ms, false)) {
        int64_t wait = gw_send_window_wait_ms (&s->window, now_ms);
        lws_sul_schedule (s->client->context, 0, &s->send_timer, on_send_timer,
                          (wait > 0 ? wait : 1) * LWS_US_PER_MS);
        return 0;
    }
    int rc = write_text (s, s->out);
    cb_secret_free (s->out);
    s->out = NULL;
    return rc;
}

//  ---------------------------------------------------------------------------
//  Heartbeats

static void
on_beat_timer (lws_sorted_usec_list_t *sul)
{
    shard_t *s = lws_container_of (sul, shard_t, beat_timer);
    if (!s->wsi)
        return;
    if (s->state == ST_HELLO) {
        cb_log_warn (NULL, "no HELLO from the gateway, reconnecting", "{s:i}", "shard", s->id);
        s->drop_reason = "hello_timeout";
        lws_set_timeout (s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    if (s->ack_pending) {
        cb_log_warn (NULL, "heartbeat not acknowledged: zombie connection, reconnecting",
                     "{s:i, s:I}", "shard", s->id, "interval_ms", (json_int_t) s->interval_ms);
        s->drop_reason = "zombie";
        lws_set_timeout (s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    s->beat_due = true;
    lws_callback_on_writable (s->wsi);
    lws_sul_schedule (s->client->context, 0, &s->beat_timer, on_beat_timer,
                      s->interval_ms * LWS_US_PER_MS);
}

static void
on_ack (shard_t *s)
{
    if (!s->ack_pending)
        return;
    s->ack_pending = false;
    double rtt = (double) (cb_mono_us () - s->beat_sent_us) / 1e6;
    cb_gauge_set (s->latency, rtt);
    cb_histogram_observe (s->rtt, rtt);
}

void
shard_established (shard_t *s)
{
    shard_set_state (s, ST_HELLO);
    //  The beat timer first waits for HELLO (on_beat_timer checks the state).
    lws_sul_schedule (s->client->context, 0, &s->beat_timer, on_beat_timer,
                      HELLO_TIMEOUT_MS * LWS_US_PER_MS);
}

//  ---------------------------------------------------------------------------
//  Identify and resume

static void on_ask_timer (lws_sorted_usec_list_t *sul);

//  Asks the reactor for an IDENTIFY slot; asks again later should the
//  answer be lost.
static void
ask_identify (shard_t *s)
{
    shard_set_state (s, ST_ASKING);
    shard_tell (s, GW_PIPE_ASK, NULL, 0);
    lws_sul_schedule (s->client->context, 0, &s->ask_timer, on_ask_timer,
                      ASK_AGAIN_MS * LWS_US_PER_MS);
}

static void
on_ask_timer (lws_sorted_usec_list_t *sul)
{
    shard_t *s = lws_container_of (sul, shard_t, ask_timer);
    if (s->wsi && s->state == ST_ASKING)
        ask_identify (s);
}

//  The reactor's answer to ASK.
void
shard_grant (shard_t *s, int64_t wait_ms)
{
    if (!s->wsi || s->state != ST_ASKING)
        return; // the connection went away meanwhile: it will ask again
    if (wait_ms > 0) {
        lws_sul_schedule (s->client->context, 0, &s->ask_timer, on_ask_timer,
                          wait_ms * LWS_US_PER_MS);
        return;
    }
    char *text = gw_identify_json (s->client->cfg.token, s->client->cfg.intents, s->id,
                                   s->client->cfg.shard_count);
    if (!text) {
        s->drop_reason = "out_of_memory";
        lws_set_timeout (s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    shard_set_state (s, ST_IDENTIFYING);
    cb_counter_inc (s->identifies);
    queue_out (s, text);
}

static void
on_hello (shard_t *s, const gw_payload_t *p)
{
    int64_t interval = gw_hello_interval (p);
    if (interval <= 0) {
        cb_log_warn (NULL, "HELLO without a heartbeat interval", "{s:i}", "shard", s->id);
        interval = 41250;
    }
    s->interval_ms = interval;
    s->ack_pending = false;
    //  Discord: the first heartbeat after interval * jitter, so that shards
    //  that connected together do not beat together.
    int64_t first = (int64_t) ((double) interval * cb_random01 ());
    lws_sul_schedule (s->client->context, 0, &s->beat_timer, on_beat_timer,
                      (first > 0 ? first : 1) * LWS_US_PER_MS);
    if (!s->resuming) {
        ask_identify (s);
        return;
    }
    char *text = gw_resume_json (s->client->cfg.token, s->session_id, s->seq);
    shard_set_state (s, ST_RESUMING);
    queue_out (s, text);
}

void
shard_forget_session (shard_t *s)
{
    s->session_id[0] = '\0';
    s->resume_url[0] = '\0';
    s->seq = -1;
    s->failed_resumes = 0;
}

//  READY or RESUMED: the session is live.
static void
on_session_live (shard_t *s, const gw_payload_t *p)
{
    bool ready = streq (p->t, "READY");
    if (ready && gw_ready_session (p, s->session_id, sizeof s->session_id, s->resume_url,
                                   sizeof s->resume_url) != 0) {
        cb_log_warn (NULL, "READY without a valid session: cannot resume later", "{s:i}", "shard",
                     s->id);
        shard_forget_session (s);
    }
    if (!ready)
        shard_count_resume (s, "ok");
    cb_log_info (NULL, ready ? "shard ready" : "shard resumed", "{s:i, s:i, s:I}", "shard", s->id,
                 "shard_count", s->client->cfg.shard_count, "seq", (json_int_t) s->seq);
    s->attempt = 0;
    s->failed_resumes = 0;
    s->resuming = false;
    shard_set_state (s, ST_CONNECTED);
}

//  ---------------------------------------------------------------------------
//  Received payloads

static void
on_dispatch (shard_t *s, const gw_payload_t *p)
{
    if (p->s >= 0)
        s->seq = p->s;
    cb_counter_inc (s->events);
    if (streq (p->t, "READY") || streq (p->t, "RESUMED")) {
        on_session_live (s, p);
        return;
    }
    if (!streq (p->t, "INTERACTION_CREATE") || !json_is_object (p->d))
        return;
    char *text = json_dumps (p->d, JSON_COMPACT);
    if (text)
        shard_tell (s, GW_PIPE_INTERACTION, text, strlen (text));
    free (text);
}

//  Closes the connection from inside its callback (return the result).
static int
drop (shard_t *s, const char *reason)
{
    s->drop_reason = reason;
    lws_close_reason (s->wsi, (enum lws_close_status) CLOSE_RESUMABLE, NULL, 0);
    return -1;
}

static int
on_invalid_session (shard_t *s, const gw_payload_t *p)
{
    bool resumable = gw_invalid_session_resumable (p);
    if (s->state == ST_RESUMING)
        shard_count_resume (s, "invalid");
    cb_log_warn (NULL, "invalid session", "{s:i, s:b}", "shard", s->id, "resumable", resumable);
    if (resumable && s->session_id[0])
        return drop (s, "invalid_session_resumable");
    //  Discord: wait 1-5 s before a fresh IDENTIFY.
    shard_forget_session (s);
    s->next_delay_ms = 1000 + (int64_t) (4000.0 * cb_random01 ());
    return drop (s, "invalid_session");
}

//  One complete message; returns -1 to close the connection.
static int
on_message (shard_t *s, const char *text, size_t len)
{
    gw_payload_t p;
    char err[160];
    if (gw_payload_parse (text, len, &p, err, sizeof err) != 0) {
        cb_log_warn (NULL, "bad gateway payload", "{s:i, s:s}", "shard", s->id, "error", err);
        return drop (s, "decode_error");
    }
    int rc = 0;
    switch (p.op) {
    case GW_OP_DISPATCH:
        on_dispatch (s, &p);
        break;
    case GW_OP_HEARTBEAT: // the server asks for one now
        s->beat_due = true;
        lws_callback_on_writable (s->wsi);
        break;
    case GW_OP_HEARTBEAT_ACK:
        on_ack (s);
        break;
    case GW_OP_HELLO:
        on_hello (s, &p);
        break;
    case GW_OP_RECONNECT:
        cb_log_info (NULL, "gateway asked to reconnect", "{s:i}", "shard", s->id);
        rc = drop (s, "reconnect");
        break;
    case GW_OP_INVALID_SESSION:
        rc = on_invalid_session (s, &p);
        break;
    default:
        break; // opcodes we do not use
    }
    gw_payload_clear (&p);
    return rc;
}

int
shard_receive (shard_t *s, const uint8_t *in, size_t len)
{
    bool end = lws_is_final_fragment (s->wsi) && lws_remaining_packet_payload (s->wsi) == 0;
    if (!lws_frame_is_binary (s->wsi)) {
        //  Uncompressed text: only whole messages in one receive buffer (we
        //  asked for zlib-stream), so nothing is ever accumulated here.
        if (!lws_is_first_fragment (s->wsi) || !end) {
            cb_log_warn (NULL, "uncompressed gateway message larger than one receive buffer",
                         "{s:i, s:i}", "shard", s->id, "limit", GW_RX_BUFFER);
            return drop (s, "decode_error");
        }
        return on_message (s, (const char *) in, len);
    }
    int rc = gw_zstream_feed (s->zstream, in, len, end);
    if (rc < 0) {
        cb_log_warn (NULL, "bad zlib-stream data", "{s:i, s:s}", "shard", s->id, "error",
                     gw_zstream_strerror (rc));
        return drop (s, "decode_error");
    }
    if (rc != GW_ZSTREAM_MESSAGE)
        return 0;
    size_t mlen;
    const char *text = gw_zstream_message (s->zstream, &mlen);
    return on_message (s, text, mlen);
}

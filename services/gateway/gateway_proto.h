/*  gateway_proto — Discord Gateway payloads, pure: no socket, no clock.
 *
 *  Builds what a shard sends (IDENTIFY, RESUME, HEARTBEAT), parses what it
 *  receives (op, s, t, d of every payload; HELLO's interval, READY's
 *  session, INVALID_SESSION's flag), says what each close code means for
 *  the session (the policy table below), and keeps the per-connection send
 *  window (Discord closes a connection that sends more than 120 events in
 *  60 s). Kept apart from the lws client so that all of it is unit-tested.
 *
 *  Everything parsed came from the network: malformed payloads are errors
 *  with a reason, never asserts.
 */
#ifndef GW_GATEWAY_PROTO_H
#define GW_GATEWAY_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Gateway opcodes.
enum {
    GW_OP_DISPATCH = 0,
    GW_OP_HEARTBEAT = 1,
    GW_OP_IDENTIFY = 2,
    GW_OP_RESUME = 6,
    GW_OP_RECONNECT = 7,
    GW_OP_INVALID_SESSION = 9,
    GW_OP_HELLO = 10,
    GW_OP_HEARTBEAT_ACK = 11,
};

//  One received payload. d is owned (json_decref through gw_payload_clear).
typedef struct {
    int op;
    int64_t s;  // sequence of a dispatch; -1 when null or absent
    char t[64]; // event name of a dispatch; "" otherwise
    json_t *d;  // may be NULL (absent) or json null
} gw_payload_t;

//  0 with *out filled, or -1 with the reason in err.
int gw_payload_parse (const char *json, size_t len, gw_payload_t *out, char *err, size_t errlen);
void gw_payload_clear (gw_payload_t *self);

//  HELLO's heartbeat_interval in ms (> 0), or -1.
int64_t gw_hello_interval (const gw_payload_t *hello);

//  READY's session: 0 with session_id and resume_gateway_url copied (the
//  URL may be "" when absent: resume at the first URL), or -1.
int gw_ready_session (const gw_payload_t *ready, char *session_id, size_t session_len,
                      char *resume_url, size_t url_len);

//  INVALID_SESSION's d: true when the session may be resumed.
bool gw_invalid_session_resumable (const gw_payload_t *payload);

//  Payloads to send; the caller frees them. NULL only when out of memory
//  (or strings that are not UTF-8). seq < 0 is sent as null.
char *gw_identify_json (const char *token, int64_t intents, int shard_id, int shard_count);
char *gw_resume_json (const char *token, const char *session_id, int64_t seq);
char *gw_heartbeat_json (int64_t seq);

//  The connection URL: base + "/?v=10&encoding=json&compress=zlib-stream"
//  (base's trailing slashes dropped; a base with a path, such as a
//  resume_gateway_url ".../resume", gets "?v=..." after its path). Caller frees it; NULL when out
//  of memory.
char *gw_connect_url (const char *base);

//  GET /gateway/bot's answer.
typedef struct {
    char url[512];
    int shards; // recommended shard count
    int64_t total, remaining, reset_after_ms;
    int max_concurrency;
} gw_gateway_bot_t;

//  0 with *out filled, or -1 with the reason in err.
int gw_gateway_bot_parse (const char *json, size_t len, gw_gateway_bot_t *out, char *err,
                          size_t errlen);

//  A StatefulSet pod's ordinal: the number after the last '-' of name
//  ("cordbank-gateway-2" -> 2), or -1 when there is none.
int gw_ordinal_from_name (const char *name);

//  What a close code means for the session.
typedef enum {
    GW_CLOSE_RESUME,     // reconnect and resume the session
    GW_CLOSE_REIDENTIFY, // reconnect with a new session (IDENTIFY)
    GW_CLOSE_FATAL,      // never reconnect: configuration must change
} gw_close_action_t;

//  Discord's table: 4004 authentication failed and 4010 invalid shard,
//  4011 sharding required, 4012 invalid API version, 4013 invalid intents,
//  4014 disallowed intents are fatal; 4003 not authenticated, 4007 invalid
//  seq and 4009 session timed out need a new session; everything else
//  (4000, 4001, 4002, 4005, 4008, 1000-1999, a drop without a close frame)
//  resumes.
gw_close_action_t gw_close_action (int code);
//  A short name for logs and metric labels ("authentication_failed"), or
//  "unknown".
const char *gw_close_name (int code);

//  Who may IDENTIFY when, within one pod: one IDENTIFY per bucket
//  (shard_id % max_concurrency) every GW_IDENTIFY_SPACING_MS, and none
//  while the session-start budget from /gateway/bot is spent. (Across pods,
//  shards.c also takes the bucket's slot in Redis.) Times are monotonic ms.
//  Discord counts 5 s between IDENTIFYs as they arrive; the time from our
//  grant to Discord's receipt varies, so grants keep a margin.
#define GW_IDENTIFY_SPACING_MS  5500
#define GW_IDENTIFY_MAX_BUCKETS 65536

typedef enum { GW_GATE_OPEN, GW_GATE_BUCKET, GW_GATE_BUDGET } gw_gate_reason_t;

typedef struct {
    int max_concurrency;
    int64_t *bucket_last_ms; // last grant per bucket
    int64_t remaining;       // session starts left
    int64_t reset_at_ms;     // when the budget refills
} gw_identify_gate_t;

//  0, or -1 when max_concurrency is out of 1..GW_IDENTIFY_MAX_BUCKETS or
//  out of memory. Free with gw_identify_gate_clear.
int gw_identify_gate_init (gw_identify_gate_t *self, int max_concurrency, int64_t now_ms);
void gw_identify_gate_clear (gw_identify_gate_t *self);
//  A new budget from /gateway/bot: remaining starts, refilled reset_after_ms
//  from now.
void gw_identify_gate_budget (gw_identify_gate_t *self, int64_t remaining, int64_t reset_after_ms,
                              int64_t now_ms);
//  How long shard must wait (0: it may go now) and why.
int64_t gw_identify_gate_wait (const gw_identify_gate_t *self, int shard, int64_t now_ms,
                               gw_gate_reason_t *reason);
//  Records that shard was granted an IDENTIFY at now_ms.
void gw_identify_gate_take (gw_identify_gate_t *self, int shard, int64_t now_ms);

//  Sliding window of sends on one connection. Discord allows 120 events per
//  60 s; heartbeats must always get through, so other events stop earlier
//  and leave GW_SEND_HEADROOM slots to heartbeats.
#define GW_SEND_LIMIT     120
#define GW_SEND_WINDOW_MS 60000
#define GW_SEND_HEADROOM  10

typedef struct {
    int64_t at[GW_SEND_LIMIT]; // send times, a ring
    size_t head, count;
} gw_send_window_t;

void gw_send_window_init (gw_send_window_t *self);
//  True (and the send counted) when an event may be sent at now_ms;
//  heartbeat says whether it is a heartbeat (allowed up to the limit).
bool gw_send_window_take (gw_send_window_t *self, int64_t now_ms, bool heartbeat);
//  Ms until take would allow a non-heartbeat event (0 = now).
int64_t gw_send_window_wait_ms (gw_send_window_t *self, int64_t now_ms);

#endif

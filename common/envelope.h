/*  envelope — the Envelope message every socket carries, and status codes.
 *
 *  Messages are protobuf-c structs generated from proto/. An envelope built
 *  by a caller usually lives on the stack with borrowed pointers; one
 *  decoded from the wire is heap-owned and freed with cb_envelope_free.
 */
#ifndef CB_ENVELOPE_H
#define CB_ENVELOPE_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "envelope.pb-c.h"

//  Largest message any socket accepts (ZMQ_MAXMSGSIZE).
#define CB_MAX_MESSAGE_BYTES (1024 * 1024)
#define CB_TRACE_ID_LEN      32

//  The process's identity, stamped as `sender` on everything it sends.
//  Set once at start (cb_service_new does it).
void cb_identity_set (const char *service, const char *instance);
const char *cb_identity_service (void);
const char *cb_identity_instance (void);

//  "OK", "INSUFFICIENT_FUNDS", ...; "INTERNAL" for unknown values.
const char *cb_status_name (Cordbank__Status status);
//  Lower-case form for metric labels: "ok", "insufficient_funds", ...
const char *cb_status_label (Cordbank__Status status);

//  A new random trace id: 32 lower-case hex characters and a NUL.
void cb_trace_id_new (char out[CB_TRACE_ID_LEN + 1]);

//  Packs env into a new frame. Stamps `sender` when it is unset.
zframe_t *cb_envelope_encode (Cordbank__Envelope *env);
//  Unpacks and validates: NULL when the bytes are not an envelope, carry
//  neither body, status nor request id, or exceed CB_MAX_MESSAGE_BYTES.
//  An envelope with a request id but a body this build does not know (a
//  newer peer) is returned with no body set. The result is the caller's.
Cordbank__Envelope *cb_envelope_decode (const uint8_t *data, size_t size);
void cb_envelope_free (Cordbank__Envelope **env);

//  Counts and (at most once a second) logs a message that did not decode.
//  `where` names the socket ("router", "sub"...).
void cb_envelope_count_bad (const char *where, size_t size);

//  The body's field name ("transfer_request", ...), for metric labels;
//  "none" when no body is set.
const char *cb_body_name (Cordbank__Envelope__BodyCase body);

//  The status a reply carries: the envelope's own status when it is not
//  OK (a transport-level failure), else the body's `status` field when the
//  body has one, else OK.
Cordbank__Status cb_envelope_status (const Cordbank__Envelope *env);

//  True when env has a deadline and it has passed.
bool cb_envelope_expired (const Cordbank__Envelope *env);

#endif

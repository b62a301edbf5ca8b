/*  envelope — encoding, decoding and validation of the Envelope message,
 *  the process identity stamped on it, and the names of status codes.
 */
#include "common/envelope.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <stdio.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"

static char s_service[64] = "unknown";
static char s_instance[128] = "unknown";

void
cb_identity_set (const char *service, const char *instance)
{
    snprintf (s_service, sizeof s_service, "%s", service);
    snprintf (s_instance, sizeof s_instance, "%s", instance);
}

const char *
cb_identity_service (void)
{
    return s_service;
}

const char *
cb_identity_instance (void)
{
    return s_instance;
}

static const char *const STATUS_NAMES[] = {"INTERNAL",
                                           "OK",
                                           "INSUFFICIENT_FUNDS",
                                           "NOT_FOUND",
                                           "RATE_LIMITED",
                                           "UNAVAILABLE",
                                           "DEADLINE_EXCEEDED",
                                           "INVALID_ARGUMENT",
                                           "PERMISSION_DENIED",
                                           "INTERNAL",
                                           "COOLDOWN",
                                           "DUPLICATE",
                                           "BUSY",
                                           "DRAINING"};
static const char *const STATUS_LABELS[] = {"internal",
                                            "ok",
                                            "insufficient_funds",
                                            "not_found",
                                            "rate_limited",
                                            "unavailable",
                                            "deadline_exceeded",
                                            "invalid_argument",
                                            "permission_denied",
                                            "internal",
                                            "cooldown",
                                            "duplicate",
                                            "busy",
                                            "draining"};
#define STATUS_COUNT (sizeof STATUS_NAMES / sizeof STATUS_NAMES[0])

const char *
cb_status_name (Cordbank__Status status)
{
    return (unsigned) status < STATUS_COUNT ? STATUS_NAMES[status] : "INTERNAL";
}

const char *
cb_status_label (Cordbank__Status status)
{
    return (unsigned) status < STATUS_COUNT ? STATUS_LABELS[status] : "internal";
}

void
cb_trace_id_new (char out[CB_TRACE_ID_LEN + 1])
{
    unsigned char bytes[CB_TRACE_ID_LEN / 2];
    if (sodium_init () < 0) // idempotent; the first call seeds the generator
        abort ();
    randombytes_buf (bytes, sizeof bytes);
    sodium_bin2hex (out, CB_TRACE_ID_LEN + 1, bytes, sizeof bytes);
}

zframe_t *
cb_envelope_encode (Cordbank__Envelope *env)
{
    assert (env);
    Cordbank__Sender sender = CORDBANK__SENDER__INIT;
    if (!env->sender) {
        sender.service = s_service;
        sender.instance = s_instance;
        env->sender = &sender;
    }
    size_t size = cordbank__envelope__get_packed_size (env);
    zframe_t *frame = zframe_new (NULL, size);
    if (frame)
        cordbank__envelope__pack (env, zframe_data (frame));
    if (env->sender == &sender)
        env->sender = NULL;
    return frame;
}

Cordbank__Envelope *
cb_envelope_decode (const uint8_t *data, size_t size)
{
    if (!data || size == 0 || size > CB_MAX_MESSAGE_BYTES)
        return NULL;
    Cordbank__Envelope *env = cordbank__envelope__unpack (NULL, size, data);
    //  No body, no status and no request id: nothing anyone could act on or
    //  answer. (A request id with no body we know is a newer peer's request
    //  type during a rolling update: it is kept, and answered "no handler".)
    if (env && env->body_case == CORDBANK__ENVELOPE__BODY__NOT_SET && env->status == 0 &&
        env->request_id == 0) {
        cordbank__envelope__free_unpacked (env, NULL);
        return NULL;
    }
    return env;
}

void
cb_envelope_free (Cordbank__Envelope **env_p)
{
    assert (env_p);
    if (*env_p) {
        cordbank__envelope__free_unpacked (*env_p, NULL);
        *env_p = NULL;
    }
}

void
cb_envelope_count_bad (const char *where, size_t size)
{
    static cb_log_limiter_t limiter;
    char labels[96];
    cb_metrics_labels (labels, sizeof labels, "socket", where, NULL);
    cb_counter_inc (cb_metrics_counter ("cordbank_bad_messages_total",
                                        "Messages dropped because they did not decode.", labels));
    uint64_t suppressed = 0;
    if (cb_log_limiter_allow (&limiter, &suppressed))
        cb_log_warn (NULL, "dropped a message that does not decode", "{s:s, s:I, s:I}", "socket",
                     where, "bytes", (json_int_t) size, "suppressed", (json_int_t) suppressed);
}

bool
cb_envelope_expired (const Cordbank__Envelope *env)
{
    return env->deadline_unix_ms > 0 && cb_now_ms () > env->deadline_unix_ms;
}

const char *
cb_body_name (Cordbank__Envelope__BodyCase body)
{
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field (&cordbank__envelope__descriptor, (unsigned) body);
    return field ? field->name : "none";
}

//  Reads the body's `status` field through protobuf-c's reflection, so a
//  new reply type needs no change here.
Cordbank__Status
cb_envelope_status (const Cordbank__Envelope *env)
{
    if (env->status != CORDBANK__STATUS__STATUS_OK &&
        env->status != CORDBANK__STATUS__STATUS_UNSPECIFIED)
        return env->status;
    const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field (
        &cordbank__envelope__descriptor, (unsigned) env->body_case);
    if (!field || field->type != PROTOBUF_C_TYPE_MESSAGE)
        return CORDBANK__STATUS__STATUS_OK;
    const ProtobufCMessage *body =
        *(ProtobufCMessage *const *) ((const char *) env + field->offset);
    const ProtobufCFieldDescriptor *status =
        body ? protobuf_c_message_descriptor_get_field_by_name (body->descriptor, "status") : NULL;
    if (!status || status->type != PROTOBUF_C_TYPE_ENUM)
        return CORDBANK__STATUS__STATUS_OK;
    int value = *(const int *) ((const char *) body + status->offset);
    return value == 0 ? CORDBANK__STATUS__STATUS_INTERNAL : (Cordbank__Status) value;
}

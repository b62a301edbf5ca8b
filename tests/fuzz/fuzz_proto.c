/*  fuzz_proto — every protobuf message a cordbank socket may receive.
 *
 *  The first byte picks the message (an index into FUZZ_MESSAGES, modulo
 *  its size); the rest is the wire bytes. Each is unpacked with protobuf-c as
 *  the services do, then:
 *
 *  - walked through protobuf-c's reflection, so that every string,
 *    repeated field and nested message the decoder produced is read
 *    (ASan sees a bad pointer or a missing NUL), and the walk's branches
 *    give libFuzzer coverage the uninstrumented libprotobuf-c cannot;
 *  - packed, unpacked and packed again: what we send must decode, and to
 *    the same bytes (a rolling update runs old and new pods side by side);
 *  - handed to the code that consumes it in the services: the Envelope
 *    through cb_envelope_decode and its helpers, a MetricsSnapshot through
 *    the metrics service's aggregate and RED reading, a CommandReply
 *    through the gateway's JSON response, the ledger's replies through
 *    command's render functions (with the values they get in production).
 *
 *  CommandRequest's own consumers (options, validate) have fuzz_command.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "command.pb-c.h"
#include "common/clock.h"
#include "common/envelope.h"
#include "common/log.h"
#include "ledger.pb-c.h"
#include "metrics.pb-c.h"
#include "services/command/render.h"
#include "services/gateway/discord_json.h"
#include "services/metrics/aggregate.h"
#include "services/metrics/red.h"
#include "tests/fuzz/messages.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  Where the reflection walk's reads go, so that none is optimized away.
static volatile size_t s_sink;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc, (void) argv;
    cb_log_set_level (CB_LOG_ERROR); // a refused snapshot logs a warning per input
    return 0;
}

//  --- reflection ----------------------------------------------------------------

static size_t walk (const ProtobufCMessage *message, int depth);

//  Reads one value of field f at p; returns a number that depends on it.
static size_t
touch (const ProtobufCFieldDescriptor *f, const void *p, int depth)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *text = *(char *const *) p;
        assert (text); // protobuf-c gives "" for an absent string
        return strlen (text);
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *bytes = p;
        return bytes->len ? bytes->data[bytes->len - 1] : 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *) p;
        if (!sub)
            return 0;
        assert (sub->descriptor == f->descriptor);
        return walk (sub, depth + 1);
    }
    case PROTOBUF_C_TYPE_ENUM: {
        int value = *(const int *) p;
        //  proto3 keeps unknown values: a newer peer's enum.
        return protobuf_c_enum_descriptor_get_value (f->descriptor, value) ? 1 : 2;
    }
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *) p ? 1 : 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return (size_t) (*(const uint64_t *) p & 1);
    default:
        return (size_t) (*(const uint32_t *) p & 1);
    }
}

//  The size of one element of a repeated field of f's type.
static size_t
element_size (const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof (void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof (ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof (protobuf_c_boolean);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    default:
        return 4;
    }
}

static size_t
walk (const ProtobufCMessage *message, int depth)
{
    const ProtobufCMessageDescriptor *d = message->descriptor;
    assert (d && d->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC && depth < 64);
    size_t sum = 0;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *member = (const char *) message + f->offset;
        const uint32_t *quantifier =
            (const uint32_t *) ((const char *) message + f->quantifier_offset);
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *) ((const char *) message + f->quantifier_offset);
            const char *array = *(char *const *) member;
            assert (n == 0 || array);
            for (size_t k = 0; k < n; k++)
                sum += touch (f, array + k * element_size (f), depth);
            continue;
        }
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && *quantifier != f->id)
            continue; // another member of the oneof, or none
        sum += touch (f, member, depth);
    }
    return sum;
}

//  True when message or one inside it kept fields this build does not know.
static bool
has_unknown_fields (const ProtobufCMessage *message)
{
    if (message->n_unknown_fields)
        return true;
    const ProtobufCMessageDescriptor *d = message->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *member = (const char *) message + f->offset;
        size_t n = 1;
        ProtobufCMessage *const *subs = (ProtobufCMessage *const *) member;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *) ((const char *) message + f->quantifier_offset);
            subs = *(ProtobufCMessage *const *const *) member;
        }
        for (size_t k = 0; k < n; k++)
            if (subs[k] && has_unknown_fields (subs[k]))
                return true;
    }
    return false;
}

//  pack (m) decodes again, to a message that packs to the same bytes.
//  Exception: libprotobuf-c 1.4.1 keeps an unknown field whose tag is an
//  overlong varint of field number 0 ("80 00"), packs it as tag 0 ("00"),
//  and then refuses that; only a message with unknown fields may fail so.
static void
check_round_trip (const ProtobufCMessage *message)
{
    size_t size = protobuf_c_message_get_packed_size (message);
    uint8_t *first = malloc (size + 1), *second = malloc (size + 1);
    assert (first && second);
    assert (protobuf_c_message_pack (message, first) == size);
    ProtobufCMessage *again = protobuf_c_message_unpack (message->descriptor, NULL, size, first);
    if (!again) {
        assert (has_unknown_fields (message)); // we would send what we cannot read back
        free (first);
        free (second);
        return;
    }
    assert (protobuf_c_message_get_packed_size (again) == size);
    assert (protobuf_c_message_pack (again, second) == size);
    assert (memcmp (first, second, size) == 0);
    protobuf_c_message_free_unpacked (again, NULL);
    free (first);
    free (second);
}

//  --- the services' consumers -------------------------------------------------------

//  The metrics service: on_envelope's aggregate_update, then the render
//  of /metrics and the RED reading its history and alerts make.
static void
consume_snapshot (const char *service, const char *instance,
                  const Cordbank__MetricsSnapshot *snapshot)
{
    aggregate_t *aggregate = aggregate_new (5000, 60000);
    assert (aggregate);
    if (aggregate_update (aggregate, service, instance, snapshot, 1000) >= 0) {
        size_t skipped = 0;
        char *text = aggregate_render (aggregate, 1500, &skipped);
        assert (text);
        free (text);
    }
    red_point_t now = {0}, before = {0}, delta;
    red_extract (snapshot, &now);
    red_sub (&now, &before, &delta);
    (void) red_reset (&now, &before);
    (void) red_quantile (&delta, 0.99);
    aggregate_destroy (&aggregate);
}

//  cmd_pay, cmd_reward and cmd_grant: the amounts they render come from the
//  reply (pay, rewards) or from the validated request (grant: 25 here).
static void
consume_transfer (const Cordbank__TransferReply *reply)
{
    char text[RENDER_TEXT_LEN];
    const int64_t *balance = reply->n_accounts ? &reply->accounts[0]->balance : NULL;
    render_paid (text, sizeof text, 5001, 5002, reply->amount, balance);
    render_insufficient (text, sizeof text, balance, 25);
    render_daily_claimed (text, sizeof text, reply->amount, balance);
    render_work_claimed (text, sizeof text, reply->amount, balance);
    render_daily_cooldown (text, sizeof text, cb_ms_until (reply->retry_at_unix_ms));
    render_work_cooldown (text, sizeof text, cb_ms_until (reply->retry_at_unix_ms));
    render_granted (text, sizeof text, 5001, 5002, -25, balance);
    render_grant_insufficient (text, sizeof text, 5002, balance, -25);
}

static void
consume (const ProtobufCMessage *message)
{
    char text[RENDER_LIST_LEN];
    const ProtobufCMessageDescriptor *d = message->descriptor;
    if (d == &cordbank__command_reply__descriptor) {
        //  The gateway's on_reply: the reply becomes Discord's JSON.
        char *json = gw_json_reply ((const Cordbank__CommandReply *) message);
        free (json);
    } else if (d == &cordbank__transfer_reply__descriptor)
        consume_transfer ((const Cordbank__TransferReply *) message);
    else if (d == &cordbank__history_reply__descriptor) {
        const Cordbank__HistoryReply *r = (const Cordbank__HistoryReply *) message;
        render_history (text, sizeof text, 5001, r->entries, r->n_entries, r->has_more);
        assert (strlen (text) <= RENDER_CONTENT_MAX);
    } else if (d == &cordbank__leaderboard_reply__descriptor) {
        const Cordbank__LeaderboardReply *r = (const Cordbank__LeaderboardReply *) message;
        if (r->n_entries > 0) {
            render_leaderboard (text, sizeof text, 3, r->entries, r->n_entries, r->has_more);
            assert (strlen (text) <= RENDER_CONTENT_MAX);
        }
    } else if (d == &cordbank__balance_get_reply__descriptor)
        render_balance (text, sizeof text, 5001,
                        ((const Cordbank__BalanceGetReply *) message)->balance);
    else if (d == &cordbank__admit_reply__descriptor) {
        const Cordbank__AdmitReply *r = (const Cordbank__AdmitReply *) message;
        render_rate_limited (text, sizeof text, r->guild_limit, r->retry_after_ms);
    } else if (d == &cordbank__metrics_snapshot__descriptor)
        consume_snapshot ("fuzz", "fuzz-0", (const Cordbank__MetricsSnapshot *) message);
}

//  The body of an envelope, by its case (NULL when none is set).
static const ProtobufCMessage *
envelope_body (const Cordbank__Envelope *env)
{
    const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field (
        &cordbank__envelope__descriptor, (unsigned) env->body_case);
    if (!field)
        return NULL;
    assert (field->type == PROTOBUF_C_TYPE_MESSAGE);
    return *(ProtobufCMessage *const *) ((const char *) env + field->offset);
}

//  What every receiving socket does: cb_envelope_decode, then the helpers
//  the client, server and metrics code call on what it returns.
static void
consume_envelope (const uint8_t *data, size_t size)
{
    Cordbank__Envelope *env = cb_envelope_decode (data, size);
    if (!env)
        return;
    assert (env->body_case != CORDBANK__ENVELOPE__BODY__NOT_SET || env->status != 0 ||
            env->request_id != 0);
    Cordbank__Status status = cb_envelope_status (env);
    assert (cb_status_name (status) && cb_status_label (env->status));
    assert (cb_body_name (env->body_case));
    (void) cb_envelope_expired (env);
    const ProtobufCMessage *body = envelope_body (env);
    if (env->body_case == CORDBANK__ENVELOPE__BODY_METRICS_SNAPSHOT && body)
        //  The sender names the instance, as in the metrics service.
        consume_snapshot (env->sender ? env->sender->service : NULL,
                          env->sender ? env->sender->instance : NULL, env->metrics_snapshot);
    else if (body)
        consume (body);
    //  A relayed envelope (the client's resend): encoded, it decodes again.
    zframe_t *frame = cb_envelope_encode (env);
    assert (frame);
    if (zframe_size (frame) <= CB_MAX_MESSAGE_BYTES) {
        Cordbank__Envelope *again = cb_envelope_decode (zframe_data (frame), zframe_size (frame));
        assert (again ? again->body_case == env->body_case : has_unknown_fields (&env->base));
        cb_envelope_free (&again);
    }
    zframe_destroy (&frame);
    cb_envelope_free (&env);
    assert (!env);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const ProtobufCMessageDescriptor *d = FUZZ_MESSAGES[data[0] % FUZZ_MESSAGE_COUNT];
    data++, size--;
    if (d == &cordbank__envelope__descriptor)
        consume_envelope (data, size);
    ProtobufCMessage *message = protobuf_c_message_unpack (d, NULL, size, data);
    if (!message)
        return 0;
    s_sink += walk (message, 0);
    check_round_trip (message);
    if (d != &cordbank__envelope__descriptor)
        consume (message);
    protobuf_c_message_free_unpacked (message, NULL);
    return 0;
}

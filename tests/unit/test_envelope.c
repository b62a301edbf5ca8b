/*  envelope: round trip, validation of what comes off the wire, statuses. */
#include <criterion/criterion.h>

#include "common/clock.h"
#include "common/envelope.h"

Test (envelope, round_trip)
{
    cb_identity_set ("balance", "balance-1");
    Cordbank__TransferRequest transfer = CORDBANK__TRANSFER_REQUEST__INIT;
    transfer.idempotency_key = (char *) "1234";
    transfer.guild_id = 7001;
    transfer.kind = CORDBANK__TRANSFER_KIND__TRANSFER_KIND_PAY;
    transfer.from_user = 5001;
    transfer.to_user = UINT64_MAX;
    transfer.amount = INT64_MAX;
    Cordbank__Envelope env = CORDBANK__ENVELOPE__INIT;
    char trace[CB_TRACE_ID_LEN + 1];
    cb_trace_id_new (trace);
    env.trace_id = trace;
    env.request_id = 42;
    env.deadline_unix_ms = cb_now_ms () + 1000;
    env.attempt = 2;
    env.body_case = CORDBANK__ENVELOPE__BODY_TRANSFER_REQUEST;
    env.transfer_request = &transfer;

    zframe_t *frame = cb_envelope_encode (&env);
    cr_assert_not_null (frame);
    cr_assert_null (env.sender, "encode must not leave a pointer to its stack");
    Cordbank__Envelope *back = cb_envelope_decode (zframe_data (frame), zframe_size (frame));
    zframe_destroy (&frame);
    cr_assert_not_null (back);
    cr_assert_str_eq (back->trace_id, trace);
    cr_assert_eq (back->request_id, 42);
    cr_assert_eq (back->attempt, 2);
    cr_assert_str_eq (back->sender->service, "balance");
    cr_assert_str_eq (back->sender->instance, "balance-1");
    cr_assert_eq (back->body_case, CORDBANK__ENVELOPE__BODY_TRANSFER_REQUEST);
    cr_assert_eq (back->transfer_request->to_user, UINT64_MAX);
    cr_assert_eq (back->transfer_request->amount, INT64_MAX);
    cr_assert_str_eq (back->transfer_request->idempotency_key, "1234");
    cr_assert_not (cb_envelope_expired (back));
    cb_envelope_free (&back);
    cr_assert_null (back);
}

Test (envelope, rejects_garbage_and_empty)
{
    const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    cr_assert_null (cb_envelope_decode (garbage, sizeof garbage));
    cr_assert_null (cb_envelope_decode (garbage, 0));
    //  A well-formed envelope with neither body, status nor request id.
    Cordbank__Envelope env = CORDBANK__ENVELOPE__INIT;
    zframe_t *frame = cb_envelope_encode (&env);
    cr_assert_null (cb_envelope_decode (zframe_data (frame), zframe_size (frame)));
    zframe_destroy (&frame);
}

Test (envelope, unknown_body_from_a_newer_peer_is_kept)
{
    //  Field 99 (length-delimited, empty) stands for a body type added later.
    Cordbank__Envelope env = CORDBANK__ENVELOPE__INIT;
    env.request_id = 7;
    zframe_t *frame = cb_envelope_encode (&env);
    size_t size = zframe_size (frame);
    uint8_t bytes[64];
    cr_assert_lt (size + 3, sizeof bytes);
    memcpy (bytes, zframe_data (frame), size);
    //  Tag (99 << 3 | 2) = 794 as a varint is 0x9a 0x06; then length 0.
    bytes[size] = 0x9a, bytes[size + 1] = 0x06, bytes[size + 2] = 0;
    zframe_destroy (&frame);
    Cordbank__Envelope *back = cb_envelope_decode (bytes, size + 3);
    cr_assert_not_null (back, "kept, so that the server can answer it");
    cr_assert_eq (back->request_id, 7);
    cr_assert_eq (back->body_case, CORDBANK__ENVELOPE__BODY__NOT_SET);
    cb_envelope_free (&back);
}

Test (envelope, deadline)
{
    Cordbank__Envelope env = CORDBANK__ENVELOPE__INIT;
    cr_assert_not (cb_envelope_expired (&env), "no deadline never expires");
    env.deadline_unix_ms = cb_now_ms () - 1;
    cr_assert (cb_envelope_expired (&env));
}

Test (envelope, status_from_body_or_envelope)
{
    Cordbank__TransferReply reply = CORDBANK__TRANSFER_REPLY__INIT;
    reply.status = CORDBANK__STATUS__STATUS_INSUFFICIENT_FUNDS;
    Cordbank__Envelope env = CORDBANK__ENVELOPE__INIT;
    env.body_case = CORDBANK__ENVELOPE__BODY_TRANSFER_REPLY;
    env.transfer_reply = &reply;
    cr_assert_eq (cb_envelope_status (&env), CORDBANK__STATUS__STATUS_INSUFFICIENT_FUNDS);
    reply.status = CORDBANK__STATUS__STATUS_UNSPECIFIED;
    cr_assert_eq (cb_envelope_status (&env), CORDBANK__STATUS__STATUS_INTERNAL,
                  "a body with no status is an internal error");
    env.status = CORDBANK__STATUS__STATUS_UNAVAILABLE;
    cr_assert_eq (cb_envelope_status (&env), CORDBANK__STATUS__STATUS_UNAVAILABLE);
    cr_assert_str_eq (cb_body_name (CORDBANK__ENVELOPE__BODY_TRANSFER_REPLY), "transfer_reply");
}

Test (envelope, status_names)
{
    cr_assert_str_eq (cb_status_name (CORDBANK__STATUS__STATUS_OK), "OK");
    cr_assert_str_eq (cb_status_name (CORDBANK__STATUS__STATUS_DEADLINE_EXCEEDED),
                      "DEADLINE_EXCEEDED");
    cr_assert_str_eq (cb_status_label (CORDBANK__STATUS__STATUS_COOLDOWN), "cooldown");
    cr_assert_str_eq (cb_status_name ((Cordbank__Status) 999), "INTERNAL");
}

Test (envelope, trace_ids_differ)
{
    char a[CB_TRACE_ID_LEN + 1], b[CB_TRACE_ID_LEN + 1];
    cb_trace_id_new (a);
    cb_trace_id_new (b);
    cr_assert_eq (strlen (a), CB_TRACE_ID_LEN);
    cr_assert_str_neq (a, b);
}

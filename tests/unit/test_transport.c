/*  transport: client and server over real ZeroMQ TCP on loopback —
 *  replies, deadlines, retries on another instance for idempotent work
 *  only, no instance reachable, messages that do not decode, and the
 *  client's breaker.
 */
#include <criterion/criterion.h>

#include "common/client.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/server.h"

typedef struct {
    int replies;  // answers given by this server
    int received; // requests seen
    bool silent;  // keep calls unanswered (a hung instance)
    cb_call_t *held;
    bool hoard; // silent, and keep every call, not only the last
    cb_call_t *kept[32];
    int kept_count;
} server_state_t;

typedef struct {
    int calls;
    Cordbank__Status status;
    int64_t balance;
    uint32_t attempt;
} result_t;

static void
on_get (cb_call_t *call, void *arg)
{
    server_state_t *state = arg;
    state->received++;
    if (state->hoard && state->kept_count < 32) {
        state->kept[state->kept_count++] = call;
        return;
    }
    if (state->silent) {
        if (state->held)
            cb_call_fail (&state->held, CORDBANK__STATUS__STATUS_INTERNAL, "replaced");
        state->held = call;
        return;
    }
    Cordbank__BalanceGetReply body = CORDBANK__BALANCE_GET_REPLY__INIT;
    body.status = CORDBANK__STATUS__STATUS_OK;
    body.balance = (int64_t) cb_call_request (call)->balance_get_request->user_id * 10;
    body.version = cb_call_request (call)->attempt;
    Cordbank__Envelope reply = CORDBANK__ENVELOPE__INIT;
    reply.body_case = CORDBANK__ENVELOPE__BODY_BALANCE_GET_REPLY;
    reply.balance_get_reply = &body;
    state->replies++;
    cb_call_reply (&call, &reply);
}

static void
on_reply (const Cordbank__Envelope *reply, Cordbank__Status status, const char *error, void *arg)
{
    (void) error;
    result_t *r = arg;
    r->calls++;
    r->status = reply ? cb_envelope_status (reply) : status;
    if (reply) {
        r->balance = reply->balance_get_reply->balance;
        r->attempt = (uint32_t) reply->balance_get_reply->version;
    }
}

static int
check_done (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id;
    return ((result_t *) arg)->calls > 0 ? -1 : 0;
}

//  Runs the loop until the result arrives (bounded by a timeout).
static void
run_until_answered (zloop_t *loop, result_t *r, int timeout_ms)
{
    int t1 = zloop_timer (loop, 2, 0, check_done, r);
    int64_t end = cb_mono_ms () + timeout_ms;
    while (r->calls == 0 && cb_mono_ms () < end)
        zloop_start (loop);
    zloop_timer_end (loop, t1);
}

//  Runs the loop for ms milliseconds.
static int
stop_loop (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id, (void) arg;
    return -1;
}

static void
run_for (zloop_t *loop, int ms)
{
    zloop_timer (loop, (size_t) ms, 1, stop_loop, NULL);
    zloop_start (loop);
}

static void
get (cb_client_t *client, uint64_t user, int64_t deadline_ms, bool idempotent, result_t *r)
{
    Cordbank__BalanceGetRequest body = CORDBANK__BALANCE_GET_REQUEST__INIT;
    body.guild_id = 1;
    body.user_id = user;
    Cordbank__Envelope req = CORDBANK__ENVELOPE__INIT;
    req.body_case = CORDBANK__ENVELOPE__BODY_BALANCE_GET_REQUEST;
    req.balance_get_request = &body;
    cb_client_call (client, &req, "trace", cb_now_ms () + deadline_ms, idempotent, on_reply, r);
}

//  A server on a port the kernel picks; *port tells which.
static cb_server_t *
serve (zloop_t *loop, int *port, server_state_t *state)
{
    cb_server_t *server = cb_server_new ("tcp://127.0.0.1:*", NULL, loop);
    cr_assert_not_null (server);
    *port = cb_server_port (server);
    cr_assert_gt (*port, 0);
    cb_server_handle (server, CORDBANK__ENVELOPE__BODY_BALANCE_GET_REQUEST, on_get, state);
    return server;
}

//  One server and one client connected to it, on one loop.
typedef struct {
    zloop_t *loop;
    server_state_t state;
    cb_server_t *server;
    cb_client_t *client;
    char spec[64];
} rig_t;

static void
rig_start (rig_t *rig, bool silent)
{
    rig->loop = zloop_new ();
    zloop_set_nonstop (rig->loop, true);
    rig->state = (server_state_t){.silent = silent};
    int port;
    rig->server = serve (rig->loop, &port, &rig->state);
    snprintf (rig->spec, sizeof rig->spec, "tcp://127.0.0.1:%d", port);
    rig->client = cb_client_new ("test", rig->spec, NULL, rig->loop);
}

static void
rig_stop (rig_t *rig)
{
    if (rig->state.held)
        cb_call_fail (&rig->state.held, CORDBANK__STATUS__STATUS_INTERNAL, "late");
    for (int i = 0; i < rig->state.kept_count; i++)
        cb_call_fail (&rig->state.kept[i], CORDBANK__STATUS__STATUS_INTERNAL, "late");
    cb_client_destroy (&rig->client);
    cb_server_destroy (&rig->server);
    zloop_destroy (&rig->loop);
}

Test (transport, reply_arrives)
{
    rig_t rig;
    rig_start (&rig, false);
    result_t r = {0};
    get (rig.client, 7, 2000, true, &r);
    run_until_answered (rig.loop, &r, 3000);
    cr_assert_eq (r.calls, 1);
    cr_assert_eq (r.status, CORDBANK__STATUS__STATUS_OK);
    cr_assert_eq (r.balance, 70);
    cr_assert_eq (cb_client_pending (rig.client), 0);
    rig_stop (&rig);
}

Test (transport, idempotent_retry_goes_to_the_other_instance)
{
    zloop_t *loop = zloop_new ();
    zloop_set_nonstop (loop, true);
    int p1, p2;
    //  The hung instance keeps every call unanswered (no "replaced" replies).
    server_state_t hung = {.hoard = true}, good = {0};
    cb_server_t *s1 = serve (loop, &p1, &hung), *s2 = serve (loop, &p2, &good);
    char spec[96];
    snprintf (spec, sizeof spec, "tcp://127.0.0.1:%d,tcp://127.0.0.1:%d", p1, p2);
    cb_client_t *client = cb_client_new ("test", spec, NULL, loop);
    cb_client_set_attempts (client, 100, 3);
    //  Let both connections finish their handshakes so round-robin sees both.
    for (int i = 0; i < 300 && cb_client_peers (client) < 2; i++)
        run_for (loop, 10);
    cr_assert_eq (cb_client_peers (client), 2);
    int answered_by_good = 0;
    for (int i = 0; i < 4; i++) {
        result_t r = {0};
        get (client, 5, 3000, true, &r);
        run_until_answered (loop, &r, 4000);
        cr_assert_eq (r.status, CORDBANK__STATUS__STATUS_OK, "call %d: %d", i, r.status);
        answered_by_good++;
    }
    cr_assert_eq (answered_by_good, 4);
    cr_assert_geq (hung.received, 1, "some attempts went to the hung instance first");
    for (int i = 0; i < hung.kept_count; i++)
        cb_call_fail (&hung.kept[i], CORDBANK__STATUS__STATUS_INTERNAL, "late");
    cb_client_destroy (&client);
    cb_server_destroy (&s1);
    cb_server_destroy (&s2);
    zloop_destroy (&loop);
}

Test (transport, non_idempotent_is_not_retried)
{
    rig_t rig;
    rig_start (&rig, true);
    cb_client_set_attempts (rig.client, 50, 3);
    result_t r = {0};
    get (rig.client, 5, 400, false, &r);
    run_until_answered (rig.loop, &r, 2000);
    cr_assert_eq (r.status, CORDBANK__STATUS__STATUS_DEADLINE_EXCEEDED);
    cr_assert_eq (rig.state.received, 1, "sent once, never again: %d", rig.state.received);
    rig_stop (&rig);
}

Test (transport, nobody_listening_is_unavailable)
{
    zloop_t *loop = zloop_new ();
    zloop_set_nonstop (loop, true);
    //  Port 1 is privileged and unused on a test machine: nothing answers.
    cb_client_t *client = cb_client_new ("test", "tcp://127.0.0.1:1", NULL, loop);
    result_t r = {0};
    get (client, 5, 300, false, &r);
    run_until_answered (loop, &r, 2000);
    cr_assert_eq (r.status, CORDBANK__STATUS__STATUS_UNAVAILABLE);
    cb_client_destroy (&client);
    zloop_destroy (&loop);
}

Test (transport, expired_request_is_refused_and_garbage_dropped)
{
    rig_t rig;
    rig_start (&rig, false);
    //  Garbage first: dropped and counted, the server keeps serving.
    zsock_t *raw = zsock_new_dealer (rig.spec);
    zstr_send (raw, "this is not an envelope");
    result_t ok = {0};
    get (rig.client, 5, 2000, true, &ok);
    run_until_answered (rig.loop, &ok, 3000);
    cr_assert_eq (ok.status, CORDBANK__STATUS__STATUS_OK, "the server still serves");
    cr_assert_eq (rig.state.received, 1);
    result_t r = {0};
    get (rig.client, 5, -1, true, &r); // deadline already passed
    run_until_answered (rig.loop, &r, 2000);
    cr_assert_eq (r.status, CORDBANK__STATUS__STATUS_DEADLINE_EXCEEDED);
    cr_assert_eq (rig.state.received, 1, "expired work never reaches the handler");
    cr_assert_geq (cb_metric_value (cb_metrics_counter ("cordbank_rpc_server_shed_total", "",
                                                        "reason=\"expired\"")),
                   1, "and is counted as shed");
    cr_assert_geq (cb_metric_value (
                       cb_metrics_counter ("cordbank_bad_messages_total", "", "socket=\"router\"")),
                   1);
    zsock_destroy (&raw);
    rig_stop (&rig);
}

Test (transport, request_without_handler_is_answered_not_dropped)
{
    rig_t rig;
    rig_start (&rig, false);
    Cordbank__TransferRequest body = CORDBANK__TRANSFER_REQUEST__INIT;
    Cordbank__Envelope req = CORDBANK__ENVELOPE__INIT;
    req.body_case = CORDBANK__ENVELOPE__BODY_TRANSFER_REQUEST;
    req.transfer_request = &body;
    result_t r = {0};
    cb_client_call (rig.client, &req, "trace", cb_now_ms () + 2000, true, on_reply, &r);
    run_until_answered (rig.loop, &r, 3000);
    cr_assert_eq (r.status, CORDBANK__STATUS__STATUS_INVALID_ARGUMENT);
    cr_assert_eq (rig.state.received, 0);
    rig_stop (&rig);
}

Test (transport, breaker_opens_on_unanswered_requests_and_a_probe_closes_it)
{
    rig_t rig;
    rig_start (&rig, false);
    rig.state.hoard = true;
    cb_client_set_attempts (rig.client, 1000, 1);
    //  Ten requests in a row that no instance answers open the breaker.
    for (int i = 0; i < 10; i++) {
        result_t r = {0};
        get (rig.client, 5, 60, true, &r);
        run_until_answered (rig.loop, &r, 2000);
        cr_assert_eq (r.status, CORDBANK__STATUS__STATUS_DEADLINE_EXCEEDED, "call %d: %d", i,
                      r.status);
    }
    cr_assert_eq (rig.state.received, 10);
    cr_assert_eq (
        cb_metric_value (cb_metrics_gauge ("cordbank_breaker_state", "", "target=\"test\"")), 1,
        "open");
    //  Open: the next call fails at once, and never reaches the instance.
    result_t fast = {0};
    get (rig.client, 5, 2000, true, &fast);
    cr_assert_eq (fast.calls, 1, "answered before cb_client_call returned");
    cr_assert_eq (fast.status, CORDBANK__STATUS__STATUS_UNAVAILABLE);
    run_for (rig.loop, 20);
    cr_assert_eq (rig.state.received, 10);
    //  After the cool-down (at most 200 ms) one probe goes; its answer closes it.
    rig.state.hoard = false;
    run_for (rig.loop, 250);
    result_t probe = {0};
    get (rig.client, 7, 2000, true, &probe);
    run_until_answered (rig.loop, &probe, 3000);
    cr_assert_eq (probe.status, CORDBANK__STATUS__STATUS_OK);
    cr_assert_eq (probe.balance, 70);
    cr_assert_eq (
        cb_metric_value (cb_metrics_gauge ("cordbank_breaker_state", "", "target=\"test\"")), 0,
        "closed");
    result_t after = {0};
    get (rig.client, 8, 2000, true, &after);
    run_until_answered (rig.loop, &after, 3000);
    cr_assert_eq (after.status, CORDBANK__STATUS__STATUS_OK);
    rig_stop (&rig);
}

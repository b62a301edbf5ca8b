/*  gateway_proto (gateway service): Gateway payloads built and parsed, the
 *  close-code policy and the send window. Needs
 *  services/gateway/gateway_proto.o linked into the runner (pure: jansson).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "services/gateway/gateway_proto.h"

static json_t *
load (char *text)
{
    cr_assert_not_null (text);
    json_t *root = json_loads (text, 0, NULL);
    cr_assert_not_null (root, "not JSON: %s", text);
    free (text);
    return root;
}

Test (gateway_proto, identify_payload)
{
    json_t *root = load (gw_identify_json ("tok\"en", 513, 3, 8));
    json_t *expect = json_loads ("{\"op\":2,\"d\":{\"token\":\"tok\\\"en\",\"intents\":513,"
                                 "\"properties\":{\"os\":\"linux\",\"browser\":\"cordbank\","
                                 "\"device\":\"cordbank\"},\"shard\":[3,8],\"compress\":false}}",
                                 0, NULL);
    cr_assert (json_equal (root, expect), "identify: %s", json_dumps (root, JSON_COMPACT));
    json_decref (root);
    json_decref (expect);
}

Test (gateway_proto, resume_and_heartbeat_payloads)
{
    json_t *root = load (gw_resume_json ("tok", "sess-1", 42));
    json_t *expect = json_loads (
        "{\"op\":6,\"d\":{\"token\":\"tok\",\"session_id\":\"sess-1\",\"seq\":42}}", 0, NULL);
    cr_assert (json_equal (root, expect));
    json_decref (root);
    json_decref (expect);
    root = load (gw_resume_json ("tok", "sess-1", -1));
    cr_assert (json_is_null (json_object_get (json_object_get (root, "d"), "seq")));
    json_decref (root);
    char *text = gw_heartbeat_json (-1);
    cr_assert_str_eq (text, "{\"op\":1,\"d\":null}");
    free (text);
    text = gw_heartbeat_json (1234567890123);
    cr_assert_str_eq (text, "{\"op\":1,\"d\":1234567890123}");
    free (text);
}

Test (gateway_proto, connect_url)
{
    char *url = gw_connect_url ("wss://gateway.discord.gg/");
    cr_assert_str_eq (url, "wss://gateway.discord.gg/?v=10&encoding=json&compress=zlib-stream");
    free (url);
    url = gw_connect_url ("ws://127.0.0.1:9000/resume");
    cr_assert_str_eq (url, "ws://127.0.0.1:9000/resume?v=10&encoding=json&compress=zlib-stream");
    free (url);
    url = gw_connect_url ("wss://gateway-us-east1-b.discord.gg");
    cr_assert_str_eq (
        url, "wss://gateway-us-east1-b.discord.gg/?v=10&encoding=json&compress=zlib-stream");
    free (url);
}

//  A READY's resume_gateway_url of "wss://" (found by tests/fuzz): the
//  trailing slashes go, and the host must not be looked for past the end
//  (it was: memchr over a length that wrapped around, an overread).
Test (gateway_proto, connect_url_without_host)
{
    const char *bases[] = {"wss://", "ws:///", "://", "/"};
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        char *base = strdup (bases[i]); // its own size, so ASan sees an overread
        char *url = gw_connect_url (base);
        cr_assert_not_null (url);
        cr_assert (strstr (url, "?v=10&encoding=json&compress=zlib-stream"), "%s", url);
        free (url);
        free (base);
    }
}

Test (gateway_proto, gateway_bot_parsed)
{
    const char *ok = "{\"url\":\"wss://gateway.discord.gg\",\"shards\":9,\"session_start_limit\":"
                     "{\"total\":1000,\"remaining\":999,\"reset_after\":14400000,"
                     "\"max_concurrency\":16}}";
    gw_gateway_bot_t bot;
    char err[128];
    cr_assert_eq (gw_gateway_bot_parse (ok, strlen (ok), &bot, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq (bot.url, "wss://gateway.discord.gg");
    cr_assert_eq (bot.shards, 9);
    cr_assert_eq (bot.total, 1000);
    cr_assert_eq (bot.remaining, 999);
    cr_assert_eq (bot.reset_after_ms, 14400000);
    cr_assert_eq (bot.max_concurrency, 16);
    const char *bad[][2] = {
        {"{\"message\":\"401: Unauthorized\",\"code\":0}", "/gateway/bot has no ws://"},
        {"{\"url\":\"http://x\",\"shards\":1}", "/gateway/bot has no ws://"},
        {"{\"url\":\"ws://x\",\"shards\":0}", "/gateway/bot \"shards\" must be"},
        {"{\"url\":\"ws://x\",\"shards\":1}", "/gateway/bot has no valid"},
        {"{\"url\":\"ws://x\",\"shards\":1,\"session_start_limit\":{\"total\":1,"
         "\"remaining\":1,\"reset_after\":0,\"max_concurrency\":0}}",
         "/gateway/bot has no valid"},
        {"[]", "/gateway/bot answer is not"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq (gw_gateway_bot_parse (bad[i][0], strlen (bad[i][0]), &bot, err, sizeof err),
                      -1, "accepted %s", bad[i][0]);
        cr_assert (strncmp (err, bad[i][1], strlen (bad[i][1])) == 0, "%s: %s", bad[i][0], err);
    }
}

Test (gateway_proto, ordinal_from_pod_name)
{
    cr_assert_eq (gw_ordinal_from_name ("cordbank-gateway-0"), 0);
    cr_assert_eq (gw_ordinal_from_name ("cordbank-gateway-12"), 12);
    cr_assert_eq (gw_ordinal_from_name ("laptop"), -1);
    cr_assert_eq (gw_ordinal_from_name ("web-7f9c"), -1);
    cr_assert_eq (gw_ordinal_from_name ("trailing-"), -1);
    cr_assert_eq (gw_ordinal_from_name (NULL), -1);
}

static void
parse_ok (const char *text, gw_payload_t *out)
{
    char err[128];
    cr_assert_eq (gw_payload_parse (text, strlen (text), out, err, sizeof err), 0, "%s: %s", text,
                  err);
}

Test (gateway_proto, hello_ready_dispatch_parsed)
{
    gw_payload_t p;
    parse_ok ("{\"op\":10,\"s\":null,\"t\":null,\"d\":{\"heartbeat_interval\":41250}}", &p);
    cr_assert_eq (p.op, GW_OP_HELLO);
    cr_assert_eq (p.s, -1);
    cr_assert_str_eq (p.t, "");
    cr_assert_eq (gw_hello_interval (&p), 41250);
    gw_payload_clear (&p);

    parse_ok ("{\"op\":0,\"s\":7,\"t\":\"READY\",\"d\":{\"v\":10,\"session_id\":\"s1\","
              "\"resume_gateway_url\":\"wss://r.example\",\"shard\":[0,1]}}",
              &p);
    cr_assert_eq (p.op, GW_OP_DISPATCH);
    cr_assert_eq (p.s, 7);
    cr_assert_str_eq (p.t, "READY");
    char session[64], url[256];
    cr_assert_eq (gw_ready_session (&p, session, sizeof session, url, sizeof url), 0);
    cr_assert_str_eq (session, "s1");
    cr_assert_str_eq (url, "wss://r.example");
    gw_payload_clear (&p);

    parse_ok ("{\"op\":0,\"s\":8,\"t\":\"READY\",\"d\":{\"user\":{}}}", &p);
    cr_assert_eq (gw_ready_session (&p, session, sizeof session, url, sizeof url), -1);
    gw_payload_clear (&p);

    parse_ok ("{\"op\":9,\"d\":true}", &p);
    cr_assert (gw_invalid_session_resumable (&p));
    gw_payload_clear (&p);
    parse_ok ("{\"op\":9,\"d\":false}", &p);
    cr_assert_not (gw_invalid_session_resumable (&p));
    gw_payload_clear (&p);
    parse_ok ("{\"op\":11}", &p);
    cr_assert_eq (p.op, GW_OP_HEARTBEAT_ACK);
    cr_assert_null (p.d);
    gw_payload_clear (&p);
}

Test (gateway_proto, malformed_payloads_refused)
{
    const char *bad[][2] = {
        {"{\"op\":", "invalid JSON"},
        {"[1,2]", "payload has no integer \"op\""},
        {"{\"op\":\"10\"}", "payload has no integer \"op\""},
        {"{\"op\":0,\"s\":-3,\"t\":\"X\"}", "\"s\" must be null or a sequence number"},
        {"{\"op\":0,\"s\":1,\"t\":5}", "\"t\" must be null or a string"},
        {"{\"op\":0,\"s\":1,\"t\":"
         "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
         "\"t\" is too long"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gw_payload_t p;
        char err[128] = "";
        cr_assert_eq (gw_payload_parse (bad[i][0], strlen (bad[i][0]), &p, err, sizeof err), -1,
                      "accepted %s", bad[i][0]);
        cr_assert (strncmp (err, bad[i][1], strlen (bad[i][1])) == 0, "%s: %s", bad[i][0], err);
        cr_assert_null (p.d);
    }
    gw_payload_t p;
    parse_ok ("{\"op\":10,\"d\":{\"heartbeat_interval\":0}}", &p);
    cr_assert_eq (gw_hello_interval (&p), -1);
    gw_payload_clear (&p);
    parse_ok ("{\"op\":10,\"d\":null}", &p);
    cr_assert_eq (gw_hello_interval (&p), -1);
    gw_payload_clear (&p);
}

Test (gateway_proto, close_code_policy)
{
    const int fatal[] = {4004, 4010, 4011, 4012, 4013, 4014};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        cr_assert_eq (gw_close_action (fatal[i]), GW_CLOSE_FATAL, "%d", fatal[i]);
    const int fresh[] = {4003, 4007, 4009};
    for (size_t i = 0; i < sizeof fresh / sizeof fresh[0]; i++)
        cr_assert_eq (gw_close_action (fresh[i]), GW_CLOSE_REIDENTIFY, "%d", fresh[i]);
    const int resume[] = {4000, 4001, 4002, 4005, 4008, 1000, 1001, 1006, 0};
    for (size_t i = 0; i < sizeof resume / sizeof resume[0]; i++)
        cr_assert_eq (gw_close_action (resume[i]), GW_CLOSE_RESUME, "%d", resume[i]);
    cr_assert_str_eq (gw_close_name (4004), "authentication_failed");
    cr_assert_str_eq (gw_close_name (4014), "disallowed_intents");
    cr_assert_str_eq (gw_close_name (4006), "unknown");
}

Test (gateway_proto, send_window_keeps_headroom_for_heartbeats)
{
    gw_send_window_t w;
    gw_send_window_init (&w);
    int64_t t = 1000000;
    int sent = 0;
    while (gw_send_window_take (&w, t + sent, false))
        sent++;
    cr_assert_eq (sent, GW_SEND_LIMIT - GW_SEND_HEADROOM);
    //  The first event leaves the window 60 s after it was sent.
    cr_assert_eq (gw_send_window_wait_ms (&w, t + sent), GW_SEND_WINDOW_MS - sent);
    int beats = 0;
    while (gw_send_window_take (&w, t + sent, true))
        beats++;
    cr_assert_eq (beats, GW_SEND_HEADROOM);
    cr_assert_not (gw_send_window_take (&w, t + GW_SEND_WINDOW_MS - 1, true));
    //  60 s after the first send, one slot frees (for a heartbeat only:
    //  the others still fill more than the non-heartbeat share).
    cr_assert (gw_send_window_take (&w, t + GW_SEND_WINDOW_MS, true));
    cr_assert_not (gw_send_window_take (&w, t + GW_SEND_WINDOW_MS, false));
    //  Once everything is older than the window, all of it is free again.
    int64_t later = t + 3 * GW_SEND_WINDOW_MS;
    cr_assert_eq (gw_send_window_wait_ms (&w, later), 0);
    sent = 0;
    while (gw_send_window_take (&w, later, false))
        sent++;
    cr_assert_eq (sent, GW_SEND_LIMIT - GW_SEND_HEADROOM);
}

Test (gateway_proto, identify_gate_spaces_buckets)
{
    gw_identify_gate_t g;
    int64_t t = 1000000;
    cr_assert_eq (gw_identify_gate_init (&g, 16, t), 0);
    gw_identify_gate_budget (&g, 1000, 86400000, t);
    gw_gate_reason_t why;
    //  Shards 0..15 are 16 buckets: all may go at once.
    for (int shard = 0; shard < 16; shard++) {
        cr_assert_eq (gw_identify_gate_wait (&g, shard, t, &why), 0, "shard %d", shard);
        cr_assert_eq (why, GW_GATE_OPEN);
        gw_identify_gate_take (&g, shard, t);
    }
    //  Shard 16 shares shard 0's bucket: it waits the spacing out.
    cr_assert_eq (gw_identify_gate_wait (&g, 16, t + 1000, &why), GW_IDENTIFY_SPACING_MS - 1000);
    cr_assert_eq (why, GW_GATE_BUCKET);
    cr_assert_eq (gw_identify_gate_wait (&g, 16, t + GW_IDENTIFY_SPACING_MS, &why), 0);
    cr_assert_eq (g.remaining, 1000 - 16);
    gw_identify_gate_clear (&g);
    cr_assert_eq (gw_identify_gate_init (&g, 0, t), -1);
}

Test (gateway_proto, identify_gate_respects_the_daily_budget)
{
    gw_identify_gate_t g;
    int64_t t = 5000000;
    cr_assert_eq (gw_identify_gate_init (&g, 1, t), 0);
    gw_identify_gate_budget (&g, 1, 3600000, t);
    gw_gate_reason_t why;
    cr_assert_eq (gw_identify_gate_wait (&g, 0, t, &why), 0);
    gw_identify_gate_take (&g, 0, t);
    //  Spent: the wait is until the reset, whatever the bucket says.
    cr_assert_eq (gw_identify_gate_wait (&g, 0, t + 10000, &why), 3600000 - 10000);
    cr_assert_eq (why, GW_GATE_BUDGET);
    //  Past the reset and not refilled yet: look again after the spacing.
    cr_assert_eq (gw_identify_gate_wait (&g, 0, t + 3600001, &why), GW_IDENTIFY_SPACING_MS);
    cr_assert_eq (why, GW_GATE_BUDGET);
    //  /gateway/bot says it refilled.
    gw_identify_gate_budget (&g, 1000, 86400000, t + 3600001);
    cr_assert_eq (gw_identify_gate_wait (&g, 0, t + 3600001, &why), 0);
    cr_assert_eq (why, GW_GATE_OPEN);
    gw_identify_gate_clear (&g);
}

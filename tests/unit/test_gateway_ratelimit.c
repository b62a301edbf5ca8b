/*  gateway_ratelimit (gateway service): routes and their major parameter,
 *  rate-limit headers, and the per-pod limiter's buckets and global window.
 *  Needs services/gateway/ratelimit.o linked into the runner (pure: czmq
 *  hash tables and jansson only). Times are given, never read. Calls that
 *  change the limiter are made outside the assertion macros, which may
 *  evaluate their arguments more than once.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "services/gateway/ratelimit.h"

Test (gateway_ratelimit, route_keeps_the_major_parameter)
{
    gw_route_t r;
    cr_assert_eq (gw_route_of ("POST", "/channels/123/messages/456", &r), 0);
    cr_assert_str_eq (r.route, "POST /channels/:id/messages/:id");
    cr_assert_str_eq (r.major, "channels/123");
    cr_assert_not (r.global_exempt);

    cr_assert_eq (gw_route_of ("PUT", "/applications/11/guilds/22/commands", &r), 0);
    cr_assert_str_eq (r.route, "PUT /applications/:id/guilds/:id/commands");
    cr_assert_str_eq (r.major, "guilds/22");

    cr_assert_eq (gw_route_of ("GET", "/gateway/bot?x=1", &r), 0);
    cr_assert_str_eq (r.route, "GET /gateway/bot");
    cr_assert_str_eq (r.major, "");
}

Test (gateway_ratelimit, tokens_are_hashed_never_kept)
{
    gw_route_t a, b;
    cr_assert_eq (gw_route_of ("PATCH", "/webhooks/77/secret-one/messages/@original", &a), 0);
    cr_assert_eq (gw_route_of ("PATCH", "/webhooks/77/secret-two/messages/@original", &b), 0);
    cr_assert_str_eq (a.route, "PATCH /webhooks/:id/:token/messages/@original");
    cr_assert_eq (strncmp (a.major, "webhooks/77/", 12), 0);
    cr_assert_eq (strlen (a.major), 12 + 16, "id and a 16-digit hash: %s", a.major);
    cr_assert_str_neq (a.major, b.major, "each interaction token is its own bucket");
    cr_assert_null (strstr (a.major, "secret"));
    cr_assert_null (strstr (a.route, "secret"));
}

Test (gateway_ratelimit, interaction_callbacks_are_exempt_and_per_interaction)
{
    gw_route_t a, b, c;
    cr_assert_eq (gw_route_of ("POST", "/interactions/900/tokA/callback", &a), 0);
    cr_assert_eq (gw_route_of ("POST", "/interactions/901/tokB/callback", &b), 0);
    cr_assert_eq (gw_route_of ("POST", "/webhooks/5/tokA", &c), 0);
    cr_assert_str_eq (a.route, "POST /interactions/:id/:token/callback");
    cr_assert (a.global_exempt && b.global_exempt);
    cr_assert_not (c.global_exempt, "followups count against the global limit");
    cr_assert_str_neq (a.major, b.major);
    cr_assert_eq (gw_route_of ("POST", "no-slash", &a), -1);
}

Test (gateway_ratelimit, headers_are_read_case_insensitively)
{
    gw_rl_headers_t h;
    gw_rl_headers_init (&h);
    const char *lines[] = {"X-RateLimit-Bucket: abcd1234\r\n",
                           "x-ratelimit-limit: 5\r\n",
                           "X-RateLimit-Remaining: 0\r\n",
                           "X-RateLimit-Reset-After: 1.2345\r\n",
                           "Retry-After: 2\r\n",
                           "X-RateLimit-Scope: shared\r\n",
                           "Content-Type: application/json\r\n"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        gw_rl_headers_line (&h, lines[i], strlen (lines[i]));
    cr_assert_str_eq (h.bucket, "abcd1234");
    cr_assert_eq (h.limit, 5);
    cr_assert_eq (h.remaining, 0);
    cr_assert_eq (h.reset_after_ms, 1235, "rounded up: %lld", (long long) h.reset_after_ms);
    cr_assert_eq (h.retry_after_ms, 2000);
    cr_assert_str_eq (gw_rl_scope (&h), "shared");
    cr_assert_not (h.global);
}

Test (gateway_ratelimit, body_retry_after_and_global)
{
    gw_rl_headers_t h;
    gw_rl_headers_init (&h);
    cr_assert_str_eq (gw_rl_scope (&h), "user");
    const char body[] = "{\"message\":\"You are being rate limited.\",\"retry_after\":0.25,"
                        "\"global\":true}";
    gw_rl_headers_body (&h, body, strlen (body));
    cr_assert_eq (h.retry_after_ms, 250);
    cr_assert (h.global);
    cr_assert_str_eq (gw_rl_scope (&h), "global");
    gw_rl_headers_body (&h, "not json", 8);
    cr_assert_eq (h.retry_after_ms, 250, "garbage changes nothing");
}

//  Headers as a response would carry them.
static gw_rl_headers_t
said (int64_t remaining, int64_t reset_after_ms)
{
    gw_rl_headers_t h;
    gw_rl_headers_init (&h);
    h.limit = 5;
    h.remaining = remaining;
    h.reset_after_ms = reset_after_ms;
    return h;
}

Test (gateway_ratelimit, unknown_bucket_lets_one_probe_through)
{
    int64_t w;
    gw_ratelimit_t *rl = gw_ratelimit_new (50, 50);
    gw_route_t r;
    gw_route_of ("POST", "/channels/1/messages", &r);
    gw_rl_ticket_t k1, k2;
    w = gw_ratelimit_acquire (rl, &r, 1000, &k1);
    cr_assert_eq (w, 0, "the probe");
    cr_assert (k1.probe);
    w = gw_ratelimit_acquire (rl, &r, 1001, &k2);
    cr_assert_gt (w, 0, "the rest wait for what it learns");
    gw_rl_headers_t h = said (4, 1000);
    gw_ratelimit_release (rl, &k1, &h, 200, 1010);
    for (int i = 0; i < 4; i++) {
        w = gw_ratelimit_acquire (rl, &r, 1020, &k2);
        cr_assert_eq (w, 0, "request %d of 4 left", i);
    }
    int64_t wait = gw_ratelimit_acquire (rl, &r, 1020, &k2);
    cr_assert_eq (wait, 990, "until the reset: %lld", (long long) wait);
    w = gw_ratelimit_acquire (rl, &r, 2010, &k2);
    cr_assert_eq (w, 0, "after it, a new probe");
    gw_ratelimit_destroy (&rl);
    cr_assert_null (rl);
}

Test (gateway_ratelimit, later_responses_only_lower_what_is_left)
{
    int64_t w;
    gw_ratelimit_t *rl = gw_ratelimit_new (50, 50);
    gw_route_t r;
    gw_route_of ("PATCH", "/channels/2/messages/3", &r);
    gw_rl_ticket_t k;
    gw_ratelimit_acquire (rl, &r, 0, &k);
    gw_rl_headers_t h = said (4, 1000);
    gw_ratelimit_release (rl, &k, &h, 200, 10);
    gw_ratelimit_acquire (rl, &r, 20, &k);
    gw_ratelimit_acquire (rl, &r, 20, &k); // 2 left here
    h = said (3, 990);                     // the first one's answer: the second is not counted yet
    gw_ratelimit_release (rl, &k, &h, 200, 30);
    w = gw_ratelimit_acquire (rl, &r, 40, &k);
    cr_assert_eq (w, 0);
    w = gw_ratelimit_acquire (rl, &r, 40, &k);
    cr_assert_eq (w, 0);
    w = gw_ratelimit_acquire (rl, &r, 40, &k);
    cr_assert_gt (w, 0, "2 were left, not 3");
    gw_ratelimit_destroy (&rl);
}

Test (gateway_ratelimit, a_bucket_429_waits_for_retry_after)
{
    int64_t w;
    gw_ratelimit_t *rl = gw_ratelimit_new (50, 50);
    gw_route_t r;
    gw_route_of ("POST", "/channels/4/messages", &r);
    gw_rl_ticket_t k;
    gw_ratelimit_acquire (rl, &r, 0, &k);
    gw_rl_headers_t h = said (0, 100);
    h.retry_after_ms = 3000;
    gw_ratelimit_release (rl, &k, &h, 429, 10);
    w = gw_ratelimit_acquire (rl, &r, 20, &k);
    cr_assert_eq (w, 2990);
    gw_ratelimit_destroy (&rl);
}

Test (gateway_ratelimit, global_window_caps_requests_not_exempt_ones)
{
    int64_t w;
    gw_ratelimit_t *rl = gw_ratelimit_new (3, 3);
    gw_rl_ticket_t t[3], k;
    for (int i = 0; i < 3; i++) {
        gw_route_t r;
        char path[64];
        snprintf (path, sizeof path, "/channels/%d/messages", i);
        gw_route_of ("POST", path, &r);
        w = gw_ratelimit_acquire (rl, &r, 100 + i, &t[i]);
        cr_assert_eq (w, 0);
        cr_assert (t[i].global);
    }
    gw_route_t other, cb;
    gw_route_of ("POST", "/channels/99/messages", &other);
    gw_route_of ("POST", "/interactions/1/t/callback", &cb);
    w = gw_ratelimit_acquire (rl, &other, 200, &k);
    cr_assert_gt (w, 0, "all three places are in flight");
    for (int i = 0; i < 3; i++)
        gw_ratelimit_release (rl, &t[i], NULL, 200, 100 + i);
    w = gw_ratelimit_acquire (rl, &other, 500, &k);
    cr_assert_eq (w, 100 + GW_GLOBAL_WINDOW_MS - 500);
    w = gw_ratelimit_acquire (rl, &cb, 500, &k);
    cr_assert_eq (w, 0, "callbacks are exempt");
    cr_assert_not (k.global);
    gw_ratelimit_release (rl, &k, NULL, 204, 501);
    w = gw_ratelimit_acquire (rl, &other, 100 + GW_GLOBAL_WINDOW_MS, &k);
    cr_assert_eq (w, 0);
    gw_ratelimit_block_global (rl, 5000);
    w = gw_ratelimit_acquire (rl, &other, 4000, &k);
    cr_assert_eq (w, 1000, "a global 429 blocks");
    w = gw_ratelimit_acquire (rl, &cb, 4000, &k);
    cr_assert_eq (w, 0);
    gw_ratelimit_destroy (&rl);
}

Test (gateway_ratelimit, a_place_counts_from_the_answer)
{
    int64_t w;
    gw_ratelimit_t *rl = gw_ratelimit_new (1, 1);
    gw_route_t a, b;
    gw_route_of ("GET", "/users/@me", &a);
    gw_route_of ("GET", "/gateway/bot", &b);
    gw_rl_ticket_t ta, tb;
    w = gw_ratelimit_acquire (rl, &a, 0, &ta);
    cr_assert_eq (w, 0);
    gw_ratelimit_release (rl, &ta, NULL, 200, 900); // it may have reached Discord at 899
    w = gw_ratelimit_acquire (rl, &b, GW_GLOBAL_WINDOW_MS, &tb);
    cr_assert_eq (w, 900, "not when it left: when it was answered");
    w = gw_ratelimit_acquire (rl, &b, 900 + GW_GLOBAL_WINDOW_MS, &tb);
    cr_assert_eq (w, 0);
    gw_ratelimit_destroy (&rl);
}

Test (gateway_ratelimit, alone_a_pod_uses_its_share_counting_what_it_sent_shared)
{
    int64_t w;
    gw_ratelimit_t *rl = gw_ratelimit_new (4, 2);
    gw_route_t r;
    gw_route_of ("GET", "/users/@me", &r);
    gw_rl_ticket_t t[3], k;
    for (int i = 0; i < 3; i++)
        gw_ratelimit_record (rl, &r, &t[i]); // sent under Redis's limits
    for (int i = 0; i < 3; i++)
        gw_ratelimit_release (rl, &t[i], NULL, 200, 10);
    gw_route_t other;
    gw_route_of ("GET", "/gateway/bot", &other);
    w = gw_ratelimit_acquire (rl, &other, 20, &k);
    cr_assert_eq (w, 10 + GW_GLOBAL_WINDOW_MS - 20, "Redis went away: what was sent still counts");
    w = gw_ratelimit_acquire (rl, &other, 10 + GW_GLOBAL_WINDOW_MS, &k);
    cr_assert_eq (w, 0);
    gw_ratelimit_release (rl, &k, NULL, 200, 10 + GW_GLOBAL_WINDOW_MS);
    gw_ratelimit_destroy (&rl);
}

Test (gateway_ratelimit, routes_learn_their_shared_bucket)
{
    gw_ratelimit_t *rl = gw_ratelimit_new (50, 50);
    gw_route_t a, b;
    gw_route_of ("POST", "/channels/7/messages", &a);
    gw_route_of ("PATCH", "/channels/7/messages/1", &b);
    char ka[GW_RL_KEY_MAX], kb[GW_RL_KEY_MAX];
    gw_ratelimit_learn_bucket (rl, &a, "shared1");
    gw_ratelimit_learn_bucket (rl, &b, "shared1");
    gw_ratelimit_key (rl, &a, ka);
    gw_ratelimit_key (rl, &b, kb);
    cr_assert_str_eq (ka, kb);
    cr_assert_str_eq (ka, "shared1|channels/7");
    gw_ratelimit_destroy (&rl);
}

Test (gateway_ratelimit, a_probe_without_headers_is_retried_and_sweep_forgets)
{
    int64_t w;
    gw_ratelimit_t *rl = gw_ratelimit_new (50, 50);
    gw_route_t r;
    gw_route_of ("GET", "/gateway/bot", &r);
    gw_rl_ticket_t k;
    w = gw_ratelimit_acquire (rl, &r, 0, &k);
    cr_assert_eq (w, 0);
    gw_ratelimit_release (rl, &k, NULL, 0, 5);
    w = gw_ratelimit_acquire (rl, &r, 6, &k);
    cr_assert_eq (w, 0, "nothing learnt: probe again");
    w = gw_ratelimit_sweep (rl, 10);
    cr_assert_eq (w, 1, "the probe's bucket stays");
    gw_ratelimit_release (rl, &k, NULL, 0, 11);
    w = gw_ratelimit_sweep (rl, 12);
    cr_assert_eq (w, 0);
    gw_ratelimit_destroy (&rl);
}

/*  http: listeners on port 0 driven by a plain socket client in a thread of
 *  its own while the test thread runs the reactor — the admin probes and
 *  /metrics answered by the lws thread alone, a route answered by the
 *  reactor, keep-alive, bodies over the limit, 404, 405, a response to a
 *  connection that has gone, and a port that cannot be bound.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/http.h"
#include "common/metrics.h"

#define MAX_BODY   1024
#define LARGE_SIZE (1024 * 1024)

typedef struct {
    int status;
    char head[4096];
    char body[LARGE_SIZE + 1];
    size_t body_size;
} response_t;

//  One client conversation: requests written back to back on one
//  connection, then everything read until the server closes.
typedef struct {
    int port;
    const char *requests[3];
    bool close_early; // write the request, then hang up without reading
    bool one_by_one;  // wait for each response before the next request
    char raw[LARGE_SIZE + 140000];
    size_t raw_size;
    atomic_bool done;
} exchange_t;

static zloop_t *s_loop;
static cb_http_t *s_http;
static cb_health_t s_health;

//  What the reactor-side handlers saw and hold.
static int s_handled;
static char s_seen_query[256];
static char s_seen_signature[256];
static cb_http_request_t *s_held;

static int
connect_to (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons ((uint16_t) port)};
    inet_pton (AF_INET, "127.0.0.1", &addr.sin_addr);
    struct timeval tv = {.tv_sec = 5};
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect (fd, (struct sockaddr *) &addr, sizeof addr) != 0) {
        close (fd);
        return -1;
    }
    return fd;
}

//  Reads until the buffer holds `responses` complete responses, or EOF.
static bool has_responses (const exchange_t *x, int responses);

static void
read_responses (exchange_t *x, int fd, int responses)
{
    while (x->raw_size < sizeof x->raw - 1 && (responses == 0 || !has_responses (x, responses))) {
        ssize_t n = read (fd, x->raw + x->raw_size, sizeof x->raw - 1 - x->raw_size);
        if (n <= 0)
            break;
        x->raw_size += (size_t) n;
        x->raw[x->raw_size] = '\0';
    }
}

static void *
exchange_run (void *arg)
{
    exchange_t *x = arg;
    int fd = connect_to (x->port);
    for (int i = 0; fd >= 0 && i < 3 && x->requests[i]; i++) {
        ssize_t n = write (fd, x->requests[i], strlen (x->requests[i]));
        (void) n;
        if (x->one_by_one)
            read_responses (x, fd, i + 1);
    }
    if (fd >= 0 && x->close_early)
        usleep (100 * 1000);
    else if (fd >= 0)
        read_responses (x, fd, 0);
    if (fd >= 0)
        close (fd);
    atomic_store (&x->done, true);
    return NULL;
}

static int
check_done (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id;
    return atomic_load (&((exchange_t *) arg)->done) ? -1 : 0;
}

//  Runs the reactor while the client thread talks to the listener.
static void
run_exchange (exchange_t *x)
{
    x->port = cb_http_port (s_http);
    pthread_t thread;
    pthread_create (&thread, NULL, exchange_run, x);
    int timer = zloop_timer (s_loop, 2, 0, check_done, x);
    int64_t end = cb_mono_ms () + 8000;
    while (!atomic_load (&x->done) && cb_mono_ms () < end)
        zloop_start (s_loop);
    zloop_timer_end (s_loop, timer);
    pthread_join (thread, NULL);
}

//  Splits the index-th response out of the raw bytes (Content-Length framed).
static bool
parse_response (const exchange_t *x, int index, response_t *out)
{
    const char *p = x->raw, *end = x->raw + x->raw_size;
    for (int i = 0; i <= index; i++) {
        const char *head_end = strstr (p, "\r\n\r\n");
        if (!head_end || sscanf (p, "HTTP/1.1 %d", &out->status) != 1)
            return false;
        size_t head_size = (size_t) (head_end - p);
        snprintf (out->head, sizeof out->head, "%.*s", (int) head_size, p);
        const char *cl = strcasestr (out->head, "content-length:");
        size_t size = cl ? strtoul (cl + 15, NULL, 10) : 0;
        const char *body = head_end + 4;
        if (body + size > end)
            return false;
        memcpy (out->body, body, size);
        out->body[size] = '\0';
        out->body_size = size;
        p = body + size;
    }
    return true;
}

//  The response lives in a static: valid until the next call.
static response_t *
request (const char *text)
{
    static exchange_t x;
    static response_t r;
    memset (&x, 0, sizeof x);
    memset (&r, 0, sizeof r);
    x.requests[0] = text;
    run_exchange (&x);
    cr_assert (parse_response (&x, 0, &r), "no response to: %s (got %zu bytes)", text, x.raw_size);
    return &r;
}

static bool
has_responses (const exchange_t *x, int responses)
{
    static response_t r; // only the client thread looks
    return parse_response (x, responses - 1, &r);
}

static void
on_echo (cb_http_request_t *req, void *arg)
{
    (void) arg;
    s_handled++;
    snprintf (s_seen_query, sizeof s_seen_query, "%s", cb_http_request_query (req));
    const char *sig = cb_http_request_header (req, "x-signature-ed25519");
    snprintf (s_seen_signature, sizeof s_seen_signature, "%s", sig ? sig : "(none)");
    size_t size;
    const uint8_t *body = cb_http_request_body (req, &size);
    const char *type = cb_http_request_header (req, "content-type");
    cb_http_respond (&req, 200, type ? type : "application/octet-stream", (const char *) body,
                     size);
}

static void
on_hold (cb_http_request_t *req, void *arg)
{
    (void) arg;
    s_handled++;
    s_held = req;
}

static void
on_large (cb_http_request_t *req, void *arg)
{
    (void) arg;
    char *body = malloc (LARGE_SIZE);
    for (size_t i = 0; i < LARGE_SIZE; i++)
        body[i] = (char) ('a' + i % 26);
    cb_http_respond (&req, 200, "text/plain", body, LARGE_SIZE);
    free (body);
}

static void
on_metrics_override (cb_http_request_t *req, void *arg)
{
    (void) arg;
    cb_http_respond (&req, 200, "text/plain", "aggregate", 9);
}

static void
start_listener (bool admin, bool with_routes)
{
    s_loop = zloop_new ();
    atomic_store (&s_health.loop_tick_ms, cb_mono_ms ());
    atomic_store (&s_health.ready, false);
    atomic_store (&s_health.draining, false);
    s_http = cb_http_new (admin ? "admin" : "public", "127.0.0.1", 0, MAX_BODY,
                          admin ? &s_health : NULL);
    cr_assert_not_null (s_http);
    if (with_routes) {
        cb_http_route (s_http, "POST", "/echo", on_echo, NULL);
        cb_http_route (s_http, "POST", "/hold", on_hold, NULL);
        cb_http_route (s_http, "GET", "/large", on_large, NULL);
    }
    cr_assert_eq (cb_http_start (s_http, s_loop), 0);
    cr_assert_gt (cb_http_port (s_http), 0);
}

static void
setup_admin (void)
{
    start_listener (true, true);
}

static void
teardown (void)
{
    if (s_held)
        cb_http_respond (&s_held, 200, "text/plain", "late", 4);
    cb_http_destroy (&s_http);
    zloop_destroy (&s_loop);
}

TestSuite (http);

Test (http, livez_follows_the_reactor_tick, .init = setup_admin, .fini = teardown)
{
    response_t *r = request ("GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert_eq (r->status, 200);
    cr_assert_str_eq (r->body, "ok");
    atomic_store (&s_health.loop_tick_ms, cb_mono_ms () - CB_LIVENESS_STALL_MS - 1000);
    r = request ("GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert_eq (r->status, 503);
}

Test (http, readyz_until_ready_and_while_draining, .init = setup_admin, .fini = teardown)
{
    const char *get = "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    response_t *r = request (get);
    cr_assert_eq (r->status, 503);
    cr_assert_str_eq (r->body, "not ready");
    atomic_store (&s_health.ready, true);
    r = request (get);
    cr_assert_eq (r->status, 200);
    cr_assert_str_eq (r->body, "ready");
    atomic_store (&s_health.draining, true);
    r = request (get);
    cr_assert_eq (r->status, 503);
    cr_assert_str_eq (r->body, "draining");
}

Test (http, metrics_are_rendered_by_the_listener, .init = setup_admin, .fini = teardown)
{
    cb_counter_add (cb_metrics_counter ("cordbank_test_http_things_total", "Things.", NULL), 3);
    response_t *r = request ("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert_eq (r->status, 200);
    cr_assert_not_null (strstr (r->body, "cordbank_test_http_things_total 3"), "%s", r->body);
    cr_assert_not_null (strcasestr (r->head, "content-type: text/plain; version=0.0.4"), "%s",
                        r->head);
    //  The request just answered is counted once its response is written.
    r = request ("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert_not_null (
        strstr (r->body, "cordbank_http_requests_total{listener=\"admin\",code=\"200\"}"), "%s",
        r->body);
    cr_assert_not_null (strstr (r->body, "cordbank_http_request_duration_seconds_count"), "%s",
                        r->body);
}

Test (http, post_route_is_answered_by_the_reactor, .init = setup_admin, .fini = teardown)
{
    response_t *r = request ("POST /echo?a=1&b=two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                             "Content-Type: application/json\r\n"
                             "X-Signature-Ed25519: abcdef\r\n"
                             "Content-Length: 13\r\n\r\n{\"hello\":\"x\"}");
    cr_assert_eq (r->status, 200);
    cr_assert_str_eq (r->body, "{\"hello\":\"x\"}");
    cr_assert_not_null (strcasestr (r->head, "content-type: application/json"), "%s", r->head);
    cr_assert_str_eq (s_seen_query, "a=1&b=two");
    cr_assert_str_eq (s_seen_signature, "abcdef");
    cr_assert_eq (cb_http_pending (s_http), 0);
}

Test (http, post_without_body_and_absent_headers, .init = setup_admin, .fini = teardown)
{
    response_t *r = request ("POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert_eq (r->status, 200);
    cr_assert_eq (r->body_size, 0);
    cr_assert_str_eq (s_seen_signature, "(none)");
    cr_assert_str_eq (s_seen_query, "");
}

Test (http, keep_alive_carries_several_requests, .init = setup_admin, .fini = teardown)
{
    static exchange_t x;
    x.requests[0] = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none";
    x.requests[1] = "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n";
    x.requests[2] = "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                    "Content-Length: 3\r\n\r\ntwo";
    x.one_by_one = true;
    run_exchange (&x);
    static response_t r;
    cr_assert (parse_response (&x, 0, &r), "%.*s", (int) x.raw_size, x.raw);
    cr_assert_str_eq (r.body, "one");
    cr_assert (parse_response (&x, 1, &r));
    cr_assert_str_eq (r.body, "ok");
    cr_assert (parse_response (&x, 2, &r));
    cr_assert_str_eq (r.body, "two");
    cr_assert_eq (s_handled, 2);
}

//  lws 4.1 cannot serve requests pipelined behind a body: the first is
//  answered, then the connection closes; the listener stays healthy.
Test (http, pipelined_requests_get_at_least_the_first_answer, .init = setup_admin, .fini = teardown)
{
    static exchange_t x;
    x.requests[0] = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
                    "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n"
                    "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                    "Content-Length: 3\r\n\r\ntwo";
    run_exchange (&x);
    static response_t r;
    cr_assert (parse_response (&x, 0, &r), "%.*s", (int) x.raw_size, x.raw);
    cr_assert_str_eq (r.body, "one");
    cr_assert_eq (request ("GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")->status,
                  200);
}

Test (http, body_over_the_limit_is_refused, .init = setup_admin, .fini = teardown)
{
    static char text[MAX_BODY + 400];
    int n = snprintf (text, sizeof text,
                      "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      "Content-Length: %d\r\n\r\n",
                      MAX_BODY + 1);
    memset (text + n, 'x', MAX_BODY + 1);
    response_t *r = request (text);
    cr_assert_eq (r->status, 413);
    cr_assert_str_eq (r->body, "{\"error\":\"request body exceeds 1024 bytes\"}");
    cr_assert_eq (s_handled, 0);
}

Test (http, body_at_the_limit_is_accepted, .init = setup_admin, .fini = teardown)
{
    static char text[MAX_BODY + 400];
    int n = snprintf (text, sizeof text,
                      "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      "Content-Length: %d\r\n\r\n",
                      MAX_BODY);
    memset (text + n, 'y', MAX_BODY);
    response_t *r = request (text);
    cr_assert_eq (r->status, 200);
    cr_assert_eq (r->body_size, MAX_BODY);
}

Test (http, websocket_upgrade_is_refused, .init = setup_admin, .fini = teardown)
{
    static exchange_t x;
    x.requests[0] =
        "GET /livez HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    run_exchange (&x);
    cr_assert_null (strstr (x.raw, " 101 "), "%.*s", (int) x.raw_size, x.raw);
    cr_assert_eq (request ("GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")->status,
                  200);
}

Test (http, unknown_path_is_404, .init = setup_admin, .fini = teardown)
{
    response_t *r = request ("GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert_eq (r->status, 404);
    cr_assert_str_eq (r->body, "{\"error\":\"not found\"}");
}

Test (http, wrong_method_is_405_with_allow, .init = setup_admin, .fini = teardown)
{
    response_t *r = request ("GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert_eq (r->status, 405);
    cr_assert_not_null (strcasestr (r->head, "allow: POST"), "%s", r->head);
    r = request ("POST /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 "Content-Length: 2\r\n\r\n{}");
    cr_assert_eq (r->status, 405);
    cr_assert_not_null (strcasestr (r->head, "allow: GET"), "%s", r->head);
    cr_assert_eq (s_handled, 0);
}

Test (http, chunked_bodies_are_refused, .init = setup_admin, .fini = teardown)
{
    response_t *r = request ("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "2\r\n{}\r\n0\r\n\r\n");
    cr_assert_eq (r->status, 400);
    cr_assert_eq (s_handled, 0);
}

Test (http, response_to_a_closed_connection_is_dropped, .init = setup_admin, .fini = teardown)
{
    static exchange_t x;
    x.requests[0] = "POST /hold HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
    x.close_early = true;
    run_exchange (&x);
    cr_assert_not_null (s_held);
    cr_assert_eq (cb_http_pending (s_http), 1);
    usleep (100 * 1000); // lws sees the hang-up
    cb_http_respond (&s_held, 200, "text/plain", "late", 4);
    cr_assert_eq (cb_http_pending (s_http), 0);
    response_t *r = request ("GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert_eq (r->status, 200);
}

static void
setup_public (void)
{
    start_listener (false, true);
}

Test (http, public_listener_has_no_probes, .init = setup_public, .fini = teardown)
{
    response_t *r = request ("GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert_eq (r->status, 404);
    r = request ("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert_eq (r->status, 404);
}

static void
setup_metrics_override (void)
{
    s_loop = zloop_new ();
    atomic_store (&s_health.loop_tick_ms, cb_mono_ms ());
    s_http = cb_http_new ("admin", "127.0.0.1", 0, MAX_BODY, &s_health);
    cb_http_route (s_http, "GET", "/metrics", on_metrics_override, NULL);
    cr_assert_eq (cb_http_start (s_http, s_loop), 0);
}

Test (http, registered_metrics_route_wins, .init = setup_metrics_override, .fini = teardown)
{
    response_t *r = request ("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert_eq (r->status, 200);
    cr_assert_str_eq (r->body, "aggregate");
    r = request ("GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert_eq (r->status, 200);
}

Test (http, port_in_use_fails_to_start, .init = setup_admin, .fini = teardown)
{
    zloop_t *loop = zloop_new ();
    cb_http_t *other = cb_http_new ("other", "127.0.0.1", cb_http_port (s_http), MAX_BODY, NULL);
    cr_assert_eq (cb_http_start (other, loop), -1);
    cb_http_destroy (&other);
    zloop_destroy (&loop);
    response_t *r = request ("GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert_eq (r->status, 200);
}

Test (http, port_out_of_range_is_refused)
{
    cr_assert_null (cb_http_new ("bad", "127.0.0.1", 70000, MAX_BODY, NULL));
}

Test (http, large_response_is_delivered_whole, .init = setup_admin, .fini = teardown)
{
    response_t *r = request ("GET /large HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert_eq (r->status, 200);
    cr_assert_eq (r->body_size, LARGE_SIZE);
    for (size_t i = 0; i < LARGE_SIZE; i++)
        if (r->body[i] != (char) ('a' + i % 26))
            cr_assert_fail ("byte %zu differs", i);
}

/*  http_listener — the lws thread of an HTTP listener (see http.h): the
 *  zactor body, the lws context and its callbacks, and every connection.
 *
 *  It answers alone what needs no reactor: 404, 405, a body too large, and
 *  on an admin listener /livez, /readyz and /metrics (so a stuck reactor
 *  cannot hide behind a healthy probe); it forwards the rest to the reactor
 *  half (http.c) and counts every request it answers.
 *
 *  A file of its own because it is a thread of its own: it shares nothing
 *  with the reactor half but the actor's inproc pipe (http_listener.h has
 *  its protocol), plus, read-only, the cb_health_t atomics, and the metrics
 *  registry. Everything defined here is touched by the lws thread only.
 *
 *  Every request gets a new id (a keep-alive connection carries many). This
 *  half maps id -> connection only while a forwarded request awaits its
 *  response, so a response for a connection that closed (or timed out)
 *  finds nothing and is dropped.
 *
 *  Bodies: accumulated up to max_body; past it the rest is read and
 *  discarded and the answer is 413, so the client always reads a response
 *  (closing on unread data would reset the connection under it). lws 4.1
 *  cannot parse chunked request bodies: those are refused with 400.
 */
#include "common/http_listener.h"
#include "common/lws_query.h"

#include <arpa/inet.h>
#include <assert.h>
#include <libwebsockets.h>
#include <string.h>

#include "common/clock.h"
#include "common/metrics.h"

#define MAX_CODES 16
//  A forwarded request the reactor never answers is closed after this.
#define FORWARD_TIMEOUT_S 30
//  lws sizes its connection tables by this (its default is the fd ulimit).
#define ADMIN_FD_LIMIT  256
#define PUBLIC_FD_LIMIT 8192

//  Indexed by lws_http_get_uri_and_method()'s LWSHUMETH_* values.
static const char *const METHOD_NAMES[] = {"GET",   "POST",   "OPTIONS", "PUT",
                                           "PATCH", "DELETE", "CONNECT", "HEAD"};
#define METHOD_COUNT (sizeof METHOD_NAMES / sizeof METHOD_NAMES[0])

typedef struct {
    char lookup[48]; // "x-signature-ed25519:", as lws looks headers up
    int token;       // lws token index, or -1 for a header lws does not know
} header_spec_t;

typedef struct {
    int code;
    cb_metric_t *requests;
} code_series_t;

typedef struct {
    cb_http_listener_args_t cfg;
    header_spec_t headers[CB_HTTP_MAX_HEADERS];
    size_t header_count;
    zsock_t *pipe;
    struct lws_context *context;
    zhashx_t *awaiting; // transaction id text -> conn_t (borrowed)
    uint64_t next_id;
    bool stop; // STOP or $TERM seen: leave the service loop
    bool term; // $TERM seen: free everything and return
    cb_metric_t *duration;
    code_series_t codes[MAX_CODES];
    size_t code_count;
} listener_t;

typedef enum {
    ACT_FORWARD,
    ACT_LIVEZ,
    ACT_READYZ,
    ACT_METRICS,
    ACT_NOT_FOUND,
    ACT_BAD_METHOD
} action_t;

//  One per lws connection (its opaque user data), reset per transaction.
typedef struct {
    struct lws *wsi;
    uint64_t id;
    int64_t started_us; // cb_mono_us () when the headers were in
    action_t action;
    zmsg_t *request; // ACT_FORWARD: the message without its body
    uint8_t *body;
    size_t body_size;
    bool too_large;
    bool complete;   // the request is all in (lws 4.1 may say so twice)
    bool responding; // a response is set and waits for writeable
    bool close_after;
    int status;
    char content_type[64];
    char allow[64];
    uint8_t *response; // LWS_PRE bytes of headroom, then the body
    size_t response_size;
} conn_t;

static void
id_text (uint64_t id, char out[24])
{
    snprintf (out, 24, "%llu", (unsigned long long) id);
}

//  ---------------------------------------------------------------------------
//  Connections and responses

static conn_t *
conn_of (struct lws *wsi)
{
    conn_t *c = lws_get_opaque_user_data (wsi);
    if (!c) {
        c = calloc (1, sizeof *c);
        assert (c);
        c->wsi = wsi;
        lws_set_opaque_user_data (wsi, c);
    }
    return c;
}

//  Forgets the current transaction (not the connection).
static void
conn_reset (listener_t *l, conn_t *c)
{
    if (c->id) {
        char key[24];
        id_text (c->id, key);
        zhashx_delete (l->awaiting, key);
    }
    zmsg_destroy (&c->request);
    free (c->body);
    free (c->response);
    struct lws *wsi = c->wsi;
    memset (c, 0, sizeof *c);
    c->wsi = wsi;
}

static void
conn_destroy (listener_t *l, struct lws *wsi)
{
    conn_t *c = lws_get_opaque_user_data (wsi);
    if (!c)
        return;
    conn_reset (l, c);
    lws_set_opaque_user_data (wsi, NULL);
    free (c);
}

//  Sets the response and asks lws for a writeable callback.
static void
conn_respond (conn_t *c, int status, const char *content_type, const void *body, size_t size)
{
    c->response = malloc (LWS_PRE + size + 1);
    assert (c->response);
    if (size)
        memcpy (c->response + LWS_PRE, body, size);
    c->response_size = size;
    c->status = status;
    snprintf (c->content_type, sizeof c->content_type, "%s", content_type);
    c->responding = true;
    //  A flow-controlled h1 connection gets no writeable callback either.
    lws_rx_flow_control (c->wsi, 1);
    lws_callback_on_writable (c->wsi);
}

static void
conn_respond_error (conn_t *c, int status, const char *message)
{
    char *body = cb_http_error_json (message);
    conn_respond (c, status, "application/json", body, body ? strlen (body) : 0);
    free (body);
}

static cb_metric_t *
code_series (listener_t *l, int code)
{
    for (size_t i = 0; i < l->code_count; i++)
        if (l->codes[i].code == code)
            return l->codes[i].requests;
    char labels[160], text[16];
    snprintf (text, sizeof text, "%d", code);
    cb_metrics_labels (labels, sizeof labels, "listener", l->cfg.name, "code", text, NULL);
    cb_metric_t *series =
        cb_metrics_counter ("cordbank_http_requests_total",
                            "HTTP requests answered, by listener and status code.", labels);
    if (l->code_count < MAX_CODES)
        l->codes[l->code_count++] = (code_series_t){code, series};
    return series;
}

static int
write_headers (conn_t *c)
{
    uint8_t buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    if (lws_add_http_common_headers (c->wsi, (unsigned) c->status, c->content_type,
                                     c->response_size, &p, end))
        return -1;
    if (*c->allow &&
        lws_add_http_header_by_token (c->wsi, WSI_TOKEN_HTTP_ALLOW, (uint8_t *) c->allow,
                                      (int) strlen (c->allow), &p, end))
        return -1;
    if (c->close_after && lws_add_http_header_by_token (c->wsi, WSI_TOKEN_CONNECTION,
                                                        (uint8_t *) "close", 5, &p, end))
        return -1;
    return lws_finalize_write_http_header (c->wsi, start, &p, end) ? -1 : 0;
}

//  LWS_CALLBACK_HTTP_WRITEABLE: headers and body, then the next transaction.
static int
conn_write (listener_t *l, conn_t *c)
{
    if (!c->responding)
        return 0;
    if (write_headers (c) != 0)
        return -1;
    int size = (int) c->response_size;
    if (size > 0 &&
        lws_write (c->wsi, c->response + LWS_PRE, (size_t) size, LWS_WRITE_HTTP_FINAL) != size)
        return -1;
    cb_counter_inc (code_series (l, c->status));
    cb_histogram_observe (l->duration, (double) (cb_mono_us () - c->started_us) / 1e6);
    bool close_after = c->close_after;
    conn_reset (l, c);
    if (close_after)
        return -1;
    return lws_http_transaction_completed (c->wsi) ? -1 : 0;
}

//  ---------------------------------------------------------------------------
//  Reading a request

static char *
header_copy (struct lws *wsi, const header_spec_t *h)
{
    int nlen = (int) strlen (h->lookup);
    int len = h->token >= 0 ? lws_hdr_total_length (wsi, (enum lws_token_indexes) h->token)
                            : lws_hdr_custom_length (wsi, h->lookup, nlen);
    if (len < 0 || (len == 0 && h->token >= 0))
        return NULL;
    char *value = calloc (1, (size_t) len + 1);
    assert (value);
    int n = h->token >= 0 ? lws_hdr_copy (wsi, value, len + 1, (enum lws_token_indexes) h->token)
                          : lws_hdr_custom_copy (wsi, value, len + 1, h->lookup, nlen);
    if (n < 0) {
        free (value);
        return NULL;
    }
    //  Custom header values keep trailing blanks in lws 4.1.
    while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        value[--n] = '\0';
    return value;
}

static zmsg_t *
request_message (listener_t *l, conn_t *c, const char *method, const char *path)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, &c->id, sizeof c->id);
    zmsg_addstr (msg, method);
    zmsg_addstr (msg, path);
    char *query = cb_lws_query_copy (c->wsi);
    zmsg_addstr (msg, query);
    free (query);
    for (size_t i = 0; i < l->header_count; i++) {
        char *value = header_copy (c->wsi, &l->headers[i]);
        if (!value)
            continue;
        zmsg_addmem (msg, l->headers[i].lookup, strlen (l->headers[i].lookup) - 1);
        zmsg_addstr (msg, value);
        free (value);
    }
    return msg;
}

static bool
has_route (const listener_t *l, const char *method, const char *path)
{
    for (size_t i = 0; i < l->cfg.route_count; i++)
        if (streq (l->cfg.route_paths[i], path) &&
            (!method || streq (l->cfg.route_methods[i], method)))
            return true;
    return false;
}

static bool
is_builtin (const listener_t *l, const char *path)
{
    return l->cfg.health &&
           (streq (path, "/livez") || streq (path, "/readyz") || streq (path, "/metrics"));
}

static action_t
resolve (const listener_t *l, const char *method, const char *path)
{
    if (has_route (l, method, path))
        return ACT_FORWARD;
    if (is_builtin (l, path) && streq (method, "GET"))
        return streq (path, "/livez")    ? ACT_LIVEZ
               : streq (path, "/readyz") ? ACT_READYZ
                                         : ACT_METRICS;
    if (has_route (l, NULL, path) || is_builtin (l, path))
        return ACT_BAD_METHOD;
    return ACT_NOT_FOUND;
}

//  The methods a path answers, for the Allow header of a 405.
static void
allowed_methods (const listener_t *l, const char *path, char *out, size_t outlen)
{
    *out = '\0';
    if (is_builtin (l, path) && !has_route (l, "GET", path))
        snprintf (out, outlen, "GET");
    for (size_t i = 0; i < l->cfg.route_count; i++)
        if (streq (l->cfg.route_paths[i], path) && strlen (out) + 10 < outlen)
            snprintf (out + strlen (out), outlen - strlen (out), "%s%s", *out ? ", " : "",
                      l->cfg.route_methods[i]);
}

//  LWS_CALLBACK_HTTP: the headers are in. Returns true when a body follows.
static bool
conn_begin (listener_t *l, conn_t *c, const char *path)
{
    conn_reset (l, c);
    c->id = ++l->next_id;
    c->started_us = cb_mono_us ();
    char *uri;
    int uri_len;
    int m = lws_http_get_uri_and_method (c->wsi, &uri, &uri_len);
    const char *method = m >= 0 && (size_t) m < METHOD_COUNT ? METHOD_NAMES[m] : "";
    c->action = resolve (l, method, path);
    if (c->action == ACT_FORWARD)
        c->request = request_message (l, c, method, path);
    if (c->action == ACT_BAD_METHOD)
        allowed_methods (l, path, c->allow, sizeof c->allow);
    if (lws_hdr_total_length (c->wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
        c->close_after = true;
        conn_respond_error (c, 400,
                            "chunked request bodies are not supported; send Content-Length");
        return false;
    }
    return lws_hdr_total_length (c->wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
}

static void
conn_body (listener_t *l, conn_t *c, const void *data, size_t size)
{
    if (c->responding || c->too_large || size == 0)
        return;
    if (c->body_size + size > l->cfg.max_body) {
        c->too_large = true;
        free (c->body);
        c->body = NULL;
        return;
    }
    uint8_t *body = realloc (c->body, c->body_size + size);
    assert (body);
    memcpy (body + c->body_size, data, size);
    c->body = body;
    c->body_size += size;
}

//  ---------------------------------------------------------------------------
//  Answering a complete request

static void
serve_livez (listener_t *l, conn_t *c)
{
    int64_t idle_ms = cb_mono_ms () - atomic_load (&l->cfg.health->loop_tick_ms);
    if (idle_ms < CB_LIVENESS_STALL_MS) {
        conn_respond (c, 200, "text/plain", "ok", 2);
        return;
    }
    char text[80];
    int n = snprintf (text, sizeof text, "reactor stalled for %lld ms", (long long) idle_ms);
    conn_respond (c, 503, "text/plain", text, (size_t) n);
}

static void
serve_readyz (listener_t *l, conn_t *c)
{
    if (atomic_load (&l->cfg.health->draining))
        conn_respond (c, 503, "text/plain", "draining", 8);
    else if (!atomic_load (&l->cfg.health->ready))
        conn_respond (c, 503, "text/plain", "not ready", 9);
    else
        conn_respond (c, 200, "text/plain", "ready", 5);
}

static void
serve_metrics (conn_t *c)
{
    char *text = cb_metrics_render ();
    if (!text) {
        conn_respond_error (c, 500, "metrics could not be rendered");
        return;
    }
    conn_respond (c, 200, "text/plain; version=0.0.4", text, strlen (text));
    free (text);
}

static void
forward (listener_t *l, conn_t *c)
{
    zmsg_addmem (c->request, c->body, c->body_size);
    if (zmsg_send (&c->request, l->pipe) != 0) {
        zmsg_destroy (&c->request);
        conn_respond_error (c, 503, "busy");
        return;
    }
    char key[24];
    id_text (c->id, key);
    zhashx_insert (l->awaiting, key, c);
    lws_set_timeout (c->wsi, PENDING_TIMEOUT_USER_OK, FORWARD_TIMEOUT_S);
}

//  A request that is all in, within the limit: answered here or forwarded.
static void
conn_serve (listener_t *l, conn_t *c)
{
    switch (c->action) {
    case ACT_FORWARD:
        forward (l, c);
        break;
    case ACT_LIVEZ:
        serve_livez (l, c);
        break;
    case ACT_READYZ:
        serve_readyz (l, c);
        break;
    case ACT_METRICS:
        serve_metrics (c);
        break;
    case ACT_NOT_FOUND:
        conn_respond_error (c, 404, "not found");
        break;
    case ACT_BAD_METHOD:
        conn_respond_error (c, 405, "method not allowed");
        break;
    }
}

static void
conn_complete (listener_t *l, conn_t *c)
{
    //  lws 4.1 mishandles pipelined requests behind a body: it says
    //  "complete" again and again while bytes wait behind it. Read nothing
    //  more until the response is out, then close: the client sends the
    //  rest again on a new connection (no client in use pipelines anyway).
    if (c->complete) {
        c->close_after = true;
        return;
    }
    c->complete = true;
    if (c->responding)
        return;
    lws_rx_flow_control (c->wsi, 0);
    if (c->too_large) {
        char message[80];
        snprintf (message, sizeof message, "request body exceeds %zu bytes", l->cfg.max_body);
        conn_respond_error (c, 413, message);
        return;
    }
    conn_serve (l, c);
}

//  ---------------------------------------------------------------------------
//  The pipe and the lws callback

//  A response from the reactor; dropped when its connection has gone.
static void
deliver_response (listener_t *l, zmsg_t *msg)
{
    zframe_t *id = zmsg_first (msg);
    if (zmsg_size (msg) != CB_HTTP_RESPONSE_FRAMES || zframe_size (id) != sizeof (uint64_t))
        return;
    uint64_t value;
    memcpy (&value, zframe_data (id), sizeof value);
    char key[24];
    id_text (value, key);
    conn_t *c = zhashx_lookup (l->awaiting, key);
    if (!c || c->responding)
        return;
    zhashx_delete (l->awaiting, key);
    char *status = zframe_strdup (zmsg_next (msg));
    char *content_type = zframe_strdup (zmsg_next (msg));
    zframe_t *body = zmsg_next (msg);
    lws_set_timeout (c->wsi, NO_PENDING_TIMEOUT, 0);
    conn_respond (c, atoi (status), content_type, zframe_data (body), zframe_size (body));
    free (status);
    free (content_type);
}

//  LWS_CALLBACK_EVENT_WAIT_CANCELLED: all the reactor has sent, without
//  blocking (the pipe's receive timeout is 0).
static void
drain_pipe (listener_t *l)
{
    zmsg_t *msg;
    while (!l->stop && (msg = zmsg_recv (l->pipe))) {
        char *command = zmsg_size (msg) == 1 ? zmsg_popstr (msg) : NULL;
        if (!command)
            deliver_response (l, msg);
        else if (streq (command, CB_HTTP_PIPE_STOP) || streq (command, CB_HTTP_PIPE_TERM)) {
            l->stop = true;
            l->term = streq (command, CB_HTTP_PIPE_TERM);
        }
        free (command);
        zmsg_destroy (&msg);
    }
}

static int
on_lws (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    listener_t *l = lws_context_user (lws_get_context (wsi));
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        conn_t *c = conn_of (wsi);
        char *path = strndup (in, len);
        assert (path);
        bool body_follows = conn_begin (l, c, path);
        free (path);
        if (!body_follows)
            conn_complete (l, c);
        return 0;
    }
    case LWS_CALLBACK_HTTP_BODY:
        conn_body (l, conn_of (wsi), in, len);
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        conn_complete (l, conn_of (wsi));
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return conn_write (l, conn_of (wsi));
    case LWS_CALLBACK_WSI_DESTROY:
        conn_destroy (l, wsi);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        drain_pipe (l);
        return 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        //  HTTP only: lws would upgrade to a WebSocket on the first
        //  protocol; the connection is closed instead, so nothing is held
        //  or buffered for frames nobody reads.
        return -1;
    default:
        return lws_callback_http_dummy (wsi, reason, user, in, len);
    }
}

static const struct lws_protocols PROTOCOLS[] = {{"http", on_lws, 0, 0, 0, NULL, 0},
                                                 {NULL, NULL, 0, 0, 0, NULL, 0}};

//  ---------------------------------------------------------------------------
//  The thread: its listener, the service loop, the two-step stop

static int
header_token (const char *lookup)
{
    for (int i = 0; i < (int) WSI_TOKEN_COUNT; i++) {
        const unsigned char *text = lws_token_to_string ((enum lws_token_indexes) i);
        if (text && streq ((const char *) text, lookup))
            return i;
    }
    return -1;
}

//  Takes over args (its strings now belong to the listener).
static listener_t *
listener_new (cb_http_listener_args_t *args)
{
    listener_t *l = calloc (1, sizeof *l);
    assert (l);
    l->cfg = *args;
    free (args);
    char list[] = CB_HTTP_HEADERS, *save = NULL;
    for (char *name = strtok_r (list, ", ", &save); name && l->header_count < CB_HTTP_MAX_HEADERS;
         name = strtok_r (NULL, ", ", &save)) {
        header_spec_t *h = &l->headers[l->header_count++];
        snprintf (h->lookup, sizeof h->lookup, "%s:", name);
        h->token = header_token (h->lookup);
    }
    l->awaiting = zhashx_new ();
    char labels[160];
    cb_metrics_labels (labels, sizeof labels, "listener", l->cfg.name, NULL);
    l->duration = cb_metrics_histogram ("cordbank_http_request_duration_seconds",
                                        "Time from a request's headers to its response.", labels,
                                        CB_LATENCY_BUCKETS, CB_LATENCY_BUCKETS_COUNT);
    return l;
}

//  Creates the context and its one vhost. Returns the bound port or -1.
static int
listener_open (listener_t *l)
{
    struct lws_context_creation_info info;
    memset (&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    //  With IPv6 on, lws 4.1 binds an IPv4 address as the wildcard: keep
    //  IPv4 addresses (and "" / "*", the IPv4 wildcard) on an IPv4 socket.
    const char *iface = l->cfg.bind_address;
    struct in_addr v4;
    if (!*iface || streq (iface, "*"))
        iface = "0.0.0.0";
    if (inet_pton (AF_INET, iface, &v4) == 1)
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    info.fd_limit_per_thread = l->cfg.health ? ADMIN_FD_LIMIT : PUBLIC_FD_LIMIT;
    info.server_string = "cordbank";
    info.user = l;
    l->context = lws_create_context (&info);
    if (!l->context)
        return -1;
    info.port = l->cfg.port;
    info.iface = iface;
    info.protocols = PROTOCOLS;
    info.vhost_name = l->cfg.name;
    struct lws_vhost *vhost = lws_create_vhost (l->context, &info);
    //  An unknown interface name gives a vhost that listens nowhere.
    int port = vhost ? lws_get_vhost_listen_port (vhost) : -1;
    return port > 0 ? port : -1;
}

//  After the service loop: answer STOP with STOPPED and wait for $TERM.
static void
wait_term (listener_t *l)
{
    zsock_set_rcvtimeo (l->pipe, -1);
    zsock_set_sndtimeo (l->pipe, -1);
    if (l->stop && !l->term)
        zstr_send (l->pipe, CB_HTTP_PIPE_STOPPED);
    while (!l->term) {
        zmsg_t *msg = zmsg_recv (l->pipe);
        if (!msg)
            break;
        char *command = zmsg_size (msg) == 1 ? zmsg_popstr (msg) : NULL;
        if (command && streq (command, CB_HTTP_PIPE_STOP))
            zstr_send (l->pipe, CB_HTTP_PIPE_STOPPED);
        l->term = command && streq (command, CB_HTTP_PIPE_TERM);
        free (command);
        zmsg_destroy (&msg);
    }
}

static void
listener_destroy (listener_t **l_p)
{
    listener_t *l = *l_p;
    //  Closes every connection: WSI_DESTROY still needs `awaiting`.
    if (l->context)
        lws_context_destroy (l->context);
    zhashx_destroy (&l->awaiting);
    for (size_t i = 0; i < l->cfg.route_count; i++) {
        free (l->cfg.route_methods[i]);
        free (l->cfg.route_paths[i]);
    }
    free (l->cfg.name);
    free (l->cfg.bind_address);
    free (l);
    *l_p = NULL;
}

void
cb_http_listener_actor (zsock_t *pipe, void *args)
{
    listener_t *l = listener_new (args);
    l->pipe = pipe;
    zsock_set_sndtimeo (pipe, 0);
    zsock_set_rcvtimeo (pipe, 0);
    int port = listener_open (l);
    zsock_signal (pipe, 0);
    zsock_send (pipe, CB_HTTP_PIPE_READY, port, port > 0 ? (void *) l->context : NULL);
    while (port > 0 && !l->stop)
        if (lws_service (l->context, 0) < 0)
            break;
    wait_term (l);
    listener_destroy (&l);
}

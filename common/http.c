/*  http — the reactor half of an HTTP listener (see http.h): the cb_http_t
 *  API, the routes, and the actor pipe's reader on the service's zloop.
 *
 *  Each listener is two halves on two threads that share nothing but a
 *  zactor's inproc pipe (plus, read-only, the cb_health_t atomics, and the
 *  metrics registry):
 *
 *  - this reactor half (cb_http_t, cb_http_request_t) keeps the routes,
 *    turns each forwarded request into a handler call and sends responses;
 *  - the lws half (http_listener.c) owns the lws context and every
 *    connection, answers alone what needs no reactor (404, 405, a body too
 *    large, the admin probes and /metrics) and counts every request.
 *
 *  They live in two files so that each file's state belongs to one thread;
 *  http_listener.h holds the little they share: the pipe protocol, the
 *  actor's entry point and the configuration handed to it. The reactor
 *  keeps the lws context pointer only to wake the lws thread with
 *  lws_cancel_service after writing to the pipe.
 */
#include "common/http.h"

#include <assert.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <string.h>

#include "common/http_listener.h"
#include "common/log.h"

//  How long cb_http_destroy waits for the lws thread to leave its loop.
#define STOP_TIMEOUT_MS 5000

typedef struct {
    char *method;
    char *path;
    cb_http_fn *fn;
    void *arg;
} route_t;

struct cb_http {
    char *name;
    char *bind_address;
    int port; // as asked, then as bound
    size_t max_body;
    cb_health_t *health; // borrowed
    route_t routes[CB_HTTP_MAX_ROUTES];
    size_t route_count;
    zactor_t *actor;
    zloop_t *loop;
    struct lws_context *context; // the lws thread's, for lws_cancel_service only
    size_t pending;
};

struct cb_http_request {
    cb_http_t *http;
    uint64_t id;
    char *method, *path, *query;
    char *names[CB_HTTP_MAX_HEADERS], *values[CB_HTTP_MAX_HEADERS];
    size_t header_count;
    zframe_t *body;
};

char *
cb_http_error_json (const char *message)
{
    json_t *obj = json_pack ("{s:s}", "error", message);
    char *text = obj ? json_dumps (obj, JSON_COMPACT) : NULL;
    json_decref (obj);
    return text;
}

//  lws's own log lines, warnings and errors only, become ours.
static void
lws_log_emit (int level, const char *line)
{
    size_t len = strlen (line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    cb_log (level & LLL_ERR ? CB_LOG_ERROR : CB_LOG_WARN, NULL, "libwebsockets", "{s:s%}", "detail",
            line, len);
}

//  lws's log settings are process-wide: set once, by the first cb_http_new,
//  before any lws thread starts.
static void
lws_log_setup (void)
{
    lws_set_log_level (LLL_ERR | LLL_WARN, lws_log_emit);
}

//  ---------------------------------------------------------------------------
//  The listener's life: new, start, stop, destroy

cb_http_t *
cb_http_new (const char *name, const char *bind_address, int port, size_t max_body,
             cb_health_t *health)
{
    assert (name && bind_address);
    if (port < 0 || port > 65535) {
        cb_log_error (NULL, "http port out of range", "{s:s, s:i}", "listener", name, "port", port);
        return NULL;
    }
    static pthread_once_t log_once = PTHREAD_ONCE_INIT;
    pthread_once (&log_once, lws_log_setup);
    cb_http_t *self = calloc (1, sizeof *self);
    assert (self);
    self->name = strdup (name);
    self->bind_address = strdup (bind_address);
    self->port = port;
    self->max_body = max_body;
    self->health = health;
    return self;
}

//  Leaves the lws thread's loop (two steps, see http_listener.h), then
//  ends it.
static void
listener_stop (cb_http_t *self)
{
    zsock_t *pipe = zactor_sock (self->actor);
    zloop_reader_end (self->loop, pipe);
    zsock_set_sndtimeo (pipe, STOP_TIMEOUT_MS);
    zsock_set_rcvtimeo (pipe, STOP_TIMEOUT_MS);
    bool stopped = zstr_send (pipe, CB_HTTP_PIPE_STOP) == 0;
    if (stopped)
        lws_cancel_service (self->context);
    while (stopped) {
        zmsg_t *msg = zmsg_recv (pipe); // forwarded requests now go unanswered
        char *command = msg && zmsg_size (msg) == 1 ? zmsg_popstr (msg) : NULL;
        bool done = command && streq (command, CB_HTTP_PIPE_STOPPED);
        stopped = msg != NULL;
        free (command);
        zmsg_destroy (&msg);
        if (done)
            break;
    }
    if (!stopped)
        cb_log_error (NULL, "http listener did not stop in time", "{s:s}", "listener", self->name);
    zactor_destroy (&self->actor);
}

void
cb_http_destroy (cb_http_t **self_p)
{
    assert (self_p);
    cb_http_t *self = *self_p;
    if (!self)
        return;
    if (self->actor)
        listener_stop (self);
    for (size_t i = 0; i < self->route_count; i++) {
        free (self->routes[i].method);
        free (self->routes[i].path);
    }
    free (self->name);
    free (self->bind_address);
    free (self);
    *self_p = NULL;
}

void
cb_http_route (cb_http_t *self, const char *method, const char *path, cb_http_fn *fn, void *arg)
{
    assert (self && method && path && fn);
    assert (!self->actor);
    assert (self->route_count < CB_HTTP_MAX_ROUTES);
    self->routes[self->route_count++] = (route_t){strdup (method), strdup (path), fn, arg};
}

//  ---------------------------------------------------------------------------
//  Requests from the lws thread, responses to it

static const route_t *
route_find (const cb_http_t *self, const char *method, const char *path)
{
    for (size_t i = 0; i < self->route_count; i++)
        if (streq (self->routes[i].method, method) && streq (self->routes[i].path, path))
            return &self->routes[i];
    return NULL;
}

static void
request_destroy (cb_http_request_t **request_p)
{
    cb_http_request_t *r = *request_p;
    free (r->method);
    free (r->path);
    free (r->query);
    for (size_t i = 0; i < r->header_count; i++) {
        free (r->names[i]);
        free (r->values[i]);
    }
    zframe_destroy (&r->body);
    free (r);
    *request_p = NULL;
}

//  id, method, path, query, [name, value]..., body
static cb_http_request_t *
request_new (cb_http_t *http, zmsg_t *msg)
{
    size_t frames = zmsg_size (msg);
    if (frames < CB_HTTP_REQUEST_FRAMES)
        return NULL;
    size_t header_frames = frames - CB_HTTP_REQUEST_FRAMES;
    zframe_t *id = zmsg_first (msg);
    if (header_frames % 2 || header_frames / 2 > CB_HTTP_MAX_HEADERS ||
        zframe_size (id) != sizeof (uint64_t))
        return NULL;
    cb_http_request_t *r = calloc (1, sizeof *r);
    assert (r);
    r->http = http;
    memcpy (&r->id, zframe_data (id), sizeof r->id);
    zmsg_remove (msg, id);
    zframe_destroy (&id);
    r->method = zmsg_popstr (msg);
    r->path = zmsg_popstr (msg);
    r->query = zmsg_popstr (msg);
    while (zmsg_size (msg) > 1) {
        r->names[r->header_count] = zmsg_popstr (msg);
        r->values[r->header_count++] = zmsg_popstr (msg);
    }
    r->body = zmsg_pop (msg);
    return r;
}

static int
on_request (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void) loop;
    cb_http_t *self = arg;
    zmsg_t *msg = zmsg_recv (pipe);
    cb_http_request_t *request = msg ? request_new (self, msg) : NULL;
    zmsg_destroy (&msg);
    if (!request)
        return 0;
    self->pending++;
    const route_t *route = route_find (self, request->method, request->path);
    if (route)
        route->fn (request, route->arg);
    else
        cb_http_respond_error (&request, 404, "not found");
    return 0;
}

//  The lws thread's own copy of what it needs from the configuration.
static cb_http_listener_args_t *
listener_args (const cb_http_t *self)
{
    cb_http_listener_args_t *args = calloc (1, sizeof *args);
    assert (args);
    args->name = strdup (self->name);
    args->bind_address = strdup (self->bind_address);
    args->port = self->port;
    args->max_body = self->max_body;
    args->health = self->health;
    for (size_t i = 0; i < self->route_count; i++) {
        args->route_methods[i] = strdup (self->routes[i].method);
        args->route_paths[i] = strdup (self->routes[i].path);
    }
    args->route_count = self->route_count;
    return args;
}

int
cb_http_start (cb_http_t *self, zloop_t *loop)
{
    assert (self && loop && !self->actor);
    self->actor = zactor_new (cb_http_listener_actor, listener_args (self));
    assert (self->actor);
    zsock_t *pipe = zactor_sock (self->actor);
    int port = -1;
    void *context = NULL;
    if (zsock_recv (pipe, CB_HTTP_PIPE_READY, &port, &context) != 0 || port <= 0) {
        cb_log_error (NULL, "http listener could not start", "{s:s, s:s, s:i}", "listener",
                      self->name, "bind", self->bind_address, "port", self->port);
        zactor_destroy (&self->actor);
        return -1;
    }
    self->context = context;
    self->port = port;
    self->loop = loop;
    zsock_set_sndtimeo (pipe, 0);
    zloop_reader (loop, pipe, on_request, self);
    cb_log_info (NULL, "http listening", "{s:s, s:s, s:i}", "listener", self->name, "bind",
                 self->bind_address, "port", port);
    return 0;
}

int
cb_http_port (const cb_http_t *self)
{
    assert (self);
    return self->port;
}

size_t
cb_http_pending (const cb_http_t *self)
{
    assert (self);
    return self->pending;
}

const char *
cb_http_request_method (const cb_http_request_t *request)
{
    return request->method;
}

const char *
cb_http_request_path (const cb_http_request_t *request)
{
    return request->path;
}

const char *
cb_http_request_query (const cb_http_request_t *request)
{
    return request->query;
}

const char *
cb_http_request_header (const cb_http_request_t *request, const char *name)
{
    for (size_t i = 0; i < request->header_count; i++)
        if (streq (request->names[i], name))
            return request->values[i];
    return NULL;
}

const uint8_t *
cb_http_request_body (const cb_http_request_t *request, size_t *size)
{
    if (size)
        *size = zframe_size (request->body);
    return zframe_data (request->body);
}

void
cb_http_respond (cb_http_request_t **request_p, int status, const char *content_type,
                 const char *body, size_t size)
{
    assert (request_p && *request_p);
    cb_http_t *self = (*request_p)->http;
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, &(*request_p)->id, sizeof (uint64_t));
    zmsg_addstrf (msg, "%d", status);
    zmsg_addstr (msg, content_type ? content_type : "text/plain");
    zmsg_addmem (msg, body, body ? size : 0);
    if (zmsg_send (&msg, self->actor) != 0) {
        zmsg_destroy (&msg);
        cb_log_warn (NULL, "http response dropped: listener pipe full", "{s:s}", "listener",
                     self->name);
    }
    lws_cancel_service (self->context);
    assert (self->pending > 0);
    self->pending--;
    request_destroy (request_p);
}

void
cb_http_respond_error (cb_http_request_t **request_p, int status, const char *message)
{
    char *body = cb_http_error_json (message ? message : "");
    cb_http_respond (request_p, status, "application/json", body, body ? strlen (body) : 0);
    free (body);
}

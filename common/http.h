/*  http — an HTTP/1.1 listener on libwebsockets, in a thread of its own.
 *
 *  Debian's libwebsockets 4.1 has no external-poll support, so each
 *  listener runs lws_service() in a zactor thread and talks to the
 *  service's reactor through the actor's inproc pipe; lws_cancel_service()
 *  wakes it when a response is ready. The threads share nothing else but
 *  the atomics in cb_health_t and the metrics registry.
 *
 *  An admin listener answers GET /livez, /readyz and /metrics inside its
 *  own thread (so a stuck reactor cannot hide behind a healthy probe).
 *  Any other route registered with cb_http_route is forwarded to the
 *  reactor, whose handler answers with cb_http_respond, now or later.
 *  A route registered for /metrics on an admin listener replaces the
 *  built-in one (the metrics service serves its aggregate there).
 *
 *  A body over max_body is refused with 413 and a JSON error ("request body
 *  exceeds N bytes"; what is past the limit is read and dropped, never
 *  kept: buffers are bounded per connection); a route that exists with
 *  another method, 405; an unknown path, 404. A WebSocket (or any other)
 *  upgrade is refused by closing the connection: HTTP/1.1 only.
 */
#ifndef CB_HTTP_H
#define CB_HTTP_H

#include <czmq.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  What the probes read; written by the reactor thread.
typedef struct {
    atomic_int_least64_t loop_tick_ms; // cb_mono_ms() of the reactor's last turn
    atomic_bool ready;                 // dependencies reachable, started, not draining
    atomic_bool draining;              // SIGTERM received
} cb_health_t;

//  /livez fails when the reactor has not turned for this long.
#define CB_LIVENESS_STALL_MS 5000

typedef struct cb_http cb_http_t;
typedef struct cb_http_request cb_http_request_t;
typedef void (cb_http_fn) (cb_http_request_t *request, void *arg);

//  Headers copied from every request (lower case, as looked up).
#define CB_HTTP_HEADERS "content-type, x-signature-ed25519, x-signature-timestamp, user-agent"

//  A listener on bind_address:port (port 0: the kernel picks one; see
//  cb_http_port). bind_address "" or "*" means the IPv4 wildcard 0.0.0.0;
//  use "::" for IPv6. health is borrowed and must outlive the listener;
//  NULL for a non-admin listener.
cb_http_t *cb_http_new (const char *name, const char *bind_address, int port, size_t max_body,
                        cb_health_t *health);
//  Every request forwarded to a handler must have been answered (with
//  cb_http_respond or cb_http_respond_error) before this: a request keeps
//  a pointer to its listener.
void cb_http_destroy (cb_http_t **self_p);

//  Before cb_http_start: requests for method+path go to fn on the reactor.
void cb_http_route (cb_http_t *self, const char *method, const char *path, cb_http_fn *fn,
                    void *arg);

//  Starts the thread and registers its pipe with the reactor. 0 or -1
//  (the port could not be bound; logged).
int cb_http_start (cb_http_t *self, zloop_t *loop);
//  The bound port (after start).
int cb_http_port (const cb_http_t *self);

//  Requests answered by the reactor and not yet responded to.
size_t cb_http_pending (const cb_http_t *self);

const char *cb_http_request_method (const cb_http_request_t *request);
const char *cb_http_request_path (const cb_http_request_t *request);
//  The query string without its '?', "" when none. lws URL-decodes each
//  argument ('+' becomes a space) and they are joined again with '&', so
//  an encoded "%26" in a value reads as a separator.
const char *cb_http_request_query (const cb_http_request_t *request);
//  name in lower case, one of CB_HTTP_HEADERS; NULL when absent.
const char *cb_http_request_header (const cb_http_request_t *request, const char *name);
const uint8_t *cb_http_request_body (const cb_http_request_t *request, size_t *size);

//  Sends the response and frees the request (takes ownership; *request_p
//  becomes NULL). A response to a connection that has gone is dropped.
void cb_http_respond (cb_http_request_t **request_p, int status, const char *content_type,
                      const char *body, size_t size);
//  The same with a JSON body {"error": message}.
void cb_http_respond_error (cb_http_request_t **request_p, int status, const char *message);

#endif

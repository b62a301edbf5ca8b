/*  http_listener — what the two halves of an HTTP listener share, and
 *  nothing else: the reactor half (common/http.c, the cb_http_t API) and
 *  the lws thread (common/http_listener.c) talk only through a zactor's
 *  inproc pipe, so this header is that pipe's protocol, the actor's entry
 *  point and the configuration handed to it. Private to common/http*.c.
 *
 *  Pipe protocol, one message per line:
 *    lws -> reactor, once after the zactor handshake: port (-1: failed), context
 *    lws -> reactor, per forwarded request: id, method, path, query,
 *                                            [header name, value]..., body
 *    reactor -> lws, per response:           id, status, content type, body
 *    reactor -> lws "STOP": leave the service loop and answer "STOPPED";
 *    then zactor_destroy's "$TERM": destroy the context and return.
 *  Stopping takes two steps because the reactor calls lws_cancel_service
 *  after sending STOP: the context must outlive that call, so the lws thread
 *  destroys it only on $TERM, which the reactor sends afterwards.
 *
 *  The context pointer is the one thing of the lws thread's the reactor
 *  holds, and only to call lws_cancel_service (the lws call meant for other
 *  threads), which wakes the lws thread to read the pipe.
 *
 *  An id is a uint64_t in host order (both ends are one process), carried
 *  as a frame of its own; every request gets a new one.
 */
#ifndef CB_HTTP_LISTENER_H
#define CB_HTTP_LISTENER_H

#include <czmq.h>
#include <stddef.h>

#include "common/http.h"

#define CB_HTTP_MAX_ROUTES  16
#define CB_HTTP_MAX_HEADERS 8

//  zsock_send picture of the startup message: port, context.
#define CB_HTTP_PIPE_READY   "ip"
#define CB_HTTP_PIPE_STOP    "STOP"
#define CB_HTTP_PIPE_STOPPED "STOPPED"
//  czmq's zactor_destroy sends this.
#define CB_HTTP_PIPE_TERM "$TERM"
//  A forwarded request is these frames plus a name and a value per header.
#define CB_HTTP_REQUEST_FRAMES  5 // id, method, path, query, body
#define CB_HTTP_RESPONSE_FRAMES 4 // id, status, content type, body

//  The lws thread's own copy of the listener's configuration.
typedef struct {
    char *name, *bind_address;
    int port;
    size_t max_body;
    cb_health_t *health; // borrowed from the caller of cb_http_new
    char *route_methods[CB_HTTP_MAX_ROUTES], *route_paths[CB_HTTP_MAX_ROUTES];
    size_t route_count;
} cb_http_listener_args_t;

//  The zactor body (zactor_new (cb_http_listener_actor, args)). Takes
//  ownership of args: a heap cb_http_listener_args_t whose strings are
//  heap copies. Sends the startup message, serves until STOP or $TERM.
void cb_http_listener_actor (zsock_t *pipe, void *args);

//  {"error": message}, the body of every error either half answers; the
//  caller frees it. NULL when out of memory.
char *cb_http_error_json (const char *message);

#endif

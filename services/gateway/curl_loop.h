/*  curl_loop — libcurl's multi interface driven by a service's zloop.
 *
 *  libcurl says which sockets to watch (socket callback: a zloop poller per
 *  socket, replaced when the events change) and when to call it back (timer
 *  callback: one zloop timer); this file only relays. Easy handles come and
 *  go per transfer while the multi handle keeps connections alive between
 *  them (HTTP keep-alive). No thread, nothing blocks the reactor.
 *
 *  The process calls curl_global_init once before the first object.
 */
#ifndef GW_CURL_LOOP_H
#define GW_CURL_LOOP_H

#include <curl/curl.h>
#include <czmq.h>

typedef struct gw_curl_loop gw_curl_loop_t;

//  A transfer has ended with result (CURLE_OK: an answer came). Called on
//  the reactor, outside libcurl; the handle is still added: the callee
//  removes it (gw_curl_loop_remove) and may add others.
typedef void (gw_curl_done_fn) (CURL *easy, CURLcode result, void *arg);

//  NULL when libcurl refuses.
gw_curl_loop_t *gw_curl_loop_new (zloop_t *loop, gw_curl_done_fn *done, void *arg);
//  Remove every easy handle first; the loop must still be alive.
void gw_curl_loop_destroy (gw_curl_loop_t **self_p);

//  Starts easy (borrowed until removed). 0, or -1 when libcurl refused it.
int gw_curl_loop_add (gw_curl_loop_t *self, CURL *easy);
void gw_curl_loop_remove (gw_curl_loop_t *self, CURL *easy);

#endif

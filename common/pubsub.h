/*  pubsub — events and metric snapshots: PUB and SUB sockets that carry
 *  envelopes.
 *
 *  Either side may bind or connect: balance binds PUB and every cache SUB
 *  connects to it; every instance's snapshot PUB connects to every metrics
 *  instance, which binds SUB. Connecting sides follow a discovery spec.
 *  PUB/SUB may drop (high-water mark, reconnects), so events carry
 *  versions and their users never rely on seeing every one.
 */
#ifndef CB_PUBSUB_H
#define CB_PUBSUB_H

#include <czmq.h>
#include <stdbool.h>

#include "curve.h"
#include "envelope.h"

typedef struct cb_publisher cb_publisher_t;
typedef struct cb_subscriber cb_subscriber_t;

//  The callback gets an envelope it borrows for the duration of the call.
typedef void (cb_event_fn) (const Cordbank__Envelope *event, void *arg);

//  bind true: spec is one endpoint to bind; false: a discovery spec to
//  connect to (re-resolved every few seconds on loop). curve (borrowed, may
//  be NULL: no CURVE): the bound side is a CURVE server admitting the
//  allowed client keys, the connecting side a client. NULL on failure.
cb_publisher_t *cb_publisher_new (const char *spec, bool bind, cb_curve_t *curve, zloop_t *loop);
void cb_publisher_destroy (cb_publisher_t **self_p);
//  Sends env (borrowed) without blocking; dropped at the high-water mark.
int cb_publisher_send (cb_publisher_t *self, Cordbank__Envelope *env);

cb_subscriber_t *cb_subscriber_new (const char *spec, bool bind, cb_curve_t *curve, zloop_t *loop,
                                    cb_event_fn *fn, void *arg);
void cb_subscriber_destroy (cb_subscriber_t **self_p);

#endif

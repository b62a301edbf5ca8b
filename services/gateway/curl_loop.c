/*  curl_loop — libcurl's multi interface on a zloop (see curl_loop.h).
 *
 *  Handlers may change pollers and timers: zloop rebuilds its poll set
 *  after a handler that did, and a timer ended while already due can still
 *  fire once in the same iteration — which is why the timeout handler
 *  checks that its timer is still the current one.
 */
#include "curl_loop.h"

#include <assert.h>
#include <stdlib.h>

//  Connections kept open to one host (Discord: one), for requests in flight.
#define MAX_HOST_CONNECTIONS 32L

struct gw_curl_loop {
    zloop_t *loop; // borrowed
    CURLM *multi;
    int timer; // libcurl's timeout, -1 when none
    gw_curl_done_fn *done;
    void *arg;
};

//  Hands every finished transfer to the owner.
static void
check_done (gw_curl_loop_t *self)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read (self->multi, &left)))
        if (msg->msg == CURLMSG_DONE)
            self->done (msg->easy_handle, msg->data.result, self->arg);
}

static int
on_socket_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    gw_curl_loop_t *self = arg;
    int mask = (item->revents & ZMQ_POLLIN ? CURL_CSELECT_IN : 0) |
               (item->revents & ZMQ_POLLOUT ? CURL_CSELECT_OUT : 0) |
               (item->revents & ZMQ_POLLERR ? CURL_CSELECT_ERR : 0);
    int running;
    curl_multi_socket_action (self->multi, item->fd, mask, &running);
    check_done (self);
    return 0;
}

//  libcurl: watch fd for `what` now (or no more).
static int
on_curl_socket (CURL *easy, curl_socket_t fd, int what, void *arg, void *socket_arg)
{
    (void) easy;
    (void) socket_arg;
    gw_curl_loop_t *self = arg;
    zmq_pollitem_t item = {.socket = NULL, .fd = fd};
    zloop_poller_end (self->loop, &item);
    if (what == CURL_POLL_REMOVE)
        return 0;
    item.events =
        (short) ((what & CURL_POLL_IN ? ZMQ_POLLIN : 0) | (what & CURL_POLL_OUT ? ZMQ_POLLOUT : 0));
    if (zloop_poller (self->loop, &item, on_socket_ready, self) != 0)
        return -1;
    zloop_poller_set_tolerant (self->loop, &item);
    return 0;
}

static int
on_timeout (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    gw_curl_loop_t *self = arg;
    if (timer_id != self->timer)
        return 0; // ended while already due
    self->timer = -1;
    int running;
    curl_multi_socket_action (self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done (self);
    return 0;
}

//  libcurl: call back in timeout_ms (-1: never).
static int
on_curl_timer (CURLM *multi, long timeout_ms, void *arg)
{
    (void) multi;
    gw_curl_loop_t *self = arg;
    if (self->timer >= 0)
        zloop_timer_end (self->loop, self->timer);
    self->timer = -1;
    if (timeout_ms >= 0)
        self->timer = zloop_timer (self->loop, (size_t) (timeout_ms < 1 ? 1 : timeout_ms), 1,
                                   on_timeout, self);
    return timeout_ms >= 0 && self->timer < 0 ? -1 : 0;
}

gw_curl_loop_t *
gw_curl_loop_new (zloop_t *loop, gw_curl_done_fn *done, void *arg)
{
    assert (loop && done);
    gw_curl_loop_t *self = calloc (1, sizeof *self);
    assert (self);
    *self = (gw_curl_loop_t){.loop = loop, .timer = -1, .done = done, .arg = arg};
    self->multi = curl_multi_init ();
    if (!self->multi) {
        free (self);
        return NULL;
    }
    curl_multi_setopt (self->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt (self->multi, CURLMOPT_SOCKETDATA, self);
    curl_multi_setopt (self->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt (self->multi, CURLMOPT_TIMERDATA, self);
    curl_multi_setopt (self->multi, CURLMOPT_MAX_HOST_CONNECTIONS, MAX_HOST_CONNECTIONS);
    return self;
}

void
gw_curl_loop_destroy (gw_curl_loop_t **self_p)
{
    assert (self_p);
    gw_curl_loop_t *self = *self_p;
    if (!self)
        return;
    curl_multi_cleanup (self->multi); // closes the kept connections (their pollers go)
    if (self->timer >= 0)
        zloop_timer_end (self->loop, self->timer);
    free (self);
    *self_p = NULL;
}

int
gw_curl_loop_add (gw_curl_loop_t *self, CURL *easy)
{
    assert (self && easy);
    return curl_multi_add_handle (self->multi, easy) == CURLM_OK ? 0 : -1;
}

void
gw_curl_loop_remove (gw_curl_loop_t *self, CURL *easy)
{
    assert (self && easy);
    curl_multi_remove_handle (self->multi, easy);
}

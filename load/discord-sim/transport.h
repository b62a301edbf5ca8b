/*  transport — signed POSTs to the gateway over libcurl's multi interface.
 *
 *  One reactor for many requests in flight: up to `concurrency` easy
 *  handles, kept-alive connections in the multi handle's pool, and an
 *  epoll loop driven by curl's socket and timer callbacks. A timerfd lets
 *  the caller wake at a nanosecond deadline (the next scheduled send), so
 *  pacing and latency are not rounded to curl's millisecond timeouts.
 *  Single-threaded: every callback runs inside sim_transport_wait.
 */
#ifndef SIM_TRANSPORT_H
#define SIM_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    long status;       // HTTP status; 0 when no response arrived
    int curl_code;     // CURLE_OK, or why the transfer failed
    const char *error; // curl's error text when curl_code != 0
    const char *body;  // borrowed for the callback; NUL-terminated
    size_t body_len;
    int64_t done_ns; // cb_mono_ns () when the transfer finished
} sim_response_t;

typedef void (sim_response_fn) (const sim_response_t *response, void *arg);

typedef struct sim_transport sim_transport_t;

//  Checks that url is an http(s) URL; 0, or -1 with a reason in err.
int sim_transport_check_url (const char *url, char *err, size_t errlen);

//  A transport to url with at most `concurrency` requests in flight; each
//  one fails with CURLE_OPERATION_TIMEDOUT after timeout_ms. NULL on failure.
sim_transport_t *sim_transport_new (const char *url, size_t concurrency, long timeout_ms);
void sim_transport_destroy (sim_transport_t **self_p);

//  Starts a POST of body with the given header lines ("Name: value",
//  copied). Takes ownership of *body_p (freed with free()) and sets it to
//  NULL, even on failure. fn runs exactly once, from sim_transport_wait
//  or sim_transport_destroy (status 0, CURLE_ABORTED_BY_CALLBACK).
//  0, or -1 when no slot is free or libcurl refuses.
int sim_transport_post (sim_transport_t *self, char **body_p, size_t body_len,
                        const char *const *headers, size_t header_count, sim_response_fn *fn,
                        void *arg);

size_t sim_transport_in_flight (const sim_transport_t *self);
bool sim_transport_has_slot (const sim_transport_t *self);

//  Drives I/O until deadline_ns (cb_mono_ns time), a signal, or the first
//  batch of events, running callbacks for finished requests. Returns 0, or
//  -1 when epoll fails for good.
int sim_transport_wait (sim_transport_t *self, int64_t deadline_ns);

#endif

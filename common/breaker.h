/*  breaker — a circuit breaker around one dependency.
 *
 *  Closed: calls go through; `threshold` failures in a row open it. Open:
 *  calls are refused at once (the caller answers UNAVAILABLE instead of
 *  waiting on a dependency that is down), for a cool-down that doubles on
 *  every failed probe from `open_ms` up to `max_open_ms`, with full jitter
 *  so a fleet does not probe in step. Half-open: one probe is let through;
 *  its success closes the breaker, its failure opens it again.
 *
 *  The state is the gauge cordbank_breaker_state{target} (0 closed,
 *  1 open, 2 half-open) and every change is counted in
 *  cordbank_breaker_transitions_total{target,to} and logged once.
 *  Single-threaded: the owner's reactor thread only.
 */
#ifndef CB_BREAKER_H
#define CB_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

#include "metrics.h"

typedef enum {
    CB_BREAKER_CLOSED = 0,
    CB_BREAKER_OPEN = 1,
    CB_BREAKER_HALF_OPEN = 2
} cb_breaker_state_t;

typedef struct {
    const char *target; // metric label and log name ("postgres")
    uint32_t threshold; // failures in a row that open it
    int64_t open_ms;    // first cool-down
    int64_t max_open_ms;
    cb_breaker_state_t state;
    uint32_t failures;   // in a row
    uint32_t opened;     // cool-downs in a row, for the doubling
    int64_t retry_at_ms; // monotonic: when open turns half-open
    bool probing;        // half-open: the probe is out
    cb_metric_t *gauge;
    cb_metric_t *to_closed, *to_open, *to_half_open;
} cb_breaker_t;

//  target must outlive the breaker (a string literal).
void cb_breaker_init (cb_breaker_t *self, const char *target, uint32_t threshold, int64_t open_ms,
                      int64_t max_open_ms);
//  True when a call may go out now. Half-open lets one probe through and
//  refuses the rest until it reports.
bool cb_breaker_allow (cb_breaker_t *self);
void cb_breaker_success (cb_breaker_t *self);
void cb_breaker_failure (cb_breaker_t *self);
cb_breaker_state_t cb_breaker_state (const cb_breaker_t *self);
const char *cb_breaker_state_name (cb_breaker_state_t state);

#endif

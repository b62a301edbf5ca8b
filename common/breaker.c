/*  breaker — a circuit breaker around one dependency (see breaker.h).
 */
#include "common/breaker.h"

#include <assert.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/log.h"

static const char *const s_names[] = {"closed", "open", "half_open"};

const char *
cb_breaker_state_name (cb_breaker_state_t state)
{
    return state >= CB_BREAKER_CLOSED && state <= CB_BREAKER_HALF_OPEN ? s_names[state] : "unknown";
}

static cb_metric_t *
s_transitions (const char *target, const char *to)
{
    char labels[128];
    cb_metrics_labels (labels, sizeof labels, "target", target, "to", to, NULL);
    return cb_metrics_counter ("cordbank_breaker_transitions_total",
                               "Circuit breaker state changes, by dependency and new state.",
                               labels);
}

void
cb_breaker_init (cb_breaker_t *self, const char *target, uint32_t threshold, int64_t open_ms,
                 int64_t max_open_ms)
{
    assert (self && target && threshold > 0 && open_ms > 0 && max_open_ms >= open_ms);
    *self = (cb_breaker_t){
        .target = target, .threshold = threshold, .open_ms = open_ms, .max_open_ms = max_open_ms};
    char labels[96];
    cb_metrics_labels (labels, sizeof labels, "target", target, NULL);
    self->gauge =
        cb_metrics_gauge ("cordbank_breaker_state",
                          "Circuit breaker per dependency: 0 closed, 1 open, 2 half-open.", labels);
    self->to_closed = s_transitions (target, "closed");
    self->to_open = s_transitions (target, "open");
    self->to_half_open = s_transitions (target, "half_open");
    cb_gauge_set (self->gauge, CB_BREAKER_CLOSED);
}

static void
s_move (cb_breaker_t *self, cb_breaker_state_t to)
{
    if (self->state == to)
        return;
    cb_breaker_state_t from = self->state;
    self->state = to;
    cb_gauge_set (self->gauge, to);
    cb_counter_inc (to == CB_BREAKER_CLOSED ? self->to_closed
                    : to == CB_BREAKER_OPEN ? self->to_open
                                            : self->to_half_open);
    //  Logged once per outage: the first opening and the closing. Half-open
    //  and the re-openings after failed probes are in the metrics.
    if (to == CB_BREAKER_CLOSED || (to == CB_BREAKER_OPEN && from == CB_BREAKER_CLOSED))
        cb_log_info (NULL, to == CB_BREAKER_OPEN ? "breaker opened" : "breaker closed",
                     "{s:s, s:s, s:i}", "target", self->target, "from",
                     cb_breaker_state_name (from), "failures", (int) self->failures);
}

static void
s_open (cb_breaker_t *self)
{
    if (self->opened < 30)
        self->opened++;
    int64_t ceiling = cb_backoff_ceiling_ms (self->opened, self->open_ms, self->max_open_ms);
    //  Half the cool-down fixed, half jittered: never probe at once.
    self->retry_at_ms =
        cb_mono_ms () + ceiling / 2 + (int64_t) (cb_random01 () * (double) (ceiling / 2));
    self->probing = false;
    s_move (self, CB_BREAKER_OPEN);
}

bool
cb_breaker_allow (cb_breaker_t *self)
{
    assert (self);
    if (self->state == CB_BREAKER_OPEN && cb_mono_ms () >= self->retry_at_ms)
        s_move (self, CB_BREAKER_HALF_OPEN);
    if (self->state == CB_BREAKER_CLOSED)
        return true;
    if (self->state == CB_BREAKER_HALF_OPEN && !self->probing) {
        self->probing = true;
        return true;
    }
    return false;
}

void
cb_breaker_success (cb_breaker_t *self)
{
    assert (self);
    self->failures = 0;
    self->opened = 0;
    self->probing = false;
    s_move (self, CB_BREAKER_CLOSED);
}

void
cb_breaker_failure (cb_breaker_t *self)
{
    assert (self);
    if (self->failures < UINT32_MAX)
        self->failures++;
    if (self->state == CB_BREAKER_HALF_OPEN ||
        (self->state == CB_BREAKER_CLOSED && self->failures >= self->threshold))
        s_open (self);
}

cb_breaker_state_t
cb_breaker_state (const cb_breaker_t *self)
{
    assert (self);
    return self->state;
}

/*  alerts — in-process evaluation of the alert rules (see alerts.h; the
 *  rules themselves are in alert_rules.c).
 *
 *  A rule is a function that "emits" every alert instance whose condition
 *  holds now (labels, value, summary). The evaluator keeps a table of
 *  active instances: one emitted for the first time becomes pending,
 *  one pending for its rule's `for:` becomes firing, one not emitted in a
 *  round is resolved and dropped. The table is bounded (ALERTS_MAX): an
 *  emission beyond it is dropped and counted in the log once per round.
 */
#include "services/metrics/alerts.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/metrics.h"
#include "services/metrics/alert_rules.h"

#define ALERTS_MAX 1024

typedef struct {
    size_t rule;
    char labels[ALERT_LABELS_SIZE];
    char summary[ALERT_SUMMARY_MAX];
    double value;
    int64_t since_ms;
    bool firing;
    uint64_t seen_round;
} active_t;

struct alerts {
    int64_t for_override_ms;
    active_t *active;
    size_t count;
    uint64_t round;
    size_t dropped;
};

//  Looked up each time rather than kept: a handful of lookups every few
//  seconds, and no pointer into the registry to outlive it.
static cb_metric_t *
firing_gauge (size_t rule)
{
    char labels[128];
    cb_metrics_labels (labels, sizeof labels, "alertname", ALERT_RULES[rule].name, "severity",
                       ALERT_RULES[rule].severity, NULL);
    return cb_metrics_gauge ("cordbank_alert_firing",
                             "Alert instances firing by rule, as this metrics service evaluates "
                             "them.",
                             labels);
}

alerts_t *
alerts_new (int64_t for_override_ms)
{
    assert (ALERT_RULE_COUNT <= ALERT_RULES_MAX);
    alerts_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->for_override_ms = for_override_ms;
    self->active = calloc (ALERTS_MAX, sizeof *self->active);
    if (!self->active) {
        alerts_destroy (&self);
        return NULL;
    }
    for (size_t r = 0; r < ALERT_RULE_COUNT; r++)
        cb_gauge_set (firing_gauge (r), 0);
    return self;
}

void
alerts_destroy (alerts_t **self_p)
{
    assert (self_p);
    alerts_t *self = *self_p;
    if (self) {
        free (self->active);
        free (self);
        *self_p = NULL;
    }
}

//  One alert instance whose condition holds now.
void
alert_emit (alert_eval_t *ev, const char *labels, double value, const char *summary)
{
    alerts_t *self = ev->alerts;
    active_t *a = NULL;
    for (size_t i = 0; i < self->count && !a; i++)
        if (self->active[i].rule == ev->rule && strcmp (self->active[i].labels, labels) == 0)
            a = &self->active[i];
    if (!a) {
        if (self->count == ALERTS_MAX) {
            self->dropped++;
            return;
        }
        a = &self->active[self->count++];
        *a = (active_t){.rule = ev->rule, .since_ms = ev->now_ms};
        snprintf (a->labels, sizeof a->labels, "%s", labels);
    }
    a->value = value;
    a->seen_round = self->round;
    snprintf (a->summary, sizeof a->summary, "%s", summary);
}

static int64_t
for_ms (const alerts_t *self, size_t rule)
{
    return self->for_override_ms >= 0 ? self->for_override_ms : ALERT_RULES[rule].for_ms;
}

static void
log_change (const active_t *a, const char *msg)
{
    const alert_rule_t *r = &ALERT_RULES[a->rule];
    if (a->firing)
        cb_log_warn (NULL, msg, "{s:s, s:s, s:s, s:s}", "alertname", r->name, "severity",
                     r->severity, "labels", a->labels, "summary", a->summary);
    else
        cb_log_info (NULL, msg, "{s:s, s:s, s:s}", "alertname", r->name, "severity", r->severity,
                     "labels", a->labels);
}

//  Drops what was not emitted this round, promotes what waited long enough.
static size_t
settle (alerts_t *self, int64_t now_ms)
{
    size_t kept = 0, firing = 0;
    size_t per_rule[ALERT_RULES_MAX] = {0};
    for (size_t i = 0; i < self->count; i++) {
        active_t *a = &self->active[i];
        if (a->seen_round != self->round) {
            if (a->firing) {
                a->firing = false;
                log_change (a, "alert resolved");
            }
            continue;
        }
        if (!a->firing && now_ms - a->since_ms >= for_ms (self, a->rule)) {
            a->firing = true;
            log_change (a, "alert firing");
        }
        firing += a->firing;
        per_rule[a->rule] += a->firing;
        self->active[kept++] = *a;
    }
    self->count = kept;
    for (size_t r = 0; r < ALERT_RULE_COUNT; r++)
        cb_gauge_set (firing_gauge (r), (double) per_rule[r]);
    return firing;
}

size_t
alerts_evaluate (alerts_t *self, const aggregate_t *aggregate, const history_t *history,
                 int64_t now_ms, double now_unix_s)
{
    assert (self && aggregate && history);
    self->round++;
    self->dropped = 0;
    alert_eval_t ev = {self, 0, aggregate, history, now_ms, now_unix_s};
    for (ev.rule = 0; ev.rule < ALERT_RULE_COUNT; ev.rule++)
        ALERT_RULES[ev.rule].fn (&ev);
    if (self->dropped)
        cb_log_warn (NULL, "too many active alerts: some left out", "{s:I, s:I}", "max",
                     (json_int_t) ALERTS_MAX, "left_out", (json_int_t) self->dropped);
    return settle (self, now_ms);
}

static int
severity_rank (const char *severity)
{
    return strcmp (severity, "page") == 0 ? 0 : 1;
}

void
alerts_each (const alerts_t *self, alerts_each_fn *fn, void *arg)
{
    assert (self && fn);
    //  Four passes over a short table: firing page, firing ticket, pending page, pending ticket.
    for (int pass = 0; pass < 4; pass++)
        for (size_t i = 0; i < self->count; i++) {
            const active_t *a = &self->active[i];
            const alert_rule_t *r = &ALERT_RULES[a->rule];
            if (a->firing != (pass < 2) || severity_rank (r->severity) != pass % 2)
                continue;
            alert_view_t view = {r->name,  r->severity, a->labels, a->summary,
                                 a->value, a->since_ms, a->firing};
            fn (&view, arg);
        }
}

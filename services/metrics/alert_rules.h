/*  alert_rules — the conditions of deploy/prometheus/rules/, one function
 *  each, and the table alerts.c evaluates them from.
 *
 *  Private to the metrics service's alerts (alerts.h is the API): a rule
 *  looks at the aggregate and the history in an alert_eval_t and calls
 *  alert_emit for every alert instance whose condition holds now; the
 *  evaluator (alerts.c) turns that into pending, firing and resolved.
 */
#ifndef METRICS_ALERT_RULES_H
#define METRICS_ALERT_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "services/metrics/alerts.h"

#define ALERT_LABELS_SIZE 512
#define ALERT_SUMMARY_MAX 256
#define ALERT_RULES_MAX   32 // ALERT_RULE_COUNT is at most this

//  What a rule sees while it is evaluated.
typedef struct {
    alerts_t *alerts;
    size_t rule; // index in ALERT_RULES
    const aggregate_t *aggregate;
    const history_t *history;
    int64_t now_ms;
    double now_unix_s;
} alert_eval_t;

typedef void (alert_rule_fn) (alert_eval_t *ev);

typedef enum { SLO_AVAILABILITY, SLO_LATENCY } slo_kind_t;

typedef struct {
    const char *name, *severity;
    int64_t for_ms; // Prometheus' for:
    alert_rule_fn *fn;
    //  SLO burn rules only (and the cache rule's window and threshold).
    slo_kind_t kind;
    int64_t long_ms, short_ms;
    double threshold;
} alert_rule_t;

extern const alert_rule_t ALERT_RULES[];
extern const size_t ALERT_RULE_COUNT;

//  Called by a rule: the alert instance with these labels (label text)
//  holds now, with value and a one-line summary. Defined in alerts.c.
void alert_emit (alert_eval_t *ev, const char *labels, double value, const char *summary);

#endif

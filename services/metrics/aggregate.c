/*  aggregate — the latest snapshot of every instance (see aggregate.h).
 *
 *  Instances live in an array sorted by (service, instance): finding one
 *  is a binary search (once per snapshot, about once a second per
 *  instance), inserting one is rare, and the render comes out in a stable
 *  order. A snapshot is kept as a deep copy, since the envelope it came in
 *  belongs to the subscriber and is freed when the callback returns.
 *
 *  The per-instance families (up, age) are built as one more snapshot and
 *  go through the same renderer as everything else, so they are sorted,
 *  checked and written the same way.
 */
#include "services/metrics/aggregate.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/metrics.h"

//  service="..",instance=".." with both names fully escaped (2 bytes per byte at most).
#define LABELS_MAX (4 * AGGREGATE_NAME_MAX + 32)

typedef struct {
    char *service, *instance;
    char *labels; // service="..",instance=".."
    Cordbank__MetricsSnapshot *snapshot;
    int64_t received_ms;
    bool reported_down;
} instance_t;

struct aggregate {
    int64_t down_after_ms, forget_after_ms;
    instance_t **instances; // sorted by service, then instance
    size_t count, cap;
    aggregate_forget_fn *forget_fn;
    void *forget_arg;
};

aggregate_t *
aggregate_new (int64_t down_after_ms, int64_t forget_after_ms)
{
    assert (down_after_ms > 0 && forget_after_ms >= down_after_ms);
    aggregate_t *self = calloc (1, sizeof *self);
    if (self) {
        self->down_after_ms = down_after_ms;
        self->forget_after_ms = forget_after_ms;
    }
    return self;
}

static void
instance_destroy (instance_t **entry_p)
{
    instance_t *entry = *entry_p;
    if (entry) {
        cb_metrics_snapshot_free (&entry->snapshot);
        free (entry->service);
        free (entry->instance);
        free (entry->labels);
        free (entry);
        *entry_p = NULL;
    }
}

void
aggregate_destroy (aggregate_t **self_p)
{
    assert (self_p);
    aggregate_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->count; i++)
            instance_destroy (&self->instances[i]);
        free (self->instances);
        free (self);
        *self_p = NULL;
    }
}

static bool
is_up (const aggregate_t *self, const instance_t *entry, int64_t now_ms)
{
    return now_ms - entry->received_ms < self->down_after_ms;
}

//  Sender names come off the wire: they become label values and log fields.
static bool
name_ok (const char *name)
{
    size_t len = name ? strlen (name) : 0;
    if (len == 0 || len > AGGREGATE_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) name[i] < 0x20 || name[i] == 0x7F)
            return false;
    return true;
}

//  Index of (service, instance), or where it would be inserted.
static size_t
find (const aggregate_t *self, const char *service, const char *instance, bool *found)
{
    size_t lo = 0, hi = self->count;
    *found = false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int order = strcmp (self->instances[mid]->service, service);
        if (order == 0)
            order = strcmp (self->instances[mid]->instance, instance);
        if (order == 0) {
            *found = true;
            return mid;
        }
        if (order < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static instance_t *
instance_insert (aggregate_t *self, size_t at, const char *service, const char *instance)
{
    if (self->count == AGGREGATE_INSTANCES_MAX)
        return NULL;
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        instance_t **instances = realloc (self->instances, cap * sizeof *instances);
        if (!instances)
            return NULL;
        self->instances = instances;
        self->cap = cap;
    }
    instance_t *entry = calloc (1, sizeof *entry);
    if (!entry)
        return NULL;
    entry->service = strdup (service);
    entry->instance = strdup (instance);
    entry->labels = malloc (LABELS_MAX);
    if (!entry->service || !entry->instance || !entry->labels) {
        instance_destroy (&entry);
        return NULL;
    }
    cb_metrics_labels (entry->labels, LABELS_MAX, "service", service, "instance", instance, NULL);
    memmove (self->instances + at + 1, self->instances + at,
             (self->count - at) * sizeof *self->instances);
    self->instances[at] = entry;
    self->count++;
    return entry;
}

int
aggregate_update (aggregate_t *self, const char *service, const char *instance,
                  const Cordbank__MetricsSnapshot *snapshot, int64_t now_ms)
{
    assert (self && snapshot);
    if (!name_ok (service) || !name_ok (instance))
        return -1;
    Cordbank__MetricsSnapshot *copy = cb_metrics_snapshot_copy (snapshot);
    if (!copy)
        return -1;
    bool found;
    size_t at = find (self, service, instance, &found);
    instance_t *entry = found ? self->instances[at] : instance_insert (self, at, service, instance);
    if (!entry) {
        cb_metrics_snapshot_free (&copy);
        return -1;
    }
    bool was_up = found && is_up (self, entry, now_ms);
    cb_metrics_snapshot_free (&entry->snapshot);
    entry->snapshot = copy;
    entry->received_ms = now_ms;
    entry->reported_down = false;
    if (!was_up)
        cb_log_info (NULL, found ? "instance is back" : "new instance", "{s:s, s:s}",
                     "sender_service", service, "sender_instance", instance);
    return was_up ? 0 : 1;
}

size_t
aggregate_expire (aggregate_t *self, int64_t now_ms)
{
    assert (self);
    size_t kept = 0, forgotten = 0;
    for (size_t i = 0; i < self->count; i++) {
        instance_t *entry = self->instances[i];
        int64_t silent_ms = now_ms - entry->received_ms;
        if (silent_ms >= self->forget_after_ms) {
            cb_log_info (NULL, "forgot instance", "{s:s, s:s, s:I}", "sender_service",
                         entry->service, "sender_instance", entry->instance, "silent_ms",
                         (json_int_t) silent_ms);
            if (self->forget_fn)
                self->forget_fn (entry->service, entry->instance, self->forget_arg);
            instance_destroy (&entry);
            forgotten++;
            continue;
        }
        if (!is_up (self, entry, now_ms) && !entry->reported_down) {
            cb_log_warn (NULL, "instance down: no snapshot", "{s:s, s:s, s:I}", "sender_service",
                         entry->service, "sender_instance", entry->instance, "silent_ms",
                         (json_int_t) silent_ms);
            entry->reported_down = true;
        }
        self->instances[kept++] = entry;
    }
    self->count = kept;
    return forgotten;
}

size_t
aggregate_size (const aggregate_t *self, int64_t now_ms, size_t *up)
{
    assert (self);
    if (up) {
        *up = 0;
        for (size_t i = 0; i < self->count; i++)
            *up += is_up (self, self->instances[i], now_ms);
    }
    return self->count;
}

void
aggregate_each (const aggregate_t *self, int64_t now_ms, aggregate_each_fn *fn, void *arg)
{
    assert (self && fn);
    for (size_t i = 0; i < self->count; i++) {
        const instance_t *entry = self->instances[i];
        fn (entry->service, entry->instance, entry->snapshot, is_up (self, entry, now_ms),
            (double) (now_ms - entry->received_ms) / 1000.0, arg);
    }
}

void
aggregate_on_forget (aggregate_t *self, aggregate_forget_fn *fn, void *arg)
{
    assert (self);
    self->forget_fn = fn;
    self->forget_arg = arg;
}

//  cordbank_instance_up and _last_snapshot_age_seconds, one sample per
//  instance, in arrays the caller frees (samples borrow the labels).
typedef struct {
    Cordbank__MetricsSnapshot snapshot;
    Cordbank__MetricFamily up, age;
    Cordbank__MetricFamily *families[2];
    Cordbank__MetricSample *samples;   // 2 per instance
    Cordbank__MetricSample **pointers; // 2 per instance
} instance_families_t;

static int
instance_families_build (instance_families_t *out, const aggregate_t *self, int64_t now_ms)
{
    size_t n = self->count;
    out->samples = calloc (2 * n + 1, sizeof *out->samples);
    out->pointers = calloc (2 * n + 1, sizeof *out->pointers);
    if (!out->samples || !out->pointers)
        return -1;
    Cordbank__MetricFamily *families[] = {&out->up, &out->age};
    const char *names[] = {"cordbank_instance_up", "cordbank_instance_last_snapshot_age_seconds"};
    const char *helps[] = {"1 while the instance's snapshots arrive, 0 once none came for "
                           "down-after-ms.",
                           "Seconds since the instance's last snapshot arrived."};
    for (size_t f = 0; f < 2; f++) {
        cordbank__metric_family__init (families[f]);
        families[f]->name = (char *) names[f];
        families[f]->help = (char *) helps[f];
        families[f]->type = CORDBANK__METRIC_TYPE__METRIC_TYPE_GAUGE;
        families[f]->samples = out->pointers + f * n;
        families[f]->n_samples = n;
        out->families[f] = families[f];
        for (size_t i = 0; i < n; i++) {
            const instance_t *entry = self->instances[i];
            Cordbank__MetricSample *sample = &out->samples[f * n + i];
            cordbank__metric_sample__init (sample);
            sample->labels = entry->labels;
            sample->value = f == 0 ? is_up (self, entry, now_ms)
                                   : (double) (now_ms - entry->received_ms) / 1000.0;
            out->pointers[f * n + i] = sample;
        }
    }
    cordbank__metrics_snapshot__init (&out->snapshot);
    out->snapshot.families = out->families;
    out->snapshot.n_families = 2;
    return 0;
}

char *
aggregate_render (const aggregate_t *self, int64_t now_ms, size_t *skipped)
{
    assert (self);
    instance_families_t own = {0};
    cb_metrics_source_t *sources = calloc (self->count + 1, sizeof *sources);
    char *text = NULL;
    if (sources && instance_families_build (&own, self, now_ms) == 0) {
        size_t n = 0;
        for (size_t i = 0; i < self->count; i++)
            if (is_up (self, self->instances[i], now_ms))
                sources[n++] =
                    (cb_metrics_source_t){self->instances[i]->snapshot, self->instances[i]->labels};
        sources[n++] = (cb_metrics_source_t){&own.snapshot, NULL};
        text = cb_metrics_render_snapshots (sources, n, skipped);
    }
    free (own.samples);
    free (own.pointers);
    free (sources);
    return text;
}

/*  metrics — the process-wide registry (see metrics.h).
 *
 *  Families group the series of one name (type, help, histogram bounds).
 *  Two hash tables find a family by name and a series by name + label
 *  text in O(1): label sets built per request are looked up per request.
 *  The family list and each family's series are kept sorted (insertion is
 *  rare), so a snapshot comes out in order without sorting.
 *
 *  Values are C11 atomics updated without a lock. A counter's or gauge's
 *  double lives as its bit pattern in an atomic uint64 and is added to
 *  with a compare-and-swap loop. A histogram keeps one atomic count per
 *  bucket, not cumulative (an observation touches one bucket), and its
 *  sum; its count is the sum of its buckets, so _count always equals the
 *  +Inf bucket even while observations race a snapshot.
 *
 *  The mutex guards the tables and lists: registration, lookup, snapshot
 *  and reset. A series lives until cb_metrics_reset, since its users keep
 *  the pointer for good.
 */
#include "common/metrics.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

const double CB_LATENCY_BUCKETS[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                     0.1,    0.25,  0.5,    1,     2.5,  5,     10};
const size_t CB_LATENCY_BUCKETS_COUNT = sizeof CB_LATENCY_BUCKETS / sizeof CB_LATENCY_BUCKETS[0];

//  A hash table entry, the first member of a family or a series.
typedef struct node {
    const char *name;
    const char *labels; // "" for a family
    uint64_t hash;
    struct node *next;
} node_t;

typedef struct {
    node_t **slots; // a power of two of them
    size_t slot_count, count;
} table_t;

typedef struct {
    node_t node;
    char *name, *help;
    Cordbank__MetricType type;
    double *bounds;
    size_t bound_count;
    cb_metric_t **series; // sorted by label text
    size_t series_count, series_cap;
} family_t;

struct cb_metric {
    node_t node;
    family_t *family;
    char *labels;
    _Atomic uint64_t value;    // bits of a double: counter/gauge value, histogram sum
    _Atomic uint64_t *buckets; // histogram: bound_count + 1 (+Inf last), not cumulative
};

static struct {
    pthread_mutex_t mutex;
    table_t families, series;
    family_t **list; // sorted by name
    size_t count, cap;
} s_registry = {.mutex = PTHREAD_MUTEX_INITIALIZER};

//  The slowest request since the last snapshot (see cb_metrics_exemplar_offer).
static struct {
    pthread_mutex_t mutex;
    char trace_id[64];
    char what[64];
    double seconds;
} s_exemplar = {.mutex = PTHREAD_MUTEX_INITIALIZER};

//  FNV-1a over name, a separator no name contains, and labels.
static uint64_t
hash_key (const char *name, const char *labels)
{
    uint64_t hash = 14695981039346656037ULL;
    for (const char *p = name; *p; p++)
        hash = (hash ^ (unsigned char) *p) * 1099511628211ULL;
    hash = (hash ^ 0xFF) * 1099511628211ULL;
    for (const char *p = labels; *p; p++)
        hash = (hash ^ (unsigned char) *p) * 1099511628211ULL;
    return hash;
}

static node_t *
table_find (const table_t *table, const char *name, const char *labels, uint64_t hash)
{
    if (table->slot_count == 0)
        return NULL;
    for (node_t *node = table->slots[hash & (table->slot_count - 1)]; node; node = node->next)
        if (node->hash == hash && strcmp (node->name, name) == 0 &&
            strcmp (node->labels, labels) == 0)
            return node;
    return NULL;
}

//  Makes room for one more node (load factor <= 3/4); -1 when out of memory.
static int
table_reserve (table_t *table)
{
    if ((table->count + 1) * 4 <= table->slot_count * 3)
        return 0;
    size_t slot_count = table->slot_count ? table->slot_count * 2 : 64;
    node_t **slots = calloc (slot_count, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < table->slot_count; i++)
        for (node_t *node = table->slots[i], *next; node; node = next) {
            next = node->next;
            node->next = slots[node->hash & (slot_count - 1)];
            slots[node->hash & (slot_count - 1)] = node;
        }
    free (table->slots);
    table->slots = slots;
    table->slot_count = slot_count;
    return 0;
}

//  After table_reserve.
static void
table_insert (table_t *table, node_t *node)
{
    node_t **slot = &table->slots[node->hash & (table->slot_count - 1)];
    node->next = *slot;
    *slot = node;
    table->count++;
}

//  The array with room for one more element: itself, or a grown copy
//  (NULL when out of memory; the old one is then left as it was).
static void *
array_grow (void *array, size_t count, size_t *cap, size_t size)
{
    if (count < *cap)
        return array;
    size_t new_cap = *cap ? *cap * 2 : 16;
    void *grown = realloc (array, new_cap * size);
    if (grown)
        *cap = new_cap;
    return grown;
}

//  Inserts the element at item into a sorted array that has room for it.
//  compare gets pointers to elements, as qsort's does.
static void
array_insert_sorted (void *array, size_t *count, size_t size, const void *item,
                     int (*compare) (const void *, const void *))
{
    char *base = array;
    size_t lo = 0, hi = *count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (compare (base + mid * size, item) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove (base + (lo + 1) * size, base + lo * size, (*count - lo) * size);
    memcpy (base + lo * size, item, size);
    (*count)++;
}

static int
family_compare (const void *a, const void *b)
{
    return strcmp ((*(family_t *const *) a)->name, (*(family_t *const *) b)->name);
}

static int
series_compare (const void *a, const void *b)
{
    return strcmp ((*(cb_metric_t *const *) a)->labels, (*(cb_metric_t *const *) b)->labels);
}

static void
family_free (family_t *family)
{
    for (size_t i = 0; i < family->series_count; i++) {
        free (family->series[i]->labels);
        free (family->series[i]->buckets);
        free (family->series[i]);
    }
    free (family->series);
    free (family->name);
    free (family->help);
    free (family->bounds);
    free (family);
}

static void
assert_same_kind (const family_t *family, Cordbank__MetricType type, const double *bounds,
                  size_t bound_count)
{
    assert (family->type == type);
    if (type == CORDBANK__METRIC_TYPE__METRIC_TYPE_HISTOGRAM) {
        assert (family->bound_count == bound_count);
        assert (bound_count == 0 ||
                memcmp (family->bounds, bounds, bound_count * sizeof *bounds) == 0);
    }
    (void) family, (void) type, (void) bounds, (void) bound_count;
}

static family_t *
family_create (const char *name, const char *help, Cordbank__MetricType type, const double *bounds,
               size_t bound_count, uint64_t hash)
{
    assert (cb_metrics_name_valid (name));
    for (size_t i = 0; i < bound_count; i++)
        assert (isfinite (bounds[i]) && (i == 0 || bounds[i] > bounds[i - 1]));
    if (table_reserve (&s_registry.families))
        return NULL;
    family_t **list = array_grow (s_registry.list, s_registry.count, &s_registry.cap, sizeof *list);
    if (!list)
        return NULL;
    s_registry.list = list;
    family_t *family = calloc (1, sizeof *family);
    if (!family)
        return NULL;
    family->name = strdup (name);
    family->help = strdup (help ? help : "");
    family->type = type;
    family->bound_count = bound_count;
    family->bounds = calloc (bound_count ? bound_count : 1, sizeof *bounds);
    if (!family->name || !family->help || !family->bounds) {
        family_free (family);
        return NULL;
    }
    if (bound_count)
        memcpy (family->bounds, bounds, bound_count * sizeof *bounds);
    family->node = (node_t){family->name, "", hash, NULL};
    table_insert (&s_registry.families, &family->node);
    array_insert_sorted (s_registry.list, &s_registry.count, sizeof family, &family,
                         family_compare);
    return family;
}

static cb_metric_t *
series_create (family_t *family, const char *labels, uint64_t hash)
{
    assert (cb_metrics_labels_valid (labels));
    //  In valid label text a value's quotes are escaped, so `le="` can only
    //  be a label name: at the start or after a comma.
    assert (family->type != CORDBANK__METRIC_TYPE__METRIC_TYPE_HISTOGRAM ||
            (strncmp (labels, "le=\"", 4) != 0 && !strstr (labels, ",le=\"")));
    if (table_reserve (&s_registry.series))
        return NULL;
    cb_metric_t **series =
        array_grow (family->series, family->series_count, &family->series_cap, sizeof *series);
    if (!series)
        return NULL;
    family->series = series;
    cb_metric_t *metric = calloc (1, sizeof *metric);
    if (!metric)
        return NULL;
    metric->family = family;
    metric->labels = strdup (labels);
    atomic_init (&metric->value, 0);
    if (family->type == CORDBANK__METRIC_TYPE__METRIC_TYPE_HISTOGRAM) {
        metric->buckets = calloc (family->bound_count + 1, sizeof *metric->buckets);
        for (size_t i = 0; metric->buckets && i <= family->bound_count; i++)
            atomic_init (&metric->buckets[i], 0);
    }
    if (!metric->labels ||
        (family->type == CORDBANK__METRIC_TYPE__METRIC_TYPE_HISTOGRAM && !metric->buckets)) {
        free (metric->labels);
        free (metric->buckets);
        free (metric);
        return NULL;
    }
    metric->node = (node_t){family->name, metric->labels, hash, NULL};
    table_insert (&s_registry.series, &metric->node);
    array_insert_sorted (family->series, &family->series_count, sizeof metric, &metric,
                         series_compare);
    return metric;
}

//  The series for name + labels, created on first use; NULL when out of memory.
static cb_metric_t *
metrics_get (const char *name, const char *help, const char *labels, Cordbank__MetricType type,
             const double *bounds, size_t bound_count)
{
    assert (name);
    assert (bounds || bound_count == 0);
    labels = labels ? labels : "";
    uint64_t hash = hash_key (name, labels);
    pthread_mutex_lock (&s_registry.mutex);
    cb_metric_t *metric = (cb_metric_t *) table_find (&s_registry.series, name, labels, hash);
    if (metric)
        assert_same_kind (metric->family, type, bounds, bound_count);
    else {
        uint64_t family_hash = hash_key (name, "");
        family_t *family = (family_t *) table_find (&s_registry.families, name, "", family_hash);
        if (family)
            assert_same_kind (family, type, bounds, bound_count);
        else
            family = family_create (name, help, type, bounds, bound_count, family_hash);
        metric = family ? series_create (family, labels, hash) : NULL;
    }
    pthread_mutex_unlock (&s_registry.mutex);
    return metric;
}

cb_metric_t *
cb_metrics_counter (const char *name, const char *help, const char *labels)
{
    return metrics_get (name, help, labels, CORDBANK__METRIC_TYPE__METRIC_TYPE_COUNTER, NULL, 0);
}

cb_metric_t *
cb_metrics_gauge (const char *name, const char *help, const char *labels)
{
    return metrics_get (name, help, labels, CORDBANK__METRIC_TYPE__METRIC_TYPE_GAUGE, NULL, 0);
}

cb_metric_t *
cb_metrics_histogram (const char *name, const char *help, const char *labels, const double *bounds,
                      size_t bound_count)
{
    return metrics_get (name, help, labels, CORDBANK__METRIC_TYPE__METRIC_TYPE_HISTOGRAM, bounds,
                        bound_count);
}

static double
bits_double (uint64_t bits)
{
    double value;
    memcpy (&value, &bits, sizeof value);
    return value;
}

static uint64_t
double_bits (double value)
{
    uint64_t bits;
    memcpy (&bits, &value, sizeof bits);
    return bits;
}

static void
atomic_add_double (_Atomic uint64_t *target, double delta)
{
    uint64_t old = atomic_load_explicit (target, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit (target, &old,
                                                   double_bits (bits_double (old) + delta),
                                                   memory_order_relaxed, memory_order_relaxed))
        ;
}

//  A NULL metric (its registration ran out of memory) is ignored by the
//  updates below, so callers may chain cb_counter_inc (cb_metrics_counter (...)).
void
cb_counter_add (cb_metric_t *metric, double delta)
{
    if (!metric)
        return;
    assert (metric->family->type == CORDBANK__METRIC_TYPE__METRIC_TYPE_COUNTER);
    assert (!(delta < 0));
    atomic_add_double (&metric->value, delta);
}

void
cb_counter_inc (cb_metric_t *metric)
{
    cb_counter_add (metric, 1);
}

void
cb_counter_set (cb_metric_t *metric, double total)
{
    if (!metric)
        return;
    assert (metric->family->type == CORDBANK__METRIC_TYPE__METRIC_TYPE_COUNTER);
    atomic_store_explicit (&metric->value, double_bits (total), memory_order_relaxed);
}

void
cb_gauge_set (cb_metric_t *metric, double value)
{
    if (!metric)
        return;
    assert (metric->family->type == CORDBANK__METRIC_TYPE__METRIC_TYPE_GAUGE);
    atomic_store_explicit (&metric->value, double_bits (value), memory_order_relaxed);
}

void
cb_gauge_add (cb_metric_t *metric, double delta)
{
    if (!metric)
        return;
    assert (metric->family->type == CORDBANK__METRIC_TYPE__METRIC_TYPE_GAUGE);
    atomic_add_double (&metric->value, delta);
}

void
cb_histogram_observe (cb_metric_t *metric, double value)
{
    if (!metric)
        return;
    const family_t *family = metric->family;
    assert (family->type == CORDBANK__METRIC_TYPE__METRIC_TYPE_HISTOGRAM);
    //  The first bound >= value; NaN compares false everywhere: +Inf.
    size_t lo = 0, hi = family->bound_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (value <= family->bounds[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    atomic_fetch_add_explicit (&metric->buckets[lo], 1, memory_order_relaxed);
    atomic_add_double (&metric->value, value);
}

double
cb_metric_value (const cb_metric_t *metric)
{
    assert (metric);
    return bits_double (atomic_load_explicit (&metric->value, memory_order_relaxed));
}

uint64_t
cb_histogram_bucket (const cb_metric_t *metric, size_t index)
{
    assert (metric && metric->buckets);
    assert (index <= metric->family->bound_count);
    uint64_t total = 0;
    for (size_t i = 0; i <= index; i++)
        total += atomic_load_explicit (&metric->buckets[i], memory_order_relaxed);
    return total;
}

uint64_t
cb_histogram_count (const cb_metric_t *metric)
{
    assert (metric && metric->buckets);
    return cb_histogram_bucket (metric, metric->family->bound_count);
}

static int
copy_string (char **target, const char *source)
{
    *target = strdup (source);
    return *target ? 0 : -1;
}

//  A sample message for series; -1 when out of memory (what was built is
//  already attached to the message, for cb_metrics_snapshot_free).
static int
sample_fill (Cordbank__MetricSample *sample, const cb_metric_t *series)
{
    if (copy_string (&sample->labels, series->labels))
        return -1;
    sample->value = cb_metric_value (series);
    if (!series->buckets)
        return 0;
    size_t bound_count = series->family->bound_count;
    sample->bucket_counts = calloc (bound_count ? bound_count : 1, sizeof *sample->bucket_counts);
    if (!sample->bucket_counts)
        return -1;
    sample->n_bucket_counts = bound_count;
    uint64_t total = 0;
    for (size_t i = 0; i <= bound_count; i++) {
        total += atomic_load_explicit (&series->buckets[i], memory_order_relaxed);
        if (i < bound_count)
            sample->bucket_counts[i] = total;
    }
    sample->count = total;
    sample->sum = sample->value;
    sample->value = 0;
    return 0;
}

static int
family_fill (Cordbank__MetricFamily *message, const family_t *family)
{
    if (copy_string (&message->name, family->name) || copy_string (&message->help, family->help))
        return -1;
    message->type = family->type;
    if (family->bound_count) {
        message->bounds = malloc (family->bound_count * sizeof *message->bounds);
        if (!message->bounds)
            return -1;
        memcpy (message->bounds, family->bounds, family->bound_count * sizeof *message->bounds);
        message->n_bounds = family->bound_count;
    }
    message->samples =
        calloc (family->series_count ? family->series_count : 1, sizeof *message->samples);
    if (!message->samples)
        return -1;
    for (size_t i = 0; i < family->series_count; i++) {
        Cordbank__MetricSample *sample = malloc (sizeof *sample);
        if (!sample)
            return -1;
        cordbank__metric_sample__init (sample);
        message->samples[message->n_samples++] = sample;
        if (sample_fill (sample, family->series[i]))
            return -1;
    }
    return 0;
}

//  Under the registry mutex.
static int
snapshot_fill (Cordbank__MetricsSnapshot *snapshot)
{
    snapshot->families =
        calloc (s_registry.count ? s_registry.count : 1, sizeof *snapshot->families);
    if (!snapshot->families)
        return -1;
    for (size_t i = 0; i < s_registry.count; i++) {
        Cordbank__MetricFamily *family = malloc (sizeof *family);
        if (!family)
            return -1;
        cordbank__metric_family__init (family);
        snapshot->families[snapshot->n_families++] = family;
        if (family_fill (family, s_registry.list[i]))
            return -1;
    }
    return 0;
}

Cordbank__MetricsSnapshot *
cb_metrics_snapshot (void)
{
    cb_metrics_process_update ();
    Cordbank__MetricsSnapshot *snapshot = malloc (sizeof *snapshot);
    if (!snapshot)
        return NULL;
    cordbank__metrics_snapshot__init (snapshot);
    snapshot->unix_ms = cb_now_ms ();
    pthread_mutex_lock (&s_exemplar.mutex);
    snapshot->slowest_trace_id = strdup (s_exemplar.trace_id);
    snapshot->slowest_what = strdup (s_exemplar.what);
    snapshot->slowest_seconds = s_exemplar.seconds;
    s_exemplar.trace_id[0] = s_exemplar.what[0] = '\0';
    s_exemplar.seconds = 0;
    pthread_mutex_unlock (&s_exemplar.mutex);
    if (!snapshot->slowest_trace_id || !snapshot->slowest_what) {
        cb_metrics_snapshot_free (&snapshot);
        return NULL;
    }
    pthread_mutex_lock (&s_registry.mutex);
    int rc = snapshot_fill (snapshot);
    pthread_mutex_unlock (&s_registry.mutex);
    if (rc)
        cb_metrics_snapshot_free (&snapshot);
    return snapshot;
}

void
cb_metrics_exemplar_offer (const char *trace_id, const char *what, double seconds)
{
    if (!trace_id || !*trace_id)
        return;
    pthread_mutex_lock (&s_exemplar.mutex);
    if (seconds >= s_exemplar.seconds) {
        snprintf (s_exemplar.trace_id, sizeof s_exemplar.trace_id, "%s", trace_id);
        snprintf (s_exemplar.what, sizeof s_exemplar.what, "%s", what ? what : "");
        s_exemplar.seconds = seconds;
    }
    pthread_mutex_unlock (&s_exemplar.mutex);
}

//  Packing and unpacking again is the deep copy protobuf-c offers, and
//  leaves a message that cordbank__metrics_snapshot__free_unpacked frees.
Cordbank__MetricsSnapshot *
cb_metrics_snapshot_copy (const Cordbank__MetricsSnapshot *snapshot)
{
    assert (snapshot);
    size_t size = cordbank__metrics_snapshot__get_packed_size (snapshot);
    uint8_t *bytes = malloc (size ? size : 1);
    if (!bytes)
        return NULL;
    cordbank__metrics_snapshot__pack (snapshot, bytes);
    Cordbank__MetricsSnapshot *copy = cordbank__metrics_snapshot__unpack (NULL, size, bytes);
    free (bytes);
    return copy;
}

//  Every string and array of a snapshot built here is on the heap, as in
//  one unpacked by protobuf-c, so one function frees both.
void
cb_metrics_snapshot_free (Cordbank__MetricsSnapshot **snapshot_p)
{
    assert (snapshot_p);
    if (*snapshot_p) {
        cordbank__metrics_snapshot__free_unpacked (*snapshot_p, NULL);
        *snapshot_p = NULL;
    }
}

char *
cb_metrics_render (void)
{
    Cordbank__MetricsSnapshot *snapshot = cb_metrics_snapshot ();
    if (!snapshot)
        return NULL;
    cb_metrics_source_t source = {snapshot, NULL};
    char *text = cb_metrics_render_snapshots (&source, 1, NULL);
    cb_metrics_snapshot_free (&snapshot);
    return text;
}

void
cb_metrics_reset (void)
{
    pthread_mutex_lock (&s_registry.mutex);
    for (size_t i = 0; i < s_registry.count; i++)
        family_free (s_registry.list[i]);
    free (s_registry.list);
    free (s_registry.families.slots);
    free (s_registry.series.slots);
    s_registry.list = NULL;
    s_registry.count = s_registry.cap = 0;
    s_registry.families = s_registry.series = (table_t){0};
    pthread_mutex_unlock (&s_registry.mutex);
}

/*  history — RED time series in ring buffers (see history.h).
 *
 *  A series holds a monotonic total (the sum of the increases credited to
 *  it) and rings of (time, total) points. Instances are found through a
 *  czmq hash keyed "service\ninstance" (names never hold control
 *  characters: the aggregate refuses them); services, few, live in a
 *  sorted array. Each ring keeps its points in time order, so the point
 *  at or before a time is a binary search.
 */
#include "services/metrics/history.h"

#include <assert.h>
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t t_ms;
    red_point_t p;
} entry_t;

typedef struct {
    entry_t *e;
    size_t cap, head, count; // head: where the next point goes
} ring_t;

typedef struct {
    char *service, *instance;
    red_point_t total;
    red_point_t raw; // instance: its last totals as sent
    bool has_raw;
    ring_t fine, coarse;
    int64_t coarse_last_ms;
} series_t;

struct history {
    series_t *system;
    series_t *services[HISTORY_SERVICES_MAX];
    size_t service_count;
    zhashx_t *instances; // "service\ninstance" -> series_t
};

static int
ring_init (ring_t *r, size_t cap)
{
    r->e = cap ? calloc (cap, sizeof *r->e) : NULL;
    r->cap = r->e ? cap : 0;
    return cap == 0 || r->e ? 0 : -1;
}

static const entry_t *
ring_at (const ring_t *r, size_t i) // 0 = oldest
{
    return &r->e[(r->head + r->cap - r->count + i) % r->cap];
}

static const entry_t *
ring_newest (const ring_t *r)
{
    return r->count ? ring_at (r, r->count - 1) : NULL;
}

static void
ring_push (ring_t *r, int64_t t_ms, const red_point_t *p, int64_t same_ms)
{
    if (!r->cap)
        return;
    const entry_t *newest = ring_newest (r);
    if (newest && t_ms - newest->t_ms < same_ms) {
        entry_t *last = (entry_t *) newest;
        *last = (entry_t){t_ms, *p};
        return;
    }
    r->e[r->head] = (entry_t){t_ms, *p};
    r->head = (r->head + 1) % r->cap;
    if (r->count < r->cap)
        r->count++;
}

//  The newest point at or before t_ms; NULL when every point is newer.
static const entry_t *
ring_find (const ring_t *r, int64_t t_ms)
{
    size_t lo = 0, hi = r->count; // answer: the last index in [0, lo) with t <= t_ms
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ring_at (r, mid)->t_ms <= t_ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? ring_at (r, lo - 1) : NULL;
}

static void
series_destroy (series_t **series_p)
{
    series_t *s = *series_p;
    if (s) {
        free (s->service);
        free (s->instance);
        free (s->fine.e);
        free (s->coarse.e);
        free (s);
        *series_p = NULL;
    }
}

static series_t *
series_new (const char *service, const char *instance, size_t fine_cap, size_t coarse_cap)
{
    series_t *s = calloc (1, sizeof *s);
    if (!s)
        return NULL;
    s->service = strdup (service);
    s->instance = instance ? strdup (instance) : NULL;
    if (!s->service || (instance && !s->instance) || ring_init (&s->fine, fine_cap) != 0 ||
        ring_init (&s->coarse, coarse_cap) != 0)
        series_destroy (&s);
    return s;
}

static series_t *
aggregate_series_new (const char *service)
{
    return series_new (service, NULL, HISTORY_FINE_S + 1,
                       HISTORY_COARSE_S / HISTORY_COARSE_STEP_S + 1);
}

static void
instance_free (void **item)
{
    series_destroy ((series_t **) item);
}

history_t *
history_new (void)
{
    history_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->system = aggregate_series_new ("");
    self->instances = zhashx_new ();
    if (!self->system || !self->instances) {
        history_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->instances, instance_free);
    return self;
}

void
history_destroy (history_t **self_p)
{
    assert (self_p);
    history_t *self = *self_p;
    if (self) {
        series_destroy (&self->system);
        for (size_t i = 0; i < self->service_count; i++)
            series_destroy (&self->services[i]);
        zhashx_destroy (&self->instances);
        free (self);
        *self_p = NULL;
    }
}

static series_t *
service_find (const history_t *self, const char *service, size_t *at)
{
    size_t i = 0;
    for (; i < self->service_count; i++) {
        int order = strcmp (self->services[i]->service, service);
        if (order == 0)
            return self->services[i];
        if (order > 0)
            break;
    }
    if (at)
        *at = i;
    return NULL;
}

static series_t *
service_get (history_t *self, const char *service)
{
    size_t at;
    series_t *s = service_find (self, service, &at);
    if (s || self->service_count == HISTORY_SERVICES_MAX)
        return s;
    s = aggregate_series_new (service);
    if (s) {
        memmove (self->services + at + 1, self->services + at,
                 (self->service_count - at) * sizeof *self->services);
        self->services[at] = s;
        self->service_count++;
    }
    return s;
}

static void
instance_key (char *key, size_t size, const char *service, const char *instance)
{
    snprintf (key, size, "%s\n%s", service, instance);
}

static series_t *
instance_get (history_t *self, const char *service, const char *instance)
{
    char key[600];
    instance_key (key, sizeof key, service, instance);
    series_t *s = zhashx_lookup (self->instances, key);
    if (s || zhashx_size (self->instances) >= HISTORY_INSTANCES_MAX)
        return s;
    s = series_new (service, instance, HISTORY_INSTANCE_S + 1, 0);
    if (s && zhashx_insert (self->instances, key, s) != 0)
        series_destroy (&s);
    return s;
}

int
history_observe (history_t *self, const char *service, const char *instance,
                 const red_point_t *totals)
{
    assert (self && service && instance && totals);
    series_t *svc = service_get (self, service);
    series_t *inst = svc ? instance_get (self, service, instance) : NULL;
    if (!inst)
        return -1;
    red_point_t delta;
    if (!inst->has_raw)
        memset (&delta, 0, sizeof delta);
    else if (red_reset (totals, &inst->raw))
        delta = *totals;
    else
        red_sub (totals, &inst->raw, &delta);
    inst->raw = *totals;
    inst->has_raw = true;
    red_add (&inst->total, &delta);
    red_add (&svc->total, &delta);
    red_add (&self->system->total, &delta);
    return 0;
}

static void
series_tick (series_t *s, int64_t now_ms)
{
    ring_push (&s->fine, now_ms, &s->total, 500);
    if (s->coarse.cap &&
        (!s->coarse.count || now_ms - s->coarse_last_ms >= HISTORY_COARSE_STEP_S * 1000)) {
        ring_push (&s->coarse, now_ms, &s->total, 1);
        s->coarse_last_ms = now_ms;
    }
}

void
history_tick (history_t *self, int64_t now_ms)
{
    assert (self);
    series_tick (self->system, now_ms);
    for (size_t i = 0; i < self->service_count; i++)
        series_tick (self->services[i], now_ms);
    for (series_t *s = zhashx_first (self->instances); s; s = zhashx_next (self->instances))
        series_tick (s, now_ms);
}

void
history_forget (history_t *self, const char *service, const char *instance)
{
    assert (self && service && instance);
    char key[600];
    instance_key (key, sizeof key, service, instance);
    zhashx_delete (self->instances, key);
}

static const series_t *
series_find (const history_t *self, const char *service, const char *instance)
{
    if (!service || !*service)
        return self->system;
    if (!instance)
        return service_find (self, service, NULL);
    char key[600];
    instance_key (key, sizeof key, service, instance);
    return zhashx_lookup (self->instances, key);
}

//  The point a window starts from: at or before target in the fine ring,
//  else in the coarse one, else the oldest point kept.
static const entry_t *
base_point (const series_t *s, int64_t target_ms)
{
    const entry_t *base = ring_find (&s->fine, target_ms);
    if (base)
        return base;
    const entry_t *oldest_fine = ring_at (&s->fine, 0);
    if (s->coarse.count) {
        base = ring_find (&s->coarse, target_ms);
        if (!base)
            base = ring_at (&s->coarse, 0);
        if (base->t_ms < oldest_fine->t_ms)
            return base;
    }
    return oldest_fine;
}

int
history_window (const history_t *self, const char *service, const char *instance, int64_t window_ms,
                red_point_t *delta, double *span_s)
{
    assert (self && delta && span_s && window_ms > 0);
    const series_t *s = series_find (self, service, instance);
    if (!s || s->fine.count < 2)
        return -1;
    const entry_t *newest = ring_newest (&s->fine);
    const entry_t *base = base_point (s, newest->t_ms - window_ms);
    red_sub (&newest->p, &base->p, delta);
    *span_s = (double) (newest->t_ms - base->t_ms) / 1000.0;
    return 0;
}

size_t
history_steps (const history_t *self, const char *service, const char *instance, int64_t window_ms,
               int64_t step_ms, history_step_fn *fn, void *arg)
{
    assert (self && fn);
    const series_t *s = series_find (self, service, instance);
    if (!s || !s->fine.count || window_ms <= 0)
        return 0;
    const ring_t *ring = &s->fine;
    int64_t min_step = 1000;
    if (window_ms > (int64_t) (s->fine.cap - 1) * 1000 && s->coarse.count) {
        ring = &s->coarse;
        min_step = HISTORY_COARSE_STEP_S * 1000;
    }
    if (step_ms < min_step)
        step_ms = min_step;
    int64_t end = ring_newest (ring)->t_ms;
    size_t steps = (size_t) (window_ms / step_ms);
    for (size_t k = steps; k-- > 0;) {
        int64_t t_end = end - (int64_t) k * step_ms;
        const entry_t *b = ring_find (ring, t_end - step_ms), *e = ring_find (ring, t_end);
        red_point_t delta = {0};
        double span = 0;
        if (b && e && e->t_ms > b->t_ms) {
            red_sub (&e->p, &b->p, &delta);
            span = (double) (e->t_ms - b->t_ms) / 1000.0;
        }
        fn (t_end, &delta, span, arg);
    }
    return steps;
}

void
history_services (const history_t *self, history_service_fn *fn, void *arg)
{
    assert (self && fn);
    for (size_t i = 0; i < self->service_count; i++)
        fn (self->services[i]->service, arg);
}

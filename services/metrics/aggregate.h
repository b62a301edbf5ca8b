/*  aggregate — the latest metrics snapshot of every instance of every
 *  service, and the Prometheus text of all of them together.
 *
 *  An instance is (service, instance) from the snapshot envelope's sender.
 *  It is "up" while its snapshots keep arriving: one that sent nothing for
 *  down_after_ms is down, and forgotten after forget_after_ms. Times are
 *  monotonic milliseconds (cb_mono_ms), the time a snapshot arrived here,
 *  so a sender's clock cannot make it look alive or dead.
 */
#ifndef METRICS_AGGREGATE_H
#define METRICS_AGGREGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.pb-c.h"

//  Longest service or instance name kept, and most instances tracked: a
//  sender cannot make this process grow without bound.
#define AGGREGATE_NAME_MAX      128
#define AGGREGATE_INSTANCES_MAX 4096

typedef struct aggregate aggregate_t;

aggregate_t *aggregate_new (int64_t down_after_ms, int64_t forget_after_ms);
void aggregate_destroy (aggregate_t **self_p);

//  Keeps a copy of snapshot (borrowed) as the latest of (service,
//  instance), arrived at now_ms. Returns 1 when the instance is new or was
//  down, 0 when it was up, -1 when refused: a name empty, too long or with
//  control characters, too many instances, or out of memory.
int aggregate_update (aggregate_t *self, const char *service, const char *instance,
                      const Cordbank__MetricsSnapshot *snapshot, int64_t now_ms);

//  Logs instances that went down since the last call, forgets those silent
//  for forget_after_ms. Returns how many were forgotten.
size_t aggregate_expire (aggregate_t *self, int64_t now_ms);

//  Instances known; *up (may be NULL) gets how many of them are up.
size_t aggregate_size (const aggregate_t *self, int64_t now_ms, size_t *up);

//  Calls fn for every instance known, in (service, instance) order, with
//  its latest snapshot (borrowed: valid until the next update or expire),
//  whether it is up and how long ago its last snapshot arrived.
typedef void (aggregate_each_fn) (const char *service, const char *instance,
                                  const Cordbank__MetricsSnapshot *snapshot, bool up, double age_s,
                                  void *arg);
void aggregate_each (const aggregate_t *self, int64_t now_ms, aggregate_each_fn *fn, void *arg);

//  fn is called by aggregate_expire for every instance it forgets (so
//  what is kept about it elsewhere can go too).
typedef void (aggregate_forget_fn) (const char *service, const char *instance, void *arg);
void aggregate_on_forget (aggregate_t *self, aggregate_forget_fn *fn, void *arg);

//  Prometheus text: every family of every instance that is up, each
//  sample labelled service="..",instance=".." in front of its own labels,
//  and cordbank_instance_up (1 or 0) and
//  cordbank_instance_last_snapshot_age_seconds for every instance known
//  (down ones too). A down instance's last values are not served: a
//  counter frozen at its last value would read as "no traffic".
//  The caller frees it; NULL when out of memory. *skipped (may be NULL)
//  counts the invalid samples left out.
char *aggregate_render (const aggregate_t *self, int64_t now_ms, size_t *skipped);

#endif

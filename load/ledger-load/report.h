/*  report — what a run saw: counters by status, latency of acknowledged
 *  requests, per-second counts, and the two outputs (a line per second on
 *  stderr, a JSON summary).
 *
 *  Three levels are counted apart, because they answer different
 *  questions:
 *    attempts  every answer to every send, failures included: how often an
 *              instance said UNAVAILABLE, how often nothing came back;
 *    outcomes  the final answer of each request (after the tool's own
 *              retries): what the caller was told;
 *    replays   later answers to a key compared with its first: whether the
 *              ledger kept its idempotency promise.
 *  Latency is per request, from its first send to its final answer, in a
 *  log-linear histogram (load/discord-sim/histogram.h).
 */
#ifndef LL_REPORT_H
#define LL_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "load/ledger-load/keys.h"

typedef struct ll_report ll_report_t;

//  What the JSON summary says about the run besides the counters.
typedef struct {
    double duration_s; // from the first load send to the last answer
    const char *endpoints;
    int64_t concurrency, accounts, deadline_ms, max_attempts, seed_balance;
    uint64_t guild_id;
    double repeat_ratio;
    const char *key_prefix;
} ll_report_info_t;

ll_report_t *ll_report_new (void);
void ll_report_destroy (ll_report_t **self_p);

//  A request (original or repeat) was started.
void ll_report_sent (ll_report_t *self, bool repeat);
void ll_report_retry (ll_report_t *self);
//  One send's answer in the run's second `second`. `in_time`: it came
//  before the attempt's deadline (a failure answered, not waited out).
void ll_report_attempt (ll_report_t *self, uint32_t status, bool in_time, size_t second);
//  A request's final answer (OK or a refusal), latency_us from its first send.
void ll_report_acked (ll_report_t *self, uint32_t status, uint64_t latency_us, size_t second);
//  A request that used all its attempts without a final answer.
void ll_report_gave_up (ll_report_t *self);
//  A request still open when the run had to stop.
void ll_report_abandoned (ll_report_t *self);
void ll_report_replay (ll_report_t *self, ll_answer_t answer);
//  A reply that breaks the contract (OK without a transfer id, a member
//  below 0, ...): printed (the first few) and counted as a failure.
void ll_report_bad (ll_report_t *self, const char *key, const char *why);
void ll_report_seeded (ll_report_t *self, bool ok);

//  No replay mismatch and no bad reply.
bool ll_report_correct (const ll_report_t *self);
uint64_t ll_report_acked_count (const ll_report_t *self);

//  "t=3s ok=.. refused=.. failed=.. inflight=.." for second `second`.
void ll_report_print_second (const ll_report_t *self, FILE *out, size_t second, size_t in_flight);
//  The summary as one JSON object (one line); 0 or -1.
int ll_report_write_json (const ll_report_t *self, FILE *out, const ll_report_info_t *info);
//  A few human lines.
void ll_report_print_summary (const ll_report_t *self, FILE *out, const ll_report_info_t *info);

int ll_report_test (void);

#endif

/*  reads — what the balance reads of a cache run saw: answers by status,
 *  how many were served from Redis (reply.cached), latency, per-second
 *  counts, and the reads that broke the cache's promise.
 *
 *  The promise checked: a read never returns a version older than one
 *  that was acknowledged for its account before the read was sent (the
 *  caller compares and reports a violation here). A read of an account
 *  whose acknowledged version it returns must also return the balance
 *  acknowledged with it (one version, one balance).
 */
#ifndef LL_READS_H
#define LL_READS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct ll_reads ll_reads_t;

ll_reads_t *ll_reads_new (void);
void ll_reads_destroy (ll_reads_t **self_p);

void ll_reads_sent (ll_reads_t *self);
//  One read's answer in the run's second `second`: status is the reply's,
//  or the transport's when there was no reply. version and cached count
//  only for OK answers.
void ll_reads_answer (ll_reads_t *self, uint32_t status, bool cached, uint64_t version,
                      uint64_t latency_us, size_t second);
//  A read older than an acknowledged version (why: one line, printed for
//  the first few), or with another balance for the same version.
void ll_reads_violation (ll_reads_t *self, const char *why, size_t second);
void ll_reads_mismatch (ll_reads_t *self, const char *why);
//  A read still open when the run had to stop.
void ll_reads_abandoned (ll_reads_t *self);

uint64_t ll_reads_ok (const ll_reads_t *self);
uint64_t ll_reads_violations (const ll_reads_t *self);
uint64_t ll_reads_mismatches (const ll_reads_t *self);

//  "reads=.. ok=.. hits=.. failed=.. violations=.." for second `second`.
void ll_reads_print_second (const ll_reads_t *self, FILE *out, size_t second);
//  The reads' part of a summary (a new object), over duration_s seconds;
//  NULL when out of memory.
json_t *ll_reads_json (const ll_reads_t *self, double duration_s);
//  One human line.
void ll_reads_print_summary (const ll_reads_t *self, FILE *out, double duration_s);

int ll_reads_test (void);

#endif

/*  faults — what the simulator can be told to do wrong, and when.
 *
 *  A fault comes from `--fault SPEC` at start (optionally after a delay)
 *  or from `POST /_sim/fault` at run time; both parse into srv_fault_t.
 *  Connection faults (drop, reconnect, invalid_session[_resumable], close,
 *  heartbeat_request) act once on the shards they name; timed faults
 *  (stop_acks, rate_limit_storm, slow_rest) hold for `seconds` and are
 *  kept here, asked by the gateway and REST layers on every decision.
 *
 *  SPEC: `NAME[,key=value...]` with keys shard, seconds, scope, delay_ms,
 *  code and after (seconds from start), e.g.
 *  `rate_limit_storm,seconds=3,scope=global,after=5`.
 */
#ifndef SIM_FAULTS_H
#define SIM_FAULTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    SRV_FAULT_DROP,
    SRV_FAULT_RECONNECT,
    SRV_FAULT_INVALID_SESSION,
    SRV_FAULT_INVALID_SESSION_RESUMABLE,
    SRV_FAULT_CLOSE,
    SRV_FAULT_HEARTBEAT_REQUEST,
    SRV_FAULT_OVERSIZED,
    SRV_FAULT_STOP_ACKS,
    SRV_FAULT_RATE_LIMIT_STORM,
    SRV_FAULT_SLOW_REST,
    SRV_FAULT_CLEAR,
} srv_fault_kind_t;

typedef struct {
    srv_fault_kind_t kind;
    int shard;        // -1: every shard
    double seconds;   // timed faults
    char scope[8];    // rate_limit_storm: user | global | shared
    int64_t delay_ms; // slow_rest
    int code;         // close
    double after_s;   // --fault only: seconds after start
} srv_fault_t;

//  From a /_sim/fault body or a --fault SPEC. 0, or -1 with a reason.
int srv_fault_from_json (const json_t *body, srv_fault_t *out, char *err, size_t errlen);
int srv_fault_from_spec (const char *spec, srv_fault_t *out, char *err, size_t errlen);
const char *srv_fault_name (srv_fault_kind_t kind);
//  A connection fault acts on the shards' connections (else it is timed).
bool srv_fault_is_connection (srv_fault_kind_t kind);

//  The timed faults in force.
typedef struct {
    int64_t stop_acks_until_ms;
    int stop_acks_shard;
    int64_t storm_until_ms;
    char storm_scope[8];
    int64_t slow_until_ms;
    int64_t slow_delay_ms;
} srv_faults_t;

//  Starts a timed fault (or clears them all) at now_ms.
void srv_faults_apply (srv_faults_t *self, const srv_fault_t *fault, int64_t now_ms);
bool srv_faults_acks_stopped (const srv_faults_t *self, int shard, int64_t now_ms);
//  The scope of a rate-limit storm in force, or NULL.
const char *srv_faults_storm (const srv_faults_t *self, int64_t now_ms);
int64_t srv_faults_rest_delay_ms (const srv_faults_t *self, int64_t now_ms);

int srv_faults_test (void);

#endif

/*  server — `cordbank-discord-sim --serve`: a fake Discord on one port.
 *
 *  REST under /api/v10 (gateway/bot, interaction callbacks, webhook edits
 *  and followups, application commands) with Discord's rate limits, the
 *  Gateway WebSocket on every other path, and a loopback control API under
 *  /_sim (stats, faults, interactions to dispatch). load/README.md has the
 *  whole contract. One thread: libwebsockets serves everything and a
 *  50 ms timer drives what time drives (pacing, heartbeats, faults).
 */
#ifndef SIM_SERVER_H
#define SIM_SERVER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t listen_port; // 0: any free port
    const char *port_file;
    const char *token;
    const char *application_id;
    int64_t shards;               // recommended by /gateway/bot (and required at least)
    int64_t max_concurrency;      // identify buckets
    int64_t global_limit;         // REST requests per second
    int64_t heartbeat_ms;         // HELLO's heartbeat_interval
    int64_t disallowed_intents;   // privileged intents not enabled: 4014
    int64_t guilds, users;        // the simulated community
    int64_t duration_s;           // 0: until SIGINT/SIGTERM
    int64_t callback_window_ms;   // an interaction callback later than this: 10062
    int64_t invalid_limit;        // invalid requests per 10 minutes
    int64_t identify_interval_ms; // per max_concurrency bucket (Discord: 5000)
    const char *const *faults;    // --fault SPECs
    size_t fault_count;
} sim_server_config_t;

//  Serves until a signal or the duration. 0, or 2 when it could not start
//  (a line on stderr says why).
int sim_server_run (const sim_server_config_t *cfg);

#endif

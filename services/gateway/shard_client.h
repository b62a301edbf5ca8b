/*  shard_client — what the two halves of the gateway's shards share, and
 *  nothing else: the reactor half (shards.c, the gw_shards_t API) and the
 *  lws thread (shard_client.c and shard_session.c, every shard's
 *  WebSocket) talk only through a zactor's inproc pipe, so this header is
 *  that pipe's protocol, the actor's entry point and the configuration
 *  handed to it. Private to shards.c and the lws thread's files.
 *
 *  Pipe protocol (string frames; ids and numbers as decimal text):
 *    lws -> reactor, once after the zactor handshake: "ip" ok (0/1), context
 *    lws -> reactor "INTERACTION" shard, d   an INTERACTION_CREATE's d (JSON)
 *    lws -> reactor "ASK" shard              may this shard IDENTIFY now?
 *    lws -> reactor "STATE" shard, state     "connected", "down" or "fatal"
 *    reactor -> lws "GRANT" shard, wait_ms   0: identify now; else ask again after
 *    reactor -> lws "STOP": leave the service loop; then zactor_destroy's
 *    "$TERM": destroy the context and return. Two steps for the reason
 *    http_listener.h gives: the reactor calls lws_cancel_service after
 *    sending STOP, so the context must outlive that call.
 */
#ifndef GW_SHARD_CLIENT_H
#define GW_SHARD_CLIENT_H

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#define GW_PIPE_READY       "ip"
#define GW_PIPE_INTERACTION "INTERACTION"
#define GW_PIPE_ASK         "ASK"
#define GW_PIPE_STATE       "STATE"
#define GW_PIPE_GRANT       "GRANT"
#define GW_PIPE_STOP        "STOP"
#define GW_PIPE_TERM        "$TERM"

//  Largest inflated Gateway message (a big guild's GUILD_CREATE is MBs).
#define GW_MAX_GATEWAY_MESSAGE (32 * 1024 * 1024)
//  lws's receive buffer per shard connection: a frame arrives in pieces of
//  at most this, and an uncompressed (text) message must fit in one.
#define GW_RX_BUFFER (64 * 1024)

//  The lws thread's own copy of the configuration.
typedef struct {
    char *url;   // from /gateway/bot
    char *token; // secret: sent in IDENTIFY/RESUME, never logged
    int64_t intents;
    int shard_count;
    int *shards; // the shard ids this pod owns
    size_t count;
} gw_shard_client_args_t;

//  The zactor body (zactor_new (gw_shard_client_actor, args)). Takes
//  ownership of args (a heap struct whose strings and array are heap
//  copies). Sends the startup message, runs every shard until STOP.
void gw_shard_client_actor (zsock_t *pipe, void *args);

#endif

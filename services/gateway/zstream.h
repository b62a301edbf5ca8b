/*  zstream — Discord's zlib-stream transport compression, one connection's
 *  inflater.
 *
 *  With compress=zlib-stream the Gateway compresses a whole connection as
 *  ONE zlib stream: every message is flushed with Z_SYNC_FLUSH, so it ends
 *  with the four bytes 00 00 ff ff, and may arrive split over several
 *  WebSocket frames. The inflate context lives as long as the connection
 *  (the dictionary carries over from message to message); a new connection
 *  needs a new stream (gw_zstream_reset).
 *
 *  Everything fed here comes from the network: a corrupt stream and a
 *  message that inflates past max_message are errors (the caller closes the
 *  connection), never an assert or an unbounded allocation.
 */
#ifndef GW_ZSTREAM_H
#define GW_ZSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Results of gw_zstream_feed.
#define GW_ZSTREAM_MORE    0  // the message is not complete yet
#define GW_ZSTREAM_MESSAGE 1  // a message is complete: gw_zstream_message
#define GW_ZSTREAM_CORRUPT -1 // not a valid zlib stream
#define GW_ZSTREAM_TOO_BIG -2 // the message inflates past max_message
#define GW_ZSTREAM_NOMEM   -3

typedef struct gw_zstream gw_zstream_t;

//  max_message bounds one inflated message, in bytes. NULL when out of
//  memory.
gw_zstream_t *gw_zstream_new (size_t max_message);
void gw_zstream_destroy (gw_zstream_t **self_p);

//  Starts a new stream (a new connection). 0, or GW_ZSTREAM_NOMEM.
int gw_zstream_reset (gw_zstream_t *self);

//  Inflates len bytes of the connection's stream (one WebSocket message, or
//  part of one). frame_end says these bytes end a WebSocket message: only
//  then is the suffix looked for (compressed bytes may contain 00 00 ff ff
//  anywhere). Returns GW_ZSTREAM_MESSAGE when a message is complete (the
//  bytes fed so far end with the suffix); its text is then valid until the
//  next feed. After an error the stream is unusable until reset.
int gw_zstream_feed (gw_zstream_t *self, const uint8_t *data, size_t len, bool frame_end);

//  The complete message (NUL-terminated; *len_p its length without the
//  NUL), borrowed until the next feed or reset.
const char *gw_zstream_message (const gw_zstream_t *self, size_t *len_p);

//  Text of a gw_zstream_feed error, for logs.
const char *gw_zstream_strerror (int rc);

#endif

/*  zstream — Discord's gateway transport compression, the sending side.
 *
 *  With `compress=zlib-stream` in the gateway URL, one zlib stream (deflate
 *  with a zlib header) spans the whole connection: every message is
 *  deflated onto it and flushed with Z_SYNC_FLUSH, so each ends with the
 *  four bytes 00 00 ff ff, and the client keeps one inflate context for the
 *  connection. With `"compress": true` in IDENTIFY (payload compression)
 *  each message is instead a complete zlib stream of its own.
 */
#ifndef SIM_ZSTREAM_H
#define SIM_ZSTREAM_H

#include <stddef.h>
#include <stdint.h>

typedef struct srv_zstream srv_zstream_t;

srv_zstream_t *srv_zstream_new (void);
void srv_zstream_destroy (srv_zstream_t **self_p);

//  Deflates one message onto the stream. Returns the bytes (the caller's to
//  free), `headroom` spare bytes before them, length in *out_len; NULL
//  when zlib fails.
uint8_t *srv_zstream_push (srv_zstream_t *self, const void *data, size_t len, size_t headroom,
                           size_t *out_len);

//  One message as a complete zlib stream (identify payload compression).
uint8_t *srv_zlib_once (const void *data, size_t len, size_t headroom, size_t *out_len);

int srv_zstream_test (void);

#endif

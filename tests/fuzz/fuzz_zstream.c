/*  fuzz_zstream — the Gateway's zlib-stream inflater, fed as a shard feeds it.
 *
 *  Input: one option byte, then the bytes of one connection's stream.
 *  The option byte picks the message bound (its low two bits) and seeds
 *  how the stream is cut into WebSocket frames: at every 00 00 ff ff (the
 *  end of a message) a frame ends, and each message is cut further into
 *  fragments of pseudo-random sizes (frame_end false), sometimes with an
 *  empty one. After an error the stream is reset, as a new connection
 *  would, and the rest of the input goes on.
 *
 *  Oracle: a plain zlib inflater fed the same bytes. Every message
 *  gw_zstream returns must be exactly what that inflater produced since
 *  the previous message, NUL-terminated and within the bound; each is
 *  then parsed as a Gateway payload, as shard_session.c does.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "services/gateway/gateway_proto.h"
#include "services/gateway/zstream.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const size_t BOUNDS[4] = {256, 4096, 16384, 65536};
static const uint8_t SUFFIX[4] = {0x00, 0x00, 0xff, 0xff};

//  The reference: zlib alone, its output since the last message.
typedef struct {
    z_stream z;
    bool alive; // false after an error or the stream's end: no more comparing
    uint8_t *out;
    size_t len, size; // size: allocated, grown up to limit
    size_t limit;     // the bound + 1, enough to see a message too large
} reference_t;

static void
reference_start (reference_t *ref, size_t bound)
{
    memset (&ref->z, 0, sizeof ref->z);
    ref->alive = inflateInit (&ref->z) == Z_OK;
    ref->limit = bound + 1;
    ref->out = NULL;
    ref->len = ref->size = 0;
}

static void
reference_end (reference_t *ref)
{
    inflateEnd (&ref->z);
    free (ref->out);
    ref->out = NULL;
}

static void
reference_feed (reference_t *ref, const uint8_t *data, size_t len)
{
    uint8_t chunk[4096];
    ref->z.next_in = (Bytef *) data;
    ref->z.avail_in = (uInt) len;
    while (ref->alive) {
        ref->z.next_out = chunk;
        ref->z.avail_out = sizeof chunk;
        int zrc = inflate (&ref->z, Z_SYNC_FLUSH);
        size_t got = sizeof chunk - ref->z.avail_out;
        if (got > ref->limit - ref->len)
            got = ref->limit - ref->len;
        if (ref->len + got > ref->size) {
            ref->size = ref->len + got > 2 * ref->size ? ref->len + got : 2 * ref->size;
            ref->out = realloc (ref->out, ref->size);
            assert (ref->out);
        }
        if (got)
            memcpy (ref->out + ref->len, chunk, got);
        ref->len += got;
        if (zrc == Z_BUF_ERROR && ref->z.avail_in == 0)
            return;
        if (zrc != Z_OK)
            ref->alive = false;
        else if (ref->z.avail_in == 0 && ref->z.avail_out > 0)
            return;
    }
}

//  A small PRNG for the cuts, so that a given input always cuts alike.
static uint32_t
next (uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

//  Where the frame that starts at `at` ends: after the next 00 00 ff ff,
//  or at the end of the input.
static size_t
frame_end (const uint8_t *data, size_t size, size_t at)
{
    for (size_t i = at; i + 4 <= size; i++)
        if (memcmp (data + i, SUFFIX, 4) == 0)
            return i + 4;
    return size;
}

//  Feeds one fragment to both; resets both after an error.
static void
feed (gw_zstream_t *z, reference_t *ref, size_t bound, const uint8_t *data, size_t len, bool end)
{
    reference_feed (ref, data, len);
    int rc = gw_zstream_feed (z, data, len, end);
    assert (rc >= GW_ZSTREAM_NOMEM && rc <= GW_ZSTREAM_MESSAGE && gw_zstream_strerror (rc));
    if (rc < 0) {
        assert (gw_zstream_reset (z) == 0);
        reference_end (ref);
        reference_start (ref, bound);
        return;
    }
    if (rc != GW_ZSTREAM_MESSAGE)
        return;
    size_t mlen;
    const char *text = gw_zstream_message (z, &mlen);
    assert (text && text[mlen] == '\0' && mlen <= bound);
    if (ref->alive)
        assert (ref->len == mlen && (mlen == 0 || memcmp (ref->out, text, mlen) == 0));
    ref->len = 0;
    gw_payload_t p;
    char err[160];
    if (gw_payload_parse (text, mlen, &p, err, sizeof err) == 0)
        gw_payload_clear (&p);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t bound = BOUNDS[data[0] & 3];
    uint32_t state = 0x9e3779b9u ^ (uint32_t) (data[0] >> 2) * 2654435761u;
    data++, size--;
    gw_zstream_t *z = gw_zstream_new (bound);
    assert (z);
    reference_t ref;
    reference_start (&ref, bound);
    for (size_t at = 0; at < size;) {
        size_t end = frame_end (data, size, at);
        while (at < end) {
            uint32_t r = next (&state);
            //  Mostly the whole rest of the frame; else 1..64 bytes.
            size_t len = (r & 3) ? end - at : 1 + (r >> 8) % 64;
            if (len > end - at)
                len = end - at;
            if ((r & 0xf0) == 0xf0)
                feed (z, &ref, bound, NULL, 0, false);
            feed (z, &ref, bound, data + at, len, at + len == end);
            at += len;
        }
    }
    reference_end (&ref);
    gw_zstream_destroy (&z);
    assert (!z);
    return 0;
}

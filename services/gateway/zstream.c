/*  zstream — one connection's zlib-stream inflater (see zstream.h).
 *
 *  Bytes are inflated as they arrive rather than buffered until the
 *  suffix: zlib keeps the partial state, and the output buffer only ever
 *  holds the current message. The last four input bytes are remembered
 *  across feeds, so a suffix split between two frames is still seen.
 */
#include "zstream.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const uint8_t SUFFIX[4] = {0x00, 0x00, 0xff, 0xff};

struct gw_zstream {
    z_stream z;
    bool started;  // inflateInit done
    bool failed;   // a feed failed: refuse until reset
    bool complete; // the previous feed completed a message: start a new one
    size_t max_message;
    char *out; // the current message, NUL-terminated
    size_t out_len, out_cap;
    uint8_t tail[4]; // the last four bytes fed
    size_t tail_len;
};

gw_zstream_t *
gw_zstream_new (size_t max_message)
{
    assert (max_message > 0);
    gw_zstream_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->max_message = max_message;
    if (gw_zstream_reset (self) != 0)
        gw_zstream_destroy (&self);
    return self;
}

void
gw_zstream_destroy (gw_zstream_t **self_p)
{
    assert (self_p);
    gw_zstream_t *self = *self_p;
    if (!self)
        return;
    if (self->started)
        inflateEnd (&self->z);
    free (self->out);
    free (self);
    *self_p = NULL;
}

int
gw_zstream_reset (gw_zstream_t *self)
{
    assert (self);
    if (self->started)
        inflateEnd (&self->z);
    memset (&self->z, 0, sizeof self->z);
    self->started = inflateInit (&self->z) == Z_OK;
    self->failed = !self->started;
    self->complete = false;
    self->out_len = 0;
    self->tail_len = 0;
    return self->started ? 0 : GW_ZSTREAM_NOMEM;
}

//  Keeps the last four bytes of everything fed.
static void
remember_tail (gw_zstream_t *self, const uint8_t *data, size_t len)
{
    if (len == 0)
        return; // data may be NULL
    if (len >= 4) {
        memcpy (self->tail, data + len - 4, 4);
        self->tail_len = 4;
        return;
    }
    size_t keep = self->tail_len + len > 4 ? 4 - len : self->tail_len;
    memmove (self->tail, self->tail + self->tail_len - keep, keep);
    memcpy (self->tail + keep, data, len);
    self->tail_len = keep + len;
}

//  More room for output. The buffer stops at max_message + 2: the message,
//  one byte that proves it too large, the NUL.
static int
grow (gw_zstream_t *self)
{
    size_t limit = self->max_message + 2;
    if (self->out_cap >= limit)
        return GW_ZSTREAM_TOO_BIG;
    size_t cap = self->out_cap ? self->out_cap * 2 : 4096;
    if (cap > limit)
        cap = limit;
    char *out = realloc (self->out, cap);
    if (!out)
        return GW_ZSTREAM_NOMEM;
    self->out = out;
    self->out_cap = cap;
    return 0;
}

//  Inflates the whole input into out, growing it within the bound.
static int
inflate_all (gw_zstream_t *self, const uint8_t *data, size_t len)
{
    self->z.next_in = (Bytef *) data;
    self->z.avail_in = (uInt) len;
    for (;;) {
        //  Keep one byte for the NUL: out_len < out_cap always.
        if (self->out_cap - self->out_len <= 1) {
            int rc = grow (self);
            if (rc != 0)
                return rc;
        }
        self->z.next_out = (Bytef *) self->out + self->out_len;
        self->z.avail_out = (uInt) (self->out_cap - self->out_len - 1);
        uInt before = self->z.avail_out;
        int zrc = inflate (&self->z, Z_SYNC_FLUSH);
        self->out_len += before - self->z.avail_out;
        if (self->out_len > self->max_message)
            return GW_ZSTREAM_TOO_BIG;
        if (zrc == Z_BUF_ERROR && self->z.avail_in == 0)
            return 0; // all input consumed, nothing more to give
        if (zrc != Z_OK)
            return zrc == Z_MEM_ERROR ? GW_ZSTREAM_NOMEM : GW_ZSTREAM_CORRUPT;
        if (self->z.avail_in == 0 && self->z.avail_out > 0)
            return 0;
    }
}

int
gw_zstream_feed (gw_zstream_t *self, const uint8_t *data, size_t len, bool frame_end)
{
    assert (self);
    assert (data || len == 0);
    if (self->failed)
        return GW_ZSTREAM_CORRUPT;
    if (self->complete) {
        self->out_len = 0;
        self->complete = false;
    }
    if (self->out_cap == 0 && grow (self) != 0) {
        self->failed = true;
        return GW_ZSTREAM_NOMEM;
    }
    int rc = len ? inflate_all (self, data, len) : 0;
    if (rc != 0) {
        self->failed = true;
        return rc;
    }
    remember_tail (self, data, len);
    if (!frame_end || self->tail_len < 4 || memcmp (self->tail, SUFFIX, 4) != 0)
        return GW_ZSTREAM_MORE;
    self->out[self->out_len] = '\0';
    self->complete = true;
    return GW_ZSTREAM_MESSAGE;
}

const char *
gw_zstream_message (const gw_zstream_t *self, size_t *len_p)
{
    assert (self && self->complete);
    if (len_p)
        *len_p = self->out_len;
    return self->out;
}

const char *
gw_zstream_strerror (int rc)
{
    switch (rc) {
    case GW_ZSTREAM_CORRUPT:
        return "corrupt zlib stream";
    case GW_ZSTREAM_TOO_BIG:
        return "message too large";
    case GW_ZSTREAM_NOMEM:
        return "out of memory";
    default:
        return "no error";
    }
}

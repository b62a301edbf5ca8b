/*  zstream — zlib-stream and payload compression with zlib (see zstream.h).
 */
#include "load/discord-sim/zstream.h"
#include "load/discord-sim/selftest.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct srv_zstream {
    z_stream z;
};

srv_zstream_t *
srv_zstream_new (void)
{
    srv_zstream_t *self = calloc (1, sizeof *self);
    assert (self);
    if (deflateInit (&self->z, Z_DEFAULT_COMPRESSION) != Z_OK) {
        free (self);
        return NULL;
    }
    return self;
}

void
srv_zstream_destroy (srv_zstream_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    deflateEnd (&(*self_p)->z);
    free (*self_p);
    *self_p = NULL;
}

//  Runs deflate with `flush` until all input is taken and the flush is out.
static uint8_t *
run_deflate (z_stream *z, const void *data, size_t len, int flush, size_t headroom, size_t *out_len)
{
    size_t cap = headroom + deflateBound (z, (uLong) len) + 64, used = headroom;
    uint8_t *out = malloc (cap);
    assert (out);
    z->next_in = (Bytef *) (uintptr_t) data;
    z->avail_in = (uInt) len;
    for (;;) {
        if (cap - used < 64) {
            cap *= 2;
            out = realloc (out, cap);
            assert (out);
        }
        z->next_out = out + used;
        z->avail_out = (uInt) (cap - used);
        int rc = deflate (z, flush);
        used = cap - z->avail_out;
        if (rc == Z_STREAM_END || (rc == Z_OK && z->avail_in == 0 && z->avail_out > 0))
            break;
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            free (out);
            return NULL;
        }
    }
    *out_len = used - headroom;
    return out;
}

uint8_t *
srv_zstream_push (srv_zstream_t *self, const void *data, size_t len, size_t headroom,
                  size_t *out_len)
{
    assert (self && out_len);
    return run_deflate (&self->z, data, len, Z_SYNC_FLUSH, headroom, out_len);
}

uint8_t *
srv_zlib_once (const void *data, size_t len, size_t headroom, size_t *out_len)
{
    z_stream z;
    memset (&z, 0, sizeof z);
    if (deflateInit (&z, Z_DEFAULT_COMPRESSION) != Z_OK)
        return NULL;
    uint8_t *out = run_deflate (&z, data, len, Z_FINISH, headroom, out_len);
    deflateEnd (&z);
    return out;
}

int
srv_zstream_test (void)
{
    srv_zstream_t *zs = srv_zstream_new ();
    SIM_CHECK (zs);
    z_stream in;
    memset (&in, 0, sizeof in);
    SIM_CHECK (inflateInit (&in) == Z_OK);
    const char *messages[] = {"{\"op\":10,\"d\":{\"heartbeat_interval\":41250}}", "{\"op\":11}",
                              "{\"op\":0,\"t\":\"READY\",\"s\":1,\"d\":{}}"};
    for (size_t i = 0; i < 3; i++) {
        size_t len = 0;
        uint8_t *frame = srv_zstream_push (zs, messages[i], strlen (messages[i]), 16, &len);
        SIM_CHECK (frame && len > 4);
        SIM_CHECK (memcmp (frame + 16 + len - 4, "\x00\x00\xff\xff", 4) == 0);
        //  One inflate context for the whole stream, as a client keeps it.
        char text[256];
        in.next_in = frame + 16;
        in.avail_in = (uInt) len;
        in.next_out = (Bytef *) text;
        in.avail_out = sizeof text;
        SIM_CHECK (inflate (&in, Z_SYNC_FLUSH) == Z_OK);
        SIM_CHECK (sizeof text - in.avail_out == strlen (messages[i]));
        SIM_CHECK (memcmp (text, messages[i], strlen (messages[i])) == 0);
        free (frame);
    }
    inflateEnd (&in);
    srv_zstream_destroy (&zs);
    SIM_CHECK (zs == NULL);
    size_t len = 0;
    uint8_t *once = srv_zlib_once ("hello", 5, 0, &len);
    char text[16];
    uLongf text_len = sizeof text;
    SIM_CHECK (once && uncompress ((Bytef *) text, &text_len, once, len) == Z_OK);
    SIM_CHECK (text_len == 5 && memcmp (text, "hello", 5) == 0);
    free (once);
    return 0;
}

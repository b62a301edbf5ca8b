/*  gateway_zstream (gateway service): the zlib-stream inflater. Needs
 *  services/gateway/zstream.o linked into the runner (pure: zlib only).
 *
 *  The stream is made the way Discord makes it: one real zlib deflate
 *  stream for the whole connection, each message flushed with
 *  Z_SYNC_FLUSH, and its bytes cut into frames at arbitrary places.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "services/gateway/zstream.h"

//  One connection's deflater, appending to a growing buffer.
typedef struct {
    z_stream z;
    uint8_t buf[1 << 20];
    size_t len;
} deflater_t;

static void
deflater_init (deflater_t *d)
{
    memset (&d->z, 0, sizeof d->z);
    d->len = 0;
    cr_assert_eq (deflateInit (&d->z, Z_DEFAULT_COMPRESSION), Z_OK);
}

//  Appends message, flushed with Z_SYNC_FLUSH; returns where it started.
static size_t
deflater_message (deflater_t *d, const char *message, size_t len)
{
    size_t start = d->len;
    d->z.next_in = (Bytef *) message;
    d->z.avail_in = (uInt) len;
    d->z.next_out = d->buf + d->len;
    d->z.avail_out = (uInt) (sizeof d->buf - d->len);
    cr_assert_eq (deflate (&d->z, Z_SYNC_FLUSH), Z_OK);
    cr_assert_eq (d->z.avail_in, 0);
    d->len = sizeof d->buf - d->z.avail_out;
    cr_assert (d->len - start >= 4);
    cr_assert_eq (memcmp (d->buf + d->len - 4, "\x00\x00\xff\xff", 4), 0);
    return start;
}

static void
deflater_end (deflater_t *d)
{
    deflateEnd (&d->z);
}

static deflater_t deflater;

Test (gateway_zstream, messages_split_across_frames)
{
    deflater_init (&deflater);
    const char *messages[] = {
        "{\"op\":10,\"d\":{\"heartbeat_interval\":41250}}",
        "{\"op\":0,\"s\":1,\"t\":\"READY\",\"d\":{\"session_id\":\"abc\"}}",
        "{\"op\":11}",
        "{\"op\":0,\"s\":2,\"t\":\"READY\",\"d\":{\"session_id\":\"abc\"}}",
    };
    size_t n = sizeof messages / sizeof messages[0];
    size_t starts[8];
    for (size_t i = 0; i < n; i++)
        starts[i] = deflater_message (&deflater, messages[i], strlen (messages[i]));
    starts[n] = deflater.len;
    gw_zstream_t *z = gw_zstream_new (1024);
    cr_assert_not_null (z);
    //  Frame sizes 1, 2, 3, ... bytes: the suffix lands split over frames.
    for (size_t i = 0; i < n; i++) {
        size_t at = starts[i], step = 1;
        int rc = GW_ZSTREAM_MORE;
        while (at < starts[i + 1]) {
            size_t len = starts[i + 1] - at < step ? starts[i + 1] - at : step;
            rc = gw_zstream_feed (z, deflater.buf + at, len, true);
            at += len;
            step++;
            cr_assert_eq (rc, at == starts[i + 1] ? GW_ZSTREAM_MESSAGE : GW_ZSTREAM_MORE,
                          "message %zu at byte %zu: %d", i, at, rc);
        }
        size_t len;
        const char *text = gw_zstream_message (z, &len);
        cr_assert_eq (len, strlen (messages[i]));
        cr_assert_str_eq (text, messages[i]);
    }
    gw_zstream_destroy (&z);
    cr_assert_null (z);
    deflater_end (&deflater);
}

Test (gateway_zstream, one_frame_per_message_and_reset)
{
    gw_zstream_t *z = gw_zstream_new (1024);
    for (int connection = 0; connection < 2; connection++) {
        deflater_init (&deflater);
        const char *m = connection ? "{\"op\":11}" : "{\"op\":1,\"d\":null}";
        size_t start = deflater_message (&deflater, m, strlen (m));
        cr_assert_eq (gw_zstream_feed (z, deflater.buf + start, deflater.len - start, true),
                      GW_ZSTREAM_MESSAGE);
        cr_assert_str_eq (gw_zstream_message (z, NULL), m);
        deflater_end (&deflater);
        //  A new connection is a new stream: its zlib header needs a reset.
        cr_assert_eq (gw_zstream_reset (z), 0);
    }
    gw_zstream_destroy (&z);
}

Test (gateway_zstream, suffix_counts_only_at_a_frame_end)
{
    deflater_init (&deflater);
    const char *m = "{\"op\":0,\"s\":3,\"t\":\"GUILD_CREATE\",\"d\":{}}";
    size_t start = deflater_message (&deflater, m, strlen (m));
    gw_zstream_t *z = gw_zstream_new (1024);
    //  All the bytes, suffix included, but the WebSocket message goes on.
    cr_assert_eq (gw_zstream_feed (z, deflater.buf + start, deflater.len - start, false),
                  GW_ZSTREAM_MORE);
    cr_assert_eq (gw_zstream_feed (z, NULL, 0, true), GW_ZSTREAM_MESSAGE);
    cr_assert_str_eq (gw_zstream_message (z, NULL), m);
    gw_zstream_destroy (&z);
    deflater_end (&deflater);
}

Test (gateway_zstream, corrupt_stream_refused)
{
    gw_zstream_t *z = gw_zstream_new (1024);
    const uint8_t garbage[] = {'{', '"', 'o', 'p', 0x00, 0x00, 0xff, 0xff};
    cr_assert_eq (gw_zstream_feed (z, garbage, sizeof garbage, true), GW_ZSTREAM_CORRUPT);
    //  And it stays refused until reset.
    cr_assert_eq (gw_zstream_feed (z, garbage, sizeof garbage, true), GW_ZSTREAM_CORRUPT);
    cr_assert_str_eq (gw_zstream_strerror (GW_ZSTREAM_CORRUPT), "corrupt zlib stream");

    //  A valid start, then a corrupted byte in the middle of a message.
    deflater_init (&deflater);
    const char *ok = "{\"op\":11}";
    deflater_message (&deflater, ok, strlen (ok));
    char big[600];
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = (char) ('a' + (i * 7919) % 26);
    big[sizeof big - 1] = '\0';
    size_t second = deflater_message (&deflater, big, strlen (big));
    cr_assert_eq (gw_zstream_reset (z), 0);
    cr_assert_eq (gw_zstream_feed (z, deflater.buf, second, true), GW_ZSTREAM_MESSAGE);
    //  After a sync flush the next block starts on a byte: make its type
    //  the reserved 11, which no inflater accepts.
    deflater.buf[second] = 0x06;
    cr_assert_eq (gw_zstream_feed (z, deflater.buf + second, deflater.len - second, true),
                  GW_ZSTREAM_CORRUPT);
    deflater_end (&deflater);
    gw_zstream_destroy (&z);
}

Test (gateway_zstream, oversized_message_refused)
{
    deflater_init (&deflater);
    //  4 KiB of one letter deflates to a few bytes: a zip bomb in small.
    static char big[4097];
    memset (big, 'x', sizeof big - 1);
    size_t start = deflater_message (&deflater, big, sizeof big - 1);
    cr_assert_lt (deflater.len - start, 100);
    gw_zstream_t *z = gw_zstream_new (4095);
    cr_assert_eq (gw_zstream_feed (z, deflater.buf + start, deflater.len - start, true),
                  GW_ZSTREAM_TOO_BIG);
    //  The same message fits a bound of exactly its size.
    gw_zstream_t *fits = gw_zstream_new (4096);
    cr_assert_eq (gw_zstream_feed (fits, deflater.buf + start, deflater.len - start, true),
                  GW_ZSTREAM_MESSAGE);
    size_t len;
    gw_zstream_message (fits, &len);
    cr_assert_eq (len, 4096);
    gw_zstream_destroy (&z);
    gw_zstream_destroy (&fits);
    deflater_end (&deflater);
}

/*  lws_query — the query string of a libwebsockets request (see lws_query.h). */
#include "common/lws_query.h"

#include <assert.h>
#include <libwebsockets.h>
#include <stdlib.h>

char *
cb_lws_query_copy (struct lws *wsi)
{
    int total = lws_hdr_total_length (wsi, WSI_TOKEN_HTTP_URI_ARGS);
    if (total < 0)
        total = 0;
    char *out = calloc (1, (size_t) total + 2);
    assert (out);
    int used = 0;
    for (int i = 0; total > 0; i++) {
        int sep = i > 0;
        int n = lws_hdr_copy_fragment (wsi, out + used + sep, total + 2 - used - sep,
                                       WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            break;
        if (sep)
            out[used] = '&';
        used += n + sep;
    }
    return out;
}

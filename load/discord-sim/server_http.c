/*  server_http — the HTTP side of --serve: one request at a time per
 *  connection, read with lws, answered by the REST or control routes,
 *  written back with their headers (optionally after a delay, for the
 *  slow_rest fault: an lws timer on the connection, so nothing blocks).
 *
 *  lws 4.1 quirks handled as common/http_listener.c handles them: reading
 *  is paused while a response is pending (a flow-controlled connection is
 *  resumed before asking for writeable), chunked bodies are refused, and a
 *  "complete" that comes twice (pipelining behind a body) closes after the
 *  answer. Bodies above 1 MiB are read and dropped, then refused with 413.
 */
#include "load/discord-sim/server_int.h"
#include "common/lws_query.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY (1024 * 1024)

static const char *const METHOD_NAMES[] = {"GET",   "POST",   "OPTIONS", "PUT",
                                           "PATCH", "DELETE", "CONNECT", "HEAD"};
#define METHOD_COUNT (sizeof METHOD_NAMES / sizeof METHOD_NAMES[0])

typedef struct {
    uint32_t kind; // SRV_CONN_HTTP
    struct lws *wsi;
    char method[8];
    char *path, *query, *authorization, *content_type;
    char *body;
    size_t body_len;
    bool too_large, chunked, complete, responding, close_after;
    srv_response_t resp;
} http_conn_t;

//  ---------------------------------------------------------------------------
//  Responses

void
srv_respond_json (srv_response_t *r, int status, json_t *body)
{
    r->status = status;
    free (r->body);
    //  Reals with 10 significant digits: retry_after 0.523, not 0.52300000000000002.
    r->body = body ? json_dumps (body, JSON_COMPACT | JSON_REAL_PRECISION (10)) : NULL;
    r->body_len = r->body ? strlen (r->body) : 0;
    r->content_type = "application/json";
    json_decref (body);
}

void
srv_respond_error (srv_response_t *r, int status, int code, const char *message)
{
    srv_respond_json (r, status, json_pack ("{s:s, s:i}", "message", message, "code", code));
}

void
srv_respond_header (srv_response_t *r, const char *name, const char *fmt, ...)
{
    if (r->header_count >= SRV_MAX_HEADERS)
        return;
    snprintf (r->names[r->header_count], sizeof r->names[0], "%s:", name);
    va_list args;
    va_start (args, fmt);
    vsnprintf (r->values[r->header_count], sizeof r->values[0], fmt, args);
    va_end (args);
    r->header_count++;
}

//  ---------------------------------------------------------------------------
//  Connections

static http_conn_t *
conn_of (struct lws *wsi)
{
    http_conn_t *c = lws_get_opaque_user_data (wsi);
    if (c && c->kind != SRV_CONN_HTTP)
        return NULL;
    if (!c) {
        c = calloc (1, sizeof *c);
        assert (c);
        c->kind = SRV_CONN_HTTP;
        c->wsi = wsi;
        lws_set_opaque_user_data (wsi, c);
    }
    return c;
}

//  Forgets the request (not the connection).
static void
conn_reset (http_conn_t *c)
{
    free (c->path);
    free (c->query);
    free (c->authorization);
    free (c->content_type);
    free (c->body);
    free (c->resp.body);
    struct lws *wsi = c->wsi;
    memset (c, 0, sizeof *c);
    c->kind = SRV_CONN_HTTP;
    c->wsi = wsi;
}

static void
conn_free (struct lws *wsi)
{
    http_conn_t *c = lws_get_opaque_user_data (wsi);
    if (!c || c->kind != SRV_CONN_HTTP)
        return;
    conn_reset (c);
    lws_set_opaque_user_data (wsi, NULL);
    free (c);
}

static char *
header_copy (struct lws *wsi, enum lws_token_indexes token)
{
    int len = lws_hdr_total_length (wsi, token);
    if (len <= 0)
        return NULL;
    char *value = calloc (1, (size_t) len + 1);
    assert (value);
    if (lws_hdr_copy (wsi, value, len + 1, token) < 0) {
        free (value);
        return NULL;
    }
    return value;
}

//  The headers are in; true when a body follows.
static bool
conn_begin (http_conn_t *c, const char *path, size_t len)
{
    conn_reset (c);
    char *uri;
    int uri_len;
    int m = lws_http_get_uri_and_method (c->wsi, &uri, &uri_len);
    snprintf (c->method, sizeof c->method, "%s",
              m >= 0 && (size_t) m < METHOD_COUNT ? METHOD_NAMES[m] : "");
    c->path = strndup (path, len);
    assert (c->path);
    c->query = cb_lws_query_copy (c->wsi);
    c->authorization = header_copy (c->wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    c->content_type = header_copy (c->wsi, WSI_TOKEN_HTTP_CONTENT_TYPE);
    c->chunked = lws_hdr_total_length (c->wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
    return !c->chunked && lws_hdr_total_length (c->wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
}

static void
conn_body (http_conn_t *c, const void *data, size_t size)
{
    if (c->too_large || c->complete || size == 0)
        return;
    if (c->body_len + size > MAX_BODY) {
        c->too_large = true;
        return;
    }
    c->body = realloc (c->body, c->body_len + size + 1);
    assert (c->body);
    memcpy (c->body + c->body_len, data, size);
    c->body_len += size;
    c->body[c->body_len] = '\0';
}

//  ---------------------------------------------------------------------------
//  Answering

static void
route (srv_t *srv, http_conn_t *c)
{
    srv_request_t req = {
        .method = c->method,
        .path = c->path,
        .query = c->query,
        .authorization = c->authorization,
        .content_type = c->content_type,
        .body = c->body ? c->body : "",
        .body_len = c->body_len,
    };
    srv_response_t *r = &c->resp;
    if (c->chunked)
        srv_respond_error (r, 400, 50109, "chunked request bodies are not supported");
    else if (c->too_large)
        srv_respond_error (r, 413, 40005, "Request entity too large");
    else if (strncmp (c->path, "/_sim/", 6) == 0)
        srv_control_serve (srv, &req, r);
    else if (strncmp (c->path, "/api/v10/", 9) == 0 || strncmp (c->path, "/api/v9/", 8) == 0)
        srv_rest_serve (srv, &req, strchr (c->path + 5, '/'), r);
    else
        srv_respond_error (r, 404, 0, "404: Not Found");
}

static void
conn_complete (srv_t *srv, http_conn_t *c)
{
    if (c->complete) {
        c->close_after = true;
        return;
    }
    c->complete = true;
    lws_rx_flow_control (c->wsi, 0);
    route (srv, c);
    c->responding = true;
    lws_rx_flow_control (c->wsi, 1);
    if (c->resp.delay_ms > 0)
        lws_set_timer_usecs (c->wsi, c->resp.delay_ms * 1000);
    else
        lws_callback_on_writable (c->wsi);
}

static int
write_headers (http_conn_t *c)
{
    uint8_t buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    srv_response_t *r = &c->resp;
    //  A body-less answer (204) has no Content-Type: clients that see
    //  application/json would try to parse the empty body.
    if (r->body_len == 0 && r->status == 204) {
        if (lws_add_http_header_status (c->wsi, (unsigned) r->status, &p, end))
            return -1;
    } else if (lws_add_http_common_headers (c->wsi, (unsigned) r->status,
                                            r->content_type ? r->content_type : "application/json",
                                            r->body_len, &p, end))
        return -1;
    for (int i = 0; i < r->header_count; i++)
        if (lws_add_http_header_by_name (c->wsi, (const uint8_t *) r->names[i],
                                         (const uint8_t *) r->values[i],
                                         (int) strlen (r->values[i]), &p, end))
            return -1;
    if (c->close_after && lws_add_http_header_by_token (c->wsi, WSI_TOKEN_CONNECTION,
                                                        (uint8_t *) "close", 5, &p, end))
        return -1;
    return lws_finalize_write_http_header (c->wsi, start, &p, end) ? -1 : 0;
}

static int
conn_write (http_conn_t *c)
{
    if (!c->responding)
        return 0;
    if (write_headers (c) != 0)
        return -1;
    size_t size = c->resp.body_len;
    if (size > 0) {
        uint8_t *out = malloc (LWS_PRE + size);
        assert (out);
        memcpy (out + LWS_PRE, c->resp.body, size);
        int n = lws_write (c->wsi, out + LWS_PRE, size, LWS_WRITE_HTTP_FINAL);
        free (out);
        if (n != (int) size)
            return -1;
    }
    bool close_after = c->close_after;
    conn_reset (c);
    if (close_after)
        return -1;
    return lws_http_transaction_completed (c->wsi) ? -1 : 0;
}

int
srv_http_callback (srv_t *srv, struct lws *wsi, enum lws_callback_reasons reason, void *in,
                   size_t len)
{
    http_conn_t *c = reason == LWS_CALLBACK_WSI_DESTROY ? NULL : conn_of (wsi);
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        if (!c)
            return -1;
        if (!conn_begin (c, in, len))
            conn_complete (srv, c);
        return 0;
    case LWS_CALLBACK_HTTP_BODY:
        if (c)
            conn_body (c, in, len);
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (c)
            conn_complete (srv, c);
        return 0;
    case LWS_CALLBACK_TIMER:
        if (c && c->responding)
            lws_callback_on_writable (wsi);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return c ? conn_write (c) : 0;
    case LWS_CALLBACK_WSI_DESTROY:
        conn_free (wsi);
        return 0;
    default:
        return 0;
    }
}

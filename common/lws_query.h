/*  lws_query — the query string of a libwebsockets HTTP request, whole.
 *
 *  lws hands the query out in fragments, split at '&' and URL-decoded
 *  ('+' becomes a space); this joins them again with '&'. An encoded
 *  "%26" in a value therefore reads as a separator. Shared by the HTTP
 *  listener (common/http_listener.c) and the simulator's server.
 */
#ifndef CB_LWS_QUERY_H
#define CB_LWS_QUERY_H

struct lws;

//  The query without its '?', "" when none; the caller frees it.
char *cb_lws_query_copy (struct lws *wsi);

#endif

/*  assets — the dashboard's files, compiled into the binary.
 *
 *  services/metrics/web/{index.html,app.js,style.css,favicon.svg} are
 *  turned into C arrays at build time (services/metrics/web/embed.sh, the
 *  Makefile's metrics_assets.c rule), so the service needs no files beside
 *  it and the page loads nothing from anywhere else.
 */
#ifndef METRICS_ASSETS_H
#define METRICS_ASSETS_H

#include <stddef.h>

typedef struct {
    const char *path; // URL path: "/" for index.html, "/<file>" else
    const char *content_type;
    const unsigned char *data;
    size_t size;
} metrics_asset_t;

extern const metrics_asset_t metrics_assets[];
extern const size_t metrics_assets_count;

#endif

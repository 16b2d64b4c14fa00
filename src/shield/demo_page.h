#ifndef ARQ_SHIELD_DEMO_PAGE_H
#define ARQ_SHIELD_DEMO_PAGE_H

#include <stddef.h>

/* What the Shield serves over plain HTTP on its client port: the demo page at `/` and its
 * assets (web/demo/), and the JavaScript SDK at /sdk/arqonbus.js (sdk/js/src/arqonbus.js).
 * The files are embedded at build time: cmake/web_assets.cmake generates the table
 * (demo_assets.c in the build tree). `make run` prints the page's URL with a development
 * token in the fragment, which browsers never send to the server. */
typedef struct {
  const char *path;         /* the URL path, e.g. "/" or "/sdk/arqonbus.js" */
  const char *content_type;
  const char *etag;         /* quoted: the first 16 hex digits of the content's SHA-256 */
  const unsigned char *data;
  size_t len;
} arq_demo_asset_t;

extern const arq_demo_asset_t arq_demo_assets[];
extern const size_t arq_demo_assets_count;

#endif

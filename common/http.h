//  http.h -- a daemon's HTTP side (`--http ADDR:PORT`): GET /healthz,
//  /readyz, and the documents the daemon publishes (/metrics; the broker's
//  dashboard and /api/state), served by libmicrohttpd on a thread of its
//  own.  That thread never reads the daemon's state: the daemon's loop
//  publishes whole documents (copied in under a mutex) and a heartbeat
//  every HTTP_PUBLISH_MS, and the thread serves the latest of each.
//
//  /healthz: 200 while the loop's heartbeat is younger than HTTP_STALE_MS
//  (the process loop is alive), else 503.  /readyz: 200 while alive and
//  the daemon says it is ready, else 503 with the reason.  With a token,
//  every other path needs it: "Authorization: Bearer TOKEN", or ?token=
//  in the URL (for a browser opening the dashboard); else 401.  Read-only:
//  GET and HEAD, anything else 405.
#ifndef DROVER_HTTP_H
#define DROVER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/metrics.h"

#define HTTP_PUBLISH_MS     250     //  how often a loop publishes
#define HTTP_STALE_MS       10000   //  an older heartbeat fails /healthz
#define HTTP_DOCUMENTS_MAX  8       //  paths a daemon may publish

typedef struct {
    const char *address;        //  "HOST:PORT", "[IPv6]:PORT", "*:PORT" (all
                                //  interfaces), or ":PORT" / "PORT": 127.0.0.1
    const char *token;          //  NULL or "": none asked
} http_config_t;

//  Split address as http_config_t says into a host for getaddrinfo (NULL
//  for all interfaces) and a port (0: any free one).  0, or -EINVAL with
//  the reason in error.
int  http_parse_address (const char *address, char *host, size_t host_size,
                         uint16_t *port_p, char *error, size_t error_size);

typedef struct http http_t;

//  Listen on config's address and serve (copies config).  Until the first
//  http_heartbeat, /healthz and /readyz say "starting".  NULL if the
//  address is bad or cannot be bound (logged).
http_t *http_new (const http_config_t *config);
void    http_destroy (http_t **self_p);
//  Where it listens, "127.0.0.1:9100" (the port resolved if 0 was asked).
const char *http_endpoint (const http_t *self);
uint16_t    http_port (const http_t *self);
bool        http_has_token (const http_t *self);

//  Serve body (size bytes, copied) at path from now on, replacing what
//  was there.  0, -ENOMEM, or -ENOSPC past HTTP_DOCUMENTS_MAX paths.
int  http_publish (http_t *self, const char *path, const char *content_type,
                   const char *body, size_t size);
//  The same for a document that never changes: body is borrowed for the
//  server's life (a page compiled into the binary).
int  http_publish_static (http_t *self, const char *path, const char *content_type,
                          const char *body, size_t size);
//  Render metrics (a snapshot, common/metrics.h) and serve it at /metrics.
//  0 or -ENOMEM.
int  http_publish_metrics (http_t *self, metrics_t *metrics);
//  The loop is alive now; ready or not, and if not, why (for /readyz).
void http_heartbeat (http_t *self, bool ready, const char *why_not);

//  The loop's publishing cadence (loop thread only): true once every
//  HTTP_PUBLISH_MS, and when that next is (zclock_mono ms).
bool    http_due (http_t *self, int64_t now);
int64_t http_next (const http_t *self);

#endif

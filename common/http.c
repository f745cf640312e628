//  http.c -- see http.h.  libmicrohttpd rather than our own server: a
//  well-kept library parses HTTP, bounds connections and times out slow
//  clients better than code we would write.  One lock guards what the loop
//  and the server thread share: the documents and the heartbeat.
#include "common/http.h"
#include "common/log.h"

#include <czmq.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_CONNECTIONS_MAX  32
#define HTTP_TIMEOUT_S        10        //  an idle connection is closed after this
#define HTTP_PATH_MAX         32
#define HTTP_TYPE_MAX         48

//  Sent with every answer: nothing is cached, the page runs only its own
//  inline script and talks only to us, and no other site may frame it.
#define HTTP_POLICY "default-src 'none'; script-src 'unsafe-inline'; " \
                    "style-src 'unsafe-inline'; connect-src 'self'; img-src data:; " \
                    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

typedef struct {
    char path[HTTP_PATH_MAX];
    char type[HTTP_TYPE_MAX];
    char *body;
    size_t size;
    bool borrowed;
} document_t;

struct http {
    struct MHD_Daemon *daemon;
    char endpoint[80];
    uint16_t port;
    bool has_token;
    uint8_t token_hash[crypto_generichash_BYTES];
    int64_t next_publish;       //  the loop's alone

    pthread_mutex_t lock;       //  guards what follows
    document_t documents[HTTP_DOCUMENTS_MAX];
    size_t document_count;
    int64_t alive_at;           //  zclock_mono of the last heartbeat, 0: none yet
    bool ready;
    char why_not[128];
};

//  ---------------------------------------------------------------------
//  The address

int
http_parse_address (const char *address, char *host, size_t host_size, uint16_t *port_p,
                    char *error, size_t error_size)
{
    const char *colon = address? strrchr (address, ':'): NULL;
    const char *port_text = colon? colon + 1: address;
    const char *host_start = address, *host_end = colon? colon: address;
    if (host_start && *host_start == '[') {         //  [IPv6]:PORT
        host_start++;
        if (host_end <= host_start || host_end[-1] != ']') {
            snprintf (error, error_size, "an IPv6 address goes in brackets: [::1]:9100");
            return -EINVAL;
        }
        host_end--;
    }
    else
    if (host_start && memchr (host_start, ':', (size_t) (host_end - host_start))) {
        snprintf (error, error_size, "an IPv6 address goes in brackets: [::1]:9100");
        return -EINVAL;
    }
    char *end = NULL;
    errno = 0;
    long port = port_text && *port_text? strtol (port_text, &end, 10): -1;
    if (errno || port < 0 || port > 65535 || !end || *end) {
        snprintf (error, error_size, "expected ADDR:PORT, :PORT or PORT, with a port "
                  "from 0 to 65535");
        return -EINVAL;
    }
    size_t length = (size_t) (host_end - host_start);
    if (length >= host_size) {
        snprintf (error, error_size, "host name too long");
        return -EINVAL;
    }
    if (length == 0)
        snprintf (host, host_size, "127.0.0.1");     //  loopback unless told
    else
    if (length == 1 && *host_start == '*')
        *host = 0;                                  //  all interfaces
    else
        snprintf (host, host_size, "%.*s", (int) length, host_start);
    *port_p = (uint16_t) port;
    return 0;
}

//  ---------------------------------------------------------------------
//  Answering

static enum MHD_Result
s_reply (struct MHD_Connection *connection, unsigned status, const char *type,
         const char *body, size_t size)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer (size, (void *) body, MHD_RESPMEM_MUST_COPY);
    if (!response)
        return MHD_NO;
    MHD_add_response_header (response, "Content-Type", type);
    MHD_add_response_header (response, "Cache-Control", "no-store");
    MHD_add_response_header (response, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header (response, "Referrer-Policy", "no-referrer");
    MHD_add_response_header (response, "Content-Security-Policy", HTTP_POLICY);
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header (response, "WWW-Authenticate", "Bearer realm=\"drover\"");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header (response, "Allow", "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response (connection, status, response);
    MHD_destroy_response (response);
    return rc;
}

static enum MHD_Result
s_text (struct MHD_Connection *connection, unsigned status, const char *text)
{
    return s_reply (connection, status, "text/plain; charset=utf-8", text, strlen (text));
}

//  The token from the Authorization header or ?token=, checked in
//  constant time (both sides hashed, so lengths do not leak either).
static bool
s_authorized (http_t *self, struct MHD_Connection *connection)
{
    if (!self->has_token)
        return true;
    const char *given = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_AUTHORIZATION);
    if (given && !strncasecmp (given, "Bearer ", 7))
        given += 7;
    else
        given = MHD_lookup_connection_value (connection, MHD_GET_ARGUMENT_KIND, "token");
    if (!given)
        return false;
    uint8_t hash[crypto_generichash_BYTES];
    crypto_generichash (hash, sizeof hash, (const uint8_t *) given, strlen (given), NULL, 0);
    return sodium_memcmp (hash, self->token_hash, sizeof hash) == 0;
}

//  /healthz and /readyz, from the loop's last heartbeat.
static enum MHD_Result
s_health (http_t *self, struct MHD_Connection *connection, bool readiness)
{
    char text[192];
    unsigned status = MHD_HTTP_SERVICE_UNAVAILABLE;
    pthread_mutex_lock (&self->lock);
    int64_t age = zclock_mono () - self->alive_at;
    if (!self->alive_at)
        snprintf (text, sizeof text, "starting\n");
    else
    if (age > HTTP_STALE_MS)
        snprintf (text, sizeof text, "stalled: the loop last ran %lld ms ago\n",
                  (long long) age);
    else
    if (readiness && !self->ready)
        snprintf (text, sizeof text, "not ready: %s\n", self->why_not);
    else {
        snprintf (text, sizeof text, readiness? "ready\n": "ok\n");
        status = MHD_HTTP_OK;
    }
    pthread_mutex_unlock (&self->lock);
    return s_text (connection, status, text);
}

static enum MHD_Result
s_document (http_t *self, struct MHD_Connection *connection, const char *path)
{
    pthread_mutex_lock (&self->lock);
    const document_t *found = NULL;
    for (size_t i = 0; i < self->document_count && !found; i++)
        if (!strcmp (self->documents[i].path, path))
            found = &self->documents[i];
    //  Copied into the response under the lock: the loop may replace it next.
    enum MHD_Result rc = found?
        s_reply (connection, MHD_HTTP_OK, found->type, found->body, found->size): MHD_NO;
    pthread_mutex_unlock (&self->lock);
    return found? rc: s_text (connection, MHD_HTTP_NOT_FOUND, "not found\n");
}

static enum MHD_Result
s_answer (void *cls, struct MHD_Connection *connection, const char *url,
          const char *method, const char *version, const char *upload_data,
          size_t *upload_data_size, void **request)
{
    (void) version;
    (void) upload_data;
    (void) request;
    http_t *self = (http_t *) cls;
    if (strcmp (method, MHD_HTTP_METHOD_GET) && strcmp (method, MHD_HTTP_METHOD_HEAD))
        return s_text (connection, MHD_HTTP_METHOD_NOT_ALLOWED, "read-only: GET or HEAD\n");
    *upload_data_size = 0;      //  a GET's body, if any, is ignored
    if (!strcmp (url, "/healthz") || !strcmp (url, "/readyz"))
        return s_health (self, connection, url[1] == 'r');
    if (!s_authorized (self, connection))
        return s_text (connection, MHD_HTTP_UNAUTHORIZED, "a token is required: "
                       "Authorization: Bearer TOKEN, or ?token=TOKEN\n");
    return s_document (self, connection, url);
}

//  libmicrohttpd's own complaints (a bind failure, a broken connection).
static void
s_log (void *cls, const char *fmt, va_list ap)
{
    (void) cls;
    char line[256];
    vsnprintf (line, sizeof line, fmt, ap);
    line[strcspn (line, "\n")] = 0;
    log_warn ("http: %s", line);
}

//  ---------------------------------------------------------------------
//  Life cycle

//  Start libmicrohttpd on addr.  Its thread must not take the signals the
//  loop waits for (SIGINT, SIGTERM): they are blocked while it starts.
static struct MHD_Daemon *
s_start (http_t *self, const struct addrinfo *addr)
{
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG
                   | (addr->ai_family == AF_INET6? MHD_USE_IPv6: 0);
    sigset_t all, old;
    sigfillset (&all);
    pthread_sigmask (SIG_BLOCK, &all, &old);
    struct MHD_Daemon *daemon = MHD_start_daemon (
        flags, 0, NULL, NULL, s_answer, self,
        MHD_OPTION_EXTERNAL_LOGGER, s_log, NULL,     //  first, or MHD says so
        MHD_OPTION_SOCK_ADDR, addr->ai_addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned) HTTP_CONNECTIONS_MAX,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) HTTP_TIMEOUT_S,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
        MHD_OPTION_END);
    pthread_sigmask (SIG_SETMASK, &old, NULL);
    return daemon;
}

//  Resolve and bind; the endpoint as bound into self->endpoint.
static int
s_listen (http_t *self, const char *address)
{
    char host[256], error[128];
    uint16_t port;
    if (http_parse_address (address, host, sizeof host, &port, error, sizeof error)) {
        log_error ("http: %s: %s", address? address: "(none)", error);
        return -EINVAL;
    }
    char service[8];
    snprintf (service, sizeof service, "%u", port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *found = NULL;
    int rc = getaddrinfo (*host? host: NULL, service, &hints, &found);
    if (rc || !found) {
        log_error ("http: %s: %s", address, gai_strerror (rc));
        return -EINVAL;
    }
    self->daemon = s_start (self, found);
    bool v6 = found->ai_family == AF_INET6;
    freeaddrinfo (found);
    if (!self->daemon) {
        log_error ("http: cannot listen on %s", address);
        return -EADDRNOTAVAIL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon,
                                                            MHD_DAEMON_INFO_BIND_PORT);
    self->port = info? info->port: port;
    snprintf (self->endpoint, sizeof self->endpoint, v6? "[%s]:%u": "%s:%u",
              *host? host: v6? "::": "0.0.0.0", self->port);
    return 0;
}

http_t *
http_new (const http_config_t *config)
{
    if (sodium_init () < 0)
        return NULL;
    http_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init (&self->lock, NULL);
    snprintf (self->why_not, sizeof self->why_not, "starting");
    const char *token = config->token;
    if (token && *token) {
        self->has_token = true;
        crypto_generichash (self->token_hash, sizeof self->token_hash,
                            (const uint8_t *) token, strlen (token), NULL, 0);
    }
    if (s_listen (self, config->address)) {
        http_destroy (&self);
        return NULL;
    }
    return self;
}

void
http_destroy (http_t **self_p)
{
    http_t *self = *self_p;
    if (!self)
        return;
    if (self->daemon)
        MHD_stop_daemon (self->daemon);         //  joins its thread
    for (size_t i = 0; i < self->document_count; i++)
        if (!self->documents[i].borrowed)
            free (self->documents[i].body);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

const char *
http_endpoint (const http_t *self)
{
    return self->endpoint;
}

uint16_t
http_port (const http_t *self)
{
    return self->port;
}

bool
http_has_token (const http_t *self)
{
    return self->has_token;
}

//  ---------------------------------------------------------------------
//  What the loop publishes

//  Put body at path (a copy unless borrowed), under the lock.
static int
s_put (http_t *self, const char *path, const char *type, const char *body, size_t size,
       bool borrowed)
{
    char *copy = (char *) body;
    if (!borrowed && !(copy = malloc (size? size: 1)))
        return -ENOMEM;
    if (!borrowed)
        memcpy (copy, body, size);
    pthread_mutex_lock (&self->lock);
    document_t *document = NULL;
    for (size_t i = 0; i < self->document_count && !document; i++)
        if (!strcmp (self->documents[i].path, path))
            document = &self->documents[i];
    if (!document && self->document_count < HTTP_DOCUMENTS_MAX)
        document = &self->documents[self->document_count++];
    char *old = NULL;
    if (document) {
        old = document->body && !document->borrowed? document->body: NULL;
        *document = (document_t) { .body = copy, .size = size, .borrowed = borrowed };
        snprintf (document->path, sizeof document->path, "%s", path);
        snprintf (document->type, sizeof document->type, "%s", type);
    }
    pthread_mutex_unlock (&self->lock);
    free (old);
    if (!document && !borrowed)
        free (copy);
    return document? 0: -ENOSPC;
}

int
http_publish (http_t *self, const char *path, const char *content_type,
              const char *body, size_t size)
{
    return s_put (self, path, content_type, body, size, false);
}

int
http_publish_static (http_t *self, const char *path, const char *content_type,
                     const char *body, size_t size)
{
    return s_put (self, path, content_type, body, size, true);
}

int
http_publish_metrics (http_t *self, metrics_t *metrics)
{
    size_t size;
    char *text = metrics_render (metrics, &size);
    int rc = text? http_publish (self, "/metrics", "text/plain; version=0.0.4; charset=utf-8",
                                 text, size): -ENOMEM;
    free (text);
    return rc;
}

void
http_heartbeat (http_t *self, bool ready, const char *why_not)
{
    pthread_mutex_lock (&self->lock);
    self->alive_at = zclock_mono ();
    self->ready = ready;
    snprintf (self->why_not, sizeof self->why_not, "%s", why_not? why_not: "");
    pthread_mutex_unlock (&self->lock);
}

bool
http_due (http_t *self, int64_t now)
{
    if (now < self->next_publish)
        return false;
    self->next_publish = now + HTTP_PUBLISH_MS;
    return true;
}

int64_t
http_next (const http_t *self)
{
    return self->next_publish;
}

//  test_http.c -- the HTTP side every daemon shares (common/http.c), on
//  real loopback sockets: addresses (loopback unless told), /healthz and
//  /readyz from the loop's heartbeat, documents published and replaced
//  while clients read them, the token, read-only methods.
#include <criterion/criterion.h>

#include "common/http.h"
#include "support.h"
#include "support_http.h"

#include <czmq.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOKEN "correct-horse-battery-staple"

static http_t *
s_server (const char *address, const char *token)
{
    http_config_t config = { .address = address, .token = token };
    http_t *http = http_new (&config);
    cr_assert_not_null (http, "cannot listen on %s", address);
    return http;
}

static int
s_get (http_t *http, const char *path, const char *header, char **body_p)
{
    return support_http_get (http_port (http), path, header, body_p);
}

Test (http, addresses)
{
    char host[64], error[128];
    uint16_t port;
    struct { const char *address, *host; uint16_t port; } good[] = {
        { "9100", "127.0.0.1", 9100 }, { ":9100", "127.0.0.1", 9100 },
        { "*:80", "", 80 }, { "0.0.0.0:9100", "0.0.0.0", 9100 },
        { "[::1]:0", "::1", 0 }, { "localhost:65535", "localhost", 65535 } };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        cr_assert_eq (http_parse_address (good[i].address, host, sizeof host, &port,
                                          error, sizeof error), 0, "%s", good[i].address);
        cr_expect_str_eq (host, good[i].host, "%s", good[i].address);
        cr_expect_eq (port, good[i].port, "%s", good[i].address);
    }
    const char *bad[] = { "", "abc", "host:", "1.2.3.4:65536", "1.2.3.4:-1", "[::1:80",
                          "::1]:80", "9100x", NULL };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq (http_parse_address (bad[i], host, sizeof host, &port, error,
                                          sizeof error), -EINVAL, "%s", bad[i]? bad[i]: "NULL");
    http_config_t config = { .address = "nonsense" };
    cr_expect_null (http_new (&config));
}

//  127.0.0.2 is loopback too, but not the address a default server binds.
Test (http, loopback_unless_told)
{
    http_t *http = s_server (":0", NULL);
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "127.0.0.1:%u", http_port (http));
    cr_expect_str_eq (http_endpoint (http), endpoint);
    support_http_t reply;
    cr_expect_eq (support_http ("127.0.0.1", http_port (http), "GET", "/healthz", NULL,
                                &reply), 0);
    support_http_free (&reply);
    cr_expect_eq (support_http ("127.0.0.2", http_port (http), "GET", "/healthz", NULL,
                                &reply), -1, "a default server answers on 127.0.0.2");
    http_destroy (&http);
    cr_expect_null (http);
    http = s_server ("*:0", NULL);
    cr_expect_eq (support_http ("127.0.0.2", http_port (http), "GET", "/healthz", NULL,
                                &reply), 0, "*:PORT does not listen everywhere");
    support_http_free (&reply);
    http_destroy (&http);
    http = s_server ("[::1]:0", NULL);
    cr_expect_eq (support_http ("::1", http_port (http), "GET", "/healthz", NULL, &reply), 0);
    cr_expect_eq (reply.status, 503);
    support_http_free (&reply);
    http_destroy (&http);
}

Test (http, health_and_readiness)
{
    http_t *http = s_server ("127.0.0.1:0", NULL);
    char *body = NULL;
    cr_expect_eq (s_get (http, "/healthz", NULL, &body), 503);
    cr_expect_str_eq (body, "starting\n");
    free (body);
    cr_expect_eq (s_get (http, "/readyz", NULL, NULL), 503);
    http_heartbeat (http, false, "no broker session");
    cr_expect_eq (s_get (http, "/healthz", NULL, NULL), 200);
    cr_expect_eq (s_get (http, "/readyz", NULL, &body), 503);
    cr_expect_str_eq (body, "not ready: no broker session\n");
    free (body);
    //  Taken before the beat: the GETs between may take long on a loaded
    //  machine, and staleness counts from the beat, not from them.
    int64_t beat = support_now_ms ();
    http_heartbeat (http, true, NULL);
    cr_expect_eq (s_get (http, "/readyz", NULL, &body), 200);
    cr_expect_str_eq (body, "ready\n");
    free (body);
    //  A loop that stops beating is not alive, nor ready, after HTTP_STALE_MS.
    cr_expect (SUPPORT_WAIT (s_get (http, "/healthz", NULL, NULL) == 503,
                             HTTP_STALE_MS + 5000));
    cr_expect_geq (support_now_ms () - beat, HTTP_STALE_MS);
    cr_expect_eq (s_get (http, "/readyz", NULL, &body), 503);
    cr_expect (strstr (body, "stalled"), "%s", body);
    free (body);
    http_destroy (&http);
}

Test (http, documents)
{
    http_t *http = s_server ("127.0.0.1:0", NULL);
    static const char page[] = "<!doctype html><p>hello</p>";
    cr_assert_eq (http_publish_static (http, "/", "text/html", page, strlen (page)), 0);
    cr_assert_eq (http_publish (http, "/metrics", "text/plain", "a 1\n", 4), 0);
    char *body = NULL;
    cr_expect_eq (s_get (http, "/metrics", NULL, &body), 200);
    cr_expect_str_eq (body, "a 1\n");
    free (body);
    cr_assert_eq (http_publish (http, "/metrics", "text/plain", "a 2\n", 4), 0);
    cr_expect_eq (s_get (http, "/metrics", NULL, &body), 200);
    cr_expect_str_eq (body, "a 2\n");
    free (body);
    support_http_t reply;
    cr_assert_eq (support_http ("127.0.0.1", http_port (http), "GET", "/", NULL, &reply), 0);
    cr_expect_str_eq (reply.body, page);
    cr_expect (strcasestr (reply.headers, "Content-Type: text/html"), "%s", reply.headers);
    cr_expect (strcasestr (reply.headers, "Cache-Control: no-store"), "%s", reply.headers);
    support_http_free (&reply);
    cr_expect_eq (s_get (http, "/nothing", NULL, NULL), 404);
    //  Read-only: HEAD has no body, anything else is refused.
    cr_assert_eq (support_http ("127.0.0.1", http_port (http), "HEAD", "/metrics", NULL,
                                &reply), 0);
    cr_expect_eq (reply.status, 200);
    cr_expect_str_eq (reply.body, "");
    support_http_free (&reply);
    const char *methods[] = { "POST", "PUT", "DELETE" };
    for (int i = 0; i < 3; i++) {
        cr_assert_eq (support_http ("127.0.0.1", http_port (http), methods[i], "/metrics",
                                    NULL, &reply), 0);
        cr_expect_eq (reply.status, 405, "%s", methods[i]);
        support_http_free (&reply);
    }
    //  A bounded table of paths.
    char path[32];
    int rc = 0;
    for (int i = 0; i < HTTP_DOCUMENTS_MAX && rc == 0; i++) {
        snprintf (path, sizeof path, "/doc%d", i);
        rc = http_publish (http, path, "text/plain", "x", 1);
    }
    cr_expect_eq (rc, -ENOSPC);
    http_destroy (&http);
}

Test (http, token)
{
    http_t *http = s_server ("127.0.0.1:0", TOKEN);
    cr_expect (http_has_token (http));
    http_publish (http, "/metrics", "text/plain", "a 1\n", 4);
    http_heartbeat (http, true, NULL);
    char *body = NULL;
    cr_expect_eq (s_get (http, "/metrics", NULL, &body), 401);
    cr_expect_null (strstr (body, "a 1"));
    free (body);
    cr_expect_eq (s_get (http, "/metrics", "Authorization: Bearer " TOKEN, NULL), 200);
    cr_expect_eq (s_get (http, "/metrics", "Authorization: bearer " TOKEN, NULL), 200);
    cr_expect_eq (s_get (http, "/metrics?token=" TOKEN, NULL, NULL), 200);
    cr_expect_eq (s_get (http, "/metrics", "Authorization: Bearer " TOKEN "x", NULL), 401);
    cr_expect_eq (s_get (http, "/metrics", "Authorization: Bearer correct", NULL), 401);
    cr_expect_eq (s_get (http, "/metrics?token=", NULL, NULL), 401);
    cr_expect_eq (s_get (http, "/nothing", NULL, NULL), 401);   //  not even what exists
    //  Probes need no token.
    cr_expect_eq (s_get (http, "/healthz", NULL, NULL), 200);
    cr_expect_eq (s_get (http, "/readyz", NULL, NULL), 200);
    http_destroy (&http);
}

//  A client reading while the loop replaces the document: every answer is
//  one whole version, never a mix.
typedef struct {
    int port;
    int answers, torn;
    volatile bool stop;
} reader_t;

static void *
s_reader (void *arg)
{
    reader_t *reader = arg;
    while (!reader->stop) {
        char *body = NULL;
        if (support_http_get (reader->port, "/metrics", NULL, &body) == 200) {
            reader->answers++;
            size_t length = strlen (body);
            bool whole = length == 4096 && strspn (body, "a") == length;
            whole = whole || (length == 8192 && strspn (body, "b") == length);
            reader->torn += !whole;
        }
        free (body);
    }
    return NULL;
}

Test (http, publish_while_serving)
{
    http_t *http = s_server ("127.0.0.1:0", NULL);
    char *a = malloc (4096), *b = malloc (8192);
    memset (a, 'a', 4096);
    memset (b, 'b', 8192);
    http_publish (http, "/metrics", "text/plain", a, 4096);
    reader_t reader = { .port = http_port (http) };
    pthread_t thread;
    pthread_create (&thread, NULL, s_reader, &reader);
    int64_t until = support_now_ms () + 1500;
    for (int i = 0; support_now_ms () < until || reader.answers < 20; i++) {
        http_publish (http, "/metrics", "text/plain", i % 2? a: b, i % 2? 4096: 8192);
        http_heartbeat (http, i % 2, "flapping");
        usleep (200);
    }
    reader.stop = true;
    pthread_join (thread, NULL);
    cr_expect_geq (reader.answers, 20);
    cr_expect_eq (reader.torn, 0);
    free (a);
    free (b);
    http_destroy (&http);
}

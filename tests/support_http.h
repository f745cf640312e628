//  support_http.h -- a small HTTP/1.0 client for the tests of --http:
//  one request on a fresh connection, the status, headers and body back.
//  Never hangs: a connection that says nothing for 5 s counts as failed.
#ifndef DROVER_TEST_SUPPORT_HTTP_H
#define DROVER_TEST_SUPPORT_HTTP_H

typedef struct {
    int status;                 //  200, 503, ...
    char *headers;              //  the response's header lines, as sent
    char *body;
} support_http_t;

//  METHOD path on host:port (host numeric: "127.0.0.1", "::1"), with one
//  extra header line ("Authorization: Bearer x") or NULL.  0, or -1 if no
//  answer came (nothing listening, a timeout).
int  support_http (const char *host, int port, const char *method, const char *path,
                   const char *header, support_http_t *reply);
//  GET on 127.0.0.1: the status, or -1 without an answer; the body, if
//  body_p is not NULL (the caller frees).
int  support_http_get (int port, const char *path, const char *header, char **body_p);
void support_http_free (support_http_t *reply);

#endif

//  http_options.h -- the options of a daemon's HTTP side (common/http.h),
//  which broker, agent and sink share: --http ADDR:PORT (off unless given,
//  loopback unless told), --http-token or --http-token-file, and the one
//  rule: a broker with a keypair serves nothing but /healthz and /readyz
//  without a token, so it does not start with --http and no token.
#ifndef DROVER_HTTP_OPTIONS_H
#define DROVER_HTTP_OPTIONS_H

#include <stdbool.h>

#include "cli/options.h"
#include "common/http.h"

#define HTTP_TOKEN_MIN  16      //  characters

typedef struct {
    const char *address;        //  --http ADDR:PORT
    const char *token;          //  --http-token TOKEN
    const char *token_file;     //  --http-token-file PATH
} http_options_t;

//  Table entries (cli/options.h) for a command whose args struct of type
//  `type` holds an http_options_t named http; what says what is served.
#define HTTP_OPTIONS(type, what) \
    { "http", 0, OPTION_STRING, OPTION_AT (type, http.address), "ADDR:PORT", \
      .flags = OPTION_EMPTY_UNSET, .default_text = "off", .help = "serve " what " over " \
      "HTTP on ADDR:PORT; :PORT or PORT is 127.0.0.1, *:PORT every interface" }, \
    { "http-token", 0, OPTION_STRING, OPTION_AT (type, http.token), "TOKEN", \
      .flags = OPTION_EMPTY_UNSET, .help = "ask every HTTP request but /healthz and " \
      "/readyz for this token (Authorization: Bearer TOKEN, or ?token=TOKEN), at least " \
      "16 characters; required on a broker with a keypair" }, \
    { "http-token-file", 0, OPTION_STRING, OPTION_AT (type, http.token_file), "PATH", \
      .flags = OPTION_EMPTY_UNSET, .help = "the same, read from the first line of a file" }

//  Start the HTTP server if --http was given (else *http_p is NULL).
//  need_token: refuse to without a token (a broker with a keypair).
//  Returns 0, 2 after printing a usage error, or 1 after logging why it
//  cannot listen.
int http_options_start (const http_options_t *options, const options_t *parsed,
                        bool need_token, http_t **http_p);

#endif

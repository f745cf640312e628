//  http_options.c -- see http_options.h.
#include "cli/http_options.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

//  The first line of path, blanks around it dropped, into token.  0, or a
//  reason in error.
static int
s_read_token (const char *path, char *token, size_t size, char *error, size_t error_size)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (error, error_size, "--http-token-file %s: %s", path, strerror (errno));
        return -1;
    }
    char line[1024] = "";
    bool read = fgets (line, sizeof line, file) != NULL;
    fclose (file);
    char *start = line + strspn (line, " \t");
    size_t length = strcspn (start, "\r\n");
    while (length && (start[length - 1] == ' ' || start[length - 1] == '\t'))
        length--;
    if (!read || length >= size) {
        snprintf (error, error_size, "--http-token-file %s: %s", path,
                  read? "the token is too long": "empty file");
        return -1;
    }
    snprintf (token, size, "%.*s", (int) length, start);
    return 0;
}

//  The token to ask for ("" for none) into token; 0 or a reason in error.
static int
s_token (const http_options_t *options, bool need_token, char *token, size_t size,
         char *error, size_t error_size)
{
    *token = 0;
    if (options->token && options->token_file) {
        snprintf (error, error_size, "give --http-token or --http-token-file, not both");
        return -1;
    }
    if (options->token_file
    &&  s_read_token (options->token_file, token, size, error, error_size))
        return -1;
    if (options->token)
        snprintf (token, size, "%s", options->token);
    if (*token && strlen (token) < HTTP_TOKEN_MIN) {
        snprintf (error, error_size, "the HTTP token is shorter than %d characters "
                  "(try: head -c 24 /dev/urandom | base64)", HTTP_TOKEN_MIN);
        return -1;
    }
    if (need_token && !*token) {
        snprintf (error, error_size, "--http on a broker with a keypair needs "
                  "--http-token or --http-token-file (DROVER_HTTP_TOKEN, "
                  "DROVER_HTTP_TOKEN_FILE): its metrics and dashboard name jobs and agents");
        return -1;
    }
    return 0;
}

int
http_options_start (const http_options_t *options, const options_t *parsed,
                    bool need_token, http_t **http_p)
{
    *http_p = NULL;
    if (!options->address)
        return 0;
    char token[512], error[256];
    if (s_token (options, need_token, token, sizeof token, error, sizeof error))
        return options_usage_error (parsed, error, NULL);
    char host[256];
    uint16_t port;
    if (http_parse_address (options->address, host, sizeof host, &port, error, sizeof error))
        return options_usage_error (parsed, "--http", error);
    http_config_t config = { .address = options->address, .token = token };
    *http_p = http_new (&config);
    if (!*http_p)
        return 1;
    log_info ("http: serving on %s%s", http_endpoint (*http_p),
              *token? " (a token is asked for everything but /healthz and /readyz)": "");
    return 0;
}

//  support_http.c -- see support_http.h.
#include "support_http.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int
s_connect (const char *host, int port)
{
    char service[16];
    snprintf (service, sizeof service, "%d", port);
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
    struct addrinfo *found = NULL;
    if (getaddrinfo (host, service, &hints, &found))
        return -1;
    int fd = socket (found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval timeout = { 5, 0 };
    if (fd >= 0) {
        setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    }
    if (fd >= 0 && connect (fd, found->ai_addr, found->ai_addrlen)) {
        close (fd);
        fd = -1;
    }
    freeaddrinfo (found);
    return fd;
}

//  Everything the server sends until it closes; NULL on a timeout.
static char *
s_read_all (int fd)
{
    size_t size = 0, capacity = 4096;
    char *data = malloc (capacity + 1);
    while (data) {
        if (size == capacity) {
            char *more = realloc (data, 2 * capacity + 1);
            if (!more)
                break;
            data = more;
            capacity *= 2;
        }
        ssize_t n = read (fd, data + size, capacity - size);
        if (n == 0) {
            data[size] = 0;
            return data;
        }
        if (n < 0)
            break;
        size += (size_t) n;
    }
    free (data);
    return NULL;
}

int
support_http (const char *host, int port, const char *method, const char *path,
              const char *header, support_http_t *reply)
{
    *reply = (support_http_t) { 0 };
    int fd = s_connect (host, port);
    if (fd < 0)
        return -1;
    char request[2048];
    int length = snprintf (request, sizeof request, "%s %s HTTP/1.0\r\nHost: test\r\n%s%s"
                           "\r\n", method, path, header? header: "", header? "\r\n": "");
    char *answer = write (fd, request, (size_t) length) == length? s_read_all (fd): NULL;
    close (fd);
    char *blank = answer? strstr (answer, "\r\n\r\n"): NULL;
    if (!blank || sscanf (answer, "HTTP/1.%*d %d", &reply->status) != 1) {
        free (answer);
        return -1;
    }
    *blank = 0;
    reply->headers = answer;
    reply->body = strdup (blank + 4);
    return 0;
}

int
support_http_get (int port, const char *path, const char *header, char **body_p)
{
    support_http_t reply;
    if (support_http ("127.0.0.1", port, "GET", path, header, &reply))
        return -1;
    if (body_p) {
        *body_p = reply.body;
        reply.body = NULL;
    }
    int status = reply.status;
    support_http_free (&reply);
    return status;
}

void
support_http_free (support_http_t *reply)
{
    free (reply->headers);
    free (reply->body);
    reply->headers = reply->body = NULL;
}

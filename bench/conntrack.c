//  conntrack.c -- see conntrack.h.
#include "bench/conntrack.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#define COUNT_PATH "/proc/sys/net/netfilter/nf_conntrack_count"

//  The kernel's count of tracked connections, or -1 if it has none.
static long
s_count (void)
{
    FILE *file = fopen (COUNT_PATH, "r");
    long count = -1;
    if (file && fscanf (file, "%ld", &count) != 1)
        count = -1;
    if (file)
        fclose (file);
    return count;
}

//  One loopback connection, made and closed: 0, or -1 if it could not be.
static int
s_connect_once (void)
{
    struct sockaddr_in address = { .sin_family = AF_INET,
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    socklen_t size = sizeof address;
    int listener = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int client = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = listener >= 0 && client >= 0
          && bind (listener, (struct sockaddr *) &address, sizeof address) == 0
          && listen (listener, 1) == 0
          && getsockname (listener, (struct sockaddr *) &address, &size) == 0
          && connect (client, (struct sockaddr *) &address, sizeof address) == 0? 0: -1;
    int server = rc == 0? accept4 (listener, NULL, NULL, SOCK_CLOEXEC): -1;
    if (server >= 0)
        close (server);
    if (client >= 0)
        close (client);
    if (listener >= 0)
        close (listener);
    return server >= 0? 0: -1;
}

conntrack_t
conntrack_probe (void)
{
    if (s_count () < 0)
        return access (COUNT_PATH, F_OK) == 0? CONNTRACK_UNKNOWN: CONNTRACK_OFF;
    for (int attempt = 0; attempt < 3; attempt++) {
        long before = s_count ();
        if (s_connect_once ())
            return CONNTRACK_UNKNOWN;
        if (s_count () > before)
            return CONNTRACK_ON;
    }
    return CONNTRACK_OFF;
}

const char *
conntrack_name (conntrack_t state)
{
    return state == CONNTRACK_ON? "on": state == CONNTRACK_OFF? "off": "unknown";
}

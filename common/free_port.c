//  free_port.c -- see free_port.h.  bind(0) would hand out an ephemeral port, which
//  any connect() on the machine may take as its source port before our
//  daemon binds it; that made black-box tests flaky under load.
#include "common/free_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

//  The ports this process was given lately: picked one after another
//  before any is bound, two picks could otherwise be the same port (it
//  happened: a bench's sink on its broker's port).
#define GIVEN_MAX 64
static int s_given[GIVEN_MAX];
static unsigned s_given_next;
static pthread_mutex_t s_given_lock = PTHREAD_MUTEX_INITIALIZER;

static bool
s_was_given (int port)
{
    for (int i = 0; i < GIVEN_MAX; i++)
        if (s_given[i] == port)
            return true;
    return false;
}

static bool
s_bindable (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    int on = 1;
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    bool ok = bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0;
    close (fd);
    return ok;
}

//  The widest span of ports outside ip_local_port_range, above 1024.
static void
s_span (int *first, int *last)
{
    int low = 32768, high = 60999;
    FILE *file = fopen ("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (file) {
        if (fscanf (file, "%d %d", &low, &high) != 2)
            low = 32768, high = 60999;
        fclose (file);
    }
    if (65535 - high >= low - 10000) {
        *first = high + 1;
        *last = 65535;
    }
    else {
        *first = 10000;
        *last = low - 1;
    }
    if (*last - *first < 16) {          //  no room outside: take what we can
        *first = 10000;
        *last = 65535;
    }
}

int
free_port_pick (void)
{
    int first, last;
    s_span (&first, &last);
    //  Spread concurrent processes apart; then probe in order.
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    unsigned seed = (unsigned) getpid () * 2654435761u ^ (unsigned) ts.tv_nsec;
    int span = last - first + 1;
    int start = (int) (rand_r (&seed) % (unsigned) span);
    int found = -1;
    pthread_mutex_lock (&s_given_lock);
    for (int i = 0; i < span && i < 4096 && found < 0; i++) {
        int port = first + (start + i * 7919) % span;
        if (!s_was_given (port) && s_bindable (port))
            found = port;
    }
    if (found > 0)
        s_given[s_given_next++ % GIVEN_MAX] = found;
    pthread_mutex_unlock (&s_given_lock);
    return found;
}

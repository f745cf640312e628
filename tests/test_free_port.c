//  test_free_port.c -- unit tests of common/free_port.c: a picked port can
//  be bound, lies outside the kernel's ephemeral range, and picks made one
//  after another before any is bound are never the same port.
#include <criterion/criterion.h>
#include "common/free_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

Test (free_port, a_pick_can_be_bound_and_is_not_ephemeral)
{
    int low = 32768, high = 60999;
    FILE *file = fopen ("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (file) {
        cr_assert_eq (fscanf (file, "%d %d", &low, &high), 2);
        fclose (file);
    }
    int port = free_port_pick ();
    cr_assert_gt (port, 1024);
    cr_assert (port < low || port > high, "%d is in the ephemeral range %d-%d", port, low, high);
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq (fd, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    cr_assert_eq (bind (fd, (struct sockaddr *) &addr, sizeof addr), 0, "port %d", port);
    close (fd);
}

//  A deployment picks its broker's, intake's, backend's and sink's ports
//  before it starts any of them: 50 sets of 64 picks, none repeated within
//  its set (picked at random alone, about one set in ten had a repeat).
Test (free_port, picks_in_a_row_are_all_different)
{
    for (int set = 0; set < 50; set++) {
        int ports[64];
        for (int i = 0; i < 64; i++) {
            ports[i] = free_port_pick ();
            cr_assert_gt (ports[i], 0);
            for (int j = 0; j < i; j++)
                cr_assert_neq (ports[i], ports[j], "set %d: pick %d repeats pick %d (%d)",
                               set, i, j, ports[i]);
        }
    }
}

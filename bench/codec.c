//  codec.c -- drover-bench-codec: what the codec costs per tuple, alone.
//  A WORK of N tuples of 100 bytes (a header as the broker sends it) goes
//  through wire_decode then wire_encode again and again, in protocol
//  version 1 (a frame per tuple, refs) or 2 (one packed frame, runs), and
//  the time per round and per tuple is printed.  For instruction counts run
//  it under callgrind at two round counts and take the difference:
//      valgrind --tool=callgrind drover-bench-codec 2 1024 10
//      valgrind --tool=callgrind drover-bench-codec 2 1024 110
#include "proto/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TUPLE_SIZE 100

//  A WORK of count tuples, ids 1 .. count at attempt 1, in version.
static zmsg_t *
s_work (int version, size_t count)
{
    msg_t *msg = msg_new (MSG_WORK);
    msg_set_version (msg, version);
    msg_set_str (msg, MSG_F_JOB, "bench-job");
    msg_set_str (msg, MSG_F_HANDLER, "echo");
    msg_set_str (msg, MSG_F_SINK, "tcp://127.0.0.1:5558");
    msg_set_raw (msg, MSG_F_OPTIONS, "\x80", 1);
    msg_set_uint (msg, MSG_F_MAX_ATTEMPTS, 3);
    msg_set_uint (msg, MSG_F_TIMEOUT_MS, 30000);
    msg_set_uint (msg, MSG_F_LEASE_MS, 35000);
    msg_set_runs (msg, MSG_F_TUPLES, &(msg_run_t) { 1, (uint32_t) count, 1 }, 1);
    //  A tuple: a msgpack str8 of 98 bytes, 100 bytes in all.
    uint8_t tuple[TUPLE_SIZE];
    memset (tuple, 'x', sizeof tuple);
    tuple[0] = 0xd9;
    tuple[1] = TUPLE_SIZE - 2;
    msg_tuples_reserve (msg, count, count * TUPLE_SIZE);
    for (size_t i = 0; i < count; i++)
        msg_add_tuple (msg, tuple, sizeof tuple);
    return wire_encode (&msg);
}

int
main (int argc, char *argv[])
{
    int version = argc > 1? atoi (argv[1]): 2;
    long tuples = argc > 2? atol (argv[2]): 1024;
    long rounds = argc > 3? atol (argv[3]): 10000;
    if (argc > 4 || version < MSG_VERSION_MIN || version > MSG_VERSION
    ||  tuples < 1 || tuples > MSG_MAX_RUN_TUPLES || rounds < 1) {
        fprintf (stderr, "usage: drover-bench-codec [VERSION [TUPLES [ROUNDS]]]\n"
                 "  decode and encode a WORK of TUPLES tuples of %d bytes ROUNDS times in\n"
                 "  protocol VERSION (default: 2 1024 10000)\n", TUPLE_SIZE);
        return 2;
    }
    zmsg_t *zmsg = s_work (version, (size_t) tuples);
    struct timespec start, end;
    clock_gettime (CLOCK_MONOTONIC, &start);
    for (long i = 0; i < rounds; i++) {
        msg_t *msg = NULL;
        if (wire_decode (&zmsg, &msg) != 0) {
            fprintf (stderr, "drover-bench-codec: decode failed\n");
            return 1;
        }
        zmsg = wire_encode (&msg);
    }
    clock_gettime (CLOCK_MONOTONIC, &end);
    double ns = (double) (end.tv_sec - start.tv_sec) * 1e9
              + (double) (end.tv_nsec - start.tv_nsec);
    printf ("version %d: WORK of %ld tuples, %zu frames: %.0f ns a round, %.1f ns a tuple\n",
            version, tuples, zmsg_size (zmsg), ns / (double) rounds,
            ns / (double) rounds / (double) tuples);
    zmsg_destroy (&zmsg);
    return 0;
}

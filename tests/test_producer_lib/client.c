//  client.c -- a program a user of libdrover would write, built by
//  test_producer_lib.c against the INSTALLED library only (pkg-config
//  drover): submit COUNT tuples to JOB (handler echo) at ENDPOINT, half as
//  JSON and half as msgpack bytes, the last one waiting on the first (which
//  no agent runs), close the job, and print what the broker accepted and
//  what STATUS says.  Usage: client ENDPOINT JOB COUNT
#include <drover/drover.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int
main (int argc, char *argv[])
{
    if (argc != 4)
        return 2;
    long count = atol (argv[3]);
    drover_producer_t *producer = drover_producer_new (argv[1]);
    if (!producer)
        return 3;
    drover_producer_set_job (producer, argv[2]);
    drover_producer_set_handler (producer, "echo");
    drover_producer_set_sink (producer, "tcp://127.0.0.1:9");   //  no agent runs it
    drover_producer_set_batch (producer, 100, DROVER_BATCH_BYTES_DEFAULT);
    int rc = 0;
    for (long i = 0; i < count && rc == 0; i++) {
        if (i == count - 1 && i > 0) {
            //  ["last"] after [1]: fixarray 1, fixstr "last"; fixarray 1, 1.
            unsigned char tuple[] = { 0x91, 0xa4, 'l', 'a', 's', 't' };
            unsigned char after[] = { 0x91, 0x01 };
            rc = drover_producer_add_after (producer, tuple, sizeof tuple, after, sizeof after);
        }
        else
        if (i % 2) {
            //  ["t", i % 128] as msgpack: fixarray 2, fixstr "t", positive fixint.
            unsigned char tuple[] = { 0x92, 0xa1, 't', (unsigned char) (i % 128) };
            rc = drover_producer_add (producer, tuple, sizeof tuple);
        }
        else {
            char json[64];
            snprintf (json, sizeof json, "[\"10.0.0.%ld\", 443]", i % 250);
            rc = drover_producer_add_json (producer, json);
        }
    }
    if (rc == 0)
        rc = drover_producer_close (producer);
    drover_status_t status;
    if (rc == 0)
        rc = drover_producer_status (producer, argv[2], &status);
    if (rc) {
        fprintf (stderr, "client: %s (refused: %d)\n", drover_producer_error (producer),
                 drover_producer_refused (producer));
        drover_producer_destroy (&producer);
        return 1;
    }
    uint64_t first, last;
    uint64_t accepted = drover_producer_accepted (producer, &first, &last);
    printf ("libdrover %s: accepted %" PRIu64 " (ids %" PRIu64 "-%" PRIu64 "); job %s "
            "submitted %" PRIu64 " queued %" PRIu64 " waiting %" PRIu64 " skipped %" PRIu64
            "\n", drover_version (), accepted, first, last, status.state, status.submitted,
            status.queued, status.waiting, status.skipped);
    drover_producer_destroy (&producer);
    return producer? 4: 0;
}

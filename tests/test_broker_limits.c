//  test_broker_limits.c -- the broker's limits and back-pressure: batch and
//  tuple size (TOO_LARGE), tuples and bytes queued per job and in all
//  (QUEUE_FULL, passing again once agents drain), and memory that does not
//  grow with queue depth on the LMDB store.
#include "support_broker.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite (broker, .fini = tb_fini, .timeout = 120);

Test (broker, limits)
{
    tb_start ("--max-batch", "10", "--max-queued", "25", "--max-tuple-size", "1K", NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    tb_send (req, tb_submit_msg ("big", "echo", NULL, 0, 11, false));
    tb_refused (req, DRV_E_TOO_LARGE);
    tb_send (req, tb_submit_msg ("big", "echo", NULL, 0, 10, false));
    tb_expect_accepted (req, 1, 10, NULL);
    tb_send (req, tb_submit_msg ("big", NULL, NULL, 0, 10, false));
    tb_expect_accepted (req, 11, 10, NULL);
    tb_send (req, tb_submit_msg ("big", NULL, "full", 0, 6, false));
    msg_t *reply = tb_expect_error (req, DRV_E_QUEUE_FULL);
    cr_assert (msg_has (reply, MSG_F_RETRY_MS), "QUEUE_FULL says when to retry");
    cr_assert_gt (msg_uint (reply, MSG_F_RETRY_MS), 0);
    cr_assert_str_eq (msg_str (reply, MSG_F_BATCH), "full");
    msg_destroy (&reply);
    tb_send (req, tb_submit_msg ("big", NULL, NULL, 0, 5, false));
    tb_expect_accepted (req, 21, 5, NULL);

    msg_t *submit = tb_submit_msg ("small", "echo", NULL, 0, 2, false);
    zframe_t *frame = tb_bin (1025);
    msg_payload_append (submit, &frame);
    tb_send (req, submit);
    reply = tb_expect_error (req, DRV_E_TOO_LARGE);
    cr_assert (strstr (msg_str (reply, MSG_F_REASON), "tuple 3"), "reason names the tuple");
    msg_destroy (&reply);
    //  Refused whole: the job was not even created.
    reply = tb_status (req, "small");
    cr_assert_eq (msg_command (reply), MSG_ERROR);
    cr_assert_eq (msg_uint (reply, MSG_F_CODE), DRV_E_UNKNOWN_JOB);
    msg_destroy (&reply);
}

Test (broker, queue_full_per_job_and_broker_then_drained)
{
    tb_start ("--max-job-queued", "5", "--max-queued", "8", "--max-job-queued-bytes", "1K",
             "--retry-ms", "250", NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    tb_fill (req, "a", 5);
    tb_send (req, tb_submit_msg ("a", NULL, "over", 6, 1, false));
    msg_t *reply = tb_expect_error (req, DRV_E_QUEUE_FULL);
    cr_assert_eq (msg_uint (reply, MSG_F_RETRY_MS), 250);
    cr_assert_str_eq (msg_str (reply, MSG_F_BATCH), "over");
    cr_assert (strstr (msg_str (reply, MSG_F_REASON), "job a"));
    msg_destroy (&reply);
    tb_fill (req, "b", 3);
    tb_send (req, tb_submit_msg ("b", NULL, NULL, 4, 1, false));
    tb_refused (req, DRV_E_QUEUE_FULL);
    //  Bytes per job: a 2 KiB tuple is over 1K, even with nothing queued:
    //  no retry could help (test_broker_rules.c has more of that).
    msg_t *big = tb_submit_msg ("c", "echo", NULL, 0, 0, false);
    zframe_t *frame = zframe_new (NULL, 2048);
    memset (zframe_data (frame), 0xc0, 2048);
    zframe_data (frame)[0] = 0xc5;              //  bin16 of 2045 bytes
    zframe_data (frame)[1] = 2045 >> 8;
    zframe_data (frame)[2] = 2045 & 0xff;
    msg_payload_append (big, &frame);
    tb_send (req, big);
    reply = tb_expect_error (req, DRV_E_TOO_LARGE);
    cr_assert (strstr (msg_str (reply, MSG_F_REASON), "--max-job-queued-bytes"));
    msg_destroy (&reply);
    //  An agent drains job a: its SUBMIT passes again.
    zsock_t *agent = tb_agent ("a1", 5);
    tb_got_t got[10];
    cr_assert_eq (tb_collect (agent, 300, got, 10, NULL), 5);
    tb_send (req, tb_submit_msg ("a", NULL, "again", 6, 1, false));
    tb_expect_accepted (req, 6, 1, "again");
}

//  Anonymous (heap) memory of a process in KiB, from /proc: LMDB's mapped
//  file pages are not in it, the broker's own allocations are.
static long
s_rss_anon_kib (pid_t pid)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file);
    long kib = -1;
    while (fgets (line, sizeof line, file))
        if (!strncmp (line, "RssAnon:", 8))
            kib = strtol (line + 8, NULL, 10);
    fclose (file);
    cr_assert_gt (kib, 0, "no RssAnon in %s", path);
    return kib;
}

//  Submit count tuples to job over a DEALER, batch per SUBMIT, up to 8
//  SUBMITs in flight.  Returns accepted tuples per second.
static double
s_pump (zsock_t *dealer, const char *job, size_t count, size_t batch)
{
    const size_t window = 8;
    size_t sent = 0, answered = 0, in_flight = 0;
    int64_t start = support_now_ms ();
    while (answered < count) {
        while (in_flight < window && sent < count) {
            size_t n = count - sent < batch? count - sent: batch;
            tb_send (dealer, tb_submit_msg (job, "echo", NULL, (uint32_t) sent, n, false));
            sent += n;
            in_flight++;
        }
        msg_t *reply = tb_recv (dealer, 20000);
        cr_assert_not_null (reply, "no ACCEPTED");
        cr_assert_eq (msg_command (reply), MSG_ACCEPTED, "%s",
                      msg_str (reply, MSG_F_REASON)? msg_str (reply, MSG_F_REASON): "");
        answered += msg_uint (reply, MSG_F_COUNT);
        in_flight--;
        msg_destroy (&reply);
    }
    int64_t ms = support_now_ms () - start;
    return (double) count * 1000.0 / (double) (ms > 0? ms: 1);
}

//  The broker's memory at 10k queued tuples and at 1M: with LMDB the queue
//  is on disk and the ratio stays near 1; the memory store, for contrast,
//  grows with the queue.  Also prints accepted tuples/s into each store.
Test (broker, memory_does_not_grow_with_queue_depth, .timeout = 600)
{
#if defined (__SANITIZE_ADDRESS__)
    cr_skip_test ("AddressSanitizer keeps freed memory: RSS says nothing here");
#elif defined (__has_feature)
#   if __has_feature (address_sanitizer)
    cr_skip_test ("AddressSanitizer keeps freed memory: RSS says nothing here");
#   endif
#endif
    const char *stores[] = { "lmdb", "memory" };
    double ratio[2];
    for (int s = 0; s < 2; s++) {
        tb_start ("--store", stores[s], "--max-queued", "2000000",
                 "--max-job-queued", "2000000", NULL);
        zsock_t *dealer = tb_socket (ZMQ_DEALER, tb_frontend ());
        //  Small SUBMITs, so that what is in flight (the same at 10k and
        //  1M) does not hide what grows with the queue.
        s_pump (dealer, "deep", 10000, 1000);
        long small = s_rss_anon_kib (tb_pid ());
        s_pump (dealer, "deep", 990000, 1000);
        long large = s_rss_anon_kib (tb_pid ());
        //  Throughput with full-size batches, on another job.
        double rate = s_pump (dealer, "fast", 500000, 10000);
        ratio[s] = (double) large / (double) small;
        fprintf (stderr, "store %s: broker RssAnon %ld KiB at 10k queued, %ld KiB at 1M "
                     "(ratio %.2f); %.0f tuples/s accepted\n",
                     stores[s], small, large, ratio[s], rate);
        zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
        cr_assert_eq (tb_status_field (req, "deep", MSG_F_QUEUED), 1000000);
        tb_fini ();
    }
    cr_assert_lt (ratio[0], 1.5, "with LMDB the broker's memory grew %.2f times", ratio[0]);
}

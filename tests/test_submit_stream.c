//  test_submit_stream.c -- black-box tests of `drover submit` reading a
//  pipe over time: what has come goes out when the input pauses, SIGINT
//  keeps what was accepted, and a broker killed and restarted mid-stream
//  gets the unanswered batch again (every tuple accepted once).
#include "support.h"
#include "support_producer.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

//  A slow pipe: what has come goes out when the input pauses, without
//  waiting for a full batch or the end of input.
Test (producer, slow_pipe_and_interrupt,
     .timeout = 60, .init = site_with_broker, .fini = site_cleanup) {
    site_t *site = &producer_site;
    int in;
    pid_t pid = site_spawn_piped (site, &in, (char *[]) { "submit", "--broker",
        site->frontend, "--job", "slow", "--handler", "echo", NULL });
    const char *lines = "[1]\n[2]\n[3]\n";
    cr_assert_eq (write (in, lines, strlen (lines)), (ssize_t) strlen (lines));
    cr_expect (SUPPORT_WAIT (site_submitted (site, "slow", 3, "open"), 10000),
               "3 tuples while the pipe is still open");
    cr_assert_eq (write (in, "[4]", 3), 3);         //  no newline before the end
    close (in);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), RUN_TIMEOUT_MS));
    cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0, "status %d", status);
    char path[512];
    snprintf (path, sizeof path, "%s/run.out", site->dir);
    char *out = support_slurp (path);
    cr_expect_str_eq (out, "job slow: 4 tuples accepted (ids 1-4)\n");
    free (out);
    cr_expect (site_submitted (site, "slow", 4, "closed"));

    //  SIGINT while reading: what was accepted stays, the job stays open.
    //  Not before submit has the broker's answer (its own debug line): the
    //  broker counts the tuples before its answer arrives, and an
    //  interrupt in between rightly says 0 accepted.
    pid = site_spawn_piped (site, &in, (char *[]) { "submit", "--broker",
        site->frontend, "--job", "cut", "--handler", "echo", "--log-level", "debug", NULL });
    cr_assert_eq (write (in, lines, strlen (lines)), (ssize_t) strlen (lines));
    snprintf (path, sizeof path, "%s/run.err", site->dir);
    cr_expect (SUPPORT_WAIT (support_count_text (path, "3 tuples accepted (ids 1-3)") == 1,
                             10000), "submit has the answer");
    kill (pid, SIGINT);
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), RUN_TIMEOUT_MS));
    close (in);
    cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 1, "status %d", status);
    char *err = support_slurp (path);
    cr_expect (strstr (err, "drover submit: interrupted\n") && strstr (err,
               "job cut: 3 tuples accepted (ids 1-3); the job is left open"), "%s", err);
    free (err);
    cr_expect (site_submitted (site, "cut", 3, "open"));
}

//  Bytes waiting unread in the receive queues of TCP sockets on local
//  port (/proc/net/tcp: "sl local rem st tx_queue:rx_queue ...", hex).
static unsigned long
s_unread_on_port (int port)
{
    FILE *file = fopen ("/proc/net/tcp", "r");
    cr_assert (file);
    char line[512];
    unsigned long unread = 0;
    while (fgets (line, sizeof line, file)) {
        unsigned local_port, state;
        unsigned long tx, rx;
        if (sscanf (line, " %*d: %*x:%x %*x:%*x %x %lx:%lx", &local_port, &state, &tx, &rx) == 4
        &&  (int) local_port == port)
            unread += rx;
    }
    fclose (file);
    return unread;
}

//  kill -9 of the broker while a SUBMIT is surely on its way (the broker is
//  stopped, the SUBMIT's bytes sit unread in its socket), then the broker
//  again on the same port and data: submit sends the unanswered batch
//  again and finishes, every tuple accepted exactly once.
Test (producer, resends_after_broker_restart,
     .timeout = 120, .init = site_with_broker, .fini = site_cleanup) {
    site_t *site = &producer_site;
    int in;
    pid_t pid = site_spawn_piped (site, &in, (char *[]) { "submit", "--broker",
        site->frontend, "--job", "restart", "--handler", "echo", "--batch-size", "100",
        "--reply-timeout", "60s", NULL });
    FILE *tuples = fdopen (in, "w");
    cr_assert (tuples);
    for (int i = 1; i <= 500; i++)
        fprintf (tuples, "[%d]\n", i);
    fflush (tuples);
    cr_assert (SUPPORT_WAIT (site_submitted (site, "restart", 500, "open"), 20000));

    kill (site->broker, SIGSTOP);
    for (int i = 501; i <= 800; i++)
        fprintf (tuples, "[%d]\n", i);
    fflush (tuples);
    int port = atoi (strrchr (site->frontend, ':') + 1);
    cr_assert (SUPPORT_WAIT (s_unread_on_port (port) > 0, 20000),
               "a SUBMIT waits unread at the stopped broker");
    cr_assert_eq (support_stop (site->broker, SIGKILL, 10000) & 0x7f, SIGKILL);
    site_broker_start (site, NULL);

    for (int i = 801; i <= 1000; i++)
        fprintf (tuples, "[%d]\n", i);
    fclose (tuples);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 90000));
    char path[512];
    snprintf (path, sizeof path, "%s/run.err", site->dir);
    char *err = support_slurp (path);
    cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0, "status %d:\n%s", status, err);
    cr_expect (strstr (err, "lost the connection to broker"), "stderr:\n%s", err);
    free (err);
    snprintf (path, sizeof path, "%s/run.out", site->dir);
    char *out = support_slurp (path);
    cr_expect_str_eq (out, "job restart: 1000 tuples accepted (ids 1-1000)\n");
    free (out);
    cr_expect (site_submitted (site, "restart", 1000, "closed"), "each tuple stored once");
}

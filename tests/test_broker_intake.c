//  test_broker_intake.c -- back-pressure on the PULL intake (PROTOCOL.md
//  7): a SUBMIT pushed while the queue is full waits in the broker, which
//  stops reading the intake until it fits, so the producer's PUSH is slowed
//  down and nothing pushed is lost; the frontend keeps answering meanwhile.
//  A real agent and a real sink drain the queue.
#include "support_broker.h"
#include "common/json_read.h"

#include <criterion/criterion.h>
#include <msgpack.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite (broker, .fini = tb_fini, .timeout = 300);

#define SUBMITS   100
#define PER       10            //  tuples per SUBMIT
#define LIMIT     "20"          //  --max-job-queued: 2 SUBMITs fill it

//  The producer: SUBMITS pushed as fast as the PUSH socket takes them,
//  tuples tagged 0 .. SUBMITS*PER-1, the last one closing the job.
typedef struct {
    zsock_t *push;
    const char *sink;
    int sent;                   //  SUBMITs the socket took
} producer_t;

static void *
s_producer (void *arg)
{
    producer_t *p = arg;
    for (int i = 0; i < SUBMITS; i++) {
        msg_t *msg = tb_submit_msg ("flood", "echo", NULL, (uint32_t) (i * PER), PER,
                                    i == SUBMITS - 1);
        msg_set_str (msg, MSG_F_SINK, p->sink);
        if (wire_send (&msg, p->push, NULL) != 0)
            break;              //  the send timeout: the test fails on the count
        p->sent++;
    }
    return NULL;
}

//  STATUS of job "flood", or false if the broker does not know it yet.
static bool
s_status (zsock_t *req, uint64_t *submitted, uint64_t *queued, const char **state)
{
    msg_t *reply = tb_status (req, "flood");
    bool known = msg_command (reply) == MSG_JOB;
    if (known) {
        *submitted = msg_uint (reply, MSG_F_SUBMITTED);
        *queued = msg_uint (reply, MSG_F_QUEUED);
        if (state)
            *state = !strcmp (msg_str (reply, MSG_F_STATE), "complete")? "complete": "other";
    }
    msg_destroy (&reply);
    return known;
}

//  Each line of the sink's output: tuple id 1..count once, and input
//  ["t", tag] with each tag 0..count-1 once.  Returns the lines.
static size_t
s_check_output (const char *path, size_t count)
{
    unsigned char *ids = calloc (count + 1, 1), *tags = calloc (count, 1);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file, "no sink output at %s", path);
    char *line = NULL;
    size_t size = 0, lines = 0;
    ssize_t len;
    while ((len = getline (&line, &size, file)) > 0) {
        lines++;
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        char err[128];
        msgpack_unpacked record;
        msgpack_unpacked_init (&record);
        cr_assert_eq (json_to_msgpack (line, (size_t) len, &buffer, err, sizeof err), 0, "%s", line);
        cr_assert_eq (msgpack_unpack_next (&record, buffer.data, buffer.size, NULL),
                      MSGPACK_UNPACK_SUCCESS);
        const msgpack_object *id = support_map_get (&record.data, "tuple");
        const msgpack_object *input = support_map_get (&record.data, "input");
        cr_assert (id && id->via.u64 >= 1 && id->via.u64 <= count, "%s", line);
        cr_assert (input && input->type == MSGPACK_OBJECT_ARRAY && input->via.array.size == 2,
                   "%s", line);
        uint64_t tag = input->via.array.ptr[1].via.u64;
        cr_assert_lt (tag, count, "%s", line);
        cr_assert_eq (ids[id->via.u64]++, 0, "tuple %lu twice", (unsigned long) id->via.u64);
        cr_assert_eq (tags[tag]++, 0, "tag %lu twice: a SUBMIT was taken twice",
                      (unsigned long) tag);
        msgpack_unpacked_destroy (&record);
        msgpack_sbuffer_destroy (&buffer);
    }
    free (line);
    fclose (file);
    free (ids);
    free (tags);
    return lines;
}

Test (broker, pushed_submits_wait_for_room_and_none_is_lost)
{
    tb_start ("--max-job-queued", LIMIT, "--intake-hwm", "2", NULL);
    char *dir = support_tmpdir ();
    char sink[64], results[512], sink_log[512], agent_log[512];
    snprintf (sink, sizeof sink, "%s", support_endpoint ());
    snprintf (results, sizeof results, "%s/results.jsonl", dir);
    snprintf (sink_log, sizeof sink_log, "%s/sink.log", dir);
    snprintf (agent_log, sizeof agent_log, "%s/agent.log", dir);

    producer_t producer = { .push = tb_socket (ZMQ_PUSH, tb_intake ()), .sink = sink };
    zsock_set_sndhwm (producer.push, 2);
    zsock_set_sndtimeo (producer.push, 30000);
    pthread_t thread;
    cr_assert_eq (pthread_create (&thread, NULL, s_producer, &producer), 0);

    //  No agent yet: the queue fills to its limit and the intake waits,
    //  while the frontend answers STATUS all along.
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    uint64_t submitted = 0, queued = 0;
    cr_assert (SUPPORT_WAIT (s_status (req, &submitted, &queued, NULL) && queued == 20, 20000),
               "the queue did not fill: %lu queued", (unsigned long) queued);
    for (int i = 0; i < 5; i++) {
        cr_assert (s_status (req, &submitted, &queued, NULL));
        cr_assert_eq (submitted, 20, "the broker took more than its limit");
    }

    //  One slow agent (one process, one thread) drains it into a sink.
    pid_t sink_pid = support_spawn (sink_log, "sink", "--bind", sink, "--output", results, NULL);
    pid_t agent = support_spawn (agent_log, "agent", "--broker", tb_backend (), "--name", "slow",
                                 "--processes", "1", "--threads", "1", "--slots", "4", NULL);
    const char *state = "";
    bool complete = sink_pid > 0 && agent > 0
                 && SUPPORT_WAIT (s_status (req, &submitted, &queued, &state)
                                  && !strcmp (state, "complete"), 120000);
    int agent_status = support_stop (agent, SIGTERM, 20000);
    int sink_status = support_stop (sink_pid, SIGTERM, 10000);
    pthread_join (thread, NULL);
    cr_assert_eq (producer.sent, SUBMITS, "the PUSH socket took %d SUBMITs", producer.sent);
    cr_assert (complete, "job flood not complete: %lu tuples submitted of %d",
               (unsigned long) submitted, SUBMITS * PER);
    cr_assert_eq (submitted, SUBMITS * PER);
    cr_assert_not (tb_log_has ("intake: QUEUE_FULL"), "a pushed SUBMIT was refused");
    cr_assert_eq (agent_status, 0, "agent did not exit 0");
    cr_assert_eq (sink_status, 0, "sink did not exit 0");
    cr_assert_eq (s_check_output (results, SUBMITS * PER), SUBMITS * PER);
    support_rmdir (&dir);
}

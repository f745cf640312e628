//  make_corpus_hostile.c -- seeds of what an attacker sends, beside the
//  well-formed ones of make_corpus.c: envelopes at and over their bound,
//  routing ids that look like a signature, values nested at and over the
//  depth limit, containers claiming far more items than bytes follow;
//  version 2's packed frames with wrong counts and runs at and over their
//  rules; and for fuzz_broker, sequences of messages as producers and
//  agents send them, in both versions.
#include "proto/msg.h"
#include "proto/wire.h"

#include "fuzz/corpus.h"
#include "fuzz/frames.h"

#include <msgpack.h>
#include <stdarg.h>

//  Socket selectors of fuzz_broker.c, and its message separator.
enum { PRODUCER, PUSHER, AGENT_A, AGENT_B };
#define MESSAGE_SEPARATOR "\xc1" "MSG"

//  depth arrays, one in the other, around a nil: a value that many
//  containers deep.
static void
s_nest (msgpack_packer *pk, int depth)
{
    for (int i = 0; i < depth; i++)
        msgpack_pack_array (pk, 1);
    msgpack_pack_nil (pk);
}

//  A header frame: {"job": "j", "options": {"x": <nested>}}, depth deep in all.
static zframe_t *
s_deep_header (int depth)
{
    pack_t p;
    corpus_pack_init (&p);
    msgpack_packer *pk = &p.pk;
    msgpack_pack_map (pk, 2);
    corpus_str (pk, "job");
    corpus_str (pk, "j");
    corpus_str (pk, "options");
    msgpack_pack_map (pk, 1);
    corpus_str (pk, "x");
    s_nest (pk, depth - 2);
    return corpus_pack_frame (&p);
}

static zframe_t *
s_deep_value (int depth)
{
    pack_t p;
    corpus_pack_init (&p);
    s_nest (&p.pk, depth);
    return corpus_pack_frame (&p);
}

static zmsg_t *
s_status (const char *job)
{
    msg_t *msg = corpus_msg_new (MSG_STATUS);
    msg_set_str (msg, MSG_F_JOB, job);
    return wire_encode (&msg);
}

//  n frames "eN" in front of zmsg, the first of them the identity.
static void
s_stack (zmsg_t *zmsg, size_t n)
{
    for (size_t i = n; i-- > 0;)
        zmsg_pushstrf (zmsg, "e%zu", i);
}

//  ---------------------------------------------------------------------
//  fuzz_msg: envelopes, nesting and declared counts

static void
s_msg_envelopes (void)
{
    //  A REQ producer whose routing id starts with "DRV": the identity is
    //  the envelope's whatever its bytes, then the delimiter.
    zmsg_t *zmsg = s_status ("scan");
    zmsg_pushmem (zmsg, "", 0);
    zmsg_pushstr (zmsg, "DRVx-producer");
    corpus_frames ("msg", "req-identity-drv", zmsg);
    //  A DEALER whose routing id is a signature itself.
    zmsg = s_status ("scan");
    zmsg_pushstr (zmsg, "DRV1");
    corpus_frames ("msg", "dealer-identity-drv1", zmsg);
    //  The longest envelope (32 frames with the delimiter), and one over.
    zmsg = s_status ("scan");
    zmsg_pushmem (zmsg, "", 0);
    s_stack (zmsg, MSG_MAX_ENVELOPE - 1);
    corpus_frames ("msg", "envelope-longest", zmsg);
    zmsg = s_status ("scan");
    zmsg_pushmem (zmsg, "", 0);
    s_stack (zmsg, MSG_MAX_ENVELOPE);
    corpus_frames ("msg", "envelope-over", zmsg);
    //  Many frames with neither a delimiter nor a signature, then a
    //  message: the shape of the attack, small.
    zmsg = s_status ("scan");
    zmsg_pushmem (zmsg, "", 0);
    s_stack (zmsg, 40);
    corpus_frames ("msg", "envelope-unbounded", zmsg);
}

static void
s_msg_nesting (void)
{
    static const int depths[] = { MSG_MAX_DEPTH, MSG_MAX_DEPTH + 1 };
    for (int i = 0; i < 2; i++) {
        char name[64];
        zmsg_t *zmsg = zmsg_new ();
        zmsg_addstr (zmsg, "DRV1");
        zmsg_addstr (zmsg, "STATUS");
        zframe_t *header = s_deep_header (depths[i]);
        zmsg_append (zmsg, &header);
        snprintf (name, sizeof name, "header-depth-%d", depths[i]);
        corpus_frames ("msg", name, zmsg);

        msg_t *msg = corpus_msg_new (MSG_SUBMIT);
        msg_set_str (msg, MSG_F_JOB, "deep");
        msg_set_str (msg, MSG_F_HANDLER, "echo");
        msg_set_str (msg, MSG_F_SINK, "tcp://127.0.0.1:5558");
        zframe_t *tuple = s_deep_value (depths[i]);
        msg_payload_append (msg, &tuple);
        snprintf (name, sizeof name, "tuple-depth-%d", depths[i]);
        corpus_frames ("msg", name, wire_encode (&msg));
    }
}

static void
s_msg_counts (void)
{
    //  A header map claiming 2^32 - 1 pairs, with one.
    static const char map32[] = "\xdf\xff\xff\xff\xff\xa3job\xa1j";
    zmsg_t *zmsg = zmsg_new ();
    zmsg_addstr (zmsg, "DRV1");
    zmsg_addstr (zmsg, "STATUS");
    zmsg_addmem (zmsg, map32, sizeof map32 - 1);
    corpus_frames ("msg", "header-claims-pairs", zmsg);
    //  refs claiming one more than MSG_MAX_REFS, with one.
    static const char refs[] = "\x82\xa3job\xa1j\xa6tuples\xdc\x20\x01\x92\x01\x01";
    zmsg = zmsg_new ();
    zmsg_addstr (zmsg, "DRV1");
    zmsg_addstr (zmsg, "DONE");
    zmsg_addmem (zmsg, refs, sizeof refs - 1);
    corpus_frames ("msg", "refs-claim-many", zmsg);
    //  A tuple claiming 67 million items over 16 bytes.
    msg_t *msg = corpus_msg_new (MSG_SUBMIT);
    msg_set_str (msg, MSG_F_JOB, "claims");
    static const char claims[] = "\xdd\x03\xff\xff\xfb"
                                 "\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0";
    zframe_t *tuple = zframe_new (claims, sizeof claims - 1);
    msg_payload_append (msg, &tuple);
    corpus_frames ("msg", "tuple-claims-items", wire_encode (&msg));
}

//  ---------------------------------------------------------------------
//  fuzz_msg: version 2's packed frames and runs

//  A version 2 message of command: header (taken), then payload frames
//  (taken, NULL ended).
static zmsg_t *
s_v2 (const char *command, zframe_t *header, ...)
{
    zmsg_t *zmsg = zmsg_new ();
    zmsg_addstr (zmsg, "DRV2");
    zmsg_addstr (zmsg, command);
    zmsg_append (zmsg, &header);
    va_list ap;
    va_start (ap, header);
    for (zframe_t *frame = va_arg (ap, zframe_t *); frame; frame = va_arg (ap, zframe_t *))
        zmsg_append (zmsg, &frame);
    va_end (ap);
    return zmsg;
}

//  A SUBMIT header {"job": "j", "handler": "echo", "sink": ..., "count": n}
//  (no count if n < 0).
static zframe_t *
s_submit_header (int count)
{
    pack_t p;
    corpus_pack_init (&p);
    msgpack_pack_map (&p.pk, count < 0? 3: 4);
    corpus_str (&p.pk, "job");      corpus_str (&p.pk, "j");
    corpus_str (&p.pk, "handler");  corpus_str (&p.pk, "echo");
    corpus_str (&p.pk, "sink");     corpus_str (&p.pk, "tcp://127.0.0.1:5558");
    if (count >= 0) {
        corpus_str (&p.pk, "count");
        msgpack_pack_uint64 (&p.pk, (uint64_t) count);
    }
    return corpus_pack_frame (&p);
}

//  A header {"job": "j", "tuples": [runs...]} of n runs, each given as
//  first, count, attempt (uint64s), and a WORK's handler and sink if work.
static zframe_t *
s_runs_header (bool work, size_t n, const uint64_t (*runs)[3])
{
    pack_t p;
    corpus_pack_init (&p);
    msgpack_pack_map (&p.pk, work? 4: 2);
    corpus_str (&p.pk, "job");      corpus_str (&p.pk, "j");
    if (work) {
        corpus_str (&p.pk, "handler");  corpus_str (&p.pk, "echo");
        corpus_str (&p.pk, "sink");     corpus_str (&p.pk, "tcp://127.0.0.1:5558");
    }
    corpus_str (&p.pk, "tuples");
    msgpack_pack_array (&p.pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_array (&p.pk, 3);
        for (int k = 0; k < 3; k++)
            msgpack_pack_uint64 (&p.pk, runs[i][k]);
    }
    return corpus_pack_frame (&p);
}

static zframe_t *
s_packed (const char *bytes, size_t size)
{
    return zframe_new (bytes, size);
}

static void
s_msg_v2 (void)
{
    //  ["t", 1] ["t", 2], packed.
    static const char two[] = "\x92\xa1t\x01\x92\xa1t\x02";
    corpus_frames ("msg", "v2-submit-count-over",
                   s_v2 ("SUBMIT", s_submit_header (3), s_packed (two, 8), NULL));
    corpus_frames ("msg", "v2-submit-count-under",
                   s_v2 ("SUBMIT", s_submit_header (1), s_packed (two, 8), NULL));
    corpus_frames ("msg", "v2-submit-no-count",
                   s_v2 ("SUBMIT", s_submit_header (-1), s_packed (two, 8), NULL));
    corpus_frames ("msg", "v2-submit-count-no-frame",
                   s_v2 ("SUBMIT", s_submit_header (2), NULL));
    corpus_frames ("msg", "v2-submit-two-frames",
                   s_v2 ("SUBMIT", s_submit_header (2), s_packed (two, 4),
                         s_packed (two + 4, 4), NULL));
    corpus_frames ("msg", "v2-submit-bad-value",
                   s_v2 ("SUBMIT", s_submit_header (2), s_packed ("\x01\xc1", 2), NULL));
    corpus_frames ("msg", "v2-submit-last-cut",
                   s_v2 ("SUBMIT", s_submit_header (2), s_packed (two, 7), NULL));
    static const char claims[] = "\xdd\x03\xff\xff\xfb\xc0\xc0\xc0\xc0";
    corpus_frames ("msg", "v2-submit-claims-items",
                   s_v2 ("SUBMIT", s_submit_header (1), s_packed (claims, 9), NULL));
    zframe_t *deep = s_deep_value (MSG_MAX_DEPTH + 1);
    corpus_frames ("msg", "v2-tuple-depth-33",
                   s_v2 ("SUBMIT", s_submit_header (1), deep, NULL));

    static const uint64_t three[][3] = { { 1, 3, 1 } };
    corpus_frames ("msg", "v2-work-total-over",
                   s_v2 ("WORK", s_runs_header (true, 1, three), s_packed (two, 8), NULL));
    static const uint64_t split[][3] = { { 1, 1, 1 }, { 7, 1, 2 } };
    corpus_frames ("msg", "v2-work-two-runs",
                   s_v2 ("WORK", s_runs_header (true, 2, split), s_packed (two, 8), NULL));

    //  Runs at and over their rules (PROTOCOL.md 9.1).
    static const struct {
        const char *name;
        uint64_t run[3];
    } runs[] = {
        { "v2-run-count-0",       { 1, 0, 1 } },
        { "v2-run-attempt-0",     { 1, 1, 0 } },
        { "v2-run-attempt-32bit", { 1, 1, 4294967296ULL } },
        { "v2-run-last-id",       { UINT64_MAX, 1, 1 } },
        { "v2-run-wraps",         { UINT64_MAX, 2, 1 } },
        { "v2-run-most",          { 1, MSG_MAX_RUN_TUPLES, 4294967295ULL } },
        { "v2-run-over",          { 1, MSG_MAX_RUN_TUPLES + 1, 1 } },
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++)
        corpus_frames ("msg", runs[i].name,
                       s_v2 ("DONE", s_runs_header (false, 1, &runs[i].run), NULL));
    static const uint64_t repeat[][3] = { { 1, 2, 1 }, { 1, 2, 1 }, { 2, 1, 2 } };
    corpus_frames ("msg", "v2-runs-repeat",
                   s_v2 ("DONE", s_runs_header (false, 3, repeat), NULL));
    //  A runs array claiming one more than MSG_MAX_RUNS, with one.
    static const char many[] = "\x82\xa3job\xa1j\xa6tuples\xdc\x20\x01\x93\x01\x01\x01";
    corpus_frames ("msg", "v2-runs-claim-many",
                   s_v2 ("DONE", s_packed (many, sizeof many - 1), NULL));
    //  Version 1 pairs in a version 2 header, and the other way round.
    static const char pairs[] = "\x82\xa3job\xa1j\xa6tuples\x91\x92\x01\x01";
    corpus_frames ("msg", "v2-runs-as-pairs",
                   s_v2 ("DONE", s_packed (pairs, sizeof pairs - 1), NULL));
}

//  ---------------------------------------------------------------------
//  fuzz_result: nesting and declared counts in the batch

//  A RESULT's header (tuples [[1, 1]], or [[1, 1, 1]] in version 2) and
//  batch frames, for fuzz_result.
static void
s_result_in (const char *name, zframe_t *batch, int version)
{
    msg_t *msg = corpus_msg_new (MSG_RESULT);
    msg_set_version (msg, version);
    msg_set_str (msg, MSG_F_JOB, "scan");
    msg_set_str (msg, MSG_F_AGENT, "agent-1");
    msg_set_refs (msg, MSG_F_TUPLES, &(msg_ref_t) { 1, 1 }, 1);
    msg_payload_append (msg, &batch);
    zmsg_t *zmsg = wire_encode (&msg);
    zframe_t *frame = zmsg_pop (zmsg);         //  "DRV1" and "RESULT" are implied
    zframe_destroy (&frame);
    frame = zmsg_pop (zmsg);
    zframe_destroy (&frame);
    corpus_frames ("result", name, zmsg);
}

static void
s_result (const char *name, zframe_t *batch)
{
    s_result_in (name, batch, 1);
}

//  [[status, started, duration, input, output, error, partial]] of version
//  2, with items items (7 is right) and the given status, error and output
//  nesting depth.
static zframe_t *
s_v2_batch (int items, uint64_t status, bool error_int, int depth)
{
    pack_t p;
    corpus_pack_init (&p);
    msgpack_packer *pk = &p.pk;
    msgpack_pack_array (pk, 1);
    msgpack_pack_array (pk, (size_t) items);
    msgpack_pack_uint64 (pk, status);
    msgpack_pack_uint64 (pk, 1);
    msgpack_pack_uint64 (pk, 1);
    if (items > 3)
        msgpack_pack_nil (pk);
    if (items > 4) {
        if (depth)
            s_nest (pk, depth - 2);
        else
            corpus_str (pk, "out");
    }
    if (items > 5) {
        if (error_int)
            msgpack_pack_int64 (pk, -1);
        else
            msgpack_pack_nil (pk);
    }
    if (items > 6)
        msgpack_pack_false (pk);
    return corpus_pack_frame (&p);
}

//  [{"tuple": 1, ..., "output": <nested>}], depth deep in all.
static zframe_t *
s_deep_batch (int depth)
{
    pack_t p;
    corpus_pack_init (&p);
    msgpack_packer *pk = &p.pk;
    msgpack_pack_array (pk, 1);
    msgpack_pack_map (pk, 6);
    corpus_str (pk, "tuple");       msgpack_pack_uint64 (pk, 1);
    corpus_str (pk, "attempt");     msgpack_pack_uint64 (pk, 1);
    corpus_str (pk, "status");      corpus_str (pk, "ok");
    corpus_str (pk, "started_us");  msgpack_pack_uint64 (pk, 1);
    corpus_str (pk, "duration_us"); msgpack_pack_uint64 (pk, 1);
    corpus_str (pk, "output");      s_nest (pk, depth - 2);
    return corpus_pack_frame (&p);
}

static void
s_result_hostile (void)
{
    s_result ("output-depth-32", s_deep_batch (MSG_MAX_DEPTH));
    s_result ("output-depth-33", s_deep_batch (MSG_MAX_DEPTH + 1));
    static const char claims[] = "\xdd\x03\xff\xff\xfb"
                                 "\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0";
    s_result ("batch-claims-records", zframe_new (claims, sizeof claims - 1));
    static const char record[] = "\x91\xde\xff\xff\xa5tuple\x01";
    s_result ("record-claims-pairs", zframe_new (record, sizeof record - 1));
    s_result_in ("v2-record", s_v2_batch (7, 0, false, 0), 2);
    s_result_in ("v2-record-short", s_v2_batch (3, 0, false, 0), 2);
    s_result_in ("v2-record-status-2", s_v2_batch (7, 2, false, 0), 2);
    s_result_in ("v2-record-error-int", s_v2_batch (7, 1, true, 0), 2);
    s_result_in ("v2-output-depth-32", s_v2_batch (7, 0, false, MSG_MAX_DEPTH), 2);
    s_result_in ("v2-output-depth-33", s_v2_batch (7, 0, false, MSG_MAX_DEPTH + 1), 2);
    //  A version 2 header with map records, and the other way round.
    s_result_in ("v2-map-records", s_deep_batch (3), 2);
    s_result_in ("v1-array-records", s_v2_batch (7, 0, false, 0), 1);
}

//  ---------------------------------------------------------------------
//  fuzz_broker: sequences of messages

typedef struct {
    char *data;
    size_t size;
    FILE *file;
    bool first;
} sequence_t;

static void
s_sequence_begin (sequence_t *seq)
{
    seq->file = open_memstream (&seq->data, &seq->size);
    seq->first = true;
    if (!seq->file) {
        perror ("open_memstream");
        exit (1);
    }
}

//  Add zmsg (taken) going out on socket.  A producer's DEALER sends a
//  delimiter first, as a REQ would.
static void
s_sequence_add (sequence_t *seq, int socket, zmsg_t *zmsg, bool delimiter)
{
    if (!seq->first)
        fwrite (MESSAGE_SEPARATOR, 1, 4, seq->file);
    seq->first = false;
    fputc (socket, seq->file);
    if (delimiter)
        zmsg_pushmem (zmsg, "", 0);
    if (!fuzz_frames_write (seq->file, zmsg)) {
        fprintf (stderr, "make_corpus: a frame holds a separator\n");
        exit (1);
    }
    zmsg_destroy (&zmsg);
}

static void
s_sequence_end (sequence_t *seq, const char *name)
{
    fclose (seq->file);
    corpus_bytes ("broker", name, seq->data, seq->size);
    free (seq->data);
}

static zmsg_t *
s_submit (const char *job, size_t tuples, bool close, const char *batch)
{
    msg_t *msg = corpus_msg_new (MSG_SUBMIT);
    msg_set_str (msg, MSG_F_JOB, job);
    msg_set_str (msg, MSG_F_HANDLER, "echo");
    msg_set_str (msg, MSG_F_SINK, "tcp://127.0.0.1:5558");
    msg_set_uint (msg, MSG_F_MAX_ATTEMPTS, 2);
    msg_set_uint (msg, MSG_F_TIMEOUT_MS, 100);
    if (batch)
        msg_set_str (msg, MSG_F_BATCH, batch);
    if (close)
        msg_set_bool (msg, MSG_F_CLOSE, true);
    for (size_t i = 0; i < tuples; i++) {
        char tuple[8] = { (char) 0x92, (char) 0xa1, 't', (char) (i & 0x7f) };
        zframe_t *frame = zframe_new (tuple, 4);
        msg_payload_append (msg, &frame);
    }
    return wire_encode (&msg);
}

static zmsg_t *
s_agent_msg (msg_command_t command, const char *job, const msg_ref_t *refs, size_t count)
{
    msg_t *msg = corpus_msg_new (command);
    if (command == MSG_HELLO) {
        msg_set_str (msg, MSG_F_AGENT, job);
        msg_set_uint (msg, MSG_F_SLOTS, count);
    }
    else
    if (command == MSG_CREDIT)
        msg_set_uint (msg, MSG_F_CREDIT, count);
    else
    if (job) {
        msg_set_str (msg, MSG_F_JOB, job);
        msg_set_refs (msg, MSG_F_TUPLES, refs, count);
        if (command == MSG_TOUCH)
            msg_set_uint (msg, MSG_F_LEASE_MS, 1000);
        if (command == MSG_RETRY)
            msg_set_str (msg, MSG_F_REASON, "failed\nFAKE-LOG-LINE broker INFO all good");
    }
    return wire_encode (&msg);
}

//  zmsg (taken) encoded again in version 2.
static zmsg_t *
s_in_v2 (zmsg_t *zmsg)
{
    if (wire_reencode (&zmsg, 2)) {
        fprintf (stderr, "make_corpus: cannot encode in version 2\n");
        exit (1);
    }
    return zmsg;
}

static void
s_broker_corpus (void)
{
    sequence_t seq;
    s_sequence_begin (&seq);
    s_sequence_add (&seq, PRODUCER, s_submit ("j", 3, false, "b1"), true);
    s_sequence_add (&seq, PRODUCER, s_submit ("j", 3, false, "b1"), true);
    s_sequence_add (&seq, PUSHER, s_submit ("j", 2, true, NULL), false);
    s_sequence_add (&seq, PRODUCER, s_status ("j"), true);
    s_sequence_end (&seq, "submit-retry-close");

    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 }, { 3, 1 } };
    s_sequence_begin (&seq);
    s_sequence_add (&seq, PRODUCER, s_submit ("w", 3, true, NULL), true);
    s_sequence_add (&seq, AGENT_A, s_agent_msg (MSG_HELLO, "agent-a", NULL, 2), false);
    s_sequence_add (&seq, AGENT_B, s_agent_msg (MSG_HELLO, "agent\nb", NULL, 2), false);
    s_sequence_add (&seq, AGENT_A, s_agent_msg (MSG_TOUCH, "w", refs, 1), false);
    s_sequence_add (&seq, AGENT_A, s_agent_msg (MSG_DONE, "w", refs, 1), false);
    s_sequence_add (&seq, AGENT_A, s_agent_msg (MSG_RETRY, "w", refs + 1, 1), false);
    s_sequence_add (&seq, AGENT_A, s_agent_msg (MSG_CREDIT, NULL, NULL, 2), false);
    s_sequence_add (&seq, AGENT_B, s_agent_msg (MSG_DONE, "w", refs + 2, 1), false);
    s_sequence_add (&seq, AGENT_B, s_agent_msg (MSG_BYE, NULL, NULL, 0), false);
    s_sequence_add (&seq, AGENT_A, s_agent_msg (MSG_HEARTBEAT, NULL, NULL, 0), false);
    s_sequence_end (&seq, "agents-work");

    //  The envelope attack in miniature, on both ROUTERs, then a request.
    s_sequence_begin (&seq);
    zmsg_t *zmsg = s_status ("j");
    zmsg_pushmem (zmsg, "", 0);
    s_stack (zmsg, 40);
    s_sequence_add (&seq, PRODUCER, zmsg, false);
    zmsg = s_agent_msg (MSG_HELLO, "a", NULL, 1);
    zmsg_pushmem (zmsg, "", 0);
    s_stack (zmsg, 40);
    s_sequence_add (&seq, AGENT_A, zmsg, false);
    s_sequence_add (&seq, PRODUCER, s_submit ("j", 1, false, NULL), true);
    s_sequence_end (&seq, "envelopes");

    //  Nesting over the limit in a tuple and a header; refs claiming more.
    s_sequence_begin (&seq);
    zmsg = s_submit ("deep", 0, false, NULL);
    zframe_t *tuple = s_deep_value (MSG_MAX_DEPTH + 1);
    zmsg_append (zmsg, &tuple);
    s_sequence_add (&seq, PRODUCER, zmsg, true);
    zmsg = zmsg_new ();
    zmsg_addstr (zmsg, "DRV1");
    zmsg_addstr (zmsg, "STATUS");
    zframe_t *header = s_deep_header (MSG_MAX_DEPTH + 1);
    zmsg_append (zmsg, &header);
    s_sequence_add (&seq, PRODUCER, zmsg, true);
    s_sequence_end (&seq, "nesting");

    //  Version 2 producers and agents beside version 1 ones.
    s_sequence_begin (&seq);
    s_sequence_add (&seq, PRODUCER, s_in_v2 (s_submit ("m", 3, false, "b1")), true);
    s_sequence_add (&seq, PUSHER, s_submit ("m", 2, true, NULL), false);
    s_sequence_add (&seq, PRODUCER, s_in_v2 (s_submit ("m", 3, false, "b1")), true);
    s_sequence_add (&seq, AGENT_A, s_in_v2 (s_agent_msg (MSG_HELLO, "agent-a", NULL, 3)),
                    false);
    s_sequence_add (&seq, AGENT_B, s_agent_msg (MSG_HELLO, "agent-b", NULL, 3), false);
    s_sequence_add (&seq, AGENT_A, s_in_v2 (s_agent_msg (MSG_DONE, "m", refs, 3)), false);
    s_sequence_add (&seq, AGENT_B, s_agent_msg (MSG_RETRY, "m", refs, 2), false);
    s_sequence_add (&seq, PRODUCER, s_in_v2 (s_status ("m")), true);
    s_sequence_end (&seq, "versions-mixed");
}

void
corpus_hostile (void)
{
    s_msg_envelopes ();
    s_msg_nesting ();
    s_msg_counts ();
    s_msg_v2 ();
    s_result_hostile ();
    s_broker_corpus ();
    char deep[2 * (MSG_MAX_DEPTH + 1) + 1];    //  one level over what is accepted
    memset (deep, '[', MSG_MAX_DEPTH + 1);
    memset (deep + MSG_MAX_DEPTH + 1, ']', MSG_MAX_DEPTH + 1);
    corpus_bytes ("json", "deep-over", deep, sizeof deep - 1);
}

//  make_corpus.c -- writes the fuzz targets' seed corpora with the real
//  encoders (wire_encode, msgpack-c's packer, json_write), so the seeds are
//  what drover actually sends.  The committed fuzz/corpus/ came from
//      build-fuzz/fuzz_make_corpus fuzz/corpus
//  Seeds cover every command in both protocol versions (name, and name-v2),
//  every header field type and every msgpack type a result may carry; each
//  is small.  make_corpus_hostile.c adds what an attacker sends, and the
//  broker's message sequences.
#include "proto/msg.h"
#include "proto/wire.h"
#include "common/json_write.h"

#include "fuzz/corpus.h"
#include "fuzz/frames.h"

#include <errno.h>
#include <math.h>
#include <sys/stat.h>

static const char *s_dir;

//  ---------------------------------------------------------------------
//  Writing files

static FILE *
s_open (const char *target, const char *name)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s", s_dir, target);
    if (mkdir (path, 0755) && errno != EEXIST) {
        perror (path);
        exit (1);
    }
    snprintf (path, sizeof path, "%s/%s/%s", s_dir, target, name);
    FILE *file = fopen (path, "wb");
    if (!file) {
        perror (path);
        exit (1);
    }
    return file;
}

static void
s_close (FILE *file, const char *name)
{
    if (fclose (file)) {
        perror (name);
        exit (1);
    }
}

//  Write frames (taken) as one seed of target.
static void
s_write_frames (const char *target, const char *name, zmsg_t *zmsg)
{
    FILE *file = s_open (target, name);
    if (!fuzz_frames_write (file, zmsg)) {
        fprintf (stderr, "%s/%s: a frame holds the separator, or write failed\n",
                 target, name);
        exit (1);
    }
    s_close (file, name);
    zmsg_destroy (&zmsg);
}

void
corpus_frames (const char *target, const char *name, zmsg_t *zmsg)
{
    s_write_frames (target, name, zmsg);
}

void
corpus_bytes (const char *target, const char *name, const void *data, size_t size)
{
    FILE *file = s_open (target, name);
    if (size && fwrite (data, 1, size, file) != size) {
        perror (name);
        exit (1);
    }
    s_close (file, name);
}

//  ---------------------------------------------------------------------
//  msgpack helpers

static void
s_pack_init (pack_t *p)
{
    msgpack_sbuffer_init (&p->buf);
    msgpack_packer_init (&p->pk, &p->buf, msgpack_sbuffer_write);
}

static void
s_str (msgpack_packer *pk, const char *text)
{
    msgpack_pack_str (pk, strlen (text));
    msgpack_pack_str_body (pk, text, strlen (text));
}

//  Take the packed bytes as a frame.
static zframe_t *
s_pack_frame (pack_t *p)
{
    zframe_t *frame = zframe_new (p->buf.data, p->buf.size);
    msgpack_sbuffer_destroy (&p->buf);
    return frame;
}

//  A tuple frame ["host", port].
static zframe_t *
s_tuple (const char *host, uint64_t port)
{
    pack_t p;
    s_pack_init (&p);
    msgpack_pack_array (&p.pk, 2);
    s_str (&p.pk, host);
    msgpack_pack_uint64 (&p.pk, port);
    return s_pack_frame (&p);
}

static void
s_add_payload (msg_t *msg, zframe_t *frame)
{
    msg_payload_append (msg, &frame);
}

msg_t *
corpus_msg_new (msg_command_t command)
{
    msg_t *msg = msg_new (command);
    if (!msg || msg_set_version (msg, 1)) {
        fprintf (stderr, "make_corpus: out of memory\n");
        exit (1);
    }
    return msg;
}

void
corpus_pack_init (pack_t *p)
{
    s_pack_init (p);
}

zframe_t *
corpus_pack_frame (pack_t *p)
{
    return s_pack_frame (p);
}

void
corpus_str (msgpack_packer *pk, const char *text)
{
    s_str (pk, text);
}

static void
s_check (int rc, const char *what)
{
    if (rc) {
        fprintf (stderr, "make_corpus: %s: %s\n", what, msg_error_name (rc));
        exit (1);
    }
}

//  ---------------------------------------------------------------------
//  RESULT batches, shared by the msg and result corpora

//  Which values a record carries beyond the required ones.
typedef enum { REC_OK, REC_FAILED, REC_TYPES, REC_EXTRA, REC_LARGE } record_kind_t;

//  Past the JSON writer's 4 KiB buffer, to cross its flush paths.
#define LARGE 4500

static void
s_every_type (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 14);
    s_str (pk, "nil");     msgpack_pack_nil (pk);
    s_str (pk, "bools");   msgpack_pack_array (pk, 2);
                           msgpack_pack_true (pk);
                           msgpack_pack_false (pk);
    s_str (pk, "ints");    msgpack_pack_array (pk, 4);
                           msgpack_pack_int64 (pk, -1);
                           msgpack_pack_int64 (pk, INT64_MIN);
                           msgpack_pack_uint64 (pk, UINT64_MAX);
                           msgpack_pack_uint16 (pk, 443);
    s_str (pk, "f32");     msgpack_pack_float (pk, 0.1f);
    s_str (pk, "f64");     msgpack_pack_double (pk, -2.5e-300);
    s_str (pk, "nan");     msgpack_pack_double (pk, NAN);
    s_str (pk, "inf");     msgpack_pack_float (pk, -INFINITY);
    s_str (pk, "bin");     msgpack_pack_bin (pk, 5);
                           msgpack_pack_bin_body (pk, "\x00\x01\xfe\xff\x80", 5);
    s_str (pk, "ext");     msgpack_pack_ext (pk, 4, -3);
                           msgpack_pack_ext_body (pk, "abcd", 4);
    s_str (pk, "utf8");    s_str (pk, "caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80");
    s_str (pk, "bad utf8");s_str (pk, "\xff\xc3(\xed\xa0\x80 \"q\\\n\x01");
    msgpack_pack_int64 (pk, 7);                 //  keys that are not strings
    s_str (pk, "int key");
    msgpack_pack_array (pk, 1);
    msgpack_pack_nil (pk);
    s_str (pk, "array key");
    s_str (pk, "nested");  msgpack_pack_array (pk, 1);
                           msgpack_pack_map (pk, 1);
                           s_str (pk, "deep");
                           msgpack_pack_array (pk, 1);
                           msgpack_pack_array (pk, 0);
}

//  An ok record's output.
static void
s_output (msgpack_packer *pk, record_kind_t kind)
{
    if (kind == REC_TYPES)
        s_every_type (pk);
    else
    if (kind == REC_LARGE) {
        static char text[LARGE];
        memset (text, 'a', sizeof text);
        msgpack_pack_array (pk, 2);
        msgpack_pack_str (pk, sizeof text);
        msgpack_pack_str_body (pk, text, sizeof text);
        msgpack_pack_bin (pk, sizeof text / 4);
        msgpack_pack_bin_body (pk, text, sizeof text / 4);
    }
    else {
        msgpack_pack_map (pk, 2);
        s_str (pk, "open");     msgpack_pack_true (pk);
        s_str (pk, "rtt_us");   msgpack_pack_uint64 (pk, 88);
    }
}

static void
s_record (msgpack_packer *pk, msg_ref_t ref, record_kind_t kind)
{
    msgpack_pack_map (pk, kind == REC_EXTRA? 9: 7);
    s_str (pk, "tuple");       msgpack_pack_uint64 (pk, ref.id);
    s_str (pk, "attempt");     msgpack_pack_uint32 (pk, ref.attempt);
    s_str (pk, "status");      s_str (pk, kind == REC_FAILED? "failed": "ok");
    s_str (pk, "started_us");  msgpack_pack_uint64 (pk, 1763768401123456ULL + ref.id);
    s_str (pk, "duration_us"); msgpack_pack_uint64 (pk, 1250);
    s_str (pk, "input");
    msgpack_pack_array (pk, 2);
    s_str (pk, "127.0.0.1");
    msgpack_pack_uint64 (pk, 443);
    if (kind == REC_FAILED) {
        s_str (pk, "error");
        s_str (pk, "timeout after 30000 ms");
        return;
    }
    s_str (pk, "output");
    s_output (pk, kind);
    if (kind == REC_EXTRA) {
        s_str (pk, "error");    s_str (pk, "");
        s_str (pk, "future");   msgpack_pack_array (pk, 0);
    }
}

//  A version 2 record: [status, started_us, duration_us, input, output,
//  error, partial] with what s_record puts in the map.
static void
s_record_v2 (msgpack_packer *pk, msg_ref_t ref, record_kind_t kind)
{
    msgpack_pack_array (pk, 7);
    msgpack_pack_uint8 (pk, kind == REC_FAILED? 1: 0);
    msgpack_pack_uint64 (pk, 1763768401123456ULL + ref.id);
    msgpack_pack_uint64 (pk, 1250);
    msgpack_pack_array (pk, 2);
    s_str (pk, "127.0.0.1");
    msgpack_pack_uint64 (pk, 443);
    if (kind == REC_FAILED) {
        msgpack_pack_nil (pk);
        s_str (pk, "timeout after 30000 ms");
        msgpack_pack_false (pk);
        return;
    }
    s_output (pk, kind);
    //  REC_EXTRA: an error and partial on an ok record, kept as sent.
    if (kind == REC_EXTRA)
        s_str (pk, "");
    else
        msgpack_pack_nil (pk);
    if (kind == REC_EXTRA)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
}

static zframe_t *
s_batch (const msg_ref_t *refs, const record_kind_t *kinds, size_t count, int version)
{
    pack_t p;
    s_pack_init (&p);
    msgpack_pack_array (&p.pk, count);
    for (size_t i = 0; i < count; i++)
        if (version == 1)
            s_record (&p.pk, refs[i], kinds[i]);
        else
            s_record_v2 (&p.pk, refs[i], kinds[i]);
    return s_pack_frame (&p);
}

static msg_t *
s_result_msg (const char *job, const char *agent, const msg_ref_t *refs,
              const record_kind_t *kinds, size_t count, int version)
{
    msg_t *msg = corpus_msg_new (MSG_RESULT);
    s_check (msg_set_version (msg, version), "version");
    s_check (msg_set_str (msg, MSG_F_JOB, job), "job");
    s_check (msg_set_str (msg, MSG_F_AGENT, agent), "agent");
    s_check (msg_set_refs (msg, MSG_F_TUPLES, refs, count), "tuples");
    s_add_payload (msg, s_batch (refs, kinds, count, version));
    return msg;
}

//  ---------------------------------------------------------------------
//  msg corpus: one message per command, some behind a ROUTER envelope

//  msg (taken) as seed name, behind envelope; and in version 2 as name-v2
//  (a RESULT's records stay maps there: fuzz_result has v2 batches).
static void
s_msg (const char *name, msg_t *msg, const char *envelope, size_t envelope_size,
       bool delimiter)
{
    zmsg_t *zmsg = wire_encode (&msg);
    zmsg_t *v2 = zmsg_dup (zmsg);
    s_check (wire_reencode (&v2, 2), "version 2");
    for (int version = 1; version <= 2; version++) {
        zmsg_t *seed = version == 1? zmsg: v2;
        if (delimiter)
            zmsg_pushmem (seed, "", 0);
        if (envelope)
            zmsg_pushmem (seed, envelope, envelope_size);
        char seed_name[64];
        snprintf (seed_name, sizeof seed_name, "%s%s", name, version == 1? "": "-v2");
        s_write_frames ("msg", seed_name, seed);
    }
}

static zframe_t *
s_options (void)
{
    pack_t p;
    s_pack_init (&p);
    msgpack_pack_map (&p.pk, 4);
    s_str (&p.pk, "ports");
    msgpack_pack_array (&p.pk, 2);
    msgpack_pack_uint64 (&p.pk, 22);
    msgpack_pack_uint64 (&p.pk, 443);
    s_str (&p.pk, "connect_timeout"); msgpack_pack_double (&p.pk, 1.5);
    s_str (&p.pk, "verbose");         msgpack_pack_false (&p.pk);
    s_str (&p.pk, "salt");            msgpack_pack_bin (&p.pk, 3);
                                      msgpack_pack_bin_body (&p.pk, "\x00\x01\x02", 3);
    return s_pack_frame (&p);
}

//  The identity frame a ROUTER puts before what a peer sent.
static const char s_identity[] = { 0x00, 0x6b, 0x8b, 0x45, 0x67 };

//  What producers send and get: SUBMIT, ACCEPTED, STATUS, JOB, ERROR.
static void
s_msg_producer_corpus (zframe_t *options)
{
    msg_t *msg;

    //  PROTOCOL.md 8.1, as the broker's ROUTER reads it from a REQ producer.
    msg = corpus_msg_new (MSG_SUBMIT);
    s_check (msg_set_str (msg, MSG_F_JOB, "scan"), "job");
    s_check (msg_set_str (msg, MSG_F_HANDLER, "tcp-probe"), "handler");
    s_check (msg_set_str (msg, MSG_F_SINK, "tcp://127.0.0.1:5558"), "sink");
    s_check (msg_set_bool (msg, MSG_F_CLOSE, true), "close");
    s_add_payload (msg, s_tuple ("127.0.0.1", 22));
    s_add_payload (msg, s_tuple ("127.0.0.1", 443));
    s_msg ("submit-req", msg, s_identity, sizeof s_identity, true);

    msg = corpus_msg_new (MSG_SUBMIT);
    s_check (msg_set_str (msg, MSG_F_JOB, "nightly-2026-11-21"), "job");
    s_check (msg_set_str (msg, MSG_F_HANDLER, "exec"), "handler");
    s_check (msg_set_str (msg, MSG_F_SINK, "tcp://10.0.0.9:5558"), "sink");
    s_check (msg_set_raw (msg, MSG_F_OPTIONS, zframe_data (options),
                          zframe_size (options)), "options");
    s_check (msg_set_uint (msg, MSG_F_MAX_ATTEMPTS, 5), "max_attempts");
    s_check (msg_set_uint (msg, MSG_F_TIMEOUT_MS, 120000), "timeout_ms");
    s_check (msg_set_bool (msg, MSG_F_CLOSE, false), "close");
    s_check (msg_set_str (msg, MSG_F_BATCH, "b-17"), "batch");
    s_add_payload (msg, s_tuple ("10.0.0.7", 80));
    s_add_payload (msg, s_tuple ("", 0));
    s_add_payload (msg, s_tuple ("2001:db8::1", 65535));
    s_msg ("submit-options", msg, NULL, 0, false);

    msg = corpus_msg_new (MSG_SUBMIT);         //  close only, over PUSH: no envelope
    s_check (msg_set_str (msg, MSG_F_JOB, "scan"), "job");
    s_check (msg_set_bool (msg, MSG_F_CLOSE, true), "close");
    s_msg ("submit-close", msg, NULL, 0, false);

    msg = corpus_msg_new (MSG_ACCEPTED);
    s_check (msg_set_str (msg, MSG_F_JOB, "scan"), "job");
    s_check (msg_set_uint (msg, MSG_F_FIRST, 1), "first");
    s_check (msg_set_uint (msg, MSG_F_COUNT, 2), "count");
    s_check (msg_set_str (msg, MSG_F_BATCH, "b-17"), "batch");
    s_msg ("accepted", msg, NULL, 0, false);

    msg = corpus_msg_new (MSG_STATUS);
    s_check (msg_set_str (msg, MSG_F_JOB, "scan"), "job");
    s_msg ("status-req", msg, s_identity, sizeof s_identity, true);

    //  A REQ socket with ZMQ_REQ_CORRELATE puts a request id before the
    //  delimiter: the envelope is three frames then.
    msg = corpus_msg_new (MSG_STATUS);
    s_check (msg_set_str (msg, MSG_F_JOB, "scan"), "job");
    zmsg_t *stacked = wire_encode (&msg);
    zmsg_pushmem (stacked, "", 0);
    zmsg_pushmem (stacked, "\x00\x00\x00\x2a", 4);
    zmsg_pushmem (stacked, s_identity, sizeof s_identity);
    s_write_frames ("msg", "status-req-correlate", stacked);

    msg = corpus_msg_new (MSG_JOB);
    s_check (msg_set_str (msg, MSG_F_JOB, "scan"), "job");
    s_check (msg_set_str (msg, MSG_F_STATE, "complete"), "state");
    s_check (msg_set_uint (msg, MSG_F_SUBMITTED, 2), "submitted");
    s_check (msg_set_uint (msg, MSG_F_QUEUED, 0), "queued");
    s_check (msg_set_uint (msg, MSG_F_RUNNING, 0), "running");
    s_check (msg_set_uint (msg, MSG_F_DONE, 2), "done");
    s_check (msg_set_uint (msg, MSG_F_FAILED, 0), "failed");
    s_msg ("job", msg, NULL, 0, false);

    msg = corpus_msg_new (MSG_ERROR);
    s_check (msg_set_uint (msg, MSG_F_CODE, DRV_E_QUEUE_FULL), "code");
    s_check (msg_set_str (msg, MSG_F_REASON, "queue full"), "reason");
    s_check (msg_set_uint (msg, MSG_F_RETRY_MS, 500), "retry_ms");
    s_check (msg_set_str (msg, MSG_F_BATCH, "b-17"), "batch");
    s_msg ("error", msg, NULL, 0, false);
}

//  What agents and sinks send and get: HELLO to STORED.
static void
s_msg_agent_corpus (zframe_t *options)
{
    msg_t *msg;

    //  Agents are DEALERs: the backend's ROUTER sees the identity only.
    msg = corpus_msg_new (MSG_HELLO);
    s_check (msg_set_str (msg, MSG_F_AGENT, "agent-1@host-a"), "agent");
    s_check (msg_set_uint (msg, MSG_F_SLOTS, 64), "slots");
    s_msg ("hello-dealer", msg, s_identity, sizeof s_identity, false);

    msg = corpus_msg_new (MSG_WELCOME);
    s_check (msg_set_uint (msg, MSG_F_HEARTBEAT_MS, 1000), "heartbeat_ms");
    s_msg ("welcome", msg, NULL, 0, false);

    msg = corpus_msg_new (MSG_CREDIT);
    s_check (msg_set_uint (msg, MSG_F_CREDIT, 16), "credit");
    s_msg ("credit-dealer", msg, s_identity, sizeof s_identity, false);

    msg_ref_t work[] = { { 1, 1 }, { 2, 1 }, { 3, 2 } };
    msg = corpus_msg_new (MSG_WORK);
    s_check (msg_set_str (msg, MSG_F_JOB, "scan"), "job");
    s_check (msg_set_str (msg, MSG_F_HANDLER, "tcp-probe"), "handler");
    s_check (msg_set_str (msg, MSG_F_SINK, "tcp://127.0.0.1:5558"), "sink");
    s_check (msg_set_refs (msg, MSG_F_TUPLES, work, 3), "tuples");
    s_check (msg_set_raw (msg, MSG_F_OPTIONS, zframe_data (options),
                          zframe_size (options)), "options");
    s_check (msg_set_uint (msg, MSG_F_MAX_ATTEMPTS, 3), "max_attempts");
    s_check (msg_set_uint (msg, MSG_F_TIMEOUT_MS, 30000), "timeout_ms");
    s_add_payload (msg, s_tuple ("127.0.0.1", 22));
    s_add_payload (msg, s_tuple ("127.0.0.1", 80));
    s_add_payload (msg, s_tuple ("127.0.0.1", 443));
    s_msg ("work", msg, NULL, 0, false);

    //  Ids past 32 bits and the largest attempt, in every uint width.
    msg_ref_t done[] = { { 1, 1 }, { 300, 2 }, { 70000, 3 }, { 1ULL << 40, UINT32_MAX } };
    msg_ref_t dead[] = { { 4, 3 } };
    msg = corpus_msg_new (MSG_DONE);
    s_check (msg_set_str (msg, MSG_F_JOB, "scan"), "job");
    s_check (msg_set_refs (msg, MSG_F_TUPLES, done, 4), "tuples");
    s_check (msg_set_refs (msg, MSG_F_DEAD, dead, 1), "dead");
    s_msg ("done-dealer", msg, s_identity, sizeof s_identity, false);

    msg = corpus_msg_new (MSG_RETRY);
    s_check (msg_set_str (msg, MSG_F_JOB, "scan"), "job");
    s_check (msg_set_refs (msg, MSG_F_TUPLES, dead, 1), "tuples");
    s_check (msg_set_str (msg, MSG_F_REASON, "connect: timed out"), "reason");
    s_msg ("retry", msg, NULL, 0, false);

    s_msg ("heartbeat", corpus_msg_new (MSG_HEARTBEAT), NULL, 0, false);
    s_msg ("bye-dealer", corpus_msg_new (MSG_BYE), s_identity, sizeof s_identity, false);

    msg_ref_t results[] = { { 1, 1 }, { 2, 3 } };
    record_kind_t kinds[] = { REC_OK, REC_FAILED };
    s_msg ("result-dealer", s_result_msg ("scan", "agent-1", results, kinds, 2, 1),
           s_identity, sizeof s_identity, false);

    msg = corpus_msg_new (MSG_STORED);
    s_check (msg_set_str (msg, MSG_F_JOB, "scan"), "job");
    s_check (msg_set_refs (msg, MSG_F_TUPLES, results, 2), "tuples");
    s_msg ("stored", msg, NULL, 0, false);
}

//  Keys this version does not know must be skipped, whatever they hold.
static void
s_msg_unknown_keys (void)
{
    pack_t p;
    s_pack_init (&p);
    msgpack_pack_map (&p.pk, 3);
    s_str (&p.pk, "job");     s_str (&p.pk, "scan");
    s_str (&p.pk, "future");  msgpack_pack_array (&p.pk, 2);
                              msgpack_pack_float (&p.pk, 2.0f);
                              msgpack_pack_map (&p.pk, 1);
                              msgpack_pack_nil (&p.pk);
                              msgpack_pack_bin (&p.pk, 0);
    s_str (&p.pk, "ext");     msgpack_pack_ext (&p.pk, 1, 9);
                              msgpack_pack_ext_body (&p.pk, "x", 1);
    zmsg_t *zmsg = zmsg_new ();
    zmsg_addstr (zmsg, "DRV1");
    zmsg_addstr (zmsg, "STATUS");
    zframe_t *header = s_pack_frame (&p);
    zmsg_append (zmsg, &header);
    s_write_frames ("msg", "status-unknown-keys", zmsg);
}

static void
s_msg_corpus (void)
{
    zframe_t *options = s_options ();
    s_msg_producer_corpus (options);
    s_msg_agent_corpus (options);
    zframe_destroy (&options);
    s_msg_unknown_keys ();
}

//  ---------------------------------------------------------------------
//  result corpus: header and batch frames of RESULT messages

//  The header and batch frames of a RESULT, as name (version 1) and
//  name-v2 (runs, positional records).
static void
s_result (const char *name, const char *job, const char *agent,
          const msg_ref_t *refs, const record_kind_t *kinds, size_t count)
{
    for (int version = 1; version <= 2; version++) {
        msg_t *msg = s_result_msg (job, agent, refs, kinds, count, version);
        zmsg_t *zmsg = wire_encode (&msg);
        zframe_t *frame = zmsg_pop (zmsg);      //  "DRVn" and "RESULT" are implied
        zframe_destroy (&frame);
        frame = zmsg_pop (zmsg);
        zframe_destroy (&frame);
        char seed_name[64];
        snprintf (seed_name, sizeof seed_name, "%s%s", name, version == 1? "": "-v2");
        s_write_frames ("result", seed_name, zmsg);
    }
}

static void
s_result_corpus (void)
{
    msg_ref_t refs[] = { { 1, 1 }, { 2, 3 }, { 3, 1 }, { 1ULL << 40, UINT32_MAX } };
    record_kind_t ok[] = { REC_OK }, failed[] = { REC_FAILED }, types[] = { REC_TYPES };
    record_kind_t mixed[] = { REC_OK, REC_FAILED, REC_EXTRA };
    record_kind_t big[] = { REC_EXTRA }, large[] = { REC_LARGE };
    s_result ("ok", "scan", "agent-1", refs, ok, 1);
    s_result ("failed", "scan", "agent-1", refs + 1, failed, 1);
    s_result ("mixed", "scan", "agent-1", refs, mixed, 3);
    s_result ("every-type", "scan", "agent-1", refs, types, 1);
    s_result ("big-ids", "scan", "agent-1", refs + 3, big, 1);
    s_result ("large", "scan", "agent-1", refs, large, 1);
    s_result ("empty", "scan", "agent-1", refs, ok, 0);
    s_result ("names-to-escape", "scan \"q\" caf\xc3\xa9\\", "agent\t1", refs, ok, 1);
}

//  ---------------------------------------------------------------------
//  json corpus: tuples as people write them, and lines json_write wrote

static void
s_json (const char *name, const char *text)
{
    FILE *file = s_open ("json", name);
    fputs (text, file);
    s_close (file, name);
}

static void
s_json_corpus (void)
{
    s_json ("tuple", "[\"127.0.0.1\", 443]\n");
    s_json ("object", "{\"host\":\"example.org\",\"ports\":[22,80,443],"
            "\"opts\":{\"retries\":3,\"verbose\":true,\"proxy\":null}}");
    s_json ("numbers", "[0,-0,1,-1,18446744073709551615,18446744073709551616,"
            "-9223372036854775808,-9223372036854775809,1.5,-2.5e-3,1E+2,6.02e23,"
            "5e-324,1.7976931348623157e308,0.1]");
    s_json ("strings", "[\"\",\"plain\",\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t\","
            "\"\\u00e9\\u4e2D\\ud83d\\ude00\",\"caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80\","
            "\"nul\\u0000\"]");
    s_json ("literals", "[true,false,null]");
    s_json ("whitespace", " \t\n\r{ \"a\" : [ 1 , 2 ] , \"b\" : { } }\r\n");
    s_json ("scalar-string", "\"x\"");
    s_json ("scalar-number", "42");
    s_json ("empty-array", "[]");

    char deep[2 * 32 + 1];                  //  the deepest nesting accepted
    memset (deep, '[', 32);
    memset (deep + 32, ']', 32);
    deep[64] = 0;
    s_json ("deep", deep);

    //  Containers past 15 and past 65535 entries take wider headers.
    char wide[256] = "[";
    for (int i = 0; i < 20; i++)
        snprintf (wide + strlen (wide), sizeof wide - strlen (wide), "%s%d", i? ",": "", i);
    strcat (wide, "]");
    s_json ("array-16", wide);

    //  Output past the writer's 4 KiB buffer: one long run of plain bytes,
    //  and many short values that grow when written (1e5 is 100000.0).
    static char text[LARGE + 16];
    memset (text, 'b', sizeof text);
    memcpy (text, "[\"\\u00e9", 8);
    memcpy (text + sizeof text - 4, "\\n\"]", 4);
    FILE *file = s_open ("json", "long-string");
    fwrite (text, 1, sizeof text, file);
    s_close (file, "long-string");
    file = s_open ("json", "numbers-grow");
    fputc ('[', file);
    for (int i = 0; i < 600; i++)
        fprintf (file, "%s%de%d", i? ",": "", i % 10, i % 7);
    fputc (']', file);
    s_close (file, "numbers-grow");

    //  A line the sink writes: json_write of a result's values.
    pack_t p;
    s_pack_init (&p);
    msg_ref_t ref = { 7, 1 };
    s_record (&p.pk, ref, REC_TYPES);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    if (msgpack_unpack_next (&unpacked, p.buf.data, p.buf.size, &offset)
            != MSGPACK_UNPACK_SUCCESS) {
        fprintf (stderr, "make_corpus: cannot unpack a record\n");
        exit (1);
    }
    file = s_open ("json", "written-record");
    if (json_write (file, &unpacked.data)) {
        fprintf (stderr, "make_corpus: json_write failed\n");
        exit (1);
    }
    s_close (file, "written-record");
    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&p.buf);
}

int
main (int argc, char *argv[])
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf (stderr, "usage: %s DIR  (writes DIR/msg, DIR/json, DIR/result, "
                 "DIR/broker)\n", argv[0]);
        return argc == 2? 0: 2;
    }
    s_dir = argv[1];
    if (mkdir (s_dir, 0755) && errno != EEXIST) {
        perror (s_dir);
        return 1;
    }
    s_msg_corpus ();
    s_result_corpus ();
    s_json_corpus ();
    corpus_hostile ();
    return 0;
}

//  test_sink_sealed.c -- black-box tests of `drover sink` with a keypair
//  (tests/support_sink.h): CURVE on its socket, results sealed for its key
//  (PROTOCOL.md 4.4) stored decrypted, replays and tampering denied and
//  counted, plain and sealed results only where the sink takes them, and
//  the agents' allow-list.
#include "support.h"
#include "support_sink.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static rig_t *rig;
static void setup (void) { rig = rig_new (); rig_start (rig, NULL); }
static void teardown (void) { rig_destroy (&rig); }
TestSuite (sink_sealed, .init = setup, .fini = teardown, .timeout = 60);

//  Send RESULT in version for job with key (NULL: unsealed) and a copy of
//  payload.
static msg_t *
s_exchange_in (int version, zsock_t *sock, const char *job, const char *key,
               const msg_ref_t *refs, size_t count, zframe_t *payload)
{
    msg_t *msg = msg_new (MSG_RESULT);
    msg_set_version (msg, version);
    msg_set_str (msg, MSG_F_JOB, job);
    msg_set_str (msg, MSG_F_AGENT, "test-agent");
    if (key)
        msg_set_str (msg, MSG_F_KEY, key);
    msg_set_refs (msg, MSG_F_TUPLES, refs, count);
    zframe_t *copy = zframe_dup (payload);
    msg_payload_append (msg, &copy);
    cr_assert_eq (wire_send (&msg, sock, NULL), 0);
    msg_t *reply = NULL;
    if (wire_recv (sock, NULL, &reply))
        return NULL;
    return reply;
}

//  The same in version 1 (the payloads are map records).
static msg_t *
s_exchange (zsock_t *sock, const char *job, const char *key, const msg_ref_t *refs,
            size_t count, zframe_t *payload)
{
    return s_exchange_in (1, sock, job, key, refs, count, payload);
}

static void
s_expect_denied (msg_t *reply, const char *reason)
{
    rig_expect_error (reply, DRV_E_DENIED);
    const char *got = msg_str (reply, MSG_F_REASON);
    cr_expect (got && strstr (got, reason), "reason '%s', want '%s'", got, reason);
}

Test (sink_sealed, sealed_batch_is_stored_and_a_replay_denied)
{
    rig_start_keyed (rig, NULL, NULL);
    keys_t *agent_keys = keys_new ();
    zsock_t *sock = rig_curve_agent (rig, agent_keys, 10000);
    seal_t *seal = seal_new (keys_secret (agent_keys), keys_public (agent_keys),
                             keys_public (rig->keys), SEAL_CLIENT);
    cr_assert_not_null (seal);
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 }, { 3, 1 } };
    zframe_t *sealed = rig_sealed_batch (seal, agent_keys, "secret-scan", refs, 3, 1);
    msg_t *reply = s_exchange (sock, "secret-scan", keys_public_txt (agent_keys), refs, 3,
                               sealed);
    rig_expect_stored (reply, "secret-scan", refs, 3);
    msg_destroy (&reply);
    rig_lines_t *lines = rig_read_lines (rig);
    cr_assert_eq (lines->count, 3);
    for (size_t i = 0; i < 3; i++) {
        rig_expect_str (lines, i, "job", "secret-scan");
        rig_expect_uint (lines, i, "tuple", i + 1);
        char out[32];
        snprintf (out, sizeof out, "out-%zu", i + 1);
        rig_expect_str (lines, i, "output", out);      //  stored decrypted
    }
    rig_free_lines (&lines);

    //  The same message again (a relay replaying it): denied, not stored.
    reply = s_exchange (sock, "secret-scan", keys_public_txt (agent_keys), refs, 3, sealed);
    s_expect_denied (reply, "replayed");
    msg_destroy (&reply);
    //  A redelivery sealed anew is authentic: acknowledged, deduped.
    zframe_t *again = rig_sealed_batch (seal, agent_keys, "secret-scan", refs, 3, 1);
    reply = s_exchange (sock, "secret-scan", keys_public_txt (agent_keys), refs, 3, again);
    rig_expect_stored (reply, "secret-scan", refs, 3);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (rig->out_path), 3, "records once");

    zframe_destroy (&sealed);
    zframe_destroy (&again);
    seal_destroy (&seal);
    zsock_destroy (&sock);
    keys_destroy (&agent_keys);
    int status = rig_stop (rig, SIGTERM);
    cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    cr_expect (rig_log_has (rig, "sealed batches: 2 opened, 0 tampered, 1 replayed"),
               "counters in the log");
}

Test (sink_sealed, tampered_batch_is_denied_and_counted)
{
    rig_start_keyed (rig, NULL, NULL);
    keys_t *agent_keys = keys_new ();
    zsock_t *sock = rig_curve_agent (rig, agent_keys, 10000);
    seal_t *seal = seal_new (keys_secret (agent_keys), keys_public (agent_keys),
                             keys_public (rig->keys), SEAL_CLIENT);
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 } };
    const char *key = keys_public_txt (agent_keys);
    //  A byte flipped in the ciphertext, in the nonce, in the tag.
    size_t where[] = { SEAL_NONCE_SIZE + 5, 3, 0 };
    for (size_t i = 0; i < 3; i++) {
        zframe_t *sealed = rig_sealed_batch (seal, agent_keys, "scan", refs, 2, 1);
        size_t at = where[i]? where[i]: zframe_size (sealed) - 1;
        zframe_data (sealed)[at] ^= 0x01;
        msg_t *reply = s_exchange (sock, "scan", key, refs, 2, sealed);
        s_expect_denied (reply, "failed authentication");
        msg_destroy (&reply);
        zframe_destroy (&sealed);
    }
    //  An authentic batch relabelled: another job, another tuple id.
    zframe_t *sealed = rig_sealed_batch (seal, agent_keys, "scan", refs, 2, 1);
    msg_t *reply = s_exchange (sock, "other", key, refs, 2, sealed);
    s_expect_denied (reply, "failed authentication");
    msg_destroy (&reply);
    msg_ref_t moved[] = { { 1, 1 }, { 7, 1 } };
    reply = s_exchange (sock, "scan", key, moved, 2, sealed);
    cr_assert_not_null (reply);
    cr_expect_eq (msg_command (reply), MSG_ERROR, "relabelled refs are not stored");
    msg_destroy (&reply);
    //  Sealed with another agent's key than the one it names.
    keys_t *other_keys = keys_new ();
    reply = s_exchange (sock, "scan", keys_public_txt (other_keys), refs, 2, sealed);
    s_expect_denied (reply, "failed authentication");
    msg_destroy (&reply);
    //  A key that is not Z85.
    reply = s_exchange (sock, "scan", "not a key", refs, 2, sealed);
    rig_expect_error (reply, DRV_E_BAD_TYPE);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (rig->out_path), 0, "nothing stored");
    //  The genuine message still opens: failures did not touch its window.
    reply = s_exchange (sock, "scan", key, refs, 2, sealed);
    rig_expect_stored (reply, "scan", refs, 2);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (rig->out_path), 2);
    cr_expect (rig_log_has (rig, "DENIED"), "denials are logged");

    zframe_destroy (&sealed);
    seal_destroy (&seal);
    zsock_destroy (&sock);
    keys_destroy (&agent_keys);
    keys_destroy (&other_keys);
    rig_stop (rig, SIGTERM);
    cr_expect (rig_log_has (rig, "sealed batches: 1 opened, 6 tampered, 0 replayed"),
               "counters in the log");
}

Test (sink_sealed, plain_and_sealed_must_match_the_sink)
{
    //  A sink without a keypair (the one setup started) refuses sealed results.
    keys_t *agent_keys = keys_new ();
    keys_t *fake_sink = keys_new ();
    seal_t *seal = seal_new (keys_secret (agent_keys), keys_public (agent_keys),
                             keys_public (fake_sink), SEAL_CLIENT);
    msg_ref_t refs[] = { { 1, 1 } };
    zframe_t *sealed = rig_sealed_batch (seal, agent_keys, "scan", refs, 1, 1);
    msg_t *reply = s_exchange (rig->agent, "scan", keys_public_txt (agent_keys), refs, 1, sealed);
    s_expect_denied (reply, "no keypair");
    msg_destroy (&reply);
    zframe_destroy (&sealed);
    seal_destroy (&seal);
    keys_destroy (&fake_sink);

    //  A sink with one refuses plain results...
    rig_start_keyed (rig, NULL, NULL);
    zsock_t *sock = rig_curve_agent (rig, agent_keys, 10000);
    rig_batch_t batch;
    rig_batch_begin (&batch, 1);
    rig_batch_record (&batch, 1, 1, true);
    zframe_t *plain = zframe_new (batch.buffer.data, batch.buffer.size);
    msgpack_sbuffer_destroy (&batch.buffer);
    reply = s_exchange (sock, "scan", NULL, refs, 1, plain);
    s_expect_denied (reply, "sealed results only");
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (rig->out_path), 0);
    zsock_destroy (&sock);

    //  ...unless --allow-plain; keys from DROVER_SECRET_KEY this time.
    keys_t *env_keys = keys_new ();
    char secret[KEYS_Z85_SIZE + 1];
    zmq_z85_encode (secret, keys_secret (env_keys), KEYS_KEY_SIZE);
    setenv ("DROVER_SECRET_KEY", secret, 1);
    rig_spawn (rig, "--output", rig->out_path, "--allow-plain", NULL);
    unsetenv ("DROVER_SECRET_KEY");
    cr_expect (rig_log_has (rig, keys_public_txt (env_keys)), "the key from the environment");
    keys_destroy (&rig->keys);
    rig->keys = env_keys;
    sock = rig_curve_agent (rig, agent_keys, 10000);
    reply = s_exchange (sock, "scan", NULL, refs, 1, plain);
    rig_expect_stored (reply, "scan", refs, 1);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (rig->out_path), 1);
    zframe_destroy (&plain);
    zsock_destroy (&sock);
    keys_destroy (&agent_keys);
}

Test (sink_sealed, curve_lets_in_only_listed_agents)
{
    char allow[600];
    snprintf (allow, sizeof allow, "%s/agents", rig->dir);
    cr_assert_eq (mkdir (allow, 0700), 0);
    keys_t *listed = keys_new ();
    keys_t *unlisted = keys_new ();
    char path[700];
    snprintf (path, sizeof path, "%s/listed", allow);
    cr_assert_eq (zcert_save_public (keys_cert (listed), path), 0);
    rig_start_keyed (rig, "--allow-agents", allow);
    cr_expect (rig_log_has (rig, allow), "the allow-list is logged");

    msg_ref_t refs[] = { { 1, 1 } };
    rig_batch_t batch;
    rig_batch_begin (&batch, 1);
    rig_batch_record (&batch, 1, 1, true);
    seal_t *seal = seal_new (keys_secret (unlisted), keys_public (unlisted),
                             keys_public (rig->keys), SEAL_CLIENT);
    zframe_t *sealed = rig_sealed_batch (seal, unlisted, "scan", refs, 1, 1);
    //  Not on the list: the handshake fails, nothing comes back.
    zsock_t *sock = rig_curve_agent (rig, unlisted, 1500);
    cr_expect_null (s_exchange (sock, "scan", keys_public_txt (unlisted), refs, 1, sealed),
                    "an unlisted agent gets no answer");
    zsock_destroy (&sock);
    //  The sink says so, with the key, as the broker does.
    char refused[200];
    snprintf (refused, sizeof refused, "refused CURVE client %s", keys_public_txt (unlisted));
    cr_expect (rig_log_has (rig, refused), "the sink does not log the refusal of the key");
    //  No CURVE at all: likewise.
    sock = zsock_new (ZMQ_DEALER);
    zsock_set_rcvtimeo (sock, 1500);
    zsock_set_linger (sock, 0);
    zsock_connect (sock, "%s", rig->endpoint);
    cr_expect_null (s_exchange (sock, "scan", keys_public_txt (unlisted), refs, 1, sealed));
    zsock_destroy (&sock);
    cr_expect_eq (support_count_lines (rig->out_path), 0);
    zframe_destroy (&sealed);
    seal_destroy (&seal);

    //  The listed agent gets in.
    seal = seal_new (keys_secret (listed), keys_public (listed), keys_public (rig->keys),
                     SEAL_CLIENT);
    sealed = rig_sealed_batch (seal, listed, "scan", refs, 1, 1);
    sock = rig_curve_agent (rig, listed, 10000);
    msg_t *reply = s_exchange (sock, "scan", keys_public_txt (listed), refs, 1, sealed);
    rig_expect_stored (reply, "scan", refs, 1);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (rig->out_path), 1);
    //  Revoked: its file removed.  Once the sink read the list again, the
    //  connection made before gets DENIED for each message (libzmq keeps
    //  it), and a new connection with that key fails.
    cr_assert_eq (unlink (path), 0);
    cr_assert (SUPPORT_WAIT (rig_log_has (rig, "changed, 0 keys allowed"), 5000),
               "the sink did not read its allow-list again");
    zframe_destroy (&sealed);
    sealed = rig_sealed_batch (seal, listed, "scan", refs, 1, 1);
    reply = s_exchange (sock, "scan", keys_public_txt (listed), refs, 1, sealed);
    s_expect_denied (reply, "not allowed (revoked?)");
    msg_destroy (&reply);
    zsock_destroy (&sock);
    sock = rig_curve_agent (rig, listed, 1500);
    cr_expect_null (s_exchange (sock, "scan", keys_public_txt (listed), refs, 1, sealed),
                    "a revoked agent gets no answer");
    zsock_destroy (&sock);
    //  Listed again: let in again, no restart.
    cr_assert_eq (zcert_save_public (keys_cert (listed), path), 0);
    cr_assert (SUPPORT_WAIT (rig_log_has (rig, "changed, 1 key allowed"), 5000));
    zframe_destroy (&sealed);
    sealed = rig_sealed_batch (seal, listed, "scan", refs, 1, 1);
    sock = rig_curve_agent (rig, listed, 10000);
    reply = s_exchange (sock, "scan", keys_public_txt (listed), refs, 1, sealed);
    rig_expect_stored (reply, "scan", refs, 1);
    msg_destroy (&reply);
    zsock_destroy (&sock);
    //  Counted: the message denied, and the connections.
    rig_stop (rig, SIGTERM);
    cr_expect (rig_log_has (rig, "bad messages (DENIED 1)"), "the denied message is not counted");
    cr_expect (rig_log_has (rig, "sink: agents: connections 2 allowed, 2 denied"),
               "the connections are not counted");
    msgpack_sbuffer_destroy (&batch.buffer);
    zframe_destroy (&sealed);
    seal_destroy (&seal);
    keys_destroy (&listed);
    keys_destroy (&unlisted);
}

//  Version 2: the associated data binds the runs and the version, so a
//  batch sealed for one is denied as the other.
Test (sink_sealed, version_2_batch_is_sealed_over_its_runs)
{
    rig_start_keyed (rig, NULL, NULL);
    keys_t *agent_keys = keys_new ();
    zsock_t *sock = rig_curve_agent (rig, agent_keys, 10000);
    seal_t *seal = seal_new (keys_secret (agent_keys), keys_public (agent_keys),
                             keys_public (rig->keys), SEAL_CLIENT);
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 }, { 3, 1 } };
    zframe_t *sealed = rig_sealed_batch (seal, agent_keys, "v2-scan", refs, 3, 2);
    msg_t *reply = s_exchange_in (2, sock, "v2-scan", keys_public_txt (agent_keys), refs, 3,
                                  sealed);
    rig_expect_stored (reply, "v2-scan", refs, 3);
    cr_assert_eq (msg_version (reply), 2);
    msg_destroy (&reply);
    zframe_destroy (&sealed);
    //  Sealed as version 1 (DRVSEAL1, a ref per tuple), sent as version 2.
    sealed = rig_sealed_batch (seal, agent_keys, "v2-scan", refs, 3, 1);
    reply = s_exchange_in (2, sock, "v2-scan", keys_public_txt (agent_keys), refs, 3, sealed);
    s_expect_denied (reply, "failed authentication");
    msg_destroy (&reply);
    zframe_destroy (&sealed);
    rig_lines_t *lines = rig_read_lines (rig);
    cr_assert_eq (lines->count, 3);
    rig_expect_str (lines, 2, "output", "out-3");
    rig_free_lines (&lines);
    seal_destroy (&seal);
    zsock_destroy (&sock);
    keys_destroy (&agent_keys);
}

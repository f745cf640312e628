//  ceiling_roles.c -- the ceiling's broker, agent and sink (ceiling.h), each
//  `drover-bench ceiling-ROLE ARGS...`, run until killed.  Per batch each
//  does what drover's role must do per batch, with the same security and
//  durability, and per tuple nothing but the agent's echo copy: raw libzmq
//  (no CZMQ), one frame per message, CURVE without ZAP (CURVE servers with
//  no ZAP handler let in any client with the server's key: the allow-list
//  check is per connection, not per message, so it costs nothing here).
#include "bench/ceiling.h"
#include "common/writeback.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define TURN_MAX   64               //  messages taken from a socket per turn
#define MAP_SIZE   (1ull << 32)     //  LMDB address space; a window is MBs

//  A DEALER bound or connected; with a secret key it is a CURVE server
//  (server_key NULL) or a client of server_key.  NULL on failure, said.
static void *
s_socket (void *ctx, const char *endpoint, bool bind, const char *secret,
          const char *server_key)
{
    void *sock = zmq_socket (ctx, ZMQ_DEALER);
    int linger = 0, on = 1, rc = sock? 0: -1;
    char public_key[41];
    if (rc == 0)
        rc = zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger);
    if (rc == 0 && secret && !server_key)
        rc = zmq_setsockopt (sock, ZMQ_CURVE_SERVER, &on, sizeof on);
    if (rc == 0 && secret && server_key)
        rc = zmq_curve_public (public_key, secret) || zmq_setsockopt (sock,
             ZMQ_CURVE_PUBLICKEY, public_key, 40) || zmq_setsockopt (sock,
             ZMQ_CURVE_SERVERKEY, server_key, 40);
    if (rc == 0 && secret)
        rc = zmq_setsockopt (sock, ZMQ_CURVE_SECRETKEY, secret, 40);
    if (rc == 0)
        rc = bind? zmq_bind (sock, endpoint): zmq_connect (sock, endpoint);
    if (rc) {
        fprintf (stderr, "ceiling: %s %s: %s\n", bind? "bind": "connect", endpoint,
                 zmq_strerror (errno));
        if (sock)
            zmq_close (sock);
        return NULL;
    }
    return sock;
}

//  An LMDB environment in dir ("-": none), as drover's stores open theirs.
static int
s_lmdb (const char *dir, unsigned flags, MDB_env **env_p, MDB_dbi *dbi_p)
{
    *env_p = NULL;
    if (!strcmp (dir, "-"))
        return 0;
    MDB_txn *txn = NULL;
    int rc = mdb_env_create (env_p);
    if (rc == 0)
        rc = mdb_env_set_mapsize (*env_p, MAP_SIZE);
    if (rc == 0)
        rc = mdb_env_open (*env_p, dir, flags, 0600);
    if (rc == 0)
        rc = mdb_txn_begin (*env_p, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open (txn, NULL, MDB_INTEGERKEY, dbi_p);
    if (rc == 0)
        rc = mdb_txn_commit (txn);
    if (rc)
        fprintf (stderr, "ceiling: LMDB in %s: %s\n", dir, mdb_strerror (rc));
    return rc;
}

static bool
s_head (zmq_msg_t *msg, ceiling_head_t *head)
{
    if (zmq_msg_size (msg) < sizeof *head)
        return false;
    memcpy (head, zmq_msg_data (msg), sizeof *head);
    return true;
}

static int
s_send_head (void *sock, const ceiling_head_t *head)
{
    return zmq_send (sock, head, sizeof *head, 0) == (int) sizeof *head? 0: -1;
}

//  Take up to TURN_MAX messages waiting on sock into msgs.
static int
s_drain (void *sock, zmq_msg_t *msgs)
{
    int count = 0;
    while (count < TURN_MAX) {
        zmq_msg_init (&msgs[count]);
        if (zmq_msg_recv (&msgs[count], sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&msgs[count]);
            break;
        }
        count++;
    }
    return count;
}

//  One broker turn: every SUBMIT and DONE waiting, in one LMDB transaction
//  (group commit, as drover's broker does per reactor turn), then the WORKs
//  and DONEs go out, after the commit.
static int
s_broker_turn (void *front, void *back, MDB_env *env, MDB_dbi dbi)
{
    static zmq_msg_t submits[TURN_MAX], dones[TURN_MAX];
    int submitted = s_drain (front, submits), done = s_drain (back, dones);
    MDB_txn *txn = NULL;
    int rc = env && (submitted || done)? mdb_txn_begin (env, NULL, 0, &txn): 0;
    ceiling_head_t head;
    for (int i = 0; rc == 0 && txn && i < submitted; i++) {
        if (!s_head (&submits[i], &head))
            return -1;
        MDB_val key = { sizeof head.first, &head.first };
        MDB_val value = { zmq_msg_size (&submits[i]) - sizeof head,
                          (char *) zmq_msg_data (&submits[i]) + sizeof head };
        rc = mdb_put (txn, dbi, &key, &value, 0);
    }
    for (int i = 0; rc == 0 && txn && i < done; i++) {
        if (!s_head (&dones[i], &head))
            return -1;
        MDB_val key = { sizeof head.first, &head.first };
        rc = mdb_del (txn, dbi, &key, NULL);
    }
    if (txn)
        rc = rc? (mdb_txn_abort (txn), rc): mdb_txn_commit (txn);
    if (rc) {
        fprintf (stderr, "ceiling-broker: LMDB: %s\n", mdb_strerror (rc));
        return -1;
    }
    for (int i = 0; i < submitted; i++)
        if (zmq_msg_send (&submits[i], back, 0) < 0)
            return -1;
    for (int i = 0; i < done; i++)
        if (zmq_msg_send (&dones[i], front, 0) < 0)
            return -1;
    return 0;
}

//  `ceiling-broker FRONT BACK DATADIR|-`: SUBMITs stored in LMDB (synced
//  commits, like drover's broker store) and passed on as WORK; DONEs delete
//  them and go back to the producer.
int
bench_ceiling_broker_main (int argc, char **argv)
{
    if (argc != 4) {
        fprintf (stderr, "usage: drover-bench ceiling-broker FRONT BACK DATADIR|-\n");
        return 2;
    }
    const char *secret = getenv (CEILING_ENV_SECRET);
    void *ctx = zmq_ctx_new ();
    void *front = s_socket (ctx, argv[1], true, secret, NULL);
    void *back = s_socket (ctx, argv[2], true, secret, NULL);
    MDB_env *env;
    MDB_dbi dbi = 0;
    if (!front || !back || s_lmdb (argv[3], 0, &env, &dbi))
        return 1;
    while (true) {
        zmq_pollitem_t items[] = { { front, 0, ZMQ_POLLIN, 0 }, { back, 0, ZMQ_POLLIN, 0 } };
        if (zmq_poll (items, 2, -1) < 0 && errno != EINTR)
            break;
        if (s_broker_turn (front, back, env, dbi))
            break;
    }
    fprintf (stderr, "ceiling-broker: %s\n", zmq_strerror (errno));
    return 1;
}

//  The agent's echo: each tuple's record is its input and its output (a
//  copy), sealed as one message.
static int
s_agent_work (zmq_msg_t *work, void *sink, const uint8_t *key, uint8_t *nonce,
              uint8_t *plain)
{
    ceiling_head_t head;
    if (!s_head (work, &head)
    ||  zmq_msg_size (work) != sizeof head + (size_t) head.count * BENCH_TUPLE_SIZE)
        return -1;
    const uint8_t *tuples = (const uint8_t *) zmq_msg_data (work) + sizeof head;
    size_t plain_size = (size_t) head.count * CEILING_RECORD;
    size_t size = sizeof head + (key? CEILING_NONCE + plain_size + CEILING_TAG: plain_size);
    zmq_msg_t result;
    zmq_msg_init_size (&result, size);
    uint8_t *out = zmq_msg_data (&result);
    memcpy (out, &head, sizeof head);
    uint8_t *records = key? plain: out + sizeof head;
    for (uint32_t i = 0; i < head.count; i++) {
        memcpy (records + (size_t) i * CEILING_RECORD, tuples + (size_t) i * BENCH_TUPLE_SIZE,
                BENCH_TUPLE_SIZE);
        memcpy (records + (size_t) i * CEILING_RECORD + BENCH_TUPLE_SIZE,
                tuples + (size_t) i * BENCH_TUPLE_SIZE, BENCH_TUPLE_SIZE);
    }
    if (key) {
        //  The nonce: a random stream chosen once, then a counter.
        for (int i = CEILING_NONCE - 1; i >= 16 && ++nonce[i] == 0; i--)
            ;
        memcpy (out + sizeof head, nonce, CEILING_NONCE);
        crypto_aead_xchacha20poly1305_ietf_encrypt (out + sizeof head + CEILING_NONCE, NULL,
            plain, plain_size, out, sizeof head, NULL, nonce, key);
    }
    return zmq_msg_send (&result, sink, 0) < 0? -1: 0;
}

static int
s_hex_key (const char *hex, uint8_t key[32])
{
    return hex && sodium_hex2bin (key, 32, hex, strlen (hex), NULL, NULL, NULL) == 0? 0: -1;
}

//  `ceiling-agent BACK BROKER_KEY|- SINK SINK_KEY|-`: WORK in, RESULT out to
//  the sink, and for each STORED a DONE to the broker.
int
bench_ceiling_agent_main (int argc, char **argv)
{
    if (argc != 5) {
        fprintf (stderr, "usage: drover-bench ceiling-agent BACK BROKER_KEY|- SINK SINK_KEY|-\n");
        return 2;
    }
    const char *secret = getenv (CEILING_ENV_SECRET);
    uint8_t key_bytes[32], nonce[CEILING_NONCE] = { 0 }, *key = NULL;
    if (sodium_init () < 0)
        return 1;
    if (getenv (CEILING_ENV_SEAL) && s_hex_key (getenv (CEILING_ENV_SEAL), key_bytes) == 0)
        key = key_bytes;
    randombytes_buf (nonce, 16);
    void *ctx = zmq_ctx_new ();
    void *back = s_socket (ctx, argv[1], false, secret, strcmp (argv[2], "-")? argv[2]: NULL);
    void *sink = s_socket (ctx, argv[3], false, secret, strcmp (argv[4], "-")? argv[4]: NULL);
    uint8_t *plain = malloc ((size_t) 65536 * CEILING_RECORD);
    if (!back || !sink || !plain)
        return 1;
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    while (true) {
        zmq_pollitem_t items[] = { { back, 0, ZMQ_POLLIN, 0 }, { sink, 0, ZMQ_POLLIN, 0 } };
        if (zmq_poll (items, 2, -1) < 0 && errno != EINTR)
            break;
        while (zmq_msg_recv (&msg, back, ZMQ_DONTWAIT) >= 0)
            if (zmq_msg_size (&msg) > sizeof (ceiling_head_t) + 65536 * BENCH_TUPLE_SIZE
            ||  s_agent_work (&msg, sink, key, nonce, plain))
                goto failed;
        while (zmq_msg_recv (&msg, sink, ZMQ_DONTWAIT) >= 0)
            if (zmq_msg_send (&msg, back, 0) < 0)
                goto failed;
    }
failed:
    fprintf (stderr, "ceiling-agent: %s\n", zmq_strerror (errno));
    return 1;
}

typedef struct {
    const uint8_t *key;             //  NULL: results come unsealed
    uint64_t last_seq;              //  the replay check: seqs only grow
    uint8_t *plain;
    MDB_env *env;
    MDB_dbi dbi;
    int fd;
    uint64_t end;                   //  the file's size
    writeback_t *writeback;         //  its pages kept few, as drover's sink does
} sink_state_t;

//  One RESULT: open it, write it to the file, record its ids in LMDB (one
//  range record: the batch's first id and count), then STORED.
static int
s_sink_result (sink_state_t *self, zmq_msg_t *msg, void *sock)
{
    ceiling_head_t head;
    const uint8_t *data = zmq_msg_data (msg);
    size_t plain_size = s_head (msg, &head)? (size_t) head.count * CEILING_RECORD: 0;
    size_t expect = sizeof head + plain_size + (self->key? CEILING_NONCE + CEILING_TAG: 0);
    if (!plain_size || zmq_msg_size (msg) != expect || head.count > 65536)
        return -1;
    const uint8_t *plain = data + sizeof head;
    if (self->key) {
        const uint8_t *nonce = data + sizeof head;
        uint64_t seq = 0;
        for (int i = 16; i < CEILING_NONCE; i++)
            seq = seq << 8 | nonce[i];
        if (seq <= self->last_seq
        ||  crypto_aead_xchacha20poly1305_ietf_decrypt (self->plain, NULL, NULL,
                nonce + CEILING_NONCE, plain_size + CEILING_TAG, data, sizeof head,
                nonce, self->key))
            return -1;
        self->last_seq = seq;
        plain = self->plain;
    }
    if (writeback_write (self->fd, plain, plain_size))
        return -1;
    self->end += plain_size;
    writeback_advance (self->writeback, self->end);
    if (self->env) {
        MDB_txn *txn;
        MDB_val key = { sizeof head.first, &head.first }, value = { sizeof head.count, &head.count };
        int rc = mdb_txn_begin (self->env, NULL, 0, &txn);
        if (rc == 0)
            rc = mdb_put (txn, self->dbi, &key, &value, 0);
        rc = rc? (mdb_txn_abort (txn), rc): mdb_txn_commit (txn);
        if (rc)
            return -1;
    }
    return s_send_head (sock, &head);
}

//  `ceiling-sink BIND DATADIR|- OUTPUT`: RESULTs opened, written to OUTPUT
//  and recorded in LMDB (unsynced commits, like drover's sink index).
int
bench_ceiling_sink_main (int argc, char **argv)
{
    if (argc != 4) {
        fprintf (stderr, "usage: drover-bench ceiling-sink BIND DATADIR|- OUTPUT\n");
        return 2;
    }
    uint8_t key[32];
    sink_state_t self = { .plain = malloc ((size_t) 65536 * CEILING_RECORD) };
    if (sodium_init () < 0 || !self.plain)
        return 1;
    if (s_hex_key (getenv (CEILING_ENV_SEAL), key) == 0)
        self.key = key;
    void *ctx = zmq_ctx_new ();
    void *sock = s_socket (ctx, argv[1], true, getenv (CEILING_ENV_SECRET), NULL);
    self.fd = open (argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (self.fd >= 0)
        self.writeback = writeback_new (self.fd, 0, WRITEBACK_CHUNK, WRITEBACK_KEEP);
    if (!sock || !self.writeback || s_lmdb (argv[2], MDB_NOSYNC, &self.env, &self.dbi))
        return 1;
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    while (true) {
        if (zmq_msg_recv (&msg, sock, 0) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (s_sink_result (&self, &msg, sock)) {
            fprintf (stderr, "ceiling-sink: a RESULT failed (size, seal, write or LMDB)\n");
            return 1;
        }
    }
    fprintf (stderr, "ceiling-sink: %s\n", zmq_strerror (errno));
    return 1;
}

//  test_keys.c -- unit tests of common/keys.c: certificates written with the
//  right modes and never over existing ones without force, load round trips
//  and every kind of bad key file, keys from the environment, and that one
//  keypair really serves both CURVE (over real TCP) and crypto_kx.
#include "common/keys.h"
#include "support.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *s_dir;

static void
s_setup (void)
{
    s_dir = support_tmpdir ();
    cr_assert (s_dir);
    unsetenv (KEYS_ENV_CERT);
    unsetenv (KEYS_ENV_SECRET);
    unsetenv (KEYS_ENV_PUBLIC);
}

static void
s_teardown (void)
{
    support_rmdir (&s_dir);
}

TestSuite (keys, .init = s_setup, .fini = s_teardown);

//  s_dir/name in a static ring of buffers.
static const char *
s_path (const char *name)
{
    static char ring[8][512];
    static int next = 0;
    char *buf = ring[next++ % 8];
    snprintf (buf, 512, "%s/%s", s_dir, name);
    return buf;
}

static unsigned
s_mode (const char *path)
{
    struct stat st;
    cr_assert_eq (stat (path, &st), 0, "%s: %s", path, strerror (errno));
    return (unsigned) (st.st_mode & 0777);
}

//  Write text to path with mode 0600 (creating or truncating).
static void
s_write (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    cr_assert (file);
    fputs (text, file);
    fclose (file);
    chmod (path, 0600);
}

//  A certificate file's text with the given key lines.
static void
s_write_cert (const char *path, const char *public_text, const char *secret_text)
{
    char text[512];
    int n = snprintf (text, sizeof text, "curve\n    public-key = \"%s\"\n", public_text);
    if (secret_text)
        snprintf (text + n, sizeof text - (size_t) n, "    secret-key = \"%s\"\n",
                  secret_text);
    s_write (path, text);
}

static void
s_z85 (const uint8_t *key, char *text)
{
    cr_assert (zmq_z85_encode (text, key, KEYS_KEY_SIZE));
}

Test (keys, save_writes_both_files_with_their_modes)
{
    //  A permissive umask must not leak the secret.
    umask (0);
    keys_t *keys = keys_new ();
    cr_assert (keys);
    char err[256] = "";
    cr_assert_eq (keys_save (keys, s_path ("agent"), false, err, sizeof err), 0, "%s", err);
    cr_expect_eq (s_mode (s_path ("agent")), 0644);
    cr_expect_eq (s_mode (s_path ("agent_secret")), 0600);

    //  The public file holds no secret; the secret file holds both keys.
    char *public_text = support_slurp (s_path ("agent"));
    char *secret_text = support_slurp (s_path ("agent_secret"));
    cr_assert (public_text && secret_text);
    cr_expect (strstr (public_text, keys_public_txt (keys)));
    cr_expect_null (strstr (public_text, "secret-key"));
    cr_expect (strstr (secret_text, "secret-key"));
    free (public_text);
    free (secret_text);

    //  No temporary files are left behind.
    size_t files = 0;
    zdir_t *dir = zdir_new (s_dir, NULL);
    cr_assert (dir);
    files = zdir_count (dir);
    zdir_destroy (&dir);
    cr_expect_eq (files, 2, "%zu files in the directory", files);
    keys_destroy (&keys);
    cr_expect_null (keys);
}

Test (keys, load_round_trip)
{
    keys_t *keys = keys_new ();
    cr_assert (keys);
    char err[256] = "";
    cr_assert_eq (keys_save (keys, s_path ("sink"), false, err, sizeof err), 0, "%s", err);

    //  NAME reads NAME_secret when it is there, like zcert_load.
    keys_t *loaded = keys_load (s_path ("sink"), err, sizeof err);
    cr_assert (loaded, "%s", err);
    cr_expect (keys_has_secret (loaded));
    cr_expect_str_eq (keys_public_txt (loaded), keys_public_txt (keys));
    cr_expect_eq (memcmp (keys_public (loaded), keys_public (keys), KEYS_KEY_SIZE), 0);
    cr_expect_eq (memcmp (keys_secret (loaded), keys_secret (keys), KEYS_KEY_SIZE), 0);
    keys_destroy (&loaded);

    //  A secret file others may read still loads (a warning is logged):
    //  container secrets are often mounted 0644.
    cr_assert_eq (chmod (s_path ("sink_secret"), 0644), 0);
    loaded = keys_load (s_path ("sink"), err, sizeof err);
    cr_assert (loaded, "%s", err);
    cr_expect (keys_has_secret (loaded));
    keys_destroy (&loaded);

    //  Naming the secret file itself works too.
    loaded = keys_load (s_path ("sink_secret"), err, sizeof err);
    cr_assert (loaded, "%s", err);
    cr_expect_eq (memcmp (keys_secret (loaded), keys_secret (keys), KEYS_KEY_SIZE), 0);
    keys_destroy (&loaded);

    //  Without the secret file: public only.
    cr_assert_eq (unlink (s_path ("sink_secret")), 0);
    loaded = keys_load (s_path ("sink"), err, sizeof err);
    cr_assert (loaded, "%s", err);
    cr_expect_not (keys_has_secret (loaded));
    cr_expect_null (keys_secret (loaded));
    cr_expect_str_eq (keys_public_txt (loaded), keys_public_txt (keys));
    //  A public-only certificate cannot be saved as a keypair.
    cr_expect_eq (keys_save (loaded, s_path ("copy"), false, err, sizeof err), -EINVAL);
    keys_destroy (&loaded);
    keys_destroy (&keys);
}

Test (keys, save_refuses_to_overwrite)
{
    keys_t *first = keys_new ();
    keys_t *second = keys_new ();
    cr_assert (first && second);
    char err[256] = "";
    cr_assert_eq (keys_save (first, s_path ("broker"), false, err, sizeof err), 0, "%s", err);
    cr_expect_eq (keys_save (second, s_path ("broker"), false, err, sizeof err), -EEXIST);
    cr_expect (strstr (err, s_path ("broker")), "error names the file: %s", err);
    cr_expect (strstr (err, "--force"), "error says how to replace: %s", err);

    //  Either file alone is enough to refuse.
    cr_assert_eq (unlink (s_path ("broker_secret")), 0);
    cr_expect_eq (keys_save (second, s_path ("broker"), false, err, sizeof err), -EEXIST);
    cr_assert_eq (rename (s_path ("broker"), s_path ("broker_secret")), 0);
    cr_expect_eq (keys_save (second, s_path ("broker"), false, err, sizeof err), -EEXIST);
    cr_expect (strstr (err, "broker_secret already exists"), "%s", err);
    //  And nothing was changed by the refusals.
    char *text = support_slurp (s_path ("broker_secret"));
    cr_assert (text);
    cr_expect (strstr (text, keys_public_txt (first)));
    cr_expect_null (strstr (text, keys_public_txt (second)));
    free (text);
    cr_expect_eq (access (s_path ("broker"), F_OK), -1, "no public file appeared");
    keys_destroy (&first);
    keys_destroy (&second);
}

Test (keys, force_replaces_and_fixes_the_mode)
{
    keys_t *first = keys_new ();
    keys_t *second = keys_new ();
    cr_assert (first && second);
    char err[256] = "";
    cr_assert_eq (keys_save (first, s_path ("p"), false, err, sizeof err), 0, "%s", err);
    //  Someone loosened the old secret file: the new one is 0600 anyway.
    cr_assert_eq (chmod (s_path ("p_secret"), 0644), 0);
    cr_assert_eq (keys_save (second, s_path ("p"), true, err, sizeof err), 0, "%s", err);
    cr_expect_eq (s_mode (s_path ("p_secret")), 0600);
    cr_expect_eq (s_mode (s_path ("p")), 0644);
    keys_t *loaded = keys_load (s_path ("p"), err, sizeof err);
    cr_assert (loaded, "%s", err);
    cr_expect_str_eq (keys_public_txt (loaded), keys_public_txt (second));
    cr_expect_eq (memcmp (keys_secret (loaded), keys_secret (second), KEYS_KEY_SIZE), 0);
    keys_destroy (&loaded);
    keys_destroy (&first);
    keys_destroy (&second);
}

Test (keys, save_into_a_missing_directory_fails_cleanly)
{
    keys_t *keys = keys_new ();
    cr_assert (keys);
    char err[256] = "";
    cr_expect_lt (keys_save (keys, s_path ("nodir/x"), false, err, sizeof err), 0);
    cr_expect (strstr (err, "nodir"), "%s", err);
    cr_expect_lt (keys_save (keys, "", false, err, sizeof err), 0);
    keys_destroy (&keys);
}

Test (keys, load_rejects_bad_files)
{
    keys_t *good = keys_new ();
    keys_t *other = keys_new ();
    cr_assert (good && other);
    char public_text[41], secret_text[41], other_secret[41];
    s_z85 (keys_public (good), public_text);
    s_z85 (keys_secret (good), secret_text);
    s_z85 (keys_secret (other), other_secret);
    char err[256];

    err[0] = 0;
    cr_expect_null (keys_load (s_path ("missing"), err, sizeof err));
    cr_expect (strstr (err, "missing") && strstr (err, "No such file"), "%s", err);

    //  A secret key that belongs to another public key.
    s_write_cert (s_path ("mixed_secret"), public_text, other_secret);
    cr_expect_null (keys_load (s_path ("mixed"), err, sizeof err));
    cr_expect (strstr (err, "does not belong"), "%s", err);

    //  A character outside Z85 (zcert_load alone would make a zero key).
    char bad[41];
    memcpy (bad, public_text, 41);
    bad[7] = '~';
    s_write_cert (s_path ("badchar"), bad, NULL);
    cr_expect_null (keys_load (s_path ("badchar"), err, sizeof err));
    cr_expect (strstr (err, "character 8 is not Z85"), "%s", err);

    //  Too short.
    bad[7] = public_text[7];
    bad[39] = 0;
    s_write_cert (s_path ("short"), bad, NULL);
    cr_expect_null (keys_load (s_path ("short"), err, sizeof err));
    cr_expect (strstr (err, "expected 40 Z85 characters, got 39"), "%s", err);

    //  A secret file without a secret key, and a file with no key at all.
    s_write_cert (s_path ("nosecret_secret"), public_text, NULL);
    cr_expect_null (keys_load (s_path ("nosecret"), err, sizeof err));
    cr_expect (strstr (err, "no curve/secret-key"), "%s", err);
    s_write (s_path ("empty"), "metadata\n    name = \"x\"\n");
    cr_expect_null (keys_load (s_path ("empty"), err, sizeof err));
    cr_expect (strstr (err, "public-key is missing"), "%s", err);
    //  The secret never appears in an error.
    cr_expect_null (strstr (err, other_secret));
    keys_destroy (&good);
    keys_destroy (&other);
}

Test (keys, z85_decoding)
{
    uint8_t key[KEYS_KEY_SIZE];
    char err[256];
    //  A libzmq test vector: 32 bytes whose Z85 text is known.
    const char *text = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    cr_assert_eq (keys_z85_decode (text, key, "k", err, sizeof err), 0, "%s", err);
    char back[41];
    s_z85 (key, back);
    cr_expect_str_eq (back, text);
    //  White space around it is ignored (secrets from files end in \n).
    cr_expect_eq (keys_z85_decode (" rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n", key, "k",
                                   err, sizeof err), 0, "%s", err);
    //  A group over 32 bits: valid characters, invalid value.
    cr_expect_eq (keys_z85_decode ("#####>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", key, "K",
                                   err, sizeof err), -EINVAL);
    cr_expect (strstr (err, "K: characters 1-5") && strstr (err, "over 32 bits"), "%s", err);
    cr_expect_eq (keys_z85_decode ("", key, "K", err, sizeof err), -EINVAL);
    cr_expect (strstr (err, "got 0"), "%s", err);
    cr_expect_eq (keys_z85_decode (NULL, key, "K", err, sizeof err), -EINVAL);
}

Test (keys, env_secret_key)
{
    keys_t *made = keys_new ();
    cr_assert (made);
    char secret_text[41], public_text[41];
    s_z85 (keys_secret (made), secret_text);
    s_z85 (keys_public (made), public_text);
    char err[256] = "";
    keys_t *keys = NULL;

    //  Nothing set: no keys, no error.
    cr_expect_eq (keys_from_env (&keys, err, sizeof err), 0);
    cr_expect_null (keys);

    //  The secret alone: the public key is derived.
    setenv (KEYS_ENV_SECRET, secret_text, 1);
    cr_assert_eq (keys_from_env (&keys, err, sizeof err), 0, "%s", err);
    cr_assert (keys);
    cr_expect_str_eq (keys_public_txt (keys), public_text);
    cr_expect_eq (memcmp (keys_secret (keys), keys_secret (made), KEYS_KEY_SIZE), 0);
    keys_destroy (&keys);

    //  Both, matching, with a trailing newline as from a mounted file.
    char with_newline[64];
    snprintf (with_newline, sizeof with_newline, "%s\n", public_text);
    setenv (KEYS_ENV_PUBLIC, with_newline, 1);
    cr_assert_eq (keys_from_env (&keys, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq (keys_public_txt (keys), public_text);
    keys_destroy (&keys);

    //  Both, not matching.
    keys_t *other = keys_new ();
    cr_assert (other);
    setenv (KEYS_ENV_PUBLIC, keys_public_txt (other), 1);
    cr_expect_eq (keys_from_env (&keys, err, sizeof err), -EINVAL);
    cr_expect_null (keys);
    cr_expect (strstr (err, "does not belong"), "%s", err);
    keys_destroy (&other);
    keys_destroy (&made);
}

Test (keys, env_bad_values)
{
    char err[256] = "";
    keys_t *keys = NULL;
    //  Wrong length.
    setenv (KEYS_ENV_SECRET, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf", 1);
    cr_expect_eq (keys_from_env (&keys, err, sizeof err), -EINVAL);
    cr_expect_null (keys);
    cr_expect_str_eq (err, "DROVER_SECRET_KEY: expected 40 Z85 characters, got 39");
    //  Not Z85; the value is not echoed.
    setenv (KEYS_ENV_SECRET, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf\"", 1);
    cr_expect_eq (keys_from_env (&keys, err, sizeof err), -EINVAL);
    cr_expect_str_eq (err, "DROVER_SECRET_KEY: character 40 is not Z85");
    //  A public key without its secret.
    unsetenv (KEYS_ENV_SECRET);
    setenv (KEYS_ENV_PUBLIC, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", 1);
    cr_expect_eq (keys_from_env (&keys, err, sizeof err), -EINVAL);
    cr_expect (strstr (err, "DROVER_SECRET_KEY is not"), "%s", err);
    //  A bad public key next to a good secret names the public variable.
    setenv (KEYS_ENV_SECRET, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", 1);
    setenv (KEYS_ENV_PUBLIC, "short", 1);
    cr_expect_eq (keys_from_env (&keys, err, sizeof err), -EINVAL);
    cr_expect_str_eq (err, "DROVER_PUBLIC_KEY: expected 40 Z85 characters, got 5");
    //  Two ways at once.
    setenv (KEYS_ENV_CERT, s_path ("x"), 1);
    cr_expect_eq (keys_from_env (&keys, err, sizeof err), -EINVAL);
    cr_expect (strstr (err, "not both"), "%s", err);
}

Test (keys, env_cert_path)
{
    keys_t *made = keys_new ();
    cr_assert (made);
    char err[256] = "";
    cr_assert_eq (keys_save (made, s_path ("agent"), false, err, sizeof err), 0, "%s", err);
    keys_t *keys = NULL;
    setenv (KEYS_ENV_CERT, s_path ("agent"), 1);
    cr_assert_eq (keys_from_env (&keys, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq (keys_public_txt (keys), keys_public_txt (made));
    keys_destroy (&keys);
    //  A role's own keys need the secret.
    cr_assert_eq (unlink (s_path ("agent_secret")), 0);
    cr_expect_eq (keys_from_env (&keys, err, sizeof err), -EINVAL);
    cr_expect (strstr (err, "DROVER_CERT: no secret key"), "%s", err);
    setenv (KEYS_ENV_CERT, s_path ("nothing"), 1);
    cr_expect_eq (keys_from_env (&keys, err, sizeof err), -EINVAL);
    cr_expect (strstr (err, "DROVER_CERT: cannot read"), "%s", err);
    keys_destroy (&made);
}

Test (keys, peer_public_from_text_or_file)
{
    keys_t *sink = keys_new ();
    cr_assert (sink);
    char err[256] = "";
    cr_assert_eq (keys_save (sink, s_path ("sink"), false, err, sizeof err), 0, "%s", err);
    uint8_t key[KEYS_KEY_SIZE];
    cr_assert_eq (keys_peer_public (keys_public_txt (sink), key, err, sizeof err), 0, "%s", err);
    cr_expect_eq (memcmp (key, keys_public (sink), KEYS_KEY_SIZE), 0);
    memset (key, 0, sizeof key);
    cr_assert_eq (keys_peer_public (s_path ("sink"), key, err, sizeof err), 0, "%s", err);
    cr_expect_eq (memcmp (key, keys_public (sink), KEYS_KEY_SIZE), 0);
    cr_expect_eq (keys_peer_public (s_path ("nosuch"), key, err, sizeof err), -EINVAL);
    cr_expect (strstr (err, "neither a certificate file nor a Z85"), "%s", err);
    keys_destroy (&sink);
}

//  The point of keeping one keypair per role: the certificate secures a
//  real CURVE connection, and its raw keys give matching crypto_kx session
//  keys on both ends.
Test (keys, one_keypair_serves_curve_and_kx)
{
    keys_t *server = keys_new ();
    cr_assert (server);
    char err[256] = "";
    cr_assert_eq (keys_save (server, s_path ("server"), false, err, sizeof err), 0, "%s", err);
    keys_t *client = keys_new ();
    cr_assert (client);
    char secret_text[41];
    s_z85 (keys_secret (client), secret_text);
    setenv (KEYS_ENV_SECRET, secret_text, 1);
    keys_t *client_env = NULL;
    cr_assert_eq (keys_from_env (&client_env, err, sizeof err), 0, "%s", err);
    keys_t *server_file = keys_load (s_path ("server"), err, sizeof err);
    cr_assert (server_file, "%s", err);

    zsock_t *rep = zsock_new (ZMQ_REP);
    zsock_t *req = zsock_new (ZMQ_REQ);
    cr_assert (rep && req);
    zcert_apply (keys_cert (server_file), rep);
    zsock_set_curve_server (rep, 1);
    zcert_apply (keys_cert (client_env), req);
    zsock_set_curve_serverkey (req, keys_public_txt (server));
    zsock_set_rcvtimeo (rep, 5000);
    zsock_set_rcvtimeo (req, 5000);
    const char *endpoint = support_endpoint ();
    cr_assert_neq (zsock_bind (rep, "%s", endpoint), -1);
    cr_assert_eq (zsock_connect (req, "%s", endpoint), 0);
    cr_assert_eq (zstr_send (req, "hello"), 0);
    char *got = zstr_recv (rep);
    cr_assert (got, "no message over CURVE");
    cr_expect_str_eq (got, "hello");
    zstr_free (&got);
    zsock_destroy (&req);
    zsock_destroy (&rep);

    uint8_t client_rx[32], client_tx[32], server_rx[32], server_tx[32];
    cr_assert_eq (crypto_kx_client_session_keys (client_rx, client_tx, keys_public (client_env),
                  keys_secret (client_env), keys_public (server_file)), 0);
    cr_assert_eq (crypto_kx_server_session_keys (server_rx, server_tx, keys_public (server_file),
                  keys_secret (server_file), keys_public (client_env)), 0);
    cr_expect_eq (memcmp (client_tx, server_rx, 32), 0);
    cr_expect_eq (memcmp (client_rx, server_tx, 32), 0);
    keys_destroy (&client_env);
    keys_destroy (&server_file);
    keys_destroy (&client);
    keys_destroy (&server);
}

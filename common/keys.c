//  keys.c -- see keys.h.  CZMQ reads and writes the zcert files; this file
//  adds what a daemon needs on top: strict checks of what was read (zcert_load
//  turns a bad key into zeros without a word), no silent overwrite, a secret
//  file that is 0600 from its first byte, and clear errors.
#include "common/keys.h"

//  czmq.h pulls in <syslog.h>, whose LOG_LEVEL_DEBUG and LOG_LEVEL_INFO macros would
//  shadow common/log.h's levels; drop them (nothing here uses syslog).
#include <czmq.h>
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct keys {
    zcert_t *cert;
    bool     has_secret;
};

static const char s_z85[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

static void
s_err (char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (err, errlen, fmt, ap);
    va_end (ap);
}

//  Wrap a certificate; takes ownership.
static keys_t *
s_wrap (zcert_t **cert_p, bool has_secret)
{
    keys_t *self = *cert_p? calloc (1, sizeof *self): NULL;
    if (!self) {
        zcert_destroy (cert_p);
        return NULL;
    }
    self->cert = *cert_p;
    self->has_secret = has_secret;
    *cert_p = NULL;
    return self;
}

keys_t *
keys_new (void)
{
    //  zcert_new hands out an all-zero "keypair" when libzmq lacks CURVE.
    if (!zsys_has_curve ())
        return NULL;
    zcert_t *cert = zcert_new ();
    return s_wrap (&cert, true);
}

void
keys_destroy (keys_t **self_p)
{
    assert (self_p);
    keys_t *self = *self_p;
    if (!self)
        return;
    //  zcert_destroy frees without wiping: wipe the keys we can reach (a
    //  saved certificate's config tree keeps a copy of the text we cannot).
    sodium_memzero ((void *) zcert_secret_key (self->cert), KEYS_KEY_SIZE);
    sodium_memzero ((void *) zcert_secret_txt (self->cert), KEYS_Z85_SIZE);
    zcert_destroy (&self->cert);
    free (self);
    *self_p = NULL;
}

int
keys_z85_decode (const char *text, uint8_t key[KEYS_KEY_SIZE],
                 const char *what, char *err, size_t errlen)
{
    what = what? what: "key";
    if (!text) {
        s_err (err, errlen, "%s: missing", what);
        return -EINVAL;
    }
    while (isspace ((unsigned char) *text))
        text++;
    size_t len = strlen (text);
    while (len && isspace ((unsigned char) text[len - 1]))
        len--;
    if (len != KEYS_Z85_SIZE) {
        s_err (err, errlen, "%s: expected %d Z85 characters, got %zu", what,
               KEYS_Z85_SIZE, len);
        return -EINVAL;
    }
    //  Z85 by hand: libzmq's decoder stops half-way on a bad character and
    //  leaves part of the key written, and we want to say which character.
    for (size_t group = 0; group < KEYS_Z85_SIZE / 5; group++) {
        uint64_t value = 0;
        for (size_t i = group * 5; i < group * 5 + 5; i++) {
            const char *digit = text[i]? strchr (s_z85, text[i]): NULL;
            if (!digit) {
                s_err (err, errlen, "%s: character %zu is not Z85", what, i + 1);
                return -EINVAL;
            }
            value = value * 85 + (uint64_t) (digit - s_z85);
        }
        if (value > UINT32_MAX) {
            s_err (err, errlen, "%s: characters %zu-%zu are not valid Z85 (value "
                   "over 32 bits)", what, group * 5 + 1, group * 5 + 5);
            return -EINVAL;
        }
        for (int b = 3; b >= 0; b--, value >>= 8)
            key[group * 4 + (size_t) b] = (uint8_t) value;
    }
    return 0;
}

//  True if public_key is the X25519 public key of secret_key.
static bool
s_pair_matches (const uint8_t *secret_key, const uint8_t *public_key)
{
    uint8_t derived[KEYS_KEY_SIZE];
    if (sodium_init () < 0 || crypto_scalarmult_base (derived, secret_key) != 0)
        return false;
    bool same = sodium_memcmp (derived, public_key, KEYS_KEY_SIZE) == 0;
    sodium_memzero (derived, sizeof derived);
    return same;
}

//  A keypair from raw keys.  public_key may be NULL: derived then.
static keys_t *
s_from_raw (uint8_t *secret_key, uint8_t *public_key, char *err, size_t errlen,
            const char *what)
{
    uint8_t derived[KEYS_KEY_SIZE];
    if (sodium_init () < 0 || crypto_scalarmult_base (derived, secret_key) != 0) {
        s_err (err, errlen, "%s: cannot derive the public key", what);
        return NULL;
    }
    if (public_key && sodium_memcmp (derived, public_key, KEYS_KEY_SIZE) != 0) {
        s_err (err, errlen, "%s: the public key does not belong to the secret key", what);
        return NULL;
    }
    zcert_t *cert = zcert_new_from (derived, secret_key);
    keys_t *self = s_wrap (&cert, true);
    if (!self)
        s_err (err, errlen, "%s: out of memory", what);
    return self;
}

keys_t *
keys_from_z85 (const char *secret_z85, const char *public_z85, char *err, size_t errlen)
{
    uint8_t secret_key[KEYS_KEY_SIZE], public_key[KEYS_KEY_SIZE];
    keys_t *self = NULL;
    if (keys_z85_decode (secret_z85, secret_key, "secret key", err, errlen) == 0
    && (!public_z85
        || keys_z85_decode (public_z85, public_key, "public key", err, errlen) == 0))
        self = s_from_raw (secret_key, public_z85? public_key: NULL, err, errlen, "keys");
    sodium_memzero (secret_key, sizeof secret_key);
    return self;
}

//  Check the key text of one certificate file the way zcert_load will read
//  it; on success the decoded keys are in public_key / secret_key.
static int
s_check_file (const char *file, bool *has_secret_p, uint8_t *public_key,
              uint8_t *secret_key, char *err, size_t errlen)
{
    zconfig_t *root = zconfig_load (file);
    if (!root) {
        s_err (err, errlen, "%s: not a certificate (ZPL syntax)", file);
        return -EINVAL;
    }
    char what[KEYS_PATH_MAX + 40];
    const char *public_text = zconfig_get (root, "/curve/public-key", NULL);
    const char *secret_text = zconfig_get (root, "/curve/secret-key", NULL);
    int rc = -EINVAL;
    snprintf (what, sizeof what, "%s: curve/public-key", file);
    if (!public_text)
        s_err (err, errlen, "%s is missing", what);
    else
    if (keys_z85_decode (public_text, public_key, what, err, errlen) == 0) {
        snprintf (what, sizeof what, "%s: curve/secret-key", file);
        if (!secret_text)
            rc = 0;
        else
        if (keys_z85_decode (secret_text, secret_key, what, err, errlen) == 0) {
            if (s_pair_matches (secret_key, public_key))
                rc = 0;
            else
                s_err (err, errlen, "%s: the public key does not belong to the "
                       "secret key", file);
        }
    }
    *has_secret_p = rc == 0 && secret_text;
    zconfig_destroy (&root);
    return rc;
}

keys_t *
keys_load (const char *path, char *err, size_t errlen)
{
    if (!path || !*path || strlen (path) > KEYS_PATH_MAX) {
        s_err (err, errlen, "certificate path is empty or longer than %d bytes",
               KEYS_PATH_MAX);
        return NULL;
    }
    //  zcert_load reads NAME_secret if it can, else NAME; check that file.
    char secret_path[KEYS_PATH_MAX + 8];
    snprintf (secret_path, sizeof secret_path, "%s_secret", path);
    const char *file = access (secret_path, R_OK) == 0? secret_path: path;
    if (access (file, R_OK) != 0) {
        s_err (err, errlen, "cannot read certificate %s: %s", path, strerror (errno));
        return NULL;
    }
    bool has_secret = false;
    uint8_t public_key[KEYS_KEY_SIZE], secret_key[KEYS_KEY_SIZE];
    int rc = s_check_file (file, &has_secret, public_key, secret_key, err, errlen);
    sodium_memzero (secret_key, sizeof secret_key);
    if (rc)
        return NULL;
    if (file == secret_path && !has_secret) {
        s_err (err, errlen, "%s has no curve/secret-key", secret_path);
        return NULL;
    }
    struct stat st;
    if (has_secret && stat (file, &st) == 0 && (st.st_mode & 077))
        log_warn ("%s holds a secret key but others may read it (mode %03o); "
                  "chmod 600 it", file, (unsigned) (st.st_mode & 0777));
    zcert_t *cert = zcert_load (path);
    //  The same bytes we just checked, unless the file changed in between.
    if (!cert || memcmp (zcert_public_key (cert), public_key, KEYS_KEY_SIZE) != 0) {
        s_err (err, errlen, "%s: changed while being read, or out of memory", file);
        zcert_destroy (&cert);
        return NULL;
    }
    keys_t *self = s_wrap (&cert, has_secret);
    if (!self)
        s_err (err, errlen, "%s: out of memory", file);
    return self;
}

static const char *
s_env (const char *name)
{
    const char *value = getenv (name);
    return value && *value? value: NULL;
}

int
keys_from_env (keys_t **keys_p, char *err, size_t errlen)
{
    assert (keys_p);
    *keys_p = NULL;
    const char *cert = s_env (KEYS_ENV_CERT);
    const char *secret_text = s_env (KEYS_ENV_SECRET);
    const char *public_text = s_env (KEYS_ENV_PUBLIC);
    if (cert && (secret_text || public_text)) {
        s_err (err, errlen, "set %s or %s, not both", KEYS_ENV_CERT,
               secret_text? KEYS_ENV_SECRET: KEYS_ENV_PUBLIC);
        return -EINVAL;
    }
    if (cert) {
        char inner[512];
        *keys_p = keys_load (cert, inner, sizeof inner);
        if (*keys_p && !keys_has_secret (*keys_p)) {
            keys_destroy (keys_p);
            snprintf (inner, sizeof inner, "no secret key: neither %s_secret nor %s "
                      "holds one", cert, cert);
        }
        if (!*keys_p)
            s_err (err, errlen, "%s: %s", KEYS_ENV_CERT, inner);
        return *keys_p? 0: -EINVAL;
    }
    if (public_text && !secret_text) {
        s_err (err, errlen, "%s is set but %s is not: a keypair needs its secret key",
               KEYS_ENV_PUBLIC, KEYS_ENV_SECRET);
        return -EINVAL;
    }
    if (!secret_text)
        return 0;
    uint8_t secret_key[KEYS_KEY_SIZE], public_key[KEYS_KEY_SIZE];
    if (keys_z85_decode (secret_text, secret_key, KEYS_ENV_SECRET, err, errlen) == 0
    && (!public_text
        || keys_z85_decode (public_text, public_key, KEYS_ENV_PUBLIC, err, errlen) == 0)) {
        char what[64];
        snprintf (what, sizeof what, "%s and %s", KEYS_ENV_SECRET, KEYS_ENV_PUBLIC);
        *keys_p = s_from_raw (secret_key, public_text? public_key: NULL, err, errlen,
                              public_text? what: KEYS_ENV_SECRET);
    }
    sodium_memzero (secret_key, sizeof secret_key);
    return *keys_p? 0: -EINVAL;
}

int
keys_peer_public (const char *spec, uint8_t key[KEYS_KEY_SIZE], char *err, size_t errlen)
{
    struct stat st;
    if (spec && stat (spec, &st) == 0 && S_ISREG (st.st_mode)) {
        keys_t *keys = keys_load (spec, err, errlen);
        if (!keys)
            return -EINVAL;
        memcpy (key, keys_public (keys), KEYS_KEY_SIZE);
        keys_destroy (&keys);
        return 0;
    }
    char inner[256];
    if (keys_z85_decode (spec, key, "public key", inner, sizeof inner) == 0)
        return 0;
    s_err (err, errlen, "'%s' is neither a certificate file nor a Z85 public key (%s)",
           spec? spec: "", inner);
    return -EINVAL;
}

const uint8_t *
keys_public (const keys_t *self)
{
    assert (self);
    return zcert_public_key (self->cert);
}

const uint8_t *
keys_secret (const keys_t *self)
{
    assert (self);
    return self->has_secret? zcert_secret_key (self->cert): NULL;
}

bool
keys_has_secret (const keys_t *self)
{
    assert (self);
    return self->has_secret;
}

const char *
keys_public_txt (const keys_t *self)
{
    assert (self);
    return zcert_public_txt (self->cert);
}

zcert_t *
keys_cert (keys_t *self)
{
    assert (self);
    return self->cert;
}

//  --------------------------------------------------------------------------
//  Saving

//  A new empty file next to path, "PATH.XXXXXX", mode 0600 (mkstemp's).
//  zconfig_save opens with fopen "w", which keeps an existing file's mode:
//  the secret is never readable by others, not even for a moment.
static int
s_temp_file (const char *path, char *temp, size_t size)
{
    snprintf (temp, size, "%s.XXXXXX", path);
    int fd = mkstemp (temp);
    if (fd < 0) {
        temp[0] = 0;
        return -errno;
    }
    close (fd);
    return 0;
}

static int
s_fsync_path (const char *path, int flags)
{
    int fd = open (path, flags);
    if (fd < 0)
        return -errno;
    int rc = fsync (fd) == 0? 0: -errno;
    close (fd);
    return rc;
}

//  Write both files under temporary names and read them back.
static int
s_write_temps (keys_t *self, const char *temp_public, const char *temp_secret,
               char *err, size_t errlen)
{
    //  zcert_save_secret sets a private umask and "restores" it only when
    //  the old one was not 0; put back what we had ourselves.
    mode_t mask = umask (077);
    errno = 0;
    int rc = zcert_save_public (self->cert, temp_public);
    if (rc == 0)
        rc = zcert_save_secret (self->cert, temp_secret);
    umask (mask);
    if (rc != 0) {
        int error = errno? errno: EIO;
        s_err (err, errlen, "cannot write next to %s: %s", temp_public, strerror (error));
        return -error;
    }
    //  CZMQ does not check fflush/fclose (a full disk passes): read back.
    zcert_t *check_public = zcert_load (temp_public);
    zcert_t *check_secret = zcert_load (temp_secret);
    bool good = check_public && check_secret
        && streq (zcert_public_txt (check_public), keys_public_txt (self))
        && zcert_eq (check_secret, self->cert);
    zcert_destroy (&check_public);
    zcert_destroy (&check_secret);
    if (!good) {
        s_err (err, errlen, "cannot write the certificate next to %s: read back "
               "differs (disk full?)", temp_public);
        return -EIO;
    }
    rc = chmod (temp_public, 0644) == 0? 0: -errno;
    if (rc == 0)
        rc = s_fsync_path (temp_public, O_RDONLY);
    if (rc == 0)
        rc = s_fsync_path (temp_secret, O_RDONLY);
    if (rc)
        s_err (err, errlen, "cannot write next to %s: %s", temp_public, strerror (-rc));
    return rc;
}

//  Say why name could not be made from a failed link or rename.
static int
s_install_error (int error, const char *name, char *err, size_t errlen)
{
    if (error == EEXIST)
        s_err (err, errlen, "%s already exists (use --force to replace it)", name);
    else
        s_err (err, errlen, "cannot write %s: %s", name, strerror (error));
    return -error;
}

//  Move the temporary files into place: link (fails if the name exists)
//  or, with force, rename (replaces atomically).  Secret first, so no one
//  finds a public certificate whose secret is not there yet.
static int
s_install (const char *temp_public, const char *temp_secret, const char *path,
           const char *secret_path, bool force, char *err, size_t errlen)
{
    if (force) {
        if (rename (temp_secret, secret_path) != 0)
            return s_install_error (errno, secret_path, err, errlen);
        if (rename (temp_public, path) != 0)
            return s_install_error (errno, path, err, errlen);
        return 0;
    }
    if (link (temp_secret, secret_path) != 0)
        return s_install_error (errno, secret_path, err, errlen);
    if (link (temp_public, path) != 0) {
        int error = errno;
        unlink (secret_path);
        return s_install_error (error, path, err, errlen);
    }
    return 0;
}

//  The secret file must end up 0600 whatever the file system did.
static int
s_check_mode (const char *secret_path, char *err, size_t errlen)
{
    struct stat st;
    if (stat (secret_path, &st) == 0 && (st.st_mode & 0777) != 0600)
        chmod (secret_path, 0600);
    if (stat (secret_path, &st) != 0 || (st.st_mode & 0777) != 0600) {
        s_err (err, errlen, "%s: cannot make it mode 0600", secret_path);
        return -EPERM;
    }
    return 0;
}

int
keys_save (keys_t *self, const char *path, bool force, char *err, size_t errlen)
{
    assert (self);
    if (!self->has_secret) {
        s_err (err, errlen, "no secret key to save");
        return -EINVAL;
    }
    if (!path || !*path || strlen (path) > KEYS_PATH_MAX) {
        s_err (err, errlen, "certificate path is empty or longer than %d bytes",
               KEYS_PATH_MAX);
        return -EINVAL;
    }
    char secret_path[KEYS_PATH_MAX + 8];
    snprintf (secret_path, sizeof secret_path, "%s_secret", path);
    //  Say which file is in the way before doing any work; the link in
    //  s_install is what makes it safe against a race.
    if (!force) {
        const char *existing = access (secret_path, F_OK) == 0? secret_path
                             : access (path, F_OK) == 0? path: NULL;
        if (existing) {
            s_err (err, errlen, "%s already exists (use --force to replace it)", existing);
            return -EEXIST;
        }
    }
    char temp_public[KEYS_PATH_MAX + 16], temp_secret[KEYS_PATH_MAX + 16];
    temp_secret[0] = 0;
    int rc = s_temp_file (path, temp_public, sizeof temp_public);
    if (rc == 0)
        rc = s_temp_file (secret_path, temp_secret, sizeof temp_secret);
    if (rc)
        s_err (err, errlen, "cannot create a file next to %s: %s", path, strerror (-rc));
    if (rc == 0)
        rc = s_write_temps (self, temp_public, temp_secret, err, errlen);
    if (rc == 0)
        rc = s_install (temp_public, temp_secret, path, secret_path, force, err, errlen);
    //  After a link both names remain; after a rename these fail harmlessly.
    if (temp_public[0])
        unlink (temp_public);
    if (temp_secret[0])
        unlink (temp_secret);
    if (rc == 0)
        rc = s_check_mode (secret_path, err, errlen);
    if (rc == 0) {
        char dir[KEYS_PATH_MAX + 8];
        snprintf (dir, sizeof dir, "%s", path);
        s_fsync_path (dirname (dir), O_RDONLY | O_DIRECTORY);
    }
    return rc;
}

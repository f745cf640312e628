//  cmd_keygen.c -- `drover keygen NAME`: make a long-term keypair for a
//  broker, agent, producer or sink and save it as a CZMQ certificate pair
//  (common/keys.h): NAME to hand out, NAME_secret to keep.
#include <czmq.h>
#include "cli/commands.h"
#include "cli/options.h"
#include "common/keys.h"
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define NAME_MAX_LEN 128

typedef struct {
    const char *dir;
    bool force;
    const char *log_level;
    const char *name;
} keygen_args_t;

#define AT(field) OPTION_AT (keygen_args_t, field)

static const option_t s_options[] = {
    { "dir", 'd', OPTION_STRING, AT (dir), "DIR",
      .help = "directory for the files, made with mode 0700 if missing" },
    { "force", 'f', OPTION_BOOL, AT (force), .help = "replace existing files" },
    OPTION_LOG_LEVEL (keygen_args_t, log_level),
    { "name", 0, OPTION_STRING, AT (name), "NAME", .flags = OPTION_POSITIONAL | OPTION_ARGV_ONLY,
      .help = "the file name: letters, digits, '.', '-' and '_', not starting with '.', "
              "not ending in \"_secret\"" },
};

static const options_spec_t s_spec = {
    .command = "keygen",
    .usage = "[OPTIONS] NAME",
    .about =
        "Make a new CURVE keypair and save it as two certificate files in CZMQ's\n"
        "zcert format: DIR/NAME holds the public key (give it to the peers that\n"
        "must trust this key) and DIR/NAME_secret holds both keys, mode 0600\n"
        "(keep it private).  Prints the public key in Z85 and the paths.\n"
        "Existing files are never replaced without --force.\n",
    .notes =
        "exit status: 0 when both files are written, 1 if they exist (without\n"
        "--force) or cannot be written, 2 on a usage error.\n",
    OPTIONS_TABLE (s_options),
};

//  A name that is one plain file name: no path tricks, no hidden files,
//  and not one that would be taken for the secret half of another pair.
static bool
s_name_ok (const char *name)
{
    size_t len = strlen (name);
    if (len == 0 || len > NAME_MAX_LEN || name[0] == '.')
        return false;
    if (len >= 7 && !strcmp (name + len - 7, "_secret"))
        return false;
    for (const char *c = name; *c; c++)
        if (!(isalnum ((unsigned char) *c) || *c == '.' || *c == '-' || *c == '_'))
            return false;
    return true;
}

//  DIR exists as a directory, or is made (mode 0700: it will hold secrets).
static int
s_ensure_dir (const char *dir)
{
    struct stat st;
    if (stat (dir, &st) == 0) {
        if (S_ISDIR (st.st_mode))
            return 0;
        fprintf (stderr, "drover keygen: %s is not a directory\n", dir);
        return -1;
    }
    if (mkdir (dir, 0700) == 0 || errno == EEXIST)
        return 0;
    fprintf (stderr, "drover keygen: cannot make directory %s: %s\n", dir, strerror (errno));
    return -1;
}

//  Write DIR/NAME and DIR/NAME_secret.  The exit status.
static int
s_run (void *args_v, const options_t *options)
{
    const keygen_args_t *args = args_v;
    if (!args->name)
        return options_usage_error (options, "which name? e.g. drover keygen agent-1", NULL);
    if (!s_name_ok (args->name))
        return options_usage_error (options, "NAME must be a plain file name (letters, "
                                    "digits, '.', '-', '_'; no leading '.', no \"_secret\" "
                                    "ending)", args->name);
    log_init ("keygen", (log_level_t) log_level_parse (args->log_level));
    char path[KEYS_PATH_MAX + 1];
    int n = snprintf (path, sizeof path, "%s/%s", args->dir, args->name);
    if (n < 0 || (size_t) n >= sizeof path)
        return options_usage_error (options, "DIR/NAME is too long", args->dir);
    if (s_ensure_dir (args->dir))
        return 1;
    keys_t *keys = keys_new ();
    if (!keys) {
        fprintf (stderr, "drover keygen: cannot make a keypair (libzmq without CURVE?)\n");
        return 1;
    }
    zcert_set_meta (keys_cert (keys), "name", "%s", args->name);
    zcert_set_meta (keys_cert (keys), "generator", "drover keygen %s", DROVER_VERSION);
    char err[512];
    int rc = keys_save (keys, path, args->force, err, sizeof err);
    if (rc == 0) {
        printf ("public key  %s\n", keys_public_txt (keys));
        printf ("public      %s\n", path);
        printf ("secret      %s_secret (mode 0600: keep it private)\n", path);
    }
    else
        fprintf (stderr, "drover keygen: %s\n", err);
    keys_destroy (&keys);
    return rc? 1: 0;
}

int
cmd_keygen (int argc, char **argv)
{
    keygen_args_t args = { .dir = ".", .log_level = "warn" };
    return options_main (&s_spec, &args, argc, argv, s_run);
}

//  cmd_keygen.c -- `drover keygen NAME`: make a long-term keypair for a
//  broker, agent, producer or sink and save it as a CZMQ certificate pair
//  (common/keys.h): NAME to hand out, NAME_secret to keep.
#include "cli/commands.h"
#include "cli/flags.h"

//  czmq.h pulls in <syslog.h>, whose LOG_LEVEL_DEBUG and LOG_LEVEL_INFO macros would
//  shadow common/log.h's levels; drop them (nothing here uses syslog).
#include <czmq.h>
#include "common/keys.h"
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NAME_MAX_LEN 128

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: drover keygen [OPTIONS] NAME\n"
        "\n"
        "Make a new CURVE keypair and save it as two certificate files in CZMQ's\n"
        "zcert format: DIR/NAME holds the public key (give it to the peers that\n"
        "must trust this key) and DIR/NAME_secret holds both keys, mode 0600\n"
        "(keep it private).  Prints the public key in Z85 and the paths.\n"
        "Existing files are never replaced without --force.\n"
        "\n"
        "options (each flag's default comes from the environment variable shown):\n"
        "  -d, --dir DIR          directory for the files (default .),  DROVER_DIR\n"
        "                         made with mode 0700 if missing\n"
        "  -f, --force            replace existing files               DROVER_FORCE=1\n"
        "      --log-level LEVEL  debug, info, warn or error           DROVER_LOG_LEVEL\n"
        "                         (default warn)\n"
        "  -h, --help             this help\n"
        "\n"
        "NAME is a file name: letters, digits, '.', '-' and '_', not starting\n"
        "with '.', not ending in \"_secret\".  exit status: 0 when both files are\n"
        "written, 1 if they exist (without --force) or cannot be written, 2 on a\n"
        "usage error.\n");
}

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

int
cmd_keygen (int argc, char **argv)
{
    enum { OPT_LOG_LEVEL = 256 };
    static const struct option options[] = {
        { "dir",       required_argument, NULL, 'd' },
        { "force",     no_argument,       NULL, 'f' },
        { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
        { "help",      no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *dir = flags_env ("DROVER_DIR");
    const char *force_env = flags_env ("DROVER_FORCE");
    const char *level_name = flags_env ("DROVER_LOG_LEVEL");
    bool force = false;
    if (force_env) {
        int value = flags_bool (force_env);
        if (value < 0)
            return flags_usage_error ("keygen", "DROVER_FORCE must be 1 or 0", force_env);
        force = value;
    }
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long (argc, argv, ":d:fh", options, NULL)) != -1) {
        switch (opt) {
            case 'd': dir = optarg; break;
            case 'f': force = true; break;
            case OPT_LOG_LEVEL: level_name = optarg; break;
            case 'h': s_usage (stdout); return 0;
            case ':': return flags_usage_error ("keygen", "option needs a value", argv[optind - 1]);
            default:  return flags_usage_error ("keygen", "unknown option", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return flags_usage_error ("keygen", "which name? e.g. drover keygen agent-1", NULL);
    const char *name = argv[optind++];
    if (optind < argc)
        return flags_usage_error ("keygen", "one name at a time; unexpected argument", argv[optind]);
    if (!s_name_ok (name))
        return flags_usage_error ("keygen", "NAME must be a plain file name (letters, digits, '.', '-', "
                              "'_'; no leading '.', no \"_secret\" ending)", name);
    if (dir && !*dir)
        return flags_usage_error ("keygen", "--dir needs a directory", NULL);
    int level = level_name? log_level_parse (level_name): LOG_LEVEL_WARN;
    if (level < 0)
        return flags_usage_error ("keygen", "log level must be debug, info, warn or error", level_name);
    log_init ("keygen", (log_level_t) level);
    if (!dir)
        dir = ".";
    char path[KEYS_PATH_MAX + 1];
    int n = snprintf (path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t) n >= sizeof path)
        return flags_usage_error ("keygen", "DIR/NAME is too long", dir);
    if (s_ensure_dir (dir))
        return 1;

    keys_t *keys = keys_new ();
    if (!keys) {
        fprintf (stderr, "drover keygen: cannot make a keypair (libzmq without CURVE?)\n");
        return 1;
    }
    zcert_set_meta (keys_cert (keys), "name", "%s", name);
    zcert_set_meta (keys_cert (keys), "generator", "drover keygen %s", DROVER_VERSION);
    char err[512];
    int rc = keys_save (keys, path, force, err, sizeof err);
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
